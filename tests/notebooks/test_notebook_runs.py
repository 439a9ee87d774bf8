"""Issue 12 under the runner: cell timeouts, HTML export, encrypted kernels, the widget's
display path, and re-running the real notebooks twice."""

from __future__ import annotations

import json
import re

import nbformat
import pytest
import zmq

from imrkit.notebook_runner import (
    INDEX_FILE,
    NotebookExecutionError,
    key_numbers,
    list_notebooks,
    run_notebooks,
)


@pytest.fixture
def notebooks(tmp_path, write_notebook):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(
        folder / "00_numbers.ipynb",
        "import json, pathlib\nfrom ipykernel.kernelapp import IPKernelApp\n"
        "encrypted = IPKernelApp.instance().curve_secretkey is not None\n"
        "pathlib.Path(OUT_DIR, '00_numbers.json').write_text(json.dumps("
        "{'answer': 42, 'top1': {'pretrained': 0.123456}, 'curve': [1, 2], "
        "'encrypted': encrypted}))",
        "print('the cell output')",
    )
    write_notebook(folder / "01_plain.ipynb", "x = 1")
    return folder


@pytest.mark.notebooks
def test_a_hanging_cell_becomes_an_error_naming_the_notebook_and_the_cell(
    notebooks, tmp_path, write_notebook
):
    write_notebook(notebooks / "02_hang.ipynb", "x = 1", "import time\ntime.sleep(3600)")
    with pytest.raises(NotebookExecutionError) as caught:
        run_notebooks(tmp_path / "out", directory=notebooks, notebooks=["02"], cell_timeout=3)
    error = caught.value
    assert (error.notebook.name, error.cell_index, error.ename) == (
        "02_hang.ipynb",
        3,
        "CellTimeoutError",
    )
    assert "02_hang.ipynb: cell 3" in str(error) and "`import time`" in str(error)


@pytest.mark.notebooks
def test_html_index_lists_every_executed_notebook_with_its_numbers(notebooks, tmp_path):
    out = tmp_path / "out"
    executed = run_notebooks(out, directory=notebooks)
    index = (out / INDEX_FILE).read_text()
    links = re.findall(r'href="([^"]+)"', index)
    assert links == ["html/00_numbers.html", "html/01_plain.html"]
    assert len(links) == len(executed)
    for link in links:
        assert (out / link).is_file()
    assert "the cell output" in (out / "html" / "00_numbers.html").read_text()
    assert "answer: 42" in index and "top1.pretrained: 0.1235" in index
    assert "curve" not in index  # lists are left out of the index
    # The kernel ran with CurveZMQ keys wherever pyzmq has them (no plain-TCP warning).
    record = json.loads((out / "00_numbers.json").read_text())
    assert record["encrypted"] == zmq.has("curve")


def test_key_numbers_keeps_scalars_and_one_level_of_dicts():
    record = {"a": 1, "b": {"x": 0.5, "y": [1]}, "c": [1, 2], "d": "x" * 80, "e": True}
    assert key_numbers(record) == {"a": 1, "b.x": 0.5, "e": True}
    assert len(key_numbers({str(i): i for i in range(30)}, limit=5)) == 5


@pytest.mark.notebooks
def test_the_browser_figure_reaches_its_output_widget_as_state(tmp_path, write_notebook):
    """The display path that avoids the hang: the figure is the Output widget's state."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(
        folder / "00_browser.ipynb",
        "%matplotlib inline\nimport numpy as np\nfrom types import SimpleNamespace\n"
        "from imrkit.widgets import PMSPBrowser\n"
        "def load(path, start, num_gops):\n"
        "    return SimpleNamespace(iframes=np.zeros((num_gops, 32, 48, 3), np.uint8),\n"
        "                           motion=np.ones((5 * num_gops, 32, 48, 2), np.float32))\n"
        "browser = PMSPBrowser(['a.avi'], load_clip=load, count_gops=lambda path: 8)\n"
        "browser.show()",
        "browser.start_gop.value = 2\nbrowser.redraws",
    )
    (executed,) = run_notebooks(tmp_path / "out", directory=folder, html=False)
    notebook = nbformat.read(executed, as_version=4)
    states = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    outputs = [s["state"] for s in states.values() if s["model_name"] == "OutputModel"]
    assert len(outputs) == 1
    (figure,) = outputs[0]["outputs"]
    assert figure["output_type"] == "display_data" and "image/png" in figure["data"]
    assert notebook.cells[-1].outputs[0]["data"]["text/plain"] == "2"


@pytest.mark.notebooks
@pytest.mark.slow
@pytest.mark.parametrize("notebook", list_notebooks(), ids=lambda p: p.stem)
def test_notebook_runs_twice_in_a_row_with_its_defaults(notebook, tmp_path, sample_dataset):
    """'Run All' twice: the second run resumes or starts afresh and says which, never fails."""
    out = tmp_path / "out"
    for _ in range(2):
        run_notebooks(out, notebooks=[notebook.stem], data_dir=sample_dataset, html=False)
    assert json.loads((out / f"{notebook.stem}.json").read_text())
    text = "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/markdown", ""))
        for c in nbformat.read(out / notebook.name, as_version=4).cells
        for o in c.get("outputs", ())
    )
    if notebook.stem == "03_pretraining":
        assert "resuming the run" in text


@pytest.mark.parametrize("notebook", list_notebooks(), ids=lambda p: p.stem)
def test_first_cell_says_what_it_shows_how_long_and_how_to_run_it(notebook):
    first = nbformat.read(notebook, as_version=4).cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {notebook.stem[:2]} ")
    text = first.source
    assert re.search(r"Smoke mode \(the defaults\) takes [^.]+ on 2 busy CPU cores", text)
    assert re.search(r"[Ff]ull scale", text)
    assert f"imrkit notebooks --only {notebook.stem[:2]}" in text
    assert f"papermill notebooks/{notebook.name} " in text
