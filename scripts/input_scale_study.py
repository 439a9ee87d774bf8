"""The input-scale study (issue 21, part 1): unit-std motion and residuals against today's.

Motion is divided by ``transform.motion_scale`` (16 px) and residuals by ``residual_scale``
(255), so on the sample they reach the network at 3-5% of the I-frames' scale
(``imrkit bench inputs``: std 0.56 px and 12.5 levels). Pre-registered before the run: the
demo suite's two finetuned network arms, ``scratch`` and ``pmsp+ctp``, at the demo's budget
and seeds 0 and 1, with M and R divided by their measured std instead (``unit``), paired
seed by seed and clip by clip against the same arms at today's scales (a finished suite
holding them, e.g. ``runs/demo``: runs are deterministic per configuration and seed on one
machine). The unit scale becomes the default only if it is better in finetuned top-1 in
both arms with a paired 95% interval above 0; otherwise today's stays.

    .venv/bin/python scripts/input_scale_study.py --baseline runs/demo --out runs/input_scale
    .venv/bin/python scripts/input_scale_study.py --baseline runs/demo --table   # tabulate only

The unit-scale suite's runs are kept in ``--out`` (an interrupted study resumes); the
comparison is printed as a Markdown table and written to ``<out>/comparison.md``. Not a test.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from imrkit.experiment.report import variant_table
from imrkit.experiment.study import run_study, study_parser
from imrkit.experiment.suite import ExperimentResults

ARMS = ("scratch", "pmsp+ctp")


def unit_scale_overrides(args: argparse.Namespace) -> dict:
    scales = {"motion_scale": args.motion_std, "residual_scale": args.residual_std}
    return {
        "only": list(ARMS),
        **{
            f"{phase}.data.transform.{k}": v
            for phase in ("pretrain", "finetune")
            for k, v in scales.items()
        },
    }


def compare(unit_dir: Path, baseline_dir: Path, seeds) -> str:
    """Unit scale minus today's, per arm and metric, paired by seed and clip."""
    unit, baseline = ExperimentResults.load(unit_dir), ExperimentResults.load(baseline_dir)
    return variant_table(unit, baseline, ARMS, seeds, labels=("today's scales", "unit scale"))


def main() -> None:
    parser = study_parser(
        __doc__, out="runs/input_scale", seeds=(0, 1), baseline_help="a suite at today's scales"
    )
    parser.add_argument("--motion-std", type=float, default=0.56, help="px (bench inputs)")
    parser.add_argument("--residual-std", type=float, default=12.5, help="levels (bench inputs)")
    args = parser.parse_args()
    run_study(
        args, unit_scale_overrides(args), lambda: compare(args.out, args.baseline, args.seeds)
    )


if __name__ == "__main__":
    main()
