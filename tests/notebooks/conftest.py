"""Shared by the runner's tests: constructed notebooks (conftest modules cannot be imported
under ``--import-mode=importlib``, so the helper comes as a fixture)."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

PARAMETERS = "OUT_DIR = ''\nDATA_DIR = ''\nSMOKE = True\n"


def _write_notebook(path, *cells, parameters: str = PARAMETERS):
    """A notebook at ``path``: a title, the tagged parameters cell, then ``cells`` (code)."""
    notebook = new_notebook()
    parameters_cell = new_code_cell(parameters)
    parameters_cell.metadata["tags"] = ["parameters"]
    notebook.cells = [new_markdown_cell("# test"), parameters_cell, *map(new_code_cell, cells)]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def write_notebook():
    """``write_notebook(path, *code_cells, parameters=...)`` -> path."""
    return _write_notebook
