"""The metrics CSV of a run (``run_dir/metrics.csv``) and :func:`read_history`.

Rows are of two kinds: ``train`` (running means every ``log_every`` updates: loss, lr,
clips/s, the pretext's metrics such as per-level PMSP accuracies) and ``epoch`` (epoch mean
loss, skipped videos, evaluation metrics). Columns are the union of every row's keys; the
file is rewritten when a new column appears, which keeps it a plain CSV any tool reads.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

FIRST_COLUMNS = ("kind", "step", "epoch", "loss", "lr")


class MetricsLog:
    """Append-only CSV of metric rows, written by the main process only.

    Args:
        path: the CSV file; rows already there (a resumed run) are kept.
        enabled: False on non-main processes (every call is then a no-op).
    """

    def __init__(self, path: str | os.PathLike, *, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled
        self.rows: list[dict[str, Any]] = read_rows(self.path) if enabled else []
        self.columns: list[str] = _columns(self.rows)

    def truncate_after(self, step: int) -> None:
        """Drop rows after ``step`` (a resumed run re-logs them); -1 drops every row."""
        if not self.enabled:
            return
        self.rows = [r for r in self.rows if step >= 0 and int(float(r["step"])) <= step]
        self.columns = _columns(self.rows)
        self._rewrite()

    def append(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.rows.append(row)
        new = [key for key in row if key not in self.columns]
        if new or not self.path.exists():
            self.columns = _columns(self.rows)
            self._rewrite()
            return
        with open(self.path, "a", newline="") as handle:
            csv.DictWriter(handle, self.columns).writerow(_format(row))

    def _rewrite(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".csv.tmp")
        with open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, self.columns)
            writer.writeheader()
            writer.writerows(_format(row) for row in self.rows)
        os.replace(temporary, self.path)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    seen = dict.fromkeys(FIRST_COLUMNS)
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _format(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}


def _parse(text: str) -> Any:
    if text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text and "e" not in text else number


def read_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a metrics CSV with numbers parsed (empty cells are None); [] if absent."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def read_history(run_dir: str | os.PathLike, kind: str | None = None) -> list[dict[str, Any]]:
    """Rows of ``run_dir/metrics.csv``: ``step``, ``epoch``, ``loss``, ``lr``, metrics...

    Args:
        run_dir: a pretraining or finetuning run folder (or the CSV itself).
        kind: keep only ``"train"`` or ``"epoch"`` rows; None keeps all.
    """
    path = Path(run_dir)
    rows = read_rows(path if path.suffix == ".csv" else path / "metrics.csv")
    return [r for r in rows if kind is None or r.get("kind") == kind]
