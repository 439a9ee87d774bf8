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


@functools.lru_cache(maxsize=4)
def _sample_index(height: int, width: int, step: int) -> np.ndarray:
    """Flat index of every ``step``-th pixel and row in the padded frame (read-only)."""
    own = np.ascontiguousarray(_indexer(height, width).own_index[::step, ::step])
    own.setflags(write=False)
    return own


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
    changes): a gather of the padded candidate luma per candidate, on every second pixel
    and row.
    """
    height, width = current_luma.shape
    grid_h, grid_w = -(-height // cell), -(-width // cell)
    grid = np.zeros((grid_h * grid_w, 2), np.float32)
    grid[cells] = displacement[block_of_cell]
    motion = BlockMotion(grid.reshape(grid_h, grid_w, 2), height, width, cell)
    indexer = _indexer(height, width)
    offsets = indexer.cell_offsets(motion)  # Hc x Wc x 2, windows kept inside the padding
    step = 2 if cell % 2 == 0 else 1  # half the pixels in each direction: cells stay whole
    current = np.ascontiguousarray(current_luma[::step, ::step])
    rows, cols = current.shape
    side = cell // step
    # Source of every sample: its own place in the padded frame plus its cell's offset.
    flat = offsets[..., 1] * indexer.padded_shape[1] + offsets[..., 0]
    expanded = np.repeat(np.repeat(flat, side, axis=0), side, axis=1)[:rows, :cols]
    index = np.add(_sample_index(height, width, step), expanded)
    # Cell sums from an integral image: four reads per cell (6x faster than reduceat).
    edge_rows = np.minimum(np.arange(grid_h + 1) * side, rows)
    edge_cols = np.minimum(np.arange(grid_w + 1) * side, cols)
    pixels_per_block = np.bincount(block_of_cell, minlength=num_blocks) * side**2
    costs = np.empty((len(candidates), num_blocks), np.float32)
    for k, candidate in enumerate(candidates):
        shifted = np.take(candidate.luma.reshape(-1), index)
        corners = cv2.integral(cv2.absdiff(current, shifted))[edge_rows][:, edge_cols]
        per_cell = corners[1:, 1:] - corners[:-1, 1:] - corners[1:, :-1] + corners[:-1, :-1]
        sums = np.bincount(block_of_cell, weights=per_cell.reshape(-1)[cells], minlength=num_blocks)
        costs[k] = sums / np.maximum(pixels_per_block, 1)
    return costs
