"""What an experiment suite measured, as a record, a table and a figure.

:func:`build_record` turns the per-run metrics of :func:`imrkit.train.run_experiment` into
the ``results.json`` record: for every arm its per-seed figures (``arms[NAME]``:
``finetune_top1``, ``linear_top1``, ``knn_top1``, ``R@k``, in %, lists over seeds), each
summarised as a mean with a confidence interval that resamples seeds and test-clip groups
together (:func:`imrkit.train.stats.grouped_accuracy_ci`); the paired comparisons the paper's
tables make (every pretext against scratch, full connections against each ablation); the
effective size of the test set; and the issue-9 targets with their verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from imrkit.bench.commands import machine_info
from imrkit.config import to_dict
from imrkit.train.stats import (
    clip_groups,
    effective_sample_size,
    format_ci,
    grouped_accuracy_ci,
    grouped_paired_difference,
)

#: Per-seed figures every arm reports, and the per-clip correctness each is computed from.
METRICS = {
    "finetune_top1": ("finetune", "test_correct"),
    "linear_top1": ("frozen", "linear_correct"),
    "knn_top1": ("frozen", "knn_correct"),
}
METRIC_NAMES = {
    "finetune_top1": "finetuned top-1",
    "linear_top1": "linear probe top-1",
    "knn_top1": "kNN top-1",
}


def _correct_matrix(
    measured: Mapping, arm: str, seeds, kind: str, key: str, reference: list[str]
) -> np.ndarray:
    """(seeds, clips) correctness of ``arm``, clips in the order of ``reference``."""
    rows = []
    for seed in seeds:
        run = measured[arm, seed, kind]
        where = dict(zip(run["test_paths"], run[key], strict=True))
        rows.append([where.get(path, 0) for path in reference])  # unreadable: counted wrong
    return np.asarray(rows, dtype=np.float64)


def _estimate(estimate) -> dict[str, float]:
    return {"mean": estimate.mean, "low": estimate.low, "high": estimate.high, "n": estimate.n}


def build_record(config, measured: Mapping, seconds: float) -> dict[str, Any]:
    """The ``results.json`` record of a suite (see the module docstring).

    Args:
        config: the :class:`~imrkit.train.experiment.ExperimentConfig`.
        measured: ``{(arm name, seed, "pretrain" | "finetune" | "frozen"): metrics}``.
        seconds: wall time of the call.
    """
    seeds = list(config.seeds)
    bootstrap = {"confidence": config.confidence, "resamples": config.bootstrap_resamples}
    first = measured[config.arms[0].name, seeds[0], "finetune"]
    paths = first["test_paths"]
    groups = clip_groups(paths)
    num_classes = _num_classes(measured)
    correct: dict[tuple[str, str], np.ndarray] = {}
    arms: dict[str, dict[str, Any]] = {}
    for arm in config.arms:
        entry: dict[str, Any] = {
            "pretext": arm.pretext or "none (scratch)",
            "connections": arm.connections,
            "table": arm.table,
            "seeds": seeds,
            "summary": {},
        }
        for metric, (kind, key) in METRICS.items():
            matrix = _correct_matrix(measured, arm.name, seeds, kind, key, paths)
            correct[arm.name, metric] = matrix
            entry[metric] = [float(100 * row.mean()) for row in matrix]
            entry["summary"][metric] = _estimate(grouped_accuracy_ci(matrix, groups, **bootstrap))
        for k in config.probe.recall_ks:
            entry[f"R@{k}"] = [
                float(100 * measured[arm.name, s, "frozen"]["recall"][str(k)]) for s in seeds
            ]
        entry["finetune_seconds"] = [measured[arm.name, s, "finetune"]["seconds"] for s in seeds]
        if arm.pretext:
            pretraining = [measured[arm.name, s, "pretrain"] for s in seeds]
            entry["pretrain_seconds"] = [p["seconds"] for p in pretraining]
            entry["pretrain_loss"] = [p.get("loss", float("nan")) for p in pretraining]
            if "ctp_heldout" in pretraining[0]:
                entry["ctp_heldout"] = [p["ctp_heldout"] for p in pretraining]
        arms[arm.name] = entry
    comparisons = _comparisons(config, correct, groups, bootstrap)
    pooled = np.concatenate(
        [m for (name, metric), m in correct.items() if metric == "finetune_top1"]
    )
    record = {
        "suite": config.suite,
        "chance": 100.0 / num_classes if num_classes else float("nan"),
        "num_classes": num_classes,
        "test": {
            "clips": len(paths),
            "groups": int(groups.max()) + 1 if len(groups) else 0,
            "effective_sample_size": effective_sample_size(pooled, groups),
        },
        "arms": arms,
        "comparisons": comparisons,
        "seconds": seconds,
        "config": to_dict(config),
        "machine": machine_info(),
    }
    record["targets"] = evaluate_targets(record)
    return record


def _num_classes(measured: Mapping) -> int:
    """The class count the frozen protocols saw (finetuning metrics do not record it)."""
    for (_, _, kind), metrics in measured.items():
        if kind == "frozen" and "num_classes" in metrics:
            return int(metrics["num_classes"])
    return 0


def _comparisons(config, correct, groups, bootstrap) -> list[dict[str, Any]]:
    """Every pretext arm minus scratch (same connections) on every metric; full connections
    minus each Table 1 ablation on finetuned top-1."""
    names = {arm.name: arm for arm in config.arms}
    pairs = []
    for arm in config.arms:
        if arm.pretext:
            baseline = "scratch" if arm.connections == "full" else f"scratch/{arm.connections}"
            if baseline in names:
                pairs += [(arm.name, baseline, metric) for metric in METRICS]
        elif arm.table == "1" and "scratch" in names:
            pairs.append(("scratch", arm.name, "finetune_top1"))
    comparisons = []
    for a, b, metric in pairs:
        difference = grouped_paired_difference(
            correct[a, metric], correct[b, metric], groups, **bootstrap
        )
        comparisons.append({"a": a, "b": b, "metric": metric, **_estimate(difference)})
    return comparisons


def _find(record, a: str, b: str, metric: str) -> dict | None:
    for comparison in record["comparisons"]:
        if (comparison["a"], comparison["b"], comparison["metric"]) == (a, b, metric):
            return comparison
    return None


def evaluate_targets(record: dict) -> list[dict[str, Any]]:
    """Issue 9's targets that the suite's arms can answer, each with its verdict."""
    targets = []
    gain = _find(record, "pmsp+ctp", "scratch", "finetune_top1")
    if gain:
        targets.append(
            {
                "target": "PMSP+CTP beats scratch finetuning by >= 5 points, 95% CI above 0",
                "measured": _signed(gain),
                "met": gain["mean"] >= 5 and gain["low"] > 0,
            }
        )
    probe = _find(record, "pmsp+ctp", "scratch", "linear_top1")
    if probe:
        targets.append(
            {
                "target": "linear probe: pretrained beats random init by >= 10 points",
                "measured": _signed(probe),
                "met": probe["mean"] >= 10,
            }
        )
    connections = _find(record, "scratch", "scratch/none", "finetune_top1")
    if connections:
        targets.append(
            {
                "target": "full connections beat none (finetuned top-1)",
                "measured": _signed(connections),
                "met": connections["mean"] > 0,
            }
        )
    for name in ("pmsp+ctp", "ctp"):
        heldout = record["arms"].get(name, {}).get("ctp_heldout")
        if heldout and len(heldout[0]["per_type"]) == 4:
            accuracy = float(np.mean([h["accuracy"] for h in heldout]))
            targets.append(
                {
                    "target": f"4-way CTP held-out accuracy >= 50% ({name} arm; chance 25%)",
                    "measured": f"{accuracy:.1f}",
                    "met": accuracy >= 50,
                }
            )
    return targets


# --------------------------------------------------------------------------- markdown


def _cell(summary: Mapping[str, float]) -> str:
    return format_ci(summary["mean"], summary["low"], summary["high"])


def _signed(difference: Mapping[str, float]) -> str:
    """``+2.5 [-6.2, +10.0]``: a paired difference, signs shown."""
    mean, low, high = (round(difference[k], 1) + 0.0 for k in ("mean", "low", "high"))
    return f"{mean:+.1f} [{low:+.1f}, {high:+.1f}]"


def format_markdown(record: dict) -> str:
    """``results.md``: setup, per-table results with CIs and chance, paired comparisons,
    held-out CTP accuracy, and the targets' verdicts."""
    config = record["config"]
    pretrain, finetune = config["pretrain"], config["finetune"]
    test = record["test"]
    minutes = record["seconds"] / 60
    pool = (
        str(Path(config["data_root"]) / config["unlabeled_root"])
        if config["unlabeled_root"]
        else "the training list"
    )
    chance = f"{record['chance']:.1f}"
    level = round(100 * config["confidence"])
    lines = [
        f"# imrkit experiment: suite `{record['suite']}`",
        "",
        f"Labelled data `{config['data_root']}` ({100 * config['labelled_fraction']:g}% of the "
        f"training list labelled, drawn per seed); pretraining pool `{pool}`. "
        f"Model `{pretrain['model']['name']}`, {finetune['data']['transform']['crop_size']}px "
        f"crops. Pretraining {pretrain['optim']['epochs']} epochs, finetuning "
        f"{finetune['optim']['epochs']} epochs, test {finetune['eval']['views']} crops. "
        f"Seeds {config['seeds']}. This call took {minutes:.1f} min.",
        "",
        f"Test set: {test['clips']} clips in {test['groups']} groups; effective sample size "
        f"{test['effective_sample_size']:.0f} clips. **Chance: {record['chance']:.1f}%.** "
        f"Cells: mean over seeds [{level}% CI, bootstrap over seeds and clip groups].",
    ]
    for table, title in (("3", "Table 3: pretext tasks"), ("1", "Table 1: connections (scratch)")):
        names = [
            n
            for n, arm in record["arms"].items()
            if arm["table"] == table or (table == "1" and n == "scratch")
        ]
        if table == "1" and len(names) < 2:
            continue
        recall = [k for k in next(iter(record["arms"].values())) if k.startswith("R@")]
        lines += [
            "",
            f"## {title}",
            "",
            "| arm | pretext | connections | finetuned top-1 | linear top-1 | kNN top-1 | "
            + " | ".join(recall)
            + " |",
            "|---|---|---|---|---|---|" + "---|" * len(recall),
        ]
        for name in names:
            arm = record["arms"][name]
            cells = [_cell(arm["summary"][m]) for m in METRICS]
            cells += [f"{np.mean(arm[k]):.1f}" for k in recall]
            lines.append(
                f"| {name} | {arm['pretext']} | {arm['connections']} | " + " | ".join(cells) + " |"
            )
        lines.append(f"| chance | | | {chance} | {chance} | {chance} |" + " |" * len(recall))
    if record["comparisons"]:
        lines += [
            "",
            f"## Paired differences (points; mean [{level}% CI])",
            "",
            "| A | minus B | metric | difference | per seed (A - B) |",
            "|---|---|---|---|---|",
        ]
        for c in record["comparisons"]:
            a, b = record["arms"][c["a"]][c["metric"]], record["arms"][c["b"]][c["metric"]]
            per_seed = ", ".join(f"{x - y:+.1f}" for x, y in zip(a, b, strict=True))
            lines.append(
                f"| {c['a']} | {c['b']} | {METRIC_NAMES[c['metric']]} | {_signed(c)} | {per_seed} |"
            )
    ctp_arms = {n: a["ctp_heldout"] for n, a in record["arms"].items() if "ctp_heldout" in a}
    if ctp_arms:
        lines += ["", "## Held-out CTP accuracy (%, mean over seeds)", ""]
        for name, heldout in ctp_arms.items():
            types = list(heldout[0]["per_type"])
            chance = 100 / len(types)
            per_type = ", ".join(
                f"{t} {np.mean([h['per_type'][t] for h in heldout]):.1f}" for t in types
            )
            overall = np.mean([h["accuracy"] for h in heldout])
            lines.append(f"- {name}: {overall:.1f} (chance {chance:.0f}); {per_type}")
    if record["targets"]:
        lines += ["", "## Targets (issue 9)", "", "| target | measured | met |", "|---|---|---|"]
        for target in record["targets"]:
            verdict = "yes" if target["met"] else "**no**"
            lines.append(f"| {target['target']} | {target['measured']} | {verdict} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- figure


def results_figure(record: dict):
    """Bars per arm (finetuned, linear, kNN top-1) with their confidence intervals, and the
    chance level as a dashed line: a matplotlib Figure (``results.png``)."""
    from matplotlib.figure import Figure

    names = list(record["arms"])
    width = 0.8 / len(METRICS)
    figure = Figure(figsize=(max(6.0, 1.2 * len(names) + 2), 4.0), layout="tight")
    axis = figure.add_subplot()
    for offset, metric in enumerate(METRICS):
        summaries = [record["arms"][n]["summary"][metric] for n in names]
        means = np.array([s["mean"] for s in summaries])
        errors = np.array([[s["mean"] - s["low"], s["high"] - s["mean"]] for s in summaries]).T
        x = np.arange(len(names)) + (offset - (len(METRICS) - 1) / 2) * width
        axis.bar(x, means, width, yerr=errors, capsize=3, label=METRIC_NAMES[metric])
    axis.axhline(record["chance"], color="black", linestyle="--", linewidth=1, label="chance")
    axis.set_xticks(np.arange(len(names)), names, rotation=30, ha="right")
    axis.set_ylabel("top-1 (%)")
    seeds = len(record["config"]["seeds"])
    level = round(100 * record["config"]["confidence"])
    axis.set_title(f"suite {record['suite']}: mean over {seeds} seeds, {level}% CI")
    axis.legend(fontsize="small")
    return figure


def save_figure(record: dict, path: str | Path) -> Path:
    """Write :func:`results_figure` to ``path`` (PNG)."""
    path = Path(path)
    results_figure(record).savefig(path, dpi=120)
    return path
