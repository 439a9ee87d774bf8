"""``imrkit bench pmsp``: what PMSP labels (and augmentation) add to loading a clip.

In one run, on the same clips (5 GOPs, 25 P-frames), single-threaded (as in a DataLoader
worker), CPU time, best of ``--repeats`` interleaved runs:

- ``read_clip``: the reader (the baseline);
- ``train_transform``: the training augmentation (multi-scale random crop, flip, resize,
  normalisation) of the clip read;
- ``train_transform_with_pmsp``: the same with ``pmsp_labels=True``: the labels computed
  from the transformed motion right after the transform, as a dataset does (labels come from
  the motion the network receives); ``pmsp_labels_in_pipeline`` is the difference, what the
  labels add to loading a clip;
- ``pmsp_labels_transformed``: :func:`~imrkit.transforms.pmsp_labels.pmsp_label_tensor` alone on a
  transformed clip's motion, timed between other work (cold caches: an upper bound);
- ``pmsp_labels_full_frame``: :func:`~imrkit.transforms.pmsp_labels.pmsp_labels` on the reader's
  full-frame motion, for reference.

Two sets of clips: the sample dataset's (160 x 128, 112 crops) and a generated CoViAR-sized
340 x 256 video (224 crops), both from :mod:`imrkit.bench.loader`'s generators and cache.
Target: the labels add under 5% to ``read_clip``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

TARGET_LABEL_SHARE = 0.05  # of read_clip's cost
COVIAR_SIZE = (340, 256)  # width, height


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", type=Path, default=None, help="a prepared dataset (default: the cached sample)"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path("~/.cache/imrkit/bench").expanduser(),
        help="where generated benchmark videos are kept (default %(default)s)",
    )
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per method")
    parser.add_argument(
        "--sample-videos", type=int, default=4, help="videos of the dataset to read"
    )


def _cpu_ms(function) -> float:
    start = time.process_time()
    function()
    return (time.process_time() - start) * 1e3


def time_clips(videos: list[Path], crop_size: int, short_side: int, repeats: int) -> dict:
    """Best-of-``repeats`` CPU ms per clip of each method, averaged over ``videos``."""
    import torch

    from imrkit.codec.reader import read_clip
    from imrkit.transforms import TransformConfig, train_transform
    from imrkit.transforms.pmsp_labels import pmsp_label_tensor, pmsp_labels

    config = TransformConfig(crop_size=crop_size, short_side=short_side)
    transform = train_transform(config)
    labelled = train_transform(dataclasses.replace(config, pmsp_labels=True))
    generator = torch.Generator().manual_seed(0)
    totals = dict.fromkeys(
        (
            "read_clip",
            "train_transform",
            "train_transform_with_pmsp",
            "pmsp_labels_transformed",
            "pmsp_labels_full_frame",
        ),
        0.0,
    )
    for video in videos:
        clip = read_clip(video)
        sample = transform(clip, generator)
        best = dict.fromkeys(totals, float("inf"))
        runs = {
            "read_clip": lambda video=video: read_clip(video),
            "train_transform": lambda clip=clip: transform(clip, generator),
            "train_transform_with_pmsp": lambda clip=clip: labelled(clip, generator),
            "pmsp_labels_transformed": lambda sample=sample: pmsp_label_tensor(sample["motion"]),
            "pmsp_labels_full_frame": lambda clip=clip: pmsp_labels(clip.motion),
        }
        for _ in range(repeats):  # interleaved: a busy moment hits every method alike
            for name, function in runs.items():
                best[name] = min(best[name], _cpu_ms(function))
        for name in totals:
            totals[name] += best[name] / len(videos)
    # What a dataset pays: labels computed right after the transform (data still in cache).
    totals["pmsp_labels_in_pipeline"] = max(
        0.0, totals["train_transform_with_pmsp"] - totals["train_transform"]
    )
    height, width = clip.motion.shape[1:3]
    read = totals["read_clip"]
    return {
        "size": f"{width}x{height}, crop {crop_size}",
        "clips": len(videos),
        "ms_per_clip": {name: round(value, 3) for name, value in totals.items()},
        "ratios_vs_read_clip": {
            name: round(value / read, 4) for name, value in totals.items() if name != "read_clip"
        },
        "labels_vs_loading": round(
            totals["pmsp_labels_in_pipeline"] / (read + totals["train_transform"]), 4
        ),
    }


def run(args: argparse.Namespace) -> dict:
    import cv2
    import torch

    from imrkit.bench.loader import cached_video, dataset_videos

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    source, videos = dataset_videos(args)
    videos = videos[: args.sample_videos]
    width, height = COVIAR_SIZE
    coviar = cached_video(args.cache, f"short_{width}x{height}.mp4", 7 * 12, width, height)
    sample = time_clips(videos, crop_size=112, short_side=128, repeats=args.repeats)
    sample["source"] = source
    large = time_clips([coviar], crop_size=224, short_side=256, repeats=args.repeats)
    large["source"] = f"generated {width}x{height} video"
    share = max(part["ratios_vs_read_clip"]["pmsp_labels_in_pipeline"] for part in (sample, large))
    isolated = max(
        part["ratios_vs_read_clip"]["pmsp_labels_transformed"] for part in (sample, large)
    )
    return {
        "sample": sample,
        "coviar": large,
        "target": {
            "label_share_of_read_clip": TARGET_LABEL_SHARE,
            "worst_in_pipeline": share,
            "worst_isolated": isolated,
        },
        "met": share < TARGET_LABEL_SHARE,
    }


def format_report(result: dict) -> str:
    lines = ["PMSP label cost vs reading a clip (one thread, CPU ms per clip, best of runs)", ""]
    for key in ("sample", "coviar"):
        part = result[key]
        lines.append(f"{part['source']} ({part['size']}, {part['clips']} clip(s))")
        for name, value in part["ms_per_clip"].items():
            ratio = part["ratios_vs_read_clip"].get(name)
            suffix = f"  {100 * ratio:6.1f}% of read_clip" if ratio is not None else ""
            lines.append(f"  {name:26s} {value:8.2f} ms{suffix}")
        lines.append("")
    target = result["target"]
    verdict = "met" if result["met"] else "NOT met"
    lines.append(
        f"labels in the pipeline (transform with labels - transform): at most "
        f"{100 * target['worst_in_pipeline']:.1f}% of read_clip "
        f"(target < {100 * target['label_share_of_read_clip']:.0f}%: {verdict}); "
        f"timed alone on cold data: at most {100 * target['worst_isolated']:.1f}%"
    )
    for key in ("sample", "coviar"):
        share = 100 * result[key]["labels_vs_loading"]
        lines.append(f"{key}: labels add {share:.1f}% to read_clip + train_transform")
    return "\n".join(lines)
