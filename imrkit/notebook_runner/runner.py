"""Running the numbered notebooks with papermill: selection, parameters, kernel, figures."""

from __future__ import annotations

import ast
import base64
import json
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from imrkit.errors import ConfigError, ImrkitError
from imrkit.notebook_runner.context import notebooks_dir
from imrkit.notebook_runner.report import write_html_report

KERNEL_NAME = "python3"
SUMMARY_FILE = "notebooks.json"
# Seconds one cell may run under `imrkit notebooks` (0 or None: no limit). Smoke cells take
# seconds to a few minutes on 2 busy cores; a full-scale run passes its own (--cell-timeout).
DEFAULT_CELL_TIMEOUT = 1800.0
# Parameters every notebook declares; run_notebooks sets them.
COMMON_PARAMETERS = ("OUT_DIR", "DATA_DIR", "SMOKE")
# Full-scale values, one source of truth: `run_notebooks(smoke=False)` passes them and each
# notebook's "Full-scale values" markdown cell lists them (a test checks the two agree).
FULL_PARAMETERS: dict[str, dict[str, object]] = {
    "00_codec_inspection": {"NUM_GOPS": 5, "VIDEO_INDEX": 0},
    "01_pmsp_labels": {"NUM_VIDEOS": 8},
    "02_ctp_transforms": {"NUM_CLIPS": 8, "CROP": 224, "SHORT_SIDE": 256},
    "03_pretraining": {
        "CONFIG": "pretrain_kinetics",
        "MODEL": "imrnet_r18",
        "EPOCHS": 20,
        "BATCH_SIZE": 25,
        "MAX_VIDEOS": 0,
        "NUM_PROCESSES": 4,
        "MIXED_PRECISION": "bf16",
        "NUM_EXAMPLES": 4,
        "OVERRIDES": {},
    },
    "04_finetuning_evaluation": {
        "EXPERIMENT_CONFIG": "experiment_sample",
        "SEEDS": [0, 1, 2, 3, 4],
        "OVERRIDES": {},
    },
    "05_retrieval": {"NUM_QUERIES": 8, "BATCH_SIZE": 32},
}


class NotebookExecutionError(ImrkitError):
    """A notebook failed under papermill.

    Attributes:
        notebook: the source notebook.
        executed: the executed copy, which holds the traceback in the failing cell.
        cell_index: 0-based index of the failing cell in the source notebook (papermill's
            injected-parameters cell not counted; None if no cell ran).
        exec_count: its ``In [n]`` number in the executed copy.
        ename, evalue: the exception's type name and message inside the kernel.
    """

    def __init__(
        self,
        notebook: Path,
        executed: Path,
        cell_index: int | None,
        ename: str,
        evalue: str,
        source: str = "",
        exec_count: int | None = None,
    ):
        self.notebook, self.executed = notebook, executed
        self.cell_index, self.ename, self.evalue = cell_index, ename, evalue
        self.exec_count = exec_count
        where = "kernel" if cell_index is None else f"cell {cell_index}"
        if exec_count is not None:
            where += f" (In [{exec_count}])"
        first_line = next((line for line in source.splitlines() if line.strip()), "")
        code = f" `{first_line.strip()[:80]}`" if first_line else ""
        super().__init__(
            f"{notebook.name}: {where}{code} raised {ename}: {evalue} "
            f"(executed copy with the traceback: {executed})"
        )


def list_notebooks(directory: str | os.PathLike | None = None) -> list[Path]:
    """The numbered notebooks ``NN_*.ipynb`` of ``directory``, in run order."""
    directory = Path(directory) if directory else notebooks_dir()
    found = sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise ConfigError(f"{directory}: no numbered notebooks (NN_name.ipynb)")
    return found


def select_notebooks(available: Sequence[Path], only: Sequence[str] | None) -> list[Path]:
    """The notebooks named by ``only`` (prefixes "03", stems or file names), in run order."""
    if not only:
        return list(available)
    chosen = []
    for key in only:
        matches = [p for p in available if p.name == key or p.stem == key or p.name[:2] == key]
        if not matches:
            raise ConfigError(f"notebook {key!r}: not one of {[p.stem for p in available]}")
        chosen += matches
    return [p for p in available if p in chosen]


def kernel_manager_class():
    """An async KernelManager class whose python kernels run on the interpreter running imrkit.

    A user-level ``python3`` kernel spec may point at another Python (a system one without
    imrkit); the notebooks must run in the environment that runs this code (the venv).

    It is nbclient's own async manager, as the papermill CLI uses: a blocking manager would
    block nbclient's event loop while it waits for output, so a hanging cell would never reach
    the per-cell timeout (and it hid the widget hang of issue 12 that the CLI showed).
    The kernel's sockets are encrypted with CurveZMQ when pyzmq supports it (the kernel spec
    declares ``supported_encryption``), which also resolves ipykernel's "running over TCP
    without encryption" warning rather than hiding it.
    """
    import zmq
    from jupyter_client.manager import AsyncKernelManager

    class ThisInterpreterKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            if zmq.has("curve") and "transport_encryption" not in kwargs:
                kwargs["transport_encryption"] = "auto"
            super().__init__(**kwargs)

        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            if self.kernel_spec.language == "python" and any("ipykernel" in c for c in cmd):
                cmd[0] = sys.executable
            return cmd

    return ThisInterpreterKernelManager


def _running_cell_index(executed: Path) -> int | None:
    """Index in the executed copy of the last cell papermill started (the one that was running
    when the kernel died or the timeout struck; the cells after it never start)."""
    import nbformat

    if not executed.is_file():
        return None
    cells = nbformat.read(executed, as_version=4).cells
    started = [i for i, c in enumerate(cells) if c.metadata.get("papermill", {}).get("start_time")]
    return started[-1] if started else None


def _source_cell_index(executed: Path, index: int) -> int:
    """Index in the source notebook of cell ``index`` of the executed copy."""
    import nbformat

    cells = nbformat.read(executed, as_version=4).cells[:index]
    return index - sum("injected-parameters" in c.metadata.get("tags", ()) for c in cells)


def extract_figures(executed: Path, dest: Path) -> list[Path]:
    """Write every PNG output of an executed notebook to ``dest/cellNN-K.png``.

    ``dest`` is emptied first, so it never mixes figures of two runs.
    """
    import nbformat

    shutil.rmtree(dest, ignore_errors=True)
    notebook = nbformat.read(executed, as_version=4)
    written = []
    for index, cell in enumerate(notebook.cells):
        pngs = [
            o["data"]["image/png"]
            for o in cell.get("outputs", ())
            if "image/png" in o.get("data", {})
        ]
        for k, png in enumerate(pngs):
            dest.mkdir(parents=True, exist_ok=True)
            path = dest / f"cell{index:02d}-{k}.png"
            path.write_bytes(base64.b64decode(png))
            written.append(path)
    return written


def declared_parameters(notebook: str | os.PathLike) -> dict[str, object]:
    """Names and default values assigned in the notebook's cell tagged ``parameters``.

    Values that are not literals come back as their source text.
    """
    import nbformat

    cells = [
        c
        for c in nbformat.read(notebook, as_version=4).cells
        if "parameters" in c.get("metadata", {}).get("tags", ())
    ]
    if len(cells) != 1:
        raise ConfigError(f"{notebook}: expected one cell tagged 'parameters', found {len(cells)}")
    declared = {}
    for node in ast.parse(cells[0].source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for target in targets:
            if isinstance(target, ast.Name) and getattr(node, "value", None) is not None:
                try:
                    declared[target.id] = ast.literal_eval(node.value)
                except (ValueError, TypeError, SyntaxError):
                    declared[target.id] = ast.get_source_segment(cells[0].source, node.value)
    return declared


def _declared_by_each(selected: Sequence[Path], overrides: Mapping[str, object]) -> dict:
    """``{notebook: its declared parameters}``; refuses an override none of them declares
    (a typo would otherwise be ignored)."""
    declared = {notebook: declared_parameters(notebook) for notebook in selected}
    unknown = set(overrides) - {name for names in declared.values() for name in names}
    if unknown:
        raise ConfigError(
            f"parameters {sorted(unknown)}: declared by none of {[p.stem for p in selected]}"
        )
    return declared


def _notebook_values(
    notebook: Path,
    out: Path,
    *,
    smoke: bool,
    data_dir: str | os.PathLike | None,
    overrides: Mapping[str, object],
) -> dict[str, object]:
    """The parameter values a notebook runs with: the common ones, the full-scale ones
    (unless ``smoke``), then the overrides (the caller keeps those the notebook declares)."""
    data = str(Path(data_dir).expanduser().resolve()) if data_dir else ""
    values = {"OUT_DIR": str(out), "SMOKE": smoke, "DATA_DIR": data}
    if not smoke:
        values.update(FULL_PARAMETERS.get(notebook.stem, {}))
    values.update(overrides)
    return values


def _interrupted(notebook: Path, executed: Path, error: Exception) -> NotebookExecutionError:
    """The error of a cell past its timeout or a dead kernel, naming the cell that ran."""
    index = _running_cell_index(executed)
    source = ""
    if index is not None:
        import nbformat

        source = nbformat.read(executed, as_version=4).cells[index].source
    return NotebookExecutionError(
        notebook,
        executed,
        None if index is None else _source_cell_index(executed, index),
        type(error).__name__,
        str(error).strip().splitlines()[0],
        source,
    )


def _execute(
    notebook: Path,
    executed: Path,
    parameters: Mapping[str, object],
    *,
    cwd: Path,
    cell_timeout: float | None,
) -> None:
    """Run ``notebook`` into ``executed`` with papermill, on this interpreter's kernel.

    Raises:
        NotebookExecutionError: a cell raised, ran past ``cell_timeout``, or the kernel died.
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            language="python",
            cwd=str(cwd),
            progress_bar=False,
            execution_timeout=int(cell_timeout) if cell_timeout else None,
            kernel_manager_class=kernel_manager_class(),
        )
    except PapermillExecutionError as error:
        raise NotebookExecutionError(
            notebook,
            executed,
            _source_cell_index(executed, error.cell_index),
            error.ename,
            error.evalue,
            error.source,
            error.exec_count,
        ) from None
    except (CellTimeoutError, DeadKernelError) as error:
        raise _interrupted(notebook, executed, error) from error


def run_notebooks(
    out_dir: str | os.PathLike,
    *,
    smoke: bool = True,
    notebooks: Sequence[str] | None = None,
    parameters: Mapping[str, object] | None = None,
    data_dir: str | os.PathLike | None = None,
    directory: str | os.PathLike | None = None,
    cell_timeout: float | None = DEFAULT_CELL_TIMEOUT,
    verbose: bool = False,
    html: bool = True,
) -> list[Path]:
    """Execute the numbered notebooks in order with papermill.

    Args:
        out_dir: where executed copies, figures, records and the notebooks' own outputs go.
        smoke: tiny parameters (each notebook's defaults); False applies
            :data:`FULL_PARAMETERS`.
        notebooks: subset to run ("00", "03_pretraining", ...); default all, in order.
        parameters: ``NAME: value`` overrides, given to each notebook that declares NAME
            (a name no selected notebook declares is an error: a typo would be ignored).
        data_dir: the dataset (default: see :func:`resolve_data_dir`).
        directory: where the notebooks are (default: the checkout's ``notebooks/``).
        cell_timeout: seconds a cell may run (:data:`DEFAULT_CELL_TIMEOUT`; 0 or None: no
            limit). A cell past it raises :class:`NotebookExecutionError` naming the cell.
        verbose: print each notebook's name and time as it finishes.
        html: also write ``html/<notebook>.html`` and ``index.html`` (see
            :func:`write_html_report`).

    Returns:
        The executed copies, in order.

    Raises:
        NotebookExecutionError: a cell failed (names the notebook and the cell).
        ConfigError: unknown notebooks or parameters.
    """
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    selected = select_notebooks(list_notebooks(directory), notebooks)
    overrides = dict(parameters or {})
    declared = _declared_by_each(selected, overrides)

    summary, executed_paths = [], []
    for notebook in selected:
        values = _notebook_values(
            notebook, out, smoke=smoke, data_dir=data_dir, overrides=overrides
        )
        executed = out / notebook.name
        started = time.perf_counter()
        _execute(
            notebook,
            executed,
            {k: v for k, v in values.items() if k in declared[notebook]},
            cwd=out,
            cell_timeout=cell_timeout,
        )
        seconds = time.perf_counter() - started
        figures = extract_figures(executed, out / "figures" / notebook.stem)
        summary.append(
            {
                "notebook": notebook.name,
                "executed": str(executed),
                "seconds": round(seconds, 2),
                "figures": len(figures),
            }
        )
        executed_paths.append(executed)
        if verbose:
            print(f"{notebook.name}: ok in {seconds:.1f} s, {len(figures)} figures", flush=True)
    (out / SUMMARY_FILE).write_text(
        json.dumps({"smoke": smoke, "notebooks": summary}, indent=2) + "\n"
    )
    if html:
        write_html_report(out, summary)
    return executed_paths
