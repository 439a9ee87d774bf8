"""Per-frame motion from vectors whose reference is not the previous frame (issue 10).

An exported vector says only whether its reference lies in the past (``source = -1``) or the
future (``source = +1``), not which frame it is. IMRNet's motion stream wants the
displacement of content from the *previous displayed frame* to the current one, so each
vector is divided by its reference distance ``d`` (frames between reference and current
frame, > 0) and a future vector is negated:

- past reference ``d`` frames back, displacement ``v`` (reference -> current): ``v / d``;
- future reference ``d`` frames ahead: the content moves ``v`` from that frame back to the
  current one, so ``-v / d`` per frame forward.

Both assume constant velocity over the ``d`` frames. ``d`` comes from:

- the stream structure, for codecs with one reference per direction (MPEG-1/2/4, H.263 and
  its variants): the previous anchor (I or P) in display order for past vectors, the next
  anchor for a B-frame's future vectors;
- matching, for H.264 (several references, B-frames used as references): every candidate
  frame within :data:`MAX_REFERENCE_DISTANCE` is displaced by the block's vector (rounded
  to whole pixels) and compared with the block on luma (mean absolute difference, every
  second pixel and row); the best-matching candidate is the block's reference. On flat or
  static content candidates tie and the nearest one is taken; there the vector is near zero,
  so the choice hardly matters.

A cell covered by both a past and a future vector (bi-prediction) takes the estimate whose
reference matched better (H.264) or, without matching, the nearer reference (past on a tie).
Cells covered by no vector (intra blocks) get zero motion, as in CoViAR.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from imrkit.codec.motion import (
    BlockMotion,
    PaddedIndex,
    block_cells,
    block_motion,
    motion_cell,
    vector_displacement,
)

# Farthest reference tried when matching (frames). x264's default (3 references, 3
# B-frames, B-pyramid) references up to 8 frames back; slower presets use more.
MAX_REFERENCE_DISTANCE = 8
PAD = 16  # luma padding for matching: a window pushed further out reads padding only


@dataclass
class Candidate:
    """A frame a group of vectors may refer to.

    Attributes:
        distance: frames between it and the current frame (> 0), in display order.
        luma: its luma padded by :data:`PAD` on every side (edge-replicated), uint8, or
            None when the reference is known and needs no matching.
    """

    distance: int
    luma: np.ndarray | None = field(default=None, repr=False)


@functools.lru_cache(maxsize=4)
def _indexer(height: int, width: int) -> PaddedIndex:
    """One source-index builder per frame size (its buffers are reused call after call)."""
    return PaddedIndex(height, width, PAD)


def padded_luma(luma: np.ndarray) -> np.ndarray:
    """Luma padded by :data:`PAD` pixels of edge replication (what a candidate holds)."""
    return cv2.copyMakeBorder(luma, PAD, PAD, PAD, PAD, cv2.BORDER_REPLICATE)


def frame_motion(
    vectors: np.ndarray | None,
    height: int,
    width: int,
    past: Sequence[Candidate] = (Candidate(1),),
    future: Sequence[Candidate] = (),
    current_luma: np.ndarray | None = None,
) -> BlockMotion:
    """Displacement from the previous displayed frame, per cell, from one frame's vectors.

    Args:
        vectors: the frame's ``MOTION_VECTORS`` records, or None (no motion).
        height, width: frame size.
        past: candidate references of the past vectors, nearest first (empty: the past
            vectors are dropped).
        future: candidate references of the future vectors, nearest first.
        current_luma: the frame's luma (H x W), needed when a direction has several
            candidates.

    Returns:
        A :class:`BlockMotion` in pixels per frame, (x, y), content moving right has x > 0.
    """
    if vectors is None or len(vectors) == 0:
        return BlockMotion.zeros(height, width)
    is_past = vectors["source"] < 0
    if is_past.all() and len(past) == 1 and past[0].distance == 1:
        return block_motion(vectors, height, width)  # the codec's field as it is
    cell = motion_cell(vectors)
    grid_h, grid_w = -(-height // cell), -(-width // cell)
    num_cells = grid_h * grid_w
    estimate = np.zeros((2, num_cells, 2), np.float32)
    cost = np.full((2, num_cells), np.inf, np.float32)
    distance = np.zeros((2, num_cells), np.int64)
    for slot, (selected, candidates, sign) in enumerate(
        ((is_past, past, 1.0), (~is_past, future, -1.0))
    ):
        group = vectors[selected]
        if len(group) == 0 or len(candidates) == 0:
            continue
        cells, block_of_cell = block_cells(group, cell, grid_h, grid_w)
        displacement = vector_displacement(group)
        if len(candidates) == 1 or current_luma is None:
            block_distance = np.full(len(group), candidates[0].distance)
            block_cost = np.zeros(len(group), np.float32)
        else:
            costs = _match_costs(
                current_luma, candidates, displacement, cells, block_of_cell, len(group), cell
            )
            best = np.argmin(costs, axis=0)  # ties: the nearest candidate (listed first)
            block_distance = np.array([c.distance for c in candidates])[best]
            block_cost = costs[best, np.arange(len(group))]
        per_frame = sign * displacement / block_distance[:, None].astype(np.float32)
        estimate[slot, cells] = per_frame[block_of_cell]
        cost[slot, cells] = block_cost[block_of_cell]
        distance[slot, cells] = block_distance[block_of_cell]
    # Future wins where only it covers the cell, or where it matched better / is nearer.
    use_future = (cost[1] < cost[0]) | (
        (cost[1] == cost[0]) & np.isfinite(cost[1]) & (distance[1] < distance[0])
    )
    grid = np.where(use_future[:, None], estimate[1], estimate[0])
    return BlockMotion(grid.reshape(grid_h, grid_w, 2), height, width, cell)


def _match_costs(
    current_luma: np.ndarray,
    candidates: Sequence[Candidate],
    displacement: np.ndarray,
    cells: np.ndarray,
    block_of_cell: np.ndarray,
    num_blocks: int,
    cell: int,
) -> np.ndarray:
    """Mean absolute luma difference of each block against each candidate, float32 (K x N).

    One source index serves every candidate (the vector is the same, only the frame
    changes), on every second pixel and row: K gathers of the padded candidate lumas and K
    ``cv2.absdiff`` into one reused K x h x w buffer, whose cell sums for all candidates at
    once come from pairwise adds of neighbouring rows and columns (:func:`_cell_sums`), and
    one ``np.bincount`` the block sums. Issue 24 replaced an integral image, corner reads
    and a ``bincount`` per candidate, and fresh index arrays per call, by this: the same
    integer sums, so the same float costs (0.85 -> about 0.5 ms a call at 340x256 with
    about 6 candidates, cProfile).
    """
    height, width = current_luma.shape
    grid_h, grid_w = -(-height // cell), -(-width // cell)
    step = 2 if cell % 2 == 0 else 1  # half the pixels in each direction: cells stay whole
    work = _workspace(height, width, cell, step)
    grid = np.zeros((grid_h * grid_w, 2), np.float32)
    grid[cells] = displacement[block_of_cell]
    motion = BlockMotion(grid.reshape(grid_h, grid_w, 2), height, width, cell)
    indexer = _indexer(height, width)
    offsets = indexer.cell_offsets(motion)  # Hc x Wc x 2, windows kept inside the padding
    current = work.current
    np.copyto(current, current_luma[::step, ::step])  # contiguous, as OpenCV wants it
    rows, cols = current.shape
    # Source of every sample: its own place in the padded frame plus its cell's offset,
    # expanded along x by one take, along y by broadcasting over each cell's sample rows.
    flat = offsets[..., 1] * indexer.padded_shape[1] + offsets[..., 0]  # Hc x Wc
    strips = np.take(flat, work.sample_cells, axis=1)  # Hc x w
    full, side, index = rows // work.side, work.side, work.index
    np.add(
        work.own[: full * side].reshape(full, side, cols),
        strips[:full, None, :],
        out=index[: full * side].reshape(full, side, cols),
    )
    if rows % side:
        np.add(work.own[full * side :], strips[full], out=index[full * side :])
    count = len(candidates)
    differences = work.differences(count)  # K x Hc*side x Wc*side, zero past the frame
    shifted = work.shifted
    for candidate, difference in zip(candidates, differences, strict=True):
        np.take(candidate.luma.reshape(-1), index, out=shifted)
        cv2.absdiff(current, shifted, dst=difference[:rows, :cols])
    per_cell = _cell_sums(differences, side)  # K x Hc x Wc
    bins = (np.arange(count)[:, None] * num_blocks + block_of_cell).reshape(-1)
    weights = per_cell.reshape(count, -1)[:, cells].reshape(-1)
    sums = np.bincount(bins, weights=weights, minlength=count * num_blocks)
    pixels_per_block = np.bincount(block_of_cell, minlength=num_blocks) * side**2
    return (sums.reshape(count, num_blocks) / np.maximum(pixels_per_block, 1)).astype(np.float32)


class _MatchWorkspace:
    """Index arrays and buffers of :func:`_match_costs` for one frame size and cell,
    reused frame after frame (a fresh 170 KB array per frame is a fresh ``mmap`` and its
    page faults); one per thread, as they are written in place."""

    def __init__(self, height: int, width: int, cell: int, step: int):
        indexer = _indexer(height, width)
        self.own = np.ascontiguousarray(indexer.own_index[::step, ::step])  # h x w
        rows, cols = self.own.shape
        self.side = cell // step
        grid_h, grid_w = -(-height // cell), -(-width // cell)
        self.sample_cells = np.arange(cols, dtype=np.intp) // self.side
        self.cell_shape = (grid_h * self.side, grid_w * self.side)  # whole cells of samples
        self.index = np.empty((rows, cols), np.intp)
        self.shifted = np.empty((rows, cols), np.uint8)
        self.current = np.empty((rows, cols), np.uint8)
        self._differences = np.empty((0, rows, cols), np.uint8)

    def differences(self, count: int) -> np.ndarray:
        """K x (Hc * side) x (Wc * side): room for K candidates' differences over whole
        cells; the samples past the frame (a last, partial cell) stay zero."""
        if len(self._differences) < count:
            self._differences = np.zeros((count, *self.cell_shape), np.uint8)
        return self._differences[:count]


def _cell_sums(samples: np.ndarray, side: int) -> np.ndarray:
    """Sums over ``side x side`` squares of the last two axes, int (... x h/side x w/side).

    ``side`` is a power of two (H.264's cells are 4, 8 or 16 px, sampled every second
    pixel): log2(side) pairwise adds per axis on shrinking arrays, in uint16 (at most 64
    samples of 255), cheaper than an integral image for the cells it serves; another side
    (no codec here has one) sums a reshaped view."""
    if side & (side - 1):
        *lead, height, width = samples.shape
        blocks = samples.reshape(*lead, height // side, side, width // side, side)
        return blocks.sum(axis=(-3, -1), dtype=np.int64)
    sums = samples
    # Rows first: adding whole rows reads contiguous memory; the columns are paired on the
    # smaller array that leaves (2x faster than the other order, measured).
    while sums.shape[-2] > samples.shape[-2] // side:
        sums = np.add(sums[..., 0::2, :], sums[..., 1::2, :], dtype=np.uint16)
    while sums.shape[-1] > samples.shape[-1] // side:
        sums = np.add(sums[..., 0::2], sums[..., 1::2], dtype=np.uint16)
    return sums


_THREAD = threading.local()  # each thread's workspaces: readers may run in a thread pool


def _workspace(height: int, width: int, cell: int, step: int) -> _MatchWorkspace:
    """This thread's workspace for a frame size and cell (at most 8 kept per thread)."""
    workspaces = getattr(_THREAD, "workspaces", None)
    if workspaces is None:
        workspaces = _THREAD.workspaces = {}
    key = (height, width, cell, step)
    if key not in workspaces:
        if len(workspaces) >= 8:
            workspaces.clear()
        workspaces[key] = _MatchWorkspace(height, width, cell, step)
    return workspaces[key]
