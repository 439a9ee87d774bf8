"""Decoding runs of fixed segments into a clip's arrays (the engine of ``read_clip``).

:class:`SegmentDecoder` seeks to the keyframe at or before a run of segments, decodes
forward, and hands every frame, in display order, to one place (:meth:`_process`) that
fills the I stream, the motion field and the residual. What it must know about the
bitstream, and how it learns it:

- Display order. FFmpeg's decoders output frames in display order; a B-frame comes out
  before the later anchor it refers to, so B-frames wait in ``pending`` until the next
  anchor (I or P) has been output, and are then processed, still in display order.
- References. Past frames stay in ``history`` (av.VideoFrame, luma and colour converted on
  demand) for :data:`imrkit.codec.references.MAX_REFERENCE_DISTANCE` frames, so vectors can
  be scaled by their reference distance (:mod:`imrkit.codec.references`).
- Numbering. A frame's index comes from its timestamp
  (:class:`imrkit.codec.container.StreamTiming`), except for H.264 with B-frames in an
  AVI: AVI stores decoding times, and FFmpeg stamps each H.264 frame with its own
  packet's, so frames come out in display order stamped in decoding order (1, 2, 4, 5, 3,
  ...: measured). There frames are counted in output order from the IDR picture the read
  starts at, whose decoding and display index are the same (a closed GOP: whatever comes
  before it in one order comes before it in the other); each later IDR checks the count,
  and nothing is skipped before the clip. A keyframe that is not an IDR picture (an open
  GOP) cannot be numbered that way: a seek that lands on one is retried from the start of
  the file (and so are that file's later reads); a stream that does not start with an
  IDR picture is refused (:class:`imrkit.errors.UnsupportedVideoError`).
- Keyframes. A container's keyframe flags are checked before they are relied on: FFmpeg's
  AVI demuxer flags every H.263 packet a keyframe (the file's index flags only the
  I-frames, measured), and a file remuxed from such an AVI keeps those flags in its own
  index. A seek that lands on a frame that is not an I-frame is retried from the start of
  the file, and later reads of that file start there.
- Cost. Frames after the last sampled position of a segment are not decoded when nothing
  refers to them: their packets are held back, and dropped if the next packet is a
  keyframe (an MPEG-4 GOP-12 file decodes 11 frames per GOP) whose flag sets it apart from
  the tail (a tail flagged keyframe too proves nothing: it is decoded). Should the frame
  after a drop not be an I-frame after all, the run is read again without dropping. Inside
  a long GOP the tails are decoded after all. Frames decoded only to rebuild references
  (more than MAX_REFERENCE_DISTANCE before the clip) get no bookkeeping at all. Only the
  frames a stream needs are converted to RGB, on one thread, and used where the converter
  left them (a strided view, no copy; :func:`_rgb`).
- End of stream. FFmpeg's MPEG-1/2/4 and H.263-family decoders hold the last anchor (I or
  P) back until the next one is decoded, and export a frame's motion vectors when they
  output it then, but not when a flush drains it (measured, FFmpeg 8: the last frame of
  such a stream with B-frames, or of any MPEG-1/2 stream, has no side data after a flush;
  the decoders' flush path skips the export). So at the end of the stream the last
  keyframe's packet is sent again instead of the flush: decoding it outputs the held
  anchor the ordinary way, vectors and all (its pixels are a flushed one's: measured), and
  the picture decoded from the copy (stamped ``_RESENT``) is dropped. FFmpeg's H.264
  decoder exports vectors from a flush too (measured): it is flushed.
- Damage. A frame FFmpeg flags corrupt (it concealed lost data) from the keyframe the read
  starts at on is damage, like a decoding failure: the clip is built from it or from
  frames predicted from it.
- Output grid. Without views the streams are full frames. With
  :class:`imrkit.codec.crop.OutputView` s they are written straight onto each view's grid
  (motion resampled from the cells, residual computed inside the boxes only).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from imrkit.codec.container import CORRUPT_HINT, StreamTiming
from imrkit.codec.crop import OutputView, crop_resize_into, resample_motion, union_region
from imrkit.codec.motion import BlockMotion, MotionAccumulator
from imrkit.codec.pictures import (
    SINGLE_REFERENCE_CODECS,
    ZERO_B_VECTOR_CODECS,
    h264_is_idr,
    h264_is_reference,
    h264_length_size,
    is_anchor,
    luma,
    motion_side_data,
    picture_type,
)
from imrkit.codec.references import MAX_REFERENCE_DISTANCE, Candidate, frame_motion, padded_luma
from imrkit.codec.residual import MotionCompensator, accumulated_residual, as_rgba
from imrkit.errors import CorruptVideoError, UnsupportedVideoError

# Consecutive inter frames without motion side data that mean the vectors are gone (one
# all-intra frame is a scene cut; a run of them is a stream that stopped exporting).
VANISHED_AFTER = 3
# FFmpeg attaches no side data to an inter frame whose blocks are all intra, and an encoder
# codes such frames when nothing predicts them (x264 on uncorrelated frames: every P-frame).
# They cost about a keyframe's bits (measured, x264: 0.69-0.76x the keyframe's packet, a
# predicted P-frame 0.06-0.09x), so a vectorless inter frame counts towards VANISHED_AFTER
# only when its packet is smaller than this share of the last keyframe's: predicted, yet
# without vectors.
INTRA_SHARE = 0.25
_SEEK_ATTEMPTS = 3
# The timestamp of the keyframe packet sent again at the end of stream (see the module
# docstring): after every real one, so the picture decoded from it is known and dropped.
_RESENT = 2**62


class _FalseKeyframe(Exception):
    """A packet flagged keyframe decoded to a picture that is not an I-frame."""


_UNREAD = object()  # side data not looked up yet


@dataclass
class _Picture:
    """A decoded frame kept while later frames may refer to it."""

    index: int
    kind: str
    frame: av.VideoFrame
    is_reference: bool = True
    packet_bytes: int | None = None  # the size of the packet it was decoded from
    _side_data: object = _UNREAD
    _luma: np.ndarray | None = None
    _vectors: np.ndarray | None = None

    @property
    def side_data(self):
        """The frame's MOTION_VECTORS side data (or None), looked up on first use: the
        reference frames decoded before a clip never need it."""
        if self._side_data is _UNREAD:
            self._side_data = motion_side_data(self.frame)
        return self._side_data

    @property
    def vectors(self) -> np.ndarray | None:
        """The block vectors (PyAV's structured array), converted on first use: most
        decoded frames are never sampled, and the conversion costs as much as a resize."""
        if self._vectors is None and self.side_data is not None:
            self._vectors = self.side_data.to_ndarray()
        return self._vectors

    def padded_luma(self) -> np.ndarray:
        if self._luma is None:
            self._luma = padded_luma(luma(self.frame))
        return self._luma


class SegmentDecoder:
    """Decodes runs of segments into preallocated clip arrays (one per ``read_clip``).

    Args:
        path: the file (for error messages).
        container, stream: the open video.
        p_positions: sampled positions within a segment.
        accumulate: trace motion and residual back to the segment's first frame.
        gop_size: frames per segment.
        views: write the streams on these output grids (all of one size) instead of full
            frames: arrays get a leading view axis V.
    """

    def __init__(
        self,
        path: str,
        container,
        stream,
        p_positions: tuple[int, ...],
        accumulate: bool,
        gop_size: int,
        views: tuple[OutputView, ...] = (),
    ):
        self.path, self.container, self.stream = path, container, stream
        self.p_positions, self.accumulate, self.gop_size = p_positions, accumulate, gop_size
        self.last_position = p_positions[-1]
        self.timing = StreamTiming.of(stream, container)  # an AVI is rewound
        context = stream.codec_context
        self.height, self.width = context.height, context.width
        self.single_reference = context.name in SINGLE_REFERENCE_CODECS
        self.zero_b_vectors = context.name in ZERO_B_VECTOR_CODECS
        # H.264 marks the pictures others may refer to: only those are candidates.
        self.h264_length_size = (
            h264_length_size(context.extradata) if context.name == "h264" else None
        )
        self.references: dict[int, bool] = {}  # packet pts -> is a reference picture
        self.packet_bytes: dict[int, int] = {}  # packet pts -> its size
        self.keyframe_bytes = 0  # the last keyframe packet's size
        self.reordered = bool(context.has_b_frames)
        # Decoders that export no vectors for the frame a flush drains (module docstring).
        self.resend_at_end = self.reordered and context.name in SINGLE_REFERENCE_CODECS
        # H.264 frames stamped in decoding order: counted in output order from an IDR.
        self.counted = self.reordered and self.timing.decoding_times and context.name == "h264"
        self.idr_stamps: set[int] = set()  # keyframe packets' pts that are IDR pictures
        # Whether a read may seek, and drop held tails at keyframes, until a frame proves
        # otherwise (module docstring, Keyframes and Numbering).
        self.seekable = True
        self.drops_tails = True
        self.sample_slot = {position: slot for slot, position in enumerate(p_positions)}
        # One reformatter per use keeps FFmpeg's converter (sws) context alive across frames
        # instead of rebuilding it for every frame. References are converted to rgb24 too:
        # swscale's rgba output garbles the last 4 columns of frames whose width is 4 mod 8
        # (measured at 340 px, CoViAR's width), so RGBA is made from RGB by OpenCV.
        self.to_rgb, self.to_reference = VideoReformatter(), VideoReformatter()
        if accumulate:
            self.accumulator = MotionAccumulator(self.height, self.width)
        else:
            self.accumulator, self.compensator = None, MotionCompensator(self.height, self.width)
        self.views = views
        if views:
            self.region = union_region(views)
            # The views' boxes relative to the region where residuals are computed.
            rows, cols = self.region
            self.region_views = [
                dataclasses.replace(v, top=v.top - rows.start, left=v.left - cols.start)
                for v in views
            ]
        self.frame_indices: list[int] = []
        self.frame_types: list[str] = []
        self.coded_types: list[str] = []
        self.segments_done = 0
        self.num_decoded = 0
        self.demuxed = False  # whether the container has moved from where it was opened

    def keep_segments(self, count: int) -> None:
        """Drop everything after the first ``count`` complete segments (a read cut short
        by damage)."""
        num_p = len(self.p_positions)
        axis = 1 if self.views else 0
        self.iframes = np.take(self.iframes, range(count), axis=axis)
        self.motion = np.take(self.motion, range(count * num_p), axis=axis)
        self.residual = np.take(self.residual, range(count * num_p), axis=axis)
        del self.frame_indices[count * (1 + num_p) :]
        del self.frame_types[count * (1 + num_p) :]
        del self.coded_types[count * (1 + num_p) :]
        del self.block_motions[count * num_p :]

    def finish(self) -> None:
        """Complete the arrays once every segment is read (the views' batched motion)."""
        if self.views and self.accumulator is None:
            for view, motion in zip(self.views, self.motion, strict=True):
                resample_motion(self.block_motions, view, motion)

    def allocate(self, num_segments: int) -> None:
        height, width, num_p = self.height, self.width, len(self.p_positions)
        if self.views:
            height = width = self.views[0].size
        lead = (len(self.views),) if self.views else ()
        self.iframes = np.empty((*lead, num_segments, height, width, 3), np.uint8)
        self.motion = np.empty((*lead, num_segments * num_p, height, width, 2), np.float32)
        self.residual = np.empty((*lead, num_segments * num_p, height, width, 3), np.int16)
        self.block_motions: list[BlockMotion] = []  # sampled frames', in clip order

    # -- one run of consecutive segments ------------------------------------------------

    def read_segments(self, first_segment: int, num_segments: int) -> None:
        """Seek before ``first_segment`` and fill the next ``num_segments`` segments."""
        done, entries, blocks = self.segments_done, len(self.frame_indices), len(self.block_motions)
        try:
            self._read_run(first_segment, num_segments)
        except _FalseKeyframe:
            # A dropped tail was needed: read the run again, decoding every tail. The arrays
            # are written by segment, so only the lists need to forget the first attempt.
            self.drops_tails = False
            self.segments_done = done
            for entries_list in (self.frame_indices, self.frame_types, self.coded_types):
                del entries_list[entries:]
            del self.block_motions[blocks:]
            self._read_run(first_segment, num_segments)

    def _read_run(self, first_segment: int, num_segments: int) -> None:
        first = first_segment * self.gop_size
        last = (first_segment + num_segments - 1) * self.gop_size + self.last_position
        self.first, self.last = first, last
        # Frames decoded before this one only rebuild the decoder's references: no clip
        # frame's candidate reference lies further back (in a long GOP most frames are such).
        self.reach = first - MAX_REFERENCE_DISTANCE - 1
        self.expected = first  # next frame _process must see
        self.history: dict[int, _Picture] = {}
        self.pending: list[_Picture] = []
        self.references.clear()
        self.packet_bytes.clear()
        self.vectorless_run = 0
        self.concealed_from = first  # frames whose concealment is damage (see _decode)
        for index, frame in self._decode(first, last):
            self._receive(index, frame)
            if self.expected > last:
                return
        for picture in self.pending:  # end of stream: B-frames without a later anchor
            self._process(picture, None)
        if self.expected <= last:
            raise CorruptVideoError(
                self.path,
                f"the stream ends at frame {self.expected}, before frame {last} (truncated file?)",
                CORRUPT_HINT,
            )

    def _receive(self, index: int, frame: av.VideoFrame) -> None:
        """Keep a frame as a possible reference; process it (and waiting B-frames) when its
        references have all been output."""
        is_reference = self.references.pop(frame.pts, True)
        if frame.is_corrupt and index >= self.concealed_from:
            # The decoder concealed lost data in a frame the clip is built from, or in one
            # of the references those frames are predicted from (directly or not).
            raise CorruptVideoError(
                self.path, f"damaged stream: frame {index} is corrupt (concealed)", CORRUPT_HINT
            )
        if index < self.reach:
            return  # no clip frame can refer to it, and its display slot is before the clip
        picture = _Picture(
            index, picture_type(frame), frame, is_reference, self.packet_bytes.pop(frame.pts, None)
        )
        self._check_vectors(picture)
        self.history[index] = picture
        oldest = min([index] + [p.index for p in self.pending]) - MAX_REFERENCE_DISTANCE - 1
        for old in [i for i in self.history if i < oldest]:
            del self.history[old]
        if self.reordered and not is_anchor(picture.kind):
            self.pending.append(picture)
            return
        for waiting in self.pending:
            self._process(waiting, picture)
        self.pending.clear()
        self._process(picture, None)

    def _check_vectors(self, picture: _Picture) -> None:
        if picture.kind == "I" or picture.index < self.first:
            return
        if picture.side_data is not None or self._all_intra(picture):
            self.vectorless_run = 0
            return
        self.vectorless_run += 1
        if self.vectorless_run >= VANISHED_AFTER:
            start = picture.index - VANISHED_AFTER + 1
            raise CorruptVideoError(
                self.path,
                f"motion vectors vanish at frame {start}: {VANISHED_AFTER} inter frames in a "
                "row carry none",
                "re-encode it with `imrkit prepare`",
            )

    def _all_intra(self, picture: _Picture) -> bool:
        """Whether a vectorless inter frame costs the bits of an all-intra one."""
        size = picture.packet_bytes
        return (
            size is not None
            and self.keyframe_bytes > 0
            and (size >= INTRA_SHARE * self.keyframe_bytes)
        )

    # -- what each frame contributes ----------------------------------------------------

    def _process(self, picture: _Picture, next_anchor: _Picture | None) -> None:
        index = picture.index
        position = index % self.gop_size
        if index < self.first or index > self.last or position > self.last_position:
            return
        if index != self.expected:
            what = (
                f"frame {self.expected} is missing (got frame {index} after it)"
                if index > self.expected
                else f"frame {index} is out of order (expected frame {self.expected})"
            )
            raise CorruptVideoError(self.path, what, CORRUPT_HINT)
        self.expected = (
            index + 1 if position < self.last_position else index - position + self.gop_size
        )
        segment = self.segments_done
        if position == self.last_position:
            self.segments_done += 1
        if position == 0:
            self._take_segment_start(segment, picture)
            return
        slot = self.sample_slot.get(position)
        if slot is None and self.accumulator is None:
            return
        motion = self._motion(picture, next_anchor)
        if self.accumulator is not None:
            self.accumulator.step(motion)
        if slot is None:
            return
        current = _rgb(self.to_rgb, picture.frame)
        out = segment * len(self.p_positions) + slot
        if self.views:
            self._write_views(out, current, motion, index, position)
        elif self.accumulator is None:
            motion.dense(out=self.motion[out])
            self.compensator.set_reference(self._reference_rgb(index - 1, position - 1))
            self.compensator.residual(current, motion, out=self.residual[out])
        else:
            self.accumulator.displacement(out=self.motion[out])
            accumulated_residual(
                current, self._start_rgba(), self.accumulator.source_index(), out=self.residual[out]
            )
        self.frame_indices.append(index)
        self.frame_types.append("P")
        self.coded_types.append(picture.kind)

    def _write_views(
        self, out: int, current: np.ndarray, motion: BlockMotion, index: int, position: int
    ) -> None:
        """A sampled frame's motion and residual on every view's grid."""
        if self.accumulator is None:
            self.block_motions.append(motion)  # resampled in one batch by finish()
            self.compensator.set_reference(self._reference_rgb(index - 1, position - 1))
            residual = self.compensator.residual(current, motion, region=self.region)
        else:  # accumulated motion exists per pixel only: trace it at full size, then crop
            displacement = self.accumulator.displacement()
            for view, slot in zip(self.views, self.motion[:, out], strict=True):
                crop_resize_into(displacement, view, slot, view.motion_factors())
            source = self.accumulator.source_index()[self.region]
            residual = accumulated_residual(current[self.region], self._start_rgba(), source)
        for view, slot in zip(self.region_views, self.residual[:, out], strict=True):
            crop_resize_into(residual, view, slot)

    def _take_segment_start(self, segment: int, picture: _Picture) -> None:
        rgb = _rgb(self.to_rgb, picture.frame)
        if self.views:
            self.start_rgb = np.array(rgb)  # the next frame's reference (an own copy)
            for view, slot in zip(self.views, self.iframes[:, segment], strict=True):
                crop_resize_into(rgb, view, slot)
        else:
            self.start_rgb = self.iframes[segment]
            self.start_rgb[...] = rgb
        self.start_rgba = None  # converted on demand
        if self.accumulator is not None:
            self.accumulator.reset()
        self.frame_indices.append(picture.index)
        self.frame_types.append("I")
        self.coded_types.append(picture.kind)

    def _reference_rgb(self, index: int, position: int) -> np.ndarray:
        """RGB of the previous frame: the segment start's, or a fresh conversion."""
        if position == 0:
            return self.start_rgb
        frame = self.history[index].frame
        return _rgb(self.to_reference, frame)

    def _start_rgba(self) -> np.ndarray:
        if self.start_rgba is None:
            self.start_rgba = as_rgba(self.start_rgb)
        return self.start_rgba

    def _motion(self, picture: _Picture, next_anchor: _Picture | None) -> BlockMotion:
        """The frame's displacement from the previous displayed frame."""
        index, vectors = picture.index, picture.vectors
        if self.single_reference:
            anchors = [i for i, p in self.history.items() if i < index and is_anchor(p.kind)]
            if self.zero_b_vectors and not is_anchor(picture.kind):
                return self._direct_motion(next_anchor, max(anchors) if anchors else None)
        if vectors is None or len(vectors) == 0:
            return BlockMotion.zeros(self.height, self.width)
        if self.single_reference:
            past = [Candidate(index - max(anchors))] if anchors else []
            future = [Candidate(next_anchor.index - index)] if next_anchor is not None else []
            return frame_motion(vectors, self.height, self.width, past, future)
        horizon = index + MAX_REFERENCE_DISTANCE
        if next_anchor is not None:
            horizon = min(horizon, next_anchor.index)
        history = self.history
        past = [
            Candidate(d, history[index - d].padded_luma())
            for d in range(1, MAX_REFERENCE_DISTANCE + 1)
            if index - d in history and history[index - d].is_reference
        ]
        future = [
            Candidate(d, history[index + d].padded_luma())
            for d in range(1, horizon - index + 1)
            if index + d in history and history[index + d].is_reference
        ]
        return frame_motion(vectors, self.height, self.width, past, future, luma(picture.frame))

    def _direct_motion(
        self, next_anchor: _Picture | None, previous_anchor: int | None
    ) -> BlockMotion:
        """A B-frame's field when the decoder exports none: the next anchor's field per
        frame, as MPEG-4's direct mode predicts a B-frame from the co-located vectors."""
        if next_anchor is None or previous_anchor is None:
            return BlockMotion.zeros(self.height, self.width)
        distance = Candidate(next_anchor.index - previous_anchor)
        return frame_motion(next_anchor.vectors, self.height, self.width, [distance], [])

    # -- decoding -----------------------------------------------------------------------

    def _decode(self, first: int, last: int) -> Iterator[tuple[int, av.VideoFrame]]:
        """Frames from the keyframe at or before ``first`` on, in display order.

        A seek lands on the keyframe whose *decoding* timestamp precedes the target; with
        B-frames that can be a keyframe displayed after ``first``, and an MPEG-TS seek can
        land a keyframe later or past the end (measured). Then the seek is retried earlier,
        and finally from the start of the file. A seek that lands on a frame that is not an
        I-frame (keyframe flags that lie) is retried from the start at once, and so are
        this file's later reads.
        """
        target = first if self.seekable else 0
        for attempt in range(_SEEK_ATTEMPTS):
            frames = self._frames_after_seek(target, first, last)
            # Frames up to the first I-frame (open-GOP leading B-frames come before it).
            head = []
            for item in frames:
                head.append(item)
                if picture_type(item[1]) == "I" or len(head) > MAX_REFERENCE_DISTANCE:
                    break
            if not head:  # past the end of the stream
                if target == 0:
                    return  # an empty stream: read_segments reports where it ended
                target = 0
                self.history.clear()
                continue
            landing = head[-1][0]
            # Without reordering the keyframe is the first frame out; with it, leading
            # B-frames may come first, but an I-frame follows them.
            on_keyframe = picture_type(head[-1][1]) == "I" and (self.reordered or len(head) == 1)
            if target == 0 or (on_keyframe and landing <= first):
                # Leading frames displayed before the keyframe may miss references from
                # before the seek: concealing them is expected; from the keyframe on, damage.
                self.concealed_from = min(landing, first)
                yield from head
                yield from frames
                return
            if not on_keyframe:
                self.seekable = False
                target = 0
            else:
                target = 0 if attempt == _SEEK_ATTEMPTS - 2 else max(0, 2 * first - landing - 16)
            self.history.clear()

    def _frames_after_seek(
        self, target: int, first: int, last: int
    ) -> Iterator[tuple[int, av.VideoFrame]]:
        """Decoded frames ``first..last`` in display order, after seeking to ``target``.

        One loop over packets on purpose (84 lines): the seek, the lying-keyframe check,
        the end-of-stream flush and the frame counting share its local state, and split
        into helpers they would pass six variables back and forth on the hot path.
        """
        container, stream, timing = self.container, self.stream, self.timing
        context = stream.codec_context
        gop_size, last_position = self.gop_size, self.last_position
        count = None
        last_keyframe = None  # sent again at the end of the stream (module docstring)
        check_keyframe = False  # a tail was dropped: the next frame must be an I-frame
        counted = self.counted
        try:
            # The container sits at its start (fresh, or rewound); anything else seeks.
            if target > 0 or self.demuxed:
                # From the start: timestamp 0 (or an earlier start), not the first frame's
                # own timestamp, on which an MPEG-TS seek lands a keyframe later (measured).
                offset = timing.pts(target) if target > 0 else min(0, timing.start)
                container.seek(offset, backward=True, any_frame=False, stream=stream)
                context.flush_buffers()
            self.demuxed = True
            held: list[av.Packet] = []  # a segment tail, decoded only if something needs it
            for packet in container.demux(stream):
                if self.reordered:
                    # Before the clip, frames nothing refers to (most B-frames) need not be
                    # decoded: the decoder skips them, which cheapens a clip deep in a GOP.
                    # (Not where frames are counted: a skipped frame would not be.)
                    before = packet.pts is not None and timing.index(packet.pts) < first
                    context.skip_frame = "NONREF" if before and not counted else "DEFAULT"
                elif packet.pts is not None:
                    index = timing.index(packet.pts)
                    if index > last:
                        return
                    if index >= first and index % gop_size > last_position:
                        held.append(packet)
                        continue
                    if held and packet.is_keyframe and self.drops_tails:
                        # Nothing from a keyframe on refers to the tail, if the flag is true:
                        # one that sets it apart from the tail's is trusted, and checked.
                        if not held[-1].is_keyframe:
                            held.clear()
                            check_keyframe = True
                if packet.is_keyframe:
                    self.keyframe_bytes = packet.size
                    last_keyframe = packet
                    if counted and h264_is_idr(bytes(packet), self.h264_length_size):
                        self.idr_stamps.add(packet.pts)
                if packet.pts is not None and timing.index(packet.pts) >= self.reach:
                    self.packet_bytes[packet.pts] = packet.size
                    if self.h264_length_size is not None:
                        self.references[packet.pts] = h264_is_reference(
                            bytes(packet), self.h264_length_size
                        )
                queue, at_end = (*held, packet), False
                if self.resend_at_end and packet.size == 0 and last_keyframe is not None:
                    queue, at_end = (_resent(last_keyframe), packet), True  # then the flush
                for queued in queue:
                    decoded = stream.decode(queued)
                    if at_end:  # the picture decoded from the copy is no frame of the video
                        decoded = [frame for frame in decoded if frame.pts != _RESENT]
                    if check_keyframe and decoded:  # the frame of the packet after a drop
                        if picture_type(decoded[0]) != "I":
                            raise _FalseKeyframe
                        check_keyframe = False
                    for frame in decoded:
                        self.num_decoded += 1
                        if counted:
                            count = self._counted_index(frame, count, target)
                            if count is None:  # landed in an open GOP: read from the start
                                self.seekable = False
                                return
                        elif frame.pts is not None:
                            count = timing.index(frame.pts)
                        elif count is None:
                            raise CorruptVideoError(
                                self.path, "frames carry no timestamps", CORRUPT_HINT
                            )
                        else:
                            count += 1
                        yield count, frame
                held.clear()
        except av.FFmpegError as error:
            where = f"after frame {count}" if count is not None else f"before frame {first}"
            raise CorruptVideoError(
                self.path, f"damaged stream: decoding failed {where} ({error})", CORRUPT_HINT
            ) from None

    def _counted_index(self, frame: av.VideoFrame, count: int | None, target: int) -> int | None:
        """The display index of an H.264 frame stamped in decoding order: an IDR picture's
        own, the previous frame's + 1 otherwise (module docstring, Numbering); None for
        the first frame after a seek that is not an IDR picture."""
        if frame.pts in self.idr_stamps:
            index = self.timing.index(frame.pts)
            if count is not None and index != count + 1:
                raise CorruptVideoError(
                    self.path,
                    f"frames are missing before frame {index} ({count + 1} counted)",
                    CORRUPT_HINT,
                )
            return index
        if count is None and target > 0:
            return None
        if count is None:
            raise UnsupportedVideoError(
                self.path,
                "H.264 with B-frames in AVI that does not start with an IDR picture: AVI "
                "stores decoding times only, and its frames cannot be numbered",
            )
        return count + 1


def _rgb(reformatter: VideoReformatter, frame: av.VideoFrame) -> np.ndarray:
    """The frame in RGB, uint8 (H x W x 3): a view of the converted frame's buffer (rows
    strided by its line size, no copy), converted on one thread. swscale's default (0:
    as many threads as cores) splits a 340x256 frame into slices whose hand-offs cost more
    than they save, and competes with the other DataLoader workers (measured, issue 24:
    0.04-0.06 ms a frame on one thread against 0.07-0.10 with the default; same pixels)."""
    return reformatter.reformat(frame, format="rgb24", threads=1).to_ndarray()


def _resent(keyframe: av.Packet) -> av.Packet:
    """A copy of a keyframe packet stamped ``_RESENT`` (module docstring, End of stream)."""
    packet = av.Packet(bytes(keyframe))
    packet.pts = packet.dts = _RESENT
    return packet
