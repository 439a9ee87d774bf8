"""inspect_frames: every frame with its raw vectors, agreeing with read_clip."""

from __future__ import annotations

import numpy as np

import imrkit
from imrkit.codec.inspect import FrameRecord, inspect_frames
from imrkit.codec.motion import MOTION_VECTOR_DTYPE
from imrkit.codec.reader import read_clip


def test_records_agree_with_read_clip(sprite_video):
    records = list(inspect_frames(sprite_video.path))
    assert [r.index for r in records] == list(range(36))
    assert [r.frame_type for r in records] == (["I"] + ["P"] * 11) * 3
    assert all(isinstance(r, FrameRecord) for r in records)
    assert records[0].vectors.dtype == MOTION_VECTOR_DTYPE and len(records[0].vectors) == 0
    assert len(records[1].vectors) > 0 and records[1].vectors.dtype == MOTION_VECTOR_DTYPE
    np.testing.assert_array_equal(records[0].residual, records[0].rgb)  # I: all residual

    clip = read_clip(sprite_video.path, 0, 3)
    np.testing.assert_array_equal(np.stack([records[i].rgb for i in (0, 12, 24)]), clip.iframes)
    p_indices = clip.frame_indices[clip.frame_types == "P"]
    np.testing.assert_array_equal(np.stack([records[i].motion for i in p_indices]), clip.motion)
    np.testing.assert_array_equal(np.stack([records[i].residual for i in p_indices]), clip.residual)


def test_start_stop_seek(sprite_video):
    records = list(inspect_frames(sprite_video.path, start=14, stop=17))
    assert [r.index for r in records] == [14, 15, 16]
    everything = {r.index: r for r in inspect_frames(sprite_video.path, stop=17)}
    for record in records:
        np.testing.assert_array_equal(record.motion, everything[record.index].motion)
        np.testing.assert_array_equal(record.residual, everything[record.index].residual)


def test_public_name():
    assert imrkit.inspect_frames is inspect_frames
    assert imrkit.FrameRecord is FrameRecord


def test_storage_sizes_counts_packets_jpegs_and_raw_frames(tmp_path):
    from imrkit.codec.encode import encode_frames
    from imrkit.codec.inspect import storage_sizes

    rng = np.random.default_rng(0)
    flat = [np.full((64, 96, 3), 120, np.uint8)] * 24
    noisy = [rng.integers(0, 255, (64, 96, 3), dtype=np.uint8) for _ in range(24)]
    sizes = {
        name: storage_sizes(encode_frames(frames, tmp_path / f"{name}.mp4"))
        for name, frames in (("flat", flat), ("noisy", noisy))
    }
    assert sizes["flat"]["raw RGB"] == 24 * 64 * 96 * 3
    assert sizes["flat"]["MPEG-4"] < sizes["flat"]["JPEG frames"] < sizes["flat"]["raw RGB"]
    # Noise compresses worse than a flat image, in both codecs.
    assert sizes["noisy"]["JPEG frames"] > sizes["flat"]["JPEG frames"]
    assert sizes["noisy"]["MPEG-4"] > 10 * sizes["flat"]["MPEG-4"]
    first = storage_sizes(tmp_path / "noisy.mp4", max_frames=6)
    assert first["raw RGB"] == 6 * 64 * 96 * 3
    assert first["MPEG-4"] < sizes["noisy"]["MPEG-4"] / 2
