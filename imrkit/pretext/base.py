"""What every pretext task shares: its output type, the MLP head, batch access and randomness."""

from __future__ import annotations

from collections.abc import Mapping
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
        metrics: detached 0-dim tensors to log, e.g. ``{"pmsp/loss": tensor(21.3),
            "pmsp/acc_s2_t1": tensor(0.4)}``, on the batch's device. They stay tensors so
            that a training step never waits for the device; :func:`metric_floats` reads
            them, in one transfer, when a row is logged.
    """

    loss: torch.Tensor
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)

    def metric_floats(self) -> dict[str, float]:
        """:attr:`metrics` as Python floats (one device transfer)."""
        return metric_floats(self.metrics)


def metric_floats(metrics: Mapping[str, torch.Tensor | float]) -> dict[str, float]:
    """Metric values as Python floats, reading every tensor among them in one transfer."""
    tensors = {key: value for key, value in metrics.items() if isinstance(value, torch.Tensor)}
    floats = {key: float(value) for key, value in metrics.items() if key not in tensors}
    if tensors:
        values = torch.stack([value.detach().float().reshape(()) for value in tensors.values()])
        floats.update(zip(tensors, values.cpu().tolist(), strict=True))
    return {key: floats[key] for key in metrics}


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


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Top-1 accuracy of ``... x K`` logits against ``...`` targets: a detached 0-dim tensor
    (no device sync; see :attr:`PretextOutput.metrics`)."""
    return (logits.detach().argmax(-1) == targets).float().mean()
