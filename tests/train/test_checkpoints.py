"""Checkpoints, resuming a killed run, the divergence guard, and skipping bad videos."""

from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import load_file

from imrkit.train import DivergedError, finetune, list_checkpoints, pretrain, read_history
from imrkit.train.checkpoints import read_trainer_state

from .conftest import NanLossAtStep, StopAfterSteps, tiny_finetune, tiny_pretrain

# 10 training videos in batches of 3 (full batches only): 3 updates per epoch, 6 in all.
OPTIM = {"epochs": 2, "batch_size": 3, "warmup_epochs": 1.0, "lr": 0.02}


def _weights(run_dir):
    return load_file(str(run_dir / "pretext.safetensors"))


@pytest.mark.slow
def test_killed_then_resumed_run_ends_like_an_uninterrupted_one(sample_dataset, tmp_path):
    whole = pretrain(
        tiny_pretrain(sample_dataset, tmp_path / "whole", optim=OPTIM, checkpoint_every=2)
    )
    # "Killed" after step 5: its last checkpoint is step_4, mid-way through epoch 2.
    killed = pretrain(
        tiny_pretrain(sample_dataset, tmp_path / "cut", optim=OPTIM, checkpoint_every=2),
        callbacks=[StopAfterSteps(5)],
    )
    assert killed.interrupted and not killed.model_dir.exists()
    names = [p.name for p in list_checkpoints(killed.run_dir)]
    assert names == ["step_2", "epoch_1", "step_4"]
    state = read_trainer_state(killed.run_dir / "checkpoints" / "step_4")
    assert (state.step, state.epoch, state.batches_in_epoch) == (4, 1, 1)

    resumed = pretrain(
        tiny_pretrain(
            sample_dataset, tmp_path / "cut", optim=OPTIM, checkpoint_every=2, resume="latest"
        )
    )
    assert not resumed.interrupted
    assert resumed.metrics["step"] == whole.metrics["step"] == 6
    assert resumed.metrics["lr"] == pytest.approx(whole.metrics["lr"])
    rows_whole = read_history(whole.run_dir, "train")
    rows_resumed = read_history(resumed.run_dir, "train")
    steps = [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in rows_resumed] == [r["step"] for r in rows_whole] == steps
    assert [r["lr"] for r in rows_resumed] == pytest.approx([r["lr"] for r in rows_whole])
    # Same batches, same augmentation, same CTP draws: the same losses and weights.
    assert [r["loss"] for r in rows_resumed] == pytest.approx(
        [r["loss"] for r in rows_whole], rel=1e-4
    )
    a, b = _weights(whole.run_dir), _weights(resumed.run_dir)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(sample_dataset, tmp_path):
    config = tiny_pretrain(sample_dataset, tmp_path / "nan", optim=OPTIM, checkpoint_every=1)
    with pytest.raises(DivergedError, match=r"at step 3 .*last good checkpoint is .*step_2"):
        pretrain(config, callbacks=[NanLossAtStep(3)])
    assert [p.name for p in list_checkpoints(config.run.out_dir)] == ["step_1", "step_2"]
    # The kept checkpoint is sound: the run resumes from it and finishes.
    config.run.resume = "latest"
    config.optim.epochs = 1
    summary = pretrain(config)
    assert summary.metrics["step"] == 3
    assert all(torch.isfinite(v).all() for v in _weights(summary.run_dir).values())


def test_unreadable_videos_are_counted_not_fatal(sample_dataset, tmp_path):
    root = tmp_path / "damaged"
    shutil.copytree(sample_dataset, root)
    listed = [line.split()[0] for line in (root / "trainlist01.txt").read_text().splitlines()]
    (root / listed[0]).write_bytes(b"garbage" * 100)
    (root / listed[3]).write_bytes((root / listed[3]).read_bytes()[:500])
    # Batches of 5 take every video; one batch keeps 3 clips.
    config = tiny_finetune(root, tmp_path / "run", optim={"batch_size": 5})
    with pytest.warns(UserWarning, match="skipping unreadable video"):
        summary = finetune(config)
    (epoch_row,) = read_history(summary.run_dir, "epoch")
    assert epoch_row["skipped_videos"] == 2
    assert summary.metrics["skipped_videos"] == 2
