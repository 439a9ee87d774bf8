"""Every numbered notebook is committed clean and runs in smoke mode under papermill.

Like Cirq's dev_tools/notebooks: one test parametrized over the sorted notebooks. The runs
share one output folder in notebook order, so 04 and 05 pick up 03's pretraining run (each
also works alone); each notebook's recorded numbers are then checked.
"""

from __future__ import annotations

import json
import re

import nbformat
import numpy as np
import papermill
import pytest

from imrkit.notebook_runner import (
    COMMON_PARAMETERS,
    FULL_PARAMETERS,
    declared_parameters,
    list_notebooks,
    run_notebooks,
)

NOTEBOOKS = list_notebooks()


def stems(notebooks):
    return [notebook.stem for notebook in notebooks]


def test_the_notebooks_are_the_numbered_series():
    assert stems(NOTEBOOKS) == sorted(FULL_PARAMETERS)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=stems(NOTEBOOKS))
def test_notebook_is_committed_without_outputs_and_valid(notebook):
    content = nbformat.read(notebook, as_version=4)
    nbformat.validate(content)  # opens cleanly in JupyterLab
    assert content.nbformat == 4
    assert content.metadata["kernelspec"]["name"] == "python3"
    for cell in content.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=stems(NOTEBOOKS))
def test_notebook_imports_the_library_then_declares_upper_case_parameters(notebook):
    cells = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    first = cells[0].source
    assert re.search(r"^(import imrkit|from imrkit)", first, re.M), first
    assert "sys.path" not in "".join(c.source for c in cells)
    assert cells[1].metadata.get("tags") == ["parameters"]
    declared = declared_parameters(notebook)
    assert set(COMMON_PARAMETERS) <= set(declared)
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", name) for name in declared), declared
    # papermill understands every line (`papermill --help-notebook`, its type inference).
    assert set(papermill.inspect_notebook(str(notebook))) == set(declared)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=stems(NOTEBOOKS))
def test_full_scale_values_are_documented_and_declared(notebook):
    full = FULL_PARAMETERS[notebook.stem]
    assert set(full) <= set(declared_parameters(notebook))
    markdown = "\n".join(
        c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "markdown"
    )
    assert "Full-scale values" in markdown
    for name, value in full.items():
        assert f"`{name} = {value!r}`" in markdown, name


# ------------------------------------------------------------------------- execution


def check_00(record, data_dir):
    assert record["gop_size"] == 12 and record["num_gops"] == 6
    assert record["frame_types"] == ("I" + "P" * 11) * 2
    assert record["clip_frame_types"] == "IPPPPP" * 2
    assert record["clip_frame_indices"] == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22]
    sizes = record["storage_bytes"]
    assert sizes["MPEG-4"] < sizes["JPEG frames"] < sizes["raw RGB"]
    assert sizes["raw RGB"] == record["num_frames"] * 64 * 64 * 3  # the sample is 64x64
    # Accumulated motion at P-frame 10 spans ten frames of motion, per-frame only one.
    # (A frame may hold no motion at all: the actors pause, and the camera with them.)
    assert record["accumulated_motion_last_p"] > max(2 * record["motion_last_p"], 0.1)


def check_01(record, data_dir):
    import imrkit

    assert len(record["videos"]) == 2
    for video, labels in record["labels"].items():
        assert len(labels) == 9 and sum(len(v) for v in labels.values()) == 27
        expected = imrkit.pmsp_labels(imrkit.read_clip(data_dir / video, 0, 5).motion, 5)
        for (s, t), value in expected.items():
            assert labels[f"s{s}_t{t}"] == value.tolist()
    assert record["browser_redraws"] == 4  # first draw, then video, first GOP, scales
    assert record["browser_boxes"] == 2 * (5 + 9 + 5)  # scales 2 and 4 at t = 1, 3, 5


def check_02(record, data_dir):
    checks, plans = record["checks"], record["plans"]
    assert checks["aligned"]["identity order"] and checks["aligned"]["own clip"]
    assert checks["random"]["other clip"]
    assert checks["shuffle"]["own clip"] and not checks["shuffle"]["identity order"]
    assert checks["shift"]["rotation"] and not checks["shift"]["identity order"]
    assert plans["aligned"]["source"] == list(range(len(record["clips"])))
    counts = np.array(list(record["type_counts"].values()))
    assert counts.sum() == 4000 and (abs(counts - 1000) < 150).all()


def check_03(record, data_dir):
    # 8 videos, batches of 4, 2 epochs (the smoke defaults): 4 optimizer steps, each logged.
    assert record["steps"] == 4 and record["logged_rows"] == 4
    assert record["model_saved"]
    assert np.isfinite([record["first_loss"], record["last_loss"]]).all()
    assert len(record["pmsp_agreement"]) == 2
    assert all(0.0 <= a <= 1.0 for a in record["pmsp_agreement"])


def check_04(record, data_dir):
    assert record["experiment_dir"].endswith("experiment")  # run here: no EXPERIMENT_DIR
    networks = {"scratch", "pmsp+ctp", "scratch/none"}  # the demo suite's finetuned arms
    handcrafted = {"handcrafted_pmsp_pyramid", "handcrafted_motion_grid"}  # frozen only
    assert set(record["top1"]) == networks
    for metric in ("linear_top1", "knn_top1"):
        assert set(record[metric]) == networks | handcrafted
    for metric in ("top1", "linear_top1", "knn_top1"):
        assert all(0 <= value <= 100 for value in record[metric].values())
    assert all(seeds == [0, 1] for seeds in record["seeds"].values())
    assert record["chance"] == pytest.approx(10.0) and record["suite"] == "demo"
    assert len(record["targets"]) == 4
    confusion = np.array(record["confusion"])
    test_clips = len((data_dir / "testlist01.txt").read_text().split())
    assert confusion.shape == (10, 10) and confusion.sum() == test_clips
    assert record["class_names"][0] == "WaveOneArm"  # classInd.txt order
    assert record["test_top1_of_confusion_run"] == pytest.approx(np.trace(confusion) / test_clips)


def check_05(record, data_dir):
    test_clips = len((data_dir / "testlist01.txt").read_text().split())
    train_clips = len((data_dir / "trainlist01.txt").read_text().splitlines())
    assert (record["num_queries"], record["gallery_size"]) == (test_clips, train_clips)
    assert record["run_dir"].endswith("pretrain")  # notebook 03's run, picked up
    for name, recall in record["recall"].items():
        values = [recall[k] for k in ("1", "5", "10", "20", "50")]
        assert values == sorted(values), name  # R@k grows with k
        assert recall["10"] == 1.0  # k = the gallery size: every class is among them
        neighbours = np.array(record["neighbours"][name])
        assert neighbours.shape == (test_clips, 5)
        assert all(len(set(row)) == 5 for row in neighbours.tolist())


CHECKS = {
    "00_codec_inspection": check_00,
    "01_pmsp_labels": check_01,
    "02_ctp_transforms": check_02,
    "03_pretraining": check_03,
    "04_finetuning_evaluation": check_04,
    "05_retrieval": check_05,
}


@pytest.fixture(scope="module")
def chain_dir(tmp_path_factory):
    """One output folder for the module's notebook runs, as ``imrkit notebooks`` uses."""
    return tmp_path_factory.mktemp("notebooks")


@pytest.mark.notebooks
@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=stems(NOTEBOOKS))
def test_notebook_runs_in_smoke_mode(notebook, chain_dir, sample_dataset):
    (executed,) = run_notebooks(chain_dir, notebooks=[notebook.stem], data_dir=sample_dataset)
    assert executed.is_file() and (chain_dir / "figures" / notebook.stem).is_dir()
    record = json.loads((chain_dir / f"{notebook.stem}.json").read_text())
    CHECKS[notebook.stem](record, sample_dataset)
