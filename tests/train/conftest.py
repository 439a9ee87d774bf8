"""Tiny training configurations over the session's sample dataset (seconds per run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imrkit.data.dataset import DatasetConfig
from imrkit.train.config import (
    FinetuneConfig,
    ModelConfig,
    OptimConfig,
    PretextConfig,
    PretrainConfig,
    RunConfig,
)
from imrkit.train.engine import Callback
from imrkit.transforms import TransformConfig


class StopAfterSteps(Callback):
    """End the run abruptly, as if killed, after ``steps`` optimizer updates."""

    def __init__(self, steps: int):
        self.steps = steps

    def on_step_end(self, state) -> bool:
        return state.step >= self.steps


class NanLossAtStep(Callback):
    """Turn the loss of optimizer update ``step`` (1-based) into NaN."""

    def __init__(self, step: int):
        self.step = step

    def on_loss(self, loss, state):
        return loss * float("nan") if state.step + 1 == self.step else loss


def tiny_data(root: Path, **changes) -> DatasetConfig:
    """Whole frames at 32 x 32, read in the main process."""
    values = dict(
        root=str(root),
        format="ucf101",
        num_workers=0,
        cache=True,
        transform=TransformConfig(crop_size=32, short_side=32),
    )
    values.update(changes)
    return DatasetConfig(**values)


def tiny_run(out_dir: Path, **changes) -> RunConfig:
    # One torch thread: these tensors are tiny, and on a busy 2-core machine two OpenMP
    # threads spin against each other (10x slower).
    values = dict(
        out_dir=str(out_dir),
        progress=False,
        checkpoint_every=0,
        log_every=1,
        trackers="none",
        seed=0,
        threads=1,
    )
    values.update(changes)
    return RunConfig(**values)


def tiny_pretrain(
    root: Path, out_dir: Path, *, optim: dict | None = None, **run_changes
) -> PretrainConfig:
    return PretrainConfig(
        model=ModelConfig(name="imrnet_tiny"),
        pretext=PretextConfig(name="pmsp+ctp", hidden_dim=16),
        data=tiny_data(root),
        optim=OptimConfig(
            **{"epochs": 1, "warmup_epochs": 0.5, "batch_size": 4, "lr": 0.01, **(optim or {})}
        ),
        run=tiny_run(out_dir, **run_changes),
    )


def tiny_finetune(
    root: Path, out_dir: Path, *, pretrained: str = "", optim: dict | None = None, **run_changes
) -> FinetuneConfig:
    config = FinetuneConfig(
        model=ModelConfig(name="imrnet_tiny", dropout=0.0),
        pretrained=pretrained,
        data=tiny_data(root),
        optim=OptimConfig(
            **{"epochs": 1, "warmup_epochs": 0.0, "batch_size": 4, "lr": 0.01, **(optim or {})}
        ),
        run=tiny_run(out_dir, **run_changes),
    )
    config.eval.views = 1
    config.eval.every_epochs = 0
    config.eval.batch_size = 10
    return config


def tiny_toml(root: Path, **sections: dict) -> str:
    """The tiny data and model (as :func:`tiny_data`) as a TOML file for the command line,
    plus ``sections`` (``optim={"epochs": 1}``, ``run={...}``): what the tests that launch
    ``imrkit`` in subprocesses (accelerate, signals, two machines) write as their config."""
    tables = {
        "model": {"name": "imrnet_tiny"},
        "data": {"root": str(root), "format": "ucf101", "num_workers": 0, "cache": True},
        "data.transform": {"crop_size": 32, "short_side": 32},
    }
    for name, values in sections.items():
        tables[name] = {**tables.get(name, {}), **values}
    # json writes strings, numbers and booleans as TOML spells them
    return "".join(
        f"[{name}]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())
        for name, values in tables.items()
    )


#: the run table of a command-line run: no progress bar or tracker, a row per step
QUIET_RUN = {"progress": False, "log_every": 1, "trackers": "none", "threads": 1}


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """Runs here set torch's (process-wide) thread count: put it back for other tests."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def pretrained_run(sample_dataset, tmp_path_factory):
    """One finished tiny pretraining run, shared by the tests that need a backbone."""
    from imrkit.train.pretraining import pretrain

    out = tmp_path_factory.mktemp("pretrained") / "run"
    return pretrain(tiny_pretrain(sample_dataset, out))
