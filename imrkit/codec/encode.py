"""Writing MPEG-4 Part 2 video in the layout IMRNet reads (SPEC section 1).

Every encoder in imrkit goes through :func:`open_encoder`, so the tests' synthetic videos,
the sample dataset and ``imrkit transcode`` all share one set of codec settings:
``mpeg4``, yuv420p, closed 12-frame GOPs, no B-frames and no scene-cut I-frames.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

GOP_SIZE = 12


@dataclass(frozen=True)
class EncodeConfig:
    """Codec settings of an imrkit video.

    Attributes:
        gop_size: frames per GOP (K in the paper); every K-th frame is an I-frame.
        fps: frame rate written to the container.
        quantizer: fixed quantiser (2 = best, 31 = worst). FFmpeg's mpeg4 encoder ignores
            ``qscale``/``global_quality`` alone, so it is set through ``qmin = qmax``.
            ``None`` uses ``bit_rate`` instead.
        bit_rate: target bit rate when ``quantizer`` is None.
        four_mv: allow 8x8 blocks (``+mv4``), as some sources use.
        quarter_pel: quarter-pixel motion (``+qpel``); half-pel otherwise.
    """

    gop_size: int = GOP_SIZE
    fps: int = 30
    quantizer: int | None = 5
    bit_rate: int = 1_000_000
    four_mv: bool = False
    quarter_pel: bool = False


def open_encoder(
    container: av.container.OutputContainer,
    width: int,
    height: int,
    config: EncodeConfig = EncodeConfig(),
) -> av.video.stream.VideoStream:
    """Add an MPEG-4 Part 2 stream with imrkit's settings to an open output container."""
    if width % 2 or height % 2:
        raise ValueError(f"yuv420p needs even frame sizes, got {width}x{height}")
    stream = container.add_stream("mpeg4", rate=config.fps)
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p"
    stream.time_base = Fraction(1, config.fps)
    context = stream.codec_context
    context.gop_size = config.gop_size
    context.max_b_frames = 0
    flags = ["+mv4"] if config.four_mv else []
    flags += ["+qpel"] if config.quarter_pel else []
    options = {
        # A huge threshold turns off scene-cut detection, which would otherwise insert
        # I-frames mid-GOP and break the fixed 12-frame layout.
        "sc_threshold": "1000000000",
        "g": str(config.gop_size),
        "bf": "0",
    }
    if flags:
        options["flags"] = "".join(flags)
    if config.quantizer is not None:
        options["qmin"] = options["qmax"] = str(config.quantizer)
    else:
        context.bit_rate = config.bit_rate
    stream.options = options
    return stream


def encode_frames(
    frames: Iterable[np.ndarray],
    path: str | os.PathLike,
    config: EncodeConfig = EncodeConfig(),
    *,
    container_format: str | None = None,
) -> Path:
    """Encode RGB uint8 frames (H x W x 3 each) to an MPEG-4 Part 2 ``.mp4``/``.avi`` file.

    Args:
        frames: RGB frames, all of one even size.
        path: output file; its parent folder must exist.
        config: codec settings.
        container_format: FFmpeg muxer (``"avi"``, ``"mp4"``); by default guessed from the
            extension. Lets callers write to a temporary name such as ``.x.avi.part``.

    Returns:
        The output path.
    """
    path = Path(path)
    with av.open(str(path), "w", format=container_format) as container:
        stream = None
        for index, rgb in enumerate(frames):
            rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
            if stream is None:
                stream = open_encoder(container, rgb.shape[1], rgb.shape[0], config)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        if stream is None:
            raise ValueError(f"{path}: no frames to encode")
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def encode_any(
    frames: Iterable[np.ndarray],
    path: str | os.PathLike,
    *,
    codec: str,
    gop_size: int,
    b_frames: int = 0,
    options: dict[str, str] | None = None,
    fps: int = 30,
    container_format: str | None = None,
) -> Path:
    """Encode RGB uint8 frames with any PyAV encoder and GOP structure (H.264, MPEG-2,
    MPEG-4 with B-frames, HEVC, VP9, ...): the videos datasets are distributed as, which
    the tests and ``imrkit bench codecs`` generate. imrkit's own layout is
    :func:`encode_frames`.

    Args:
        codec: FFmpeg encoder name (``"h264"``, ``"mpeg2video"``, ``"hevc"``, ...).
        gop_size: keyframe interval; ``b_frames``: at most this many B-frames in a row.
        options: encoder options (``{"bf": "2", "x264-params": "scenecut=0"}``, ...).
    """
    path = Path(path)
    frames = [np.ascontiguousarray(rgb, dtype=np.uint8) for rgb in frames]
    if not frames:
        raise ValueError(f"{path}: no frames to encode")
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop_size
        stream.codec_context.max_b_frames = b_frames
        stream.options = dict(options or {})
        stream.time_base = Fraction(1, fps)
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
