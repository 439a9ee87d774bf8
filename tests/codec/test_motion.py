"""Block vectors -> dense motion, and accumulation, on hand-made side data."""

from __future__ import annotations

import numpy as np
import pytest

from imrkit.codec.motion import (
    MOTION_VECTOR_DTYPE,
    BlockMotion,
    MotionAccumulator,
    block_motion,
    dense_motion,
)


def vectors(*blocks) -> np.ndarray:
    """Blocks as (w, h, dst_x, dst_y, motion_x, motion_y, motion_scale) tuples."""
    records = np.zeros(len(blocks), MOTION_VECTOR_DTYPE)
    records["source"] = -1
    fields = ("w", "h", "dst_x", "dst_y", "motion_x", "motion_y", "motion_scale")
    for name, values in zip(fields, zip(*blocks, strict=True), strict=True):
        records[name] = values
    records["src_x"] = records["dst_x"] + records["motion_x"] // records["motion_scale"]
    records["src_y"] = records["dst_y"] + records["motion_y"] // records["motion_scale"]
    return records


def test_dtype_matches_pyav(pan_video):
    import av

    with av.open(str(pan_video.path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"flags2": "+export_mvs"}
        for frame in container.decode(stream):
            side_data = frame.side_data.get("MOTION_VECTORS")
            if side_data is not None:
                assert side_data.to_ndarray().dtype == MOTION_VECTOR_DTYPE
                return
    pytest.fail("no motion vectors exported")


def test_block_centres_sign_and_subpixel():
    # Block centred at (24, 8) covers x 16..31, y 0..15. motion = src - dst = (-3, +1)
    # half-pels: content moved right 1.5 px and up 0.5 px.
    field = dense_motion(vectors((16, 16, 24, 8, -3, 1, 2)), 32, 48)
    assert field.shape == (32, 48, 2) and field.dtype == np.float32
    np.testing.assert_array_equal(field[0:16, 16:32], np.broadcast_to([1.5, -0.5], (16, 16, 2)))
    # Everything else: no block (intra) -> zero motion, and +0.0 rather than -0.0.
    rest = np.ones((32, 48), bool)
    rest[0:16, 16:32] = False
    assert np.all(field[rest] == 0) and not np.any(np.signbit(field[rest]))


def test_mixed_block_sizes_use_an_8px_grid():
    # A 16x16 block at the top-left and four 8x8 blocks of the macroblock to its right.
    records = vectors(
        (16, 16, 8, 8, -4, 0, 2),
        (8, 8, 20, 4, 2, 0, 2),
        (8, 8, 28, 4, 4, 0, 2),
        (8, 8, 20, 12, 0, -2, 2),
        (8, 8, 28, 12, 0, -4, 2),
    )
    motion = block_motion(records, 16, 32)
    assert motion.cell == 8 and motion.displacement.shape == (2, 4, 2)
    field = motion.dense()
    np.testing.assert_array_equal(field[:, :16, 0], 2.0)
    np.testing.assert_array_equal(field[0:8, 16:24], np.broadcast_to([-1.0, 0.0], (8, 8, 2)))
    np.testing.assert_array_equal(field[0:8, 24:32], np.broadcast_to([-2.0, 0.0], (8, 8, 2)))
    np.testing.assert_array_equal(field[8:16, 16:24], np.broadcast_to([0.0, 1.0], (8, 8, 2)))
    np.testing.assert_array_equal(field[8:16, 24:32], np.broadcast_to([0.0, 2.0], (8, 8, 2)))


def test_blocks_past_the_frame_edge_are_clipped():
    # 40x20 frame: the last macroblock column/row reaches past the edge.
    records = vectors((16, 16, 40, 24, -2, -2, 1), (16, 16, 8, 8, 0, 0, 1))
    field = dense_motion(records, 20, 40)
    assert field.shape == (20, 40, 2)
    np.testing.assert_array_equal(field[16:20, 32:40], np.broadcast_to([2.0, 2.0], (4, 8, 2)))
    assert np.all(field[:16] == 0)


def test_no_side_data_is_zero_motion():
    assert np.all(dense_motion(None, 24, 40) == 0)
    assert np.all(dense_motion(np.zeros(0, MOTION_VECTOR_DTYPE), 24, 40) == 0)


def test_dense_writes_into_a_clip_slot():
    clip_motion = np.full((3, 32, 48, 2), 7.0, np.float32)
    block_motion(vectors((16, 16, 8, 8, -2, 0, 1)), 32, 48).dense(out=clip_motion[1])
    assert clip_motion[1, 0, 0, 0] == 2.0 and clip_motion[1, 31, 47, 0] == 0.0
    assert np.all(clip_motion[[0, 2]] == 7.0)


def uniform(height, width, dx, dy) -> BlockMotion:
    """Every 16x16 block displaced by (dx, dy)."""
    blocks = [
        (16, 16, x + 8, y + 8, -dx * 2, -dy * 2, 2)
        for y in range(0, height, 16)
        for x in range(0, width, 16)
    ]
    return block_motion(vectors(*blocks), height, width)


def test_accumulator_sums_a_steady_translation():
    accumulator = MotionAccumulator(48, 64)
    for step in range(1, 6):
        accumulator.step(uniform(48, 64, 1.5, -1))
        np.testing.assert_allclose(
            accumulator.displacement(), np.broadcast_to([1.5 * step, -1.0 * step], (48, 64, 2))
        )
    accumulator.reset()
    assert np.all(accumulator.displacement() == 0)


def test_accumulator_follows_the_chain_of_references():
    # Frame 1: the top-right block moved right by 4 (others are intra: no motion).
    # Frame 2: only the bottom-right block moved, down by 2.
    accumulator = MotionAccumulator(32, 32)
    accumulator.step(block_motion(vectors((16, 16, 24, 8, -4, 0, 1)), 32, 32))
    accumulator.step(block_motion(vectors((16, 16, 24, 24, 0, -2, 1)), 32, 32))
    total = accumulator.displacement()
    # Pixel (x=24, y=20) came from (24, 18) in frame 1, where no block moved: its source
    # in the I-frame is (24, 18).
    np.testing.assert_array_equal(total[20, 24], [0.0, 2.0])
    # Top-right block of frame 2 is static, and in frame 1 it moved right by 4.
    np.testing.assert_array_equal(total[8, 24], [4.0, 0.0])
    index = accumulator.source_index()
    assert index[8, 24] == 8 * 32 + 20 and index[20, 24] == 18 * 32 + 24


def reference_accumulation(motions, height, width):
    """The accumulation rule written pixel-wise, without padding tricks."""
    grid_x, grid_y = np.meshgrid(
        np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    )
    source_x, source_y = grid_x.copy(), grid_y.copy()
    for motion in motions:
        field = motion.dense()
        step_x, step_y = grid_x - field[..., 0], grid_y - field[..., 1]
        near_x = np.clip(np.floor(step_x + 0.5), 0, width - 1).astype(np.intp)
        near_y = np.clip(np.floor(step_y + 0.5), 0, height - 1).astype(np.intp)
        source_x = source_x[near_y, near_x] + (step_x - near_x)
        source_y = source_y[near_y, near_x] + (step_y - near_y)
    return np.stack([grid_x - source_x, grid_y - source_y], axis=-1)


def test_accumulator_matches_pixelwise_rule_with_wild_vectors():
    """Random half-pel vectors, many pointing far outside a 40 x 56 frame."""
    rng = np.random.default_rng(0)
    accumulator = MotionAccumulator(40, 56)
    motions = []
    for _ in range(6):
        blocks = [
            (16, 16, x + 8, y + 8, *rng.integers(-50, 51, 2), 2)
            for y in range(0, 40, 16)
            for x in range(0, 56, 16)
        ]
        motions.append(block_motion(vectors(*blocks), 40, 56))
        accumulator.step(motions[-1])
        np.testing.assert_allclose(
            accumulator.displacement(), reference_accumulation(motions, 40, 56), atol=1e-4
        )
