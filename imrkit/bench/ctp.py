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
per type every ``--eval-every`` updates, for each ``--pooling`` asked for (the evidence
behind CTP's ``gop`` pooling in BENCHMARKS.md). ``--pool DIR`` trains on an unlabeled folder
instead (the sample's 1,000-clip ``unlabeled`` pool: more videos to generalise from),
``--pframes-dims`` widens the M/R pathways, ``--seed`` sets the network's initialisation and
the batches drawn. The held-out accuracy comes with a 95% Wilson interval counted over test
clips, not draws (each clip is drawn ``4`` times with fresh types; conservative).
"""

from __future__ import annotations

import argparse
import dataclasses
import math

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
    parser.add_argument("--pool", default=None, help="train --learn on this unlabeled folder")
    parser.add_argument(
        "--pframes-dims", type=int, nargs=4, default=None, metavar="D", help="M/R widths"
    )
    parser.add_argument("--seed", type=int, default=0, help="initialisation and batches")
    parser.add_argument("--eval-every", type=int, default=50, help="updates between evals")


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


def preload_clips(
    config, subset: str, mode: str = "eval", repeats: int = 1, pmsp: bool = False
) -> dict:
    """Every clip of ``subset`` (``repeats`` augmented draws of each in train mode) as
    model-ready float tensors ``{"iframes", "motion", "residual"[, "pmsp"]}``."""
    from imrkit.data.dataset import build_dataset, collate_clips
    from imrkit.transforms.compact import model_inputs

    dataset = build_dataset(config, subset, mode=mode, labelled=False, pmsp=pmsp)
    keys = [
        i if mode == "eval" else (i, 1000 * r + i)
        for r in range(repeats)
        for i in range(len(dataset))
    ]
    clips = [dataset[key] for key in keys]
    batch = model_inputs(collate_clips(clips))
    names = ("iframes", "motion", "residual") + (("pmsp",) if pmsp else ())
    return {k: batch[k] for k in names}


_clips = preload_clips


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
    from imrkit.evaluate.probe import linear_probe
    from imrkit.pretext.ctp import CORRESPONDENCE_TYPES
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
        if args.pool:
            pool = dataclasses.replace(config, root=args.pool, format="unlabeled")
            train = _clips(pool, "train", mode="train", repeats=2)
        else:
            train = _clips(config, "train", mode="train", repeats=2)
        test = _clips(config, "test")
        result["learn"] = {
            "train_clips": len(train["iframes"]),
            "test_clips": len(test["iframes"]),
            "train_from": args.pool or f"{args.data} (train list)",
            "pframes_dims": args.pframes_dims,
            "seed": args.seed,
            "lr": args.lr,
        }
        result["curves"] = {
            pooling: learning_curve(
                train,
                test,
                args.learn,
                pooling=pooling,
                lr=args.lr,
                seed=args.seed,
                pframes_dims=args.pframes_dims,
                eval_every=args.eval_every,
            )
            for pooling in args.pooling
        }
    return result


def wilson_interval(percent: float, count: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval (in %) of an accuracy of ``percent`` over ``count`` trials."""
    if count <= 0:
        return 0.0, 100.0
    p = percent / 100
    centre = (p + z * z / (2 * count)) / (1 + z * z / count)
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / (1 + z * z / count)
    return 100 * (centre - half), 100 * (centre + half)


def learning_curve(
    train: dict,
    test: dict,
    steps: int,
    *,
    pooling: str,
    lr: float,
    batch_size: int = 16,
    seed: int = 0,
    pframes_dims: tuple[int, int, int, int] | None = None,
    eval_every: int = 50,
    pretext_name: str = "ctp",
    device: str = "cpu",
) -> list[dict]:
    """Train CTP (alone, or ``pretext_name="pmsp+ctp"``; imrnet_tiny, SGD, warm-up then
    cosine) on preloaded ``train`` clips; every ``eval_every`` updates, the mean training
    loss and held-out CTP accuracy per type on ``test`` (the same held-out draws for every
    seed and width).

    Args:
        seed: the network's initialisation and the training batches drawn.
        pframes_dims: M/R pathway widths (stem and the four stages), None: the preset's.
        pretext_name: ``ctp`` or ``pmsp+ctp`` (``train`` then holds ``"pmsp"`` labels).
        device: where the network trains; ``train`` and ``test`` should already be there.
    """
    import torch
    from tqdm.auto import tqdm

    from imrkit.models import build_model
    from imrkit.pretext import build_pretext
    from imrkit.pretext.ctp import evaluate_ctp

    torch.manual_seed(seed)
    num_gops = train["iframes"].shape[2]
    widths = {}
    if pframes_dims is not None:
        dims = tuple(pframes_dims)
        widths = {"pframes": {"stem_dim": dims[0], "stage_dims": dims, "inner_dims": dims}}
    pretext = build_pretext(
        pretext_name,
        build_model("imrnet_tiny", **widths),
        hidden_dim=128,
        ctp_pooling=pooling,
        num_gops=num_gops,
        seed=seed,
    ).to(device)
    optimizer = torch.optim.SGD(pretext.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    warmup = min(50, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: (
            min(1.0, (step + 1) / max(1, warmup)) * 0.5 * (1 + math.cos(math.pi * step / steps))
        ),
    )
    held_out = [{k: v[i] for k, v in test.items()} for i in range(len(test["iframes"]))]
    generator = torch.Generator().manual_seed(seed)
    count = len(train["iframes"])
    curve, losses = [], []
    for step in tqdm(range(steps), desc=f"CTP ({pooling} pooling)", unit="update"):
        chosen = torch.randint(count, (batch_size,), generator=generator).to(device)
        output = pretext({k: v[chosen] for k, v in train.items()})
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(output.loss.detach())
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            heldout = evaluate_ctp(pretext, held_out, batch_size=batch_size, seed=123)
            loss = float(torch.stack(losses).mean())
            low, high = wilson_interval(heldout["accuracy"], len(held_out))
            curve.append({"step": step + 1, "train_loss": loss, **heldout, "ci": [low, high]})
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
            low, high = point.get("ci", (float("nan"), float("nan")))
            lines.append(
                f"- {point['step']}: loss {point['train_loss']:.3f}, held-out "
                f"{point['accuracy']:.1f} [{low:.1f}, {high:.1f}] ({per_type})"
            )
    return "\n".join(lines)
