"""Stream-consistent augmentation: crops, flips and resizes move I, M and R alike."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from imrkit.errors import ConfigError, ShapeError
from imrkit.transforms import (
    TransformConfig,
    eval_transform,
    test_views,
    train_transform,
    transform_clip,
    with_pmsp_labels,
)
from imrkit.transforms import functional as F
from imrkit.transforms.pmsp_labels import PMSP_LEVELS, pmsp_label_tensor, pmsp_labels


@dataclass
class FakeClip:
    """The CompressedClip fields the transforms read (reader layout)."""

    iframes: np.ndarray
    motion: np.ndarray
    residual: np.ndarray
    path: str = "fake.avi"


def random_clip(height=64, width=96, num_gops=5, seed=0) -> FakeClip:
    rng = np.random.default_rng(seed)
    frames = num_gops * 5
    return FakeClip(
        iframes=rng.integers(0, 256, (num_gops, height, width, 3), dtype=np.uint8),
        motion=rng.normal(scale=3, size=(frames, height, width, 2)).astype(np.float32),
        residual=rng.integers(-60, 60, (frames, height, width, 3)).astype(np.int16),
    )


def marker_clip(row, col, height=64, width=96) -> FakeClip:
    """Every stream marks the same 8x8 square (I white, M (4, -2), R 100)."""
    clip = FakeClip(
        iframes=np.zeros((5, height, width, 3), np.uint8),
        motion=np.zeros((25, height, width, 2), np.float32),
        residual=np.zeros((25, height, width, 3), np.int16),
    )
    square = (slice(None), slice(row, row + 8), slice(col, col + 8))
    clip.iframes[square] = 255
    clip.motion[square] = (4.0, -2.0)
    clip.residual[square] = 100
    return clip


def centroid(mask: torch.Tensor) -> tuple[float, float]:
    rows, cols = torch.nonzero(mask, as_tuple=True)
    return rows.float().mean().item(), cols.float().mean().item()


def test_output_layout_and_dtypes():
    cfg = TransformConfig(crop_size=32, short_side=40)
    clip = random_clip()
    samples = [train_transform(cfg)(clip), eval_transform(cfg)(clip), *test_views(clip, cfg)]
    assert len(samples) == 5
    for sample in samples:
        assert sample["iframes"].shape == (3, 5, 32, 32)
        assert sample["motion"].shape == (2, 25, 32, 32)
        assert sample["residual"].shape == (3, 25, 32, 32)
        assert all(value.dtype == torch.float32 for value in sample.values())
        assert all(value.is_contiguous() for value in sample.values())


def test_normalisation_values():
    cfg = TransformConfig(crop_size=64, short_side=64, motion_scale=16.0, residual_scale=255.0)
    clip = marker_clip(10, 20)
    sample = eval_transform(cfg)(clip)  # box = rows 0..63, cols 16..79: no resize
    white = (1.0 - np.array(F.IMAGENET_MEAN)) / np.array(F.IMAGENET_STD)
    black = -np.array(F.IMAGENET_MEAN) / np.array(F.IMAGENET_STD)
    np.testing.assert_allclose(sample["iframes"][:, 0, 12, 8].numpy(), white, rtol=1e-5)
    np.testing.assert_allclose(sample["iframes"][:, 0, 40, 40].numpy(), black, rtol=1e-5)
    np.testing.assert_allclose(sample["motion"][:, 3, 12, 8].numpy(), [4 / 16, -2 / 16])
    np.testing.assert_allclose(sample["residual"][:, 3, 12, 8].numpy(), [100 / 255] * 3, rtol=1e-6)
    round_trip = F.denormalize_iframes(sample["iframes"])
    np.testing.assert_array_equal(round_trip, clip.iframes[:, :, 16:80])


def test_resize_rescales_motion_vectors():
    # Shorter side 64 cropped whole (short_side == crop_size) and resized to 32: factor 1/2.
    cfg = TransformConfig(crop_size=32, short_side=32, motion_scale=1.0)
    clip = random_clip()
    clip.motion[:] = (6.0, -3.0)
    sample = eval_transform(cfg)(clip)
    np.testing.assert_allclose(sample["motion"][0].numpy(), 3.0, rtol=1e-6)
    np.testing.assert_allclose(sample["motion"][1].numpy(), -1.5, rtol=1e-6)


def test_motion_matches_a_real_translation_after_resize():
    # Frame B is frame A moved by (dx, dy) = (8, -4); the motion field says so. After the
    # transform, the marker's displacement between the two I-frames (in output pixels) must
    # equal the output motion vector x motion_scale.
    height, width, dx, dy = 64, 96, 8, -4
    clip = marker_clip(30, 30, height, width)
    clip.iframes[:] = 0
    clip.iframes[0, 30:38, 30:38] = 255
    clip.iframes[1, 30 + dy : 38 + dy, 30 + dx : 38 + dx] = 255
    clip.motion[:] = (dx, dy)
    cfg = TransformConfig(crop_size=32, short_side=32, motion_scale=2.0)
    for flip in (False, True):
        box = F.CropBox(0, 10, 64, 64)
        sample = transform_clip(clip, box, flip, cfg)
        bright = sample["iframes"][0] > 0
        (row_a, col_a), (row_b, col_b) = centroid(bright[0]), centroid(bright[1])
        vector = sample["motion"][:, 0, 5, 5] * cfg.motion_scale
        assert vector[0].item() == pytest.approx(col_b - col_a, abs=0.3)
        assert vector[1].item() == pytest.approx(row_b - row_a, abs=0.3)


def test_flip_mirrors_every_stream_and_negates_motion_x():
    cfg = TransformConfig(crop_size=48, short_side=48)
    clip = random_clip(48, 48)
    box = F.CropBox(0, 0, 48, 48)
    plain, flipped = (transform_clip(clip, box, flip, cfg) for flip in (False, True))
    torch.testing.assert_close(flipped["iframes"], plain["iframes"].flip(-1))
    torch.testing.assert_close(flipped["residual"], plain["residual"].flip(-1))
    torch.testing.assert_close(flipped["motion"][0], -plain["motion"][0].flip(-1))
    torch.testing.assert_close(flipped["motion"][1], plain["motion"][1].flip(-1))


def test_pmsp_labels_mirror_after_a_flip():
    cfg = TransformConfig(crop_size=48, short_side=48)
    clip = random_clip(48, 48, seed=3)
    box = F.CropBox(0, 0, 48, 48)
    plain, flipped = (transform_clip(clip, box, flip, cfg) for flip in (False, True))
    labels, mirrored = (pmsp_labels(x["motion"], layout="model") for x in (plain, flipped))
    for s, t in PMSP_LEVELS:
        row, col = labels[(s, t)] // s, labels[(s, t)] % s
        assert torch.equal(mirrored[(s, t)], row * s + (s - 1 - col)), (s, t)


def test_random_crop_is_identical_across_streams():
    cfg = TransformConfig(crop_size=32, short_side=40, flip_prob=0.5)
    clip = marker_clip(20, 50)
    generator = torch.Generator().manual_seed(0)
    flips = 0
    for _ in range(12):
        sample = train_transform(cfg)(clip, generator)
        iframe_mask = sample["iframes"][0, 2] > 0
        motion_mask = sample["motion"][1, 7] != 0
        residual_mask = sample["residual"][0, 7] > 0
        where = centroid(iframe_mask)
        assert centroid(motion_mask) == pytest.approx(where, abs=0.6)
        assert centroid(residual_mask) == pytest.approx(where, abs=0.6)
        # x = 4 px stays positive unless flipped; y = -2 stays negative.
        inside = sample["motion"][:, 7][:, iframe_mask].mean(dim=1)
        flips += int(inside[0] < 0)
        assert inside[1] < 0
    assert 0 < flips < 12


def test_random_crop_scales_and_reproducibility():
    scales = (1.0, 0.975, 0.9, 0.85)
    generator = torch.Generator().manual_seed(0)
    sides = {F.random_crop_box(256, 340, scales, generator).height for _ in range(200)}
    assert sides == {256, 250, 230, 218}  # round(scale x 256)
    box = F.random_crop_box(256, 340, scales, torch.Generator().manual_seed(5))
    assert box == F.random_crop_box(256, 340, scales, torch.Generator().manual_seed(5))
    assert box.top + box.height <= 256 and box.left + box.width <= 340


def test_three_crops_are_equidistant_along_the_longer_side():
    boxes = F.three_crop_boxes(256, 340, 224 / 256)
    assert [box.left for box in boxes] == [0, 58, 116]
    assert {box.top for box in boxes} == {16} and {box.height for box in boxes} == {224}
    portrait = F.three_crop_boxes(340, 256, 224 / 256)
    assert [box.top for box in portrait] == [0, 58, 116]
    cfg = TransformConfig(crop_size=32, short_side=40)
    clip = random_clip()
    views = test_views(clip, cfg)
    torch.testing.assert_close(views[1]["iframes"], eval_transform(cfg)(clip)["iframes"])
    assert not torch.equal(views[0]["iframes"], views[2]["iframes"])


def test_with_pmsp_labels_uses_the_transformed_motion():
    cfg = TransformConfig(crop_size=32, short_side=40, pmsp_labels=True)
    clip = random_clip()
    sample = train_transform(cfg)(clip, torch.Generator().manual_seed(1))
    assert sample["pmsp"].shape == (27,) and sample["pmsp"].dtype == torch.int64
    assert torch.equal(sample["pmsp"], pmsp_label_tensor(sample["motion"]))
    plain = {k: v for k, v in sample.items() if k != "pmsp"}
    assert torch.equal(with_pmsp_labels(plain)["pmsp"], sample["pmsp"])


def test_bad_clips_and_configs_raise():
    clip = random_clip()
    clip.residual = clip.residual[:20]
    with pytest.raises(ShapeError, match="fake.avi"):
        eval_transform(TransformConfig(crop_size=32, short_side=40))(clip)
    with pytest.raises(ConfigError, match="crop_size"):
        TransformConfig(crop_size=300, short_side=256)
    with pytest.raises(ConfigError, match="scales"):
        TransformConfig(scales=(1.2,))


def test_torch_functional_crop_resize_and_flip():
    motion = torch.zeros(2, 3, 20, 40)
    motion[0], motion[1] = 5.0, -2.0
    resized = F.crop_resize_clip(motion, F.CropBox(0, 0, 20, 40), (10, 10), is_motion=True)
    assert resized.shape == (2, 3, 10, 10)
    torch.testing.assert_close(resized[0], torch.full((3, 10, 10), 5.0 * 10 / 40))
    torch.testing.assert_close(resized[1], torch.full((3, 10, 10), -2.0 * 10 / 20))
    flipped = F.hflip_clip(motion[None], is_motion=True)[0]
    assert (flipped[0] == -5.0).all() and (flipped[1] == -2.0).all()
