"""``imrkit bench ctp``: can the CTP types be told apart in a dataset at all, and by what?

A network learns CTP (Sec. 2.2, Eq. 5) only if the data lets the four correspondence types
differ. This diagnostic measures three hand-made cues on real clips under each type, and how
well a linear classifier on them predicts the type on held-out clips (a floor for what a
network could reach, not a ceiling):

- *spatial*: per GOP, the correlation over an 8x8-pixel grid between where the motion is
  (mean |motion| over the GOP's P-frames) and where the I-frame changes (|I_{g+1} - I_g|).
  High when the P streams belong to these I-frames: tells ``random`` from the rest.
- *temporal*: the correlation over GOPs between motion energy and I-frame change energy.
  High only when the GOPs are in their true order: tells ``shuffle``/``shift`` from
  ``aligned``. It is zero on data whose motion is the same in every GOP (the earlier sample's
  constant-velocity objects), which is why CTP could not learn there.
- *boundaries*: the jump of the motion field across each GOP boundary relative to the jumps
  inside GOPs, from the P streams alone: a shift makes one discontinuity, a shuffle several.

The first-order statistics of the streams, by contrast, are the same under every type by
construction (tests/pretext/test_ctp.py, the shortcut guard).

``--learn STEPS`` adds a learning curve: CTP alone on imrnet_tiny, trained for STEPS
updates on two augmented clips of every training video (preloaded), with held-out accuracy
per type every 50 updates, for each ``--pooling`` asked for (the evidence behind CTP's
``gop`` pooling in BENCHMARKS.md).
"""

from __future__ import annotations

import argparse

import numpy as np

CUES = ("spatial", "temporal", "boundaries")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="data/sample", help="labelled dataset (UCF-101 layout)")
    parser.add_argument("--passes", type=int, default=4, help="draws of every clip's type")
    parser.add_argument("--crop", type=int, default=64, help="crop size (short side too)")
    parser.add_argument("--max-videos", type=int, default=0, help="per subset (0: all)")
    parser.add_argument("--learn", type=int, default=0, metavar="STEPS", help="learning curves")
    parser.add_argument("--pooling", nargs="+", default=["clip", "gop"], help="CTP poolings")
    parser.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (--learn)")


def correspondence_cues(batch: dict) -> np.ndarray:
    """Per clip: [spatial, temporal, boundaries (T - 1 values)] (see the module docstring).

    Args:
        batch: ``{"iframes": B x 3 x T x H x W, "motion": B x 2 x 5T x H x W, ...}``.
    """
    import torch
    import torch.nn.functional as F

    iframes, motion = batch["iframes"].float(), batch["motion"].float()
    size, _, num_gops, height, width = iframes.shape
    change = (iframes[:, :, 1:] - iframes[:, :, :-1]).abs().mean(1)  # B x T-1 x H x W
    magnitude = motion.norm(dim=1)  # B x 5T x H x W
    per_gop = magnitude.view(size, num_gops, -1, height, width).mean(2)[:, :-1]
    cell = max(1, min(8, height // 4))

    def centred(x: torch.Tensor, dim: int) -> torch.Tensor:
        return x - x.mean(dim, keepdim=True)

    def correlation(a: torch.Tensor, b: torch.Tensor, dim: int) -> torch.Tensor:
        a, b = centred(a, dim), centred(b, dim)
        return (a * b).sum(dim) / (a.norm(dim=dim) * b.norm(dim=dim) + 1e-8)

    where_change = F.avg_pool2d(change, cell).flatten(2)  # B x T-1 x cells
    where_motion = F.avg_pool2d(per_gop, cell).flatten(2)
    spatial = correlation(where_change, where_motion, -1).mean(1, keepdim=True)
    temporal = correlation(change.flatten(2).mean(-1), per_gop.flatten(2).mean(-1), 1)[:, None]
    field = F.avg_pool2d(magnitude, cell).flatten(2)  # B x 5T x cells
    jumps = (field[:, 1:] - field[:, :-1]).norm(dim=-1)  # B x 5T-1
    per_frame = magnitude.shape[1] // num_gops
    boundary = jumps[:, per_frame - 1 :: per_frame]  # the jump into each next GOP
    inside = torch.ones(jumps.shape[1], dtype=torch.bool)
    inside[per_frame - 1 :: per_frame] = False
    boundaries = boundary / (jumps[:, inside].mean(1, keepdim=True) + 1e-6)
    return torch.cat([spatial, temporal, boundaries], dim=1).numpy()


def _clips(config, subset: str, mode: str = "eval", repeats: int = 1) -> dict:
    from imrkit.data.dataset import build_dataset, collate_clips
    from imrkit.transforms.compact import model_inputs

    dataset = build_dataset(config, subset, mode=mode, labelled=False)
    keys = [
        i if mode == "eval" else (i, 1000 * r + i)
        for r in range(repeats)
        for i in range(len(dataset))
    ]
    clips = [dataset[key] for key in keys]
    batch = model_inputs(collate_clips(clips))
    return {k: batch[k] for k in ("iframes", "motion", "residual")}


def _draw(clips: dict, passes: int, seed: int, batch_size: int = 16):
    """Cues and types of every clip, ``passes`` times, in batches as CTP draws them."""
    import torch

    from imrkit.pretext.ctp import apply_correspondence, sample_correspondence_labels

    generator = torch.Generator().manual_seed(seed)
    count = len(clips["iframes"])
    features, labels = [], []
    for _ in range(passes):
        order = torch.randperm(count, generator=generator)
        for start in range(0, count - 1, batch_size):
            chosen = order[start : start + batch_size]
            if len(chosen) < 2:
                continue
            batch = {k: v[chosen] for k, v in clips.items()}
            types = sample_correspondence_labels(len(chosen), 4, generator)
            features.append(correspondence_cues(apply_correspondence(batch, types, generator)))
            labels.append(types.numpy())
    return np.concatenate(features), np.concatenate(labels)


def run(args: argparse.Namespace) -> dict:
    import torch

    from imrkit.data.dataset import DatasetConfig
    from imrkit.pretext.ctp import CORRESPONDENCE_TYPES
    from imrkit.train.probe import linear_probe
    from imrkit.transforms import TransformConfig

    torch.set_num_threads(1)
    config = DatasetConfig(
        root=args.data,
        max_videos=args.max_videos,
        transform=TransformConfig(crop_size=args.crop, short_side=args.crop, scales=(1.0,)),
    )
    train_x, train_y = _draw(_clips(config, "train"), args.passes, seed=0)
    test_x, test_y = _draw(_clips(config, "test"), args.passes, seed=1)
    probe = linear_probe(train_x, train_y, test_x, test_y, num_classes=4)
    per_type = {}
    for index, name in enumerate(CORRESPONDENCE_TYPES):
        rows = test_x[test_y == index]
        per_type[name] = {
            "spatial": [float(rows[:, 0].mean()), float(rows[:, 0].std())],
            "temporal": [float(rows[:, 1].mean()), float(rows[:, 1].std())],
            "boundaries": [float(rows[:, 2:].max(1).mean()), float(rows[:, 2:].max(1).std())],
            "accuracy": float(100 * (probe.predictions[test_y == index] == index).mean()),
        }
    result = {
        "data": args.data,
        "train_draws": len(train_y),
        "test_draws": len(test_y),
        "accuracy": probe.accuracy,
        "chance": 25.0,
        "per_type": per_type,
    }
    if args.learn:
        train = _clips(config, "train", mode="train", repeats=2)
        test = _clips(config, "test")
        result["curves"] = {
            pooling: learning_curve(train, test, args.learn, pooling=pooling, lr=args.lr)
            for pooling in args.pooling
        }
    return result


def learning_curve(
    train: dict, test: dict, steps: int, *, pooling: str, lr: float, batch_size: int = 16
) -> list[dict]:
    """Train CTP alone (imrnet_tiny, SGD, warm-up then cosine) on preloaded ``train`` clips;
    every 50 updates, the mean training loss and held-out accuracy per type on ``test``."""
    import math

    import torch
    from tqdm.auto import tqdm

    from imrkit.models import build_model
    from imrkit.pretext import build_pretext
    from imrkit.pretext.ctp import evaluate_ctp

    torch.manual_seed(0)
    num_gops = train["iframes"].shape[2]
    pretext = build_pretext(
        "ctp",
        build_model("imrnet_tiny"),
        hidden_dim=128,
        ctp_pooling=pooling,
        num_gops=num_gops,
        seed=0,
    )
    optimizer = torch.optim.SGD(pretext.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    warmup = min(50, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: (
            min(1.0, (step + 1) / max(1, warmup)) * 0.5 * (1 + math.cos(math.pi * step / steps))
        ),
    )
    held_out = [{k: v[i] for k, v in test.items()} for i in range(len(test["iframes"]))]
    generator = torch.Generator().manual_seed(0)
    count = len(train["iframes"])
    curve, losses = [], []
    for step in tqdm(range(steps), desc=f"CTP ({pooling} pooling)", unit="update"):
        chosen = torch.randint(count, (batch_size,), generator=generator)
        output = pretext({k: v[chosen] for k, v in train.items()})
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(output.loss.detach())
        if (step + 1) % 50 == 0 or step + 1 == steps:
            heldout = evaluate_ctp(pretext, held_out, batch_size=batch_size, seed=123)
            loss = float(torch.stack(losses).mean())
            curve.append({"step": step + 1, "train_loss": loss, **heldout})
            losses = []
    return curve


def format_report(result: dict) -> str:
    lines = [
        f"CTP cues on {result['data']} ({result['test_draws']} held-out draws; "
        f"linear classifier on the cues: {result['accuracy']:.1f}% 4-way, chance 25%)",
        "",
        "| type | spatial corr | temporal corr | max boundary jump | cue classifier acc (%) |",
        "|---|---|---|---|---|",
    ]
    for name, row in result["per_type"].items():
        cells = [f"{row[c][0]:+.2f} +- {row[c][1]:.2f}" for c in CUES]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {row['accuracy']:.1f} |")
    for pooling, curve in result.get("curves", {}).items():
        lines += [
            "",
            f"CTP alone, {pooling} pooling: update, training loss (ln 4 = 1.386 is chance), "
            "held-out accuracy (%) overall and per type",
        ]
        for point in curve:
            per_type = ", ".join(f"{k} {v:.0f}" for k, v in point["per_type"].items())
            lines.append(
                f"- {point['step']}: loss {point['train_loss']:.3f}, held-out "
                f"{point['accuracy']:.1f} ({per_type})"
            )
    return "\n".join(lines)
