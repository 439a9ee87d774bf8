"""Frozen-feature evaluation: linear probe, kNN and retrieval on one set of embeddings.

The standard self-supervised protocols (issue 9, part 2) measure what a pretrained backbone
already knows, with no finetuning in the way:

- **linear probe**: multinomial logistic regression on the pooled embeddings;
- **kNN**: a cosine-similarity, similarity-weighted vote of the k nearest training clips;
- **retrieval R@k** (paper Appendix D, :mod:`imrkit.evaluate.retrieval`).

:func:`frozen_evaluation` embeds the training and test clips once (with
:func:`imrkit.evaluate.retrieval.compute_embeddings`) and returns all three.

    from imrkit.data.dataset import build_dataset
    train = build_dataset(config.data, "train", mode="eval")
    test = build_dataset(config.data, "test", mode="eval")
    figures = frozen_evaluation("runs/pretrain", train, test).as_dict()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from imrkit.data.splits import clip_groups
from imrkit.errors import ShapeError
from imrkit.evaluate.loading import open_model
from imrkit.evaluate.retrieval import (
    Embeddings,
    compute_embeddings,
    cosine_similarity,
    nearest_neighbours,
    retrieval_recall,
)

# L2 penalties the linear probe chooses from by cross-validation on the training clips
# (features are standardised, so one grid fits every backbone).
WEIGHT_DECAYS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


@dataclass
class ProbeResult:
    """Test-set predictions of a frozen-feature classifier.

    Attributes:
        accuracy: top-1 on the test clips, in %.
        predictions: (N,) int64 predicted classes.
        labels: (N,) int64 true classes.
        num_classes: classes the classifier chose among (chance = 100 / num_classes %).
        settings: what was used, e.g. ``{"weight_decay": 0.01}`` or ``{"k": 10, ...}``.
    """

    accuracy: float
    predictions: np.ndarray
    labels: np.ndarray
    num_classes: int
    settings: dict[str, float] = field(default_factory=dict)

    @property
    def correct(self) -> np.ndarray:
        """(N,) bool: which test clips were classified right (for grouped statistics)."""
        return self.predictions == self.labels

    @property
    def chance(self) -> float:
        """Top-1 of a uniform guess, in %."""
        return 100.0 / self.num_classes


def _as_array(values, dtype) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=dtype)


def _checked(
    train_features, train_labels, test_features, test_labels, num_classes: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """numpy copies of the inputs, with their layouts checked and the class count resolved."""
    arrays = {
        "train_features": _as_array(train_features, np.float64),
        "train_labels": _as_array(train_labels, np.int64),
        "test_features": _as_array(test_features, np.float64),
        "test_labels": _as_array(test_labels, np.int64),
    }
    for role in ("train", "test"):
        features, labels = arrays[f"{role}_features"], arrays[f"{role}_labels"]
        if features.ndim != 2 or labels.shape != (len(features),) or not len(features):
            raise ShapeError(
                f"{role}_features must be N x D and {role}_labels (N,) with N > 0, got "
                f"{features.shape} and {labels.shape}"
            )
        if labels.min() < 0:
            raise ShapeError(f"{role}_labels: every clip needs a class (found -1, unlabeled)")
    train_x, train_y = arrays["train_features"], arrays["train_labels"]
    test_x, test_y = arrays["test_features"], arrays["test_labels"]
    if train_x.shape[1] != test_x.shape[1]:
        raise ShapeError(
            f"train and test features differ in width: {train_x.shape[1]} vs {test_x.shape[1]}"
        )
    needed = int(max(train_y.max(), test_y.max())) + 1
    if num_classes is None:
        num_classes = needed
    elif num_classes < needed:
        raise ShapeError(f"num_classes={num_classes} but the labels go up to {needed - 1}")
    return train_x, train_y, test_x, test_y, num_classes


def _fit_logistic(
    features: np.ndarray, labels: np.ndarray, num_classes: int, weight_decay: float, steps: int
):
    """Multinomial logistic regression, standardised with these features' statistics.

    Minimises mean cross-entropy + ``weight_decay / 2 * ||W||^2`` (bias not penalised) with
    full-batch L-BFGS from zero weights: the objective is convex and nothing is random, so
    the fit is deterministic. Returns ``logits(features) -> N x num_classes`` (a tensor).
    """
    mean = features.mean(axis=0)
    # Constant features (std 0) are left centred rather than blown up.
    std = np.maximum(features.std(axis=0), 1e-6)
    x = torch.from_numpy((features - mean) / std)
    y = torch.from_numpy(labels)
    weight = torch.zeros(x.shape[1], num_classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias],
        lr=1.0,
        max_iter=steps,
        history_size=20,
        tolerance_grad=1e-7,
        tolerance_change=1e-10,
        line_search_fn="strong_wolfe",
    )

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ weight + bias, y) + 0.5 * weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():  # callers may hold torch.no_grad() (embedding code does)
        optimizer.step(closure)

    def logits(test_features: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            return torch.from_numpy((test_features - mean) / std) @ weight + bias

    return logits


def _stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """(N,) fold of each clip: each class's clips dealt round-robin in a seeded order."""
    order = np.random.default_rng(seed).permutation(len(labels))
    order = order[np.argsort(labels[order], kind="stable")]  # by class, shuffled within
    sorted_labels = labels[order]
    first_of_class = np.searchsorted(sorted_labels, sorted_labels, side="left")
    fold = np.empty(len(labels), np.int64)
    fold[order] = (np.arange(len(labels)) - first_of_class) % folds
    return fold


def _choose_weight_decay(
    features, labels, num_classes, candidates: Sequence[float], steps: int, folds: int, seed: int
) -> float:
    """The candidate with the best held-out accuracy over ``folds`` stratified folds of the
    training clips; ties (common with few clips) go to the lower held-out cross-entropy,
    then to the stronger penalty."""
    fold = _stratified_folds(labels, folds, seed)
    scores = []
    for weight_decay in candidates:
        hits, cross_entropy = 0, 0.0
        for k in range(folds):
            held_out = fold == k
            if held_out.all() or not held_out.any():
                continue
            logits = _fit_logistic(
                features[~held_out], labels[~held_out], num_classes, weight_decay, steps
            )(features[held_out])
            targets = torch.from_numpy(labels[held_out])
            hits += int((logits.argmax(dim=1) == targets).sum())
            cross_entropy += float(F.cross_entropy(logits, targets, reduction="sum"))
        scores.append((hits, -cross_entropy, weight_decay))
    return max(scores)[2]


def linear_probe(
    train_features,
    train_labels,
    test_features,
    test_labels,
    *,
    num_classes: int | None = None,
    weight_decay: float | Sequence[float] = WEIGHT_DECAYS,
    steps: int = 200,
    folds: int = 3,
    seed: int = 0,
) -> ProbeResult:
    """Logistic regression on frozen features, scored on the test clips.

    Features are standardised with the training clips' mean and standard deviation; the
    classifier is fitted by full-batch L-BFGS (``steps`` iterations at most) on mean
    cross-entropy plus ``weight_decay / 2 * ||W||^2``.

    Args:
        train_features, test_features: N x D (numpy or torch).
        train_labels, test_labels: (N,) classes >= 0.
        num_classes: defaults to the largest label + 1.
        weight_decay: one L2 penalty, or candidates chosen among by ``folds``-fold
            stratified cross-validation on the training clips (fold assignment from
            ``seed``; the only randomness: the fit itself starts from zero weights).

    Returns:
        Accuracy (%) and per-clip predictions; ``settings["weight_decay"]`` is the penalty used.
    """
    train_x, train_y, test_x, test_y, num_classes = _checked(
        train_features, train_labels, test_features, test_labels, num_classes
    )
    if isinstance(weight_decay, int | float):
        chosen = float(weight_decay)
    elif len(weight_decay) == 1:
        chosen = float(weight_decay[0])
    else:
        chosen = _choose_weight_decay(
            train_x, train_y, num_classes, weight_decay, steps, folds, seed
        )
    logits = _fit_logistic(train_x, train_y, num_classes, chosen, steps)(test_x)
    predictions = logits.argmax(dim=1).numpy()
    accuracy = 100.0 * float((predictions == test_y).mean())
    return ProbeResult(accuracy, predictions, test_y, num_classes, {"weight_decay": chosen})


def knn_classify(
    train_features,
    train_labels,
    test_features,
    test_labels,
    *,
    k: int = 10,
    temperature: float = 0.07,
    num_classes: int | None = None,
) -> ProbeResult:
    """k-nearest-neighbour classification by cosine similarity.

    Each test clip's ``k`` most similar training clips vote for their class with weight
    ``exp(similarity / temperature)`` (the weighted kNN of Wu et al. 2018, also used by
    DINO; a large ``temperature`` approaches a majority vote). Ties go to the lower class.
    """
    train_x, train_y, test_x, test_y, num_classes = _checked(
        train_features, train_labels, test_features, test_labels, num_classes
    )
    if k < 1 or temperature <= 0:
        raise ShapeError(f"k must be >= 1 and temperature > 0, got k={k}, {temperature=}")
    gallery, queries = Embeddings(train_x, train_y), Embeddings(test_x, test_y)
    neighbours = nearest_neighbours(queries, gallery, k)  # Nq x k, most similar first
    similarity = np.take_along_axis(cosine_similarity(queries, gallery), neighbours, axis=1)
    # Shifted by each row's best similarity: the same vote, no overflow.
    weights = np.exp((similarity - similarity[:, :1]) / temperature)  # Nq x k
    votes = np.zeros((len(test_x), num_classes))
    rows = np.repeat(np.arange(len(test_x)), neighbours.shape[1])
    np.add.at(votes, (rows, train_y[neighbours].ravel()), weights.ravel())
    predictions = votes.argmax(axis=1)
    accuracy = 100.0 * float((predictions == test_y).mean())
    settings = {"k": float(neighbours.shape[1]), "temperature": temperature}
    return ProbeResult(accuracy, predictions, test_y, num_classes, settings)


@dataclass
class FrozenEvaluation:
    """Linear probe, kNN and retrieval of one backbone's frozen embeddings.

    Attributes:
        linear, knn: the two classifiers' test results.
        recall: {k: R@k} as fractions (test clips query the training clips).
        groups: (N,) group id of each test clip (:func:`imrkit.data.splits.clip_groups`),
            for grouped intervals and the effective sample size.
        train, test: the embeddings.
    """

    linear: ProbeResult
    knn: ProbeResult
    recall: dict[int, float]
    groups: np.ndarray
    train: Embeddings
    test: Embeddings

    def as_dict(self) -> dict[str, float]:
        """Flat figures in %: ``linear_top1``, ``knn_top1``, ``recall_at_K``, ``chance``,
        plus ``test_clips`` and ``test_groups`` (counts)."""
        figures = {"linear_top1": self.linear.accuracy, "knn_top1": self.knn.accuracy}
        figures.update({f"recall_at_{k}": 100.0 * value for k, value in self.recall.items()})
        figures["chance"] = self.linear.chance
        figures["test_clips"] = float(len(self.test))
        figures["test_groups"] = float(len(np.unique(self.groups)))
        return figures


def evaluate_embeddings(
    train: Embeddings,
    test: Embeddings,
    *,
    num_classes: int | None = None,
    knn_k: int = 10,
    recall_ks: Sequence[int] = (1, 5, 10),
    weight_decay: float | Sequence[float] = WEIGHT_DECAYS,
    seed: int = 0,
) -> FrozenEvaluation:
    """The three protocols on given embeddings (test clips against training clips).

    kNN and retrieval compare the embeddings after standardising each feature with the
    training clips' mean and standard deviation, as the linear probe does: otherwise the
    widest-ranging features (often one stream's) decide every cosine similarity.
    """
    linear = linear_probe(
        train.features,
        train.labels,
        test.features,
        test.labels,
        num_classes=num_classes,
        weight_decay=weight_decay,
        seed=seed,
    )
    train_std, test_std = standardized(train, test)
    knn = knn_classify(
        train_std.features,
        train.labels,
        test_std.features,
        test.labels,
        k=knn_k,
        num_classes=num_classes,
    )
    recall = retrieval_recall(test_std, train_std, recall_ks)
    groups = clip_groups(test.paths) if test.paths else np.arange(len(test))
    return FrozenEvaluation(linear, knn, recall, groups, train, test)


def standardized(train: Embeddings, test: Embeddings) -> tuple[Embeddings, Embeddings]:
    """Both sets with each feature centred and scaled by the *training* clips' mean and
    standard deviation (constant features are left centred)."""
    mean = train.features.mean(axis=0)
    std = np.maximum(train.features.std(axis=0), 1e-6)
    return tuple(
        dataclasses.replace(e, features=((e.features - mean) / std).astype(np.float32))
        for e in (train, test)
    )


def frozen_evaluation(
    model_or_dir: nn.Module | str | Path,
    train_dataset,
    test_dataset,
    *,
    knn_k: int = 10,
    recall_ks: Sequence[int] = (1, 5, 10),
    weight_decay: float | Sequence[float] = WEIGHT_DECAYS,
    seed: int = 0,
    batch_size: int = 8,
    num_workers: int = 0,
    device: str | torch.device | None = None,
) -> FrozenEvaluation:
    """Embed the training and test clips once, then linear probe, kNN and R@k.

    Args:
        model_or_dir: a backbone, a saved model or a run folder (its weights stay frozen).
        train_dataset, test_dataset: :class:`CompressedVideoDataset` built with
            ``mode="eval"`` (centre start, centre crop), labelled. The training clips are
            the probe's training set and the retrieval gallery: build them with the
            labelled fraction the comparison calls for.
        knn_k, recall_ks, weight_decay, seed: see :func:`knn_classify`,
            :func:`retrieval_recall` and :func:`linear_probe`.
    """
    model, device = open_model(model_or_dir, device)
    train, test = (
        compute_embeddings(
            model, dataset, batch_size=batch_size, num_workers=num_workers, device=device
        )
        for dataset in (train_dataset, test_dataset)
    )
    return evaluate_embeddings(
        train,
        test,
        num_classes=test_dataset.split.num_classes,
        knn_k=knn_k,
        recall_ks=recall_ks,
        weight_decay=weight_decay,
        seed=seed,
    )
