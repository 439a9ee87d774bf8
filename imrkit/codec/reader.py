"""Reading compressed clips: I-frames, motion vectors and residuals (SPEC section 1).

:func:`read_clip` reads MPEG-4 Part 2, H.263, MPEG-1/2 and H.264 videos as they are
distributed, and H.263's Microsoft and Sorenson variants (MS MPEG-4 v3 / DivX 3, MS MPEG-4
v2, WMV 7/8, FLV1): any GOP length (H.264's keyint 250 included), scene-cut I-frames,
B-frames and several reference frames. HEVC, VP9 and AV1 export no motion vectors; they and
other codecs raise :class:`imrkit.errors.UnsupportedVideoError`, which names the codec
(``imrkit prepare`` re-encodes them).

**Segments.** A clip is ``num_gops`` consecutive segments of ``gop_size`` frames (12, what
the model expects) in display order, whatever the codec's own GOPs: segment ``g`` holds
frames ``12 g .. 12 g + 11``. For an ``imrkit prepare`` output (MPEG-4, 12-frame GOPs, no
B-frames) segments are the codec's GOPs and everything below reduces to the codec's own
vectors, frame k against frame k-1, exactly as before.

- I stream: the decoded RGB of each segment's first frame, however the bitstream coded it
  (I, P or B).
- Motion of a sampled frame (positions ``p_positions``, default 2, 4, 6, 8, 10): the
  displacement of content from the previous displayed frame, built from the frame's own
  vectors (:mod:`imrkit.codec.references`):

  - a vector whose reference lies ``d`` frames in the past counts ``v / d`` (a P-frame
    after two B-frames, or an H.264 P-frame using its third reference);
  - a B-frame's future-reference vector (``source = +1``), ``d`` frames ahead, counts
    ``-v / d``;
  - ``d`` is the distance to the previous (next) anchor for MPEG-1/2/4 and the H.263
    family, whose predicted frames have one reference per direction; for H.264 it is found
    by trying each candidate: every reference picture (``nal_ref_idc`` > 0) up to 8 frames
    away in the vector's direction (a B-frame's future candidates stop at the next anchor).
    The block displaced by its vector (rounded to whole pixels) is compared with each
    candidate's luma (mean absolute difference on every second pixel and row); the best
    match is the reference, the nearest one on a tie (static or flat content, where the
    choice does not change the field);
  - MPEG-4 Part 2 B-frames: FFmpeg's decoder exports a zero vector for every B-frame
    block (measured), so a B-frame takes the next anchor's field scaled per frame, as
    MPEG-4's direct mode predicts it from the co-located vectors; this misses motion
    that is not constant over the anchor interval (sprite edges: 0.5 px mean error on
    the test sprite, against 0.24 px for MPEG-2's own B vectors and < 0.01 px for
    H.264);
  - a bi-predicted block takes the better-matching (H.264) or nearer (others) of its two
    estimates; intra blocks, and frames the codec coded as I-frames, have zero motion;
  - units: pixels at the codec's precision divided by ``d`` (half-pel for MPEG-2/4,
    quarter-pel for H.264), so a scaled vector can be a fraction of a pixel.

- Residual of a sampled frame: the frame minus the previous displayed frame warped by that
  per-frame field (nearest pixel, RGB: :mod:`imrkit.codec.residual`). This is what the
  per-frame field leaves unexplained, not the residual the codec coded: where the codec's
  prediction differs from one-reference compensation (another reference frame, averaged
  bi-prediction, weighted prediction, quarter-pel interpolation, H.264's deblocking
  filter, intra blocks) the difference lands in the residual, and so does the rounding of
  scaled fractional vectors to whole pixels. Measured on a generated 2 px/frame pan
  (tests/codec/test_formats.py), residual energy / frame-difference energy is 0.03 for
  MPEG-4 GOP-12 and for H.264 with or without B-frames, 0.24 for MPEG-2 with B-frames and
  0.29 for MPEG-4 with B-frames; on the benchmark's natural-like content see BENCHMARKS.md
  (codecs). What each H.264 tool adds, x264 on that pan (one reference, no deblocking:
  0.0292): deblocking +0.0001, 3 references +0.0003, 3 B-frames (bi-prediction, future
  references) +0.007. A fade's change of brightness stays in the residual whether or not
  the codec predicted it with weights (2 % per frame: 0.0555 without weighted prediction,
  0.0549 with).
- ``accumulate=True`` chains the per-frame fields back to the segment's first frame
  (CoViAR) and takes the residual against it. The chain sums each pixel's per-frame
  displacements along its path, so every frame whose field falls short there (intra blocks,
  a codec I-frame inside the segment: zero motion) shortens all later accumulated fields:
  on the MPEG-1/2 B-frame sprite 1.6-1.7 px of the true (20, 10) at position 10, against
  0.23-0.25 px per frame (tests/codec/test_more_codecs.py).

**Damage.** A stream the decoder cannot decode, or a frame it had to conceal (FFmpeg flags
it corrupt) from the keyframe the clip decodes from on, raises
:class:`imrkit.errors.CorruptVideoError`; ``until_damage=True`` returns the complete
segments before it instead. H.264 and MPEG carry no checksum, so damage that still parses
as a valid bitstream cannot be detected by any reader: of 8 random 200-byte damages to a
test file, 4 failed to decode, 3 were concealed frames, and 1 decoded silently (a wrong
clip). A run of :data:`imrkit.codec.decoder.VANISHED_AFTER` inter frames without vectors
is a stream that stopped exporting them (an error) unless those frames cost the bits of
all-intra frames (content nothing predicts: zero motion, the residual the frame
difference).

**How it reads.** The container is seeked to the keyframe at or before the clip's first
frame, and decoding runs forward (a frame needs its references); before the clip, frames
nothing refers to (most B-frames) are skipped by the decoder. Frames after a segment's last
sampled position are skipped when the next packet is a keyframe (a 12-frame GOP) and decoded
otherwise (a long GOP). Containers that mislead are checked rather than trusted
(:mod:`imrkit.codec.decoder`): keyframe flags on frames that are not I-frames (H.263 in
AVI), AVI's decoding times (H.264 with B-frames is numbered in output order), and the last
anchor of an MPEG stream, whose vectors FFmpeg exports only if it is not flushed out. Only
the frames a stream needs are converted to RGB. The cost of a clip is the frames decoded,
``clip.num_decoded``: a clip inside a long GOP pays for the reference frames between the
keyframe and its start (BENCHMARKS.md, codecs).

**What it costs beyond the decoder** (issue 24; :mod:`imrkit.codec.stages` splits a read
into stages, ``imrkit bench loader --only reader`` prints them beside decord's RGB decode):
RGB conversion runs on one thread (swscale's default starts a thread per core), the
residual's prediction is one float-coordinate ``cv2.remap``, H.264's reference matching
sums all candidates' differences at once, and the prediction's coordinates, the prediction
and the matching's buffers are reused frame after frame (per read, or per thread) instead
of allocated afresh (a fresh frame-sized array is a fresh ``mmap`` whose page faults cost
as much as the work). The outputs are bit for bit those of the slower reader
(tests/codec/test_reader_reference.py).

**Straight onto the model's grid.** ``views=`` (:class:`imrkit.codec.crop.OutputView`: a crop
box, an output size, a flip) returns one clip per view whose streams are already cropped,
resized and flipped, motion rescaled: what ``read_clip`` + a transform give, computed where
the data is smallest (:mod:`imrkit.codec.crop`). The dataset's compact pipeline reads this
way.

**Short videos.** By default a clip that runs past the last segment raises
:class:`imrkit.errors.VideoTooShortError`. With ``loop=True`` segment indices wrap around
(segment ``g`` reads segment ``g % usable``), so a 3-segment video yields the 5-segment clip
0, 1, 2, 0, 1 (each wrap is one more seek).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import av
import numpy as np

from imrkit.codec.container import CORRUPT_HINT, StreamTiming, open_video
from imrkit.codec.crop import OutputView, check_views
from imrkit.codec.decoder import SegmentDecoder
from imrkit.codec.encode import GOP_SIZE
from imrkit.codec.pictures import (
    MOTION_VECTOR_CODECS,
    codec_label,
    codec_name,
    exports_no_vectors,
    h263_is_intra,
)
from imrkit.errors import CorruptVideoError, UnsupportedVideoError, VideoTooShortError

P_POSITIONS = (2, 4, 6, 8, 10)
PREPARE_HINT = "re-encode it with `imrkit prepare SRC_DIR DST_DIR`"


def _unsupported_codec(decoder: str) -> str:
    """Why a video in this decoder's codec is refused: the codec named (``"AV1 (decoder
    libdav1d)"``), whether it exports no vectors at all or only none that imrkit reads
    (RealVideo 1/2's decoders export vectors, measured, but the reader was never checked
    against known motion there), and the codecs it does read."""
    why = (
        "which exports no motion vectors"
        if exports_no_vectors(decoder)
        else "whose motion vectors imrkit does not read"
    )
    readable = ", ".join(codec_name(name) for name in MOTION_VECTOR_CODECS)
    return f"codec is {codec_label(decoder)}, {why} (read directly: {readable})"


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` learns about a video without decoding it.

    Attributes:
        path: the file.
        width, height: frame size in pixels.
        num_frames: frames in the stream.
        num_gops: GOPs (I-frames), the last one possibly incomplete.
        fps: frames per second.
        codec: FFmpeg decoder name; :func:`read_clip` reads those in
            :data:`imrkit.codec.pictures.MOTION_VECTOR_CODECS`.
        gop_size: the codec's GOP: frames between the first two I-frames (the whole video
            if it has one; if none follows within the first 2000 packets, 2000, a lower
            bound), from the container's keyframe flags, or for H.263 from each picture
            header (FFmpeg's AVI demuxer flags every H.263 packet a keyframe: measured).
            :func:`read_clip` cuts its own 12-frame segments whatever this is.
        has_b_frames: the stream reorders frames (B-frames).
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

    def usable_gops(
        self, p_positions: Sequence[int] = P_POSITIONS, gop_size: int = GOP_SIZE
    ) -> int:
        """Segments (GOPs of ``gop_size`` frames) :func:`read_clip` can read: complete
        ones, plus a last partial one that still reaches the last sampled P position."""
        return usable_gops(self.num_frames, max(p_positions), gop_size)

    def problems(self, gop_size: int = GOP_SIZE) -> list[str]:
        """Why :func:`read_clip` would refuse this video (empty if it reads it directly).

        Any GOP structure and B-frames read directly; another codec (HEVC, VP9, AV1, ...:
        named, not only its decoder) needs ``imrkit prepare``.
        """
        found = []
        if self.codec not in MOTION_VECTOR_CODECS:
            found.append(f"{_unsupported_codec(self.codec)}; {PREPARE_HINT}")
        if usable_gops(self.num_frames, P_POSITIONS[-1], gop_size) == 0:
            found.append(f"it has {self.num_frames} frames, less than one {gop_size}-frame GOP")
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
        frame_types: 'I'/'P' per entry of ``frame_indices``: its role in the clip (the
            segment's first frame, a sampled frame), whatever the codec coded.
        gop_indices: int64 (G,): the GOPs actually read (they wrap around with ``loop``).
        p_positions: positions of the sampled P-frames within a GOP.
        accumulate: whether motion and residual are traced back to the I-frame.
        num_decoded: frames the decoder produced to read the clip (a cost diagnostic: with
            12-frame GOPs it is G * (last position + 1), however late the clip starts;
            inside a long GOP it adds the frames from the keyframe to the clip).
        coded_types: the codec's picture type ('I', 'P', 'B', ...) per entry of
            ``frame_indices`` (empty for clips built by hand).
        damage: why the read stopped early (``until_damage=True`` on a damaged stream:
            ``num_gops`` is then the complete segments read before it); empty otherwise.
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
    coded_types: np.ndarray = field(default_factory=lambda: np.zeros(0, "<U2"))
    damage: str = ""

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
        h263 = context.name == "h263"
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                intra = h263_is_intra(memoryview(packet)[:8].tobytes()) if h263 else None
                if packet.is_keyframe if intra is None else intra:
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
    gop_size: int = GOP_SIZE,
    views: Sequence[OutputView] | None = None,
    until_damage: bool = False,
) -> CompressedClip | list[CompressedClip]:
    """Read a clip of consecutive segments straight from the compressed stream.

    (Over 80 lines on purpose: most of it is this docstring, over a linear body of checks,
    one decode pass and the assembly of the clip, each step already a function of its own.)

    Args:
        path: an MPEG-4 Part 2, H.263 (or a Microsoft or Sorenson variant), MPEG-1/2 or
            H.264 video, any GOP structure (the module docstring says how B-frames and
            reference distances are handled).
        start_gop: first segment (GOP of ``gop_size`` frames) of the clip (0-based).
        num_gops: segments in the clip (T in the paper).
        accumulate: trace motion and residual back to each segment's first frame (CoViAR)
            instead of to the previous frame.
        p_positions: positions (1..gop_size-1) of the frames to sample within each segment.
        loop: wrap segment indices around a video shorter than the clip instead of raising.
        gop_size: frames per segment (12, as the model expects).
        views: crops to read straight onto their output grids (all of one ``size``).
        until_damage: on a damaged or truncated stream, return the complete segments read
            before the damage (``clip.num_gops`` of them, ``clip.damage`` says what
            happened) instead of raising; damage before the first complete segment still
            raises.

    Returns:
        A :class:`CompressedClip` (see there for layouts), or with ``views`` a list of them,
        one per view, whose frames are ``size x size`` and whose motion is in output pixels.

    Raises:
        VideoNotFoundError, NotAVideoError, CorruptVideoError: unreadable file, damaged
            stream, or motion vectors that vanish mid-file.
        UnsupportedVideoError: a codec the reader does not read vectors from (HEVC, VP9,
            AV1...: they export none).
        VideoTooShortError: fewer usable segments than the clip needs (and ``loop`` is off).
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
        or p_positions[-1] >= gop_size
    ):
        raise ValueError(f"p_positions must increase within 1..{gop_size - 1}: {p_positions}")

    with open_video(path) as (container, stream):
        context = stream.codec_context
        if context.name not in MOTION_VECTOR_CODECS:
            raise UnsupportedVideoError(path, _unsupported_codec(context.name), PREPARE_HINT)
        num_frames = stream.frames or _count_frames(container, stream, path)
        segments = _clip_gops(
            path, num_frames, start_gop, num_gops, p_positions[-1], loop, gop_size
        )
        # Motion vectors only exist if asked for before the first packet is decoded.
        context.options = {"flags2": "+export_mvs"}
        # One thread: clips are read in parallel by DataLoader workers instead.
        context.thread_count = 1
        views = tuple(views or ())
        if views:
            check_views(views, context.height, context.width, path)
            if len({view.size for view in views}) > 1:
                raise ValueError(f"views must share one output size, got {views}")
        reader = SegmentDecoder(path, container, stream, p_positions, accumulate, gop_size, views)
        reader.allocate(len(segments))
        damage = ""
        try:
            for run_start, run_length in _contiguous_runs(segments):
                reader.read_segments(run_start, run_length)
        except CorruptVideoError as error:
            if not until_damage or reader.segments_done == 0:
                raise
            damage = error.reason
            segments = segments[: reader.segments_done]
            reader.keep_segments(len(segments))
        reader.finish()

    def clip(iframes, motion, residual) -> CompressedClip:
        return CompressedClip(
            path=path,
            start_gop=start_gop,
            num_gops=len(segments),
            iframes=iframes,
            motion=motion,
            residual=residual,
            frame_indices=np.asarray(reader.frame_indices, np.int64),
            frame_types=np.asarray(reader.frame_types),
            gop_indices=np.asarray(segments, np.int64),
            p_positions=p_positions,
            accumulate=accumulate,
            num_decoded=reader.num_decoded,
            coded_types=np.asarray(reader.coded_types),
            damage=damage,
        )

    if not views:
        return clip(reader.iframes, reader.motion, reader.residual)
    streams = zip(reader.iframes, reader.motion, reader.residual, strict=True)
    return [clip(iframes, motion, residual) for iframes, motion, residual in streams]


def _count_frames(container, stream, path: str) -> int:
    """Frames in a container that does not record the count: scan packets, rewind."""
    try:
        count = sum(1 for packet in container.demux(stream) if packet.size)
        container.seek(0, stream=stream)
    except av.FFmpegError as error:
        raise CorruptVideoError(path, f"damaged packets ({error})", CORRUPT_HINT) from None
    if count == 0:
        raise CorruptVideoError(path, "its video stream holds no frames", CORRUPT_HINT)
    return count


def usable_gops(
    num_frames: int, last_position: int = P_POSITIONS[-1], gop_size: int = GOP_SIZE
) -> int:
    """Readable segments (GOPs of ``gop_size``) in ``num_frames`` frames: a trailing
    partial one counts only if it reaches ``last_position`` (the last sampled frame).

    The one place this is counted: the reader, :meth:`VideoInfo.usable_gops` and the
    dataset all call it."""
    return num_frames // gop_size + (num_frames % gop_size > last_position)


def _clip_gops(
    path: str,
    num_frames: int,
    start_gop: int,
    num_gops: int,
    last_position: int,
    loop: bool,
    gop_size: int = GOP_SIZE,
) -> list[int]:
    """The segment indices a clip reads, after the short-video policy."""
    usable = usable_gops(num_frames, last_position, gop_size)
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
