"""PMSP ground-truth labels: Algorithm 1 (Appendix A) from the motion the network receives.

A clip's motion vectors say where it moves most. For every level r = (s, t) of a 9-level
pyramid (s x s spatial cells, s in {2, 3, 4}; t temporal windows, t in {1, 3, 5}) the label
of window n is the cell with the most motion-gradient energy, 27 labels per clip:

1. ``dx = Prewitt_x(motion_x)``, ``dy = Prewitt_y(motion_y)`` per P-frame.
2. Window ``n = 0..t-1`` of temporal scale t spans GOPs ``[n, n + T - t]``; ``dx`` and ``dy``
   are summed over the window's P-frames.
3. ``magnitude = sqrt(sum_dx**2 + sum_dy**2)`` (OpenCV's cartToPolar).
4. The magnitude is summed over an s x s grid; the label is the argmax cell, row-major.

Exact rewrites chosen for speed (the labels must cost little next to reading the clip):

- Prewitt is linear, so the window sum of ``Prewitt(motion)`` equals ``Prewitt`` of the window
  sum of motion: motion is summed per GOP first (T fields instead of 5T), filtered, and each
  window adds up its GOPs' gradients. Everything is float32.
- The image border is reflected without repeating the edge pixel (OpenCV's default
  ``BORDER_REFLECT_101``), so uniform motion (a camera pan) has zero gradient everywhere, its
  border included. Correlation vs convolution only flips both signs, which the magnitude
  ignores.
- Grid cells: cell i spans rows ``[round(i H / s), round((i + 1) H / s))`` (round half to
  even), likewise columns. When H or W is not a multiple of s, cells differ by at most one
  row or column; the grid is mirror-symmetric for even H and W (a horizontal flip mirrors
  the labels). Motion must be at least s x s pixels.
- Ties (e.g. a clip without motion, where every cell is 0) go to the first cell, as
  ``argmax`` does.

Two backends compute the same thing: numpy + OpenCV (``sepFilter2D``, ``magnitude``,
``np.add.reduceat``; used for numpy arrays and CPU tensors, ~3x faster than torch on a CPU)
and torch (slices and matrix products; used for tensors on an accelerator, no host copy).

Layouts: the reader's ``5T x H x W x 2`` (``layout="reader"``, CompressedClip.motion) or the
model's ``2 x 5T x H x W`` (``layout="model"``, what the transforms output), each optionally
with a leading batch axis B. numpy in, numpy out; torch in, torch out on the same device.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np
import torch

from imrkit.errors import ConfigError, ShapeError

SPATIAL_SCALES = (2, 3, 4)
TEMPORAL_SCALES = (1, 3, 5)
# The fixed level order of pmsp_label_tensor: temporal scale outer (as Algorithm 1 loops),
# spatial scale inner; each level contributes its t window labels, window n in order.
PMSP_LEVELS: tuple[tuple[int, int], ...] = tuple(
    (s, t) for t in TEMPORAL_SCALES for s in SPATIAL_SCALES
)
NUM_PMSP_LABELS = sum(t for _, t in PMSP_LEVELS)  # 27

Layout = Literal["reader", "model"]
Backend = Literal["auto", "numpy", "torch"]
_DIFFERENCE = np.array([-1.0, 0.0, 1.0], np.float32)
_SMOOTHING = np.ones(3, np.float32)


def pmsp_levels(
    spatial_scales: Sequence[int] = SPATIAL_SCALES,
    temporal_scales: Sequence[int] = TEMPORAL_SCALES,
) -> tuple[tuple[int, int], ...]:
    """Levels r = (s, t) in the label-tensor order: t outer, s inner."""
    return tuple((s, t) for t in temporal_scales for s in spatial_scales)


def level_slices(levels: Sequence[tuple[int, int]] = PMSP_LEVELS) -> dict[tuple[int, int], slice]:
    """Where each level's t labels sit in a label tensor: {(s, t): slice}."""
    slices, start = {}, 0
    for s, t in levels:
        slices[(s, t)] = slice(start, start + t)
        start += t
    return slices


def cell_edges(size: int, cells: int) -> np.ndarray:
    """``cells + 1`` integer boundaries ``round(i size / cells)`` (round half to even)."""
    return np.round(np.linspace(0, size, cells + 1)).astype(np.int64)


# ------------------------------------------------------------------------- input checks


def _batched(motion, layout: Layout, num_gops: int, spatial_scales, temporal_scales):
    """Validate; return (motion with a batch axis, was it a single clip)."""
    if layout not in ("reader", "model"):
        raise ConfigError(f"layout: {layout!r} is not one of ['reader', 'model']")
    expected = "(5T, H, W, 2)" if layout == "reader" else "(2, 5T, H, W)"
    shape = tuple(motion.shape)
    if len(shape) not in (4, 5):
        raise ShapeError(f"motion: expected {expected} or with a leading batch axis B, got {shape}")
    single = len(shape) == 4
    motion = motion[None] if single else motion
    if layout == "reader":
        _, frames, height, width, components = motion.shape
    else:
        _, components, frames, height, width = motion.shape
    if components != 2:
        raise ShapeError(f"motion: {layout} layout needs {expected}, got {shape}")
    if num_gops < 1 or frames % num_gops:
        raise ShapeError(f"motion: {frames} P-frames do not split into num_gops={num_gops} GOPs")
    for t in temporal_scales:
        if not 1 <= t <= num_gops:
            raise ConfigError(f"temporal_scales: t={t} needs 1 <= t <= num_gops={num_gops}")
    if min(height, width) < max(max(spatial_scales), 2):
        raise ShapeError(
            f"motion: {height} x {width} pixels is smaller than the {max(spatial_scales)}-cell grid"
        )
    return motion, single


# ------------------------------------------------------------------- numpy + OpenCV backend


def _gop_sums_numpy(motion: np.ndarray, num_gops: int, layout: Layout) -> np.ndarray:
    """B-batched motion -> ``2 x B x T x H x W`` float32 per-GOP sums (x, then y).

    Summed in the input's own layout (contiguous reads: this pass over all 5T frames is the
    largest cost); float32 sums of the codec's half/quarter-pel vectors are exact.
    """
    if layout == "model":
        batch, _, frames, height, width = motion.shape
        per_gop = motion.reshape(batch, 2, num_gops, frames // num_gops, height, width)
        return per_gop.sum(3, dtype=np.float32).transpose(1, 0, 2, 3, 4)  # [c, b, g] contiguous
    batch, frames, height, width, _ = motion.shape
    per_gop = motion.reshape(batch, num_gops, frames // num_gops, height, width, 2)
    return np.ascontiguousarray(np.moveaxis(per_gop.sum(2, dtype=np.float32), -1, 0))


@functools.lru_cache(maxsize=64)
def _grid_plan(height: int, width: int, spatial_scales: tuple[int, ...]):
    """Reduceat indices: the union of every scale's cell starts per axis, and where each
    scale's cells start within that union (cached: the same crop size comes back)."""
    rows = {s: cell_edges(height, s)[:-1] for s in spatial_scales}
    cols = {s: cell_edges(width, s)[:-1] for s in spatial_scales}
    row_union = np.unique(np.concatenate(list(rows.values())))
    col_union = np.unique(np.concatenate(list(cols.values())))
    groups = [
        (np.searchsorted(row_union, rows[s]), np.searchsorted(col_union, cols[s]))
        for s in spatial_scales
    ]
    return row_union, col_union, groups


def _cell_sums_numpy(magnitude: np.ndarray, spatial_scales: Sequence[int]) -> list[np.ndarray]:
    """``B x t x H x W`` -> ``[B x t x s x s]`` per s: one reduceat per axis over the union of
    every scale's cell edges, then the small block sums regrouped per scale."""
    row_union, col_union, groups = _grid_plan(*magnitude.shape[-2:], tuple(spatial_scales))
    blocks = np.add.reduceat(np.add.reduceat(magnitude, row_union, axis=2), col_union, axis=3)
    return [
        np.add.reduceat(np.add.reduceat(blocks, rows, axis=2), cols, axis=3)
        for rows, cols in groups
    ]


def _magnitudes_numpy(motion, num_gops, layout, spatial_scales, temporal_scales) -> dict:
    per_gop = _gop_sums_numpy(np.asarray(motion), num_gops, layout)  # 2 x B x T x H x W
    _, batch, _, height, width = per_gop.shape
    gradient = np.empty(per_gop.shape, np.float32)
    border = cv2.BORDER_REFLECT_101
    for clip in range(batch):  # one OpenCV call per GOP field: H x W each
        for gop in range(num_gops):
            # sepFilter2D(src, depth, kernel along rows (x), kernel down columns (y))
            x_field, y_field = per_gop[0, clip, gop], per_gop[1, clip, gop]
            x_out, y_out = gradient[0, clip, gop], gradient[1, clip, gop]
            cv2.sepFilter2D(x_field, -1, _DIFFERENCE, _SMOOTHING, dst=x_out, borderType=border)
            cv2.sepFilter2D(y_field, -1, _SMOOTHING, _DIFFERENCE, dst=y_out, borderType=border)
    cells = {}
    for t in temporal_scales:
        window_x, window_y = (_window_sums(component, t) for component in gradient)
        magnitude = cv2.magnitude(window_x.reshape(-1, width), window_y.reshape(-1, width))
        magnitude = magnitude.reshape(batch, t, height, width)
        levels = _cell_sums_numpy(magnitude, spatial_scales)
        for s, level in zip(spatial_scales, levels, strict=True):
            cells[(s, t)] = level
    return cells


def _window_sums(per_gop, t: int):
    """``B x T x H x W`` -> ``B x t x H x W``: window n sums GOPs [n, n + T - t] (numpy/torch)."""
    span = per_gop.shape[1] - t + 1
    if span == 1:
        return per_gop
    if t == 1:  # one reduction reads each GOP once (numpy and torch both take keepdims)
        return per_gop.sum(1, keepdims=True)
    total = per_gop[:, :t] + per_gop[:, 1 : 1 + t]
    for offset in range(2, span):
        total += per_gop[:, offset : offset + t]
    return total


# ---------------------------------------------------------------------------- torch backend


def _prewitt_torch(field: torch.Tensor, axis: Literal["x", "y"]) -> torch.Tensor:
    """Prewitt derivative of ``... x H x W`` fields along x (columns) or y (rows), reflect-101.

    Slices instead of a padded convolution: reflect-101 makes the central difference zero on
    the border lines it crosses, and the 3-tap smoothing on a border line is d[0] + 2 d[1].
    """
    if axis == "y":
        return _prewitt_torch(field.transpose(-1, -2), "x").transpose(-1, -2)
    diff = torch.zeros_like(field)
    diff[..., 1:-1] = field[..., 2:] - field[..., :-2]  # columns 0 and W-1 stay 0
    smooth = diff.clone()
    smooth[..., 1:, :] += diff[..., :-1, :]
    smooth[..., :-1, :] += diff[..., 1:, :]
    smooth[..., 0, :] += diff[..., 1, :]  # row -1 reflects to row 1
    smooth[..., -1, :] += diff[..., -2, :]
    return smooth


def _membership_torch(size: int, cells: int, like: torch.Tensor) -> torch.Tensor:
    """``cells x size`` 0/1 matrix: row i marks the pixels of cell i."""
    edges = torch.from_numpy(cell_edges(size, cells)).to(like.device)
    pixels = torch.arange(size, device=like.device)
    return ((pixels >= edges[:-1, None]) & (pixels < edges[1:, None])).to(like.dtype)


def _magnitudes_torch(motion, num_gops, layout, spatial_scales, temporal_scales) -> dict:
    if layout == "model":
        batch, _, frames, height, width = motion.shape
        per_gop = motion.reshape(batch, 2, num_gops, frames // num_gops, height, width)
        per_gop = per_gop.sum(3, dtype=torch.float32).transpose(0, 1)  # 2 x B x T x H x W
    else:
        batch, frames, height, width, _ = motion.shape
        per_gop = motion.reshape(batch, num_gops, frames // num_gops, height, width, 2)
        per_gop = per_gop.sum(2, dtype=torch.float32).movedim(-1, 0).contiguous()
    gradient_x = _prewitt_torch(per_gop[0], "x")  # B x T x H x W
    gradient_y = _prewitt_torch(per_gop[1], "y")
    # Column sums for every scale at once (W -> sum of s), then rows of the small result.
    cols = torch.cat([_membership_torch(width, s, gradient_x) for s in spatial_scales])
    rows = torch.cat([_membership_torch(height, s, gradient_x) for s in spatial_scales])
    starts = np.cumsum([0, *spatial_scales])
    cells = {}
    for t in temporal_scales:
        magnitude = torch.sqrt(_window_sums(gradient_x, t) ** 2 + _window_sums(gradient_y, t) ** 2)
        blocks = rows @ (magnitude @ cols.T)  # B x t x sum(s) x sum(s)
        for s, a, b in zip(spatial_scales, starts[:-1], starts[1:], strict=True):
            cells[(s, t)] = blocks[..., a:b, a:b]
    return cells


# ------------------------------------------------------------------------------ public API


def _native_cells(motion, num_gops, layout, spatial_scales, temporal_scales, backend):
    """Cell energies in the backend's own array type (numpy or torch), batched.

    Returns:
        (cells {(s, t): B x t x s x s}, single: was ``motion`` one clip,
        convert: a function turning a backend array into ``motion``'s type and device).
    """
    is_tensor = torch.is_tensor(motion)
    batched, single = _batched(motion, layout, num_gops, spatial_scales, temporal_scales)
    if backend not in ("auto", "numpy", "torch"):
        raise ConfigError(f"backend: {backend!r} is not one of ['auto', 'numpy', 'torch']")
    if backend == "auto":
        backend = "torch" if is_tensor and batched.device.type != "cpu" else "numpy"
    options = (num_gops, layout, spatial_scales, temporal_scales)
    if backend == "numpy":
        array = batched.detach().cpu().numpy() if is_tensor else batched
        cells = _magnitudes_numpy(array, *options)
    else:
        tensor = batched.detach() if is_tensor else torch.from_numpy(np.ascontiguousarray(batched))
        cells = _magnitudes_torch(tensor, *options)

    def convert(value):
        if is_tensor:
            return torch.as_tensor(value).to(motion.device)
        return value.cpu().numpy() if torch.is_tensor(value) else value

    return cells, single, convert


def pmsp_magnitudes(
    motion,
    num_gops: int = 5,
    *,
    layout: Layout = "reader",
    spatial_scales: Sequence[int] = SPATIAL_SCALES,
    temporal_scales: Sequence[int] = TEMPORAL_SCALES,
    backend: Backend = "auto",
) -> dict[tuple[int, int], np.ndarray | torch.Tensor]:
    """Motion energy per grid cell at every pyramid level (Algorithm 1 before the argmax).

    Args:
        motion: numpy array or tensor, ``5T x H x W x 2`` (``layout="reader"``) or
            ``2 x 5T x H x W`` (``layout="model"``), optionally with a leading batch axis B.
        num_gops: T, the number of GOPs the P-frames split into.
        layout: which of the two layouts ``motion`` is in.
        spatial_scales, temporal_scales: the pyramid (default 2, 3, 4 and 1, 3, 5).
        backend: ``"auto"`` (numpy + OpenCV on the CPU, torch on an accelerator), or force one.

    Returns:
        {(s, t): float32 ``t x s x s`` (or ``B x t x s x s``)}: summed gradient magnitude per
        cell of window n = 0..t-1; same array type (and device) as ``motion``.
    """
    cells, single, convert = _native_cells(
        motion, num_gops, layout, spatial_scales, temporal_scales, backend
    )
    return {level: convert(value[0] if single else value) for level, value in cells.items()}


def _argmax_cells(cells: dict) -> dict:
    return {
        level: value.reshape(*value.shape[:-2], -1).argmax(-1) for level, value in cells.items()
    }


def pmsp_labels(
    motion,
    num_gops: int = 5,
    *,
    layout: Layout = "reader",
    spatial_scales: Sequence[int] = SPATIAL_SCALES,
    temporal_scales: Sequence[int] = TEMPORAL_SCALES,
    backend: Backend = "auto",
) -> dict[tuple[int, int], np.ndarray | torch.Tensor]:
    """PMSP labels (Algorithm 1): the most vibrant cell of each window at each level.

    Args: as :func:`pmsp_magnitudes`.

    Returns:
        {(s, t): int64 ``(t,)`` (or ``B x t``)}: the row-major index in ``[0, s*s)`` of the
        cell with the largest summed motion-gradient magnitude in window n = 0..t-1.
    """
    cells, single, convert = _native_cells(
        motion, num_gops, layout, spatial_scales, temporal_scales, backend
    )
    labels = _argmax_cells(cells)
    return {level: convert(value[0] if single else value) for level, value in labels.items()}


def pmsp_label_tensor(
    motion, num_gops: int = 5, *, layout: Layout = "model", backend: Backend = "auto"
) -> torch.Tensor:
    """The 27 PMSP labels as one LongTensor, for a dataset to store as ``sample["pmsp"]``.

    Args:
        motion: the motion the network receives (tensor or array), by default in the model
            layout ``2 x 5T x H x W`` (or ``B x 2 x 5T x H x W``) that the transforms output;
            labels are invariant to the transforms' positive motion normalisation.
        num_gops: T.
        layout: ``"model"`` (default) or ``"reader"``.
        backend: as :func:`pmsp_magnitudes`.

    Returns:
        int64 ``(27,)`` or ``B x 27`` (on ``motion``'s device): the levels of
        :data:`PMSP_LEVELS` in order, each level's t labels contiguous (see
        :func:`level_slices`).
    """
    motion = torch.as_tensor(motion)
    cells, single, convert = _native_cells(
        motion, num_gops, layout, SPATIAL_SCALES, TEMPORAL_SCALES, backend
    )
    labels = _argmax_cells(cells)
    ordered = [labels[level] for level in PMSP_LEVELS]
    joined = (
        np.concatenate(ordered, -1)
        if isinstance(ordered[0], np.ndarray)
        else torch.cat(ordered, -1)
    )
    return convert(joined[0] if single else joined).long()


def split_label_tensor(
    labels: torch.Tensor, levels: Sequence[tuple[int, int]] = PMSP_LEVELS
) -> dict[tuple[int, int], torch.Tensor]:
    """Inverse of :func:`pmsp_label_tensor`: ``B x 27`` -> {(s, t): ``B x t``}."""
    return {level: labels[..., where] for level, where in level_slices(levels).items()}
