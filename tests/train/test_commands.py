"""Config presets, the command line, and the experiment at toy sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imrkit.cli import main
from imrkit.config import load_config
from imrkit.errors import ConfigError
from imrkit.train.commands import resolve_config_path
from imrkit.train.config import FinetuneConfig, PretrainConfig
from imrkit.train.experiment import ExperimentConfig, run_experiment

PRESETS = Path(__file__).resolve().parents[2] / "imrkit" / "configs"
KINDS = {"pretrain": PretrainConfig, "finetune": FinetuneConfig, "experiment": ExperimentConfig}


@pytest.mark.parametrize("path", sorted(PRESETS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_preset_loads(path):
    config = load_config(KINDS[path.stem.split("_")[0]], path)
    assert config is not None
    assert resolve_config_path(path.stem) == path


def test_paper_presets_follow_the_spec():
    pretrain = load_config(PretrainConfig, resolve_config_path("pretrain_kinetics"))
    assert (pretrain.optim.epochs, pretrain.optim.warmup_epochs) == (20, 5.0)
    assert (pretrain.optim.momentum, pretrain.optim.weight_decay) == (0.9, 1e-4)
    assert pretrain.pretext.name == "pmsp+ctp" and pretrain.model.name == "imrnet_r18"
    ucf = load_config(FinetuneConfig, resolve_config_path("finetune_ucf101"))
    hmdb = load_config(FinetuneConfig, resolve_config_path("finetune_hmdb51"))
    assert (ucf.optim.epochs, hmdb.optim.epochs) == (500, 300)
    assert ucf.optim.warmup_epochs == hmdb.optim.warmup_epochs == 30.0
    assert ucf.eval.views == 3 and hmdb.data.format == "hmdb51"
    assert ExperimentConfig() == load_config(
        ExperimentConfig, resolve_config_path("experiment_sample")
    )


def test_bad_configs_are_errors(capsys):
    with pytest.raises(ConfigError, match="no such file, nor a preset"):
        resolve_config_path("pretrain_nowhere")
    assert main(["pretrain", "--config", "pretrain_sample", "optim.bogus=1"]) == 2
    assert "unknown key" in capsys.readouterr().err
    assert main(["finetune", "--config", "finetune_sample", "optim.lr=fast"]) == 2
    assert "expected a number" in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_and_retrieve_commands(pretrained_run, sample_dataset, tmp_path, capsys):
    import torch

    from imrkit.models import build_model

    torch.manual_seed(0)
    build_model("imrnet_tiny", 10).save_pretrained(tmp_path / "classifier")
    overrides = [
        "format=ucf101",
        "num_workers=0",
        "transform.crop_size=32",
        "transform.short_side=32",
    ]
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "classifier"),
                *overrides,
                "--views",
                "1",
                "--data",
                str(sample_dataset),
            ]
        )
        == 0
    )
    assert "10 clips, 1 view(s): top-1" in capsys.readouterr().out
    assert (tmp_path / "classifier" / "eval" / "confusion.png").is_file()
    # A run folder brings its own data config (32px crops of the sample data).
    assert main(["retrieve", str(pretrained_run.run_dir), "--out", str(tmp_path / "r")]) == 0
    assert "10 queries against 10 gallery clips: R@1" in capsys.readouterr().out
    assert (tmp_path / "r" / "retrieval.json").is_file()


@pytest.mark.slow
def test_experiment_at_toy_sizes(sample_dataset, tmp_path):
    config = load_config(
        ExperimentConfig,
        resolve_config_path("experiment_smoke"),
        [
            f"data_root={json.dumps(str(sample_dataset))}",
            f"out_dir={json.dumps(str(tmp_path))}",
            "labelled_fraction=1.0",
            "finetune.optim.epochs=1",
            "finetune.eval.views=1",
            "pretrain.run.threads=1",
            "finetune.run.threads=1",
        ],
    )
    results = run_experiment(config)
    assert set(results.arms) == {
        "full / pretrained",
        "full / scratch",
        "none / pretrained",
        "none / scratch",
    }
    assert [r["seed"] for r in results.arms["full / scratch"]["runs"]] == [0, 1]
    assert len(results.arms["none / scratch"]["runs"]) == 1
    top1 = results.arms["full / pretrained"]["top1"]
    assert 0.0 <= top1["min"] <= top1["mean"] <= top1["max"] <= 1.0
    assert set(results.retrieval) == {"pretrained", "random init"}
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["arms"]["full / scratch"]["top1"] == results.arms["full / scratch"]["top1"]
    assert "| scratch | none |" in (tmp_path / "results.md").read_text()
    # Run again: finished runs with the same configuration are reused, not retrained.
    stamp = (tmp_path / "runs" / "pretrain_full" / "summary.json").stat().st_mtime_ns
    again = run_experiment(config)
    assert again.arms["full / scratch"]["top1"] == results.arms["full / scratch"]["top1"]
    assert (tmp_path / "runs" / "pretrain_full" / "summary.json").stat().st_mtime_ns == stamp


def test_resume_flag():
    from imrkit.cli import build_parser
    from imrkit.train.commands import _load

    parser = build_parser()
    args = parser.parse_args(
        ["pretrain", "--config", "pretrain_sample", "optim.lr=0.2", "--resume"]
    )
    config = _load(PretrainConfig, args)
    assert (config.run.resume, config.optim.lr) == ("latest", 0.2)
    # A bare --resume followed by overrides takes the first override as its value.
    args = parser.parse_args(["pretrain", "--resume", "optim.lr=0.3", "run.seed=4"])
    config = _load(PretrainConfig, args)
    assert (config.run.resume, config.optim.lr, config.run.seed) == ("latest", 0.3, 4)
    args = parser.parse_args(["finetune", "--resume", "runs/x/checkpoints/step_4"])
    assert _load(FinetuneConfig, args).run.resume == "runs/x/checkpoints/step_4"
