"""Evaluating representations: finetuned accuracy (3-crop test), frozen probes, retrieval.

    from imrkit.evaluate import evaluate, retrieve, frozen_evaluation
    result = evaluate("runs/ft", dataset_config)        # top-1/top-5, confusion matrix
    recall = retrieve("runs/pt", dataset_config).recall  # R@k, test clips vs training clips

Names are imported lazily (PEP 562).
"""

from __future__ import annotations

from imrkit._lazy import lazy_exports

_EXPORTS = {
    "EvalResult": "imrkit.evaluate.evaluation",
    "evaluate": "imrkit.evaluate.evaluation",
    "evaluate_loader": "imrkit.evaluate.evaluation",
    "summarize": "imrkit.evaluate.evaluation",
    "plot_confusion": "imrkit.evaluate.evaluation",
    "Embeddings": "imrkit.evaluate.retrieval",
    "RetrievalResult": "imrkit.evaluate.retrieval",
    "compute_embeddings": "imrkit.evaluate.retrieval",
    "retrieval_recall": "imrkit.evaluate.retrieval",
    "nearest_neighbours": "imrkit.evaluate.retrieval",
    "retrieve": "imrkit.evaluate.retrieval",
    "ProbeResult": "imrkit.evaluate.probe",
    "FrozenEvaluation": "imrkit.evaluate.probe",
    "linear_probe": "imrkit.evaluate.probe",
    "knn_classify": "imrkit.evaluate.probe",
    "frozen_evaluation": "imrkit.evaluate.probe",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
