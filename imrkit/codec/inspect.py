"""Frame-by-frame look inside a compressed video (codec-inspection notebook, debugging).

:func:`read_clip` returns only what the model eats; :func:`inspect_frames` shows every
frame the way the reader sees it: its picture type, the raw block vectors exactly as PyAV
exports them, and the dense motion and residual built from them (relative to the previous
frame, the codec's reference for a P-frame)::

    for record in imrkit.inspect_frames("v.mp4", stop=24):
        print(record.index, record.frame_type, len(record.vectors))

It reads any video FFmpeg decodes with motion vector export (not only prepared MPEG-4), so
it also helps to see why :func:`imrkit.read_clip` rejects a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

from imrkit.codec.container import StreamTiming, open_video
from imrkit.codec.motion import MOTION_VECTOR_DTYPE, block_motion
from imrkit.codec.pictures import frame_vectors, picture_type
from imrkit.codec.residual import residual as compute_residual
from imrkit.errors import CorruptVideoError


@dataclass
class FrameRecord:
    """One decoded frame and what the codec says about it.

    Attributes:
        index: frame index in the video (display order).
        frame_type: 'I', 'P', 'B' (:data:`imrkit.codec.pictures.PICTURE_TYPES`; '?' if unknown).
        vectors: the frame's ``MOTION_VECTORS`` side data as PyAV's structured array
            (fields ``source, w, h, src_x, src_y, dst_x, dst_y, flags, motion_x, motion_y,
            motion_scale``; one record per inter block), empty for an I-frame.
        motion: float32 (H x W x 2), (x, y) pixels, displacement from the previous frame
            (zero for I-frames and intra blocks).
        residual: int16 (H x W x 3): frame minus its prediction from the previous frame
            (an I-frame's residual is the frame itself: it predicts nothing).
        rgb: uint8 (H x W x 3), the decoded frame.
    """

    index: int
    frame_type: str
    vectors: np.ndarray
    motion: np.ndarray
    residual: np.ndarray
    rgb: np.ndarray


def inspect_frames(
    path: str | os.PathLike, start: int = 0, stop: int | None = None
) -> Iterator[FrameRecord]:
    """Yield a :class:`FrameRecord` for each frame ``start <= index < stop``.

    Args:
        path: any video file.
        start: first frame to report; decoding seeks to the keyframe before it.
        stop: frame index to stop before (None: to the end).

    Raises:
        VideoError: the file cannot be opened or decoding fails.
    """
    path = os.fspath(path)
    with open_video(path) as (container, stream):
        stream.codec_context.options = {"flags2": "+export_mvs"}
        stream.codec_context.thread_count = 1
        timing = StreamTiming.of(stream, container)  # frame 0 = first presented frame
        height, width = stream.codec_context.height, stream.codec_context.width
        previous = None
        try:
            if start > 0:
                container.seek(timing.pts(start), backward=True, any_frame=False, stream=stream)
            count = -1
            for frame in container.decode(stream):
                count = timing.index(frame.pts) if frame.pts is not None else count + 1
                if stop is not None and count >= stop:
                    return
                rgb = frame.to_ndarray(format="rgb24")
                if count >= start:
                    vectors = frame_vectors(frame)
                    if vectors is None:
                        vectors = np.zeros(0, MOTION_VECTOR_DTYPE)
                    kind = picture_type(frame)
                    motion = block_motion(vectors, height, width)
                    if kind == "I" or previous is None:
                        res = rgb.astype(np.int16)
                    else:
                        res = compute_residual(rgb, previous, motion)
                    yield FrameRecord(count, kind, vectors, motion.dense(), res, rgb)
                previous = rgb
        except av.FFmpegError as error:
            raise CorruptVideoError(
                path, f"decoding failed after frame {count} ({error})"
            ) from None


def storage_sizes(
    path: str | os.PathLike, *, max_frames: int | None = None, jpeg_quality: int = 95
) -> dict[str, int]:
    """Bytes to store a video's first frames three ways: why imrkit reads compressed video.

    Args:
        path: any video file.
        max_frames: measure only the first frames (None: all of them).
        jpeg_quality: quality of the per-frame JPEG dump that frame-based loaders (CoViAR's
            preprocessing, most action-recognition pipelines) store instead.

    Returns:
        ``{"MPEG-4": the N frames' compressed packets (container overhead excluded),
        "JPEG frames": their JPEGs summed, "raw RGB": N * H * W * 3}``, N being
        ``max_frames`` or the video's length, whichever is smaller.

    Raises:
        VideoError: the file cannot be opened or decoding fails.
    """
    import cv2

    path = os.fspath(path)
    sizes = {"MPEG-4": 0, "JPEG frames": 0, "raw RGB": 0}
    num_frames = 0
    with open_video(path) as (container, stream):
        try:
            for packet in container.demux(stream):
                if max_frames is not None and num_frames >= max_frames:
                    break
                for frame in packet.decode():
                    bgr = frame.to_ndarray(format="bgr24")
                    quality = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
                    _, encoded = cv2.imencode(".jpg", bgr, quality)
                    num_frames += 1
                    sizes["JPEG frames"] += int(encoded.size)
                    sizes["raw RGB"] += bgr.nbytes
                sizes["MPEG-4"] += packet.size
        except av.FFmpegError as error:
            raise CorruptVideoError(path, f"decoding failed ({error})") from None
    if num_frames == 0:
        raise CorruptVideoError(path, "no frame could be decoded")
    return sizes
