"""Soak the notebooks: run each one N times by the plain papermill CLI and by `imrkit notebooks`.

Issue 12: `papermill 01_pmsp_labels.ipynb out.ipynb -k python3` hung at the widget cell in 3 of
6 runs. This script records that every notebook now finishes, run after run, in both ways:

    .venv/bin/python scripts/notebooks_soak.py --runs 20 --out runs/soak
    .venv/bin/python scripts/notebooks_soak.py --runs 20 --only 01 --out runs/soak

A run that takes longer than --hang-after seconds is killed and counted as a hang. Each run
gets a fresh output folder (so 03 trains from scratch each time) and the same smoke dataset.
Results go to <out>/soak.json and a Markdown table on stdout (for BENCHMARKS.md). Not a test:
it takes minutes per run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from imrkit.notebook_runner import list_notebooks

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def commands(notebook: Path, out: Path, data: Path) -> dict[str, list[str]]:
    """The two ways a batch user runs a notebook, writing into ``out``."""
    return {
        "papermill CLI": [
            str(BIN / "papermill"),
            str(notebook),
            str(out / notebook.name),
            "-k",
            "python3",
            "-p",
            "OUT_DIR",
            str(out),
            "-p",
            "DATA_DIR",
            str(data),
            "--cwd",
            str(out),
        ],
        "imrkit notebooks": [
            str(BIN / "imrkit"),
            "notebooks",
            "--only",
            notebook.stem[:2],
            "--out",
            str(out),
            "--data",
            str(data),
        ],
    }


def pretrained(out: Path, data: Path) -> Path:
    """A folder holding one run of notebook 03, made once: 04 and 05 start from a copy."""
    folder = out / "pretrained"
    if not (folder / "done").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        command = commands(list_notebooks()[3], folder, data)["imrkit notebooks"]
        subprocess.run(command, capture_output=True, check=True)
        (folder / "done").touch()
    return folder


def soak(runs: int, only: list[str], out: Path, hang_after: float, stop_at: float | None) -> dict:
    from imrkit.data.sample import ensure_sample
    from imrkit.notebook_runner import select_notebooks, smoke_sample_config

    data = ensure_sample(out / "sample", smoke_sample_config())
    notebooks = select_notebooks(list_notebooks(), only or None)
    results: dict[str, dict[str, list]] = {}
    for run in range(runs):
        for notebook in notebooks:
            for way, command in commands(notebook, out / "run", data).items():
                if stop_at is not None and time.time() > stop_at:
                    return results
                shutil.rmtree(out / "run", ignore_errors=True)
                (out / "run").mkdir(parents=True)
                if notebook.stem[:2] in ("04", "05"):  # they read 03's pretraining run
                    shutil.copytree(pretrained(out, data), out / "run", dirs_exist_ok=True)
                started = time.perf_counter()
                try:
                    done = subprocess.run(command, capture_output=True, timeout=hang_after)
                    status = "ok" if done.returncode == 0 else f"exit {done.returncode}"
                except subprocess.TimeoutExpired:
                    status = "hang"
                seconds = time.perf_counter() - started
                entry = results.setdefault(notebook.stem, {}).setdefault(way, [])
                entry.append({"run": run, "status": status, "seconds": round(seconds, 1)})
                print(f"{notebook.stem} {way} run {run}: {status} in {seconds:.0f} s", flush=True)
                (out / "soak.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def table(results: dict) -> str:
    rows = ["| notebook | runner | runs | finished | hangs | median s | max s |", "|---" * 7 + "|"]
    for notebook, ways in results.items():
        for way, entries in ways.items():
            seconds = [e["seconds"] for e in entries]
            rows.append(
                f"| {notebook} | {way} | {len(entries)} "
                f"| {sum(e['status'] == 'ok' for e in entries)} "
                f"| {sum(e['status'] == 'hang' for e in entries)} "
                f"| {statistics.median(seconds):.0f} | {max(seconds):.0f} |"
            )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--only", default="", help="comma-separated notebooks, e.g. 01")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "soak")
    parser.add_argument("--hang-after", type=float, default=900.0, help="seconds")
    parser.add_argument("--stop-after", type=float, default=None, help="stop starting runs (s)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    stop_at = time.time() + args.stop_after if args.stop_after else None
    only = [key.strip() for key in args.only.split(",") if key.strip()]
    results = soak(args.runs, only, args.out.resolve(), args.hang_after, stop_at)
    print(table(results))
    entries = [e for ways in results.values() for es in ways.values() for e in es]
    failed = any(e["status"] != "ok" for e in entries)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
