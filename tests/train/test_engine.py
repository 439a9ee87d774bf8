"""Engine pieces: checkpoint discovery, resume targets, trackers, batches that all failed."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from imrkit.errors import ConfigError
from imrkit.train.checkpoints import STATE_FILE, list_checkpoints, resolve_resume
from imrkit.train.config import RunConfig
from imrkit.train.engine import TrainTask, _batch_loss, resolve_trackers


def fake_checkpoint(run_dir, name, step, complete=True):
    folder = run_dir / "checkpoints" / name
    folder.mkdir(parents=True)
    if complete:
        (folder / STATE_FILE).write_text(json.dumps({"step": step, "epoch": 0}))
    return folder


def test_checkpoint_order_and_resume_targets(tmp_path):
    fake_checkpoint(tmp_path, "step_10", 10)
    fake_checkpoint(tmp_path, "epoch_1", 12)
    fake_checkpoint(tmp_path, "step_12", 12)
    fake_checkpoint(tmp_path, "step_14", 14, complete=False)  # killed while saving
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_10", "step_12", "epoch_1"]
    run = RunConfig(out_dir=str(tmp_path), resume="latest")
    assert resolve_resume(run).name == "epoch_1"
    run.resume = str(tmp_path / "checkpoints" / "step_10")
    assert resolve_resume(run).name == "step_10"
    run.resume = str(tmp_path / "checkpoints" / "step_14")
    with pytest.raises(ConfigError, match="not a complete checkpoint"):
        resolve_resume(run)
    assert resolve_resume(RunConfig(out_dir=str(tmp_path / "fresh"), resume="latest")) is None
    assert resolve_resume(RunConfig(out_dir=str(tmp_path))) is None


def test_trackers():
    assert resolve_trackers("none") is None
    assert resolve_trackers("wandb") == ["wandb"]
    has_tensorboard = any(importlib.util.find_spec(m) for m in ("tensorboard", "tensorboardX"))
    assert resolve_trackers("auto") == (["tensorboard"] if has_tensorboard else None)


def test_a_batch_of_failed_videos_still_runs_forward_and_backward():
    model = torch.nn.Linear(3, 2)
    calls = []

    def loss_fn(module, batch):
        calls.append(batch)
        return module(batch["iframes"]).pow(2).sum(), {"metric": 1.0}

    task = TrainTask("t", model, None, loss_fn)
    previous = {"iframes": torch.ones(4, 3)}
    loss, metrics = _batch_loss(task, model, {"num_skipped": 4}, previous)
    assert calls == [previous] and metrics == {}
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(model.weight.grad, torch.zeros(2, 3))
    first, _ = _batch_loss(task, model, {"num_skipped": 4}, None)
    assert first.item() == 0.0 and first.requires_grad
