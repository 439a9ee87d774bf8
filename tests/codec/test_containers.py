"""read_clip where the container or FFmpeg's draining of the decoder misleads it: the last
anchor of a stream (output only when the decoder is drained), AVI's decoding times (MPEG
with B-frames, H.264 with B-frames), and keyframe flags that lie (H.263 in AVI, and files
remuxed from it). Each read is checked against a plain decode, the known motion, or the
same bitstream in an MP4."""

from __future__ import annotations

import av
import numpy as np
import pytest

from imrkit.codec.encode import encode_any
from imrkit.codec.reader import probe, read_clip

ALL_POSITIONS = tuple(range(1, 12))
STREAMS = ("iframes", "motion", "residual", "frame_indices", "coded_types")


def encode(path, frames, codec, b_frames, gop, options=None):
    options = options or {"g": str(gop), "bf": str(b_frames), "sc_threshold": "1000000000"}
    return encode_any(frames, path, codec=codec, gop_size=gop, b_frames=b_frames, options=options)


def x264(keyint: int, extra: str = "") -> dict[str, str]:
    params = f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=3:ref=3{extra}"
    return {"x264-params": params}


def remux(source, target, keyframe=None):
    """Copy a video stream's packets into another container; ``keyframe(index, packet)``
    overrides each packet's keyframe flag (the target's index is built from them)."""
    with av.open(str(source)) as reading, av.open(str(target), "w") as writing:
        stream = reading.streams.video[0]
        out = writing.add_stream_from_template(stream)
        index = 0
        for packet in reading.demux(stream):
            if packet.dts is None:
                continue
            if keyframe is not None:
                packet.is_keyframe = keyframe(index, packet)
            index += 1
            packet.stream = out
            writing.mux(packet)
    return target


def assert_same_clips(got, expected):
    for name in STREAMS:
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), err_msg=name)


# -- the end of the stream -------------------------------------------------------------


@pytest.mark.parametrize(
    "codec, b_frames, gop", [("mpeg4", 2, 250), ("mpeg2video", 2, 15), ("mpeg1video", 0, 15)]
)
def test_the_last_frames_of_a_stream_have_their_motion(tmp_path, synthetic, codec, b_frames, gop):
    """FFmpeg's MPEG decoders hold the last anchor back until the stream is drained, and
    export no vectors for a frame a flush drains (MPEG-1/2 hold it back even without
    B-frames): frame 71 of this pan, and MPEG-4's B-frame 70, which takes frame 71's
    field, came out with zero motion. The reader drains the decoder another way."""
    frames = synthetic.pan_frames(72, -2, 1)
    path = encode(tmp_path / f"{codec}.mp4", frames, codec, b_frames, gop)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"flags2": "+export_mvs"}
        *_, last = container.decode(stream)
    assert last.side_data.get("MOTION_VECTORS") is None  # the case under test (FFmpeg 8)
    clip = read_clip(path, 5, 1, p_positions=ALL_POSITIONS)
    assert clip.frame_indices[-1] == 71 and clip.coded_types[-1] == "P"
    errors = np.abs(clip.motion[:, 16:-16, 16:-16] - np.array([-2.0, 1.0])).mean(axis=(1, 2, 3))
    # Frames 70 and 71 as well as the rest (zero motion is 1.5 off; measured 0.00-0.27).
    assert errors[-2:].max() < 0.5 and errors.mean() < 0.4, errors
    decoded = synthetic.plain_decode(path)
    difference = decoded[71].astype(np.int16) - decoded[70]
    residual = clip.residual[-1].astype(float)
    assert np.mean(residual**2) < 0.5 * np.mean(difference.astype(float) ** 2)


# -- AVI: decoding times only ----------------------------------------------------------


@pytest.mark.parametrize("codec, gop", [("mpeg1video", 15), ("mpeg2video", 15), ("mpeg4", 30)])
def test_mpeg_with_b_frames_in_avi_reads_as_in_mp4(tmp_path, sprite_truth, synthetic, codec, gop):
    """FFmpeg stamps a freshly opened MPEG-1 AVI's first I-frame pts 0 and every later
    read's pts 1 (MPEG-2/4: 1 always): frames are numbered from 0 without a gap either way,
    and read as the same bitstream in an MP4."""
    frames, _ = sprite_truth
    avi = encode(tmp_path / f"{codec}.avi", frames, codec, 2, gop)
    mp4 = encode(tmp_path / f"{codec}.mp4", frames, codec, 2, gop)
    clip = read_clip(avi, 0, 3, p_positions=ALL_POSITIONS)
    assert clip.frame_indices.tolist() == list(range(36))
    assert_same_clips(clip, read_clip(mp4, 0, 3, p_positions=ALL_POSITIONS))
    np.testing.assert_array_equal(clip.iframes, synthetic.plain_decode(avi)[[0, 12, 24]])
    assert_same_clips(read_clip(avi, 1, 2), read_clip(mp4, 1, 2))


@pytest.mark.parametrize(
    "name, options",
    [("idr", x264(48)), ("open_gop", x264(24, ":open-gop=1"))],
)
def test_h264_with_b_frames_in_avi_reads_as_in_mp4(tmp_path, synthetic, name, options):
    """AVI stamps H.264 frames in decoding order (1, 2, 4, 5, 3, ...): they are counted in
    output order from an IDR picture and read as the same bitstream in an MP4, late clips
    included. A seek to an IDR decodes from there; an open GOP's keyframe is no IDR
    picture, so such a file is read from its start."""
    frames = synthetic.pan_frames(120, 1, -1, seed=6)
    avi = encode(tmp_path / f"{name}.avi", frames, "libx264", 3, 48, options)
    mp4 = encode(tmp_path / f"{name}.mp4", frames, "libx264", 3, 48, options)
    info = probe(avi)
    assert info.has_b_frames and info.problems() == []
    decoded = synthetic.plain_decode(avi)
    whole = read_clip(mp4, 0, 10, p_positions=ALL_POSITIONS)
    for start, count in [(0, 10), (8, 2), (4, 1)]:
        clip = read_clip(avi, start, count, p_positions=ALL_POSITIONS)
        np.testing.assert_array_equal(clip.iframes, decoded[12 * start : 12 * (start + count) : 12])
        assert "B" in set(clip.coded_types)
        if name == "idr":  # both seek to the IDR picture at or before the clip
            assert_same_clips(clip, read_clip(mp4, start, count, p_positions=ALL_POSITIONS))
        else:  # the AVI is read from its start: the MP4's sequential read
            entries, sampled = slice(12 * start, 12 * (start + count)), slice(11 * start, None)
            np.testing.assert_array_equal(clip.frame_indices, whole.frame_indices[entries])
            np.testing.assert_array_equal(clip.motion, whole.motion[sampled][: 11 * count])
            np.testing.assert_array_equal(clip.residual, whole.residual[sampled][: 11 * count])
        if start == 8:  # frames 96..119: from the IDR at 96, or from the start
            assert clip.num_decoded <= 24 if name == "idr" else clip.num_decoded >= 96


# -- keyframe flags that lie -----------------------------------------------------------


def test_h263_remuxed_with_every_packet_a_keyframe(tmp_path, synthetic):
    """An H.263 AVI remuxed into a MOV keeps FFmpeg's all-keyframe flags in the MOV's
    index, so seeks land on P-frames: the reader notices (not an I-frame) and reads from
    the start; every clip is the plain decode's."""
    frames = synthetic.pan_frames(120, 1, 0, seed=4)
    avi = encode(tmp_path / "h263.avi", frames, "h263", 0, 250)
    mov = remux(avi, tmp_path / "h263.mov")
    with av.open(str(mov)) as container:
        assert all(packet.is_keyframe for packet in container.demux(video=0) if packet.size)
    assert probe(mov).gop_size == 120  # from the picture headers, not the flags
    whole = read_clip(mov, 0, 10)
    np.testing.assert_array_equal(whole.iframes, synthetic.plain_decode(mov)[::12])
    for start in (3, 8):
        late = read_clip(mov, start, 2)
        np.testing.assert_array_equal(late.iframes, whole.iframes[start : start + 2])
        np.testing.assert_array_equal(late.motion, whole.motion[5 * start : 5 * start + 10])
        np.testing.assert_array_equal(late.residual, whole.residual[5 * start : 5 * start + 10])


def test_p_frames_flagged_keyframes_at_segment_starts(tmp_path, synthetic):
    """A long-GOP MPEG-4 file whose every 12th packet (a P-frame) is flagged a keyframe and
    the rest not: flags that look true. Dropping the held tail before such a 'keyframe'
    would decode frame 12 against frame 10; the reader sees frame 12 is no I-frame and
    reads again without dropping, and seeks that land on such frames read from the start.
    The clips are the ones of the same packets with true flags."""
    frames = synthetic.pan_frames(72, -2, 1, seed=8)
    true_flags = encode(tmp_path / "long.mp4", frames, "mpeg4", 0, 250)
    lying = remux(true_flags, tmp_path / "lying.mov", lambda index, _: index % 12 == 0)
    assert_same_clips(read_clip(lying, 0, 3), read_clip(true_flags, 0, 3))
    assert_same_clips(read_clip(lying, 3, 2), read_clip(true_flags, 3, 2))
    accumulated = read_clip(lying, 2, 3, accumulate=True)
    assert_same_clips(accumulated, read_clip(true_flags, 2, 3, accumulate=True))
