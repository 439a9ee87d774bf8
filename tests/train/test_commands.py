"""Config presets, the command line, and the experiment at toy sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from imrkit.cli import main
from imrkit.config import load_config, resolve_config_path
from imrkit.errors import ConfigError
from imrkit.experiment.suite import ExperimentConfig
from imrkit.train.config import FinetuneConfig, PretrainConfig

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
    with pytest.raises(ConfigError, match="no such file, nor a bundled config"):
        resolve_config_path("pretrain_nowhere")
    with pytest.raises(ConfigError, match="optim.bogus"):
        load_config(PretrainConfig, "pretrain_sample", {"optim.bogus": 1})
    tuned = load_config(PretrainConfig, "pretrain_sample", {"optim.lr": 0.05, "run.out_dir": "x"})
    assert (tuned.optim.lr, tuned.run.out_dir) == (0.05, "x")
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


def test_resume_flag():
    from imrkit.cli import build_parser
    from imrkit.train.commands import load_run_config

    parser = build_parser()
    args = parser.parse_args(
        ["pretrain", "--config", "pretrain_sample", "optim.lr=0.2", "--resume"]
    )
    config = load_run_config(PretrainConfig, args)
    assert (config.run.resume, config.optim.lr) == ("latest", 0.2)
    # A bare --resume followed by overrides takes the first override as its value.
    args = parser.parse_args(["pretrain", "--resume", "optim.lr=0.3", "run.seed=4"])
    config = load_run_config(PretrainConfig, args)
    assert (config.run.resume, config.optim.lr, config.run.seed) == ("latest", 0.3, 4)
    args = parser.parse_args(["finetune", "--resume", "runs/x/checkpoints/step_4"])
    assert load_run_config(FinetuneConfig, args).run.resume == "runs/x/checkpoints/step_4"
