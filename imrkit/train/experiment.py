"""The embedded experiment: does PMSP+CTP pretraining beat training from scratch?

On the sample data (or any UCF-101-style folder), :func:`run_experiment`:

1. pretrains the network with the pretext task on the training videos, labels ignored;
2. for every seed, finetunes it on a small labelled fraction of the training list, and
   trains the same network from scratch with the same budget (same seed, same labelled
   clips, same schedule): a paired comparison;
3. repeats both arms with the ``ablation`` connection mode (SPEC Table 1; ``none`` = late
   fusion) to see what the dynamic connections bring;
4. measures nearest-neighbour retrieval (paper Appendix D) with the pretrained backbone and
   with its random initialisation, no labels involved;

and writes ``results.json`` and ``results.md`` (mean and spread over seeds) into
``out_dir``. Each run lives in its own folder under ``out_dir/runs``; a finished run whose
configuration is unchanged is reused when the experiment is run again.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imrkit.config import to_dict
from imrkit.data.dataset import DatasetConfig
from imrkit.train.config import (
    EvalConfig,
    FinetuneConfig,
    ModelConfig,
    OptimConfig,
    PretextConfig,
    PretrainConfig,
    RunConfig,
)
from imrkit.train.summary import RunSummary
from imrkit.transforms import TransformConfig

SUMMARY_FILE = "summary.json"


def _sample_data() -> DatasetConfig:
    # The sample's 160x128 frames scaled to 80x64 and cropped to 64x64 (motion stays
    # legible, compute fits two CPU cores); decoded videos cached in memory (~1 GB).
    return DatasetConfig(
        format="ucf101",
        num_workers=0,
        cache=True,
        transform=TransformConfig(crop_size=64, short_side=64, scales=(1.0, 0.9, 0.8)),
    )


def _sample_run() -> RunConfig:
    # One torch thread per run, runs in parallel (parallel_runs): small tensors gain little
    # from intra-op threads, and two processes' OpenMP threads spinning against each other
    # on two cores are many times slower than either alone.
    return RunConfig(checkpoint_every=0, keep_checkpoints=1, log_every=5, progress=False, threads=1)


@dataclass
class ExperimentConfig:
    """The experiment's arms and budget; ``pretrain``/``finetune`` are run templates.

    Attributes:
        data_root: the dataset (UCF-101 layout; the sample data by default).
        out_dir: where runs, results.json and results.md go.
        seeds: finetuning seeds (each gives one pretrained and one scratch run).
        labelled_fraction: share of the training list finetuning sees (class-stratified;
            the subset changes with the seed, identically for both arms).
        ablation: connection mode of the ablation arms (``none``: late fusion); empty
            skips them.
        ablation_seeds: how many of ``seeds`` the ablation arms use.
        retrieval: measure retrieval with the pretrained and the random backbone.
        parallel_runs: runs at once, each in its own process (the pretraining runs of the
            arms together, then every finetuning run); 1 runs them one after the other in
            this process.
        pretrain: template of the pretraining run (data root, out_dir, seed are set here).
        finetune: template of every finetuning run.
    """

    data_root: str = "data/sample"
    out_dir: str = "runs/experiment"
    seeds: tuple[int, ...] = (0, 1, 2)
    labelled_fraction: float = 0.25
    ablation: str = "none"
    ablation_seeds: int = 3
    retrieval: bool = True
    parallel_runs: int = 2
    pretrain: PretrainConfig = field(
        default_factory=lambda: PretrainConfig(
            model=ModelConfig(name="imrnet_tiny"),
            pretext=PretextConfig(name="pmsp+ctp", hidden_dim=128),
            data=_sample_data(),
            optim=OptimConfig(epochs=20, warmup_epochs=2.0, batch_size=16, lr=0.01),
            run=_sample_run(),
        )
    )
    finetune: FinetuneConfig = field(
        default_factory=lambda: FinetuneConfig(
            model=ModelConfig(name="imrnet_tiny", dropout=0.3),
            data=_sample_data(),
            optim=OptimConfig(epochs=60, warmup_epochs=6.0, batch_size=8, lr=0.01),
            eval=EvalConfig(every_epochs=0, views=3, batch_size=16),
            run=_sample_run(),
        )
    )


@dataclass
class ExperimentResults:
    """What :func:`run_experiment` measured (also in ``results.json``)."""

    out_dir: Path
    arms: dict[str, dict[str, Any]]
    retrieval: dict[str, dict[str, float]]
    pretraining: dict[str, dict[str, float]]
    seconds: float
    markdown: str


def _run_once(kind: str, config, out_dir: Path) -> RunSummary:
    """Run ``config`` unless ``out_dir`` already holds a finished run of the same config."""
    from imrkit.train.finetune import finetune
    from imrkit.train.pretrain import pretrain

    summary_path = out_dir / SUMMARY_FILE
    config.run.out_dir = str(out_dir)
    if summary_path.is_file():
        saved = json.loads(summary_path.read_text())
        if saved.get("config") == to_dict(config):
            return RunSummary.of(out_dir, saved["metrics"])
    shutil.rmtree(out_dir, ignore_errors=True)
    started = time.perf_counter()
    summary = (pretrain if kind == "pretrain" else finetune)(config)
    summary.metrics["seconds"] = time.perf_counter() - started
    summary_path.write_text(
        json.dumps({"config": to_dict(config), "metrics": summary.metrics}, indent=2) + "\n"
    )
    return summary


def _pretrain_config(config: ExperimentConfig, connections: str) -> PretrainConfig:
    run = dataclasses.replace(config.pretrain)
    run.model = dataclasses.replace(run.model, connections=connections)
    run.data = dataclasses.replace(run.data, root=config.data_root)
    run.run = dataclasses.replace(run.run)
    return run


def _finetune_config(
    config: ExperimentConfig, connections: str, seed: int, pretrained: Path | None
) -> FinetuneConfig:
    run = dataclasses.replace(config.finetune)
    run.model = dataclasses.replace(run.model, connections=connections)
    run.data = dataclasses.replace(
        run.data,
        root=config.data_root,
        labelled_fraction=config.labelled_fraction,
        fraction_seed=seed,
    )
    run.run = dataclasses.replace(run.run, seed=seed)
    run.pretrained = str(pretrained) if pretrained else ""
    return run


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def _retrieval(config: ExperimentConfig, model_dir: Path, connections: str) -> dict:
    """R@k of the pretrained backbone and of the same network at random initialisation."""
    import torch

    from imrkit.models import build_model, load_model
    from imrkit.train.retrieval import retrieve

    data = dataclasses.replace(config.finetune.data, root=config.data_root)
    if config.finetune.run.threads:
        torch.set_num_threads(config.finetune.run.threads)
    torch.manual_seed(config.pretrain.run.seed)
    random_init = build_model(config.pretrain.model.name, None, connections=connections)
    results = {}
    for name, model in (("pretrained", load_model(model_dir)), ("random init", random_init)):
        recall = retrieve(model, data, ks=(1, 5, 10), device="cpu").recall
        results[name] = {f"R@{k}": v for k, v in recall.items()}
    return results


def _run_all(jobs: list[tuple[str, Any, Path]], parallel: int) -> list[RunSummary]:
    """Run ``(kind, config, out_dir)`` jobs, ``parallel`` at a time in worker processes."""
    if parallel <= 1 or len(jobs) <= 1:
        return [_run_once(*job) for job in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Spawned, not forked: a fresh interpreter per worker, no inherited torch/OpenMP state.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(parallel, len(jobs)), mp_context=context) as pool:
        return list(pool.map(_run_once, *zip(*jobs, strict=True)))


def run_experiment(config: ExperimentConfig) -> ExperimentResults:
    """Run every arm (see the module docstring); returns and writes the results."""
    started = time.perf_counter()
    out = Path(config.out_dir)
    runs = out / "runs"
    modes = ["full"] + ([config.ablation] if config.ablation else [])
    connections = {
        mode: config.pretrain.model.connections if mode == "full" else mode for mode in modes
    }
    pretrained = dict(
        zip(
            modes,
            _run_all(
                [
                    (
                        "pretrain",
                        _pretrain_config(config, connections[mode]),
                        runs / f"pretrain_{mode}",
                    )
                    for mode in modes
                ],
                config.parallel_runs,
            ),
            strict=True,
        )
    )
    pretraining = {
        mode: {k: v for k, v in summary.metrics.items() if k in ("loss", "seconds", "step")}
        for mode, summary in pretrained.items()
    }
    jobs, keys = [], []
    for mode in modes:
        seeds = config.seeds if mode == "full" else config.seeds[: config.ablation_seeds]
        for arm, source in (("pretrained", pretrained[mode].model_dir), ("scratch", None)):
            for seed in seeds:
                keys.append((mode, arm, seed, source is not None))
                jobs.append(
                    (
                        "finetune",
                        _finetune_config(config, connections[mode], seed, source),
                        runs / f"finetune_{mode}_{arm}_seed{seed}",
                    )
                )
    arms: dict[str, dict[str, Any]] = {}
    for (mode, arm, seed, from_pretrained), summary in zip(
        keys, _run_all(jobs, config.parallel_runs), strict=True
    ):
        entry = arms.setdefault(
            f"{mode} / {arm}",
            {"connections": connections[mode], "pretrained": from_pretrained, "runs": []},
        )
        entry["runs"].append({"seed": seed, **summary.metrics})
    for entry in arms.values():
        entry["top1"] = _spread([r["test_top1"] for r in entry["runs"]])
        entry["top5"] = _spread([r["test_top5"] for r in entry["runs"]])
    retrieval: dict[str, dict[str, float]] = {}
    if config.retrieval:
        retrieval = _retrieval(config, pretrained["full"].model_dir, connections["full"])
    results = ExperimentResults(
        out, arms, retrieval, pretraining, time.perf_counter() - started, ""
    )
    results.markdown = format_markdown(config, results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(results.markdown)
    (out / "results.json").write_text(
        json.dumps(
            {
                "config": to_dict(config),
                "arms": arms,
                "retrieval": retrieval,
                "pretraining": pretraining,
                "seconds": results.seconds,
                "machine": _machine(),
            },
            indent=2,
        )
        + "\n"
    )
    return results


def _machine() -> dict:
    from imrkit.bench.commands import machine_info

    return machine_info()


def _run_minutes(results: ExperimentResults) -> float:
    """Minutes the runs took when they ran, summed (reused runs keep their first time)."""
    seconds = sum(p.get("seconds", 0.0) for p in results.pretraining.values())
    seconds += sum(r.get("seconds", 0.0) for arm in results.arms.values() for r in arm["runs"])
    return seconds / 60


def format_markdown(config: ExperimentConfig, results: ExperimentResults) -> str:
    """The results table: test top-1/top-5 (3 crops) per arm, mean +- std over seeds."""
    finetune, pretrain = config.finetune, config.pretrain
    lines = [
        "# imrkit experiment: pretraining vs scratch",
        "",
        f"Data: `{config.data_root}`, {config.labelled_fraction:g} of the training list "
        f"labelled; model `{pretrain.model.name}`, {finetune.data.transform.crop_size}px "
        f"crops, {finetune.data.num_gops} GOPs. Pretext `{pretrain.pretext.name}` "
        f"{pretrain.optim.epochs} epochs on the unlabeled training videos; finetuning "
        f"{finetune.optim.epochs} epochs; test = {finetune.eval.views} crops, averaged "
        f"softmax. Seeds: {list(config.seeds)}. The runs took {_run_minutes(results):.1f} "
        f"min ({config.parallel_runs} at a time); this call took {results.seconds / 60:.1f} "
        "min (runs finished earlier with the same configuration are reused).",
        "",
        "| arm | connections | test top-1 (%) | test top-5 (%) | per seed top-1 (%) |",
        "|---|---|---|---|---|",
    ]
    for name, arm in results.arms.items():
        top1, top5 = arm["top1"], arm["top5"]
        seeds = ", ".join(f"{100 * r['test_top1']:.1f}" for r in arm["runs"])
        lines.append(
            f"| {name.split(' / ')[1]} | {arm['connections']} | "
            f"{100 * top1['mean']:.1f} +- {100 * top1['std']:.1f} | "
            f"{100 * top5['mean']:.1f} +- {100 * top5['std']:.1f} | {seeds} |"
        )
    for mode in results.pretraining:
        pre = results.arms.get(f"{mode} / pretrained")
        scratch = results.arms.get(f"{mode} / scratch")
        if pre and scratch:
            gains = [
                a["test_top1"] - b["test_top1"]
                for a, b in zip(pre["runs"], scratch["runs"], strict=True)
            ]
            gain = _spread(gains)
            lines.append("")
            lines.append(
                f"Paired gain of pretraining ({mode} connections): "
                f"{100 * gain['mean']:+.1f} +- {100 * gain['std']:.1f} points top-1 "
                f"(per seed: {', '.join(f'{100 * g:+.1f}' for g in gains)})."
            )
    if results.retrieval:
        lines += [
            "",
            "Retrieval, test clips against training clips, no labels used "
            "(centre view, cosine similarity):",
            "",
            "| backbone | R@1 (%) | R@5 (%) | R@10 (%) |",
            "|---|---|---|---|",
        ]
        for name, recall in results.retrieval.items():
            lines.append(
                f"| {name} | "
                + " | ".join(f"{100 * recall[k]:.1f}" for k in ("R@1", "R@5", "R@10"))
                + " |"
            )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- demo


def run_demo(
    data: str | Path,
    out: str | Path,
    *,
    smoke: bool = False,
    notebooks: bool = True,
    config_path: Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
):
    """``imrkit demo``: sample data if missing, the experiment, then the notebooks."""
    from imrkit.config import load_config
    from imrkit.data.sample import ensure_sample

    if config_path is None and smoke:
        config_path = Path(__file__).resolve().parent.parent / "configs" / "experiment_smoke.toml"
    data = ensure_sample(data)
    config = load_config(ExperimentConfig, config_path, list(overrides))
    config.data_root, config.out_dir = str(data), str(Path(out))
    results = run_experiment(config)
    print(results.markdown)
    print(f"results in {Path(out) / 'results.md'} and results.json")
    if notebooks:
        _run_notebooks(Path(out), data)
    return results


def _run_notebooks(out: Path, data: Path) -> None:
    """The notebooks at their own small (smoke) sizes, their full-scale values being the
    paper's (R18, Kinetics, several GPUs), not a demo's; notebook 04 shows this demo's own
    experiment rather than running a tiny one."""
    from imrkit.notebook_runner import run_notebooks

    executed = run_notebooks(
        out / "notebooks",
        smoke=True,
        data_dir=data,
        parameters={"EXPERIMENT_DIR": str(out.resolve())},
    )
    print(f"notebooks executed into {out / 'notebooks'}: {len(executed)}")
