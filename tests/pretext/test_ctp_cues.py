"""The CTP diagnostic (``imrkit bench ctp``): its cues see what each type changes."""

from __future__ import annotations

import numpy as np
import torch

from imrkit.bench.ctp import correspondence_cues
from imrkit.pretext.ctp import RANDOM, SHIFT, apply_correspondence


def _square_clips(batch_size: int = 6, num_gops: int = 5, size: int = 32) -> dict:
    """A bright square moving a different path in each clip, at a speed that changes from
    GOP to GOP; motion is non-zero exactly where it moves, and I-frames show it."""
    generator = np.random.default_rng(0)
    iframes = torch.zeros(batch_size, 3, num_gops, size, size)
    motion = torch.zeros(batch_size, 2, 5 * num_gops, size, size)
    for clip in range(batch_size):
        x, y = generator.integers(0, size - 8, 2)
        for gop in range(num_gops):
            step = int(generator.integers(0, 4)) * (1 if clip % 2 else -1)
            iframes[clip, :, gop, y : y + 8, x : x + 8] = 1.0
            x = int(np.clip(x + 2 * step, 0, size - 8))
            for frame in range(5):
                motion[clip, 0, 5 * gop + frame, y : y + 8, x : x + 8] = abs(step) + 0.1
    return {
        "iframes": iframes,
        "motion": motion,
        "residual": torch.zeros_like(motion)[:, :1].repeat(1, 3, 1, 1, 1),
    }


def test_cues_tell_aligned_from_random_and_shifted():
    clips = _square_clips()
    aligned = correspondence_cues(clips)
    generator = torch.Generator().manual_seed(0)
    size = len(clips["iframes"])
    random = correspondence_cues(
        apply_correspondence(clips, torch.full((size,), RANDOM), generator)
    )
    shifted = correspondence_cues(
        apply_correspondence(clips, torch.full((size,), SHIFT), generator)
    )
    assert aligned.shape == (size, 2 + 4)  # spatial, temporal, 4 GOP boundaries
    assert aligned[:, 0].mean() > random[:, 0].mean() + 0.2  # motion where the I-frame changes
    assert aligned[:, 1].mean() > shifted[:, 1].mean() + 0.2  # motion energy in step with it
    assert np.isfinite(aligned).all()
