"""Re-encoding any video to the MPEG-4 Part 2 layout IMRNet reads (SPEC sections 1 and 5).

The paper (like CoViAR) trains on MPEG-4 Part 2 video with 12-frame GOPs and no B-frames:
every 12th frame an I-frame, the 11 frames between them P-frames each predicted from the
previous frame. :func:`imrkit.read_clip` reads MPEG-4, MPEG-1/2, H.263 and H.264 sources
directly; codecs without exported motion vectors (HEVC, VP9, AV1), and runs that want the
paper's exact input, go through :func:`transcode`: it decodes a video with PyAV, resizes it and
encodes it again through :func:`imrkit.codec.encode.open_encoder`, the one encoder
configuration of the kit. Sources are opened by :func:`imrkit.codec.container.open_container`,
as the reader opens them.

Two codec facts (SPEC section 5) shape the code: a decoded frame keeps its source picture
type, and the encoder turns a source I-frame into a forced keyframe, which would break the
12-frame GOP, so the picture type is reset before encoding; and a fixed quantiser needs
``qmin = qmax`` (handled in ``open_encoder``).

Outputs are written atomically: to a hidden ``.NAME.part`` file in the destination folder,
renamed over the destination only once complete, so an interrupted run never leaves a
half-written video that looks finished.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import av

from imrkit.codec.container import CORRUPT_HINT, open_container
from imrkit.codec.encode import EncodeConfig, open_encoder
from imrkit.errors import ConfigError, CorruptVideoError

OUTPUT_EXTENSIONS = {".avi": "avi", ".mp4": "mp4", ".mkv": "matroska"}
COVIAR_SIZE = (340, 256)


@dataclass(frozen=True)
class TranscodeConfig:
    """How :func:`transcode` re-encodes a video.

    Attributes:
        short_side: resize so the shorter side has this many pixels, keeping the aspect
            ratio (the paper's "shorter side 256"); ``None`` keeps the source size.
        size: fixed output ``(width, height)``, e.g. :data:`COVIAR_SIZE` (340, 256), the
            size CoViAR resizes every video to; overrides ``short_side``.
        fps: frame rate written to the output; ``None`` uses the source's average rate,
            rounded. Every decoded frame is kept (no frame-rate conversion), so frame
            indices, GOPs and clip lengths count source frames.
        encode: codec settings (MPEG-4 Part 2, 12-frame GOPs, no B-frames); its ``fps`` is
            replaced by the rate above.
        interpolation: swscale interpolation used for resizing.
    """

    short_side: int | None = 256
    size: tuple[int, int] | None = None
    fps: int | None = None
    encode: EncodeConfig = field(default_factory=EncodeConfig)
    interpolation: str = "AREA"

    def __post_init__(self):
        if self.short_side is not None and self.short_side < 2:
            raise ConfigError(f"transcode.short_side must be >= 2, got {self.short_side}")
        if self.size is not None:
            if len(self.size) != 2 or any(int(v) < 2 or int(v) % 2 for v in self.size):
                raise ConfigError(
                    f"transcode.size must be (width, height), both even, got {self.size}"
                )
        if self.fps is not None and self.fps <= 0:
            raise ConfigError(f"transcode.fps must be positive, got {self.fps}")


def output_size(width: int, height: int, config: TranscodeConfig) -> tuple[int, int]:
    """The (width, height) a ``width`` x ``height`` source is resized to; always even.

    >>> output_size(320, 240, TranscodeConfig())
    (342, 256)
    >>> output_size(320, 240, TranscodeConfig(size=(340, 256)))
    (340, 256)
    """
    if config.size is not None:
        return int(config.size[0]), int(config.size[1])
    if config.short_side is None:
        return max(2, width - width % 2), max(2, height - height % 2)
    factor = config.short_side / min(width, height)
    # Round to the nearest even size: yuv420p subsamples chroma by two in both directions.
    return (max(2, 2 * round(width * factor / 2)), max(2, 2 * round(height * factor / 2)))


def open_source(path: str | os.PathLike) -> av.container.InputContainer:
    """Open a video for decoding (:func:`imrkit.codec.container.open_container`).

    Raises:
        VideoNotFoundError: no such file.
        NotAVideoError: empty, not a media container, or no video stream.
        CorruptVideoError: looks like a known container but cannot be opened.
    """
    return open_container(path)


def transcode(
    src: str | os.PathLike, dst: str | os.PathLike, config: TranscodeConfig = TranscodeConfig()
) -> Path:
    """Re-encode ``src`` to MPEG-4 Part 2 at ``dst`` (``.avi``, ``.mp4`` or ``.mkv``).

    The output has yuv420p frames of :func:`output_size`, an I-frame exactly every
    ``config.encode.gop_size`` frames (12) and P-frames in between: no B-frames, no
    scene-cut I-frames, whatever the source's layout. Audio and subtitles are dropped.

    Args:
        src: any video FFmpeg can decode.
        dst: output file; its folder is created. Written atomically.
        config: size, frame rate and codec settings.

    Returns:
        ``dst`` as a Path.

    Raises:
        VideoNotFoundError, NotAVideoError, CorruptVideoError: the source cannot be read;
            the message names the file. No output is left behind.
        ConfigError: unsupported output extension.
    """
    src, dst = Path(src), Path(dst)
    muxer = OUTPUT_EXTENSIONS.get(dst.suffix.lower())
    if muxer is None:
        raise ConfigError(f"{dst}: output must end in one of {sorted(OUTPUT_EXTENSIONS)}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    partial = dst.with_name(f".{dst.name}.part")
    try:
        with open_source(src) as source:
            _transcode_stream(source, src, partial, muxer, config)
        os.replace(partial, dst)
    finally:
        partial.unlink(missing_ok=True)
    return dst


def _ffmpeg_reason(error: av.error.FFmpegError) -> str:
    """FFmpeg's own words for an error, without PyAV's errno and repeated file name."""
    return getattr(error, "strerror", None) or str(error)


def _decoded_frames(source: av.container.InputContainer, src: Path) -> Iterator[av.VideoFrame]:
    """The frames of the first video stream; decoder failures become CorruptVideoError."""
    frames = source.decode(source.streams.video[0])
    num_frames = 0
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            break
        except av.error.FFmpegError as error:
            raise CorruptVideoError(
                src,
                f"decoding failed after {num_frames} frames: {_ffmpeg_reason(error)}",
                hint=CORRUPT_HINT,
            ) from error
        num_frames += 1
        yield frame
    if num_frames == 0:
        raise CorruptVideoError(src, "no decodable video frames", hint=CORRUPT_HINT)
    # FFmpeg decodes a truncated or damaged file without complaint, just fewer frames; the
    # container's declared count (0 when unknown, e.g. WebM) gives that away. A few frames
    # of slack cover containers whose count is slightly off (edit lists).
    declared = source.streams.video[0].frames
    if declared and declared - num_frames > max(3, declared // 20):
        raise CorruptVideoError(
            src,
            f"truncated or damaged: decoded {num_frames} of the "
            f"{declared} frames the container declares",
            hint=CORRUPT_HINT,
        )


def _transcode_stream(
    source: av.container.InputContainer,
    src: Path,
    partial: Path,
    muxer: str,
    config: TranscodeConfig,
) -> None:
    """Decode every frame of ``source``'s first video stream and encode it to ``partial``."""
    video = source.streams.video[0]
    rate = video.average_rate or video.guessed_rate
    fps = config.fps or (max(1, round(float(rate))) if rate else 30)
    encode_config = replace(config.encode, fps=fps)
    with av.open(str(partial), "w", format=muxer) as output:
        stream = None
        for index, frame in enumerate(_decoded_frames(source, src)):
            if stream is None:
                width, height = output_size(frame.width, frame.height, config)
                stream = open_encoder(output, width, height, encode_config)
            frame = frame.reformat(
                width=width, height=height, format="yuv420p", interpolation=config.interpolation
            )
            # A decoded frame keeps its source picture type; an I there would become a
            # forced keyframe and break the fixed GOP (SPEC section 5).
            frame.pict_type = av.video.frame.PictureType.NONE
            # Renumber frames 0, 1, 2, ... at the output rate (the source's timestamps are in
            # its own time base and may have gaps).
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)


__all__ = ["COVIAR_SIZE", "TranscodeConfig", "open_source", "output_size", "transcode"]
