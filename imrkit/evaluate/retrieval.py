"""Nearest-neighbour video retrieval (paper Appendix D).

Clips are embedded with :meth:`IMRNet.embed` (centre start GOP, centre crop), the
embeddings L2-normalised, and compared by cosine similarity. Test clips are the queries,
training clips the gallery; a query is a hit at k when any of its k most similar gallery
clips has its class, and R@k is the fraction of hits.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from imrkit.data.dataset import DatasetConfig, build_dataset, make_loader
from imrkit.errors import ConfigError
from imrkit.evaluate.loading import open_model
from imrkit.transforms.compact import model_inputs

RECALL_KS = (1, 5, 10, 20, 50)


@dataclass
class Embeddings:
    """Clip embeddings of a split.

    Attributes:
        features: (N, D) float32, each row of unit L2 norm.
        labels: (N,) int64 classes (-1 unlabeled).
        paths: the N videos.
        num_skipped: unreadable videos left out.
    """

    features: np.ndarray
    labels: np.ndarray
    paths: list[str] = field(default_factory=list)
    num_skipped: int = 0

    def __len__(self) -> int:
        return len(self.features)


def l2_normalize(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, 1e-12)


@torch.no_grad()
def compute_embeddings(
    model: nn.Module,
    dataset,
    *,
    batch_size: int = 4,
    num_workers: int = 0,
    device: str | torch.device | None = None,
) -> Embeddings:
    """Embed every clip of ``dataset`` (a :class:`CompressedVideoDataset`, typically built
    with ``mode="eval"``: centre start, centre crop) with ``model.embed``."""
    device = torch.device(device) if device else next(model.parameters()).device
    model = model.to(device)
    was_training = model.training
    model.eval()
    loader = make_loader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    features, indices, skipped = [], [], 0
    for batch in loader:
        skipped += batch["num_skipped"]
        if "iframes" not in batch:
            continue
        batch = model_inputs(batch, device)
        streams = [batch[k] for k in ("iframes", "motion", "residual")]
        features.append(model.embed(*streams).float().cpu().numpy())
        indices.extend(batch["index"].tolist())
    model.train(was_training)
    records = [dataset.split.records[i] for i in indices]
    stacked = np.concatenate(features) if features else np.zeros((0, model.embed_dim), np.float32)
    return Embeddings(
        l2_normalize(stacked),
        np.array([r.label for r in records], np.int64),
        [str(r.path) for r in records],
        skipped,
    )


def cosine_similarity(queries: Embeddings, gallery: Embeddings) -> np.ndarray:
    """(Nq, Ng) cosine similarities (the features are unit vectors)."""
    return l2_normalize(queries.features) @ l2_normalize(gallery.features).T


def nearest_neighbours(queries: Embeddings, gallery: Embeddings, k: int) -> np.ndarray:
    """(Nq, min(k, Ng)) gallery indices, most similar first (ties: lower index first)."""
    similarity = cosine_similarity(queries, gallery)
    k = min(k, similarity.shape[1])
    return np.argsort(-similarity, axis=1, kind="stable")[:, :k]


def retrieval_recall(
    queries: Embeddings, gallery: Embeddings, ks: Sequence[int] = RECALL_KS
) -> dict[int, float]:
    """R@k for each k: the fraction of queries with a same-class clip among their top k.

    A k larger than the gallery counts the whole gallery.
    """
    if not len(queries) or not len(gallery):
        raise ConfigError("retrieval needs at least one query and one gallery clip")
    neighbours = nearest_neighbours(queries, gallery, max(ks))
    same_class = gallery.labels[neighbours] == queries.labels[:, None]  # Nq x k
    return {k: float(same_class[:, :k].any(axis=1).mean()) for k in ks}


@dataclass
class RetrievalResult:
    """Recall figures plus the top-k neighbours of every query (for notebooks).

    Attributes:
        recall: {k: R@k}.
        neighbours: (Nq, top_k) gallery indices.
        similarities: (Nq, top_k) their cosine similarities.
        queries, gallery: the embeddings.
    """

    recall: dict[int, float]
    neighbours: np.ndarray
    similarities: np.ndarray
    queries: Embeddings
    gallery: Embeddings

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        report = {
            "recall": {f"R@{k}": v for k, v in self.recall.items()},
            "queries": [
                {
                    "path": path,
                    "label": int(label),
                    "neighbours": [
                        {
                            "path": self.gallery.paths[j],
                            "label": int(self.gallery.labels[j]),
                            "similarity": float(s),
                        }
                        for j, s in zip(row, sims, strict=True)
                    ],
                }
                for path, label, row, sims in zip(
                    self.queries.paths,
                    self.queries.labels,
                    self.neighbours,
                    self.similarities,
                    strict=True,
                )
            ],
        }
        (directory / "retrieval.json").write_text(json.dumps(report, indent=2) + "\n")
        return directory


def retrieve(
    model_or_dir: nn.Module | str | Path,
    dataset_config: DatasetConfig,
    *,
    ks: Sequence[int] = RECALL_KS,
    top_k: int = 5,
    batch_size: int = 4,
    num_workers: int | None = None,
    device: str | torch.device | None = None,
    out_dir: str | Path | None = None,
) -> RetrievalResult:
    """Test clips (``eval_subset``) as queries against training clips (``train_subset``).

    Args:
        model_or_dir: an IMRNet, a saved model, or a run folder (pretraining or finetuning).
        top_k: neighbours kept per query in the result.
        out_dir: also write ``retrieval.json`` there.
    """
    model, device = open_model(model_or_dir, device)
    workers = dataset_config.num_workers if num_workers is None else num_workers
    # The gallery is the whole training list, whatever fraction finetuning used.
    dataset_config = dataclasses.replace(dataset_config, labelled_fraction=1.0)
    queries, gallery = (
        compute_embeddings(
            model,
            build_dataset(dataset_config, subset, mode="eval"),
            batch_size=batch_size,
            num_workers=workers,
            device=device,
        )
        for subset in (dataset_config.eval_subset, dataset_config.train_subset)
    )
    recall = retrieval_recall(queries, gallery, ks)
    neighbours = nearest_neighbours(queries, gallery, top_k)
    similarities = np.take_along_axis(cosine_similarity(queries, gallery), neighbours, axis=1)
    result = RetrievalResult(recall, neighbours, similarities, queries, gallery)
    if out_dir is not None:
        result.save(out_dir)
    return result
