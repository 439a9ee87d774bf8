"""Accuracy figures, view averaging, and evaluating a (tiny) saved classifier."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from imrkit.errors import ConfigError
from imrkit.evaluate.evaluation import evaluate, predict, summarize
from imrkit.models import build_model

from .conftest import tiny_data


def test_summarize_known_answer():
    scores = np.array([[0.8, 0.1, 0.1], [0.1, 0.3, 0.6], [0.2, 0.2, 0.6], [0.1, 0.5, 0.4]])
    result = summarize(scores, np.array([0, 1, 2, 2]), ["a", "b", "c"], views=3)
    assert result.predictions.tolist() == [0, 2, 2, 1]
    assert result.top1 == 0.5
    assert result.top5 == 1.0  # 3 classes: always within the top 5
    assert result.confusion.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    assert result.per_class == {"a": 1.0, "b": 0.0, "c": 0.5}
    assert result.mean_class_accuracy == 0.5


def test_top5_with_more_classes():
    # The true class (0) ranks 6th for the first clip, 5th for the second.
    first = [0.05, 0.3, 0.25, 0.2, 0.1, 0.06, 0.04]
    second = [0.11, 0.3, 0.25, 0.2, 0.1, 0.02, 0.02]
    result = summarize(np.array([first, second]), np.array([0, 0]), list("abcdefg"))
    assert result.top1 == 0.0 and result.top5 == 0.5
    assert result.per_class == {"a": 0.0}  # absent classes are not averaged in
    with pytest.raises(ConfigError):
        summarize(np.zeros((2, 3)), np.zeros(2, int), ["a", "b"])


class FirstPixelLogits(nn.Module):
    """Logits = the first pixel of the three I-frame channels (a stand-in classifier)."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))

    def forward(self, iframes, motion, residual):
        return iframes[:, :, 0, 0, 0] + self.anchor


def test_predict_averages_softmax_over_views():
    logits = torch.tensor([[0.0, 0.0, 12.0], [5.0, 0.0, 0.0], [5.0, 0.0, 0.0]])  # 3 views
    iframes = torch.zeros(1, 3, 3, 1, 2, 2)
    iframes[0, :, :, 0, 0, 0] = logits
    batch = {
        "iframes": iframes,
        "motion": torch.zeros(1, 3, 2, 5, 2, 2),
        "residual": torch.zeros(1, 3, 3, 5, 2, 2),
        "index": torch.tensor([4]),
        "num_skipped": 1,
    }
    indices, scores, skipped = predict(FirstPixelLogits(), [batch, {"num_skipped": 2}])
    assert indices.tolist() == [4] and skipped == 3
    np.testing.assert_allclose(scores[0], logits.softmax(-1).mean(0).numpy(), rtol=1e-6)
    # Averaged probabilities pick class 0; averaged logits would have picked class 2.
    assert scores[0].argmax() == 0 and logits.mean(0).argmax() == 2


@pytest.mark.slow
def test_evaluate_a_saved_classifier(sample_dataset, tmp_path):
    torch.manual_seed(0)
    model = build_model("imrnet_tiny", 10)
    model.save_pretrained(tmp_path / "model")
    data = tiny_data(sample_dataset)
    result = evaluate(tmp_path / "model", data, views=3, out_dir=tmp_path / "eval")
    assert result.views == 3 and len(result.labels) == 10
    assert result.confusion.sum() == 10 and result.scores.shape == (10, 10)
    np.testing.assert_allclose(result.scores.sum(axis=1), 1.0, rtol=1e-5)
    assert (tmp_path / "eval" / "confusion.png").stat().st_size > 0
    report = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert report["top1"] == result.top1 and len(report["predictions"]) == 10
    single = evaluate(model, data, views=1)
    assert single.views == 1 and len(single.labels) == 10
    with pytest.raises(ConfigError, match="the model has 5 classes"):
        evaluate(build_model("imrnet_tiny", 5), data, views=1)
