"""``imrkit bench inputs``: the scale at which each stream reaches the network (issue 21).

The I-frames are normalised per channel (ImageNet mean and std: unit scale), but motion is
divided by ``transform.motion_scale`` (16 px) and residuals by ``transform.residual_scale``
(255): on real content those streams enter at a few percent of the I-frames' scale. This
measures, on the sample and on the loader benchmark's natural-like 340x256 pan, each
stream's standard deviation in the units the model sees and in raw units (pixels of the
output grid, residual levels), and the scales that would make M and R unit-std (what the
``unit`` input-scale arm of the study uses).

    imrkit bench inputs --data data/sample --clips 64
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

STREAMS = ("iframes", "motion", "residual")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="data/sample", help="the sample dataset folder")
    parser.add_argument("--clips", type=int, default=64, help="clips per source")
    parser.add_argument("--crop", type=int, default=64, help="crop and short side")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "imrkit" / "bench")


def stream_statistics(dataset, clips: int) -> dict[str, dict[str, float]]:
    """Mean and std of each stream over ``clips`` clips of ``dataset`` (eval mode), in the
    model's units (after :func:`~imrkit.transforms.compact.model_inputs`)."""
    import torch

    from imrkit.data.dataset import collate_clips
    from imrkit.transforms.compact import model_inputs

    if len(dataset) >= clips:  # one clip per video, spread over the list
        keys = np.linspace(0, len(dataset) - 1, clips).round().astype(int).tolist()
    else:  # few videos: several random clips of each (train-mode keys: index, draw)
        keys = [(k % len(dataset), k) for k in range(clips)]
    batch = model_inputs(collate_clips([dataset[key] for key in keys]))
    return {
        name: {
            "mean": float(batch[name].mean()),
            "std": float(batch[name].std()),
            "rms": float(torch.sqrt((batch[name] ** 2).mean())),
        }
        for name in STREAMS
    }


def _source_stats(config, clips: int, subset: str = "test", mode: str = "eval") -> dict:
    from imrkit.data.dataset import build_dataset

    dataset = build_dataset(config, subset, mode=mode, labelled=False)
    stats = stream_statistics(dataset, clips)
    transform = config.transform
    stats["raw_motion_std_px"] = stats["motion"]["std"] * transform.motion_scale
    stats["raw_residual_std"] = stats["residual"]["std"] * transform.residual_scale
    stats["unit_motion_scale"] = stats["raw_motion_std_px"]
    stats["unit_residual_scale"] = stats["raw_residual_std"]
    return stats


def run(args: argparse.Namespace) -> dict:
    import shutil
    import tempfile

    import torch

    from imrkit.bench.loader import cached_video
    from imrkit.data.dataset import DatasetConfig
    from imrkit.transforms import TransformConfig

    torch.set_num_threads(1)
    transform = TransformConfig(crop_size=args.crop, short_side=args.crop, scales=(1.0,))
    sample = DatasetConfig(root=args.data, transform=transform)
    results = {"sample": _source_stats(sample, args.clips)}
    # The natural-like pan (50 GOPs), random clips and crops of it.
    video = cached_video(args.cache, "pan_340x256_600.avi", 600, 340, 256)
    folder = Path(tempfile.mkdtemp(prefix="imrkit-bench-inputs-"))
    try:
        (folder / "pan").mkdir()
        (folder / "pan" / "pan.avi").symlink_to(video.resolve())
        pan = DatasetConfig(root=str(folder), format="unlabeled", transform=transform)
        results["natural-like pan 340x256"] = _source_stats(pan, args.clips, "train", "train")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"sources": results, "crop": args.crop}


def format_report(result: dict) -> str:
    lines = [
        f"per-stream input statistics ({result['crop']}px centre crops, model units)",
        f"{'source':<26s} {'I std':>7s} {'M std':>7s} {'R std':>7s} {'M/I':>6s} {'R/I':>6s} "
        f"{'M px std':>9s} {'R std':>7s}",
    ]
    for name, s in result["sources"].items():
        i, m, r = (s[k]["std"] for k in STREAMS)
        lines.append(
            f"{name:<26s} {i:7.3f} {m:7.3f} {r:7.3f} {m / i:6.3f} {r / i:6.3f} "
            f"{s['raw_motion_std_px']:9.3f} {s['raw_residual_std']:7.2f}"
        )
    lines.append(
        "unit-std scales: motion_scale = M px std, residual_scale = R std (per source above)"
    )
    return "\n".join(lines)
