"""Residuals: a P-frame minus its motion-compensated prediction (SPEC section 1, stream R).

The codec rebuilds a P-frame as *prediction + residual*, where the prediction copies each
block of the reference frame from where its motion vector points. We have the decoded
frames and the vectors, so ``residual = current - prediction(reference, motion)``.

Precision choice (documented, deliberate): the prediction reads the *nearest* reference
pixel (the source offset rounded half up), in RGB. The codec itself interpolates half-pel
positions bilinearly in YUV, so where a vector is fractional our residual also holds the
half-pixel interpolation difference; for whole-pixel vectors (and all static blocks) it is
the codec's residual up to YUV->RGB rounding. The nearest-pixel prediction is one gather
per frame (block copies or one ``cv2.remap``: :class:`MotionCompensator`), which keeps
reading a clip close to the cost of decoding it (BENCHMARKS.md, loader); a bilinear
prediction would cost more.

Pixels whose source lies outside the frame read the nearest edge pixel, as the codec's
edge extension (unrestricted motion vectors) does (``BORDER_REPLICATE``).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from imrkit.codec.motion import BlockMotion, PaddedIndex, column_cells


class MotionCompensator:
    """Predicts frames of one size from a reference and block motion.

    A reader keeps one for all the frames of a clip. The prediction reads, for every pixel,
    the reference pixel its cell's whole-pixel source offset points to
    (:meth:`imrkit.codec.motion.PaddedIndex.cell_offsets`: rounded half up, each cell's
    window clamped into a ``pad``-pixel border), with one ``cv2.remap`` (nearest pixel, edge
    replicated) through float32 (x, y) source coordinates built from the cells in one pass
    (:meth:`source_coordinates`). Only the pixels asked for (a crop's region) are
    predicted.

    Why this way (measured at 340x256, issue 24): OpenCV's float nearest remap is 2x faster
    than its fixed-point (int16 map) one, and expanding the cells costs a quarter of
    building per-pixel int16 coordinates with two ``np.take`` (0.35 ms a frame in all,
    against 0.86 ms for the int16 map this replaced, the same pixels). The coordinates and
    the prediction live in buffers reused frame after frame: a fresh 260 KB array per
    frame is a fresh ``mmap`` whose page faults cost as much as the remap itself. Copying
    whole blocks from a sliding-window view (no coordinates) is faster on 16 px cells only
    while nothing is allocated, which a fancy index cannot promise.

    Args:
        height, width: frame size.
        pad: how far (pixels) a cell's source window may reach outside the frame before it
            is clamped (replication makes anything further read the same edge pixels); at
            least the largest motion cell.
    """

    def __init__(self, height: int, width: int, pad: int = 16):
        self.height, self.width, self.pad = height, width, pad
        self.indexer = PaddedIndex(height, width, pad)
        self.reference: np.ndarray | None = None
        self._coordinates = np.empty((height, width, 2), np.float32)  # reused per frame
        self._predictions: dict[tuple, np.ndarray] = {}  # region -> reused prediction

    def set_reference(self, reference: np.ndarray) -> None:
        """The frame to predict from: uint8 H x W x 3 RGB (or x 4 RGBA, alpha ignored; rows
        may be strided, e.g. a view of a decoded frame's buffer). It is read, not copied:
        leave it unchanged while predicting from it."""
        self.reference = reference[..., :3] if reference.shape[-1] == 4 else reference

    def source_coordinates(self, motion: BlockMotion) -> np.ndarray:
        """float32 (H x W x 2): the (x, y) reference pixel each pixel copies (whole pixels;
        this object's buffer, overwritten by the next call).

        Built in one pass over the frame: each cell row's offsets are expanded along x and
        given their pixels' x and the row's first y (a small Hc x W x 2 strip), then every
        pixel row of the cell row is that strip plus its y within the cell (a broadcast
        add that writes the buffer once)."""
        cell = motion.cell
        offsets = self.indexer.cell_offsets(motion).astype(np.float32)  # Hc x Wc x 2
        strips = np.take(offsets, column_cells(self.width, cell), axis=1)  # Hc x W x 2
        strips += _strip_origins(self.height, self.width, cell)
        coordinates, height, width = self._coordinates, self.height, self.width
        # (x, y) pairs flattened along each row, so the broadcast's inner loop runs over a
        # whole row (2 W values) rather than over one pair.
        strips = strips.reshape(len(strips), 1, 2 * width)
        within = _within_cell(cell, width)  # cell x 2W
        full = height // cell
        rows = coordinates.reshape(height, 2 * width)
        np.add(strips[:full], within, out=rows[: full * cell].reshape(full, cell, 2 * width))
        if height % cell:
            np.add(strips[full], within[: height % cell], out=rows[full * cell :])
        return coordinates

    def predict(self, motion: BlockMotion, region: tuple[slice, slice] | None = None) -> np.ndarray:
        """Prediction of the current frame from the reference: uint8 (H x W x 3) RGB, or of
        the pixels of ``region`` (rows, columns) only (a buffer reused by the next call)."""
        if self.reference is None:
            raise ValueError("set_reference before predicting")
        coordinates = self.source_coordinates(motion)
        if region is not None:
            coordinates = coordinates[region]
        key = coordinates.shape[:2]
        if key not in self._predictions:
            self._predictions[key] = np.empty((*key, 3), np.uint8)
        return cv2.remap(
            self.reference,
            coordinates,
            None,
            dst=self._predictions[key],
            interpolation=cv2.INTER_NEAREST,
            borderMode=cv2.BORDER_REPLICATE,
        )

    def residual(
        self,
        current: np.ndarray,
        motion: BlockMotion,
        out: np.ndarray | None = None,
        region: tuple[slice, slice] | None = None,
    ) -> np.ndarray:
        """``current`` (uint8 H x W x 3 RGB, rows may be strided) minus its prediction,
        int16 (H x W x 3), or only inside ``region`` (rows, columns) of the frame."""
        if region is not None:
            current = current[region]
        prediction = self.predict(motion, region)
        if out is not None and not out.flags.c_contiguous:  # a layout OpenCV cannot write
            return np.subtract(current, prediction, out=out, dtype=np.int16)
        # OpenCV's saturating subtract into int16 is exact here (uint8 - uint8 fits) and
        # 2x faster than numpy's, which casts both operands first (measured, issue 24).
        return cv2.subtract(current, prediction, dst=out, dtype=cv2.CV_16S)


@functools.lru_cache(maxsize=8)
def _strip_origins(height: int, width: int, cell: int) -> np.ndarray:
    """float32 (Hc x W x 2): each pixel column's x and each cell row's first y (read-only)."""
    rows = -(-height // cell)
    origins = np.empty((rows, width, 2), np.float32)
    origins[..., 0] = np.arange(width)[None, :]
    origins[..., 1] = (np.arange(rows) * cell)[:, None]
    origins.setflags(write=False)
    return origins


@functools.lru_cache(maxsize=8)
def _within_cell(cell: int, width: int) -> np.ndarray:
    """float32 (cell x 2W): (0, r) repeated along a row, r the pixel row within its cell
    (read-only)."""
    within = np.zeros((cell, width, 2), np.float32)
    within[..., 1] = np.arange(cell)[:, None]
    within = within.reshape(cell, 2 * width)
    within.setflags(write=False)
    return within


def as_rgba(frame: np.ndarray) -> np.ndarray:
    """An RGB(A) uint8 frame as contiguous H x W x 4 RGBA (alpha is never read)."""
    if frame.shape[-1] == 4:
        return np.ascontiguousarray(frame)
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2RGBA)


def predict(reference: np.ndarray, motion: BlockMotion) -> np.ndarray:
    """Motion-compensated prediction, uint8 (H x W x 3) RGB, of the frame ``motion`` describes.

    Args:
        reference: the reference frame (frame k-1), uint8 H x W x 3 RGB or x 4 RGBA.
        motion: the current frame's block motion (reference -> current).
    """
    compensator = MotionCompensator(motion.height, motion.width, max(16, motion.cell))
    compensator.set_reference(reference)
    return compensator.predict(motion)


def residual(
    current: np.ndarray, reference: np.ndarray, motion: BlockMotion, out: np.ndarray | None = None
) -> np.ndarray:
    """Residual of one P-frame against its reference.

    Args:
        current: decoded P-frame, uint8 (H x W x 3) RGB.
        reference: decoded reference frame (frame k-1), uint8 (H x W x 3) RGB or x 4 RGBA.
        motion: the P-frame's block motion (reference -> current).
        out: optional int16 (H x W x 3) array to write into (e.g. a slice of a clip).

    Returns:
        int16 (H x W x 3): ``current - prediction``, in [-255, 255].
    """
    compensator = MotionCompensator(motion.height, motion.width, max(16, motion.cell))
    compensator.set_reference(reference)
    return compensator.residual(current, motion, out)


def gather_pixels(frame: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Read the pixels of ``frame`` at flat indices ``y * W + x`` -> uint8 (... x 3) RGB.

    Args:
        frame: uint8 H x W x 4 RGBA (H x W x 3 RGB is accepted and converted first).
        index: flat pixel indices, intp, any shape.

    Each RGBA pixel is viewed as one uint32, so a single ``np.take`` moves whole pixels
    with a typed copy (3x faster than gathering 3-byte items, 5x faster than per-channel
    fancy indexing).
    """
    pixels = as_rgba(frame).reshape(-1).view(np.uint32)
    gathered = np.take(pixels, index).view(np.uint8).reshape(*np.shape(index), 4)
    return (
        cv2.cvtColor(gathered, cv2.COLOR_RGBA2RGB)
        if gathered.ndim == 3
        else np.ascontiguousarray(gathered[..., :3])
    )


def accumulated_residual(
    current: np.ndarray, iframe: np.ndarray, index: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Residual against the GOP's I-frame warped by accumulated motion (CoViAR).

    CoViAR sums each pixel's per-frame residuals along its chain of references; with
    exact predictions that sum telescopes to ``current - I[traced source]``, which is
    what this computes directly (one gather instead of one per frame).

    Args:
        current: decoded P-frame, uint8 (H x W x 3) RGB.
        iframe: the GOP's decoded I-frame, uint8 (H x W x 4) RGBA or (H x W x 3) RGB.
        index: traced source of each pixel, flat intp (H x W)
            (:meth:`imrkit.codec.motion.MotionAccumulator.source_index`).
        out: optional int16 (H x W x 3) output.
    """
    return np.subtract(current, gather_pixels(iframe, index), out=out, dtype=np.int16)
