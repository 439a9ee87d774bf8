"""Parameter and multiply-accumulate counts of an IMRNet, per pathway, stage and connection.

MACs come from PyTorch's own counter (:class:`torch.utils.flop_counter.FlopCounterMode`,
which counts 2 FLOPs per multiply-accumulate of convolutions, transposed convolutions and
matrix products; pooling, BatchNorm and activations are not counted). The model runs on the
``meta`` device, so counting R50 at 224 x 224 allocates nothing and takes a second.

Table 2 of the paper reports GFLOPs "per frame" for a 25-frame input: the cost of one clip
(5 I-frames + 25 P-frames at 224 x 224) divided by 25. Those figures match multiply-accumulates,
so :func:`model_stats` reports GMACs per frame the same way.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from imrkit.models.builder import create_imrnet
from imrkit.models.config import PATHWAYS, STAGE_NAMES, IMRNetConfig
from imrkit.models.imrnet import IMRNet
from imrkit.models.presets import model_config

# Table 2 (per frame, 25-frame input at 224^2).
PAPER_GMACS_PER_FRAME = {"imrnet_r18": 0.66, "imrnet_r50": 1.04}


def _stage_name(index: int) -> str:
    return STAGE_NAMES[index] if index < len(STAGE_NAMES) else f"stage{index}"


def parameter_counts(model: IMRNet) -> dict[str, Any]:
    """Parameters per pathway (and stage), per connection, and of the classifier.

    Returns:
        ``{"pathways": {name: {"total": n, "stages": {"conv1": n, ...}}},
        "connections": {"conv1": {"motion": n, "residual": n}, ...},
        "classifier": n, "total": n}``
    """
    counts: dict[str, Any] = {"pathways": {}, "connections": {}}
    for name in PATHWAYS:
        stages = {
            _stage_name(index): sum(p.numel() for p in module.parameters())
            for index, module in enumerate(getattr(model, name))
        }
        counts["pathways"][name] = {"total": sum(stages.values()), "stages": stages}
    for index, fusion in enumerate(model.fusions):
        counts["connections"][_stage_name(index)] = {
            pair: sum(p.numel() for p in getattr(fusion, pair).parameters())
            for pair in ("motion", "residual")
        }
    classifier = model.classifier
    counts["classifier"] = (
        0 if classifier is None else sum(p.numel() for p in classifier.parameters())
    )
    counts["total"] = sum(p.numel() for p in model.parameters())
    return counts


def count_macs(
    model: IMRNet, inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
) -> dict[str, int]:
    """Multiply-accumulates of ``model(*inputs)``, per module path (``"iframes.0"``, ...).

    The key ``""`` holds the total. Counts are FLOPs / 2 from FlopCounterMode's
    hierarchical per-module counts.
    """
    with FlopCounterMode(display=False) as counter:
        model(*inputs)
    root = type(model).__name__
    macs = {}
    for path, ops in counter.get_flop_counts().items():
        if path == "Global":
            continue
        key = "" if path == root else path.removeprefix(root + ".")
        macs[key] = sum(ops.values()) // 2
    macs.setdefault("", counter.get_total_flops() // 2)
    return macs


def model_stats(
    name_or_config: str | IMRNetConfig,
    *,
    num_gops: int = 5,
    size: int = 224,
    batch_size: int = 1,
    **overrides: Any,
) -> dict[str, Any]:
    """Parameters and per-frame GMACs of a preset at the paper's input (Table 2).

    Args:
        name_or_config: a preset name or a config.
        num_gops: T; the clip holds T I-frames and 5T P-frames.
        size: spatial size (square), a multiple of 32.
        batch_size: clips per forward (the counts are divided back to one clip).
        **overrides: config overrides for a preset name (e.g. ``connections="none"``).

    Returns:
        A dict with ``parameters`` (see :func:`parameter_counts`) and ``gmacs_per_frame``:
        ``{"total", "pathways": {name: {"total", "stages"}}, "connections": {...},
        "classifier"}``, each GMACs per clip divided by the clip's 5T P-frames.
    """
    if isinstance(name_or_config, str):
        name = name_or_config
        config = model_config(name, **overrides)
    else:
        name, config = None, name_or_config
    with torch.device("meta"):
        model = create_imrnet(config).eval()
        num_pframes = config.pframes_per_gop * num_gops
        inputs = (
            torch.empty(batch_size, config.iframe_channels, num_gops, size, size),
            torch.empty(batch_size, config.motion_channels, num_pframes, size, size),
            torch.empty(batch_size, config.residual_channels, num_pframes, size, size),
        )
    macs = count_macs(model, inputs)
    scale = 1e9 * batch_size * num_pframes

    def per_frame(key: str) -> float:
        return macs.get(key, 0) / scale

    gmacs: dict[str, Any] = {"total": per_frame(""), "pathways": {}, "connections": {}}
    for pathway in PATHWAYS:
        stages = {
            _stage_name(index): per_frame(f"{pathway}.{index}")
            for index in range(len(getattr(model, pathway)))
        }
        # A ModuleList is never called, so the counter has no entry for the pathway itself.
        gmacs["pathways"][pathway] = {"total": sum(stages.values()), "stages": stages}
    for index in range(len(model.fusions)):
        gmacs["connections"][_stage_name(index)] = {
            pair: per_frame(f"fusions.{index}.{pair}") for pair in ("motion", "residual")
        }
    gmacs["connections_total"] = sum(sum(pairs.values()) for pairs in gmacs["connections"].values())
    gmacs["classifier"] = per_frame("classifier")
    # What the pathways, connections and classifier do not account for (the model's own
    # forward: pooling and concatenation cost no MACs) must be zero.
    accounted = sum(gmacs["pathways"][p]["total"] for p in PATHWAYS)
    gmacs["unaccounted"] = (
        gmacs["total"] - accounted - gmacs["connections_total"] - gmacs["classifier"]
    )
    result = {
        "model": name or "custom",
        "connections": config.connections,
        "input": {
            "num_gops": num_gops,
            "iframes": [config.iframe_channels, num_gops, size, size],
            "motion": [config.motion_channels, num_pframes, size, size],
            "residual": [config.residual_channels, num_pframes, size, size],
            "frames_divided_by": num_pframes,
        },
        "parameters": parameter_counts(model),
        "gmacs_per_frame": gmacs,
        "gmacs_per_clip": macs[""] / (1e9 * batch_size),
    }
    if name in PAPER_GMACS_PER_FRAME:
        result["paper_gmacs_per_frame"] = PAPER_GMACS_PER_FRAME[name]
    return result


def format_stats(stats: dict[str, Any]) -> str:
    """A human-readable table of :func:`model_stats`."""
    params = stats["parameters"]
    gmacs = stats["gmacs_per_frame"]
    lines = [
        f"{stats['model']} (connections={stats['connections']}), input "
        f"I {stats['input']['iframes']} M {stats['input']['motion']} "
        f"R {stats['input']['residual']}",
        f"{'part':<28}{'params':>14}{'GMACs/frame':>14}",
    ]
    for pathway in PATHWAYS:
        lines.append(
            f"{pathway:<28}{params['pathways'][pathway]['total']:>14,}"
            f"{gmacs['pathways'][pathway]['total']:>14.4f}"
        )
        for stage, count in params["pathways"][pathway]["stages"].items():
            lines.append(
                f"  {stage:<26}{count:>14,}{gmacs['pathways'][pathway]['stages'][stage]:>14.4f}"
            )
    for stage, pairs in params["connections"].items():
        for pair, count in pairs.items():
            label = f"connection {stage} I<->{pair[0].upper()}"
            lines.append(f"{label:<28}{count:>14,}{gmacs['connections'][stage][pair]:>14.4f}")
    lines.append(f"{'classifier':<28}{params['classifier']:>14,}{gmacs['classifier']:>14.4f}")
    lines.append(f"{'total':<28}{params['total']:>14,}{gmacs['total']:>14.4f}")
    line = (
        f"GMACs per frame = clip GMACs {stats['gmacs_per_clip']:.2f} / "
        f"{stats['input']['frames_divided_by']} frames"
    )
    if "paper_gmacs_per_frame" in stats:
        paper = stats["paper_gmacs_per_frame"]
        line += f"; paper (Table 2): {paper:.2f}, ratio {gmacs['total'] / paper:.3f}"
    lines.append(line)
    return "\n".join(lines)
