"""Config presets, the command line, and the experiment at toy sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imrkit.cli import main
from imrkit.config import load_config, resolve_config_path
from imrkit.errors import ConfigError
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


def test_suites_are_the_papers_tables():
    from imrkit.pretext import PRETEXTS
    from imrkit.train.experiment import SUITES

    paper = {arm.name: arm for arm in SUITES["paper"]}
    table3 = [a.pretext or "scratch" for a in paper.values() if a.table == "3"]
    assert table3 == ["scratch", "pmsp", "ctp", "pmsp+ctp", "rotation", "aot", "infonce"]
    assert all(a.connections == "full" for a in paper.values() if a.table == "3")
    table1 = {a.connections for a in paper.values() if a.table == "1"} | {"full"}
    assert table1 == {"full", "none", "unidirectional", "no_conv", "no_attention"}
    assert all(not a.pretext for a in paper.values() if a.table == "1")  # scratch, as Table 1
    for suite in SUITES.values():
        assert all(arm.pretext in PRETEXTS for arm in suite if arm.pretext)
        assert suite[0].name == "scratch"  # every comparison has its baseline
    with pytest.raises(ConfigError, match="suite 'tables'"):
        ExperimentConfig(suite="tables")
    with pytest.raises(ConfigError, match="at least 2 seeds"):
        ExperimentConfig(seeds=(0,))


@pytest.mark.slow
def test_experiment_suite_in_smoke_mode(sample_dataset, tmp_path):
    config = load_config(
        ExperimentConfig,
        "experiment_smoke",
        {
            "data_root": str(sample_dataset),
            "unlabeled_root": "",  # the fixture has no pool: pretrain on the training list
            "out_dir": str(tmp_path),
            "pretrain.run.threads": 1,
            "finetune.run.threads": 1,
        },
    )
    results = run_experiment(config)
    assert list(results.arms) == ["scratch", "pmsp+ctp", "scratch/none"]
    saved = json.loads((tmp_path / "results.json").read_text())
    for name, arm in saved["arms"].items():
        for metric in ("finetune_top1", "linear_top1", "knn_top1"):
            assert len(arm[metric]) == 2, (name, metric)  # one figure per seed, in %
            assert all(0.0 <= value <= 100.0 for value in arm[metric])
            summary = arm["summary"][metric]
            assert summary["low"] <= summary["mean"] <= summary["high"]
    assert saved["chance"] == pytest.approx(100 / saved["num_classes"])
    assert saved["arms"]["pmsp+ctp"]["ctp_heldout"][0]["clips"] > 0
    assert {c["b"] for c in saved["comparisons"]} == {"scratch", "scratch/none"}
    assert [t["met"] in (True, False) for t in saved["targets"]] == [True] * 4
    markdown = (tmp_path / "results.md").read_text()
    assert "Chance:" in markdown and "| scratch/none |" in markdown
    assert (tmp_path / "results.png").stat().st_size > 0
    # Run again: finished runs with the same configuration are reused, not retrained.
    stamp = (tmp_path / "runs" / "pretrain_pmsp_ctp_seed0" / "summary.json").stat().st_mtime_ns
    again = run_experiment(config)
    assert again.arms["scratch"]["finetune_top1"] == results.arms["scratch"]["finetune_top1"]
    assert (
        tmp_path / "runs" / "pretrain_pmsp_ctp_seed0" / "summary.json"
    ).stat().st_mtime_ns == stamp


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
