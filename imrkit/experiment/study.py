"""The shared command line of the pre-registered study scripts (``scripts/*_study.py``,
``scripts/ctp_weight_control.py``): run the sample suite with a few settings changed into
its own folder, then compare it, paired by seed and clip, with a finished suite.

    parser = study_parser(__doc__, out="runs/demo_bf16")
    args = parser.parse_args()
    run_study(args, {"finetune.run.mixed_precision": "bf16"}, lambda: my_table(args))

The variant's runs are kept in ``--out``, so an interrupted study resumes where it stopped;
``--table`` only tabulates what is there. The comparison is printed as Markdown and written
to ``<out>/comparison.md``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

#: What a study's comparison is written to, inside its ``--out`` folder.
COMPARISON_FILE = "comparison.md"


def study_parser(
    doc: str,
    out: str,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    baseline_flag: str = "--baseline",
    baseline_help: str = "the finished suite to compare with",
) -> argparse.ArgumentParser:
    """The arguments every study takes: ``--data``, the finished suite to compare with
    (``args.baseline``, under ``baseline_flag``), ``--out``, ``--seeds`` and ``--table``.
    The description is the first paragraph of ``doc``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--data", default="data/sample", help="the sample dataset")
    parser.add_argument(
        baseline_flag,
        dest="baseline",
        metavar="SUITE",
        type=Path,
        required=True,
        help=baseline_help,
    )
    parser.add_argument("--out", type=Path, default=Path(out), help="the variant's suite")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(seeds))
    parser.add_argument("--table", action="store_true", help="only tabulate finished runs")
    return parser


def study_config(args: argparse.Namespace, overrides: Mapping[str, Any]):
    """The sample suite (``experiment_sample``) on ``args.data`` and ``args.seeds``, run into
    ``args.out``, with the study's ``overrides`` (dotted keys, as on the command line)."""
    from imrkit.config import load_config
    from imrkit.experiment.suite import ExperimentConfig

    base = {"data_root": args.data, "out_dir": str(args.out), "seeds": list(args.seeds)}
    return load_config(ExperimentConfig, "experiment_sample", {**base, **overrides})


def run_study(
    args: argparse.Namespace, overrides: Mapping[str, Any], compare: Callable[[], str]
) -> str:
    """Run the variant suite (unless ``args.table``), then ``compare()`` it with the
    baseline; the Markdown it returns is printed and written to ``<out>/comparison.md``."""
    if not args.table:
        from imrkit.experiment.suite import run_experiment

        run_experiment(study_config(args, overrides))
    table = compare()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / COMPARISON_FILE).write_text(table)
    print(table)
    return table
