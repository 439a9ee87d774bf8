"""Small synthetic MPEG-4 videos with known motion, encoded once per test session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from imrkit.codec.encode import encode_frames

HEIGHT, WIDTH = 96, 128
SPRITE = 48  # side of the moving square; 16x16 macroblocks fit fully inside it


@dataclass
class SyntheticVideo:
    """A generated video and the ground truth it was made from.

    Attributes:
        path: the encoded file.
        frames: the RGB frames given to the encoder (T x H x W x 3).
        displacement: (dx, dy) content motion per frame, in pixels.
        sprite_xy: top-left corner of the moving sprite in each frame (T x 2), or None for
            a global pan.
    """

    path: Path
    frames: np.ndarray
    displacement: tuple[int, int]
    sprite_xy: np.ndarray | None = None


def texture(height: int, width: int, seed: int) -> np.ndarray:
    """Fine luma detail over smooth colour, like natural images.

    Detail everywhere makes block matching unambiguous; keeping colour smooth respects
    4:2:0 subsampling (a 1-pixel vertical move is half a chroma row, so noisy chroma would
    put chroma interpolation residue into every frame).
    """
    rng = np.random.default_rng(seed)
    luma = cv2.GaussianBlur(rng.integers(0, 256, (height, width), dtype=np.uint8), (3, 3), 0)
    tint = rng.uniform(-60, 60, (height // 16 + 1, width // 16 + 1, 3)).astype(np.float32)
    tint = cv2.resize(tint, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(0.7 * luma[..., None] + 40 + tint, 0, 255).astype(np.uint8)


def sprite_frames(num_frames: int, dx: int, dy: int) -> tuple[np.ndarray, np.ndarray]:
    background = texture(HEIGHT, WIDTH, seed=1)
    sprite = texture(SPRITE, SPRITE, seed=2)
    frames, corners = [], []
    for k in range(num_frames):
        x, y = 4 + dx * k, 4 + dy * k
        frame = background.copy()
        frame[y : y + SPRITE, x : x + SPRITE] = sprite
        frames.append(frame)
        corners.append((x, y))
    return np.stack(frames), np.array(corners)


def pan_frames(num_frames: int, dx: int, dy: int, seed: int = 3) -> np.ndarray:
    """Content moving by (dx, dy) per frame: a window sliding the other way over a texture."""
    margin = max(abs(dx), abs(dy)) * num_frames + 1
    big = texture(HEIGHT + 2 * margin, WIDTH + 2 * margin, seed)
    frames = []
    for k in range(num_frames):
        top, left = margin - dy * k, margin - dx * k
        frames.append(big[top : top + HEIGHT, left : left + WIDTH])
    return np.stack(frames)


@pytest.fixture(scope="session")
def codec_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("codec")


@pytest.fixture(scope="session")
def sprite_video(codec_dir) -> SyntheticVideo:
    """3 GOPs: a 48x48 textured sprite moving (+2, +1) px/frame over a static texture."""
    frames, corners = sprite_frames(36, 2, 1)
    path = encode_frames(frames, codec_dir / "sprite.mp4")
    return SyntheticVideo(path, frames, (2, 1), corners)


@pytest.fixture(scope="session")
def pan_video(codec_dir) -> SyntheticVideo:
    """3 GOPs of a global pan: all content moves (-2, +1) px/frame (left and down)."""
    frames = pan_frames(36, -2, 1)
    path = encode_frames(frames, codec_dir / "pan.mp4")
    return SyntheticVideo(path, frames, (-2, 1))


@pytest.fixture(scope="session")
def long_video(codec_dir) -> Path:
    """42 GOPs (504 frames) of a slow pan, for random access (an AVI, the other container)."""
    frames = pan_frames(42 * 12, 1, 0, seed=4)
    return encode_frames(frames, codec_dir / "long.avi")


def plain_decode(path, count=None) -> np.ndarray:
    """RGB frames decoded by plain PyAV from the start, T x H x W x 3."""
    import av

    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if count is not None and len(frames) == count:
                break
    return np.stack(frames)


def sprite_masks(corner, previous_corner, side=SPRITE, block=16):
    """(inside, background) pixel masks: blocks fully inside the sprite in this frame, and
    blocks touching the sprite in neither this frame nor the previous one."""
    inside = np.zeros((HEIGHT, WIDTH), bool)
    background = np.zeros((HEIGHT, WIDTH), bool)
    (x, y), (px, py) = corner, previous_corner
    for top in range(0, HEIGHT, block):
        for left in range(0, WIDTH, block):
            cells = (slice(top, top + block), slice(left, left + block))
            if x <= left and left + block <= x + side and y <= top and top + block <= y + side:
                inside[cells] = True
            touches = (
                left < max(x, px) + side
                and min(x, px) < left + block
                and top < max(y, py) + side
                and min(y, py) < top + block
            )
            background[cells] = not touches
    return inside, background


def check_sprite_motion(path, corners, tolerance: float):
    """The ground truth every codec is held to: read 3 segments at every position; the
    sprite's blocks move (+2, +1) px per frame within ``tolerance`` (mean), the static
    background stays still (up to a stray half-pel vector) and the I stream is the decoded
    frames, whatever the codec coded there. Returns the clip."""
    from imrkit.codec.reader import read_clip

    clip = read_clip(path, 0, 3, p_positions=tuple(range(1, 12)))
    errors, background_motion = [], []
    for slot, index in enumerate(clip.frame_indices[clip.frame_types == "P"]):
        inside, background = sprite_masks(corners[index], corners[index - 1])
        errors.append(np.abs(clip.motion[slot][inside] - np.array([2.0, 1.0])))
        background_motion.append(clip.motion[slot][background])
    assert np.concatenate(errors).mean() < tolerance
    background_motion = np.abs(np.concatenate(background_motion))
    assert background_motion.mean() < 0.05 and background_motion.max() <= 0.5
    np.testing.assert_array_equal(clip.iframes, plain_decode(path)[[0, 12, 24]])
    return clip


@pytest.fixture(scope="session")
def sprite_truth():
    """(frames, corners): the 48-px sprite moving (+2, +1) px/frame for 36 frames."""
    return sprite_frames(36, 2, 1)


@pytest.fixture(scope="session")
def synthetic():
    """The generators above, for test modules (conftest cannot be imported under
    ``--import-mode=importlib``)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        texture=texture,
        sprite_frames=sprite_frames,
        pan_frames=pan_frames,
        plain_decode=plain_decode,
        sprite_masks=sprite_masks,
        check_sprite_motion=check_sprite_motion,
    )
