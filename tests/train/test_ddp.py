"""Real 2-process DDP on the CPU through `accelerate launch` (as accelerate's test_examples)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from imrkit.train import list_checkpoints, read_history

from .conftest import tiny_toml


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(accelerate_config, *args: str, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(accelerate_config),
        "-m",
        "imrkit.cli",
        *args,
    ]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.slow
@pytest.mark.ddp
def test_two_process_cpu_ddp_pretrain_then_finetune(sample_dataset, tmp_path):
    # The shipped CPU template (torchrun's launcher; imrkit puts the processes on the CPU
    # and accelerate joins them with gloo), on a free port.
    template = Path(__file__).resolve().parents[2] / "examples" / "accelerate" / "cpu.yaml"
    accelerate_config = tmp_path / "accelerate.yaml"
    text = template.read_text()
    assert "main_process_port: 29500" in text and "num_processes: 2" in text
    accelerate_config.write_text(
        text.replace("main_process_port: 29500", f"main_process_port: {free_port()}")
    )
    # QUIET_RUN without its one thread: each process keeps the thread count accelerate gives it
    quiet = {"progress": False, "log_every": 1, "trackers": "none"}
    (tmp_path / "pretrain.toml").write_text(
        tiny_toml(
            sample_dataset,
            pretext={"hidden_dim": 16},
            optim={"epochs": 1, "batch_size": 2, "lr": 0.01},
            run={**quiet, "out_dir": "pretrain", "checkpoint_every": 1},
        )
    )
    result = launch(accelerate_config, "pretrain", "--config", "pretrain.toml", cwd=tmp_path)
    assert "on 2 process(es)" in result.stdout
    run_dir = tmp_path / "pretrain"
    # 10 videos, 2 per process per step, full batches only: 2 steps.
    assert [p.name for p in list_checkpoints(run_dir)] == ["step_1", "epoch_1"]
    for checkpoint in list_checkpoints(run_dir):
        names = {p.name for p in checkpoint.iterdir()}
        assert {
            "model.safetensors",
            "optimizer.bin",
            "random_states_0.pkl",
            "random_states_1.pkl",
            "trainer_state.json",
        } <= names
    assert [r["step"] for r in read_history(run_dir, "train")] == [1, 2]
    assert (run_dir / "model" / "model.safetensors").is_file()
    assert result.stdout.count(": model in") == 1  # the summary: main process only

    finetune_args = ["finetune", "--config", "finetune.toml", f"pretrained={run_dir}"]
    (tmp_path / "finetune.toml").write_text(
        tiny_toml(
            sample_dataset,
            optim={"epochs": 1, "batch_size": 2},
            eval={"views": 3, "batch_size": 3},
            run={"out_dir": "finetune", "progress": False, "trackers": "none"},
        )
    )
    launch(accelerate_config, *finetune_args, cwd=tmp_path)
    report = json.loads((tmp_path / "finetune" / "eval" / "results.json").read_text())
    # Both processes' predictions, gathered and deduplicated: each test clip exactly once.
    assert report["num_clips"] == 10
    assert sorted(p["path"] for p in report["predictions"]) == sorted(
        str(p)
        for p in {
            sample_dataset / line.split()[0]
            for line in (sample_dataset / "testlist01.txt").read_text().splitlines()
        }
    )
