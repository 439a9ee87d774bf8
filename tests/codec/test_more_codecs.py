"""read_clip on the rest of the codecs it reads directly, against the known motion of
generated videos (tests/codec/test_formats.py does H.264, MPEG-2 and MPEG-4): MPEG-1 with
B-frames, H.263, and H.263's Microsoft and Sorenson variants (MS MPEG-4 v3 / DivX 3, v2,
WMV 7/8, FLV1), each in the container it ships in; motion accumulated across B-frames; and
the codecs it refuses, named by codec rather than by decoder."""

from __future__ import annotations

import av
import numpy as np
import pytest

from imrkit.codec.encode import encode_any
from imrkit.codec.pictures import MOTION_VECTOR_CODECS, SINGLE_REFERENCE_CODECS
from imrkit.codec.reader import probe, read_clip
from imrkit.errors import UnsupportedVideoError

ALL_POSITIONS = tuple(range(1, 12))

# name -> (encoder, file extension, max B-frames, GOP, decoder PyAV reports). GOPs longer than
# the reader's 12-frame segments, so that later segments start inside a codec GOP.
CODECS = {
    "mpeg1_b": ("mpeg1video", "mpg", 2, 15, "mpeg1video"),  # an MPEG program stream
    "h263": ("h263", "3gp", 0, 30, "h263"),  # 128x96 is SQCIF, one of H.263's fixed sizes
    "msmpeg4": ("msmpeg4", "avi", 0, 30, "msmpeg4"),  # MS MPEG-4 v3 (DivX 3), fourcc MP43
    "msmpeg4v2": ("msmpeg4v2", "avi", 0, 30, "msmpeg4v2"),
    "wmv1": ("wmv1", "asf", 0, 30, "wmv1"),
    "wmv2": ("wmv2", "wmv", 0, 30, "wmv2"),  # .wmv is ASF too
    "flv": ("flv", "flv", 0, 30, "flv"),  # Sorenson H.263 (FLV1)
}
H263_FAMILY = [name for name in CODECS if name != "mpeg1_b"]
# Mean absolute error of the recovered sprite motion, px (measured, FFmpeg 8: MPEG-1 0.246;
# H.263 0.076; MS MPEG-4 v3 0.072, v2 0.069; WMV 7 0.067, WMV 8 0.072; FLV1 0.063). Frame 30
# is a codec I-frame, zero motion by design, which alone costs the H.263 family 0.045 of that
# (0.000-0.013 without it); MPEG-1's encoder also codes some sprite blocks of its P-frames
# intra (0.151 without frames 15 and 30), as MPEG-2's does (test_formats: 0.24).
MOTION_TOLERANCE = {name: 0.15 for name in H263_FAMILY} | {"mpeg1_b": 0.4}
# Residual energy / frame-difference energy on a pan (measured: MPEG-1 0.241; H.263 0.157;
# the variants 0.069-0.075). Baseline H.263 keeps vectors inside the picture (no
# unrestricted-vector mode), so the border blocks of a pan cannot follow it: 0.052 inside a
# 16-pixel border.
RESIDUAL_RATIO = {name: 0.15 for name in H263_FAMILY} | {"h263": 0.25, "mpeg1_b": 0.4}


def encode(path, frames, codec, b_frames, gop):
    options = {"g": str(gop), "bf": str(b_frames), "sc_threshold": "1000000000"}
    return encode_any(frames, path, codec=codec, gop_size=gop, b_frames=b_frames, options=options)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory, sprite_truth, synthetic):
    """name -> (sprite video, pan video) per codec."""
    folder = tmp_path_factory.mktemp("more_codecs")
    frames, _ = sprite_truth
    pan = synthetic.pan_frames(36, -2, 1)
    videos = {}
    for name, (codec, extension, b_frames, gop, _) in CODECS.items():
        videos[name] = (
            encode(folder / f"sprite_{name}.{extension}", frames, codec, b_frames, gop),
            encode(folder / f"pan_{name}.{extension}", pan, codec, b_frames, gop),
        )
    return videos


@pytest.mark.parametrize("name", CODECS)
def test_probe_names_the_decoder_the_reader_lists(encoded, name):
    """The tuples in imrkit.codec.pictures hold PyAV's decoder names, which are not always
    the codec's (``msmpeg4`` decodes MS MPEG-4 v3, ``flv`` FLV1)."""
    info = probe(encoded[name][0])
    decoder = CODECS[name][4]
    assert info.codec == decoder and decoder in MOTION_VECTOR_CODECS
    assert decoder in SINGLE_REFERENCE_CODECS  # one reference per direction: the anchors
    assert info.problems() == [] and info.has_b_frames == (CODECS[name][2] > 0)


@pytest.mark.parametrize("name", CODECS)
def test_known_motion_is_recovered(encoded, sprite_truth, synthetic, name):
    _, corners = sprite_truth
    clip = synthetic.check_sprite_motion(encoded[name][0], corners, MOTION_TOLERANCE[name])
    coded = set(clip.coded_types)
    assert coded == ({"I", "P", "B"} if CODECS[name][2] else {"I", "P"})


@pytest.mark.parametrize("name", CODECS)
def test_residual_of_a_pan_is_far_below_frame_difference(encoded, synthetic, name):
    path = encoded[name][1]
    clip = read_clip(path, 0, 3, p_positions=ALL_POSITIONS)
    decoded = synthetic.plain_decode(path)
    indices = clip.frame_indices[clip.frame_types == "P"]
    difference = decoded[indices].astype(np.int16) - decoded[indices - 1]
    ratio = np.mean(clip.residual.astype(np.float64) ** 2) / np.mean(difference.astype(float) ** 2)
    assert ratio < RESIDUAL_RATIO[name]
    interior = clip.motion[:, 16:-16, 16:-16]
    assert np.abs(interior - np.array([-2.0, 1.0])).mean() < MOTION_TOLERANCE[name]


@pytest.mark.parametrize("name", CODECS)
def test_late_clip_equals_sequential_read(encoded, name):
    """Seeking in each container (.mpg, .3gp, .avi, .asf, .wmv, .flv) lands on a keyframe at
    or before the clip: a clip starting mid-GOP equals the same segments read from the start."""
    path = encoded[name][0]
    whole = read_clip(path, 0, 3)
    late = read_clip(path, 1, 2)
    np.testing.assert_array_equal(late.iframes, whole.iframes[1:])
    np.testing.assert_array_equal(late.motion, whole.motion[5:])
    np.testing.assert_array_equal(late.residual, whole.residual[5:])
    assert late.frame_indices.tolist() == whole.frame_indices[6:].tolist()


@pytest.fixture(scope="module")
def b_frame_sprites(tmp_path_factory, sprite_truth):
    """MPEG-1 and MPEG-2 sprites with 2 B-frames and 15-frame GOPs (test_formats' mpeg2_b)."""
    folder = tmp_path_factory.mktemp("accumulate")
    frames, _ = sprite_truth
    return {
        "mpeg1_b": encode(folder / "mpeg1.mpg", frames, "mpeg1video", 2, 15),
        "mpeg2_b": encode(folder / "mpeg2.mp4", frames, "mpeg2video", 2, 15),
    }


@pytest.mark.parametrize("name", ["mpeg1_b", "mpeg2_b"])
def test_accumulated_motion_on_b_frames(b_frame_sprites, sprite_truth, name):
    """Position 10 of segment 1 (frame 22) traced back to frame 12: the sprite moved (20, 10).

    The accumulated field is the per-frame fields summed along each pixel's path (exactly,
    with these whole-pixel vectors), so it falls short by every per-frame shortfall on the
    way: frame 15 is a codec I-frame (zero motion, 1.5 px of mean error alone) and the
    encoder codes some sprite blocks of its P-frames intra. Measured mean error 1.64 px
    (MPEG-1) and 1.74 px (MPEG-2), against 0.25 and 0.23 px per frame; never an overshoot.
    """
    path = b_frame_sprites[name]
    _, corners = sprite_truth
    clip = read_clip(path, 1, 1, accumulate=True)
    index = clip.frame_indices[-1]
    x, y = corners[index]
    centre = clip.motion[-1, y + 16 : y + 32, x + 16 : x + 32]
    assert np.abs(centre - np.array([20.0, 10.0])).mean() < 2.2
    assert (centre <= np.array([20.0, 10.0]) + 1e-3).all()
    # The error is the per-frame fields', summed: chain them by hand from frame 22 back.
    per_frame = read_clip(path, 1, 1, p_positions=ALL_POSITIONS)
    rows, cols = np.mgrid[y + 16 : y + 32, x + 16 : x + 32]
    total = np.zeros((*rows.shape, 2))
    for position in range(10, 0, -1):
        step = per_frame.motion[position - 1][rows, cols]
        total += step
        cols = np.rint(cols - step[..., 0]).astype(int)
        rows = np.rint(rows - step[..., 1]).astype(int)
    np.testing.assert_allclose(centre, total, atol=1e-4)


def test_h263_in_avi_with_a_long_gop(tmp_path, synthetic):
    """FFmpeg's AVI demuxer flags every H.263 packet a keyframe (the file's index flags only
    the I-frames, measured). Dropping the held tail before each 'keyframe' decoded the next
    frame against a stale reference, silently wrong (a 12-frame GOP hides it; 3GP is
    right): a tail flagged keyframe too is decoded instead. probe reads the picture
    headers, not the flags; seeks use the index, which is true."""
    frames = synthetic.pan_frames(120, 1, 0, seed=4)
    path = encode(tmp_path / "h263.avi", frames, "h263", 0, 250)
    with av.open(str(path)) as container:
        assert all(packet.is_keyframe for packet in container.demux(video=0) if packet.size)
    info = probe(path)
    assert info.gop_size == 120 and info.num_gops == 1
    clip = read_clip(path, 0, 10)
    np.testing.assert_array_equal(clip.iframes, synthetic.plain_decode(path)[::12])
    late = read_clip(path, 8, 2)
    np.testing.assert_array_equal(late.iframes, clip.iframes[8:])
    np.testing.assert_array_equal(late.motion, clip.motion[40:])
    np.testing.assert_array_equal(late.residual, clip.residual[40:])


def test_mpeg1_with_b_frames_in_avi(tmp_path, sprite_truth, synthetic):
    """AVI stores decoding times only, and FFmpeg stamps a freshly opened MPEG-1 AVI's first
    I-frame pts 0 but the B-frame after it pts 2 (after any seek, and in MPEG-2/4: 1 and 2):
    the timing is taken after a rewind, as every read sees it, so no frame is missing."""
    frames, _ = sprite_truth
    path = encode(tmp_path / "mpeg1_b.avi", frames, "mpeg1video", 2, 15)
    clip = read_clip(path, 0, 3, p_positions=ALL_POSITIONS)
    assert clip.frame_indices.tolist() == list(range(36))
    np.testing.assert_array_equal(clip.iframes, synthetic.plain_decode(path)[[0, 12, 24]])


def _encoder(*names: str) -> str | None:
    """The first of these encoders PyAV's FFmpeg has, or None."""
    for name in names:
        try:
            av.codec.Codec(name, "w")
        except (av.codec.codec.UnknownCodecError, ValueError):
            continue
        return name
    return None


AV1_ENCODER = _encoder("libsvtav1", "libaom-av1", "librav1e")


@pytest.mark.skipif(AV1_ENCODER is None, reason="PyAV's FFmpeg has no AV1 encoder")
def test_av1_is_refused_by_its_codec_name(tmp_path, synthetic):
    """PyAV reports AV1's decoder (libdav1d, or FFmpeg's own av1): the message says AV1."""
    frames = synthetic.pan_frames(24, -2, 1)
    path = encode_any(frames, tmp_path / "av1.mp4", codec=AV1_ENCODER, gop_size=12)
    info = probe(path)
    (problem,) = info.problems()
    assert f"AV1 (decoder {info.codec})" in problem and "imrkit prepare" in problem
    assert "exports no motion vectors" in problem
    with pytest.raises(UnsupportedVideoError) as caught:
        read_clip(path, 0, 1)
    assert f"AV1 (decoder {info.codec})" in str(caught.value)
    assert "imrkit prepare" in str(caught.value)


@pytest.mark.skipif(_encoder("rv10") is None, reason="PyAV's FFmpeg has no rv10 encoder")
def test_a_codec_with_vectors_the_reader_does_not_read_is_not_said_to_have_none(
    tmp_path, synthetic
):
    """RealVideo 1.0's decoder exports vectors (measured: every P-frame), but the reader was
    never checked against known motion there: refused, without the false 'exports none'."""
    path = encode(tmp_path / "rv10.rm", synthetic.pan_frames(24, -2, 1), "rv10", 0, 12)
    (problem,) = probe(path).problems()
    assert "RealVideo 1.0 (decoder rv10)" in problem and "imrkit does not read" in problem
    assert "exports no motion vectors" not in problem and "imrkit prepare" in problem
