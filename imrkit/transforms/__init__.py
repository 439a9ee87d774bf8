"""Clip transforms: a CompressedClip in, normalised float32 tensors for IMRNet out (Sec. 4).

    transform = train_transform(TransformConfig(crop_size=224))
    sample = transform(read_clip(path))   # {"iframes": 3 x T x S x S, "motion": 2 x 5T x S x S,
                                          #  "residual": 3 x 5T x S x S} float32 tensors
    views = test_views(clip, cfg)         # 3 such dicts: 3 equidistant crops (Sec. 4, "Test")

The spatial transform is one crop box and one resize per stream, applied to I, M and R alike:
resizing to ``short_side`` and then cropping ``scale x short_side`` pixels is the same crop of
the original, so the intermediate resize is skipped (one interpolation instead of two).

- train: multi-scale random square crop (side ``scale x`` shorter side, scale from
  ``scales``), resized to ``crop_size``; horizontal flip with probability ``flip_prob``.
- eval: the centre ``crop_size / short_side`` square crop, resized to ``crop_size``.
- test: three such crops, equidistant along the longer side.

Motion vectors are rescaled with the resize (x by new_w / old_w, y by new_h / old_h) and x is
negated on a flip. Normalisation (see the ``normalize_*`` functions):

- I-frames: /255, then ImageNet mean/std per channel.
- motion: pixels of the output grid / ``motion_scale`` (16: a 16-pixel move per P-frame at
  224 is fast; most vectors land in [-1, 1]).
- residual: / ``residual_scale`` (255: the residual's full range maps into [-1, 1]).

PMSP labels (Algorithm 1) are computed after augmentation, from the motion the network
receives: set ``pmsp_labels=True`` (adds ``sample["pmsp"]``, LongTensor (27,)) or call
:func:`with_pmsp_labels` on a sample.

This is the reference path, on a full-frame clip. The dataset uses the same geometry
(:meth:`ClipTransform.crops`) but reads straight onto the crops and hands over compact
samples (:mod:`imrkit.transforms.compact`), normalised on the device by
:func:`imrkit.transforms.compact.model_inputs`; the tests hold the two paths equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from imrkit.errors import ConfigError, ShapeError
from imrkit.transforms import functional
from imrkit.transforms.functional import IMAGENET_MEAN, IMAGENET_STD, CropBox, Interpolation
from imrkit.transforms.pmsp_labels import pmsp_label_tensor

__all__ = [
    "TransformConfig",
    "ClipTransform",
    "TrainTransform",
    "EvalTransform",
    "TestTransform",
    "train_transform",
    "eval_transform",
    "test_views",
    "transform_clip",
    "with_pmsp_labels",
    "functional",
]


@dataclass
class TransformConfig:
    """How clips become model input (SPEC Sec. 4 defaults: 256 shorter side, 224 crops)."""

    crop_size: int = 224
    short_side: int = 256
    scales: tuple[float, ...] = (1.0, 0.975, 0.9, 0.85)
    flip_prob: float = 0.5
    num_test_crops: int = 3
    iframe_mean: tuple[float, float, float] = IMAGENET_MEAN
    iframe_std: tuple[float, float, float] = IMAGENET_STD
    motion_scale: float = 16.0
    residual_scale: float = 255.0
    interpolation: Interpolation = "linear"
    pmsp_labels: bool = False

    def __post_init__(self):
        if self.crop_size < 1 or self.short_side < 1:
            raise ConfigError(
                f"crop_size/short_side must be positive, got {self.crop_size}/{self.short_side}"
            )
        if self.crop_size > self.short_side:
            raise ConfigError(
                f"crop_size {self.crop_size} is larger than short_side {self.short_side}"
            )
        if not self.scales or not all(0.0 < scale <= 1.0 for scale in self.scales):
            raise ConfigError(f"scales: need values in (0, 1], got {self.scales}")
        if not 0.0 <= self.flip_prob <= 1.0:
            raise ConfigError(f"flip_prob: need a probability, got {self.flip_prob}")
        if self.num_test_crops not in (1, 3):
            raise ConfigError(f"num_test_crops: 1 or 3, got {self.num_test_crops}")
        if self.motion_scale <= 0 or self.residual_scale <= 0:
            raise ConfigError("motion_scale and residual_scale must be positive")


def _check_clip(clip) -> tuple[int, int]:
    """Validate a CompressedClip-like object's streams; return its (height, width)."""
    name = getattr(clip, "path", "clip")
    iframes, motion, residual = clip.iframes, clip.motion, clip.residual
    if iframes.ndim != 4 or iframes.shape[-1] != 3:
        raise ShapeError(f"{name}: iframes must be T x H x W x 3, got {iframes.shape}")
    if motion.ndim != 4 or motion.shape[-1] != 2:
        raise ShapeError(f"{name}: motion must be 5T x H x W x 2, got {motion.shape}")
    if residual.ndim != 4 or residual.shape[-1] != 3 or residual.shape[0] != motion.shape[0]:
        raise ShapeError(
            f"{name}: residual must be 5T x H x W x 3 like motion, got {residual.shape}"
        )
    sizes = {iframes.shape[1:3], motion.shape[1:3], residual.shape[1:3]}
    if len(sizes) != 1:
        raise ShapeError(f"{name}: streams differ in frame size: {sorted(sizes)}")
    if motion.shape[0] % iframes.shape[0]:
        raise ShapeError(
            f"{name}: {motion.shape[0]} P-frames do not split over {iframes.shape[0]} GOPs"
        )
    return iframes.shape[1], iframes.shape[2]


def transform_clip(clip, box: CropBox, flip: bool, cfg: TransformConfig) -> dict[str, torch.Tensor]:
    """Crop ``box``, resize to ``crop_size``, optionally flip, and normalise all three streams.

    Args:
        clip: a CompressedClip (or anything with ``iframes`` uint8 T x H x W x 3, ``motion``
            float32 5T x H x W x 2, ``residual`` int16 5T x H x W x 3).
        box: the crop, in the clip's pixels.
        flip: mirror left-right (negating motion x).
        cfg: sizes and normalisation.

    Returns:
        {"iframes": 3 x T x S x S, "motion": 2 x 5T x S x S, "residual": 3 x 5T x S x S}
        float32 tensors, S = ``cfg.crop_size`` (plus "pmsp" (27,) if ``cfg.pmsp_labels``).
    """
    size, how = cfg.crop_size, cfg.interpolation
    iframes = functional.crop_resize_frames(clip.iframes, box, size, how, flip)
    motion = functional.crop_resize_frames(clip.motion, box, size, how, flip)
    residual = functional.crop_resize_frames(clip.residual, box, size, how, flip)
    # Vectors follow the grid: x scales by new_w / old_w, y by new_h / old_h; a flip negates x.
    motion_factors = ((-1.0 if flip else 1.0) * size / box.width, size / box.height)
    sample = {
        "iframes": functional.normalize_iframes(iframes, cfg.iframe_mean, cfg.iframe_std),
        "motion": functional.normalize_motion(motion, cfg.motion_scale, motion_factors),
        "residual": functional.normalize_residual(residual, cfg.residual_scale),
    }
    return with_pmsp_labels(sample) if cfg.pmsp_labels else sample


def with_pmsp_labels(sample: dict[str, Any]) -> dict[str, Any]:
    """Add ``sample["pmsp"]``: the 27 PMSP labels (LongTensor) of the sample's model-layout motion.

    The number of GOPs is read from ``sample["iframes"]`` (3 x T x S x S).
    """
    num_gops = sample["iframes"].shape[1]
    return {**sample, "pmsp": pmsp_label_tensor(sample["motion"], num_gops, layout="model")}


class ClipTransform:
    """Base of the callable transforms: ``transform(clip, generator=None) -> dict`` (a list
    of dicts for a multi-view transform).

    A transform is its geometry, :meth:`crops`: the crop boxes and flips it draws for a
    frame size. The reference path applies them to a full-frame clip (``__call__``); the
    dataset's compact path reads straight onto them (``read_clip(..., views=...)``). Both
    draw from the generator identically, so for a seed they make the same views.
    """

    multi_view = False

    def __init__(self, cfg: TransformConfig | None = None):
        self.cfg = cfg or TransformConfig()

    def crops(
        self, height: int, width: int, generator: torch.Generator | None = None
    ) -> list[tuple[CropBox, bool]]:
        """The (box, flip) of each view for a ``height x width`` frame."""
        raise NotImplementedError

    def __call__(self, clip, generator: torch.Generator | None = None):
        height, width = _check_clip(clip)
        samples = [
            transform_clip(clip, box, flip, self.cfg)
            for box, flip in self.crops(height, width, generator)
        ]
        return samples if self.multi_view else samples[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.cfg})"


class TrainTransform(ClipTransform):
    """Multi-scale random crop + random horizontal flip, identical for I, M and R."""

    def crops(self, height, width, generator=None) -> list[tuple[CropBox, bool]]:
        box = functional.random_crop_box(height, width, self.cfg.scales, generator)
        flip = bool(torch.rand((), generator=generator) < self.cfg.flip_prob)
        return [(box, flip)]


class EvalTransform(ClipTransform):
    """The centre ``crop_size / short_side`` crop, resized to ``crop_size``; no randomness."""

    def crops(self, height, width, generator=None) -> list[tuple[CropBox, bool]]:
        fraction = self.cfg.crop_size / self.cfg.short_side
        return [(functional.center_crop_box(height, width, fraction), False)]


class TestTransform(ClipTransform):
    """Test-time views (Sec. 4): ``num_test_crops`` (3) equidistant crops along the longer
    side; a list of samples (average the model's softmax scores over them)."""

    __test__ = False  # not a pytest class
    multi_view = True

    def crops(self, height, width, generator=None) -> list[tuple[CropBox, bool]]:
        fraction = self.cfg.crop_size / self.cfg.short_side
        boxes = functional.three_crop_boxes(height, width, fraction)
        if self.cfg.num_test_crops == 1:
            boxes = boxes[1:2]
        return [(box, False) for box in boxes]


def train_transform(cfg: TransformConfig | None = None) -> TrainTransform:
    """The training augmentation of Sec. 4 (see :class:`TrainTransform`)."""
    return TrainTransform(cfg)


def eval_transform(cfg: TransformConfig | None = None) -> EvalTransform:
    """The single-view evaluation transform (see :class:`EvalTransform`)."""
    return EvalTransform(cfg)


def test_views(clip, cfg: TransformConfig | None = None) -> list[dict[str, torch.Tensor]]:
    """Test-time views (Sec. 4): ``cfg.num_test_crops`` (3) equidistant crops along the longer side.

    Returns a list of sample dicts as :func:`transform_clip` makes them; average the model's
    softmax scores over them (see :class:`TestTransform`).
    """
    return TestTransform(cfg)(clip)


test_views.__test__ = False  # not a pytest test when a test module imports it
