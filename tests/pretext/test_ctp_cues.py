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


def test_wilson_interval_matches_known_values():
    from imrkit.bench.ctp import wilson_interval

    low, high = wilson_interval(50.0, 100)
    assert abs(low - 40.38) < 0.01 and abs(high - 59.62) < 0.01
    low, high = wilson_interval(25.0, 200)  # chance of 4-way CTP over the sample's test set
    assert abs(low - 19.5) < 0.1 and abs(high - 31.4) < 0.1
    assert abs(wilson_interval(0.0, 10)[0]) < 1e-9


def test_learning_curve_follows_its_seed_and_width():
    """Same seed, same curve; another seed or wider M/R pathways, another network."""
    from imrkit.bench.ctp import learning_curve

    clips = _square_clips(batch_size=8)
    train = {k: v.repeat(2, 1, 1, 1, 1) for k, v in clips.items()}

    def curve(**kwargs):
        return learning_curve(
            train, clips, 2, pooling="gop", lr=0.01, batch_size=4, eval_every=1, **kwargs
        )

    first, again, other = curve(seed=0), curve(seed=0), curve(seed=1)
    wide = curve(seed=0, pframes_dims=(8, 8, 16, 16))
    losses = [[point["train_loss"] for point in c] for c in (first, again, other, wide)]
    assert losses[0] == losses[1]
    assert losses[0] != losses[2] and losses[0] != losses[3]
    assert [point["step"] for point in first] == [1, 2]
    low, high = first[-1]["ci"]
    assert 0 <= low <= first[-1]["accuracy"] <= high <= 100
