"""The bf16 study (issue 21, part 2): bf16 autocast training against fp32, on a CPU with AMX.

On the 2-core Xeon with AVX-512 and AMX, ``imrkit bench train --mixed-precision bf16``
runs the finetuning step 1.47x and the PMSP+CTP step 1.38x faster than fp32 (BENCHMARKS.md).
The training steps are 93% of a suite's job time, so bf16 is the one lever left that could
bring ``make demo`` near its 15-minute target. It also changes every number a suite reports.
Pre-registered before the run: the demo suite at its budget and seeds 0-4, with
``mixed_precision = "bf16"`` for pretraining and finetuning (frozen evaluations stay fp32),
paired seed by seed and clip by clip against the same suite in fp32 (a finished suite, e.g.
``runs/demo``: runs are deterministic per configuration and seed on one machine). bf16 is
recommended in the README for CPUs with AMX if
(a) the training jobs take at least 1.25x less time in all, and
(b) no arm's finetuned top-1 moves (bf16 minus fp32: 95% interval includes 0), and the
demo's headline (pmsp+ctp minus scratch) keeps an interval above 0 under bf16.
The default stays fp32 either way: switching it would void the reuse of every earlier run.
So far (BENCHMARKS.md, sixth session): on a Zen 4 CPU without AMX the bare bf16 steps ran
0.70-0.77x as fast, and the amended study's gate stopped it there; it has not run on AMX.

    .venv/bin/python scripts/precision_study.py --baseline runs/demo --out runs/demo_bf16
    .venv/bin/python scripts/precision_study.py --baseline runs/demo --table   # tabulate only

The bf16 suite's runs are kept in ``--out`` (an interrupted study resumes); the comparison
is printed as Markdown and written to ``<out>/comparison.md``. Not a test.
"""

from __future__ import annotations

from imrkit.experiment.bootstrap import format_ci
from imrkit.experiment.report import variant_table
from imrkit.experiment.study import run_study, study_parser
from imrkit.experiment.suite import ExperimentResults

ARMS = ("scratch", "pmsp+ctp", "scratch/none")
JOB_KINDS = ("pretrain", "finetune", "frozen")


#: bf16 autocast for the training jobs of the demo suite (frozen evaluations stay fp32).
OVERRIDES = {
    "suite": "demo",
    "pretrain.run.mixed_precision": "bf16",
    "finetune.run.mixed_precision": "bf16",
}


def _arms_with(results: ExperimentResults, kind: str) -> list[str]:
    """The arms of ``results`` that ran ``kind`` jobs."""
    return [
        a for a, entry in results.arms.items() if kind == "frozen" or f"{kind}_seconds" in entry
    ]


def timing(bf16: ExperimentResults, fp32: ExperimentResults, seeds) -> str:
    """The jobs' own seconds per kind, summed over arms and seeds (a suite's wall time
    depends on how many of its runs an earlier call left, so the jobs are compared)."""
    lines = ["| jobs | fp32 (min) | bf16 (min) | fp32 / bf16 |", "|---|---:|---:|---:|"]
    totals = [0.0, 0.0]
    for kind in JOB_KINDS:
        arms = _arms_with(bf16, kind)  # the fp32 folder may hold more arms than the demo's
        times = [sum(sum(r.job_seconds(kind, a, seeds)) for a in arms) / 60 for r in (fp32, bf16)]
        totals = [t + k for t, k in zip(totals, times, strict=True)]
        lines.append(f"| {kind} | {times[0]:.1f} | {times[1]:.1f} | {times[0] / times[1]:.2f}x |")
    lines.append(f"| all | {totals[0]:.1f} | {totals[1]:.1f} | {totals[0] / totals[1]:.2f}x |")
    return "\n".join(lines) + "\n"


def compare(out, baseline, seeds) -> str:
    """bf16 minus fp32 per arm and metric, the headline under bf16, and the jobs' times."""
    bf16, fp32 = ExperimentResults.load(out), ExperimentResults.load(baseline)
    d = bf16.paired_difference("pmsp+ctp", bf16, "scratch", seeds=seeds)
    return (
        variant_table(bf16, fp32, ARMS, seeds, labels=("fp32", "bf16"))
        + "\npmsp+ctp minus scratch, finetuned top-1, under bf16: "
        + format_ci(d["mean"], d["low"], d["high"], signed=True)
        + f"\n\n{timing(bf16, fp32, seeds)}\nbf16 suite wall time "
        + f"{bf16.record['seconds'] / 60:.1f} min ({bf16.record['reused_runs']} runs reused)\n"
    )


def main() -> None:
    parser = study_parser(__doc__, out="runs/demo_bf16", baseline_help="the demo suite in fp32")
    args = parser.parse_args()
    run_study(args, OVERRIDES, lambda: compare(args.out, args.baseline, args.seeds))


if __name__ == "__main__":
    main()
