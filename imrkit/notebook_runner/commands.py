"""The ``imrkit notebooks`` command line."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

from imrkit.notebook_runner.runner import DEFAULT_CELL_TIMEOUT, run_notebooks


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
