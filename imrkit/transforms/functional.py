"""Stream-consistent spatial transforms as pure functions (SPEC.md Sec. 4, "Augmentation").

Every spatial transform moves I-frames, motion vectors and residuals alike, and keeps the
motion vectors meaning what they say on the transformed grid:

- resizing by (sx, sy) scales a vector (x, y) to (x sx, y sy);
- a horizontal flip mirrors the field and negates x;
- a 90-degree rotation rotates the field and the vectors (see :func:`rotate_motion_vectors`).

Two families:

- numpy, on a clip in the reader's layout (``N x H x W x C`` per stream, one clip), giving
  the model's channel-first layout: the data loader's path (:func:`crop_resize_frames`, the
  ``normalize_*``).
- torch, on a batch in the model's layout (``B x C x N x H x W``): the pretext tasks' path
  (:func:`crop_resize_clip`, :func:`hflip_clip`, :func:`rotate90_clip`).

Crop boxes are :class:`CropBox` (top, left, height, width) in input pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Interpolation = Literal["linear", "nearest", "area"]
_CV2_INTERPOLATION = {
    "linear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST,
    "area": cv2.INTER_AREA,
}


class CropBox(NamedTuple):
    """A crop in input pixels: rows [top, top + height), columns [left, left + width)."""

    top: int
    left: int
    height: int
    width: int


# ---------------------------------------------------------------------------- crop boxes


def random_crop_box(
    height: int, width: int, scales: Sequence[float], generator: torch.Generator | None = None
) -> CropBox:
    """Multi-scale random square crop (TSN/CoViAR's scale jitter, SPEC Sec. 4).

    The side is ``scale x`` the shorter side for a scale drawn uniformly from ``scales``
    (default {1, .975, .9, .85}); the position is uniform. Random numbers come from torch so
    that DataLoader workers (each seeded by torch) draw different crops.
    """
    short = min(height, width)
    scale = scales[int(torch.randint(len(scales), (1,), generator=generator))]
    side = max(1, min(short, round(scale * short)))
    top = int(torch.randint(height - side + 1, (1,), generator=generator))
    left = int(torch.randint(width - side + 1, (1,), generator=generator))
    return CropBox(top, left, side, side)


def center_crop_box(height: int, width: int, fraction: float) -> CropBox:
    """Centred square crop whose side is ``fraction x`` the shorter side."""
    return three_crop_boxes(height, width, fraction)[1]


def three_crop_boxes(height: int, width: int, fraction: float) -> list[CropBox]:
    """Three equidistant square crops along the longer side (start, centre, end; Sec. 4).

    The side is ``fraction x`` the shorter side (e.g. 224/256: a 224 crop of the clip resized
    to shorter side 256); across the shorter side the crops are centred.
    """
    side = max(1, min(height, width, round(fraction * min(height, width))))
    long_steps = [0, (max(height, width) - side) // 2, max(height, width) - side]
    across = (min(height, width) - side) // 2
    if height >= width:  # portrait: the crops move down the frame
        return [CropBox(step, across, side, side) for step in long_steps]
    return [CropBox(across, step, side, side) for step in long_steps]


# ---------------------------------------------------------------- numpy, one clip (loader)


def crop_resize_frames(
    frames: np.ndarray,
    box: CropBox,
    size: int,
    interpolation: Interpolation = "linear",
    flip: bool = False,
) -> np.ndarray:
    """Crop ``N x H x W x C`` frames to ``box``, resize, maybe mirror: float32 ``C x N x S x S``.

    One ``cv2.resize`` (and ``cv2.flip``) per frame on a crop view, in the input's dtype
    (uint8, int16, float32), then the frame is written channel-first into the output while
    it is still in cache. Measured faster than one call over frames stacked on the channel
    axis (OpenCV's SIMD paths cover 1-4 channels; wider images run ~10x slower per pixel and
    OpenCV 5 caps them at 128 channels) and than transposing the whole clip afterwards.
    Motion vectors are not rescaled here (see :func:`normalize_motion`).
    """
    crop = frames[:, box.top : box.top + box.height, box.left : box.left + box.width]
    flag = _CV2_INTERPOLATION[interpolation]
    channels = frames.shape[-1]
    out = np.empty((channels, frames.shape[0], size, size), dtype=np.float32)
    for index, frame in enumerate(crop):
        resized = cv2.resize(frame, (size, size), interpolation=flag)
        if flip:
            resized = cv2.flip(resized, 1)
        # cv2 drops a trailing axis of 1: restore it, then write channel-first.
        out[:, index] = resized.reshape(size, size, channels).transpose(2, 0, 1)
    return out


def normalize_iframes(
    iframes: np.ndarray,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """RGB ``3 x T x H x W`` float32 in [0, 255] -> /255, then (x - mean) / std (in place)."""
    iframes *= 1.0 / 255.0
    iframes -= np.asarray(mean, dtype=np.float32)[:, None, None, None]
    iframes /= np.asarray(std, dtype=np.float32)[:, None, None, None]
    return torch.from_numpy(iframes)


def normalize_motion(
    motion: np.ndarray, scale: float, factors: tuple[float, float] = (1.0, 1.0)
) -> torch.Tensor:
    """Motion ``2 x N x H x W`` float32 (x, y): times ``factors``, over ``scale`` (in place).

    ``factors`` carries the resize (x by new_w / old_w, y by new_h / old_h) and a flip's -1
    on x, so the vectors are touched once, channel by channel.
    """
    motion[0] *= factors[0] / scale
    motion[1] *= factors[1] / scale
    return torch.from_numpy(motion)


def normalize_residual(residual: np.ndarray, scale: float) -> torch.Tensor:
    """Residual ``3 x N x H x W`` float32 (from int16 in [-255, 255]) -> / ``scale`` (in place)."""
    residual *= 1.0 / scale
    return torch.from_numpy(residual)


def denormalize_iframes(
    iframes: torch.Tensor,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> np.ndarray:
    """Undo :func:`normalize_iframes` for display: ``3 x T x H x W`` -> uint8 ``T x H x W x 3``."""
    mean_ = torch.tensor(mean, dtype=iframes.dtype, device=iframes.device)[:, None, None, None]
    std_ = torch.tensor(std, dtype=iframes.dtype, device=iframes.device)[:, None, None, None]
    rgb = (iframes * std_ + mean_).clamp(0, 1) * 255.0
    return rgb.round().to(torch.uint8).permute(1, 2, 3, 0).cpu().numpy()


# ---------------------------------------------------------- torch, a batch (pretext tasks)


def hflip_clip(stream: torch.Tensor, is_motion: bool = False) -> torch.Tensor:
    """Mirror ``... x C x N x H x W`` left-right; for motion (C = 2: x, y) also negate x."""
    flipped = stream.flip(-1)
    if is_motion:
        flipped = torch.cat([-flipped[..., :1, :, :, :], flipped[..., 1:, :, :, :]], dim=-4)
    return flipped


def rotate_motion_vectors(motion: torch.Tensor, quarter_turns: int) -> torch.Tensor:
    """Turn the (x, y) vectors of ``... x 2 x N x H x W`` motion with a :func:`rotate90_clip`.

    ``torch.rot90(frame, 1, dims=(-2, -1))`` puts the pixel at (x, y) (column, row; y points
    down) at ``(y, W - 1 - x)``: a point moving by (dx, dy) moves by ``(dy, -dx)`` in the
    rotated frame. Two turns give (-dx, -dy), three give (-dy, dx).
    """
    motion_x, motion_y = motion[..., 0:1, :, :, :], motion[..., 1:2, :, :, :]
    quarter_turns %= 4
    if quarter_turns == 0:
        return motion
    if quarter_turns == 1:
        return torch.cat([motion_y, -motion_x], dim=-4)
    if quarter_turns == 2:
        return -motion
    return torch.cat([-motion_y, motion_x], dim=-4)


def rotate90_clip(
    stream: torch.Tensor, quarter_turns: int, is_motion: bool = False
) -> torch.Tensor:
    """Rotate ``... x C x N x H x W`` frames by ``quarter_turns x 90`` degrees (counter-clockwise
    as displayed, ``torch.rot90`` on (H, W)); motion vectors turn with the frame."""
    rotated = torch.rot90(stream, quarter_turns, dims=(-2, -1))
    return rotate_motion_vectors(rotated, quarter_turns) if is_motion else rotated


def crop_resize_clip(
    stream: torch.Tensor, box: CropBox, size: tuple[int, int], is_motion: bool = False
) -> torch.Tensor:
    """Crop ``C x N x H x W`` to ``box`` and resize (bilinear) to ``C x N x size``.

    For motion (C = 2) the vectors are rescaled by the resize factors, x by
    ``size_w / box.width`` and y by ``size_h / box.height``.
    """
    channels, frames = stream.shape[:2]
    crop = stream[..., box.top : box.top + box.height, box.left : box.left + box.width]
    resized = F.interpolate(
        crop.reshape(1, channels * frames, box.height, box.width),
        size=size,
        mode="bilinear",
        align_corners=False,
    ).reshape(channels, frames, *size)
    if is_motion:
        factors = torch.tensor(
            [size[1] / box.width, size[0] / box.height], dtype=resized.dtype, device=resized.device
        )
        resized = resized * factors[:, None, None, None]
    return resized
