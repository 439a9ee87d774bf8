"""Opening a video safely: every failure becomes an :class:`imrkit.errors.VideoError`.

The one home of opening a video: the reader, :func:`imrkit.codec.reader.probe`, the
inspection API and :func:`imrkit.codec.transcoding.transcode` all open files through
:func:`open_container` (or :func:`open_video`, its context manager that always closes the
container, so a bad file in the middle of a dataset never leaks decoder memory or file
handles). PyAV's exceptions become errors that name the file, say what is wrong and what to
do; the container signatures below decide between "damaged" and "not a video".
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av

from imrkit.errors import CorruptVideoError, NotAVideoError, VideoNotFoundError

# What to do about a file that cannot be read. Re-encoding with `imrkit prepare` cannot
# mend a damaged source or make a video of a non-video, so neither hint suggests it.
CORRUPT_HINT = "re-download it, or remove it from the dataset"
NOT_VIDEO_HINT = "is it a video file?"

# Leading bytes of the containers FFmpeg reads: a file that starts like one of these but
# will not open is damaged (e.g. an MP4 cut before its index), not "not a video".
_CONTAINER_SIGNATURES = (
    (4, b"ftyp"),  # MP4 / MOV / 3GP
    (4, b"moov"),
    (4, b"mdat"),
    (4, b"free"),
    (4, b"wide"),  # QuickTime MOV written without ftyp
    (4, b"skip"),
    (0, b"RIFF"),  # AVI
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (0, b"\x00\x00\x01\xb3"),  # MPEG-1/2 video
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
    (0, b"\x00\x00\x01\xb0"),  # MPEG-4 Part 2 elementary stream
    (0, b"\x00\x00\x00\x01"),  # H.264 / HEVC Annex B elementary stream
    (0, b"FLV"),
    (0, b"OggS"),
    (0, b"\x30\x26\xb2\x75"),  # ASF / WMV
)


def looks_like_container(path: str | os.PathLike) -> bool:
    """True if the file begins with a known media container signature."""
    with open(path, "rb") as handle:
        head = handle.read(189)
    if head[:1] == head[188:189] == b"\x47":  # MPEG-TS: a sync byte every 188 bytes
        return True
    return any(
        head[offset : offset + len(magic)] == magic for offset, magic in _CONTAINER_SIGNATURES
    )


@dataclass(frozen=True)
class StreamTiming:
    """How presentation timestamps map to frame indices in one video stream.

    Attributes:
        fps: frames per second.
        time_base: seconds per timestamp tick.
        start: timestamp of frame 0.
        decoding_times: the container stores decoding times only (AVI): FFmpeg derives
            presentation times from them where the codec's parser can (MPEG-1/2/4), and
            stamps H.264 frames with their decoding times (see
            :mod:`imrkit.codec.decoder`, Numbering).
    """

    fps: Fraction
    time_base: Fraction
    start: int
    decoding_times: bool = False

    def __post_init__(self):
        # Exact Fractions for seeking; one float factor for the per-packet conversion.
        object.__setattr__(self, "_frames_per_tick", float(self.time_base * self.fps))

    @classmethod
    def of(cls, stream: av.video.stream.VideoStream, container=None) -> StreamTiming:
        """The stream's timing. Given its ``container``, and where that container stores
        decoding times only (AVI), frame 0 is the earliest timestamp of the first packets
        read after a rewind rather than the stream's ``start_time``, and the container is
        left rewound to its start.

        In an AVI FFmpeg stamps every frame from pts 1 while ``start_time`` is 0 (H.264,
        MPEG-1/2/4: measured), which would number every frame one too high. Only after a
        rewind, though: on a freshly opened AVI it stamps MPEG-1's first I-frame pts 0 (the
        B-frame after it pts 2), and after any seek pts 1, so the packets are read the way
        every later read sees them. Other containers store presentation times and are left
        untouched (rewinding an MPEG-TS by timestamp lands on a later keyframe: measured).
        """
        fps = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not fps:
            fps = 1 / stream.time_base
        start = stream.start_time or 0
        decoding_times = container is not None and container.format.name in _DECODING_TIME_FORMATS
        if decoding_times:
            start = _first_presentation(container, stream, start)
        return cls(Fraction(fps), Fraction(stream.time_base), start, decoding_times)

    def index(self, pts: int) -> int:
        """Frame index of a timestamp."""
        return round((pts - self.start) * self._frames_per_tick)

    def pts(self, index: int) -> int:
        """Timestamp of a frame index."""
        return self.start + round(index / (self.fps * self.time_base))


# Packets scanned for the first presentation timestamp: more than any reordering delay.
_FIRST_PACKETS = 16
# Containers whose presentation times FFmpeg derives from decoding times.
_DECODING_TIME_FORMATS = frozenset({"avi"})


def _first_presentation(container, stream, default: int) -> int:
    """Earliest pts among the first packets after a rewind (``default`` if none has one);
    rewinds again."""
    stamps = []
    try:
        container.seek(default, backward=True, any_frame=False, stream=stream)
        for packet in container.demux(stream):
            if packet.pts is not None:
                stamps.append(packet.pts)
            if len(stamps) >= _FIRST_PACKETS:
                break
        container.seek(default, backward=True, any_frame=False, stream=stream)
    except av.FFmpegError:
        return default  # damage is reported by the read that follows
    return min(stamps) if stamps else default


def open_container(path: str | os.PathLike) -> av.container.InputContainer:
    """Open a media file that holds a video stream; the caller closes the container.

    Raises:
        VideoNotFoundError: no such file.
        NotAVideoError: a directory, an empty file, not a media file, or no video stream.
        CorruptVideoError: a media file FFmpeg cannot open (truncated, damaged header).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise VideoNotFoundError(path, "no such file", "check the path")
    if not os.path.isfile(path):
        raise NotAVideoError(path, "is not a regular file", NOT_VIDEO_HINT)
    if os.path.getsize(path) == 0:
        raise NotAVideoError(path, "is empty (0 bytes)", NOT_VIDEO_HINT)
    try:
        container = av.open(path, "r")
    except av.FFmpegError as error:
        reason = getattr(error, "strerror", None) or str(error)
        if looks_like_container(path):
            raise CorruptVideoError(
                path, f"cannot open the media container ({reason})", CORRUPT_HINT
            ) from None
        raise NotAVideoError(
            path, f"not a media file FFmpeg can read ({reason})", NOT_VIDEO_HINT
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise NotAVideoError(path, f"cannot be opened as media ({error})", NOT_VIDEO_HINT) from None
    if not container.streams.video:
        kinds = sorted({stream.type for stream in container.streams}) or ["no"]
        container.close()
        raise NotAVideoError(
            path, f"has no video stream ({', '.join(kinds)} streams only)", NOT_VIDEO_HINT
        )
    return container


@contextlib.contextmanager
def open_video(
    path: str | os.PathLike,
) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """Open a file's first video stream (:func:`open_container`); always closes it.

    Yields:
        ``(container, stream)``.

    Raises:
        VideoNotFoundError, NotAVideoError, CorruptVideoError: as :func:`open_container`.
    """
    with contextlib.closing(open_container(path)) as container:
        yield container, container.streams.video[0]
