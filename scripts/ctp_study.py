"""The CTP study: does 4-way CTP learn with more videos, more updates, wider M/R pathways?

Pre-registered before any run (BENCHMARKS.md, "Why 4-way CTP stayed at chance", part 4):
CTP alone on imrnet_tiny with one slot per GOP, trained on the sample's 1,000-clip unlabeled
pool (two augmented clips of each, 2,000 preloaded) for 1,500 updates of batch 16 (SGD,
lr 0.01), held-out accuracy every 100 updates on the 200 test clips x 4 type draws; arms
``tiny`` (M/R widths 4/4/8/8, the preset) and ``wide`` (16/16/32/32); seeds 0, 1, 2. The
criterion: the mean held-out accuracy over seeds, with its interval, above chance (25%).

    .venv/bin/python scripts/ctp_study.py --out runs/ctp_study            # run, then tabulate
    .venv/bin/python scripts/ctp_study.py --out runs/ctp_study --table    # tabulate only

Each run is ``imrkit bench ctp --learn ...`` in its own process (one torch thread, about
15 minutes for tiny and 27 for wide on 2 cores, 7 GB of preloaded clips each), writing
``<out>/<arm>_s<seed>.json``; finished runs are kept, so an interrupted study resumes where
it stopped. ``--parallel 2`` runs two at a time. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from imrkit.experiment.bootstrap import bootstrap_ci, format_ci, paired_difference

ARMS = {"tiny": [], "wide": ["--pframes-dims", "16", "16", "32", "32"]}
SEEDS = (0, 1, 2)
CHANCE = 25.0


def command(arm: str, seed: int, data: str) -> list[str]:
    return [
        str(Path(sys.executable).parent / "imrkit"),
        "bench",
        "ctp",
        "--data",
        data,
        "--pool",
        f"{data}/unlabeled",
        "--learn",
        "1500",
        "--eval-every",
        "100",
        "--pooling",
        "gop",
        "--lr",
        "0.01",
        "--seed",
        str(seed),
        *ARMS[arm],
        "--json",
    ]


def run_one(arm: str, seed: int, out: Path, data: str) -> Path:
    """One run, unless its result is already there; written whole or not at all."""
    result = out / f"{arm}_s{seed}.json"
    if result.exists():
        return result
    partial = result.with_suffix(".json.part")
    with open(partial, "w") as stdout, open(out / f"{arm}_s{seed}.log", "w") as stderr:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        subprocess.run(command(arm, seed, data), stdout=stdout, stderr=stderr, env=env, check=True)
    partial.rename(result)
    return result


def final(path: Path) -> dict:
    """The last evaluation of a run: update, training loss, held-out accuracy and interval."""
    curve = json.loads(path.read_text())["curves"]["gop"]
    return curve[-1] | {"losses": {point["step"]: point["train_loss"] for point in curve}}


def table(out: Path) -> str:
    rows = [
        "| arm | seed | training loss at 100 / 500 / 1000 / 1500 (ln 4 = 1.386) "
        "| held-out acc at 1500 (%) [95% Wilson] | aligned / random / shuffle / shift (%) |",
        "|---|---:|---|---|---|",
    ]
    accuracy: dict[str, dict[int, float]] = {arm: {} for arm in ARMS}
    for arm in ARMS:
        for seed in SEEDS:
            path = out / f"{arm}_s{seed}.json"
            if not path.exists():
                continue
            last = final(path)
            accuracy[arm][seed] = last["accuracy"]
            losses = last["losses"]
            marks = " / ".join(
                f"{losses[step]:.3f}" if step in losses else "-" for step in (100, 500, 1000, 1500)
            )
            low, high = last["ci"]
            types = " / ".join(f"{value:.1f}" for value in last["per_type"].values())
            rows.append(
                f"| {arm} | {seed} | {marks} | {last['accuracy']:.1f} [{low:.1f}, {high:.1f}] "
                f"| {types} |"
            )
    lines = ["\n".join(rows), ""]
    for arm, by_seed in accuracy.items():
        if len(by_seed) > 1:
            values = list(by_seed.values())
            mean = sum(values) / len(values)
            interval = format_ci(mean, *bootstrap_ci(values))
            lines.append(f"{arm}: mean over {len(values)} seeds {interval} (chance {CHANCE:.0f})")
    paired = sorted(set(accuracy["tiny"]) & set(accuracy["wide"]))
    if len(paired) > 1:
        difference = paired_difference(
            [accuracy["wide"][s] for s in paired], [accuracy["tiny"][s] for s in paired]
        )
        lines.append(f"wide - tiny, paired over {len(paired)} seeds: {difference}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/ctp_study"))
    parser.add_argument("--data", default="data/sample")
    parser.add_argument("--parallel", type=int, default=1, help="runs at a time")
    parser.add_argument("--table", action="store_true", help="only tabulate what is there")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.table:
        with ThreadPoolExecutor(args.parallel) as pool:
            jobs = [(arm, seed) for seed in SEEDS for arm in ARMS]
            list(pool.map(lambda job: run_one(*job, args.out, args.data), jobs))
    print(table(args.out))


if __name__ == "__main__":
    main()
