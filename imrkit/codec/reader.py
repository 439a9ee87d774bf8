"""Reading compressed clips: I-frames, motion vectors and residuals (SPEC section 1).

A clip is ``num_gops`` consecutive GOPs of an MPEG-4 Part 2 video (12 frames each, no
B-frames). From each GOP we return its I-frame (RGB) and, for the P-frames at
``p_positions`` (default 2, 4, 6, 8, 10: the paper's "stride 2" data layer), a dense motion
field and a residual, both relative to the codec's reference (frame k-1), or traced back to
the I-frame with ``accumulate=True`` (CoViAR).

How it reads: the container is seeked straight to the first GOP's I-frame (never decoded
from the start of the file), every frame of the GOP up to the last sampled position is
decoded (a P-frame needs its predecessor), but only the frames a stream needs are converted
to RGB, and motion/residuals are built only at the sampled positions. Frames after the last
sampled position in a GOP are not even decoded: nothing depends on them.

Short videos: by default a clip that runs past the last GOP raises
:class:`imrkit.errors.VideoTooShortError`. With ``loop=True`` GOP indices wrap around
(GOP ``g`` reads GOP ``g % num_gops``), so a 3-GOP video yields the 5-GOP clip
0, 1, 2, 0, 1 (each wrap is one more seek).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from imrkit.codec.container import StreamTiming, open_video
from imrkit.codec.encode import GOP_SIZE
from imrkit.codec.motion import MotionAccumulator, block_motion
from imrkit.codec.residual import MotionCompensator, accumulated_residual, as_rgba
from imrkit.errors import CorruptVideoError, UnsupportedVideoError, VideoTooShortError

P_POSITIONS = (2, 4, 6, 8, 10)
SUPPORTED_CODEC = "mpeg4"
PICT_I, PICT_P, PICT_B = 1, 2, 3  # frame.pict_type values (plain ints since PyAV 14)
_PICT_NAMES = {PICT_I: "I", PICT_P: "P", PICT_B: "B"}


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` learns about a video without decoding it.

    Attributes:
        path: the file.
        width, height: frame size in pixels.
        num_frames: frames in the stream.
        num_gops: GOPs (I-frames), the last one possibly incomplete.
        fps: frames per second.
        codec: FFmpeg decoder name (``mpeg4`` is what imrkit reads).
        gop_size: frames between the first two I-frames (the whole video if it has one;
            if none follows within the first 2000 packets, 2000, a lower bound).
        has_b_frames: the stream reorders frames (B-frames), which imrkit cannot read.
    """

    path: str
    width: int
    height: int
    num_frames: int
    num_gops: int
    fps: float
    codec: str
    gop_size: int
    has_b_frames: bool = False

    def usable_gops(self, p_positions: Sequence[int] = P_POSITIONS) -> int:
        """GOPs :func:`read_clip` can read: complete ones, plus a last partial GOP that
        still reaches the last sampled P position."""
        return usable_gops(self.num_frames, max(p_positions))

    def problems(self, gop_size: int = GOP_SIZE) -> list[str]:
        """Why :func:`read_clip` would refuse this video (empty if it reads fine)."""
        found = []
        if self.codec != SUPPORTED_CODEC:
            found.append(f"codec is {self.codec}, not MPEG-4 Part 2 ({SUPPORTED_CODEC})")
        if self.has_b_frames:
            found.append("it has B-frames")
        if self.gop_size != gop_size and self.num_frames > self.gop_size:
            found.append(f"GOP size is {self.gop_size}, not {gop_size}")
        return found


@dataclass
class CompressedClip:
    """The three streams of one clip (SPEC section 1), as numpy arrays.

    With G = ``num_gops`` and P = ``len(p_positions)`` (5 by default):

    Attributes:
        path: the video file.
        start_gop: the GOP the clip was asked to start at.
        num_gops: G.
        iframes: uint8 (G x H x W x 3) RGB I-frames.
        motion: float32 (G*P x H x W x 2), (x, y) pixels: displacement of content from the
            reference frame to this P-frame (content moving right has x > 0). The reference
            is frame k-1, or the GOP's I-frame if ``accumulate``.
        residual: int16 (G*P x H x W x 3): P-frame minus its motion-compensated
            prediction from the same reference, RGB, in [-255, 255].
        frame_indices: int64 (G*(1+P),): video frame index of each I-frame followed by its
            sampled P-frames, GOP after GOP.
        frame_types: 'I'/'P' per entry of ``frame_indices``.
        gop_indices: int64 (G,): the GOPs actually read (they wrap around with ``loop``).
        p_positions: positions of the sampled P-frames within a GOP.
        accumulate: whether motion and residual are traced back to the I-frame.
        num_decoded: frames the decoder produced to read the clip (a cost diagnostic: with
            seeking it is G * (last position + 1), however late the clip starts).
    """

    path: str
    start_gop: int
    num_gops: int
    iframes: np.ndarray
    motion: np.ndarray
    residual: np.ndarray
    frame_indices: np.ndarray
    frame_types: np.ndarray
    gop_indices: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    p_positions: tuple[int, ...] = P_POSITIONS
    accumulate: bool = False
    num_decoded: int = 0

    @property
    def height(self) -> int:
        return self.iframes.shape[1]

    @property
    def width(self) -> int:
        return self.iframes.shape[2]


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe a video from its container metadata and a scan of its first packets.

    Nothing is decoded, so this is cheap even for long videos. Any readable video is
    described (an H.264 source as much as a prepared file); use
    :meth:`VideoInfo.problems` to ask whether :func:`read_clip` can read it.

    Raises:
        VideoError: missing, empty, non-media, corrupt, or no video stream.
    """
    path = os.fspath(path)
    with open_video(path) as (container, stream):
        context = stream.codec_context
        num_frames = stream.frames
        keyframes, reordered, scanned, finished = [], False, 0, False
        last_pts = None
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if packet.is_keyframe:
                    keyframes.append(scanned)
                if packet.pts is not None:
                    reordered |= last_pts is not None and packet.pts < last_pts
                    last_pts = packet.pts if last_pts is None else max(last_pts, packet.pts)
                scanned += 1
                # Three I-frames give the GOP size; with a frame count from the container
                # there is no need to read further.
                if num_frames and (len(keyframes) >= 3 or scanned >= 2000):
                    break
            else:
                finished = True
        except av.FFmpegError as error:
            raise CorruptVideoError(path, f"damaged packets after {scanned} ({error})") from None
        if finished and not num_frames:
            num_frames = scanned
        if num_frames == 0:
            raise CorruptVideoError(path, "its video stream holds no frames")
        if len(keyframes) >= 2:
            gop_size = keyframes[1] - keyframes[0]
        else:  # one I-frame in the whole video, or in the first 2000 packets (a lower bound)
            gop_size = num_frames if finished else scanned
        return VideoInfo(
            path=path,
            width=context.width,
            height=context.height,
            num_frames=num_frames,
            num_gops=-(-num_frames // gop_size),
            fps=float(StreamTiming.of(stream).fps),
            codec=context.name,
            gop_size=gop_size,
            has_b_frames=bool(context.has_b_frames) or reordered,
        )


def read_clip(
    path: str | os.PathLike,
    start_gop: int = 0,
    num_gops: int = 5,
    *,
    accumulate: bool = False,
    p_positions: Sequence[int] = P_POSITIONS,
    loop: bool = False,
) -> CompressedClip:
    """Read a clip of consecutive GOPs straight from the compressed stream.

    Args:
        path: an MPEG-4 Part 2 video with 12-frame GOPs and no B-frames
            (``imrkit prepare`` makes one from anything).
        start_gop: first GOP of the clip (0-based).
        num_gops: GOPs in the clip (T in the paper).
        accumulate: trace motion and residual back to each GOP's I-frame (CoViAR) instead
            of to the previous frame.
        p_positions: positions (1..11) of the P-frames to sample within each GOP.
        loop: wrap GOP indices around a video shorter than the clip instead of raising.

    Returns:
        A :class:`CompressedClip` (see there for layouts).

    Raises:
        VideoNotFoundError, NotAVideoError, CorruptVideoError: unreadable file.
        UnsupportedVideoError: another codec, B-frames, or GOPs that are not 12 frames.
        VideoTooShortError: fewer usable GOPs than the clip needs (and ``loop`` is off).
        ValueError: nonsensical arguments (negative start, empty clip, bad positions).
    """
    path = os.fspath(path)
    p_positions = tuple(int(p) for p in p_positions)
    if num_gops < 1 or start_gop < 0:
        raise ValueError(f"need num_gops >= 1 and start_gop >= 0, got {num_gops}, {start_gop}")
    if (
        not p_positions
        or sorted(set(p_positions)) != list(p_positions)
        or p_positions[0] < 1
        or p_positions[-1] >= GOP_SIZE
    ):
        raise ValueError(f"p_positions must increase within 1..{GOP_SIZE - 1}: {p_positions}")

    with open_video(path) as (container, stream):
        context = stream.codec_context
        if context.name != SUPPORTED_CODEC:
            raise UnsupportedVideoError(path, f"codec is {context.name}, not MPEG-4 Part 2")
        if context.has_b_frames:
            raise UnsupportedVideoError(path, "it has B-frames")
        num_frames = stream.frames or _count_frames(container, stream, path)
        gops = _clip_gops(path, num_frames, start_gop, num_gops, p_positions[-1], loop)
        # Motion vectors only exist if asked for before the first packet is decoded.
        context.options = {"flags2": "+export_mvs"}
        # One thread: clips are read in parallel by DataLoader workers instead.
        context.thread_count = 1
        reader = _ClipDecoder(path, container, stream, p_positions, accumulate)
        reader.allocate(len(gops))
        for run_start, run_length in _contiguous_runs(gops):
            reader.read_gops(run_start, run_length)
    return CompressedClip(
        path=path,
        start_gop=start_gop,
        num_gops=num_gops,
        iframes=reader.iframes,
        motion=reader.motion,
        residual=reader.residual,
        frame_indices=np.asarray(reader.frame_indices, np.int64),
        frame_types=np.asarray(reader.frame_types),
        gop_indices=np.asarray(gops, np.int64),
        p_positions=p_positions,
        accumulate=accumulate,
        num_decoded=reader.num_decoded,
    )


def _count_frames(container, stream, path: str) -> int:
    """Frames in a container that does not record the count: scan packets, rewind."""
    try:
        count = sum(1 for packet in container.demux(stream) if packet.size)
        container.seek(0, stream=stream)
    except av.FFmpegError as error:
        raise CorruptVideoError(path, f"damaged packets ({error})") from None
    if count == 0:
        raise CorruptVideoError(path, "its video stream holds no frames")
    return count


def usable_gops(num_frames: int, last_position: int = P_POSITIONS[-1]) -> int:
    """Readable GOPs in ``num_frames`` frames: a trailing partial GOP counts only if it
    reaches ``last_position`` (the last sampled P-frame)."""
    return num_frames // GOP_SIZE + (num_frames % GOP_SIZE > last_position)


def _clip_gops(
    path: str, num_frames: int, start_gop: int, num_gops: int, last_position: int, loop: bool
) -> list[int]:
    """The GOP indices a clip reads, after the short-video policy."""
    usable = usable_gops(num_frames, last_position)
    if usable == 0:
        raise VideoTooShortError(
            path,
            f"has {num_frames} frames, less than one GOP ({last_position + 1} frames)",
            "use a longer video",
        )
    if loop:
        return [(start_gop + offset) % usable for offset in range(num_gops)]
    if start_gop + num_gops > usable:
        raise VideoTooShortError(
            path,
            f"has {usable} usable GOPs ({num_frames} frames); the clip needs GOPs "
            f"{start_gop}..{start_gop + num_gops - 1}",
        )
    return list(range(start_gop, start_gop + num_gops))


def _contiguous_runs(gops: list[int]) -> Iterator[tuple[int, int]]:
    """Split GOP indices into (first, length) runs read after one seek each."""
    first, length = gops[0], 1
    for gop in gops[1:]:
        if gop == first + length:
            length += 1
        else:
            yield first, length
            first, length = gop, 1
    yield first, length


class _ClipDecoder:
    """Decodes runs of GOPs into preallocated clip arrays (one instance per read_clip)."""

    def __init__(
        self, path: str, container, stream, p_positions: tuple[int, ...], accumulate: bool
    ):
        self.path, self.container, self.stream = path, container, stream
        self.p_positions, self.accumulate = p_positions, accumulate
        self.last_position = p_positions[-1]
        self.timing = StreamTiming.of(stream)
        self.height, self.width = stream.codec_context.height, stream.codec_context.width
        # RGB is needed for the I-frame and each sampled P-frame, RGBA (what the residual
        # gather reads) for the references of per-frame residuals; any other frame is
        # decoded but never converted.
        self.rgba_positions = set() if accumulate else {p - 1 for p in p_positions} - {0}
        self.sample_slot = {position: slot for slot, position in enumerate(p_positions)}
        # One reformatter per output format keeps FFmpeg's converter (sws) context alive
        # across frames instead of rebuilding it for every frame.
        self.to_rgb, self.to_rgba = VideoReformatter(), VideoReformatter()
        if accumulate:
            self.accumulator = MotionAccumulator(self.height, self.width)
        else:
            self.accumulator, self.compensator = None, MotionCompensator(self.height, self.width)
        self.frame_indices: list[int] = []
        self.frame_types: list[str] = []
        self.gops_done = 0
        self.num_decoded = 0

    def allocate(self, num_gops: int) -> None:
        height, width, num_p = self.height, self.width, len(self.p_positions)
        self.iframes = np.empty((num_gops, height, width, 3), np.uint8)
        self.motion = np.empty((num_gops * num_p, height, width, 2), np.float32)
        self.residual = np.empty((num_gops * num_p, height, width, 3), np.int16)

    def read_gops(self, first_gop: int, num_gops: int) -> None:
        """Seek to ``first_gop``'s I-frame and fill the next ``num_gops`` GOPs."""
        first = first_gop * GOP_SIZE
        last = (first_gop + num_gops - 1) * GOP_SIZE + self.last_position
        expected = first
        for index, frame in self._decode(first, last):
            if index != expected:
                raise CorruptVideoError(
                    self.path, f"frame {expected} is missing (got {index} after seeking to {first})"
                )
            self._take_frame(index, frame)
            expected = (
                index + 1
                if index % GOP_SIZE < self.last_position
                else index - index % GOP_SIZE + GOP_SIZE
            )
        if expected <= last:
            raise CorruptVideoError(
                self.path,
                f"the stream ends at frame {expected}, before frame {last} (truncated file?)",
            )

    def _decode(self, first: int, last: int) -> Iterator[tuple[int, av.VideoFrame]]:
        """Decoded frames ``first..last`` in order, skipping GOP tails nobody needs."""
        container, stream, timing = self.container, self.stream, self.timing
        try:
            # A fresh container already sits at frame 0; anything else seeks to the I-frame.
            if first > 0 or self.num_decoded > 0:
                container.seek(timing.pts(first), backward=True, any_frame=False, stream=stream)
                stream.codec_context.flush_buffers()
            count = None
            for packet in container.demux(stream):
                if packet.pts is not None:
                    index = timing.index(packet.pts)
                    if index > last:
                        return
                    # Frames after the last sampled position are referenced by nothing we
                    # read (the next GOP starts with an I-frame): do not decode them.
                    if index >= first and index % GOP_SIZE > self.last_position:
                        continue
                for frame in stream.decode(packet):
                    self.num_decoded += 1
                    if frame.pts is not None:
                        count = timing.index(frame.pts)
                    elif count is None:
                        raise CorruptVideoError(self.path, "frames carry no timestamps")
                    else:
                        count += 1
                    if count > last:
                        return
                    if count >= first:
                        yield count, frame
        except av.FFmpegError as error:
            where = f"after frame {count}" if count is not None else f"before frame {first}"
            raise CorruptVideoError(
                self.path, f"damaged stream: decoding failed {where} ({error})"
            ) from None

    def _take_frame(self, index: int, frame: av.VideoFrame) -> None:
        position = index % GOP_SIZE
        kind = _PICT_NAMES.get(int(frame.pict_type), "?")
        if kind == "B":
            raise UnsupportedVideoError(self.path, f"frame {index} is a B-frame")
        if (position == 0) != (kind == "I"):
            article = "an" if kind == "I" else "a"
            raise UnsupportedVideoError(
                self.path,
                f"frame {index} (position {position} of its GOP) is {article} "
                f"{kind}-frame: GOPs are not {GOP_SIZE} frames with one I-frame each",
            )
        gop = self.gops_done
        if position == self.last_position:
            self.gops_done += 1
        if position == 0:
            self.iframe_rgb = self.iframes[gop]
            self.iframe_rgb[...] = self.to_rgb.reformat(frame, format="rgb24").to_ndarray()
            self.iframe_rgba = None  # converted on demand
            if 1 in self.sample_slot and self.accumulator is None:
                self.compensator.set_reference(self.iframe_rgb)
            self.frame_indices.append(index)
            self.frame_types.append("I")
            if self.accumulator is not None:
                self.accumulator.reset()
            return

        slot = self.sample_slot.get(position)
        if slot is not None or self.accumulator is not None:
            vectors = frame.side_data.get("MOTION_VECTORS")
            motion = block_motion(
                None if vectors is None else vectors.to_ndarray(), self.height, self.width
            )
            if self.accumulator is not None:
                self.accumulator.step(motion)
        if slot is not None:
            current = self.to_rgb.reformat(frame, format="rgb24").to_ndarray()
            out = gop * len(self.p_positions) + slot
            if self.accumulator is None:
                motion.dense(out=self.motion[out])
                self.compensator.residual(current, motion, out=self.residual[out])
            else:
                self.accumulator.displacement(out=self.motion[out])
                accumulated_residual(
                    current,
                    self._iframe_rgba(),
                    self.accumulator.source_index(),
                    out=self.residual[out],
                )
            self.frame_indices.append(index)
            self.frame_types.append("P")
        if position in self.rgba_positions:  # the next sampled frame's reference
            self.compensator.set_reference(self.to_rgba.reformat(frame, format="rgba").to_ndarray())

    def _iframe_rgba(self) -> np.ndarray:
        if self.iframe_rgba is None:
            self.iframe_rgba = as_rgba(self.iframe_rgb)
        return self.iframe_rgba
