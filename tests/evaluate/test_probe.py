"""Linear probe, kNN and the frozen evaluation on constructed features with a known answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imrkit.errors import ShapeError
from imrkit.evaluate.probe import (
    evaluate_embeddings,
    frozen_evaluation,
    knn_classify,
    linear_probe,
)
from imrkit.evaluate.retrieval import Embeddings


def blobs(num_train: int, num_test: int, *, spread: float, dim: int = 16, seed: int = 0):
    """Ten Gaussian classes (unit noise) around centres ``spread`` apart on average."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, spread, (10, dim))
    train_labels = np.arange(num_train) % 10
    test_labels = np.arange(num_test) % 10
    train = centres[train_labels] + rng.normal(0.0, 1.0, (num_train, dim))
    test = centres[test_labels] + rng.normal(0.0, 1.0, (num_test, dim))
    return train, train_labels, test, test_labels


def test_separable_blobs_are_classified_perfectly():
    data = blobs(200, 100, spread=5.0)
    linear = linear_probe(*data, weight_decay=1e-3)
    knn = knn_classify(*data, k=5)
    for result in (linear, knn):
        assert result.accuracy == 100.0
        assert result.predictions.shape == (100,) and result.correct.all()
        assert result.num_classes == 10 and result.chance == 10.0
    assert linear.settings == {"weight_decay": 1e-3}


def test_random_labels_stay_near_chance_on_held_out_clips():
    # 256 random features for 300 clips: room to fit random labels, nothing to learn.
    rng = np.random.default_rng(2)
    train, test = rng.normal(size=(300, 256)), rng.normal(size=(300, 256))
    train_labels, test_labels = rng.integers(0, 10, 300), rng.integers(0, 10, 300)
    linear = linear_probe(train, train_labels, test, test_labels, weight_decay=1e-2)
    knn = knn_classify(train, train_labels, test, test_labels)
    # Chance is 10%; with 300 clips its standard deviation is 1.7 points.
    assert linear.accuracy < 20.0 and knn.accuracy < 20.0
    # The probe can fit its own training clips: the gap is generalisation, not a broken fit.
    fitted = linear_probe(train, train_labels, train, train_labels, weight_decay=1e-4)
    assert fitted.accuracy > 60.0


def test_linear_probe_chooses_a_penalty_by_cross_validation():
    data = blobs(120, 60, spread=1.2, seed=3)  # overlapping classes: the penalty matters
    result = linear_probe(*data, weight_decay=(1e-4, 1.0), seed=0)
    assert result.settings["weight_decay"] in (1e-4, 1.0)
    fixed = linear_probe(*data, weight_decay=result.settings["weight_decay"])
    np.testing.assert_array_equal(result.predictions, fixed.predictions)
    again = linear_probe(*data, weight_decay=(1e-4, 1.0), seed=0)
    np.testing.assert_array_equal(result.predictions, again.predictions)  # deterministic


def test_linear_probe_standardises_with_training_statistics():
    train, train_labels, test, test_labels = blobs(150, 80, spread=1.5, seed=4)
    scale = np.logspace(-3, 3, train.shape[1])  # per-feature scale and offset
    offset = np.linspace(-100, 100, train.shape[1])
    plain = linear_probe(train, train_labels, test, test_labels, weight_decay=1e-2)
    moved = linear_probe(
        train * scale + offset, train_labels, test * scale + offset, test_labels, weight_decay=1e-2
    )
    np.testing.assert_array_equal(plain.predictions, moved.predictions)
    assert 30.0 < plain.accuracy < 100.0  # a case where the fit matters


def test_torch_tensors_give_the_same_result():
    data = blobs(100, 50, spread=1.5, seed=5)
    as_numpy = linear_probe(*data, weight_decay=1e-2)
    as_torch = linear_probe(*(torch.as_tensor(a) for a in data), weight_decay=1e-2)
    np.testing.assert_array_equal(as_numpy.predictions, as_torch.predictions)
    knn = knn_classify(*(torch.as_tensor(a) for a in data), k=3)
    np.testing.assert_array_equal(knn.predictions, knn_classify(*data, k=3).predictions)


def unit(angles_degrees) -> np.ndarray:
    radians = np.radians(angles_degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


def test_knn_vote_is_weighted_by_similarity():
    # The query (0 degrees) is 10 degrees from a class-0 clip and 25 and 30 degrees from two
    # class-1 clips. Weighted (temperature 0.07): exp(-1.13) + exp(-1.70) = 0.50 < 1, class 0
    # wins; a near-majority vote (temperature 100) gives class 1. Cosine ignores norms.
    train = unit([10, -25, 30, 180]) * np.array([[1.0], [4.0], [0.5], [1.0]])
    train_labels = np.array([0, 1, 1, 2])
    query, query_label = unit([0]), np.array([0])
    weighted = knn_classify(train, train_labels, query, query_label, k=3)
    majority = knn_classify(train, train_labels, query, query_label, k=3, temperature=100.0)
    assert weighted.predictions.tolist() == [0] and weighted.accuracy == 100.0
    assert majority.predictions.tolist() == [1] and majority.accuracy == 0.0
    # k = 1 is the nearest clip's class; a k beyond the training set uses all of it.
    assert knn_classify(train, train_labels, unit([178]), [2], k=1).predictions.tolist() == [2]
    assert knn_classify(train, train_labels, query, query_label, k=50).settings["k"] == 4


def test_invalid_inputs_raise_shape_errors():
    data = blobs(20, 10, spread=5.0)
    with pytest.raises(ShapeError, match="unlabeled"):
        linear_probe(data[0], np.full(20, -1), data[2], data[3])
    with pytest.raises(ShapeError, match="num_classes"):
        knn_classify(*data, num_classes=5)
    with pytest.raises(ShapeError, match="width"):
        knn_classify(data[0], data[1], data[2][:, :3], data[3])
    with pytest.raises(ShapeError):
        linear_probe(data[0], data[1][:5], data[2], data[3])


def test_evaluate_embeddings_reports_every_protocol():
    train, train_labels, test, test_labels = blobs(60, 30, spread=5.0, seed=6)
    # Each class's three test clips form one group (g01): 10 groups.
    paths = [f"C{c}/v_C{c}_g01_c{i // 10:02d}.avi" for i, c in enumerate(test_labels)]
    result = evaluate_embeddings(
        Embeddings(train, train_labels),
        Embeddings(test, test_labels, paths),
        knn_k=1,
        recall_ks=(1, 5),
        weight_decay=1e-3,
    )
    figures = result.as_dict()
    assert figures["linear_top1"] == 100.0 and figures["chance"] == 10.0
    # R@1 is 1-NN accuracy by definition.
    assert figures["recall_at_1"] == pytest.approx(figures["knn_top1"])
    assert set(figures) == {
        "linear_top1",
        "knn_top1",
        "recall_at_1",
        "recall_at_5",
        "chance",
        "test_clips",
        "test_groups",
    }
    assert figures["test_clips"] == 30 and figures["test_groups"] == 10
    np.testing.assert_array_equal(result.groups, np.tile(np.arange(10), 3))


@pytest.mark.slow
def test_frozen_evaluation_of_a_backbone(sample_dataset):
    from imrkit.data.dataset import build_dataset
    from imrkit.models import build_model

    from .conftest import tiny_data

    config = tiny_data(sample_dataset)
    train = build_dataset(config, "train", mode="eval")
    test = build_dataset(config, "test", mode="eval")
    torch.manual_seed(0)
    model = build_model("imrnet_tiny")
    result = frozen_evaluation(model, train, test, knn_k=3, recall_ks=(1, 10), weight_decay=0.1)
    assert len(result.train) == len(train) and len(result.test) == len(test)
    assert result.linear.num_classes == train.split.num_classes
    assert result.linear.predictions.shape == (len(test),)
    assert result.recall[10] == 1.0  # every class is among the 10 training clips
    again = frozen_evaluation(model, train, test, knn_k=3, recall_ks=(1, 10), weight_decay=0.1)
    np.testing.assert_array_equal(result.linear.predictions, again.linear.predictions)
