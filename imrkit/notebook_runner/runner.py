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
"""

from __future__ import annotations

import argparse
import ast
import base64
import json
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from imrkit.errors import ConfigError, ImrkitError

KERNEL_NAME = "python3"
SUMMARY_FILE = "notebooks.json"
INDEX_FILE = "index.html"
HTML_DIR = "html"
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


# ------------------------------------------------------------------------ notebook side


def project_root() -> Path:
    """The checkout imrkit runs from (for ``data/sample`` and ``runs/``), else the cwd."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else Path.cwd()


def notebooks_dir() -> Path:
    """The folder of the numbered notebooks (``notebooks/`` of the checkout)."""
    return project_root() / "notebooks"


def _ensure_sample(root: Path, config) -> Path:
    """Build the sample dataset at ``root`` unless it is already there."""
    from imrkit.data.sample import ensure_sample

    return ensure_sample(root, config)


def smoke_sample_config():
    """The tiny sample dataset of smoke runs: 2 videos per class, 6 GOPs each."""
    from imrkit.data.sample import SampleConfig

    return SampleConfig(videos_per_class=2, num_gops=6, seed=0)


def resolve_data_dir(data_dir: str | os.PathLike, out_dir: Path, *, smoke: bool) -> Path:
    """The dataset a notebook reads.

    ``data_dir`` when given (it must exist); else the default sample ``data/sample``; in smoke
    mode a tiny sample under ``out_dir/sample`` when the default one was never built (so a
    fresh clone runs the notebooks without first building the full sample).
    """
    if data_dir:
        path = Path(data_dir).expanduser().resolve()
        if not (path / "classInd.txt").is_file():
            raise ConfigError(
                f"DATA_DIR={data_dir}: no classInd.txt; not a UCF-101-layout "
                "folder (build one with `imrkit make-sample DIR`)"
            )
        return path
    default = project_root() / "data" / "sample"
    if (default / "classInd.txt").is_file():
        return default
    if smoke:
        return _ensure_sample(out_dir / "sample", smoke_sample_config())
    from imrkit.data.sample import SampleConfig

    return _ensure_sample(default, SampleConfig())


@dataclass
class NotebookContext:
    """Where a notebook writes and reads, and its record of key numbers.

    Attributes:
        name: the notebook's stem (``03_pretraining``).
        out_dir: the shared output folder of the notebook chain.
        data_dir: the UCF-101-layout dataset it reads.
        smoke: tiny settings (tests, ``imrkit notebooks --smoke``).
    """

    name: str
    out_dir: Path
    data_dir: Path
    smoke: bool

    @property
    def record_path(self) -> Path:
        return self.out_dir / f"{self.name}.json"

    def record(self, **numbers) -> dict:
        """Merge ``numbers`` into ``<out_dir>/<name>.json`` (what tests and scripts check)."""
        current = json.loads(self.record_path.read_text()) if self.record_path.is_file() else {}
        current.update(json.loads(json.dumps(numbers, default=_jsonable)))
        self.record_path.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
        return current


def _jsonable(value):
    if hasattr(value, "tolist"):  # numpy arrays and scalars, tensors
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot record {type(value).__name__} as JSON")


def notebook_context(
    name: str,
    out_dir: str | os.PathLike = "",
    data_dir: str | os.PathLike = "",
    *,
    smoke: bool = True,
) -> NotebookContext:
    """Set up a notebook run: output folder (default ``runs/notebooks``) and dataset.

    Args:
        name: the notebook's stem; names its record ``<out_dir>/<name>.json``.
        out_dir: ``OUT_DIR`` parameter ("" = ``runs/notebooks`` of the checkout).
        data_dir: ``DATA_DIR`` parameter (see :func:`resolve_data_dir`).
        smoke: ``SMOKE`` parameter.
    """
    out = Path(out_dir).expanduser().resolve() if out_dir else project_root() / "runs" / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    context = NotebookContext(name, out, resolve_data_dir(data_dir, out, smoke=smoke), smoke)
    context.record_path.unlink(missing_ok=True)  # a rerun never keeps stale numbers
    return context


def resume_or_start(run_dir: str | os.PathLike) -> tuple[dict[str, str], str]:
    """How a notebook trains into ``run_dir`` every time it runs ("Run All" twice included).

    Returns the config overrides and a sentence saying which: ``run.resume=latest`` when the
    folder already holds checkpoints of a run (an interrupted run continues, a finished one
    trains no further and its results are read again), else nothing (a fresh run).
    """
    from imrkit.train.checkpoints import CHECKPOINTS, list_checkpoints

    run_dir = Path(run_dir)
    folder = run_dir / CHECKPOINTS
    if folder.is_dir() and any(folder.iterdir()):
        found = list_checkpoints(run_dir)
        last = f" from checkpoint `{found[-1].name}`" if found else ""
        return (
            {"run.resume": "latest"},
            f"resuming the run in `{run_dir}`{last} (a finished run trains no further; "
            "delete the folder for a fresh one)",
        )
    return {}, f"starting a fresh run in `{run_dir}`"


# -------------------------------------------------------------------------- runner side


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
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    selected = select_notebooks(list_notebooks(directory), notebooks)
    overrides = dict(parameters or {})
    declared = {notebook: declared_parameters(notebook) for notebook in selected}
    unknown = set(overrides) - {name for names in declared.values() for name in names}
    if unknown:
        raise ConfigError(
            f"parameters {sorted(unknown)}: declared by none of {[p.stem for p in selected]}"
        )

    summary, executed_paths = [], []
    for notebook in selected:
        data = str(Path(data_dir).expanduser().resolve()) if data_dir else ""
        values = {"OUT_DIR": str(out), "SMOKE": smoke, "DATA_DIR": data}
        if not smoke:
            values.update(FULL_PARAMETERS.get(notebook.stem, {}))
        values.update(overrides)
        executed = out / notebook.name
        started = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(notebook),
                str(executed),
                parameters={k: v for k, v in values.items() if k in declared[notebook]},
                kernel_name=KERNEL_NAME,
                language="python",
                cwd=str(out),
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
            index = _running_cell_index(executed)
            source = ""
            if index is not None:
                import nbformat

                source = nbformat.read(executed, as_version=4).cells[index].source
            raise NotebookExecutionError(
                notebook,
                executed,
                None if index is None else _source_cell_index(executed, index),
                type(error).__name__,
                str(error).strip().splitlines()[0],
                source,
            ) from error
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


def key_numbers(record: Mapping, limit: int = 12) -> dict[str, object]:
    """The scalar entries of a notebook's record (one level of dicts flattened), for the index.

    Lists and long strings are left out: the index shows what fits on a line.
    """
    found: dict[str, object] = {}
    for key, value in record.items():
        items = value.items() if isinstance(value, Mapping) else [(None, value)]
        for sub, item in items:
            if isinstance(item, bool | int | float) or (isinstance(item, str) and len(item) < 60):
                name = key if sub is None else f"{key}.{sub}"
                found[name] = round(item, 4) if isinstance(item, float) else item
    return dict(list(found.items())[:limit])


def write_html_report(out: Path, summary: Sequence[Mapping]) -> Path:
    """Write each executed notebook as standalone HTML and an index page linking them.

    ``out/html/<notebook>.html`` (nbconvert's HTML exporter, figures embedded) and
    ``out/index.html``: one row per notebook of ``summary`` (the entries ``run_notebooks``
    writes to ``notebooks.json``) with its time, figures and :func:`key_numbers` of its record.
    """
    import html as html_text

    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    (out / HTML_DIR).mkdir(exist_ok=True)
    rows = []
    for entry in summary:
        executed = Path(entry["executed"])
        body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
        page = out / HTML_DIR / f"{executed.stem}.html"
        page.write_text(body, encoding="utf-8")
        record_path = out / f"{executed.stem}.json"
        record = json.loads(record_path.read_text()) if record_path.is_file() else {}
        numbers = "<br>".join(
            f"{html_text.escape(k)}: {html_text.escape(str(v))}"
            for k, v in key_numbers(record).items()
        )
        rows.append(
            f'<tr><td><a href="{HTML_DIR}/{page.name}">{html_text.escape(executed.stem)}</a></td>'
            f"<td>{entry['seconds']}</td><td>{entry['figures']}</td><td>{numbers}</td></tr>"
        )
    index = out / INDEX_FILE
    index.write_text(
        "<!doctype html>\n<html><head><meta charset='utf-8'><title>imrkit notebooks</title>"
        "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px 8px;"
        "vertical-align:top}table{border-collapse:collapse}</style></head><body>\n"
        f"<h1>imrkit notebooks</h1><p>Executed into {html_text.escape(str(out))}.</p>\n"
        "<table><tr><th>notebook</th><th>seconds</th><th>figures</th><th>key numbers</th></tr>\n"
        + "\n".join(rows)
        + "\n</table></body></html>\n",
        encoding="utf-8",
    )
    return index


# ---------------------------------------------------------------------------------- CLI


def _parameter(text: str) -> tuple[str, object]:
    """``NAME=value`` with value a Python literal (``3``, ``'x'``, ``True``) or a plain string."""
    name, sep, raw = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE")
    try:
        return name, ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return name, raw


def _command(args: argparse.Namespace) -> int:
    only = [key.strip() for key in args.only.split(",") if key.strip()] if args.only else None
    executed = run_notebooks(
        args.out,
        smoke=args.smoke,
        notebooks=only,
        parameters=dict(args.parameter),
        data_dir=args.data,
        cell_timeout=args.cell_timeout,
        verbose=True,
    )
    print(f"{len(executed)} notebooks executed; copies and figures in {Path(args.out).resolve()}")
    return 0


def register(subparsers) -> None:
    """Add ``imrkit notebooks`` to the CLI."""
    parser = subparsers.add_parser(
        "notebooks",
        help="execute the notebooks in order with papermill",
        description="Execute notebooks/NN_*.ipynb in order (papermill, this Python's kernel), "
        "writing executed copies, figures and key numbers to --out.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--smoke",
        dest="smoke",
        action="store_true",
        default=True,
        help="tiny parameters, about a minute per notebook (default)",
    )
    mode.add_argument(
        "--full",
        dest="smoke",
        action="store_false",
        help="full-scale parameters (hours: the paper's settings)",
    )
    parser.add_argument("--out", default="runs/notebooks", help="output folder")
    parser.add_argument("--only", default="", help="comma-separated notebooks, e.g. 00,01")
    parser.add_argument("--data", default=None, help="dataset folder (default: data/sample)")
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        type=_parameter,
        default=[],
        metavar="NAME=VALUE",
        help="override a notebook parameter",
    )
    parser.add_argument(
        "--cell-timeout",
        type=float,
        default=DEFAULT_CELL_TIMEOUT,
        help=f"seconds a cell may run (default {DEFAULT_CELL_TIMEOUT:.0f}; 0: no limit)",
    )
    parser.set_defaults(func=_command)
