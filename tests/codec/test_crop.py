"""Reading straight onto a crop's output grid equals reading full frames, then transforming."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imrkit.codec.crop import OutputView, crop_clip, resampling_matrix
from imrkit.codec.encode import encode_any
from imrkit.codec.reader import read_clip
from imrkit.transforms import TestTransform, TransformConfig, test_views, transform_clip
from imrkit.transforms.functional import CropBox

from .conftest import HEIGHT, WIDTH, pan_frames

CONFIG = TransformConfig(crop_size=64, short_side=96)
# (box, flip) on the 128x96 test videos: full height, scale jitter, odd sizes, offsets.
VIEWS = [
    (CropBox(0, 0, 96, 96), False),
    (CropBox(0, 32, 96, 96), True),
    (CropBox(7, 21, 82, 82), True),
    (CropBox(13, 50, 64, 64), False),  # no resize: a plain copy
    (CropBox(2, 3, 90, 90), False),
]


def normalised(clip) -> dict[str, torch.Tensor]:
    """A clip read on its output grid, normalised as the transforms normalise."""
    iframes = torch.from_numpy(clip.iframes).permute(3, 0, 1, 2).float() / 255
    mean = torch.tensor(CONFIG.iframe_mean)[:, None, None, None]
    std = torch.tensor(CONFIG.iframe_std)[:, None, None, None]
    return {
        "iframes": (iframes - mean) / std,
        "motion": torch.from_numpy(clip.motion).permute(3, 0, 1, 2) / CONFIG.motion_scale,
        "residual": torch.from_numpy(clip.residual).permute(3, 0, 1, 2).float()
        / CONFIG.residual_scale,
    }


def assert_same_streams(fast: dict, reference: dict) -> None:
    for name in ("iframes", "motion", "residual"):
        assert fast[name].shape == reference[name].shape, name
        difference = (fast[name] - reference[name]).abs().max().item()
        assert difference < 1e-5, (name, difference)


@pytest.fixture(scope="module")
def h264_video(codec_dir):
    """H.264 with B-frames and a long GOP: views must work whatever the structure."""
    return encode_any(
        pan_frames(48, 2, -1), codec_dir / "crop_h264.mp4", codec="h264", gop_size=48, b_frames=2
    )


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("box, flip", VIEWS)
def test_views_equal_the_reference_transform(sprite_video, box, flip, accumulate):
    clip = read_clip(sprite_video.path, 0, 3, accumulate=accumulate)
    reference = transform_clip(clip, box, flip, CONFIG)
    (fast,) = read_clip(
        sprite_video.path, 0, 3, accumulate=accumulate, views=[OutputView.of(box, 64, flip)]
    )
    assert fast.iframes.dtype == np.uint8 and fast.residual.dtype == np.int16
    assert fast.iframes.shape == (3, 64, 64, 3) and fast.motion.shape == (15, 64, 64, 2)
    assert_same_streams(normalised(fast), reference)
    np.testing.assert_array_equal(fast.frame_indices, clip.frame_indices)


def test_views_on_h264_with_b_frames(h264_video):
    clip = read_clip(h264_video, 1, 2)
    box, flip = VIEWS[2]
    (fast,) = read_clip(h264_video, 1, 2, views=[OutputView.of(box, 64, flip)])
    assert_same_streams(normalised(fast), transform_clip(clip, box, flip, CONFIG))


def test_test_views_in_one_read(pan_video):
    clip = read_clip(pan_video.path, 0, 3)
    reference = test_views(clip, CONFIG)
    crops = TestTransform(CONFIG).crops(HEIGHT, WIDTH)
    fast = read_clip(pan_video.path, 0, 3, views=[OutputView.of(b, 64, f) for b, f in crops])
    assert len(fast) == 3
    for view, expected in zip(fast, reference, strict=True):
        assert_same_streams(normalised(view), expected)


def test_known_pan_on_the_output_grid(pan_video):
    """Content moves (-2, +1) px/frame; a 96 -> 64 crop scales that by 2/3, a flip negates x."""
    (view,) = read_clip(pan_video.path, 0, 3, views=[OutputView(0, 16, 96, 96, 64, True)])
    inner = view.motion[:, 8:-8, 8:-8]
    np.testing.assert_allclose(np.median(inner[..., 0]), 2 * 64 / 96, atol=0.05)
    np.testing.assert_allclose(np.median(inner[..., 1]), 64 / 96, atol=0.05)


def test_cropping_a_cached_clip_equals_reading_the_views(sprite_video):
    views = [OutputView.of(box, 64, flip) for box, flip in VIEWS[1:3]]
    whole = read_clip(sprite_video.path, 0, 3)
    for cropped, read in zip(
        crop_clip(whole, views), read_clip(sprite_video.path, 0, 3, views=views), strict=True
    ):
        np.testing.assert_array_equal(cropped.iframes, read.iframes)
        np.testing.assert_array_equal(cropped.residual, read.residual)
        np.testing.assert_allclose(cropped.motion, read.motion, atol=1e-4)


def test_resampling_matrix_reproduces_a_linear_resize():
    import cv2

    cells = np.random.default_rng(0).normal(size=(1, 9)).astype(np.float32)
    for start, length, size, flip in [(5, 100, 64, False), (0, 128, 64, True), (16, 40, 40, False)]:
        matrix = resampling_matrix(start, length, size, 16, flip)
        np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-6)
        pixels = np.repeat(cells, 16, axis=1)[:, start : start + length]
        expected = cv2.resize(pixels, (size, 1), interpolation=cv2.INTER_LINEAR)[0]
        if flip:
            expected = expected[::-1]
        np.testing.assert_allclose(matrix @ cells[0, : matrix.shape[1]], expected, atol=1e-5)


def test_bad_views_are_refused(sprite_video):
    with pytest.raises(ValueError, match="does not fit"):
        read_clip(sprite_video.path, 0, 1, views=[OutputView(0, 60, 96, 96, 64)])
    with pytest.raises(ValueError, match="one output size"):
        read_clip(
            sprite_video.path,
            0,
            1,
            views=[OutputView(0, 0, 96, 96, 64), OutputView(0, 0, 96, 96, 32)],
        )
