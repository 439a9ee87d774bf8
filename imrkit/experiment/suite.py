"""The experiment suites: the paper's Tables 1 and 3 in miniature, with paired statistics.

An *arm* is a way to initialise the network before it meets labels: from scratch, or
pretrained with one pretext task on the unlabeled pool; and a connection mode (Table 1).
For every arm and every seed, :func:`run_experiment`:

1. pretrains the backbone on the unlabeled videos (pretext arms; the seed seeds the
   weights, the data order and the augmentation);
2. measures the frozen backbone (random initialisation for scratch arms) with the standard
   self-supervised protocols, on the labelled clips of that seed: a linear probe, k-nearest
   neighbours and retrieval R@k (:mod:`imrkit.evaluate.probe`);
3. finetunes it on the same labelled clips (a class-stratified ``labelled_fraction`` of the
   training list, drawn by the seed) and tests it with 3 crops per clip.

Every arm sees the same seeds, hence the same labelled clips and the same initial weights
where they share an architecture: comparisons between arms are paired, and their 95%
confidence intervals come from a bootstrap over seeds and test clips
(:mod:`imrkit.experiment.report`). ``results.json``, ``results.md`` and
``results.png`` go into ``out_dir``; each run lives in its own folder under
``out_dir/runs`` and is reused when the experiment runs again with the same settings, so
an interrupted suite resumes where it stopped; a finetuning or frozen run whose arm's
pretraining had to run again is redone with it (it reads that model by path).

Suites (:data:`SUITES`): ``paper`` (Table 3's pretexts and Table 1's connection modes,
from scratch as in the paper and pretrained with PMSP+CTP),
``demo`` (scratch vs PMSP+CTP, full vs no connections: what ``make demo`` runs) and
``ctp`` (the CTP study of issue 9: CTP alone, its binary form, and PMSP+CTP).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imrkit.config import to_dict
from imrkit.data.dataset import DatasetConfig
from imrkit.errors import ConfigError, ImrkitError
from imrkit.experiment.launchers import SUBMITIT_DIR, LauncherConfig, is_failure, submit_jobs
from imrkit.train.config import (
    EvalConfig,
    FinetuneConfig,
    ModelConfig,
    OptimConfig,
    PretextConfig,
    PretrainConfig,
    RunConfig,
)
from imrkit.transforms import TransformConfig

SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class Arm:
    """One arm of a suite.

    Attributes:
        name: its name in results (``arms[NAME]``).
        pretext: the pretext it is pretrained with; empty trains from scratch.
        connections: the connection mode (SPEC Table 1).
        table: the paper table it belongs to ("1": connections, "3": pretexts).
        handcrafted: a hand-crafted motion feature instead of a network
            (:data:`imrkit.evaluate.handcrafted.HANDCRAFTED`): measured by the frozen
            protocols only (nothing to finetune).
    """

    name: str
    pretext: str = ""
    connections: str = "full"
    table: str = "3"
    handcrafted: str = ""

    @property
    def finetunes(self) -> bool:
        return not self.handcrafted


SCRATCH = Arm("scratch")
#: the strongest simple baselines: hand-crafted motion statistics, no learning at all
HANDCRAFTED_ARMS = (
    Arm("handcrafted_pmsp_pyramid", handcrafted="pmsp_pyramid"),
    Arm("handcrafted_motion_grid", handcrafted="motion_grid"),
)
TABLE3 = (
    SCRATCH,
    Arm("pmsp", "pmsp"),
    Arm("ctp", "ctp"),
    Arm("pmsp+ctp", "pmsp+ctp"),
    Arm("rotation", "rotation"),
    Arm("aot", "aot"),
    Arm("infonce", "infonce"),
)
CONNECTION_ABLATIONS = ("none", "unidirectional", "no_conv", "no_attention")
# Table 1 trains every connection mode from scratch; "full" is the scratch arm above.
TABLE1 = tuple(Arm(f"scratch/{mode}", "", mode, "1") for mode in CONNECTION_ABLATIONS)
# The paper's Table 1 is supervised only; the same modes pretrained with PMSP+CTP ask
# whether pretraining changes what the connections are worth ("full" is Table 3's arm).
TABLE1_PRETRAINED = tuple(
    Arm(f"pmsp+ctp/{mode}", "pmsp+ctp", mode, "1") for mode in CONNECTION_ABLATIONS
)
SUITES: dict[str, tuple[Arm, ...]] = {
    "paper": TABLE3 + HANDCRAFTED_ARMS + TABLE1 + TABLE1_PRETRAINED,
    "demo": (
        SCRATCH,
        Arm("pmsp+ctp", "pmsp+ctp"),
        *HANDCRAFTED_ARMS,
        Arm("scratch/none", "", "none", "1"),
    ),
    "ctp": (
        SCRATCH,
        Arm("ctp", "ctp"),
        Arm("ctp_binary", "ctp_binary"),
        Arm("pmsp+ctp", "pmsp+ctp"),
    ),
}


def _sample_transform() -> TransformConfig:
    # The sample's frames are already small: scaled to 64 on the short side, cropped to
    # 64x64 (the network's 32x downsampling leaves a 2x2 map), motion stays legible.
    return TransformConfig(crop_size=64, short_side=64, scales=(1.0, 0.9, 0.8))


def _sample_run() -> RunConfig:
    # One torch thread per run, runs in parallel (parallel_runs): small tensors gain little
    # from intra-op threads, and two processes' OpenMP threads spinning against each other
    # on two cores are many times slower than either alone.
    return RunConfig(
        checkpoint_every=0,
        keep_checkpoints=1,
        log_every=5,
        progress=False,
        threads=1,
        # 1.32x the training step on the first 2-core machine, 0.96x on the AVX-512/AMX one
        # (BENCHMARKS.md); kept, since runs are reused by configuration
        channels_last=True,
    )


@dataclass
class ProbeConfig:
    """The frozen-feature protocols (:mod:`imrkit.evaluate.probe`).

    Attributes:
        knn_k: neighbours of the kNN classifier.
        linear_weight_decays: the linear probe's L2 penalties, one chosen by 3-fold
            cross-validation on the labelled training clips.
        recall_ks: the k of retrieval R@k.
        recalibrate_clips: pool clips whose batch statistics replace a randomly initialised
            network's batch-norm statistics before its frozen evaluation
            (:mod:`imrkit.evaluate.batchnorm`; 0: none, the network as initialised).
    """

    knn_k: int = 10
    linear_weight_decays: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 0.1, 1.0)
    recall_ks: tuple[int, ...] = (1, 5, 10)
    recalibrate_clips: int = 160


@dataclass
class ExperimentConfig:
    """A suite, its seeds and its one shared budget; ``pretrain``/``finetune`` are templates.

    Attributes:
        suite: which arms (:data:`SUITES`): ``paper``, ``demo`` or ``ctp``.
        only: run only these arms of the suite (by name; empty: all), e.g. Table 3's
            PMSP/CTP rows when there is no time for the whole ``paper`` suite; a later
            run of the whole suite into the same ``out_dir`` reuses them.
        data_root: the labelled dataset (UCF-101 layout; the sample by default).
        unlabeled_root: the pretraining pool, every video under it (a path relative to
            ``data_root``, or absolute); empty pretrains on the labelled training list,
            labels ignored.
        out_dir: where runs, results.json, results.md and results.png go.
        seeds: one paired replicate each: pretraining seed, labelled subset, finetuning seed.
        labelled_fraction: share of the training list that is labelled (class-stratified).
        parallel_runs: runs at once, each in its own process (0: as many as the CPUs this
            process may use hold runs of ``finetune.run.threads`` threads).
        launcher: where the runs execute: a local pool, or submitit jobs on SLURM (or
            submitit's local executor), with the resources each job asks for
            (:mod:`imrkit.experiment.launchers`).
        confidence: level of the confidence intervals.
        bootstrap_resamples: resamples of every bootstrap.
        probe: the frozen-feature protocols.
        pretrain: template of every pretraining run (pretext, model connections, data root,
            out_dir and seed are set per arm and seed).
        finetune: template of every finetuning run.
    """

    suite: str = "demo"
    only: tuple[str, ...] = ()
    data_root: str = "data/sample"
    unlabeled_root: str = "unlabeled"
    out_dir: str = "runs/experiment"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    labelled_fraction: float = 0.5
    parallel_runs: int = 0
    confidence: float = 0.95
    bootstrap_resamples: int = 10000
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    launcher: LauncherConfig = field(default_factory=LauncherConfig)
    pretrain: PretrainConfig = field(
        default_factory=lambda: PretrainConfig(
            model=ModelConfig(name="imrnet_tiny"),
            pretext=PretextConfig(name="pmsp+ctp", hidden_dim=128),
            data=DatasetConfig(
                format="unlabeled", num_workers=0, cache=True, transform=_sample_transform()
            ),
            optim=OptimConfig(epochs=2, warmup_epochs=0.25, batch_size=16, lr=0.01),
            run=_sample_run(),
        )
    )
    finetune: FinetuneConfig = field(
        default_factory=lambda: FinetuneConfig(
            model=ModelConfig(name="imrnet_tiny", dropout=0.3),
            data=DatasetConfig(
                format="ucf101", num_workers=0, cache=True, transform=_sample_transform()
            ),
            optim=OptimConfig(epochs=20, warmup_epochs=1.0, batch_size=8, lr=0.01),
            eval=EvalConfig(every_epochs=0, views=3, batch_size=16),
            run=_sample_run(),
        )
    )

    def __post_init__(self) -> None:
        if self.suite not in SUITES:
            raise ConfigError(f"suite {self.suite!r}: unknown; suites: {', '.join(SUITES)}")
        if len(self.seeds) < 2:
            raise ConfigError("seeds: paired confidence intervals need at least 2 seeds")
        known = [arm.name for arm in SUITES[self.suite]]
        unknown = [name for name in self.only if name not in known]
        if unknown:
            raise ConfigError(f"only: {unknown} not in suite {self.suite!r} ({known})")
        if self.only and SCRATCH.name not in self.only:
            raise ConfigError("only: must keep 'scratch', the baseline of every comparison")

    @property
    def arms(self) -> tuple[Arm, ...]:
        return tuple(a for a in SUITES[self.suite] if not self.only or a.name in self.only)

    @property
    def runs_at_once(self) -> int:
        """``parallel_runs``, or what this machine holds (CPUs / threads per run)."""
        if self.parallel_runs > 0:
            return self.parallel_runs
        from imrkit.data.processes import available_cpus

        return max(1, available_cpus() // max(1, self.finetune.run.threads))


@dataclass
class ExperimentResults:
    """What :func:`run_experiment` measured; ``record`` is what ``results.json`` holds.

    A finished suite reads back from its folder with :meth:`load`, so a notebook or script
    never parses ``results.json`` or globs run folders itself.
    """

    out_dir: Path
    record: dict[str, Any]
    markdown: str

    @classmethod
    def load(cls, out_dir: str | Path) -> ExperimentResults:
        """The results of the suite written into ``out_dir``."""
        out_dir = Path(out_dir)
        path = out_dir / "results.json"
        if not path.is_file():
            raise ConfigError(f"{out_dir}: no results.json; run the experiment there first")
        markdown = out_dir / "results.md"
        return cls(
            out_dir,
            json.loads(path.read_text()),
            markdown.read_text() if markdown.is_file() else "",
        )

    @property
    def arms(self) -> dict[str, dict[str, Any]]:
        return self.record["arms"]

    def means(self, metric: str) -> dict[str, float]:
        """``arm -> mean over seeds`` of ``metric`` (``finetune_top1``, ``linear_top1``, ...)."""
        return {
            name: arm["summary"][metric]["mean"]
            for name, arm in self.arms.items()
            if metric in arm.get("summary", {})
        }

    def comparisons(self) -> list[dict[str, Any]]:
        """The paired differences, one row each (A, minus B, metric, difference, 95% CI),
        then Table 1's interactions, where it ran pretrained too (A = full minus a mode
        pretrained, B = the same from scratch)."""
        from imrkit.experiment.report import interaction_labels

        pairs = [(c["a"], c["b"], c) for c in self.record["comparisons"]]
        pairs += [(*interaction_labels(i), i) for i in self.record.get("interactions", [])]
        return [
            {
                "A": a,
                "minus B": b,
                "metric": c["metric"],
                "difference": c["mean"],
                "95% CI low": c["low"],
                "95% CI high": c["high"],
            }
            for a, b, c in pairs
        ]

    def per_clip(
        self, arm: str, metric: str, seeds: list[int] | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """(seeds, test clips) correctness of ``arm`` under ``metric`` (``finetune_top1``,
        ``linear_top1`` or ``knn_top1``), read from its runs, and the clips' paths: what a
        paired comparison with another suite's arm needs (clips in the order of the suite's
        test list, as in its report; ``seeds`` defaults to the suite's)."""
        from imrkit.experiment.report import METRICS, correct_matrix

        if metric not in METRICS:
            raise ConfigError(f"{metric!r}: no per-clip results; metrics: {', '.join(METRICS)}")
        kind, key = METRICS[metric]
        seeds = self.record["config"]["seeds"] if seeds is None else seeds
        runs = [self._metrics(kind, arm, seed) for seed in seeds]
        # the clip order the report uses (the frozen runs' test list), so intervals match it
        frozen = runs[0] if kind == "frozen" else self._metrics("frozen", arm, seeds[0])
        paths = frozen["test_paths"]
        return correct_matrix(runs, key, paths), paths

    def job_seconds(self, kind: str, arm: str, seeds: list[int] | None = None) -> list[float]:
        """The run's own time (s) of each seed's ``kind`` job of ``arm`` (``pretrain``,
        ``finetune`` or ``frozen``), as it ran, even where a later call reused it."""
        seeds = self.record["config"]["seeds"] if seeds is None else seeds
        return [float(self._metrics(kind, arm, seed)["seconds"]) for seed in seeds]

    def _metrics(self, kind: str, arm: str, seed: int) -> dict[str, Any]:
        return json.loads((self.run_dir(kind, arm, seed) / SUMMARY_FILE).read_text())["metrics"]

    def paired_difference(
        self,
        arm: str,
        other: ExperimentResults,
        other_arm: str | None = None,
        metric: str = "finetune_top1",
        seeds: list[int] | None = None,
    ) -> dict[str, Any]:
        """``arm`` of this suite minus ``other_arm`` (default: the same name) of ``other``,
        paired by seed and test clip, as the report pairs arms within a suite: ``mean``,
        ``low``, ``high`` (points, this suite's confidence) and ``per_seed``. The suites
        must have tested the same clips; ``seeds`` defaults to this suite's."""
        from imrkit.data.splits import clip_groups
        from imrkit.experiment.bootstrap import grouped_paired_difference

        seeds = list(self.record["config"]["seeds"] if seeds is None else seeds)
        ours, paths = self.per_clip(arm, metric, seeds)
        theirs, their_paths = other.per_clip(other_arm or arm, metric, seeds)
        if paths != their_paths:
            raise ConfigError(f"{self.out_dir} and {other.out_dir} tested different clips")
        config = self.record["config"]
        difference = grouped_paired_difference(
            ours,
            theirs,
            clip_groups(paths),
            confidence=config["confidence"],
            resamples=config["bootstrap_resamples"],
        )
        return {
            "mean": difference.mean,
            "low": difference.low,
            "high": difference.high,
            "per_seed": [float(100 * d) for d in (ours - theirs).mean(axis=1)],
        }

    def run_dir(self, kind: str, arm: str, seed: int | None = None) -> Path:
        """The folder of one run: ``kind`` is ``pretrain``, ``finetune`` or ``frozen``;
        ``seed`` defaults to the suite's first."""
        seed = self.record["config"]["seeds"][0] if seed is None else seed
        path = self.out_dir / "runs" / f"{kind}_{_slug(arm)}_seed{seed}"
        if not path.is_dir():
            raise ConfigError(f"{path}: no such run in this experiment")
        return path

    def figure(self):
        """The suite's figure (the one saved as ``results.png``)."""
        from imrkit.experiment.report import results_figure

        return results_figure(self.record)


# --------------------------------------------------------------------------- run configs


def pretrain_config(config: ExperimentConfig, arm: Arm, seed: int) -> PretrainConfig:
    """The pretraining run of ``arm`` and ``seed``."""
    run = dataclasses.replace(config.pretrain)
    run.pretext = dataclasses.replace(run.pretext, name=arm.pretext)
    run.model = dataclasses.replace(run.model, connections=arm.connections)
    if config.unlabeled_root:
        pool = Path(config.data_root) / config.unlabeled_root
        run.data = dataclasses.replace(run.data, root=str(pool), format="unlabeled")
    else:
        labelled = config.finetune.data
        run.data = dataclasses.replace(run.data, root=config.data_root, format=labelled.format)
    run.run = dataclasses.replace(run.run, seed=seed)
    return run


def labelled_data(config: ExperimentConfig, seed: int) -> DatasetConfig:
    """The labelled dataset of ``seed``: its labelled fraction of the training list."""
    return dataclasses.replace(
        config.finetune.data,
        root=config.data_root,
        labelled_fraction=config.labelled_fraction,
        fraction_seed=seed,
    )


def finetune_config(
    config: ExperimentConfig, arm: Arm, seed: int, pretrained: Path | None
) -> FinetuneConfig:
    """The finetuning run of ``arm`` and ``seed`` (from ``pretrained``, or from scratch)."""
    run = dataclasses.replace(config.finetune)
    run.model = dataclasses.replace(run.model, connections=arm.connections)
    run.data = labelled_data(config, seed)
    run.run = dataclasses.replace(run.run, seed=seed)
    run.pretrained = str(pretrained) if pretrained else ""
    return run


@dataclass
class PretrainJob:
    """A pretraining run, and the clips its CTP head is tested on afterwards (clips
    pretraining never saw: the labelled test list, centre views)."""

    run: PretrainConfig
    heldout: DatasetConfig


@dataclass
class FrozenJob:
    """A frozen-feature evaluation: the backbone of ``model_dir``, the random
    initialisation of ``model`` with ``seed`` when ``model_dir`` is empty (its batch-norm
    statistics recalibrated on ``pool``), or a hand-crafted feature (``handcrafted``).
    ``raw_too`` also measures the random network as initialised, for the record."""

    model: ModelConfig
    model_dir: str
    seed: int
    data: DatasetConfig
    probe: ProbeConfig
    threads: int = 1
    handcrafted: str = ""
    pool: DatasetConfig | None = None
    raw_too: bool = False


# --------------------------------------------------------------------------- jobs


def _reuse(out_dir: Path, config: Any) -> dict | None:
    """The metrics of a finished run of the same config in ``out_dir``, if there is one."""
    path = out_dir / SUMMARY_FILE
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("config") == to_dict(config):
            return saved["metrics"]
    return None


def run_job(kind: str, config: Any, out_dir: Path, resume: bool = False) -> dict:
    """Run one job (``pretrain``, ``finetune`` or ``frozen``) into ``out_dir`` and return
    its metrics, unless ``out_dir`` holds a finished job of the same config (reused).

    ``resume`` (a job requeued after preemption) continues a training job from the
    checkpoint its interrupted run left in ``out_dir``; otherwise an unfinished folder is
    cleared and the job starts afresh.
    """
    from imrkit.train.checkpoints import list_checkpoints

    saved = _reuse(out_dir, config)
    if saved is not None:
        return saved
    resume = resume and kind != "frozen" and bool(list_checkpoints(out_dir))
    if not resume:
        shutil.rmtree(out_dir, ignore_errors=True)
    started = time.perf_counter()
    if kind == "pretrain":
        metrics = _pretrain_job(config, out_dir, resume)
    elif kind == "finetune":
        metrics = _finetune_job(config, out_dir, resume)
    else:
        metrics = _frozen_job(config, out_dir)
    metrics["seconds"] = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SUMMARY_FILE).write_text(
        json.dumps({"config": to_dict(config), "metrics": metrics}, indent=2) + "\n"
    )
    return metrics


def _in_folder(config, out_dir: Path, resume: bool):
    """``config`` training into ``out_dir``, continuing its latest checkpoint if ``resume``."""
    run = dataclasses.replace(config.run, out_dir=str(out_dir), resume="latest" if resume else "")
    return dataclasses.replace(config, run=run)


def _pretrain_job(job: PretrainJob, out_dir: Path, resume: bool = False) -> dict:
    from imrkit.train.pretraining import pretrain, uses_ctp

    config = _in_folder(job.run, out_dir, resume)
    summary = pretrain(config)
    metrics = {k: v for k, v in summary.metrics.items() if isinstance(v, (int, float))}
    metrics.update(_curves(out_dir))
    if uses_ctp(config.pretext.name):
        metrics["ctp_heldout"] = _ctp_heldout(config, job.heldout, out_dir)
    return metrics


def _ctp_heldout(config: PretrainConfig, heldout: DatasetConfig, run_dir: Path) -> dict:
    """CTP accuracy per correspondence type on ``heldout`` (test list, centre views), with
    the pretext heads the run ended with."""
    from safetensors.torch import load_file

    from imrkit.data.dataset import build_dataset
    from imrkit.pretext.ctp import evaluate_ctp
    from imrkit.runs import PRETEXT_WEIGHTS
    from imrkit.train.pretraining import build_pretext_model

    pretext = build_pretext_model(config)
    pretext.load_state_dict(load_file(str(run_dir / PRETEXT_WEIGHTS)))
    dataset = build_dataset(heldout, heldout.eval_subset, mode="eval", labelled=False)
    return evaluate_ctp(pretext, dataset, batch_size=config.optim.batch_size, seed=1234)


def _finetune_job(config: FinetuneConfig, out_dir: Path, resume: bool = False) -> dict:
    from imrkit.runs import EVAL_DIR
    from imrkit.train.finetuning import finetune

    config = _in_folder(config, out_dir, resume)
    summary = finetune(config)
    report = json.loads((out_dir / EVAL_DIR / "results.json").read_text())
    metrics = {k: v for k, v in summary.metrics.items() if isinstance(v, (int, float))}
    metrics.update(_curves(out_dir))
    metrics["test_paths"] = [p["path"] for p in report["predictions"]]
    metrics["test_correct"] = [int(p["label"] == p["predicted"]) for p in report["predictions"]]
    return metrics


def _curves(run_dir: Path) -> dict[str, list[float]]:
    """The run's training loss and time per epoch (learning curves, convergence check)."""
    from imrkit.train.metrics_log import read_history

    rows = read_history(run_dir, kind="epoch")
    return {
        "epoch_loss": [float(r["loss"]) for r in rows],
        "epoch_seconds": [float(r["epoch_time_s"]) for r in rows],
    }


def _frozen_job(job: FrozenJob, out_dir: Path) -> dict:
    import torch

    from imrkit.data.dataset import build_dataset

    if job.threads:
        torch.set_num_threads(job.threads)
    train, test = (
        build_dataset(job.data, subset, mode="eval")
        for subset in (job.data.train_subset, job.data.eval_subset)
    )
    if job.handcrafted:
        result, extra = _handcrafted_evaluation(job, train, test), {}
    else:
        result, extra = _network_evaluation(job, train, test)
    return {
        **result.as_dict(),
        **extra,
        "num_classes": result.linear.num_classes,
        "recall": {str(k): v for k, v in result.recall.items()},
        "test_paths": list(result.test.paths),
        "linear_correct": result.linear.correct.astype(int).tolist(),
        "knn_correct": result.knn.correct.astype(int).tolist(),
    }


def _protocols(job: FrozenJob) -> dict:
    return {
        "knn_k": job.probe.knn_k,
        "recall_ks": job.probe.recall_ks,
        "weight_decay": job.probe.linear_weight_decays,
        "seed": job.seed,
    }


def _handcrafted_evaluation(job: FrozenJob, train, test):
    from imrkit.evaluate.handcrafted import handcrafted_embeddings
    from imrkit.evaluate.probe import evaluate_embeddings

    embeddings = [handcrafted_embeddings(job.handcrafted, d) for d in (train, test)]
    return evaluate_embeddings(*embeddings, num_classes=test.split.num_classes, **_protocols(job))


def _network_evaluation(job: FrozenJob, train, test):
    """The frozen protocols on the job's network; for a random initialisation, after
    recalibrating its batch-norm statistics on the pool (and, with ``raw_too``, also
    before, reported as ``raw``)."""
    import torch

    from imrkit.data.dataset import build_dataset
    from imrkit.evaluate.batchnorm import recalibrate_batchnorm
    from imrkit.evaluate.probe import frozen_evaluation
    from imrkit.models import build_model, load_model

    protocols = {**_protocols(job), "device": "cpu"}
    if job.model_dir:
        return frozen_evaluation(load_model(job.model_dir), train, test, **protocols), {}
    torch.manual_seed(job.seed)  # the initial weights finetuning from scratch starts from
    model = build_model(job.model.name, None, **job.model.build_kwargs())
    extra: dict[str, Any] = {}
    if job.raw_too:
        raw = frozen_evaluation(model, train, test, **protocols)
        extra["raw"] = {**raw.as_dict(), "recall": {str(k): v for k, v in raw.recall.items()}}
    if job.pool is not None and job.probe.recalibrate_clips:
        pool = build_dataset(job.pool, job.pool.train_subset, mode="eval", labelled=False)
        extra["recalibrated_on"] = recalibrate_batchnorm(
            model, pool, max_clips=job.probe.recalibrate_clips
        )
    return frozen_evaluation(model, train, test, **protocols), extra


def run_jobs(
    jobs: list[tuple[str, Any, Path]], parallel: int, launcher: LauncherConfig | None = None
) -> list[dict]:
    """Run ``(kind, config, out_dir)`` jobs, ``parallel`` at a time in worker processes,
    with a progress bar; results in the order of ``jobs``.

    With a submitit ``launcher`` each job not already complete is a submitit job (logs in
    ``runs/../submitit``), and a failed job's result is a failure record
    (:func:`imrkit.experiment.launchers.failure_record`) instead of an exception.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc="experiment runs", unit="run")
    if launcher is not None and launcher.name != "local":
        results: list[dict | None] = [_reuse(out_dir, config) for _, config, out_dir in jobs]
        bar.update(sum(r is not None for r in results))
        todo = [index for index, result in enumerate(results) if result is None]
        if todo:
            folder = Path(jobs[0][2]).parent.parent / SUBMITIT_DIR
            done = submit_jobs(
                run_job, [jobs[i] for i in todo], launcher, folder, parallel, bar.update
            )
            for index, result in zip(todo, done, strict=True):
                results[index] = result
        bar.close()
        return results  # type: ignore[return-value]
    if parallel <= 1 or len(jobs) <= 1:
        results = []
        for job in jobs:
            results.append(run_job(*job))
            bar.update()
        bar.close()
        return results
    from imrkit.data.processes import worker_pool

    # Fresh interpreters (no inherited torch/OpenMP state) that die with the suite: a
    # killed suite leaves no run training for nobody.
    with worker_pool(min(parallel, len(jobs))) as pool:
        futures = [pool.submit(run_job, *job) for job in jobs]
        for future in futures:
            future.add_done_callback(lambda _: bar.update())
        results = [future.result() for future in futures]
    bar.close()
    return results


class JobsFailed(ImrkitError):
    """Runs of a suite failed (the others finished and are kept)."""


def _check_failures(measured: dict, out: Path) -> None:
    """Raise :class:`JobsFailed` naming every failed run, its error and its log, after
    writing the same list as the suite's report (``results.md``), beside how many runs
    finished; the tables follow once a rerun has completed every run."""
    failed = [(key, m) for key, m in measured.items() if is_failure(m)]
    if failed:
        report = [
            "# imrkit experiment: failed runs",
            "",
            f"{len(failed)} of {len(measured)} runs failed; the other "
            f"{len(measured) - len(failed)} are complete and kept. Run the same command "
            "again to resubmit only the failed and missing runs; the tables follow then.",
            "",
            "| run | arm | seed | error | log |",
            "|---|---|---|---|---|",
            *(
                f"| {kind} | {arm} | {seed} | {m['error']} | `{m['log']}` |"
                for (arm, seed, kind), m in failed
            ),
        ]
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.md").write_text("\n".join(report) + "\n")
        lines = [
            f"  {kind} {arm} seed {seed}: {m['error']} (log: {m['log']})"
            for (arm, seed, kind), m in failed
        ]
        raise JobsFailed(
            f"{len(failed)} of {len(measured)} runs failed:\n" + "\n".join(lines) + "\n"
            "the other runs are complete and kept; fix the cause and run the same command "
            "again to resubmit only the failed and missing runs"
        )


# --------------------------------------------------------------------------- the suite


def run_experiment(config: ExperimentConfig) -> ExperimentResults:
    """Run every arm of ``config.suite`` for every seed (see the module docstring), write
    ``results.json``, ``results.md`` and ``results.png`` and return them."""
    from imrkit.experiment.report import build_record, format_markdown, save_figure

    started = time.perf_counter()
    out = Path(config.out_dir)
    runs = out / "runs"
    pretrained_arms = [arm for arm in config.arms if arm.pretext]
    pretrain_keys = [(arm, seed) for arm in pretrained_arms for seed in config.seeds]
    pretrain_dirs = {
        (arm.name, seed): runs / f"pretrain_{_slug(arm.name)}_seed{seed}"
        for arm, seed in pretrain_keys
    }
    pretrain_jobs = [
        (
            "pretrain",
            PretrainJob(pretrain_config(config, arm, seed), labelled_data(config, seed)),
            pretrain_dirs[arm.name, seed],
        )
        for arm, seed in pretrain_keys
    ]
    retrained = {
        (arm.name, seed)
        for (arm, seed), (_, job, out_dir) in zip(pretrain_keys, pretrain_jobs, strict=True)
        if _reuse(out_dir, job) is None
    }
    pretraining = run_jobs(pretrain_jobs, config.runs_at_once, config.launcher)
    jobs, keys = [], []
    pool = pretrain_config(config, SCRATCH, config.seeds[0]).data
    for arm in config.arms:
        for seed in config.seeds:
            model_dir = pretrain_dirs[arm.name, seed] / "model" if arm.pretext else None
            finetune = finetune_config(config, arm, seed, model_dir)
            frozen = FrozenJob(
                model=finetune.model,
                model_dir=str(model_dir or ""),
                seed=seed,
                data=labelled_data(config, seed),
                probe=config.probe,
                threads=config.finetune.run.threads,
                handcrafted=arm.handcrafted,
                pool=None if arm.pretext or arm.handcrafted else pool,
                raw_too=arm is SCRATCH or arm.name == SCRATCH.name,
            )
            stem = f"{_slug(arm.name)}_seed{seed}"
            if arm.finetunes:
                jobs.append(("finetune", finetune, runs / f"finetune_{stem}"))
                keys.append((arm.name, seed, "finetune"))
            jobs.append(("frozen", frozen, runs / f"frozen_{stem}"))
            keys.append((arm.name, seed, "frozen"))
    # A finetuning or frozen run reads its arm's pretrained model by path: where that
    # pretraining ran again in this call, its earlier result is stale, whatever its own
    # configuration says.
    for (arm_name, seed, _), (_, _, out_dir) in zip(keys, jobs, strict=True):
        if (arm_name, seed) in retrained:
            (out_dir / SUMMARY_FILE).unlink(missing_ok=True)
    reused = len(pretrain_jobs) - len(retrained)
    reused += sum(_reuse(out_dir, job) is not None for _, job, out_dir in jobs)
    measured = dict(zip(keys, run_jobs(jobs, config.runs_at_once, config.launcher), strict=True))
    for (arm, seed), metrics in zip(pretrain_keys, pretraining, strict=True):
        measured[arm.name, seed, "pretrain"] = metrics
    _check_failures(measured, out)
    record = build_record(config, measured, time.perf_counter() - started)
    record["runs"], record["reused_runs"] = len(pretrain_jobs) + len(jobs), reused
    markdown = format_markdown(record)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / "results.md").write_text(markdown)
    save_figure(record, out / "results.png")
    return ExperimentResults(out, record, markdown)


def _slug(name: str) -> str:
    return name.replace("/", "-").replace("+", "_")
