"""Training, evaluation and retrieval (SPEC section 4), on accelerate.

    from imrkit.config import load_config
    from imrkit.train import PretrainConfig, FinetuneConfig, pretrain, finetune
    summary = pretrain(load_config(PretrainConfig, "imrkit/configs/pretrain_sample.toml"))
    config = load_config(FinetuneConfig, "imrkit/configs/finetune_sample.toml",
                         [f"pretrained={summary.run_dir}"])
    result = finetune(config)

Names are imported lazily (PEP 562) so that ``imrkit --help`` does not import torch.
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
    "finetune": "imrkit.train.finetuning",
    "RunSummary": "imrkit.train.summary",
    "read_history": "imrkit.train.metrics_log",
    "Callback": "imrkit.train.engine",
    "FitResult": "imrkit.train.engine",
    "TrainTask": "imrkit.train.engine",
    "fit": "imrkit.train.engine",
    "TrainingError": "imrkit.train.engine",
    "DivergedError": "imrkit.train.engine",
    "list_checkpoints": "imrkit.train.checkpoints",
    "EvalResult": "imrkit.train.evaluation",
    "evaluate": "imrkit.train.evaluation",
    "summarize": "imrkit.train.evaluation",
    "plot_confusion": "imrkit.train.evaluation",
    "Embeddings": "imrkit.train.retrieval",
    "RetrievalResult": "imrkit.train.retrieval",
    "compute_embeddings": "imrkit.train.retrieval",
    "retrieval_recall": "imrkit.train.retrieval",
    "nearest_neighbours": "imrkit.train.retrieval",
    "retrieve": "imrkit.train.retrieval",
    "load_pretext": "imrkit.train.pmsp_predict",
    "predict_pmsp": "imrkit.train.pmsp_predict",
    "ExperimentConfig": "imrkit.train.experiment",
    "run_experiment": "imrkit.train.experiment",
    "warmup_cosine": "imrkit.train.schedule",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
