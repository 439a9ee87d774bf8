"""The fair frozen-feature protocol: batch-norm recalibration of random networks,
standardised kNN and retrieval, hand-crafted motion baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imrkit.evaluate.batchnorm import batchnorm_layers, recalibrate_batchnorm
from imrkit.evaluate.handcrafted import (
    GRID,
    HANDCRAFTED,
    handcrafted_embeddings,
    motion_grid,
    pmsp_pyramid,
)
from imrkit.evaluate.probe import evaluate_embeddings, knn_classify, standardized
from imrkit.evaluate.retrieval import Embeddings

from .conftest import tiny_data


def test_recalibration_replaces_initial_statistics_and_touches_nothing_else(sample_dataset):
    from imrkit.data.dataset import build_dataset
    from imrkit.models import build_model

    torch.manual_seed(0)
    model = build_model("imrnet_tiny").eval()
    weights = {k: v.clone() for k, v in model.named_parameters()}
    dataset = build_dataset(tiny_data(sample_dataset), "train", mode="eval", labelled=False)
    used = recalibrate_batchnorm(model, dataset, max_clips=6, batch_size=4)
    assert used == 6
    layers = batchnorm_layers(model)
    assert layers and all(layer.momentum == 0.1 for layer in layers)  # restored
    assert not model.training  # the mode it was in
    # Statistics now describe the data, not the (0, 1) of a fresh layer.
    means = [layer.running_mean for layer in layers]
    variances = [layer.running_var for layer in layers]
    assert any(not torch.allclose(m, torch.zeros_like(m)) for m in means)
    assert any(not torch.allclose(v, torch.ones_like(v)) for v in variances)
    for key, value in model.named_parameters():
        assert torch.equal(value, weights[key]), key  # no weight update


def test_standardised_with_training_statistics():
    rng = np.random.default_rng(0)
    train = Embeddings(rng.normal(3.0, 5.0, (50, 4)).astype(np.float32), np.zeros(50, np.int64))
    test = Embeddings(rng.normal(3.0, 5.0, (20, 4)).astype(np.float32), np.zeros(20, np.int64))
    train_std, test_std = standardized(train, test)
    np.testing.assert_allclose(train_std.features.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(train_std.features.std(0), 1, atol=1e-4)
    expected = (test.features - train.features.mean(0)) / train.features.std(0)
    np.testing.assert_allclose(test_std.features, expected, rtol=1e-4, atol=1e-5)


def test_knn_and_retrieval_are_not_ruled_by_one_wide_feature():
    """The class lives in a narrow feature; a wide feature is noise. Raw cosine kNN follows
    the noise; the protocol's standardised kNN finds the class."""
    rng = np.random.default_rng(1)

    def clips(n):
        labels = rng.integers(0, 2, n)
        signal = labels[:, None] * 0.02 + rng.normal(0, 0.002, (n, 1))
        noise = rng.normal(0, 100.0, (n, 3))
        return Embeddings(np.hstack([signal, noise]).astype(np.float32), labels)

    train, test = clips(200), clips(100)
    raw = knn_classify(train.features, train.labels, test.features, test.labels, k=5)
    fair = evaluate_embeddings(train, test, knn_k=5, recall_ks=(1,), weight_decay=0.01)
    assert raw.accuracy < 70 and fair.knn.accuracy > 95
    assert fair.recall[1] > 0.95


def test_motion_grid_of_a_uniform_field():
    motion = torch.zeros(2, 2, 25, 32, 32)
    motion[:, 0], motion[:, 1] = 3.0, 4.0  # |motion| = 5 everywhere
    features = motion_grid(motion, num_gops=5)
    assert features.shape == (2, 25 * GRID * GRID)
    torch.testing.assert_close(features, torch.full_like(features, 5.0))


def test_pmsp_pyramid_sees_where_motion_is():
    still = torch.zeros(1, 2, 25, 32, 32)
    moving = still.clone()
    moving[:, 0, :, 4:12, 4:12] = 2.0  # an object moving right in the top-left corner
    a, b = pmsp_pyramid(still, 5), pmsp_pyramid(moving, 5)
    assert a.shape == b.shape and a.shape[1] > 27
    assert torch.all(a == 0) and b.max() > 0


@pytest.mark.parametrize("name", sorted(HANDCRAFTED))
def test_handcrafted_embeddings_of_a_dataset(sample_dataset, name):
    from imrkit.data.dataset import build_dataset

    dataset = build_dataset(tiny_data(sample_dataset), "test", mode="eval")
    embeddings = handcrafted_embeddings(name, dataset, batch_size=4)
    assert len(embeddings) == len(dataset) and embeddings.features.ndim == 2
    assert np.isfinite(embeddings.features).all() and embeddings.features.std() > 0
    assert sorted(embeddings.labels.tolist()) == sorted(r.label for r in dataset.split.records)
