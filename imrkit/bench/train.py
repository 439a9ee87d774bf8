"""``imrkit bench train``: training throughput and data-loading throughput.

Two measurements, each with a baseline from the same run:

- training: optimizer steps on synthetic tensors (no data loading), clips/s for the
  supervised classifier step and for the PMSP+CTP pretext step (which runs the network
  twice: the clip and its CTP-transformed P streams); the pretext step is reported as a
  ratio of the classifier step.
- loading: clips/s through the real DataLoader (read_clip + augmentation + PMSP labels,
  no caching) over a dataset folder, with 0 (in-process), 1 and N workers, timed from the
  first request (worker start-up included) over ``--loader-clips`` clips; reported per
  worker and as the speed-up of N workers over 1.

    imrkit bench train --device cuda --model imrnet_r18 --size 224 --batch 16
    imrkit bench train --device cpu --model imrnet_tiny --size 64 --batch 8 --steps 5
"""

from __future__ import annotations

import argparse
import os
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--model", default="imrnet_r18")
    parser.add_argument("--size", type=int, default=224, help="crop side of the training step")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up)")
    parser.add_argument("--mixed-precision", default="no", choices=("no", "bf16", "fp16"))
    parser.add_argument(
        "--data",
        default="data/sample",
        help="dataset folder of the loader "
        "benchmark (built with make-sample if it is the default and missing)",
    )
    parser.add_argument("--loader-size", type=int, default=112, help="crop side when loading")
    parser.add_argument(
        "--loader-clips",
        type=int,
        default=160,
        help="clips per loader run (several times workers x 8 prefetched)",
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="N of the N-worker loader run (0: one per CPU core)"
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: torch's default)"
    )
    parser.add_argument("--skip-loader", action="store_true")


def _synthetic_batch(batch: int, size: int, device, num_gops: int = 5) -> dict:
    import torch

    return {
        "iframes": torch.randn(batch, 3, num_gops, size, size, device=device),
        "motion": torch.randn(batch, 2, 5 * num_gops, size, size, device=device),
        "residual": torch.randn(batch, 3, 5 * num_gops, size, size, device=device),
        "label": torch.randint(0, 10, (batch,), device=device),
    }


def _time_steps(step, steps: int, device) -> float:
    """Seconds per step after two warm-up steps (CUDA synchronised)."""
    import torch

    for _ in range(2):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / steps


def bench_training(args: argparse.Namespace) -> dict:
    import torch
    import torch.nn.functional as F

    from imrkit.models import build_model
    from imrkit.pretext import build_pretext
    from imrkit.train.schedule import build_optimizer

    device = torch.device(args.device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.mixed_precision)
    batch = _synthetic_batch(args.batch, args.size, device)
    results = {}
    torch.manual_seed(0)
    classifier = build_model(args.model, 10).to(device).train()
    pretext = build_pretext("pmsp+ctp", build_model(args.model)).to(device).train()
    scaler = torch.amp.GradScaler(device.type, enabled=args.mixed_precision == "fp16")
    for name, module, loss_of in (
        (
            "classifier",
            classifier,
            lambda m: F.cross_entropy(
                m(batch["iframes"], batch["motion"], batch["residual"]), batch["label"]
            ),
        ),
        ("pretext pmsp+ctp", pretext, lambda m: m(batch).loss),
    ):
        optimizer = build_optimizer(module.parameters(), lr=1e-3)

        def step(module=module, loss_of=loss_of, optimizer=optimizer):
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                loss = loss_of(module)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        seconds = _time_steps(step, args.steps, device)
        results[name] = {"seconds_per_step": seconds, "clips_per_s": args.batch / seconds}
        if device.type == "cuda":
            results[name]["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    results["pretext_over_classifier_time"] = (
        results["pretext pmsp+ctp"]["seconds_per_step"] / results["classifier"]["seconds_per_step"]
    )
    return results


def bench_loading(args: argparse.Namespace) -> dict:
    from imrkit.data.dataset import DatasetConfig, build_dataset, make_loader
    from imrkit.transforms import TransformConfig

    root = args.data
    if args.data == "data/sample":
        from imrkit.data.sample import ensure_sample

        root = str(ensure_sample(args.data))
    config = DatasetConfig(
        root=root,
        transform=TransformConfig(
            crop_size=args.loader_size, short_side=max(args.loader_size, 128)
        ),
    )
    dataset = build_dataset(config, "train", mode="train", labelled=False, pmsp=True)
    many = args.workers or os.cpu_count() or 1
    results = {}
    for workers in sorted({0, 1, many}):
        loader = make_loader(dataset, batch_size=4, shuffle=True, num_workers=workers)
        # Timed from the first request, worker start-up included: timing only after the
        # first batch would count clips the workers prefetched meanwhile as free.
        clips, started, first = 0, time.perf_counter(), None
        while clips < args.loader_clips:
            for batch in loader:
                clips += len(batch["index"])
                first = first or time.perf_counter() - started
                if clips >= args.loader_clips:
                    break
        seconds = time.perf_counter() - started
        del loader
        rate = clips / seconds
        results[f"{workers} workers"] = {
            "clips_per_s": rate,
            "first_batch_s": first,
            "clips_per_s_per_worker": rate / max(workers, 1),
        }
    one = results["1 workers"]["clips_per_s"]
    results["speedup_many_over_one"] = results[f"{many} workers"]["clips_per_s"] / one
    results["workers_many"] = many
    return results


def run(args: argparse.Namespace) -> dict:
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        from imrkit.errors import ConfigError

        raise ConfigError("--device cuda: no CUDA device is visible")
    if args.threads:
        torch.set_num_threads(args.threads)
    result = {
        "settings": {
            k: v for k, v in vars(args).items() if k not in ("func", "_module", "json", "benchmark")
        },
        "training": bench_training(args),
    }
    if not args.skip_loader:
        result["loading"] = bench_loading(args)
    return result


def format_report(result: dict) -> str:
    settings, training = result["settings"], result["training"]
    lines = [
        f"training step, {settings['model']} at {settings['size']}px, batch "
        f"{settings['batch']}, {settings['device']}, mixed precision "
        f"{settings['mixed_precision']} (synthetic tensors):"
    ]
    for name in ("classifier", "pretext pmsp+ctp"):
        row = training[name]
        memory = f", peak {row['peak_memory_gib']:.1f} GiB" if "peak_memory_gib" in row else ""
        lines.append(
            f"  {name:<18s} {row['clips_per_s']:8.1f} clips/s "
            f"({1000 * row['seconds_per_step']:.0f} ms/step{memory})"
        )
    lines.append(
        f"  pretext step / classifier step: "
        f"{training['pretext_over_classifier_time']:.2f}x the time"
    )
    if "loading" in result:
        loading = result["loading"]
        lines.append(
            f"data loading (read_clip + augmentation + PMSP labels, "
            f"{settings['loader_size']}px crops):"
        )
        for name, row in loading.items():
            if isinstance(row, dict):
                lines.append(
                    f"  {name:<10s} {row['clips_per_s']:7.1f} clips/s "
                    f"({row['clips_per_s_per_worker']:.1f} per worker; first batch "
                    f"after {row['first_batch_s']:.2f} s)"
                )
        lines.append(
            f"  {loading['workers_many']} workers / 1 worker: "
            f"{loading['speedup_many_over_one']:.2f}x"
        )
    machine = result.get("machine", {})
    if machine:
        lines.append(
            f"machine: {machine.get('cpu')}, {machine.get('cores')} cores"
            + (f", {machine['gpu']}" if "gpu" in machine else "")
        )
    return "\n".join(lines)
