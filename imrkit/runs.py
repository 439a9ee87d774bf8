"""What a finished run returns, and where a run folder keeps things.

A run folder (``run.out_dir``) holds::

    config.json            the resolved configuration (PretrainConfig / FinetuneConfig)
    metrics.csv            train and epoch rows (read_history)
    checkpoints/step_N/    accelerate states every run.checkpoint_every updates
    checkpoints/epoch_N/   accelerate states at every epoch end
    model/                 the network, save_pretrained (config.json + model.safetensors)
    pretext.safetensors    pretraining only: the whole pretext module (network + heads)
    eval/                  finetuning only: results.json, confusion.png (3-view test)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imrkit.errors import ConfigError

#: the run's resolved configuration, beside the other files of its folder
RUN_CONFIG = "config.json"
MODEL_DIR = "model"
PRETEXT_WEIGHTS = "pretext.safetensors"
EVAL_DIR = "eval"


@dataclass
class RunSummary:
    """The outputs of :func:`imrkit.train.pretraining` or :func:`imrkit.train.finetuning`.

    Attributes:
        run_dir: the run folder.
        checkpoint_dir: ``run_dir/checkpoints``.
        model_dir: ``run_dir/model`` (save_pretrained; absent if the run was stopped early).
        metrics: final figures (last epoch's loss, evaluation top-1/top-5, steps, ...).
        history_csv: ``run_dir/metrics.csv``.
        interrupted: a training callback stopped the run early (no final model).
    """

    run_dir: Path
    checkpoint_dir: Path
    model_dir: Path
    metrics: dict[str, float] = field(default_factory=dict)
    history_csv: Path = Path()
    interrupted: bool = False

    @classmethod
    def of(cls, run_dir: Path, metrics: dict[str, Any], interrupted: bool = False) -> RunSummary:
        numbers = {
            k: float(v)
            for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        return cls(
            run_dir,
            run_dir / "checkpoints",
            run_dir / MODEL_DIR,
            numbers,
            run_dir / "metrics.csv",
            interrupted,
        )


def resolve_model_dir(path: str | Path) -> Path:
    """A save_pretrained folder from a run folder (``run/model``) or the folder itself."""
    from imrkit.models.io import CONFIG_NAME, WEIGHTS_NAME

    path = Path(path)
    for candidate in (path / MODEL_DIR, path):
        if (candidate / CONFIG_NAME).is_file() and (candidate / WEIGHTS_NAME).is_file():
            return candidate
    raise ConfigError(
        f"{path}: neither a run folder with {MODEL_DIR}/ nor a saved model "
        f"({CONFIG_NAME} + {WEIGHTS_NAME})"
    )


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    """The ``config.json`` a run folder was trained with, as a dict."""
    path = Path(run_dir) / RUN_CONFIG
    if not path.is_file():
        raise ConfigError(f"{path}: not found (is {run_dir} a run folder?)")
    return json.loads(path.read_text())


def run_dataset_config(run_dir: str | Path, root: str | Path | None = None, overrides=()):
    """The :class:`~imrkit.data.dataset.DatasetConfig` a run folder was trained on (defaults
    where the folder has no ``config.json``, e.g. a bare saved model), with its ``root``
    replaced by ``root`` if given, then ``overrides`` (a dict or ``key=value`` strings)."""
    from imrkit.config import apply_overrides, from_dict
    from imrkit.data.dataset import DatasetConfig

    config = DatasetConfig()
    if (Path(run_dir) / RUN_CONFIG).is_file():
        saved = read_run_config(run_dir)
        if isinstance(saved.get("data"), dict):
            config = from_dict(DatasetConfig, saved["data"])
    if root:
        config = apply_overrides(config, {"root": str(root)})
    return apply_overrides(config, overrides)
