"""The CTP-weight-0 control (issue 21): why PMSP+CTP beats PMSP alone with CTP at chance.

At 5 seeds PMSP+CTP finetunes +4.7 [+0.3, +9.5] points above PMSP alone, while its CTP head
stays at ln 4 in training and at chance on held-out clips. The control is PMSP+CTP with
``pretext.ctp_weight = 0``: the same two backbone passes, the same CTP transforms, no CTP
gradient, so it differs from PMSP alone only by the second pass's train-mode batch-norm
statistics. Pre-registered in BENCHMARKS.md before the run:

- control = PMSP+CTP (interval includes 0) and control > PMSP: the second pass, not CTP's
  gradient, made the difference;
- control = PMSP: the CTP gradient, at chance as it is, is what helps;
- anything else: inconclusive.

    .venv/bin/python scripts/ctp_weight_control.py --paper runs/paper --out runs/ctp_weight0
    .venv/bin/python scripts/ctp_weight_control.py --paper runs/paper --table   # tabulate only

``--paper`` is a finished ``paper`` suite holding ``pmsp`` and ``pmsp+ctp`` at the same
seeds. Copy its ``finetune_scratch_seed*`` and ``frozen_scratch_seed*`` folders into
``<out>/runs`` first to reuse them (the control's suite has a scratch arm, unchanged by the
weight). The table is printed and written to ``<out>/comparison.md``. Not a test.
"""

from __future__ import annotations

from pathlib import Path

from imrkit.experiment.bootstrap import format_ci
from imrkit.experiment.report import METRIC_NAMES
from imrkit.experiment.study import run_study, study_parser
from imrkit.experiment.suite import ExperimentResults

ARM = "pmsp+ctp"
#: The control: PMSP+CTP with no CTP gradient, beside scratch, at the demo's budget.
OVERRIDES = {"suite": "demo", "only": ["scratch", ARM], "pretrain.pretext.ctp_weight": 0.0}


def compare(control_dir: Path, paper_dir: Path, seeds) -> str:
    """The control against PMSP alone and against PMSP+CTP, paired by seed and clip."""
    control, paper = ExperimentResults.load(control_dir), ExperimentResults.load(paper_dir)
    lines = [
        "| control (ctp_weight 0) minus | metric | difference (paired) | per seed |",
        "|---|---|---|---|",
    ]
    for other in ("pmsp", ARM):
        for metric, name in METRIC_NAMES.items():
            d = control.paired_difference(ARM, paper, other, metric=metric, seeds=seeds)
            per_seed = ", ".join(f"{v:+.1f}" for v in d["per_seed"])
            interval = format_ci(d["mean"], d["low"], d["high"], signed=True)
            lines.append(f"| {other} | {name} | {interval} | {per_seed} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = study_parser(
        __doc__, out="runs/ctp_weight0", baseline_flag="--paper", baseline_help="a paper suite"
    )
    args = parser.parse_args()
    run_study(args, OVERRIDES, lambda: compare(args.out, args.baseline, args.seeds))


if __name__ == "__main__":
    main()
