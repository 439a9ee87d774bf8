"""The study scripts' shared command line: arguments, the variant's config, run or tabulate."""

from __future__ import annotations

from pathlib import Path

import pytest

import imrkit.experiment.suite as suite
from imrkit.experiment.study import COMPARISON_FILE, run_study, study_config, study_parser


def test_parser_takes_the_common_arguments_and_names_the_baseline_flag():
    parser = study_parser("A study.\n\nMore.", out="runs/x", seeds=(0, 1), baseline_flag="--paper")
    args = parser.parse_args(["--paper", "runs/paper"])
    assert args.baseline == Path("runs/paper")
    assert (args.data, args.out, args.seeds, args.table) == (
        "data/sample",
        Path("runs/x"),
        [0, 1],
        False,
    )
    assert parser.description == "A study."
    with pytest.raises(SystemExit):  # the suite to compare with is required
        parser.parse_args([])


def test_config_is_the_sample_suite_with_the_studys_overrides(tmp_path):
    args = study_parser("", out=str(tmp_path)).parse_args(
        ["--baseline", "b", "--data", "data/sample_b", "--seeds", "3", "4"]
    )
    config = study_config(args, {"only": ["scratch"], "finetune.run.mixed_precision": "bf16"})
    assert config.data_root == "data/sample_b"
    assert config.out_dir == str(tmp_path)
    assert list(config.seeds) == [3, 4]
    assert list(config.only) == ["scratch"]
    assert config.finetune.run.mixed_precision == "bf16"
    assert config.pretrain.run.mixed_precision != "bf16"  # only what the study names changes


def test_run_study_runs_the_variant_then_writes_the_comparison(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(suite, "run_experiment", ran.append)
    out = tmp_path / "variant"
    args = study_parser("", out=str(out)).parse_args(["--baseline", "b"])
    table = run_study(args, {"only": ["scratch"]}, lambda: "| a |\n")
    assert [list(c.only) for c in ran] == [["scratch"]] and ran[0].out_dir == str(out)
    assert table == (out / COMPARISON_FILE).read_text() == "| a |\n"

    ran.clear()  # --table only tabulates: nothing runs, the comparison is rewritten
    args = study_parser("", out=str(out)).parse_args(["--baseline", "b", "--table"])
    run_study(args, {"only": ["scratch"]}, lambda: "| b |\n")
    assert ran == [] and (out / COMPARISON_FILE).read_text() == "| b |\n"
