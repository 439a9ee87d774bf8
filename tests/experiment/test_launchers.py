"""Suites as submitit jobs (submitit's local executor stands in for SLURM here)."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from imrkit.config import load_config
from imrkit.errors import ConfigError
from imrkit.experiment.launchers import LauncherConfig, SuiteJob, is_failure, submit_jobs
from imrkit.experiment.suite import (
    ExperimentConfig,
    FrozenJob,
    JobsFailed,
    ProbeConfig,
    _check_failures,
    run_experiment,
    run_jobs,
)

SUBMITIT_LOCAL = LauncherConfig(name="submitit-local", timeout_min=20)


def _without_timings(value):
    """A results record minus what depends on the clock."""
    if isinstance(value, dict):
        return {
            k: _without_timings(v)
            for k, v in value.items()
            if "seconds" not in k and "clips_per_s" not in k
        }
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@pytest.mark.slow
def test_smoke_suite_through_submitit_matches_the_local_pool(sample_dataset, tmp_path):
    overrides = {
        # the scratch arm and one pretext: a pretraining, then the runs that read its model
        "only": ["scratch", "pmsp+ctp"],
        "data_root": str(sample_dataset),
        "unlabeled_root": "",
        "pretrain.run.threads": 1,
        "finetune.run.threads": 1,
    }
    arms = {}
    for launcher in ("local", "submitit-local"):
        out = tmp_path / launcher
        config = load_config(
            ExperimentConfig,
            "experiment_smoke",
            {**overrides, "out_dir": str(out), "launcher.name": launcher},
        )
        run_experiment(config)
        arms[launcher] = json.loads((out / "results.json").read_text())["arms"]
    assert list(arms["submitit-local"]) == list(arms["local"]) == ["scratch", "pmsp+ctp"]
    assert _without_timings(arms["submitit-local"]) == _without_timings(arms["local"])
    # Every run was its own submitit job, with its own log: 2 pretraining runs, then the 4
    # finetuning and 4 frozen runs.
    logs = list((tmp_path / "submitit-local" / "submitit").glob("*_log.out"))
    assert len(logs) == len(list((tmp_path / "submitit-local" / "runs").iterdir())) == 10


def _add(a, b):
    return a + b


def test_a_job_started_before_its_submission_is_filed_still_runs(monkeypatch, tmp_path):
    """submitit's local executor starts a job, then files its pickle: on a loaded machine
    the job gets there first. With a folder per job (``%j``) it died opening its log in a
    folder not yet made (no log, no result); the suite's folder exists from the start."""
    import sys

    import cloudpickle
    from submitit.core.utils import JobPaths

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    move = JobPaths.move_temporary_file

    def slow_move(self, *args, **kwargs):
        time.sleep(3.0)  # the parent descheduled between starting the job and filing it
        return move(self, *args, **kwargs)

    monkeypatch.setattr(JobPaths, "move_temporary_file", slow_move)
    jobs = [("a", 1, tmp_path / "one"), ("b", 2, tmp_path / "two")]
    results = submit_jobs(
        lambda kind, config, out_dir, resume: {"sum": _add(config, 1)},
        jobs,
        SUBMITIT_LOCAL,
        tmp_path / "submitit",
        parallel=2,
    )
    assert results == [{"sum": 2}, {"sum": 3}]


def _frozen(sample_dataset, root: str = "") -> FrozenJob:
    from imrkit.data.dataset import DatasetConfig
    from imrkit.train.config import ModelConfig

    data = DatasetConfig(root=root or str(sample_dataset), format="ucf101", num_workers=0)
    return FrozenJob(
        model=ModelConfig(name="imrnet_tiny"),
        model_dir="",
        seed=0,
        data=data,
        probe=ProbeConfig(linear_weight_decays=(0.01,)),
        handcrafted="motion_grid",
    )


@pytest.mark.slow
def test_a_failed_job_is_reported_with_its_log_and_rerun_resubmits_only_it(
    sample_dataset, tmp_path
):
    runs = tmp_path / "runs"
    jobs = [
        ("frozen", _frozen(sample_dataset, root=str(tmp_path / "missing")), runs / "bad"),
        ("frozen", _frozen(sample_dataset), runs / "good"),
    ]
    bad, good = run_jobs(jobs, parallel=2, launcher=SUBMITIT_LOCAL)
    assert not is_failure(good) and "linear_top1" in good
    assert is_failure(bad) and "missing" in bad["error"]
    log = bad["log"]
    assert os.path.isfile(log) and "Traceback" in open(log).read()
    with pytest.raises(JobsFailed, match="frozen arm seed 0: .*missing.* \\(log: .*\\)"):
        _check_failures({("arm", 0, "frozen"): bad, ("arm", 0, "finetune"): good}, tmp_path)
    report = (tmp_path / "results.md").read_text()  # the suite's report lists it as failed
    assert "1 of 2 runs failed" in report and f"`{log}`" in report
    assert "| frozen | arm | 0 |" in report

    # Again: the complete run is reused, only the failed one is submitted.
    submitted = set((tmp_path / "submitit").glob("*_log.out"))
    again = run_jobs(jobs, parallel=2, launcher=SUBMITIT_LOCAL)
    assert again[1] == good and is_failure(again[0])
    assert len(set((tmp_path / "submitit").glob("*_log.out")) - submitted) == 1


def _preempted_run(kind, config, out_dir, resume=False):
    """A training run that a signal stopped (it wrote its checkpoint)."""
    from pathlib import Path

    from imrkit.train.preemption import Preempted

    raise Preempted(signal.SIGUSR1, 3, Path(out_dir) / "checkpoints" / "step_3")


def test_a_preempted_job_is_checkpointed_and_requeued_by_submitit(tmp_path):
    # submitit's local executor does not requeue, but it runs submitit's own handler: the
    # call is pickled for the requeued job and the job ends with submitit's requeue code.
    import sys

    import cloudpickle
    import submitit

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # importable here only
    # No "%j" folder: the local executor starts the job before it creates that folder.
    executor = submitit.AutoExecutor(folder=tmp_path, cluster="local")
    executor.update_parameters(timeout_min=5)
    job = executor.submit(SuiteJob(), _preempted_run, "pretrain", None, tmp_path / "run")
    deadline = time.monotonic() + 120
    while not job.done() and time.monotonic() < deadline:
        time.sleep(0.2)
    log = job.paths.stderr.read_text() + job.paths.stdout.read_text()
    assert "Calling checkpoint method" in log and "Requeued job" in log, log
    assert job.paths.submitted_pickle.is_file()
    # The requeued call is the same run, resuming from the checkpoint it wrote.
    import pickle

    requeued = pickle.loads(job.paths.submitted_pickle.read_bytes())
    assert requeued.args[1:] == ("pretrain", None, tmp_path / "run")
    assert requeued.kwargs == {"resume": True}


def test_a_requeued_training_job_resumes_its_checkpoint(monkeypatch, tmp_path):
    """run_job(resume=True) keeps the interrupted folder and asks for run.resume=latest."""
    from imrkit.experiment import suite

    seen = {}

    def fake_finetune(config):
        seen["resume"] = config.run.resume
        raise RuntimeError("stop here")

    monkeypatch.setattr("imrkit.train.finetuning.finetune", fake_finetune)
    monkeypatch.setattr("imrkit.train.checkpoints.list_checkpoints", lambda _: ["step_3"])
    out = tmp_path / "run"
    (out / "checkpoints" / "step_3").mkdir(parents=True)
    config = suite.ExperimentConfig().finetune
    with pytest.raises(RuntimeError, match="stop here"):
        suite.run_job("finetune", config, out, resume=True)
    assert seen["resume"] == "latest" and (out / "checkpoints" / "step_3").is_dir()
    with pytest.raises(RuntimeError, match="stop here"):
        suite.run_job("finetune", config, out)  # a fresh job clears the folder
    assert seen["resume"] == "" and not (out / "checkpoints").exists()


def test_launcher_names_are_checked():
    with pytest.raises(ConfigError, match="launcher.name 'pbs'"):
        LauncherConfig(name="pbs")
    assert submit_jobs(None, [], SUBMITIT_LOCAL, None, 1) == []
