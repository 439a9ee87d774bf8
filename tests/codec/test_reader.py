"""read_clip and probe on generated videos whose motion is known (SPEC section 1)."""

from __future__ import annotations

import numpy as np
import pytest

import imrkit
from imrkit.codec.reader import P_POSITIONS, CompressedClip, probe, read_clip

MB = 16  # macroblock side of MPEG-4 Part 2


@pytest.fixture(scope="module")
def sprite_clip(sprite_video) -> CompressedClip:
    return read_clip(sprite_video.path, 0, 3)


def test_public_names_resolve():
    assert imrkit.read_clip is read_clip
    assert imrkit.probe is probe
    assert imrkit.CompressedClip is CompressedClip


def test_layouts_indices_and_types(sprite_clip):
    clip, num_p = sprite_clip, len(P_POSITIONS)
    assert clip.iframes.shape == (3, 96, 128, 3) and clip.iframes.dtype == np.uint8
    assert clip.motion.shape == (3 * num_p, 96, 128, 2) and clip.motion.dtype == np.float32
    assert clip.residual.shape == (3 * num_p, 96, 128, 3) and clip.residual.dtype == np.int16
    expected = [g * 12 + p for g in range(3) for p in (0, *P_POSITIONS)]
    assert clip.frame_indices.tolist() == expected
    assert clip.frame_indices.dtype == np.int64
    assert list(clip.frame_types) == (["I"] + ["P"] * num_p) * 3
    assert clip.gop_indices.tolist() == [0, 1, 2]
    assert clip.num_decoded == 3 * 11  # frames after position 10 are never decoded


def test_sprite_motion_is_known_displacement(sprite_video, sprite_clip, synthetic):
    p_indices = sprite_clip.frame_indices[sprite_clip.frame_types == "P"]
    checked_inside = 0
    for slot, index in enumerate(p_indices):
        inside, background = synthetic.sprite_masks(
            sprite_video.sprite_xy[index], sprite_video.sprite_xy[index - 1]
        )
        motion = sprite_clip.motion[slot]
        assert inside.any() and background.any()
        np.testing.assert_array_equal(motion[inside][:, 0], 2.0)
        np.testing.assert_array_equal(motion[inside][:, 1], 1.0)
        np.testing.assert_array_equal(motion[background], 0.0)
        checked_inside += inside.sum()
    assert checked_inside >= 15 * 4 * MB * MB


def test_pan_motion_and_sign(pan_video):
    clip = read_clip(pan_video.path, 0, 2)
    interior = clip.motion[:, MB:-MB, MB:-MB]
    # Content moves left (-2) and down (+1): the field says so, with that sign, everywhere.
    np.testing.assert_array_equal(interior[..., 0], -2.0)
    np.testing.assert_array_equal(interior[..., 1], 1.0)


def energy(values) -> float:
    return float(np.mean(np.asarray(values, np.float64) ** 2))


def test_residual_of_translation_is_far_below_frame_difference(pan_video, sprite_video, synthetic):
    clip = read_clip(pan_video.path, 0, 3)
    decoded = synthetic.plain_decode(pan_video.path)
    p_indices = clip.frame_indices[clip.frame_types == "P"]
    difference = decoded[p_indices].astype(np.int16) - decoded[p_indices - 1]
    assert energy(clip.residual) < 0.05 * energy(difference)

    # The sprite: on its macroblocks (block edges straddling it are the codec's problem).
    clip = read_clip(sprite_video.path, 0, 3)
    decoded = synthetic.plain_decode(sprite_video.path)
    residuals, differences = [], []
    for slot, index in enumerate(clip.frame_indices[clip.frame_types == "P"]):
        inside, _ = synthetic.sprite_masks(
            sprite_video.sprite_xy[index], sprite_video.sprite_xy[index - 1]
        )
        residuals.append(clip.residual[slot][inside])
        differences.append(decoded[index][inside].astype(np.int16) - decoded[index - 1][inside])
    assert energy(np.concatenate(residuals)) < 0.05 * energy(np.concatenate(differences))


def test_residual_is_current_minus_shifted_reference(pan_video, synthetic):
    """For a whole-pixel pan the prediction is the reference shifted: check it exactly."""
    clip = read_clip(pan_video.path, 0, 1)
    decoded = synthetic.plain_decode(pan_video.path, count=12)
    dx, dy = pan_video.displacement  # content moves by (dx, dy): pred(y, x) = ref(y-dy, x-dx)
    for slot, index in enumerate(clip.frame_indices[1:]):
        reference = decoded[index - 1].astype(np.int16)
        rows = np.clip(np.arange(96) - dy, 0, 95)
        cols = np.clip(np.arange(128) - dx, 0, 127)
        expected = decoded[index] - reference[rows][:, cols]
        np.testing.assert_array_equal(clip.residual[slot], expected)


def test_residual_plus_prediction_rebuilds_the_frame(sprite_video, sprite_clip, synthetic):
    """residual = current - prediction exactly: where motion is zero, prediction = ref."""
    decoded = synthetic.plain_decode(sprite_video.path)
    index = sprite_clip.frame_indices[1]  # first sampled P-frame
    static = np.all(sprite_clip.motion[0] == 0, axis=-1)
    rebuilt = decoded[index - 1].astype(np.int16) + sprite_clip.residual[0]
    np.testing.assert_array_equal(rebuilt[static], decoded[index][static])


def test_iframes_match_plain_pyav(sprite_video, sprite_clip, synthetic):
    decoded = synthetic.plain_decode(sprite_video.path)
    np.testing.assert_array_equal(sprite_clip.iframes, decoded[[0, 12, 24]])


def test_accumulated_motion_sums_per_frame_displacements(pan_video):
    clip = read_clip(pan_video.path, 0, 3, accumulate=True)
    per_frame = np.array(pan_video.displacement, np.float32)
    margin = 2 * 12 + MB  # the traced sources of border pixels are clipped to the frame
    for slot, index in enumerate(clip.frame_indices[clip.frame_types == "P"]):
        steps = index % 12  # P-frames between this one and its I-frame
        interior = clip.motion[slot, margin:-margin, margin:-margin]
        np.testing.assert_allclose(interior, np.broadcast_to(steps * per_frame, interior.shape))
    # Residuals against the I-frame stay small: the motion explains the pan.
    assert np.mean(np.abs(clip.residual[:, margin:-margin, margin:-margin])) < 4.0


def test_accumulated_equals_per_frame_for_the_first_p_frame(pan_video):
    per_frame = read_clip(pan_video.path, 0, 1, p_positions=(1, 5))
    accumulated = read_clip(pan_video.path, 0, 1, p_positions=(1, 5), accumulate=True)
    # Position 1 references the I-frame itself, so both readings agree there.
    np.testing.assert_array_equal(per_frame.motion[0], accumulated.motion[0])
    np.testing.assert_array_equal(per_frame.residual[0], accumulated.residual[0])
    assert not np.array_equal(per_frame.motion[1], accumulated.motion[1])


def test_sprite_accumulated_motion_follows_the_sprite(sprite_video):
    clip = read_clip(sprite_video.path, 1, 1, accumulate=True)
    index = clip.frame_indices[-1]  # position 10 of GOP 1
    x, y = sprite_video.sprite_xy[index]
    steps = index % 12
    # The sprite's centre 16x16 has been inside the sprite since the I-frame.
    centre = clip.motion[-1, y + 16 : y + 32, x + 16 : x + 32]
    np.testing.assert_array_equal(centre[..., 0], 2.0 * steps)
    np.testing.assert_array_equal(centre[..., 1], 1.0 * steps)


def test_custom_p_positions(sprite_video):
    clip = read_clip(sprite_video.path, 1, 2, p_positions=(1, 11))
    assert clip.frame_indices.tolist() == [12, 13, 23, 24, 25, 35]
    assert clip.motion.shape[0] == clip.residual.shape[0] == 4


@pytest.mark.parametrize("bad", [(), (0, 2), (2, 2), (4, 3), (12,)])
def test_bad_p_positions(sprite_video, bad):
    with pytest.raises(ValueError):
        read_clip(sprite_video.path, 0, 1, p_positions=bad)


def test_late_clip_seeks_and_equals_sequential_read(long_video, synthetic):
    late = read_clip(long_video, 40, 2)
    # Seeking lands on GOP 40's I-frame: only the clip's own frames are decoded.
    assert late.num_decoded == 2 * 11
    assert late.frame_indices[0] == 480
    sequential = read_clip(long_video, 0, 42)
    assert sequential.num_decoded == 42 * 11
    np.testing.assert_array_equal(late.iframes, sequential.iframes[40:])
    np.testing.assert_array_equal(late.motion, sequential.motion[200:])
    np.testing.assert_array_equal(late.residual, sequential.residual[200:])
    decoded = synthetic.plain_decode(long_video, count=493)
    np.testing.assert_array_equal(late.iframes, decoded[[480, 492]])


def test_loop_wraps_gop_indices(sprite_video):
    clip = read_clip(sprite_video.path, 2, 5, loop=True)
    assert clip.gop_indices.tolist() == [2, 0, 1, 2, 0]
    straight = read_clip(sprite_video.path, 0, 3)
    np.testing.assert_array_equal(clip.iframes, straight.iframes[[2, 0, 1, 2, 0]])
    np.testing.assert_array_equal(clip.motion[5:10], straight.motion[0:5])
    assert clip.frame_indices[:6].tolist() == [24, 26, 28, 30, 32, 34]


def test_probe(sprite_video, long_video):
    info = probe(sprite_video.path)
    assert (info.width, info.height, info.num_frames) == (128, 96, 36)
    assert (info.num_gops, info.gop_size, info.codec) == (3, 12, "mpeg4")
    assert info.fps == 30.0 and not info.has_b_frames
    assert info.problems() == []
    long_info = probe(long_video)
    assert (long_info.num_frames, long_info.num_gops) == (504, 42)
