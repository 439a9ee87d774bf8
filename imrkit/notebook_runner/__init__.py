"""Run the numbered notebooks headless with papermill: ``imrkit notebooks``.

``run_notebooks(out_dir)`` executes ``notebooks/NN_*.ipynb`` in order, each with its
``parameters`` cell overridden (``OUT_DIR``, ``SMOKE``, ``DATA_DIR``, ...), and writes to
``out_dir``: the executed copies, their figures as PNG (``figures/<notebook>/``), the small
JSON of key numbers each notebook records (``<notebook>.json``) and a summary
(``notebooks.json``). Notebooks chain through ``out_dir`` (03 writes the pretraining run
that 04 and 05 pick up). A failing cell raises :class:`NotebookExecutionError` naming the
notebook and the cell; so does a cell that runs past the per-cell timeout
(:data:`DEFAULT_CELL_TIMEOUT`), so a hang becomes an error, never a stuck CI run. Each executed
notebook is also written as standalone HTML (``html/<notebook>.html``) with an index page
(``index.html``) linking them and showing the key numbers each recorded.

Notebooks call :func:`notebook_context` in their first cells, which resolves their output
folder and data (building a tiny sample dataset in smoke mode when ``data/sample`` is
absent) and records their key numbers.

The package: :mod:`~imrkit.notebook_runner.context` (what a notebook's first cells set up),
:mod:`~imrkit.notebook_runner.report` (the HTML pages and index),
:mod:`~imrkit.notebook_runner.runner` (papermill, parameters, figures) and
:mod:`~imrkit.notebook_runner.commands` (``imrkit notebooks``).
"""

from __future__ import annotations

from imrkit.notebook_runner.commands import register
from imrkit.notebook_runner.context import (
    NotebookContext,
    notebook_context,
    notebooks_dir,
    project_root,
    resolve_data_dir,
    resume_or_start,
    smoke_sample_config,
)
from imrkit.notebook_runner.report import (
    HTML_DIR,
    INDEX_FILE,
    key_numbers,
    write_html_report,
)
from imrkit.notebook_runner.runner import (
    COMMON_PARAMETERS,
    DEFAULT_CELL_TIMEOUT,
    FULL_PARAMETERS,
    KERNEL_NAME,
    SUMMARY_FILE,
    NotebookExecutionError,
    declared_parameters,
    extract_figures,
    kernel_manager_class,
    list_notebooks,
    run_notebooks,
    select_notebooks,
)

__all__ = [
    "COMMON_PARAMETERS",
    "DEFAULT_CELL_TIMEOUT",
    "FULL_PARAMETERS",
    "HTML_DIR",
    "INDEX_FILE",
    "KERNEL_NAME",
    "NotebookContext",
    "NotebookExecutionError",
    "SUMMARY_FILE",
    "declared_parameters",
    "extract_figures",
    "kernel_manager_class",
    "key_numbers",
    "list_notebooks",
    "notebook_context",
    "notebooks_dir",
    "project_root",
    "register",
    "resolve_data_dir",
    "resume_or_start",
    "run_notebooks",
    "select_notebooks",
    "smoke_sample_config",
    "write_html_report",
]
