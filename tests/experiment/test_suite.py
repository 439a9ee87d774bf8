"""The experiment suites: the paper's tables, the fair protocol, results read back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from imrkit.config import load_config
from imrkit.errors import ConfigError
from imrkit.experiment.report import variant_table
from imrkit.experiment.suite import ExperimentConfig, ExperimentResults, run_experiment


def test_suites_are_the_papers_tables():
    from imrkit.experiment.suite import SUITES
    from imrkit.pretext import PRETEXTS

    paper = {arm.name: arm for arm in SUITES["paper"]}
    table3 = [a.pretext or a.handcrafted or "scratch" for a in paper.values() if a.table == "3"]
    assert table3 == [
        "scratch",
        "pmsp",
        "ctp",
        "pmsp+ctp",
        "rotation",
        "aot",
        "infonce",
        "pmsp_pyramid",
        "motion_grid",
    ]
    assert all(a.connections == "full" for a in paper.values() if a.table == "3")
    table1 = {a.connections for a in paper.values() if a.table == "1"} | {"full"}
    assert table1 == {"full", "none", "unidirectional", "no_conv", "no_attention"}
    # Table 1 from scratch, as the paper's, and the same modes pretrained with PMSP+CTP
    modes = {(a.pretext, a.connections) for a in paper.values() if a.table == "1"}
    assert modes == {(p, c) for p in ("", "pmsp+ctp") for c in table1 - {"full"}}
    for suite in SUITES.values():
        assert all(arm.pretext in PRETEXTS for arm in suite if arm.pretext)
        assert suite[0].name == "scratch"  # every comparison has its baseline
        assert all(not a.finetunes for a in suite if a.handcrafted)
    with pytest.raises(ConfigError, match="suite 'tables'"):
        ExperimentConfig(suite="tables")
    with pytest.raises(ConfigError, match="at least 2 seeds"):
        ExperimentConfig(seeds=(0,))


def test_convergence_criterion():
    from imrkit.experiment.report import converged

    assert converged([2.0, 1.5, 1.2, 1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]) is True
    assert converged([2.3, 2.2, 2.1, 2.0, 1.9, 1.8, 1.7, 1.6, 1.5, 1.4, 1.3, 1.2]) is False
    assert converged([2.3, 2.0]) is None  # too short to tell


def test_a_classification_pretext_at_its_guessing_loss_learned_nothing():
    from imrkit.experiment.report import learned_note, loss_at_chance

    # ln 4 = 1.386: 1.373 and 1.380 are guessing; 1.2 is not (one seed off chance is enough)
    guessing = loss_at_chance("rotation", [1.373, 1.380])
    assert guessing["at_chance"] and guessing["chance_loss"] == pytest.approx(1.3863, abs=1e-4)
    assert not loss_at_chance("rotation", [1.373, 1.2])["at_chance"]
    assert not loss_at_chance("aot", [0.60, 0.61])["at_chance"]  # ln 2 = 0.693
    note = learned_note("rotation", {"pretext": "rotation", "pretext_at_chance": guessing})
    assert note == "rotation at chance (loss 1.377, ln 4 = 1.386): learned no rotation"
    learning = loss_at_chance("aot", [0.60, 0.61])
    assert learned_note("aot", {"pretext": "aot", "pretext_at_chance": learning}) == ""


def test_ctp_at_chance_verdict():
    from imrkit.experiment.report import ctp_at_chance, learned_note

    types = {"aligned": 0.0, "random": 0.0, "shuffle": 0.0, "shift": 0.0}
    near = [{"accuracy": 25.5, "per_type": types, "clips": 800}] * 3
    far = [{"accuracy": 40.0, "per_type": types, "clips": 800}] * 3
    assert ctp_at_chance(near)["at_chance"] and not ctp_at_chance(far)["at_chance"]
    verdict = ctp_at_chance(near)
    assert verdict["low"] < 25.5 < verdict["high"] and verdict["chance"] == 25
    entry = {"pretext": "pmsp+ctp", "ctp_at_chance": verdict}
    assert learned_note("pmsp+ctp", entry) == "CTP at chance: learned PMSP, no CTP"
    assert learned_note("ctp", {**entry, "pretext": "ctp"}) == "CTP at chance: learned no CTP"
    assert learned_note("pmsp+ctp", {**entry, "ctp_at_chance": ctp_at_chance(far)}) == ""


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
    assert list(results.arms) == [
        "scratch",
        "pmsp+ctp",
        "handcrafted_pmsp_pyramid",
        "handcrafted_motion_grid",
        "scratch/none",
    ]
    saved = json.loads((tmp_path / "results.json").read_text())
    for name, arm in saved["arms"].items():
        metrics = ("linear_top1", "knn_top1", "R@1")
        if not arm["handcrafted"]:
            metrics += ("finetune_top1",)
            assert len(arm["finetune_loss_curve"]) == config.finetune.optim.epochs
        else:
            assert "finetune_top1" not in arm  # nothing to finetune
        for metric in metrics:
            assert len(arm[metric]) == 2, (name, metric)  # one figure per seed, in %
            assert all(0.0 <= value <= 100.0 for value in arm[metric])
        for metric in set(metrics) - {"R@1"}:
            summary = arm["summary"][metric]
            assert summary["low"] <= summary["mean"] <= summary["high"]
    # The random network: measured once as initialised, then with recalibrated statistics.
    scratch = saved["arms"]["scratch"]
    assert len(scratch["raw"]["linear_top1"]) == 2 and "raw" not in saved["arms"]["pmsp+ctp"]
    frozen = json.loads((tmp_path / "runs" / "frozen_scratch_seed0" / "summary.json").read_text())
    assert frozen["metrics"]["recalibrated_on"] > 0
    assert saved["chance"] == pytest.approx(100 / saved["num_classes"])
    assert saved["arms"]["pmsp+ctp"]["ctp_heldout"][0]["clips"] > 0
    assert "at_chance" in saved["arms"]["pmsp+ctp"]["ctp_at_chance"]
    best = {c["b"] for c in saved["comparisons"]} - {"scratch", "scratch/none"}
    assert len(best) == 1 and best.pop().startswith("handcrafted_")
    assert saved["job_seconds"] > 0
    markdown = (tmp_path / "results.md").read_text()
    assert "Chance:" in markdown and "| scratch/none |" in markdown
    assert "handcrafted_motion_grid" in markdown and "recalibrated" in markdown
    assert (tmp_path / "results.png").stat().st_size > 0
    # Read back from the folder, as notebooks do.
    loaded = ExperimentResults.load(tmp_path)
    assert loaded.means("linear_top1") == pytest.approx(
        {n: np.mean(a["linear_top1"]) for n, a in saved["arms"].items()}
    )
    assert loaded.run_dir("finetune", "pmsp+ctp").name == "finetune_pmsp_ctp_seed0"
    with pytest.raises(ConfigError, match="no such run"):
        loaded.run_dir("finetune", "handcrafted_motion_grid")
    # Per-clip results read back from the runs give the record's per-seed figures.
    correct, paths = loaded.per_clip("pmsp+ctp", "finetune_top1")
    assert correct.shape == (2, saved["test"]["clips"]) and len(set(paths)) == len(paths)
    assert 100 * correct.mean(axis=1) == pytest.approx(saved["arms"]["pmsp+ctp"]["finetune_top1"])
    knn, _ = loaded.per_clip("scratch", "knn_top1", seeds=[1])
    assert 100 * knn.mean() == pytest.approx(saved["arms"]["scratch"]["knn_top1"][1])
    with pytest.raises(ConfigError, match="no per-clip results"):
        loaded.per_clip("scratch", "R@1")
    # Paired across suites as within one: the suite against itself gives its own comparison.
    across = loaded.paired_difference("pmsp+ctp", loaded, "scratch", metric="linear_top1")
    within = next(
        c
        for c in saved["comparisons"]
        if (c["a"], c["b"], c["metric"]) == ("pmsp+ctp", "scratch", "linear_top1")
    )
    assert (across["mean"], across["low"], across["high"]) == pytest.approx(
        (within["mean"], within["low"], within["high"])
    )
    assert loaded.paired_difference("scratch", loaded)["per_seed"] == [0.0, 0.0]
    # A study's table of one suite against another: against itself, every difference is 0.
    table = variant_table(loaded, loaded, ["scratch", "pmsp+ctp"], [0, 1], ("a", "b"))
    rows = [line.split(" | ") for line in table.splitlines()[2:]]
    assert len(rows) == 2 * 3 and all(row[4].startswith("+0.0 [") for row in rows)
    assert rows[0][2] == rows[0][3] == f"{np.mean(scratch['finetune_top1']):.1f}"
    seconds = loaded.job_seconds("pretrain", "pmsp+ctp")
    assert len(seconds) == 2 and all(s > 0 for s in seconds)
    # Run again: finished runs with the same configuration are reused, not retrained.
    stamp = (tmp_path / "runs" / "pretrain_pmsp_ctp_seed0" / "summary.json").stat().st_mtime_ns
    again = run_experiment(config)
    assert again.arms["scratch"]["finetune_top1"] == results.arms["scratch"]["finetune_top1"]
    assert (
        tmp_path / "runs" / "pretrain_pmsp_ctp_seed0" / "summary.json"
    ).stat().st_mtime_ns == stamp
    assert again.record["reused_runs"] == again.record["runs"] == 2 + 2 * (3 + 5)
    assert f"({again.record['runs']} of {again.record['runs']} runs reused" in again.markdown
    # A pretraining that runs again makes the runs reading its model run again too.
    (tmp_path / "runs" / "pretrain_pmsp_ctp_seed1" / "summary.json").unlink()
    summaries = (tmp_path / "runs").glob("*/summary.json")
    stamps = {p.parent.name: p.stat().st_mtime_ns for p in summaries}
    third = run_experiment(config)
    rerun = {
        p.parent.name
        for p in (tmp_path / "runs").glob("*/summary.json")
        if p.stat().st_mtime_ns != stamps.get(p.parent.name)
    }
    assert rerun == {"pretrain_pmsp_ctp_seed1", "finetune_pmsp_ctp_seed1", "frozen_pmsp_ctp_seed1"}
    assert third.record["reused_runs"] == third.record["runs"] - 3


def test_results_load_names_a_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match="no results.json"):
        ExperimentResults.load(tmp_path)


def _fake_runs(arm: str, seed: int, right: int, paths: list[str]) -> dict:
    """Metrics of one arm and seed whose first ``right`` test clips are answered correctly."""
    correct = [int(i < right) for i in range(len(paths))]
    frozen = {
        "test_paths": paths,
        "linear_correct": correct,
        "knn_correct": correct,
        "recall": {k: right / len(paths) for k in ("1", "5", "10")},
        "num_classes": 10,
    }
    runs = {
        (arm, seed, "frozen"): frozen,
        (arm, seed, "finetune"): {
            "test_paths": paths,
            "test_correct": correct,
            "seconds": 1.0,
            "epoch_loss": [2.0, 1.0],
        },
    }
    if arm.startswith("pmsp"):
        runs[arm, seed, "pretrain"] = {"seconds": 1.0, "loss": 1.0}
    return runs


def test_table1_pretrained_rows_are_compared_with_their_own_full_connections():
    from imrkit.experiment.report import build_record, format_markdown, results_figure

    arms = ["scratch", "pmsp", "pmsp+ctp", "scratch/none", "pmsp+ctp/none"]
    config = ExperimentConfig(suite="paper", only=arms, seeds=(0, 1), bootstrap_resamples=200)
    paths = [f"c{i:02d}/v_C{i:02d}_g{i:02d}_c01.avi" for i in range(40)]
    right = {"scratch": 20, "pmsp": 28, "pmsp+ctp": 30, "scratch/none": 10, "pmsp+ctp/none": 16}
    measured = {}
    for arm in arms:
        for seed in config.seeds:
            measured.update(_fake_runs(arm, seed, right[arm], paths))
    record = build_record(config, measured, seconds=1.0)
    differences = {(c["a"], c["b"], c["metric"]): c["mean"] for c in record["comparisons"]}
    # full minus the ablation, each from its own initialisation; pretrained minus scratch
    # at the same connections
    assert differences["scratch", "scratch/none", "finetune_top1"] == pytest.approx(25.0)
    assert differences["pmsp+ctp", "pmsp+ctp/none", "finetune_top1"] == pytest.approx(35.0)
    assert differences["pmsp+ctp/none", "scratch/none", "finetune_top1"] == pytest.approx(15.0)
    assert ("scratch", "pmsp+ctp/none", "finetune_top1") not in differences
    # what CTP adds to PMSP: the combined arm against PMSP alone, on every metric
    assert differences["pmsp+ctp", "pmsp", "linear_top1"] == pytest.approx(5.0)
    assert ("pmsp+ctp/none", "pmsp", "finetune_top1") not in differences
    markdown = format_markdown(record)
    table1 = markdown.split("## Table 1: connections (from scratch and pretrained)")[1]
    rows = [line for line in table1.split("\n\n")[1].splitlines() if line.startswith("| ")][1:]
    assert [row.split(" | ")[0][2:] for row in rows] == [
        "scratch",
        "scratch/none",
        "pmsp+ctp",
        "pmsp+ctp/none",
    ]
    assert "+35.0 [" in rows[3] and "+15.0 [" in rows[3]  # full minus it; it minus scratch/none
    # pretraining's change to what no connections cost: (30 - 16) - (20 - 10) clips of 40
    (interaction,) = record["interactions"]
    assert (interaction["arm"], interaction["twin"]) == ("pmsp+ctp/none", "scratch/none")
    assert interaction["mean"] == pytest.approx(10.0)
    assert interaction["per_seed"] == pytest.approx([10.0, 10.0])
    assert "+10.0 [" in rows[3] and "+10.0 [" not in rows[1]
    assert "| pmsp+ctp - pmsp+ctp/none | scratch - scratch/none | finetuned top-1 | +10.0 [" in (
        markdown
    )
    rows = ExperimentResults(Path("."), record, markdown).comparisons()
    assert rows[-1]["A"] == "pmsp+ctp - pmsp+ctp/none"
    assert rows[-1]["minus B"] == "scratch - scratch/none"
    assert rows[-1]["difference"] == pytest.approx(10.0)
    titles = [axis.get_title() for axis in results_figure(record).axes]
    assert "Table 1: connections, from scratch and pretrained" in titles
