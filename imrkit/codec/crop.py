"""Reading straight onto a crop's output grid: the streams the model takes, built where the
data is smallest (issue 11, "crop in the compressed domain").

The reference path reads whole frames (:func:`imrkit.read_clip`), then crops, resizes and
flips all three streams (:mod:`imrkit.transforms`). Given :class:`OutputView` s,
``read_clip(..., views=...)`` produces the same arrays directly on each view's
``size x size`` grid, channel-last, in the streams' own dtypes:

- motion: the codec's block vectors, one value per motion cell, are resampled onto the
  output grid by two small matrices (:func:`resampling_matrix`): the linear resize of the
  nearest-expanded field, computed from the cells without ever building the full-size field;
  the vectors are rescaled (x by ``size / width``, y by ``size / height``), and x is negated
  on a flip;
- residual: the prediction and the difference are computed only inside the boxes, then
  resized like the reference does (int16, OpenCV linear);
- I-frames: cropped and resized (uint8) from the decoded frame;
- accumulated motion (CoViAR) has no block form: it is traced at full size, then cropped.

It equals the reference to float rounding (the same OpenCV calls on the same pixels, and
the motion matrices reproduce OpenCV's linear weights; tests/codec/test_crop.py).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from imrkit.codec.motion import BlockMotion


@dataclass(frozen=True)
class OutputView:
    """One crop of the frame, resized to ``size x size`` and maybe mirrored.

    Attributes:
        top, left, height, width: the crop box in frame pixels.
        size: side of the output grid.
        flip: mirror left-right (motion x negated).
    """

    top: int
    left: int
    height: int
    width: int
    size: int
    flip: bool = False

    @classmethod
    def of(cls, box: Sequence[int], size: int, flip: bool = False) -> OutputView:
        """From a ``(top, left, height, width)`` box (a :class:`imrkit.transforms.CropBox`)."""
        top, left, height, width = (int(v) for v in box)
        return cls(top, left, height, width, int(size), bool(flip))

    @property
    def rows(self) -> slice:
        return slice(self.top, self.top + self.height)

    @property
    def cols(self) -> slice:
        return slice(self.left, self.left + self.width)

    def motion_factors(self) -> np.ndarray:
        """What the resize (and a flip) do to an (x, y) vector: float32 (2,)."""
        sign = -1.0 if self.flip else 1.0
        return np.array([sign * self.size / self.width, self.size / self.height], np.float32)


def check_views(views: Sequence[OutputView], height: int, width: int, path: str) -> None:
    """Every box must lie inside the frame and every output grid be non-empty."""
    for view in views:
        inside = (
            view.top >= 0
            and view.left >= 0
            and view.height >= 1
            and view.width >= 1
            and view.top + view.height <= height
            and view.left + view.width <= width
        )
        if not inside or view.size < 1:
            raise ValueError(f"{path}: view {view} does not fit a {width}x{height} frame")


def union_region(views: Sequence[OutputView]) -> tuple[slice, slice]:
    """The rows and columns covering every view's box (where residuals are computed)."""
    top = min(v.top for v in views)
    left = min(v.left for v in views)
    bottom = max(v.top + v.height for v in views)
    right = max(v.left + v.width for v in views)
    return slice(top, bottom), slice(left, right)


@functools.lru_cache(maxsize=256)
def resampling_matrix(start: int, length: int, size: int, cell: int, flip: bool) -> np.ndarray:
    """float32 (size x cells): OpenCV's linear resize of pixels ``[start, start + length)``
    to ``size`` samples, composed with the nearest expansion of ``cell``-pixel cells.

    Output sample u reads source ``x = (u + 0.5) length / size - 0.5`` with weights
    ``1 - frac(x)`` and ``frac(x)`` on its two neighbours, clamped inside the crop as OpenCV
    clamps at the image border (an exact 2x reduction, which OpenCV runs as an area average,
    gives the same 1/2, 1/2 weights). Each source pixel's value is its cell's, so the weights
    add up per cell. Columns are cells ``0 .. (start + length - 1) // cell``; rows are
    reversed for a flip.
    """
    position = (np.arange(size, dtype=np.float64) + 0.5) * (length / size) - 0.5
    first = np.floor(position).astype(np.intp)
    fraction = position - first
    fraction[first < 0] = 0.0
    first = np.clip(first, 0, length - 1)
    fraction[first >= length - 1] = 0.0
    second = np.minimum(first + 1, length - 1)
    num_cells = (start + length - 1) // cell + 1
    matrix = np.zeros((size, num_cells), np.float64)
    rows = np.arange(size)
    np.add.at(matrix, (rows, (start + first) // cell), 1.0 - fraction)
    np.add.at(matrix, (rows, (start + second) // cell), fraction)
    if flip:
        matrix = matrix[::-1]
    result = np.ascontiguousarray(matrix, np.float32)
    result.setflags(write=False)
    return result


@functools.lru_cache(maxsize=256)
def _matrix_tensor(start: int, length: int, size: int, cell: int, flip: bool, transpose: bool):
    import torch

    matrix = resampling_matrix(start, length, size, cell, flip)
    return torch.from_numpy(np.array(matrix.T if transpose else matrix, order="C"))


def resample_motion(
    motions: Sequence[BlockMotion], view: OutputView, out: np.ndarray
) -> np.ndarray:
    """Each field of ``motions`` on the view's grid, rescaled: float32 (N x size x size x 2)
    written to ``out`` (C-contiguous).

    Two matrix products on the cell grids (a few hundred values per frame) instead of a
    resize of full-size fields, batched over the frames that share a cell grid, and shaped
    so the second product writes the channel-last result in place. torch runs them (one
    thread in DataLoader workers): numpy's BLAS would start a thread pool per worker, and
    OpenCV's gemm is 2x slower at these sizes.
    """
    import torch

    size = view.size
    target = torch.from_numpy(out).view(len(motions), size, 2 * size)
    factors = torch.from_numpy(view.motion_factors())[:, None]  # (x, y) x 1
    groups: dict[tuple, list[int]] = {}
    for index, motion in enumerate(motions):
        groups.setdefault((motion.cell, motion.displacement.shape), []).append(index)
    for (cell, _), members in groups.items():
        rows = _matrix_tensor(view.top, view.height, size, cell, False, False)  # S x Hc
        cols = _matrix_tensor(view.left, view.width, size, cell, view.flip, True)  # Wc x S
        grids = np.stack(
            [motions[i].displacement[: rows.shape[1], : cols.shape[0]] for i in members]
        )  # N x Hc x Wc x 2
        across = torch.from_numpy(grids).transpose(-1, -2) @ cols  # N x Hc x 2 x S
        across = (across * factors).transpose(-1, -2).reshape(len(members), rows.shape[1], -1)
        if len(members) == len(motions):  # one grid for the clip: write in place
            torch.matmul(rows, across, out=target)
        else:
            target[members] = rows @ across
    return out


def crop_resize_into(
    frame: np.ndarray, view: OutputView, out: np.ndarray, factors: np.ndarray | None = None
) -> np.ndarray:
    """Crop ``frame`` (H x W x C, any dtype OpenCV resizes) to the view, resize (linear) and
    maybe mirror it into ``out`` (size x size x C, same dtype), as the reference transform
    does; ``factors`` multiplies the channels (a full-size motion field's rescale)."""
    crop = frame[view.rows, view.cols]
    size = view.size
    resized = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)
    if view.flip:
        resized = cv2.flip(resized, 1)
    resized = resized.reshape(size, size, frame.shape[-1])  # cv2 drops a trailing 1
    if factors is not None:
        np.multiply(resized, factors, out=out)
    else:
        out[...] = resized
    return out


def crop_clip(clip, views: Sequence[OutputView]) -> list:
    """A full-frame clip (a cached whole video) on each view's grid, as ``read_clip(...,
    views=...)`` would have read it: one CompressedClip per view."""
    height, width = clip.iframes.shape[1:3]
    check_views(views, height, width, clip.path)
    out = []
    for view in views:
        size = view.size
        iframes = np.empty((len(clip.iframes), size, size, 3), np.uint8)
        motion = np.empty((len(clip.motion), size, size, 2), np.float32)
        residual = np.empty((len(clip.residual), size, size, 3), np.int16)
        factors = view.motion_factors()
        for frame, slot in zip(clip.iframes, iframes, strict=True):
            crop_resize_into(frame, view, slot)
        for frame, slot in zip(clip.motion, motion, strict=True):
            crop_resize_into(frame, view, slot, factors)
        for frame, slot in zip(clip.residual, residual, strict=True):
            crop_resize_into(frame, view, slot)
        out.append(dataclasses.replace(clip, iframes=iframes, motion=motion, residual=residual))
    return out
