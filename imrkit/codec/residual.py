"""Residuals: a P-frame minus its motion-compensated prediction (SPEC section 1, stream R).

The codec rebuilds a P-frame as *prediction + residual*, where the prediction copies each
block of the reference frame from where its motion vector points. We have the decoded
frames and the vectors, so ``residual = current - prediction(reference, motion)``.

Precision choice (documented, deliberate): the prediction reads the *nearest* reference
pixel (the source offset rounded half up), in RGB. The codec itself interpolates half-pel
positions bilinearly in YUV, so where a vector is fractional our residual also holds the
half-pixel interpolation difference; for whole-pixel vectors (and all static blocks) it is
the codec's residual up to YUV->RGB rounding. The nearest-pixel gather is one ``np.take``
of 4-byte RGBA pixels per frame, which keeps reading a clip close to the cost of decoding it
(BENCHMARKS.md, loader); a bilinear prediction would cost four.

Pixels whose source lies outside the frame read the nearest edge pixel, as the codec's
edge extension (unrestricted motion vectors) does: the reference is padded by replicating
its edges (:class:`imrkit.codec.motion.PaddedIndex`).
"""

from __future__ import annotations

import cv2
import numpy as np

from imrkit.codec.motion import BlockMotion, PaddedIndex


class MotionCompensator:
    """Predicts frames of one size from a reference and block motion, reusing its buffers.

    A reader keeps one for all the frames of a clip: the padded reference, the index grid
    and the prediction are written in place instead of allocated per frame (fresh pages
    cost as much as the arithmetic at these sizes).

    Args:
        height, width: frame size.
        pad: edge padding in pixels; at least the largest motion cell (16 for MPEG-4).
    """

    def __init__(self, height: int, width: int, pad: int = 16):
        self.height, self.width, self.pad = height, width, pad
        self.indexer = PaddedIndex(height, width, pad)
        self.padded = np.empty(self.indexer.padded_shape, np.uint32)
        self.gathered = np.empty((height, width), np.uint32)
        self.prediction = np.empty((height, width, 3), np.uint8)

    def set_reference(self, reference: np.ndarray) -> None:
        """Copy a reference frame (uint8 H x W x 4 RGBA, or x 3 RGB) into the padded buffer,
        replicating its edges into the padding."""
        pad, height, width = self.pad, self.height, self.width
        pixels = as_rgba(reference).view(np.uint32)[..., 0]  # one uint32 per pixel
        padded = self.padded
        padded[pad : pad + height, pad : pad + width] = pixels
        padded[:pad, pad : pad + width] = pixels[0]
        padded[pad + height :, pad : pad + width] = pixels[-1]
        padded[:, :pad] = padded[:, pad : pad + 1]
        padded[:, pad + width :] = padded[:, pad + width - 1 : pad + width]

    def predict(self, motion: BlockMotion) -> np.ndarray:
        """Prediction of the current frame from the reference: uint8 (H x W x 3) RGB.

        The returned array is this compensator's buffer, overwritten by the next call.
        """
        index = self.indexer.source_index(self.indexer.cell_offsets(motion), motion.cell)
        # mode="clip" lets np.take write straight into ``out`` (indices are in range).
        np.take(self.padded.reshape(-1), index, out=self.gathered, mode="clip")
        rgba = self.gathered.view(np.uint8).reshape(self.height, self.width, 4)
        # OpenCV drops alpha far faster than a strided numpy copy would.
        return cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB, dst=self.prediction)

    def residual(
        self, current: np.ndarray, motion: BlockMotion, out: np.ndarray | None = None
    ) -> np.ndarray:
        """``current`` (uint8 H x W x 3 RGB) minus its prediction, int16 (H x W x 3)."""
        return np.subtract(current, self.predict(motion), out=out, dtype=np.int16)


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
    return compensator.predict(motion).copy()


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
