"""The CTP study at a GPU's budget: does CTP learn given >= 10,000 updates? (issue 21, part 4)

Pre-registered, before any run: CTP alone and PMSP+CTP on imrnet_tiny with one slot per GOP,
M/R pathways ``tiny`` (4/4/8/8, the preset) and ``wide`` (16/16/32/32), seeds 0, 1, 2:
12 runs of 10,000 updates of batch 16 (SGD, lr 0.01, warm-up then cosine), trained on two
augmented clips of each of the sample's 1,000 unlabeled pool videos (2,000 clips, preloaded
once and held in device memory), held-out CTP accuracy every 2,000 updates on the 200 test
clips x 4 type draws. The criterion: mean held-out accuracy at 10,000 updates over seeds,
with a 95% Wilson interval over test clips, above chance (25%).

On one H200 (16 cores) the 12 runs go as 12 processes sharing the GPU (the tiny network's
steps are launch-bound, so they overlap); meant to end within 8 minutes, data preparation
included:

    imrkit make-sample data/sample            # ~1 minute, if data/sample is not there
    python scripts/ctp_gpu_study.py --out $OUT/ctp_gpu --device cuda

Each run writes ``<out>/<pretext>_<width>_s<seed>.json`` whole (resumable: finished runs
are kept); ``--table`` tabulates what is there. On a CPU, ``--updates 20 --max-videos 20
--device cpu`` runs it at toy size (what the tests do). Not a test itself.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

PRETEXTS = ("ctp", "pmsp+ctp")
WIDTHS = {"tiny": None, "wide": (16, 16, 32, 32)}
SEEDS = (0, 1, 2)
CHANCE = 25.0


def run_name(pretext: str, width: str, seed: int) -> str:
    return f"{pretext.replace('+', '_')}_{width}_s{seed}"


def preload(args) -> Path:
    """Train (pool, 2 augmented draws each, with PMSP labels) and held-out clips, saved once."""
    import torch

    from imrkit.bench.ctp import preload_clips
    from imrkit.data.dataset import DatasetConfig
    from imrkit.transforms import TransformConfig

    path = Path(args.out) / "clips.pt"
    if path.exists():
        return path
    transform = TransformConfig(crop_size=64, short_side=64, scales=(1.0,))
    labelled = DatasetConfig(root=args.data, max_videos=args.max_videos, transform=transform)
    pool = DatasetConfig(
        root=f"{args.data}/unlabeled",
        format="unlabeled",
        max_videos=args.max_videos,
        transform=TransformConfig(crop_size=64, short_side=64, scales=(1.0, 0.9, 0.8)),
    )
    clips = {
        "train": preload_clips(pool, "train", mode="train", repeats=2, pmsp=True),
        "test": preload_clips(labelled, "test"),
    }
    torch.save(clips, path.with_suffix(".part"))
    path.with_suffix(".part").rename(path)
    return path


def worker(args) -> None:
    """One run (``--worker PRETEXT WIDTH SEED``) on the preloaded clips, on ``--device``."""
    import torch

    from imrkit.bench.ctp import learning_curve

    pretext, width, seed = args.worker[0], args.worker[1], int(args.worker[2])
    torch.set_num_threads(1)
    clips = torch.load(Path(args.out) / "clips.pt", map_location=args.device)
    started = time.perf_counter()
    curve = learning_curve(
        clips["train"],
        clips["test"],
        args.updates,
        pooling="gop",
        lr=0.01,
        seed=seed,
        pframes_dims=WIDTHS[width],
        eval_every=args.eval_every,
        pretext_name=pretext,
        device=args.device,
    )
    result = Path(args.out) / f"{run_name(pretext, width, seed)}.json"
    record = {
        "pretext": pretext,
        "width": width,
        "seed": seed,
        "updates": args.updates,
        "seconds": time.perf_counter() - started,
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "curve": curve,
    }
    result.with_suffix(".part").write_text(json.dumps(record, indent=2) + "\n")
    result.with_suffix(".part").rename(result)


def launch(args) -> None:
    """Every missing run as its own process, ``--parallel`` at a time."""
    runs = [(p, w, s) for p in PRETEXTS for w in WIDTHS for s in SEEDS]
    todo = [r for r in runs if not (Path(args.out) / f"{run_name(*r)}.json").exists()]
    common = ["--out", args.out, "--device", args.device, "--updates", str(args.updates)]
    common += ["--eval-every", str(args.eval_every)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    started: list[subprocess.Popen] = []
    for pretext, width, seed in todo:
        while sum(p.poll() is None for p in started) >= args.parallel:
            time.sleep(0.5)
        log = open(Path(args.out) / f"{run_name(pretext, width, seed)}.log", "w")
        command = [sys.executable, __file__, *common, "--worker", pretext, width, str(seed)]
        started.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env))
    failed = [p.args[-3:] for p in started if p.wait() != 0]
    if failed:
        raise SystemExit(f"runs failed (see their .log files in {args.out}): {failed}")


def table(out: Path) -> str:
    from imrkit.bench.ctp import wilson_interval

    lines = [
        "| pretext | M/R widths | seeds | updates | held-out CTP accuracy (%) [95% CI] | "
        "per seed | training loss | seconds per run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for pretext in PRETEXTS:
        for width in WIDTHS:
            found = [out / f"{run_name(pretext, width, s)}.json" for s in SEEDS]
            records = [json.loads(p.read_text()) for p in found if p.exists()]
            if not records:
                continue
            finals = [r["curve"][-1] for r in records]
            accuracy = sum(f["accuracy"] for f in finals) / len(finals)
            clips = sum(f["clips"] for f in finals) // 4  # each clip drawn 4 times
            low, high = wilson_interval(accuracy, clips)
            lines.append(
                f"| {pretext} | {width} | {len(records)} | {records[0]['updates']} | "
                f"{accuracy:.1f} [{low:.1f}, {high:.1f}] | "
                + ", ".join(f"{f['accuracy']:.1f}" for f in finals)
                + f" | {sum(f['train_loss'] for f in finals) / len(finals):.3f} | "
                f"{sum(r['seconds'] for r in records) / len(records):.0f} |"
            )
    return "\n".join(lines) + f"\n\nchance {CHANCE:.0f}%; device: {records[0]['device']}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="data/sample")
    parser.add_argument("--out", default="runs/ctp_gpu")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--eval-every", type=int, default=2_000)
    parser.add_argument("--parallel", type=int, default=12, help="runs at once on the device")
    parser.add_argument("--max-videos", type=int, default=0, help="per subset (0: all)")
    parser.add_argument("--table", action="store_true", help="only tabulate what is there")
    parser.add_argument("--worker", nargs=3, metavar=("PRETEXT", "WIDTH", "SEED"))
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.worker:
        worker(args)
        return
    if not args.table:
        preload(args)
        launch(args)
    print(table(Path(args.out)))


if __name__ == "__main__":
    main()
