"""Compact samples: what crosses the DataLoader, and the one place it becomes model input.

A normalised float32 sample of 5 GOPs at 224 is 28 MB: that is what every worker used to
copy through shared memory, and what the host copies to the device. The compact pipeline
hands over the streams as read on the output grid, channel-last, in small integer types:

- ``"iframes"``: uint8 (T x S x S x 3), the decoded RGB;
- ``"motion"``: int8 (5T x S x S x 2) in quarter pixels of the output grid (:data:`MOTION_STEP`,
  H.264's precision), saturating at +-31.75 px per frame; accumulated motion (CoViAR, which
  grows with the distance to the I-frame) is float16 instead;
- ``"residual"``: int8 (5T x S x S x 3), saturating at +-127 (CoViAR's loader clips its
  residuals to the same byte);
- ``"normalization"``: the :class:`Normalization` that turns them into model input.

7 MB instead of 28 (BENCHMARKS.md, pipeline). Test views add a leading V axis.
:func:`model_inputs` converts a collated batch on its device, after the copy: channel-first
float32, normalised exactly as :mod:`imrkit.transforms` normalises a float sample. Training,
evaluation, retrieval, the pretext diagnostics and the notebooks all go through it; a batch
that is already float (a reference-path or synthetic batch) passes through unchanged.

Saturation and rounding are the only differences from the float path: motion within
1/8 px of the output grid (1/128 of ``motion_scale``), residuals exact up to +-127.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

MOTION_STEP = 0.25  # output-grid pixels per int8 unit of compact motion
INT8_LIMIT = 127
STREAMS = ("iframes", "motion", "residual")


@dataclass(frozen=True)
class Normalization:
    """How compact streams become the model's normalised input (from a TransformConfig)."""

    iframe_mean: tuple[float, float, float]
    iframe_std: tuple[float, float, float]
    motion_scale: float
    residual_scale: float

    @classmethod
    def of(cls, config) -> Normalization:
        """From a :class:`imrkit.transforms.TransformConfig`."""
        return cls(
            tuple(config.iframe_mean),
            tuple(config.iframe_std),
            float(config.motion_scale),
            float(config.residual_scale),
        )


def compact_streams(clip, normalization: Normalization) -> dict[str, Any]:
    """A clip read on its output grid (``read_clip(..., views=...)``) as a compact sample.

    Args:
        clip: a CompressedClip whose arrays are T x S x S x 3 (uint8), 5T x S x S x 2
            (float32, output pixels) and 5T x S x S x 3 (int16).
        normalization: stored with the sample for :func:`model_inputs`.
    """
    if clip.accumulate:
        motion = torch.from_numpy(clip.motion).to(torch.float16)
    else:
        quarters = torch.from_numpy(clip.motion) * (1.0 / MOTION_STEP)
        motion = _saturate_int8(quarters.round_())
    return {
        "iframes": torch.from_numpy(clip.iframes),
        "motion": motion,
        "residual": _saturate_int8(torch.from_numpy(clip.residual)),
        "normalization": normalization,
    }


def _saturate_int8(values: torch.Tensor) -> torch.Tensor:
    """Whole values -> int8, clamped symmetrically to +-127 (torch: 3x numpy's clip here)."""
    return values.clamp(-INT8_LIMIT, INT8_LIMIT).to(torch.int8)


def is_compact(batch: dict[str, Any]) -> bool:
    """Whether ``batch`` (or a sample) holds compact streams still to convert."""
    return "normalization" in batch


def model_inputs(
    batch: dict[str, Any],
    device: torch.device | str | None = None,
    non_blocking: bool = False,
    *,
    channels_last: bool = False,
) -> dict[str, Any]:
    """A batch as the model takes it: float32 ``B x C x N x S x S`` streams on ``device``.

    Compact streams (channel-last, small integers) are moved first and converted there, so
    the copy carries a quarter of the bytes; float batches are moved (when ``device`` is
    given) and otherwise returned as they are. Other entries (labels, PMSP targets) are
    moved alongside; ``"normalization"`` is dropped. ``channels_last`` keeps compact
    streams in ``torch.channels_last_3d`` memory (their stored layout: no copy to
    rearrange), what a model converted to that format trains fastest on (see
    ``RunConfig.channels_last``); the values are the same either way.
    """
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and device is not None:
            value = value.to(device, non_blocking=non_blocking)
        out[key] = value
    if not is_compact(batch):
        return out
    norm: Normalization = out.pop("normalization")
    iframes = _channels_first(out["iframes"], channels_last)
    mean = torch.tensor(norm.iframe_mean, device=iframes.device)[:, None, None, None]
    std = torch.tensor(norm.iframe_std, device=iframes.device)[:, None, None, None]
    out["iframes"] = iframes.mul_(1.0 / 255.0).sub_(mean).div_(std)
    motion = _channels_first(out["motion"], channels_last)
    step = 1.0 if out["motion"].dtype == torch.float16 else MOTION_STEP
    out["motion"] = motion.mul_(step / norm.motion_scale)
    out["residual"] = _channels_first(out["residual"], channels_last).div_(norm.residual_scale)
    return out


def _channels_first(stream: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """``... x N x S x S x C`` (any dtype) -> float32 ``... x C x N x S x S``, in one pass:
    contiguous, or (``channels_last``, 5-D) in the channels-last layout it is stored in."""
    layout = torch.contiguous_format
    if channels_last and stream.dim() == 5:
        layout = torch.channels_last_3d
    return stream.movedim(-1, -4).to(torch.float32, memory_format=layout)
