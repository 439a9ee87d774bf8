"""The context each notebook sets up: its output folder, its dataset, its record of numbers."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from imrkit.errors import ConfigError


def project_root() -> Path:
    """The checkout imrkit runs from (for ``data/sample`` and ``runs/``), else the cwd."""
    root = Path(__file__).resolve().parents[2]  # imrkit/notebook_runner/context.py
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


def _jsonable(value):
    if hasattr(value, "tolist"):  # numpy arrays and scalars, tensors
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot record {type(value).__name__} as JSON")


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
