"""Classification evaluation (SPEC section 4, "Test"): 3-crop views, averaged softmax.

:func:`evaluate` scores a trained classifier on a split: each test clip (centre start GOP)
gives ``views`` crops (:func:`imrkit.transforms.test_views`: three equidistant crops), the
model's softmax scores are averaged over them, and :func:`summarize` turns the scores into
top-1/top-5, per-class accuracy and a confusion matrix. :func:`predict` is the loop itself;
the finetuning run uses it under accelerate (several processes: every process scores its
shard, the results are gathered once and deduplicated by dataset index, which also absorbs
accelerate's padding of the last batch and batches shrunk by skipped videos).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from imrkit.data.dataset import DatasetConfig, build_dataset, make_loader
from imrkit.errors import ConfigError
from imrkit.evaluate.loading import open_model
from imrkit.runs import EVAL_DIR
from imrkit.transforms.compact import model_inputs


@dataclass
class EvalResult:
    """Scores and figures of a classifier on a split.

    Attributes:
        top1: fraction of clips whose top-scored class is right.
        top5: fraction whose right class is among the 5 best (all, with <= 5 classes).
        per_class: accuracy of each class present, by name.
        confusion: C x C counts, rows true class, columns predicted class.
        class_names: the C names.
        predictions: (N,) predicted class per clip.
        labels: (N,) true class per clip.
        scores: (N, C) softmax averaged over views.
        paths: the N videos.
        views: crops per clip.
        num_skipped: unreadable videos left out.
    """

    top1: float
    top5: float
    per_class: dict[str, float]
    confusion: np.ndarray
    class_names: list[str]
    predictions: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    paths: list[str] = field(default_factory=list)
    views: int = 1
    num_skipped: int = 0

    @property
    def mean_class_accuracy(self) -> float:
        return float(np.mean(list(self.per_class.values()))) if self.per_class else 0.0

    def metrics(self) -> dict[str, float]:
        return {
            "top1": self.top1,
            "top5": self.top5,
            "mean_class_accuracy": self.mean_class_accuracy,
            "num_clips": float(len(self.labels)),
            "num_skipped": float(self.num_skipped),
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``results.json`` (metrics, per-class accuracy, confusion, predictions) and
        ``confusion.png`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        report = {
            **self.metrics(),
            "views": self.views,
            "per_class": self.per_class,
            "class_names": self.class_names,
            "confusion": self.confusion.tolist(),
            "predictions": [
                {"path": p, "label": int(t), "predicted": int(q)}
                for p, t, q in zip(self.paths, self.labels, self.predictions, strict=False)
            ],
        }
        (directory / "results.json").write_text(json.dumps(report, indent=2) + "\n")
        plot_confusion(self, directory / "confusion.png")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> EvalResult:
        """What :meth:`save` wrote into ``directory`` (or a finetuning run folder's
        ``eval/``); per-clip scores are not saved, so ``scores`` is empty."""
        directory = Path(directory)
        path = directory / "results.json"
        if not path.is_file() and (directory / EVAL_DIR / "results.json").is_file():
            path = directory / EVAL_DIR / "results.json"
        if not path.is_file():
            raise ConfigError(f"{directory}: no evaluation results.json")
        report = json.loads(path.read_text())
        predictions = report["predictions"]
        return cls(
            top1=report["top1"],
            top5=report["top5"],
            per_class=report["per_class"],
            confusion=np.asarray(report["confusion"], dtype=np.int64),
            class_names=list(report["class_names"]),
            predictions=np.array([p["predicted"] for p in predictions], dtype=np.int64),
            labels=np.array([p["label"] for p in predictions], dtype=np.int64),
            scores=np.zeros((len(predictions), 0), dtype=np.float32),
            paths=[p["path"] for p in predictions],
            views=int(report.get("views", 1)),
            num_skipped=int(report.get("num_skipped", 0)),
        )


def summarize(
    scores: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    paths: list[str] | None = None,
    *,
    views: int = 1,
    num_skipped: int = 0,
) -> EvalResult:
    """Accuracy figures of (N, C) class scores against (N,) true labels."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    num_classes = len(class_names)
    if scores.ndim != 2 or scores.shape[1] != num_classes or len(scores) != len(labels):
        raise ConfigError(
            f"scores {scores.shape} do not fit {len(labels)} labels of {num_classes} classes"
        )
    predictions = scores.argmax(axis=1) if len(scores) else np.zeros(0, np.int64)
    # Stable descending order, so ties resolve to the lower class index, like argmax.
    ranked = np.argsort(-scores, axis=1, kind="stable")[:, : min(5, num_classes)]
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    per_class = {
        class_names[c]: float(confusion[c, c] / confusion[c].sum())
        for c in range(num_classes)
        if confusion[c].sum()
    }
    count = max(len(labels), 1)
    return EvalResult(
        top1=float((predictions == labels).sum() / count),
        top5=float((ranked == labels[:, None]).any(axis=1).sum() / count),
        per_class=per_class,
        confusion=confusion,
        class_names=list(class_names),
        predictions=predictions,
        labels=labels,
        scores=scores.astype(np.float32),
        paths=list(paths or []),
        views=views,
        num_skipped=num_skipped,
    )


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def predict(model: nn.Module, loader, accelerator=None) -> tuple[np.ndarray, np.ndarray, int]:
    """Softmax scores of every clip of ``loader``, averaged over views.

    Args:
        model: a classifier (prepared by accelerate or not).
        loader: batches of :func:`imrkit.data.dataset.collate_clips`; stream tensors are
            B x ... or, with views, B x V x ... .
        accelerator: when given (several processes), results are gathered from all.

    Returns:
        ``(indices, scores, num_skipped)``: dataset indices (N,) in increasing order, their
        (N, C) scores, and the number of unreadable videos.
    """
    was_training = model.training
    model.eval()
    device = accelerator.device if accelerator is not None else _model_device(model)
    local: list[tuple[int, np.ndarray]] = []
    skipped = 0
    for batch in loader:
        skipped += batch["num_skipped"]
        if "iframes" not in batch:
            continue
        batch = model_inputs(batch, device)
        streams = [batch[k] for k in ("iframes", "motion", "residual")]
        batch_size = streams[0].shape[0]
        views = streams[0].shape[1] if streams[0].ndim == 6 else 1
        if views > 1 or streams[0].ndim == 6:
            streams = [s.flatten(0, 1) for s in streams]  # (B*V) x C x T x H x W
        probabilities = model(*streams).float().softmax(dim=-1)
        probabilities = probabilities.view(batch_size, views, -1).mean(dim=1).cpu().numpy()
        local.extend(zip(batch["index"].tolist(), probabilities, strict=True))
    model.train(was_training)
    if accelerator is not None and accelerator.num_processes > 1:
        from accelerate.utils import gather_object

        local = gather_object(local)
        skipped = sum(gather_object([skipped]))
    unique = dict(local)  # padding repeats a few samples: one entry per dataset index
    indices = np.array(sorted(unique), dtype=np.int64)
    scores = np.stack([unique[i] for i in indices]) if len(indices) else np.zeros((0, 0))
    return indices, scores, skipped


def evaluate_loader(
    model: nn.Module, loader, class_names: list[str], *, accelerator=None, views: int = 1
) -> EvalResult:
    """:func:`predict` on a loader over a :class:`CompressedVideoDataset`, then summarize."""
    indices, scores, skipped = predict(model, loader, accelerator)
    dataset = loader.dataset
    records = [dataset.split.records[i] for i in indices]
    if not len(indices):
        scores = np.zeros((0, len(class_names)))
    return summarize(
        scores,
        np.array([r.label for r in records], dtype=np.int64),
        class_names,
        [str(r.path) for r in records],
        views=views,
        num_skipped=skipped,
    )


def evaluate(
    model_or_dir: nn.Module | str | Path,
    dataset_config: DatasetConfig,
    *,
    views: int = 3,
    subset: str | None = None,
    batch_size: int = 4,
    num_workers: int | None = None,
    device: str | torch.device | None = None,
    out_dir: str | Path | None = None,
) -> EvalResult:
    """Test a classifier: ``views`` crops per clip (1 or 3), softmax averaged (SPEC sec. 4).

    Args:
        model_or_dir: an IMRNet with a classifier, a save_pretrained folder, or a finetuning
            run folder (its ``model/``).
        dataset_config: the data; ``subset`` defaults to its ``eval_subset``.
        views: 3 (three equidistant crops, the paper's test) or 1 (centre crop).
        num_workers: DataLoader workers (default: the config's).
        device: where to run (default: CUDA when available, else CPU).
        out_dir: also write ``results.json`` and ``confusion.png`` there.
    """
    if views not in (1, 3):
        raise ConfigError(f"views must be 1 or 3, got {views}")
    model, _ = open_model(model_or_dir, device)
    config = dataclasses.replace(
        dataset_config,
        transform=dataclasses.replace(dataset_config.transform, num_test_crops=views),
    )
    dataset = build_dataset(config, subset or config.eval_subset, mode="test")
    num_classes = getattr(getattr(model, "config", None), "num_classes", None)
    if num_classes is not None and num_classes != len(dataset.class_names):
        raise ConfigError(
            f"the model has {num_classes} classes, the dataset "
            f"{len(dataset.class_names)} ({config.root})"
        )
    loader = make_loader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=config.num_workers if num_workers is None else num_workers,
        timeout_s=config.timeout_s,
    )
    result = evaluate_loader(model, loader, dataset.class_names, views=views)
    if out_dir is not None:
        result.save(out_dir)
    return result


def plot_confusion(result: EvalResult, path: str | Path | None = None):
    """The confusion-matrix figure (:func:`imrkit.viz.confusion_matrix`), saved if ``path``."""
    from imrkit.viz.base import save_figure
    from imrkit.viz.results import confusion_matrix

    title = f"top-1 {100 * result.top1:.1f}% ({len(result.labels)} clips, {result.views} views)"
    figure = confusion_matrix(result.confusion, result.class_names, title=title)
    if path is not None:
        save_figure(figure, path)
    return figure


__all__ = [
    "EVAL_DIR",
    "EvalResult",
    "evaluate",
    "evaluate_loader",
    "plot_confusion",
    "predict",
    "summarize",
]
