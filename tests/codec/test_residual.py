"""Motion-compensated prediction and residuals against a brute-force reference."""

from __future__ import annotations

import numpy as np

from imrkit.codec.motion import MOTION_VECTOR_DTYPE, block_motion
from imrkit.codec.residual import (
    MotionCompensator,
    accumulated_residual,
    gather_pixels,
    predict,
    residual,
)


def random_block_motion(height, width, seed, max_shift=20):
    """Random whole- and half-pixel vectors on 16x16 blocks, some far outside the frame."""
    rng = np.random.default_rng(seed)
    centres = [(x + 8, y + 8) for y in range(0, height, 16) for x in range(0, width, 16)]
    records = np.zeros(len(centres), MOTION_VECTOR_DTYPE)
    records["source"], records["w"], records["h"], records["motion_scale"] = -1, 16, 16, 2
    records["dst_x"], records["dst_y"] = np.array(centres).T
    records["motion_x"] = rng.integers(-2 * max_shift, 2 * max_shift + 1, len(centres))
    records["motion_y"] = rng.integers(-2 * max_shift, 2 * max_shift + 1, len(centres))
    return block_motion(records, height, width)


def brute_force_prediction(reference, motion):
    """Pixel by pixel: read the nearest source pixel (rounded half up), clipped."""
    height, width = reference.shape[:2]
    field = motion.dense()
    prediction = np.empty_like(reference)
    for y in range(height):
        for x in range(width):
            src_x = int(np.floor(x - field[y, x, 0] + 0.5))
            src_y = int(np.floor(y - field[y, x, 1] + 0.5))
            prediction[y, x] = reference[
                min(max(src_y, 0), height - 1), min(max(src_x, 0), width - 1)
            ]
    return prediction


def test_prediction_matches_brute_force():
    # 40 x 56: neither side a multiple of 16, so partial edge blocks are exercised too;
    # vectors up to 20 px point far outside the frame.
    for seed in range(3):
        reference = np.random.default_rng(seed).integers(0, 256, (40, 56, 3), dtype=np.uint8)
        motion = random_block_motion(40, 56, seed)
        np.testing.assert_array_equal(
            predict(reference, motion), brute_force_prediction(reference, motion)
        )


def test_compensator_reuses_buffers_across_frames():
    rng = np.random.default_rng(5)
    compensator = MotionCompensator(40, 56)
    for seed in range(3):
        reference = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
        current = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
        motion = random_block_motion(40, 56, seed, max_shift=40)
        compensator.set_reference(reference)
        expected = current.astype(np.int16) - brute_force_prediction(reference, motion)
        np.testing.assert_array_equal(compensator.residual(current, motion), expected)


def test_gather_accepts_rgb_and_rgba():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full((8, 12, 1), 255, np.uint8)], axis=-1)
    index = rng.integers(0, 96, (5, 7))
    expected = rgb.reshape(-1, 3)[index]
    np.testing.assert_array_equal(gather_pixels(rgb, index), expected)
    np.testing.assert_array_equal(gather_pixels(rgba, index), expected)


def test_residual_of_an_exact_shift_is_zero_inside():
    rng = np.random.default_rng(1)
    reference = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    current = np.roll(reference, (2, -3), axis=(0, 1))  # content moved down 2, left 3
    records = np.zeros(12, MOTION_VECTOR_DTYPE)
    records["source"], records["w"], records["h"], records["motion_scale"] = -1, 16, 16, 1
    records["dst_x"] = np.tile(np.arange(4) * 16 + 8, 3)
    records["dst_y"] = np.repeat(np.arange(3) * 16 + 8, 4)
    records["motion_x"], records["motion_y"] = 3, -2  # src - dst
    out = np.full((2, 48, 64, 3), 99, np.int16)
    result = residual(current, reference, block_motion(records, 48, 64), out=out[1])
    assert result.dtype == np.int16 and np.shares_memory(result, out)
    assert np.all(out[1, 2:, :-3] == 0)  # wrapped-around border rows/cols differ
    assert np.any(out[1, :2] != 0) and np.all(out[0] == 99)


def test_residual_range_is_full_int16_difference():
    current = np.zeros((16, 16, 3), np.uint8)
    reference = np.full((16, 16, 3), 255, np.uint8)
    still = block_motion(None, 16, 16)
    assert np.all(residual(current, reference, still) == -255)
    assert np.all(residual(reference, current, still) == 255)


def test_accumulated_residual_uses_the_traced_source():
    rng = np.random.default_rng(2)
    iframe = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    current = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    index = rng.integers(0, 64, (8, 8))
    expected = current.astype(np.int16) - iframe.reshape(-1, 3)[index]
    np.testing.assert_array_equal(accumulated_residual(current, iframe, index), expected)
