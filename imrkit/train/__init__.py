"""Training on accelerate (SPEC section 4): the engine, pretraining, finetuning, checkpoints.

    from imrkit.config import load_config
    from imrkit.train import PretrainConfig, FinetuneConfig, pretrain, finetune
    summary = pretrain(load_config(PretrainConfig, "pretrain_sample"))
    result = finetune(load_config(FinetuneConfig, "finetune_sample",
                                  {"pretrained": str(summary.run_dir)}))

Evaluating a trained model lives in :mod:`imrkit.evaluate` (finetuning's last step calls it),
suites of runs in :mod:`imrkit.experiment`. Names are imported lazily (PEP 562) so that
``imrkit --help`` does not import torch.
"""

from __future__ import annotations

from imrkit._lazy import lazy_exports

_EXPORTS = {
    "PretrainConfig": "imrkit.train.config",
    "FinetuneConfig": "imrkit.train.config",
    "ModelConfig": "imrkit.train.config",
    "PretextConfig": "imrkit.train.config",
    "OptimConfig": "imrkit.train.config",
    "RunConfig": "imrkit.train.config",
    "EvalConfig": "imrkit.train.config",
    "pretrain": "imrkit.train.pretraining",
    "pretrained_run": "imrkit.train.pretraining",
    "finetune": "imrkit.train.finetuning",
    "RunSummary": "imrkit.runs",
    "read_history": "imrkit.train.metrics_log",
    "Callback": "imrkit.train.engine",
    "FitResult": "imrkit.train.engine",
    "TrainTask": "imrkit.train.engine",
    "fit": "imrkit.train.engine",
    "TrainingError": "imrkit.train.engine",
    "DivergedError": "imrkit.train.engine",
    "list_checkpoints": "imrkit.train.checkpoints",
    "load_pretext": "imrkit.train.pmsp_predict",
    "predict_pmsp": "imrkit.train.pmsp_predict",
    "warmup_cosine": "imrkit.train.schedule",
}

#: names that moved out with imrkit.evaluate and imrkit.experiment (issue 23)
_MOVED = {
    "EvalResult": "imrkit.evaluate",
    "evaluate": "imrkit.evaluate",
    "summarize": "imrkit.evaluate",
    "plot_confusion": "imrkit.evaluate",
    "Embeddings": "imrkit.evaluate",
    "RetrievalResult": "imrkit.evaluate",
    "compute_embeddings": "imrkit.evaluate",
    "retrieval_recall": "imrkit.evaluate",
    "nearest_neighbours": "imrkit.evaluate",
    "retrieve": "imrkit.evaluate",
    "ExperimentConfig": "imrkit.experiment",
    "run_experiment": "imrkit.experiment",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, moved=_MOVED)
