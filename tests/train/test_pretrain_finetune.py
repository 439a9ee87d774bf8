"""One tiny pretraining and finetuning run each, and what they leave behind."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from imrkit.errors import ConfigError
from imrkit.models import build_model, load_model
from imrkit.train import finetune, list_checkpoints, pretrain, read_history
from imrkit.train.finetuning import load_pretrained_backbone

from .conftest import tiny_finetune, tiny_pretrain


def test_pretrain_outputs(pretrained_run):
    run = pretrained_run
    assert not run.interrupted
    assert (run.run_dir / "config.json").is_file()
    assert (run.run_dir / "pretext.safetensors").is_file()
    backbone = load_model(run.model_dir)
    assert backbone.config.num_classes is None  # pretext heads and classifier dropped
    assert [p.name for p in list_checkpoints(run.run_dir)] == ["epoch_1"]
    # 10 training videos, batches of 4, full batches only: 2 updates.
    assert run.metrics["step"] == 2
    rows = read_history(run.run_dir, "train")
    assert [r["step"] for r in rows] == [1, 2]
    assert all(np.isfinite(r["loss"]) and r["lr"] > 0 for r in rows)
    assert "pmsp/acc_s4_t5" in rows[0] and "ctp/acc" in rows[0]
    (epoch_row,) = read_history(run.run_dir, "epoch")
    assert epoch_row["skipped_videos"] == 0
    assert run.history_csv == run.run_dir / "metrics.csv"


def test_finetune_from_scratch(sample_dataset, tmp_path):
    config = tiny_finetune(sample_dataset, tmp_path / "scratch")
    config.eval.every_epochs = 1
    summary = finetune(config)
    model = load_model(summary.model_dir)
    assert model.config.num_classes == 10
    assert 0.0 <= summary.metrics["test_top1"] <= summary.metrics["test_top5"] <= 1.0
    assert summary.metrics["test_num_clips"] == 10
    report = json.loads((summary.run_dir / "eval" / "results.json").read_text())
    assert np.asarray(report["confusion"]).sum() == 10
    assert (summary.run_dir / "eval" / "confusion.png").stat().st_size > 0
    (epoch_row,) = read_history(summary.run_dir, "epoch")
    assert 0.0 <= epoch_row["eval_top1"] <= 1.0  # centre-view evaluation of the epoch


def test_backbone_loading_drops_heads_and_reports(pretrained_run, capsys):
    model = build_model("imrnet_tiny", 10)
    report = load_pretrained_backbone(model, pretrained_run.run_dir)
    assert report.missing_keys == ["classifier.bias", "classifier.weight"]
    assert not report.unexpected_keys
    printed = capsys.readouterr().out
    assert "pretrained backbone from" in printed and "classifier.weight" in printed
    saved = load_model(pretrained_run.model_dir).state_dict()
    own = model.state_dict()
    assert all(torch.equal(own[k], v) for k, v in saved.items())
    with pytest.raises(ConfigError, match="differs from model"):
        load_pretrained_backbone(build_model("imrnet_r18", 10), pretrained_run.run_dir)


def test_finetune_from_pretrained(pretrained_run, sample_dataset, tmp_path, capsys):
    config = tiny_finetune(sample_dataset, tmp_path / "ft", pretrained=str(pretrained_run.run_dir))
    summary = finetune(config)
    assert "pretrained backbone from" in capsys.readouterr().out
    assert (summary.model_dir / "model.safetensors").is_file()
    with pytest.raises(ConfigError, match="already holds checkpoints"):
        finetune(config)  # the same folder again without resume


def test_predict_pmsp(pretrained_run, sample_dataset):
    from imrkit.data.dataset import build_dataset
    from imrkit.train import predict_pmsp

    from .conftest import tiny_data

    sample = build_dataset(tiny_data(sample_dataset), "test", mode="eval")[0]
    cells = predict_pmsp(pretrained_run.run_dir, sample)
    assert sorted(cells) == [(s, t) for s in (2, 3, 4) for t in (1, 3, 5)]
    for (s, t), predicted in cells.items():
        assert predicted.shape == (t,)
        assert ((0 <= predicted) & (predicted < s * s)).all()


def test_pretrain_baseline_pretext(sample_dataset, tmp_path):
    config = tiny_pretrain(sample_dataset, tmp_path / "rot")
    config.pretext.name = "rotation"
    summary = pretrain(config)
    assert summary.metrics["step"] == 2 and np.isfinite(summary.metrics["loss"])


def test_gradient_accumulation_counts_updates(sample_dataset, tmp_path):
    # 10 clips in batches of 2: 5 micro-batches per epoch, 2 per update: 3 updates (the
    # last one at the end of the epoch), and the schedule counts updates.
    config = tiny_finetune(
        sample_dataset,
        tmp_path / "accumulate",
        optim={
            "batch_size": 2,
            "gradient_accumulation_steps": 2,
            "epochs": 2,
            "warmup_epochs": 1.0,
        },
    )
    summary = finetune(config)
    rows = read_history(summary.run_dir, "train")
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    # (The CSV keeps 6 significant digits.)
    assert [r["lr"] for r in rows[:3]] == pytest.approx([0.01 / 3, 0.02 / 3, 0.01], rel=1e-5)
