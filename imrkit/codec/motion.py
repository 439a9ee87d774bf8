"""Dense motion fields from the codec's block motion vectors (SPEC section 1, stream M).

FFmpeg exports one record per predicted block as ``MOTION_VECTORS`` side data (PyAV's
structured array with fields ``source, w, h, src_x, src_y, dst_x, dst_y, flags, motion_x,
motion_y, motion_scale``). Measured facts this module relies on (SPEC section 5):

- ``dst_x``/``dst_y`` are block *centres*: a block covers ``dst +- w/2``.
- ``motion_x / motion_scale`` is ``src - dst`` with sub-pixel precision (half-pel, or
  quarter-pel with ``+qpel``); a background that moves right by 2 px gives ``-2``. The
  displacement of content from the reference to the current frame is therefore
  ``-(motion_x / motion_scale)``: content moving right has positive x.
- Intra-coded blocks inside a P-frame are absent from the side data. Like CoViAR we give
  them zero motion (the codec predicts nothing for them; their content is all residual).

Everything is vectorized over blocks and pixels, never a Python loop over blocks: the
blocks are scattered onto a grid of ``cell x cell`` squares (the largest square dividing
every block: 16 px for plain MPEG-4, 8 px with ``+mv4``, so no two blocks share a cell), and
the grid is expanded to pixels by one ``np.take`` along x (through column indices cached per
frame size) and a broadcast copy along y.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

# PyAV's record for one block (``MotionVectors.to_ndarray()``), spelled out so code and
# tests can build vectors without a decoder.
MOTION_VECTOR_DTYPE = np.dtype(
    {
        "names": [
            "source",
            "w",
            "h",
            "src_x",
            "src_y",
            "dst_x",
            "dst_y",
            "flags",
            "motion_x",
            "motion_y",
            "motion_scale",
        ],
        "formats": ["<i4", "u1", "u1", "<i2", "<i2", "<i2", "<i2", "<u8", "<i4", "<i4", "<u2"],
        "offsets": [0, 4, 5, 6, 8, 10, 12, 16, 24, 28, 32],
        "itemsize": 40,
        "aligned": True,
    }
)

# Cell of a frame without vectors (any size works for all-zero motion).
DEFAULT_CELL = 16


@dataclass
class BlockMotion:
    """The motion of one P-frame on a grid of square cells.

    Attributes:
        displacement: float32 (Hc x Wc x 2), (x, y) pixels, reference -> current frame,
            constant over each ``cell x cell`` square (cell (i, j) covers rows
            ``i*cell .. i*cell+cell-1`` and columns ``j*cell .. j*cell+cell-1``).
        height: frame height H in pixels.
        width: frame width W in pixels.
        cell: side of a cell in pixels.
    """

    displacement: np.ndarray
    height: int
    width: int
    cell: int = DEFAULT_CELL

    @classmethod
    def zeros(cls, height: int, width: int, cell: int = DEFAULT_CELL) -> BlockMotion:
        """No motion anywhere (an all-intra P-frame, or a frame without side data)."""
        shape = (-(-height // cell), -(-width // cell), 2)
        return cls(np.zeros(shape, np.float32), height, width, cell)

    def dense(self, out: np.ndarray | None = None) -> np.ndarray:
        """The per-pixel field: float32 (H x W x 2), (x, y) pixels, ref -> current.

        Args:
            out: optional C-contiguous float32 (H x W x 2) array to fill (a clip's slot).
        """
        if out is None:
            out = np.empty((self.height, self.width, 2), np.float32)
        # Viewing each (x, y) pair as one float64 moves both components in one copy.
        pairs = np.ascontiguousarray(self.displacement, np.float32).view(np.float64)[..., 0]
        expand_cells(pairs, self.cell, out.view(np.float64)[..., 0])
        return out


@functools.lru_cache(maxsize=16)
def column_cells(width: int, cell: int) -> np.ndarray:
    """Cell column of every pixel column, intp (W,); cached per size (read-only)."""
    cols = np.arange(width, dtype=np.intp) // cell
    cols.setflags(write=False)
    return cols


def expand_cells(grid: np.ndarray, cell: int, out: np.ndarray) -> np.ndarray:
    """Upsample a per-cell array (Hc x Wc) to pixels (H x W), writing into ``out``.

    Columns are expanded with one ``np.take`` on the small grid, rows by broadcasting each
    expanded row over its ``cell`` pixel rows (contiguous copies, no per-pixel index).
    """
    if not out.flags.c_contiguous:  # the reshape below must be a view, never a copy
        raise ValueError("expand_cells needs a C-contiguous output array")
    height, width = out.shape
    strips = np.take(grid, column_cells(width, cell), axis=1)  # Hc x W
    full = height // cell
    out[: full * cell].reshape(full, cell, width)[...] = strips[:full, None, :]
    if height % cell:
        out[full * cell :] = strips[full]
    return out


def block_motion(vectors: np.ndarray | None, height: int, width: int) -> BlockMotion:
    """Scatter the codec's block vectors of one P-frame onto a cell grid.

    Args:
        vectors: PyAV's ``MotionVectors.to_ndarray()`` structured array (one record per
            block), or None when the frame carries no side data (treated as no motion).
        height: frame height H.
        width: frame width W.

    Returns:
        A :class:`BlockMotion` whose cell is the largest square dividing every block
        (16 px for plain MPEG-4, 8 px with ``+mv4``); cells no block covers (intra blocks)
        have zero motion.
    """
    if vectors is None or len(vectors) == 0:
        return BlockMotion.zeros(height, width)
    # Only forward (past-reference) vectors, used as they are: the field of a P-frame whose
    # reference is the previous frame. B-frames and other reference distances go through
    # :func:`imrkit.codec.references.frame_motion`.
    forward = vectors["source"] < 0
    if not forward.all():
        vectors = vectors[forward]
        if len(vectors) == 0:
            return BlockMotion.zeros(height, width)
    cell = motion_cell(vectors)
    grid_h, grid_w = -(-height // cell), -(-width // cell)
    cells, block_of_cell = block_cells(vectors, cell, grid_h, grid_w)
    grid = np.zeros((grid_h * grid_w, 2), np.float32)
    grid[cells] = vector_displacement(vectors)[block_of_cell]
    return BlockMotion(grid.reshape(grid_h, grid_w, 2), height, width, cell)


def motion_cell(vectors: np.ndarray) -> int:
    """The largest square dividing every block of ``vectors`` (16, 8 or 4 px)."""
    return int(np.gcd.reduce(np.concatenate([vectors["w"], vectors["h"]]).astype(np.intp)))


def vector_displacement(vectors: np.ndarray) -> np.ndarray:
    """Each block's displacement of content, reference -> current, float32 (N x 2) (x, y) px.

    ``dst - src = -(motion / scale)``. Negating the integer numerator keeps static blocks at
    +0.0 rather than -0.0.
    """
    motion = np.stack([vectors["motion_x"], vectors["motion_y"]], axis=1)
    scale = np.maximum(vectors["motion_scale"], 1)[:, None]
    return np.divide(np.negative(motion), scale, dtype=np.float32)


def block_cells(
    vectors: np.ndarray, cell: int, grid_h: int, grid_w: int
) -> tuple[np.ndarray, np.ndarray]:
    """The grid cells the blocks cover.

    Args:
        vectors: blocks (PyAV's structured array) whose sizes are multiples of ``cell``.
        cell: cell side in pixels.
        grid_h, grid_w: the cell grid of the frame.

    Returns:
        ``(cells, block_of_cell)``, intp each: the flat (row-major) index of every covered
        cell inside the frame, and the block covering it.
    """
    block_w = vectors["w"].astype(np.intp)
    block_h = vectors["h"].astype(np.intp)
    rows = (vectors["dst_y"] - block_h // 2) // cell  # first cell of each block
    cols = (vectors["dst_x"] - block_w // 2) // cell
    block_of_cell = np.arange(len(vectors))
    if block_w.max() > cell or block_h.max() > cell:
        # Blocks of several sizes (16x16 beside 8x8): each block covers counts cells;
        # expand blocks to cells with np.repeat, row-major within the block.
        cols_per_block = block_w // cell
        counts = cols_per_block * (block_h // cell)
        block_of_cell = np.repeat(block_of_cell, counts)
        within = np.arange(len(block_of_cell)) - np.repeat(np.cumsum(counts) - counts, counts)
        per_row = cols_per_block[block_of_cell]
        rows = rows[block_of_cell] + within // per_row
        cols = cols[block_of_cell] + within % per_row
    cells = rows * grid_w + cols
    # Blocks of the last macroblock row/column may reach past a frame size that is not a
    # multiple of 16: drop the cells outside the frame (blocks never start before it).
    inside = (rows < grid_h) & (cols < grid_w)
    if not inside.all():
        cells, block_of_cell = cells[inside], block_of_cell[inside]
    return cells, block_of_cell


def dense_motion(vectors: np.ndarray | None, height: int, width: int) -> np.ndarray:
    """Dense per-pixel motion of one P-frame, float32 (H x W x 2), (x, y) px, ref -> current."""
    return block_motion(vectors, height, width).dense()


class PaddedIndex:
    """Where each pixel's source lies in a frame padded by ``pad`` pixels on every side.

    Prediction (:class:`imrkit.codec.residual.MotionCompensator`) and accumulation
    (:class:`MotionAccumulator`) both read, for every pixel, the value at the pixel its block
    vector points to, with the codec's edge extension outside the frame. Both keep their
    source array padded by ``pad`` pixels and read it with one ``np.take`` through the flat
    indices built here, from per-cell offsets, without any per-pixel clipping: each cell's
    source window is clamped into the padded frame instead, which is exact as long as ``pad``
    is at least a cell (a window pushed further out covers padding only either way).

    Args:
        height, width: frame size.
        pad: padding in pixels (>= the motion cell, 16 for MPEG-4).
    """

    def __init__(self, height: int, width: int, pad: int = 16):
        self.height, self.width, self.pad = height, width, pad
        self.padded_shape = (height + 2 * pad, width + 2 * pad)
        rows = np.arange(height, dtype=np.intp) + pad
        cols = np.arange(width, dtype=np.intp) + pad
        self.own_index = rows[:, None] * self.padded_shape[1] + cols[None, :]  # H x W
        self.index = np.empty((height, width), np.intp)
        self._bounds: dict = {}

    def cell_offsets(self, motion: BlockMotion) -> np.ndarray:
        """Whole-pixel source offsets per cell, int64 (Hc x Wc x 2) (x, y): src = dst + o.

        The displacement is negated (the source is where content came *from*), rounded half
        up (a nearest-pixel read) and clamped so each cell's window stays in the padding.
        """
        if motion.cell > self.pad:
            raise ValueError(
                f"motion cells of {motion.cell} px need a padding of at least "
                f"{motion.cell}, not {self.pad}"
            )
        offsets = np.floor(0.5 - motion.displacement).astype(np.int64)
        lowest, highest = self._offset_bounds(motion.cell, offsets.shape[:2])
        np.maximum(offsets, lowest, out=offsets)
        np.minimum(offsets, highest, out=offsets)
        return offsets

    def _offset_bounds(self, cell: int, grid_shape: tuple[int, int]):
        """Per-cell (x, y) offset bounds keeping each cell's window in the padded frame."""
        key = (cell, grid_shape)
        if key not in self._bounds:
            grid_h, grid_w = grid_shape
            first_row = np.arange(grid_h)[:, None] * cell
            first_col = np.arange(grid_w)[None, :] * cell
            last_row = np.minimum(first_row + cell, self.height) - 1
            last_col = np.minimum(first_col + cell, self.width) - 1
            lowest = np.stack(
                np.broadcast_arrays(-self.pad - first_col, -self.pad - first_row), axis=-1
            )
            highest = np.stack(
                np.broadcast_arrays(
                    self.width - 1 + self.pad - last_col, self.height - 1 + self.pad - last_row
                ),
                axis=-1,
            )
            self._bounds[key] = (lowest, highest)  # Hc x Wc x 2 each
        return self._bounds[key]

    def source_index(self, offsets: np.ndarray, cell: int) -> np.ndarray:
        """Flat index into the padded frame of each pixel's source, intp (H x W).

        Args:
            offsets: :meth:`cell_offsets` of the frame's motion.
            cell: the motion's cell size.

        Returns:
            This object's index buffer (overwritten by the next call).
        """
        height, width = self.height, self.width
        flat = offsets[..., 1] * self.padded_shape[1] + offsets[..., 0]  # Hc x Wc
        # Offsets expanded along x once per cell row, added to every pixel row of it.
        strips = np.take(flat, column_cells(width, cell), axis=1)  # Hc x W
        full = height // cell
        np.add(
            self.own_index[: full * cell].reshape(full, cell, width),
            strips[:full, None, :],
            out=self.index[: full * cell].reshape(full, cell, width),
        )
        if height % cell:
            np.add(self.own_index[full * cell :], strips[full], out=self.index[full * cell :])
        return self.index


class MotionAccumulator:
    """Traces every pixel of the current P-frame back to the GOP's I-frame (CoViAR).

    CoViAR's accumulated representation follows each pixel's chain of references
    P_k -> P_{k-1} -> ... -> I: the pixel at p in frame k comes from ``s = p + o_k(p)`` in
    frame k-1 (``o_k`` = source offset of p's block), which in turn came from wherever the
    nearest pixel of ``s`` came from: ``source_k(p) = source_{k-1}(q) + (s - q)``, q the
    nearest pixel to s. The sub-pixel part of each step is kept, so that a steady half-pel
    translation accumulates exactly. Outside the frame the source map extends linearly (an
    edge pixel's source plus the overshoot, as the codec's edge extension reads the edge),
    so the first P-frame's accumulated motion equals its own motion, borders included.

    The source map lives in an edge-padded buffer (see :class:`PaddedIndex`): a step is one
    gather through cell-built indices, two such buffers taking turns.

    Call :meth:`reset` at each I-frame and :meth:`step` for every P-frame in decode order
    (all of them, not only the sampled ones: the chain needs each link).
    """

    def __init__(self, height: int, width: int, pad: int = 16):
        self.height, self.width, self.pad = height, width, pad
        self.indexer = PaddedIndex(height, width, pad)
        # (x, y) pairs, viewed as one float64 per pixel for the gathers.
        self._maps = [np.empty((*self.indexer.padded_shape, 2), np.float32) for _ in range(2)]
        self._grid = np.stack(
            np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)),
            axis=-1,
        )
        self._overshoot = np.concatenate([np.arange(-pad, 0), np.arange(1, pad + 1)]).astype(
            np.float32
        )
        self._fraction = np.empty((height, width, 2), np.float32)
        self.reset()

    @property
    def source(self) -> np.ndarray:
        """Traced source position of each pixel in the I-frame, float32 (H x W x 2) (x, y)."""
        pad = self.pad
        return self._maps[0][pad : pad + self.height, pad : pad + self.width]

    def reset(self) -> None:
        """Start a new GOP: every pixel of the I-frame is its own source."""
        self.source[...] = self._grid
        self._extend_edges(self._maps[0])

    def step(self, motion: BlockMotion) -> None:
        """Chain one more P-frame (the next in decode order) onto the traced sources."""
        offsets = self.indexer.cell_offsets(motion)
        index = self.indexer.source_index(offsets, motion.cell)
        previous, current = self._maps
        pad, height, width = self.pad, self.height, self.width
        inner = current[pad : pad + height, pad : pad + width].view(np.float64)[..., 0]
        np.take(previous.view(np.float64)[..., 0].reshape(-1), index, out=inner, mode="clip")
        # + (s - q): the sub-pixel remainder, constant over each cell.
        remainder = np.ascontiguousarray(-motion.displacement - offsets, np.float32)
        expand_cells(
            remainder.view(np.float64)[..., 0], motion.cell, self._fraction.view(np.float64)[..., 0]
        )
        current[pad : pad + height, pad : pad + width] += self._fraction
        self._extend_edges(current)
        self._maps.reverse()

    def _extend_edges(self, padded: np.ndarray) -> None:
        """Fill the padding: the nearest edge pixel's source plus the distance to it."""
        pad, height, width = self.pad, self.height, self.width
        pairs = padded.view(np.float64)[..., 0]  # copy (x, y) pairs as single items
        inner_cols = slice(pad, pad + width)
        pairs[:pad, inner_cols] = pairs[pad, inner_cols]
        pairs[pad + height :, inner_cols] = pairs[pad + height - 1, inner_cols]
        pairs[:, :pad] = pairs[:, pad : pad + 1]
        pairs[:, pad + width :] = pairs[:, pad + width - 1 : pad + width]
        padded[:pad, :, 1] += self._overshoot[:pad, None]
        padded[pad + height :, :, 1] += self._overshoot[pad:, None]
        padded[:, :pad, 0] += self._overshoot[:pad]
        padded[:, pad + width :, 0] += self._overshoot[pad:]

    def displacement(self, out: np.ndarray | None = None) -> np.ndarray:
        """Accumulated motion I-frame -> current, float32 (H x W x 2), (x, y) pixels."""
        return np.subtract(self._grid, self.source, out=out)

    def source_index(self) -> np.ndarray:
        """Flat index (H x W, intp) of each pixel's nearest source pixel in the I-frame."""
        nearest = np.floor(self.source + 0.5)  # H x W x 2, (x, y)
        for axis, last in enumerate((self.width - 1, self.height - 1)):
            component = nearest[..., axis]  # clip x and y as strided planes: fast loops
            np.maximum(component, 0, out=component)
            np.minimum(component, last, out=component)
        # Exact in float32: indices stay far below 2**24 for any video size we read.
        flat = nearest[..., 1] * self.width + nearest[..., 0]
        return flat.astype(np.intp)
