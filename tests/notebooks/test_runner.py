"""``run_notebooks`` and ``imrkit notebooks`` on tiny synthetic notebooks."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat
import pytest

from imrkit import notebook_runner
from imrkit.errors import ConfigError
from imrkit.notebook_runner import (
    NotebookExecutionError,
    declared_parameters,
    notebook_context,
    run_notebooks,
    select_notebooks,
)

PARAMETERS = "OUT_DIR = ''\nDATA_DIR = ''\nSMOKE = True\nSCALE = 2  # a number\nNAME = 'x'\n"


@pytest.fixture
def notebooks(tmp_path, write_notebook):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(
        folder / "00_first.ipynb",
        "import json, pathlib, sys\n"
        "pathlib.Path(OUT_DIR, 'first.json').write_text(json.dumps("
        "{'python': sys.executable, 'scale': SCALE, 'smoke': SMOKE, 'name': NAME}))",
        "%matplotlib inline\nfrom imrkit import viz\n"
        "figure = viz.new_figure(2, 2)\nfigure.subplots().plot([0, 1])\nfigure",
        parameters=PARAMETERS,
    )
    write_notebook(
        folder / "01_second.ipynb",
        "import pathlib\nassert pathlib.Path(OUT_DIR, 'first.json').is_file()",
        parameters=PARAMETERS,
    )
    (folder / "scratch.ipynb").write_text("not numbered, never run")
    return folder


@pytest.mark.notebooks
def test_run_notebooks_executes_in_order_with_this_interpreter(notebooks, tmp_path):
    out = tmp_path / "out"
    executed = run_notebooks(out, directory=notebooks, parameters={"SCALE": 7})
    assert [p.name for p in executed] == ["00_first.ipynb", "01_second.ipynb"]
    record = json.loads((out / "first.json").read_text())
    assert record == {"python": sys.executable, "scale": 7, "smoke": True, "name": "x"}
    assert [p.name for p in (out / "figures" / "00_first").iterdir()] == ["cell04-0.png"]
    summary = json.loads((out / notebook_runner.SUMMARY_FILE).read_text())
    assert [n["notebook"] for n in summary["notebooks"]] == ["00_first.ipynb", "01_second.ipynb"]
    executed_first = nbformat.read(executed[0], as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", ()) for c in executed_first.cells)


@pytest.mark.notebooks
def test_a_python3_kernel_spec_pointing_elsewhere_is_bypassed(notebooks, tmp_path, monkeypatch):
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    "/nonexistent/python",
                    "-m",
                    "ipykernel_launcher",
                    "-f",
                    "{connection_file}",
                ],
                "display_name": "some other Python",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    from jupyter_client.kernelspec import KernelSpecManager

    assert KernelSpecManager().get_kernel_spec("python3").argv[0] == "/nonexistent/python"
    run_notebooks(tmp_path / "out", directory=notebooks, notebooks=["00"])
    assert json.loads((tmp_path / "out" / "first.json").read_text())["python"] == sys.executable


def test_full_mode_passes_the_full_scale_values(notebooks, tmp_path, monkeypatch):
    import papermill

    monkeypatch.setitem(notebook_runner.FULL_PARAMETERS, "00_first", {"SCALE": 100})
    calls = []

    def fake_execute(source, destination, parameters, **kwargs):
        calls.append((Path(source).stem, parameters))
        nbformat.write(nbformat.read(source, as_version=4), destination)

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    out = str(tmp_path.resolve())
    run_notebooks(tmp_path, directory=notebooks, smoke=False, parameters={"NAME": "y"})
    common = {"OUT_DIR": out, "DATA_DIR": "", "SMOKE": False, "NAME": "y"}
    assert calls == [("00_first", {**common, "SCALE": 100}), ("01_second", common)]
    calls.clear()
    run_notebooks(tmp_path, directory=notebooks, notebooks=["00"])
    assert calls == [("00_first", {"OUT_DIR": out, "DATA_DIR": "", "SMOKE": True})]


@pytest.mark.notebooks
def test_a_failing_cell_names_the_notebook_and_the_cell(notebooks, tmp_path, write_notebook):
    write_notebook(
        notebooks / "02_broken.ipynb",
        "x = 1",
        "raise ValueError('no motion')",
        parameters=PARAMETERS,
    )
    with pytest.raises(NotebookExecutionError) as caught:
        run_notebooks(tmp_path / "out", directory=notebooks, notebooks=["02"])
    error = caught.value
    assert (error.notebook.name, error.cell_index, error.ename) == (
        "02_broken.ipynb",
        3,
        "ValueError",
    )
    assert "02_broken.ipynb: cell 3" in str(error) and "no motion" in str(error)
    assert error.executed.is_file()


def test_unknown_parameters_and_notebooks_are_refused(notebooks, tmp_path):
    with pytest.raises(ConfigError, match="SCALEE"):
        run_notebooks(tmp_path, directory=notebooks, parameters={"SCALEE": 1})
    with pytest.raises(ConfigError, match="07"):
        run_notebooks(tmp_path, directory=notebooks, notebooks=["07"])


def test_select_notebooks_by_prefix_stem_or_name(notebooks):
    available = notebook_runner.list_notebooks(notebooks)
    assert [p.name for p in available] == ["00_first.ipynb", "01_second.ipynb"]
    assert select_notebooks(available, ["01_second", "00"]) == available
    assert select_notebooks(available, ["01_second.ipynb"]) == available[1:]
    assert select_notebooks(available, None) == available


def test_declared_parameters_reads_the_tagged_cell(notebooks):
    assert declared_parameters(notebooks / "00_first.ipynb") == {
        "OUT_DIR": "",
        "DATA_DIR": "",
        "SMOKE": True,
        "SCALE": 2,
        "NAME": "x",
    }


def test_notebook_context_records_numbers_and_uses_the_given_data(tmp_path, sample_dataset):
    context = notebook_context("03_x", tmp_path / "out", sample_dataset, smoke=True)
    assert context.data_dir == sample_dataset.resolve()
    import numpy as np

    context.record(top1=np.float32(0.5), curve=np.arange(3))
    assert context.record(steps=2) == {"top1": 0.5, "curve": [0, 1, 2], "steps": 2}
    assert json.loads((tmp_path / "out" / "03_x.json").read_text())["steps"] == 2
    with pytest.raises(ConfigError, match="classInd"):
        notebook_context("03_x", tmp_path / "out", tmp_path, smoke=True)


def test_smoke_context_builds_a_tiny_sample_when_the_default_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(notebook_runner.context, "project_root", lambda: tmp_path / "checkout")
    built = []

    def fake_ensure(root, config):
        built.append((root, config.videos_per_class))
        (root).mkdir(parents=True)
        (root / "classInd.txt").write_text("1 A\n")
        return root

    monkeypatch.setattr(notebook_runner.context, "_ensure_sample", fake_ensure)
    context = notebook_context("00_x", tmp_path / "out", "", smoke=True)
    assert built == [(tmp_path / "out" / "sample", 2)]
    assert context.data_dir == tmp_path / "out" / "sample"


def test_cli_parses_only_out_and_parameters(tmp_path, monkeypatch):
    parser = argparse.ArgumentParser()
    notebook_runner.register(parser.add_subparsers(dest="command"))
    calls = []
    monkeypatch.setattr(
        notebook_runner.commands, "run_notebooks", lambda out, **kw: calls.append((out, kw)) or []
    )
    args = parser.parse_args(
        [
            "notebooks",
            "--full",
            "--out",
            str(tmp_path),
            "--only",
            "00,03",
            "-p",
            "EPOCHS=3",
            "-p",
            "MODEL=imrnet_tiny",
        ]
    )
    assert args.func(args) == 0
    out, kwargs = calls[0]
    assert out == str(tmp_path) and kwargs["smoke"] is False
    assert kwargs["notebooks"] == ["00", "03"]
    assert kwargs["parameters"] == {"EPOCHS": 3, "MODEL": "imrnet_tiny"}
    assert parser.parse_args(["notebooks"]).smoke is True
