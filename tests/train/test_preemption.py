"""Preemption: SIGTERM/SIGUSR1 end a run after the current step, on a checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from imrkit.train import list_checkpoints, pretrain, read_history
from imrkit.train.checkpoints import read_trainer_state
from imrkit.train.preemption import Preempted, PreemptionWatcher

from .conftest import QUIET_RUN, tiny_pretrain, tiny_toml

# 10 training videos in batches of 3: 3 updates per epoch, 9 in all.
OPTIM = {"epochs": 3, "batch_size": 3, "warmup_epochs": 1.0, "lr": 0.02}


def _pretrain_toml(root) -> str:
    """The config of :func:`tiny_pretrain` with ``OPTIM``, as the command line reads it."""
    return tiny_toml(
        root,
        pretext={"name": "pmsp+ctp", "hidden_dim": 16},
        optim=OPTIM,
        run={**QUIET_RUN, "out_dir": "cut", "checkpoint_every": 0, "seed": 0},
    )


def _wait_for_first_row(process: subprocess.Popen, metrics, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before its first logged step"
        if metrics.is_file() and "train," in metrics.read_text():
            return
        time.sleep(0.02)
    raise AssertionError(f"no logged step in {metrics} after {timeout} s")


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM])
def test_signal_ends_the_run_on_a_checkpoint_and_resume_matches(sample_dataset, tmp_path, signum):
    (tmp_path / "pretrain.toml").write_text(_pretrain_toml(sample_dataset))
    command = [sys.executable, "-m", "imrkit.cli", "pretrain", "--config", "pretrain.toml"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        _wait_for_first_row(process, tmp_path / "cut" / "metrics.csv")
        process.send_signal(signum)
        sent = time.monotonic()
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert time.monotonic() - sent < 30
    assert process.returncode == 128 + signum, output  # stopped by the signal, not failed
    assert "Traceback" not in output, output
    assert "--resume" in output  # the message says how to continue
    run_dir = tmp_path / "cut"
    assert not (run_dir / "model").exists()
    # No periodic checkpoints: the only one is the preemption's, after a complete update.
    (checkpoint,) = list_checkpoints(run_dir)
    state = read_trainer_state(checkpoint)
    assert 1 <= state.step < 9 and checkpoint.name in (f"step_{state.step}", f"epoch_{state.epoch}")

    resumed = subprocess.run(
        [*command, "--resume"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    whole = pretrain(tiny_pretrain(sample_dataset, tmp_path / "whole", optim=OPTIM))
    rows_whole, rows_resumed = (read_history(d, "train") for d in (whole.run_dir, run_dir))
    assert (
        [r["step"] for r in rows_resumed] == [r["step"] for r in rows_whole] == list(range(1, 10))
    )
    assert rows_resumed[-1]["loss"] == rows_whole[-1]["loss"]
    epochs_whole, epochs_resumed = (read_history(d, "epoch") for d in (whole.run_dir, run_dir))
    assert epochs_resumed[-1]["loss"] == epochs_whole[-1]["loss"]


def test_watcher_restores_the_previous_handlers():
    before = signal.getsignal(signal.SIGUSR1)
    with PreemptionWatcher() as watcher:
        assert signal.getsignal(signal.SIGUSR1) == watcher._handle
        os.kill(os.getpid(), signal.SIGUSR1)
        assert watcher.received == signal.SIGUSR1
    assert signal.getsignal(signal.SIGUSR1) == before


def test_in_process_signal_raises_preempted_after_a_checkpoint(sample_dataset, tmp_path):
    from imrkit.train.engine import Callback

    class SignalAtStep(Callback):
        def on_step_end(self, state):
            if state.step == 1:
                os.kill(os.getpid(), signal.SIGUSR1)
            return False

    with pytest.raises(Preempted) as caught:
        pretrain(
            tiny_pretrain(sample_dataset, tmp_path / "run", optim=OPTIM),
            callbacks=[SignalAtStep()],
        )
    # The signal came after update 1's checks: update 2 finishes, then the checkpoint.
    assert caught.value.signum == signal.SIGUSR1
    assert [p.name for p in list_checkpoints(tmp_path / "run")] == [caught.value.checkpoint.name]
    assert caught.value.step == read_trainer_state(caught.value.checkpoint).step == 2


class _WorkerPids:
    """A dataset whose items are the pid of the DataLoader worker that read them."""

    def __len__(self):
        return 6

    def __getitem__(self, index):
        time.sleep(0.05)
        return os.getpid()


def test_dataloader_workers_outlive_a_preemption_signal():
    # SLURM signals every process of a job: the loader's workers must keep serving the
    # step the training process is finishing.
    from torch.utils.data import DataLoader

    from imrkit.data.processes import single_threaded_worker

    loader = DataLoader(
        _WorkerPids(), batch_size=1, num_workers=1, worker_init_fn=single_threaded_worker
    )
    batches = iter(loader)
    pid = int(next(batches))
    os.kill(pid, signal.SIGTERM)
    assert [int(b) for b in batches] == [pid] * 5
