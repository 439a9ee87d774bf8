"""Retrieval recall on embeddings with a known answer, and on a tiny trained model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imrkit.errors import ConfigError
from imrkit.evaluate.retrieval import (
    Embeddings,
    nearest_neighbours,
    retrieval_recall,
    retrieve,
)


def unit(angles_degrees) -> np.ndarray:
    radians = np.radians(angles_degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1).astype(np.float32)


@pytest.fixture
def constructed():
    # Gallery on the unit circle; classes: 0 at 0-20 degrees, 1 at 90-110, 2 at 180.
    gallery = Embeddings(unit([0, 10, 20, 90, 100, 110, 180]), np.array([0, 0, 0, 1, 1, 1, 2]))
    # Query 0 (class 0) sits among class 0. Query 1 (class 1, at 47 degrees) is nearest the
    # 20- and 10-degree clips of class 0, then 90 degrees (class 1). Query 2 is class 2's
    # clip scaled by 3 (cosine ignores norms).
    queries = Embeddings(
        unit([5, 47, 180]) * np.array([[1.0], [1.0], [3.0]], np.float32), np.array([0, 1, 2])
    )
    return queries, gallery


def test_nearest_neighbours_order(constructed):
    queries, gallery = constructed
    neighbours = nearest_neighbours(queries, gallery, 4)
    assert neighbours[0].tolist()[:2] in ([0, 1], [1, 0])  # 5 degrees: 0 and 10 tie
    assert neighbours[1].tolist() == [2, 1, 3, 0]  # 27, 37, 43 and 47 degrees away
    assert neighbours[2, 0] == 6
    assert nearest_neighbours(queries, gallery, 50).shape == (3, 7)  # capped at the gallery


def test_recall_at_k(constructed):
    queries, gallery = constructed
    recall = retrieval_recall(queries, gallery, ks=(1, 2, 3, 50))
    # Query 1 only finds its class at rank 3; the others at rank 1.
    assert recall == {1: pytest.approx(2 / 3), 2: pytest.approx(2 / 3), 3: 1.0, 50: 1.0}
    with pytest.raises(ConfigError):
        retrieval_recall(Embeddings(np.zeros((0, 2)), np.zeros(0, int)), gallery)


@pytest.mark.slow
def test_retrieve_with_a_trained_model(pretrained_run, sample_dataset, tmp_path):
    from .conftest import tiny_data

    result = retrieve(
        pretrained_run.run_dir,
        tiny_data(sample_dataset),
        ks=(1, 5, 10, 20, 50),
        top_k=3,
        out_dir=tmp_path,
    )
    assert len(result.queries) == 10 and len(result.gallery) == 10
    norms = np.linalg.norm(result.queries.features, axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    values = [result.recall[k] for k in (1, 5, 10, 20, 50)]
    assert values == sorted(values)  # recall never drops with k
    assert result.recall[10] == 1.0  # every class is in the 10-clip gallery
    assert result.neighbours.shape == (10, 3)
    assert (np.diff(result.similarities, axis=1) <= 1e-6).all()  # most similar first
    report = json.loads((tmp_path / "retrieval.json").read_text())
    assert report["recall"]["R@10"] == 1.0 and len(report["queries"][0]["neighbours"]) == 3
