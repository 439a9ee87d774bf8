"""What every pretext task shares: its output type, the MLP head, batch access and randomness."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from imrkit.errors import ShapeError

STREAMS = ("iframes", "motion", "residual")


@dataclass
class PretextOutput:
    """A pretext task's answer for one batch.

    Attributes:
        loss: the scalar to minimise (with its graph).
        metrics: detached floats to log, e.g. ``{"pmsp/loss": 21.3, "pmsp/acc_s2_t1": 0.4}``.
    """

    loss: torch.Tensor
    metrics: dict[str, float] = field(default_factory=dict)


def mlp_head(dim_in: int, dim_hidden: int, dim_out: int) -> nn.Sequential:
    """The paper's 2-layer MLP classifier (softmax lives in the loss): Linear-ReLU-Linear."""
    return nn.Sequential(
        nn.Linear(dim_in, dim_hidden), nn.ReLU(inplace=True), nn.Linear(dim_hidden, dim_out)
    )


def streams(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(iframes B x 3 x T x H x W, motion B x 2 x 5T x H x W, residual B x 3 x 5T x H x W)``."""
    missing = [name for name in STREAMS if name not in batch]
    if missing:
        raise ShapeError(f"batch: missing {missing}; expected keys {list(STREAMS)}")
    iframes, motion, residual = (batch[name] for name in STREAMS)
    if iframes.dim() != 5 or motion.dim() != 5 or residual.dim() != 5:
        shapes = {name: tuple(batch[name].shape) for name in STREAMS}
        raise ShapeError(f"batch: streams must be B x C x T x H x W, got {shapes}")
    return iframes, motion, residual


def make_generator(seed: int | None) -> torch.Generator | None:
    """A CPU generator for the task's random draws, or None for torch's global RNG.

    Draws are small (labels, permutations, boxes) and made on the CPU, then moved to the
    batch's device, so a task behaves the same on any device.
    """
    return None if seed is None else torch.Generator().manual_seed(seed)


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Top-1 accuracy of ``... x K`` logits against ``...`` targets, as a float."""
    return (logits.argmax(-1) == targets).float().mean().item()
