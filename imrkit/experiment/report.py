"""What an experiment suite measured, as a record, a table and a figure.

:func:`build_record` turns the per-run metrics of :func:`imrkit.train.run_experiment` into
the ``results.json`` record: for every arm its per-seed figures (``arms[NAME]``:
``finetune_top1``, ``linear_top1``, ``knn_top1``, ``R@k``, in %, lists over seeds), each
summarised as a mean with a confidence interval that resamples seeds and test-clip groups
together (:func:`imrkit.experiment.bootstrap.grouped_accuracy_ci`); the paired comparisons
the paper's tables make (every pretext against scratch, full connections against each
ablation), and where Table 1 ran pretrained too, whether pretraining changes what each
ablation costs (``interactions``); the effective size of the test set; and the issue-9
targets with their verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from imrkit.config import to_dict
from imrkit.data.splits import clip_groups
from imrkit.experiment.bootstrap import (
    effective_sample_size,
    format_ci,
    grouped_accuracy_ci,
    grouped_paired_difference,
)
from imrkit.machine import machine_info

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


def variant_table(variant, baseline, arms, seeds, labels=("baseline", "variant")) -> str:
    """A Markdown table of ``variant`` minus ``baseline`` (two finished suites,
    :class:`~imrkit.experiment.suite.ExperimentResults`, that ran the same ``arms`` on the
    same test clips and differ in one setting), per arm and metric: each suite's mean over
    ``seeds`` and the difference paired by seed and clip, as a study script reports it."""
    lines = [
        f"| arm | metric | {labels[0]} | {labels[1]} | {labels[1]} minus {labels[0]} (paired) "
        "| per seed |",
        "|---|---|---:|---:|---|---|",
    ]
    for arm in arms:
        for metric, name in METRIC_NAMES.items():
            d = variant.paired_difference(arm, baseline, metric=metric, seeds=seeds)
            means = [100 * r.per_clip(arm, metric, seeds)[0].mean() for r in (baseline, variant)]
            per_seed = ", ".join(f"{v:+.1f}" for v in d["per_seed"])
            interval = format_ci(d["mean"], d["low"], d["high"], signed=True)
            lines.append(
                f"| {arm} | {name} | {means[0]:.1f} | {means[1]:.1f} | {interval} | {per_seed} |"
            )
    return "\n".join(lines) + "\n"


def correct_matrix(runs, key: str, reference: list[str]) -> np.ndarray:
    """(runs, clips) per-clip correctness under ``key`` (``test_correct``, ...) of each run's
    metrics, clips in the order of ``reference``; a clip a run could not read counts wrong."""
    rows = []
    for run in runs:
        where = dict(zip(run["test_paths"], run[key], strict=True))
        rows.append([where.get(path, 0) for path in reference])
    return np.asarray(rows, dtype=np.float64)


def _estimate(estimate) -> dict[str, float]:
    return {"mean": estimate.mean, "low": estimate.low, "high": estimate.high, "n": estimate.n}


def build_record(config, measured: Mapping, seconds: float) -> dict[str, Any]:
    """The ``results.json`` record of a suite (see the module docstring).

    Args:
        config: the :class:`~imrkit.experiment.suite.ExperimentConfig`.
        measured: ``{(arm name, seed, "pretrain" | "finetune" | "frozen"): metrics}``.
        seconds: wall time of the call.
    """
    seeds = list(config.seeds)
    bootstrap = {"confidence": config.confidence, "resamples": config.bootstrap_resamples}
    paths = measured[config.arms[0].name, seeds[0], "frozen"]["test_paths"]
    groups = clip_groups(paths)
    num_classes = _num_classes(measured)
    correct: dict[tuple[str, str], np.ndarray] = {}
    arms: dict[str, dict[str, Any]] = {}
    for arm in config.arms:
        entry: dict[str, Any] = {
            "pretext": arm.pretext or ("none" if arm.handcrafted else "none (scratch)"),
            "connections": "" if arm.handcrafted else arm.connections,
            "table": arm.table,
            "handcrafted": arm.handcrafted,
            "seeds": seeds,
            "summary": {},
        }
        for metric, (kind, key) in METRICS.items():
            if (arm.name, seeds[0], kind) not in measured:
                continue  # a hand-crafted feature has nothing to finetune
            matrix = correct_matrix([measured[arm.name, s, kind] for s in seeds], key, paths)
            correct[arm.name, metric] = matrix
            entry[metric] = [float(100 * row.mean()) for row in matrix]
            entry["summary"][metric] = _estimate(grouped_accuracy_ci(matrix, groups, **bootstrap))
        frozen = [measured[arm.name, s, "frozen"] for s in seeds]
        for k in config.probe.recall_ks:
            entry[f"R@{k}"] = [float(100 * f["recall"][str(k)]) for f in frozen]
        if "raw" in frozen[0]:
            entry["raw"] = {
                "linear_top1": [f["raw"]["linear_top1"] for f in frozen],
                "knn_top1": [f["raw"]["knn_top1"] for f in frozen],
                **{
                    f"R@{k}": [100 * f["raw"]["recall"][str(k)] for f in frozen]
                    for k in config.probe.recall_ks
                },
            }
        if arm.finetunes:
            finetuning = [measured[arm.name, s, "finetune"] for s in seeds]
            entry["finetune_seconds"] = [f["seconds"] for f in finetuning]
            entry.update(_learning_curve("finetune", finetuning))
        if arm.pretext:
            pretraining = [measured[arm.name, s, "pretrain"] for s in seeds]
            entry["pretrain_seconds"] = [p["seconds"] for p in pretraining]
            entry["pretrain_loss"] = [p.get("loss", float("nan")) for p in pretraining]
            entry.update(_learning_curve("pretrain", pretraining))
            if "ctp_heldout" in pretraining[0]:
                entry["ctp_heldout"] = [p["ctp_heldout"] for p in pretraining]
                entry["ctp_at_chance"] = ctp_at_chance(entry["ctp_heldout"])
            if arm.pretext in classification_pretexts():
                entry["pretext_at_chance"] = loss_at_chance(arm.pretext, entry["pretrain_loss"])
        arms[arm.name] = entry
    comparisons = _comparisons(config, correct, groups, bootstrap)
    interactions = _interactions(config, correct, groups, bootstrap)
    pooled = np.concatenate(
        [m for (name, metric), m in correct.items() if metric == "finetune_top1"]
    )
    job_seconds = sum(m.get("seconds", 0.0) for m in measured.values())
    record = {
        "suite": config.suite,
        "job_seconds": job_seconds,
        "chance": 100.0 / num_classes if num_classes else float("nan"),
        "num_classes": num_classes,
        "test": {
            "clips": len(paths),
            "groups": int(groups.max()) + 1 if len(groups) else 0,
            "effective_sample_size": effective_sample_size(pooled, groups),
        },
        "arms": arms,
        "comparisons": comparisons,
        "interactions": interactions,
        "seconds": seconds,
        "config": to_dict(config),
        "machine": machine_info(),
    }
    record["targets"] = evaluate_targets(record)
    return record


#: a run's training loss counts as converged when its mean over the last
#: ``CONVERGENCE_EPOCHS`` epochs is within ``CONVERGENCE_TOLERANCE`` (relative) of the mean
#: over the epochs before those
CONVERGENCE_EPOCHS = 4
CONVERGENCE_TOLERANCE = 0.05


def converged(losses: list[float]) -> bool | None:
    """Whether an epoch-loss curve has flattened (None: too short to tell)."""
    n = CONVERGENCE_EPOCHS
    if len(losses) < 2 * n:
        return None
    last, before = np.mean(losses[-n:]), np.mean(losses[-2 * n : -n])
    return bool(abs(before - last) <= CONVERGENCE_TOLERANCE * abs(before))


def _learning_curve(kind: str, runs: list[Mapping]) -> dict[str, Any]:
    """Mean epoch-loss curve over seeds and whether each seed's curve has flattened."""
    curves = [r.get("epoch_loss", []) for r in runs]
    if not curves or not all(curves) or len({len(c) for c in curves}) != 1:
        return {}
    return {
        f"{kind}_loss_curve": [float(v) for v in np.mean(curves, axis=0)],
        f"{kind}_converged": [converged(c) for c in curves],
    }


def ctp_at_chance(heldout: list[Mapping], confidence: float = 0.95) -> dict[str, Any]:
    """Whether held-out CTP accuracy (pooled over seeds) is indistinguishable from chance:
    a Wilson interval over the held-out clips (each clip drawn ``passes`` times counts
    once, so the interval is conservative) that contains chance."""
    from statistics import NormalDist

    types = len(heldout[0]["per_type"])
    chance = 100.0 / types
    accuracy = float(np.mean([h["accuracy"] for h in heldout])) / 100
    clips = sum(h["clips"] for h in heldout) / 4  # evaluate_ctp draws every clip 4 times
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    centre = (accuracy + z * z / (2 * clips)) / (1 + z * z / clips)
    half = z * np.sqrt(accuracy * (1 - accuracy) / clips + z * z / (4 * clips**2))
    half /= 1 + z * z / clips
    low, high = 100 * (centre - half), 100 * (centre + half)
    return {
        "accuracy": 100 * accuracy,
        "low": float(low),
        "high": float(high),
        "chance": chance,
        "at_chance": bool(low <= chance),
    }


#: a final training loss within this fraction of ln K is a pretext learned at chance
CHANCE_LOSS_MARGIN = 0.02


def classification_pretexts() -> dict[str, int]:
    """Pretexts that are one K-way classification of a transform drawn uniformly, and their
    K (from the pretext classes): guessing scores a cross-entropy of ln K whatever the input."""
    from imrkit.pretext.baselines import ArrowOfTime, RotationPrediction

    return {task.prefix: task.num_classes for task in (RotationPrediction, ArrowOfTime)}


def loss_at_chance(pretext: str, losses: list[float]) -> dict[str, Any]:
    """Whether a classification pretext (:func:`classification_pretexts`) ended at chance:
    every seed's last-epoch mean training loss within 2% of ln K, the loss of guessing.

    A training loss, not a held-out accuracy: but a head that cannot beat guessing on its
    own training clips has not learned the task on any others either.
    """
    classes = classification_pretexts()[pretext]
    chance_loss = float(np.log(classes))
    return {
        "classes": classes,
        "chance_loss": chance_loss,
        "losses": [float(loss) for loss in losses],
        "at_chance": bool(all(loss >= (1 - CHANCE_LOSS_MARGIN) * chance_loss for loss in losses)),
    }


def learned_note(name: str, entry: Mapping) -> str:
    """What an arm learned, said next to its name: a CTP arm whose held-out CTP accuracy
    is at chance did not learn CTP (for PMSP+CTP: learned PMSP, no CTP; its CTP pass may
    still change the backbone, so it is not called PMSP alone, BENCHMARKS.md); a rotation or
    arrow-of-time arm whose training loss stayed at ln K (:func:`loss_at_chance`) learned
    nothing of its task."""
    guessing = entry.get("pretext_at_chance")
    if guessing and guessing["at_chance"]:
        loss = float(np.mean(guessing["losses"]))
        return (
            f"{entry['pretext']} at chance (loss {loss:.3f}, ln {guessing['classes']} = "
            f"{guessing['chance_loss']:.3f}): learned no {entry['pretext']}"
        )
    verdict = entry.get("ctp_at_chance")
    if not verdict or not verdict["at_chance"]:
        return ""
    if "pmsp" in entry["pretext"].split("+"):
        return "CTP at chance: learned PMSP, no CTP"
    return "CTP at chance: learned no CTP"


def _num_classes(measured: Mapping) -> int:
    """The class count the frozen protocols saw (finetuning metrics do not record it)."""
    for (_, _, kind), metrics in measured.items():
        if kind == "frozen" and "num_classes" in metrics:
            return int(metrics["num_classes"])
    return 0


def _comparisons(config, correct, groups, bootstrap) -> list[dict[str, Any]]:
    """Every pretext arm minus scratch (same connections) and a combined pretext minus each
    of its parts alone, on every metric; every network
    arm minus the best hand-crafted feature (by mean linear top-1) on the frozen metrics;
    full connections minus each Table 1 ablation, same initialisation, on finetuned top-1."""
    names = {arm.name: arm for arm in config.arms}
    handcrafted = [a.name for a in config.arms if a.handcrafted]
    best = max(handcrafted, key=lambda n: correct[n, "linear_top1"].mean(), default=None)
    pairs = []
    for arm in config.arms:
        if arm.pretext:
            baseline = "scratch" if arm.connections == "full" else f"scratch/{arm.connections}"
            if baseline in names:
                pairs += [(arm.name, baseline, metric) for metric in METRICS]
        # A combined pretext against each of its parts alone: what the other part adds.
        for part in arm.pretext.split("+") if "+" in arm.pretext else ():
            alone = next(
                (
                    a.name
                    for a in config.arms
                    if (a.pretext, a.connections) == (part, arm.connections)
                ),
                None,
            )
            if alone:
                pairs += [(arm.name, alone, metric) for metric in METRICS]
        if arm.table == "1" and full_connections(arm.name) in names:
            pairs.append((full_connections(arm.name), arm.name, "finetune_top1"))
        if best and not arm.handcrafted and (arm.pretext or arm.name == "scratch"):
            pairs += [(arm.name, best, m) for m in ("linear_top1", "knn_top1")]
    comparisons = []
    for a, b, metric in pairs:
        difference = grouped_paired_difference(
            correct[a, metric], correct[b, metric], groups, **bootstrap
        )
        comparisons.append({"a": a, "b": b, "metric": metric, **_estimate(difference)})
    return comparisons


def _interactions(config, correct, groups, bootstrap) -> list[dict[str, Any]]:
    """Whether pretraining changes what the connections are worth: for each pretrained
    Table 1 ablation (``pmsp+ctp/none``), full minus it pretrained, minus full minus its
    from-scratch twin (``scratch`` minus ``scratch/none``), on finetuned top-1, paired by
    seed and clip (a difference of differences; one bootstrap over all four arms)."""
    names = {arm.name for arm in config.arms}
    metric = "finetune_top1"
    interactions = []
    for arm in config.arms:
        twin = f"scratch/{arm.connections}"
        full, scratch_full = full_connections(arm.name), full_connections(twin)
        if arm.table != "1" or not arm.pretext or not {full, twin, scratch_full} <= names:
            continue
        pretrained = correct[full, metric] - correct[arm.name, metric]
        scratch = correct[scratch_full, metric] - correct[twin, metric]
        difference = grouped_paired_difference(pretrained, scratch, groups, **bootstrap)
        interactions.append(
            {
                "arm": arm.name,
                "twin": twin,
                "metric": metric,
                **_estimate(difference),
                "per_seed": [float(100 * d) for d in (pretrained - scratch).mean(axis=1)],
            }
        )
    return interactions


def interaction_labels(interaction: Mapping) -> tuple[str, str]:
    """The two differences an interaction compares, as the report names them:
    ``pmsp+ctp - pmsp+ctp/none`` and ``scratch - scratch/none``."""
    arm, twin = interaction["arm"], interaction["twin"]
    return f"{full_connections(arm)} - {arm}", f"{full_connections(twin)} - {twin}"


def full_connections(name: str) -> str:
    """The full-connection arm a Table 1 arm is compared with: ``scratch/none`` ->
    ``scratch``, ``pmsp+ctp/none`` -> ``pmsp+ctp`` (the same initialisation)."""
    return name.split("/")[0]


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
    return format_ci(difference["mean"], difference["low"], difference["high"], signed=True)


def _table_arms(record: dict, table: str) -> list[str]:
    """Arms of a paper table; Table 1 includes the full-connection arm of each of its
    initialisations (``scratch``, and ``pmsp+ctp`` when pretrained modes ran), each
    before its ablations."""
    arms = record["arms"]
    if table != "1":
        return [n for n, arm in arms.items() if arm["table"] == table]
    ablations = [n for n, arm in arms.items() if arm["table"] == "1"]
    names = []
    for name in ablations:
        full = full_connections(name)
        if full in arms and full not in names:
            names.append(full)
        names.append(name)
    return names


def _any_pretrained(record: dict, names: list[str]) -> bool:
    """Whether any of these (Table 1) arms was pretrained, not trained from scratch."""
    return any(record["arms"][n]["pretext"] != "none (scratch)" for n in names)


def _difference(record: dict, a: str, b: str, metric: str) -> str:
    found = _find(record, a, b, metric)
    return _signed(found) if found else ""


def _setup_lines(record: dict) -> list[str]:
    config = record["config"]
    pretrain, finetune = config["pretrain"], config["finetune"]
    test = record["test"]
    pool = (
        str(Path(config["data_root"]) / config["unlabeled_root"])
        if config["unlabeled_root"]
        else "the training list"
    )
    level = round(100 * config["confidence"])
    recalibrated = config["probe"].get("recalibrate_clips", 0)
    return [
        f"# imrkit experiment: suite `{record['suite']}`",
        "",
        f"Labelled data `{config['data_root']}` ({100 * config['labelled_fraction']:g}% of the "
        f"training list labelled, drawn per seed); pretraining pool `{pool}`. "
        f"Model `{pretrain['model']['name']}`, {finetune['data']['transform']['crop_size']}px "
        f"crops. Pretraining {pretrain['optim']['epochs']} epochs, finetuning "
        f"{finetune['optim']['epochs']} epochs for every arm, test "
        f"{finetune['eval']['views']} crops. Seeds {config['seeds']}.",
        "",
        "Protocol: frozen features are measured by a linear probe, kNN and retrieval, all on "
        "features standardised with the labelled training clips' statistics; a randomly "
        f"initialised network has its batch-norm statistics recalibrated on {recalibrated} "
        "pool clips first (no labels, no weight update). A finetuning run counts as "
        f"converged when its mean training loss over the last {CONVERGENCE_EPOCHS} epochs is "
        f"within {100 * CONVERGENCE_TOLERANCE:g}% of the {CONVERGENCE_EPOCHS} before.",
        "",
        f"Test set: {test['clips']} clips in {test['groups']} groups; effective sample size "
        f"{test['effective_sample_size']:.0f} clips. **Chance: {record['chance']:.1f}%.** "
        f"Cells: mean over seeds [{level}% CI, bootstrap over seeds and clip groups]. "
        f"Wall time {record['seconds'] / 60:.1f} min{_reused_note(record)}; the jobs' own "
        f"times add up to {record.get('job_seconds', 0) / 60:.1f} min.",
    ]


def _reused_note(record: Mapping) -> str:
    """Why a wall time can be far below the jobs' times: runs finished by an earlier call."""
    reused = record.get("reused_runs", 0)
    if not reused:
        return ""
    return f" ({reused} of {record['runs']} runs reused from an earlier call)"


def _converged_cell(arm: Mapping) -> str:
    flags = arm.get("finetune_converged")
    if not flags or any(f is None for f in flags):
        return ""
    return f"{sum(flags)}/{len(flags)}"


def _table3_lines(record: dict) -> list[str]:
    from imrkit.experiment.paper import UCF101_TOP1

    recall = [k for k in next(iter(record["arms"].values())) if k.startswith("R@")][:1]
    chance = f"{record['chance']:.1f}"
    lines = [
        "",
        "## Table 3: pretext tasks and hand-crafted baselines",
        "",
        "| arm | what it learned | finetuned top-1 | paper (UCF-101) | vs scratch | "
        "linear top-1 | kNN top-1 | " + " | ".join(recall) + " | converged |",
        "|---|---|---|---|---|---|---|" + "---|" * len(recall) + "---|",
    ]
    for name in _table_arms(record, "3"):
        arm = record["arms"][name]
        summary = arm["summary"]
        if arm["handcrafted"]:
            learned = "nothing: hand-crafted"
        elif arm["pretext"].startswith("none"):
            learned = "nothing: random init"
        else:
            learned = learned_note(name, arm) or arm["pretext"]
        cells = [
            name,
            learned,
            _cell(summary["finetune_top1"]) if "finetune_top1" in summary else "n/a",
            f"{UCF101_TOP1[name]:.1f}" if name in UCF101_TOP1 else "",
            _difference(record, name, "scratch", "finetune_top1"),
            _cell(summary["linear_top1"]),
            _cell(summary["knn_top1"]),
            *(f"{np.mean(arm[k]):.1f}" for k in recall),
            _converged_cell(arm),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"| chance | | {chance} | | | {chance} | {chance} |" + " |" * (len(recall) + 1))
    raw = record["arms"].get("scratch", {}).get("raw")
    if raw:
        arm = record["arms"]["scratch"]
        first = [k for k in raw if k.startswith("R@")][:1]
        lines += [
            "",
            "Random initialisation, frozen (mean over seeds): as initialised (batch norm at "
            f"mean 0, variance 1) linear {np.mean(raw['linear_top1']):.1f}, kNN "
            f"{np.mean(raw['knn_top1']):.1f}"
            + "".join(f", {k} {np.mean(raw[k]):.1f}" for k in first)
            + f"; with recalibrated statistics (used above) linear "
            f"{np.mean(arm['linear_top1']):.1f}, kNN {np.mean(arm['knn_top1']):.1f}"
            + "".join(f", {k} {np.mean(arm[k]):.1f}" for k in first)
            + ".",
        ]
    return lines


def _table1_lines(record: dict) -> list[str]:
    from imrkit.experiment.paper import UCF101_TOP1

    names = _table_arms(record, "1")
    if len(names) < 2:
        return []
    pretrained = _any_pretrained(record, names)
    extra = ["pretrained minus scratch", "pretraining's change to full minus this"]
    extra = extra if pretrained else []
    interactions = {i["arm"]: i for i in record.get("interactions", [])}
    lines = [
        "",
        f"## Table 1: connections (from scratch{' and pretrained' if pretrained else ''})",
        "",
        "| arm | connections | finetuned top-1 | paper (UCF-101) | full minus this | "
        + "".join(f"{e} | " for e in extra)
        + "linear top-1 | converged |",
        "|---|---|---|---|---|" + "---|" * len(extra) + "---|---|",
    ]
    for name in names:
        arm = record["arms"][name]
        scratch = name.replace(full_connections(name), "scratch", 1)
        cells = [
            name,
            arm["connections"],
            _cell(arm["summary"]["finetune_top1"]),
            f"{UCF101_TOP1[name]:.1f}" if name in UCF101_TOP1 else "",
            _difference(record, full_connections(name), name, "finetune_top1"),
            *(
                [
                    _difference(record, name, scratch, "finetune_top1"),
                    _signed(interactions[name]) if name in interactions else "",
                ]
                if pretrained
                else []
            ),
            _cell(arm["summary"]["linear_top1"]),
            _converged_cell(arm),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _comparison_lines(record: dict) -> list[str]:
    level = round(100 * record["config"]["confidence"])
    lines = [
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
    for i in record.get("interactions", []):
        a, b = interaction_labels(i)
        per_seed = ", ".join(f"{d:+.1f}" for d in i["per_seed"])
        lines.append(f"| {a} | {b} | {METRIC_NAMES[i['metric']]} | {_signed(i)} | {per_seed} |")
    return lines


def _ctp_lines(record: dict) -> list[str]:
    ctp_arms = {n: a for n, a in record["arms"].items() if "ctp_heldout" in a}
    if not ctp_arms:
        return []
    lines = ["", "## Held-out CTP accuracy (%, mean over seeds)", ""]
    for name, arm in ctp_arms.items():
        heldout = arm["ctp_heldout"]
        types = list(heldout[0]["per_type"])
        per_type = ", ".join(
            f"{t} {np.mean([h['per_type'][t] for h in heldout]):.1f}" for t in types
        )
        verdict = arm["ctp_at_chance"]
        said = "**at chance**" if verdict["at_chance"] else "above chance"
        lines.append(
            f"- {name}: {verdict['accuracy']:.1f} [{verdict['low']:.1f}, {verdict['high']:.1f}] "
            f"(chance {verdict['chance']:.0f}: {said}); {per_type}"
        )
    return lines


def format_markdown(record: dict) -> str:
    """``results.md``: setup and protocol, Table 3 (pretexts and hand-crafted baselines)
    and Table 1 (connections) with CIs, chance and the paper's figures, paired comparisons,
    held-out CTP accuracy with its verdict, and the targets."""
    lines = _setup_lines(record) + _table3_lines(record) + _table1_lines(record)
    if record["comparisons"]:
        lines += _comparison_lines(record)
    lines += _ctp_lines(record)
    if record["targets"]:
        lines += ["", "## Targets (issue 9)", "", "| target | measured | met |", "|---|---|---|"]
        for target in record["targets"]:
            verdict = "yes" if target["met"] else "**no**"
            lines.append(f"| {target['target']} | {target['measured']} | {verdict} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- figure


def _bars(axis, record: dict, names: list[str], metrics: list[str], paper: Mapping) -> None:
    width = 0.8 / len(metrics)
    for offset, metric in enumerate(metrics):
        x = np.arange(len(names)) + (offset - (len(metrics) - 1) / 2) * width
        summaries = [record["arms"][n]["summary"].get(metric) for n in names]
        means = np.array([s["mean"] if s else np.nan for s in summaries])
        errors = np.array(
            [[s["mean"] - s["low"], s["high"] - s["mean"]] if s else [0, 0] for s in summaries]
        ).T
        axis.bar(x, means, width, yerr=errors, capsize=3, label=METRIC_NAMES[metric])
    marked = [(i, paper[n]) for i, n in enumerate(names) if n in paper]
    if marked:
        axis.scatter(
            [i for i, _ in marked],
            [v for _, v in marked],
            marker="_",
            s=300,
            color="black",
            zorder=3,
            label="paper, UCF-101 top-1",
        )
    axis.axhline(record["chance"], color="grey", linestyle="--", linewidth=1, label="chance")
    axis.set_xticks(np.arange(len(names)), names, rotation=30, ha="right")
    axis.set_ylabel("top-1 (%)")
    axis.legend(fontsize="x-small")


def results_figure(record: dict):
    """``results.png``: one panel per paper table (bars with their confidence intervals,
    the paper's UCF-101 figure as a black tick, chance dashed) and the finetuning learning
    curves (mean training loss per epoch and arm): a matplotlib Figure."""
    from matplotlib.figure import Figure

    from imrkit.experiment.paper import UCF101_TOP1

    table3, table1 = _table_arms(record, "3"), _table_arms(record, "1")
    panels = 2 + (len(table1) >= 2)
    figure = Figure(figsize=(6.0 * panels, 4.6), layout="constrained")
    axes = figure.subplots(1, panels)
    _bars(axes[0], record, table3, list(METRICS), UCF101_TOP1)
    axes[0].set_title("Table 3: pretexts and hand-crafted features")
    if panels == 3:
        _bars(axes[1], record, table1, ["finetune_top1", "linear_top1"], UCF101_TOP1)
        pretrained = _any_pretrained(record, table1)
        axes[1].set_title(f"Table 1: connections, from scratch{' and pretrained' * pretrained}")
    curves = axes[-1]
    for name, arm in record["arms"].items():
        if "finetune_loss_curve" in arm:
            curve = arm["finetune_loss_curve"]
            curves.plot(np.arange(1, len(curve) + 1), curve, label=name)
    curves.set_xlabel("finetuning epoch")
    curves.set_ylabel("training loss (mean over seeds)")
    curves.set_title("finetuning learning curves")
    curves.legend(fontsize="x-small")
    seeds = len(record["config"]["seeds"])
    level = round(100 * record["config"]["confidence"])
    figure.suptitle(f"suite {record['suite']}: mean over {seeds} seeds, {level}% CI")
    return figure


def save_figure(record: dict, path: str | Path) -> Path:
    """Write :func:`results_figure` to ``path`` (PNG)."""
    path = Path(path)
    results_figure(record).savefig(path, dpi=120)
    return path
