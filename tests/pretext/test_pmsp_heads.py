"""PMSP heads and loss (Eq. 4) against their definitions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from imrkit.errors import ShapeError
from imrkit.pretext import build_pretext
from imrkit.pretext.pmsp import PMSPHeads, pool_window_features
from imrkit.transforms.pmsp_labels import (
    NUM_PMSP_LABELS,
    PMSP_LEVELS,
    pmsp_label_tensor,
    split_label_tensor,
)


def random_features(batch=2, num_gops=5, size=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return {
        "iframes": torch.randn(batch, 6, num_gops, size, size, generator=generator),
        "motion": torch.randn(batch, 4, 5 * num_gops, size, size, generator=generator),
        "residual": torch.randn(batch, 4, 5 * num_gops, size, size, generator=generator),
    }


@pytest.mark.parametrize("size", [4, 7, 2])
def test_window_features_follow_the_definition(size):
    features = random_features(size=size)
    pooled = pool_window_features(features, 5, PMSP_LEVELS)
    for s, t in PMSP_LEVELS:
        assert pooled[(s, t)].shape == (2, t, 14 * s * s)
        for n in range(t):
            last_gop = n + 5 - t  # window n spans GOPs [n, n + T - t]
            parts = [
                features["iframes"][:, :, n : last_gop + 1].mean(2),
                features["motion"][:, :, 5 * n : 5 * (last_gop + 1)].mean(2),
                features["residual"][:, :, 5 * n : 5 * (last_gop + 1)].mean(2),
            ]
            grid = torch.cat([F.adaptive_avg_pool2d(part, s) for part in parts], 1)
            torch.testing.assert_close(pooled[(s, t)][:, n], grid.flatten(1))


def test_loss_is_cross_entropy_summed_over_windows_and_levels():
    torch.manual_seed(0)
    heads = PMSPHeads(14, hidden_dim=8)
    features = random_features()
    logits = heads(features, 5)
    labels = torch.stack([torch.randint(s * s, (2,)) for s, t in PMSP_LEVELS for _ in range(t)], 1)
    assert labels.shape == (2, NUM_PMSP_LABELS)
    loss, metrics = heads.loss(logits, labels)
    targets = split_label_tensor(labels)
    expected = sum(
        F.cross_entropy(logits[level][:, q], targets[level][:, q])
        for level in PMSP_LEVELS
        for q in range(level[1])
    )
    torch.testing.assert_close(loss, expected)
    for s, t in PMSP_LEVELS:
        assert logits[(s, t)].shape == (2, t, s * s)
        hits = (logits[(s, t)].argmax(-1) == targets[(s, t)]).float().mean().item()
        assert metrics[f"pmsp/acc_s{s}_t{t}"].item() == pytest.approx(hits)


def test_labels_come_from_the_batch_or_its_motion(fake_backbone, make_batch):
    pretext = build_pretext("pmsp", fake_backbone, hidden_dim=8)
    batch = make_batch(batch_size=3, size=64)
    computed = pretext(batch)
    given = pretext({**batch, "pmsp": pmsp_label_tensor(batch["motion"])})
    assert computed.loss.item() == pytest.approx(given.loss.item(), rel=1e-6)
    other = pretext({**batch, "pmsp": torch.zeros(3, NUM_PMSP_LABELS, dtype=torch.long)})
    assert other.loss.item() != pytest.approx(computed.loss.item(), rel=1e-3)
    with pytest.raises(ShapeError, match="pmsp"):
        pretext({**batch, "pmsp": torch.zeros(3, 9, dtype=torch.long)})
