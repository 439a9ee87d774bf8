"""Where the runs of a suite execute: a local process pool, or submitit jobs.

``launcher.name`` (:class:`LauncherConfig`) picks the engine:

- ``local``: a pool of ``parallel_runs`` worker processes on this machine (the default).
- ``slurm``: every run is a SLURM job, submitted by submitit as one job array per batch,
  with the resources of :class:`LauncherConfig`. The command waits on the array (as
  submitit's ``job.result()`` does), so the suite's order holds: pretraining runs first,
  the finetuning and frozen runs that read their models after. Logs go to
  ``out_dir/submitit/JOBID/JOBID_*`` (``out_dir/submitit/JOBID_*`` locally).
- ``submitit-local``: the same submitit path through submitit's local executor (jobs as
  local processes, at most ``max_running`` or ``parallel_runs`` at once), so the whole path
  runs and is tested without a cluster.

A job that fails (an exception, a node that dies, a time-out without requeue) does not stop
the others: its result is a failure record (:func:`failure_record`) naming the error and
its log. Runs already complete are never submitted again (their ``summary.json`` is
reused), so re-running the command resubmits only what failed or is missing.

Preemption: a training run that receives SIGTERM/SIGUSR1 or submitit's signal ends on a
checkpoint with :class:`imrkit.train.preemption.Preempted`; :class:`SuiteJob` then hands
over to submitit's own handler, which checkpoints the call (:meth:`SuiteJob.checkpoint`)
and requeues the job.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imrkit.errors import ConfigError

LAUNCHERS = ("local", "submitit-local", "slurm")
#: submitit's logs and pickles, under the suite's ``out_dir``
SUBMITIT_DIR = "submitit"

Job = tuple[str, Any, Path]  # (kind, config, out_dir), as suite.run_job takes them


@dataclass
class LauncherConfig:
    """How the runs of a suite are executed, and what each asks of a cluster.

    Attributes:
        name: ``local`` (process pool), ``submitit-local`` or ``slurm`` (submitit jobs).
        partition: SLURM partition (empty: the cluster's default).
        gpus_per_run: GPUs of each run (its job's ``--gpus-per-node``).
        cpus_per_run: CPU cores of each run (``--cpus-per-task``).
        mem_gb: memory of each run (0: the partition's default).
        timeout_min: time limit of each job; a run stopped by it writes a checkpoint on
            submitit's signal and is requeued.
        max_running: jobs running at once (SLURM array parallelism; 0: no limit on SLURM,
            ``parallel_runs`` for ``submitit-local``).
        account: SLURM account (empty: none).
    """

    name: str = "local"
    partition: str = ""
    gpus_per_run: int = 0
    cpus_per_run: int = 2
    mem_gb: int = 0
    timeout_min: int = 240
    max_running: int = 0
    account: str = ""

    def __post_init__(self) -> None:
        if self.name not in LAUNCHERS:
            raise ConfigError(
                f"launcher.name {self.name!r}: unknown; launchers: {', '.join(LAUNCHERS)}"
            )


def failure_record(error: BaseException, log: Path | str | None) -> dict[str, Any]:
    """The result of a failed job: ``{"failed": True, "error": ..., "log": ...}``."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    # submitit's FailedJobError holds the job's traceback between two rules of dashes,
    # then where its logs are: the error is the traceback's last line.
    rules = [i for i, line in enumerate(lines) if set(line) == {"-"}]
    if len(rules) >= 2 and rules[1] > rules[0] + 1:
        lines = lines[: rules[1]]
    return {
        "failed": True,
        "error": lines[-1] if lines else type(error).__name__,
        "log": str(log) if log else "",
    }


def is_failure(result: Any) -> bool:
    return isinstance(result, dict) and result.get("failed") is True


class SuiteJob:
    """One run of a suite as a submitit job: ``SuiteJob()(run, kind, config, out_dir)``.

    Checkpointable the way submitit's ``helpers.Checkpointable`` is (a ``checkpoint``
    method that returns the call to requeue), without importing submitit here. On
    :class:`~imrkit.train.preemption.Preempted` (the run has written its checkpoint) it
    raises submitit's preemption signal on itself, so that submitit's handler pickles
    :meth:`checkpoint`'s call and requeues the job.
    """

    def __call__(
        self, run: Callable[..., dict], kind: str, config: Any, out_dir: Path, resume: bool = False
    ) -> dict:
        from imrkit.train.preemption import Preempted, submitit_signal

        try:
            return run(kind, config, out_dir, resume)
        except Preempted:
            signum = submitit_signal()
            if signum is None:
                raise
            os.kill(os.getpid(), signum)  # submitit: checkpoint(), requeue, exit
            time.sleep(60)  # the handler runs before this returns
            raise

    def checkpoint(self, run, kind, config, out_dir, resume: bool = False):
        """The same call again (submitit's ``DelayedSubmission``), for the requeued job,
        which resumes from the checkpoint the preempted run wrote."""
        from submitit.core.utils import DelayedSubmission

        return DelayedSubmission(self, run, kind, config, out_dir, resume=True)


def _executor(launcher: LauncherConfig, folder: Path, jobs: int, parallel: int):
    import submitit

    cluster = "local" if launcher.name == "submitit-local" else "slurm"
    # One folder per job (``%j``) on SLURM. Not locally: submitit's local executor starts
    # the job before it creates the job's folder, and a job that wins that race dies
    # opening its log there (seen under load in the test suite); one shared folder exists
    # from the start, and every file in it is still named by its job id.
    executor = submitit.AutoExecutor(
        folder=folder / "%j" if cluster == "slurm" else folder, cluster=cluster
    )
    parameters: dict[str, Any] = {
        "name": "imrkit",
        "timeout_min": launcher.timeout_min,
        "gpus_per_node": launcher.gpus_per_run,
        "cpus_per_task": launcher.cpus_per_run,
        "tasks_per_node": 1,
        "nodes": 1,
    }
    if launcher.mem_gb:
        parameters["mem_gb"] = launcher.mem_gb
    if cluster == "slurm":
        parameters["slurm_array_parallelism"] = launcher.max_running or jobs
        if launcher.partition:
            parameters["slurm_partition"] = launcher.partition
        if launcher.account:
            parameters["slurm_account"] = launcher.account
    executor.update_parameters(**parameters)
    return executor


def submit_jobs(
    run: Callable[..., dict],
    jobs: Sequence[Job],
    launcher: LauncherConfig,
    folder: Path,
    parallel: int,
    progress: Callable[[], None] = lambda: None,
) -> list[dict]:
    """Run ``run(kind, config, out_dir)`` for every job as a submitit job; results (or
    :func:`failure_record` for failed jobs) in the order of ``jobs``.

    ``progress`` is called as each job ends. On SLURM every job is submitted at once, as
    one array; submitit's local executor has no queue, so here at most ``max_running``
    (default ``parallel``) run at once.
    """
    if not jobs:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    executor = _executor(launcher, folder, len(jobs), parallel)
    suite_job = SuiteJob()
    if launcher.name == "slurm":
        with executor.batch():
            submitted = [executor.submit(suite_job, run, *job) for job in jobs]
        limit = len(jobs)
    else:
        submitted, limit = [], max(1, launcher.max_running or parallel)
    results: list[dict | None] = [None] * len(jobs)
    poll_s = 30.0 if launcher.name == "slurm" else 0.2
    running: dict[int, Any] = dict(enumerate(submitted))
    waiting = list(range(len(submitted), len(jobs)))
    while running or waiting:
        while waiting and len(running) < limit:
            index = waiting.pop(0)
            running[index] = executor.submit(suite_job, run, *jobs[index])
        for index, job in list(running.items()):
            if job.done():
                results[index] = _result(job)
                del running[index]
                progress()
        if running:
            time.sleep(poll_s)
    return results  # type: ignore[return-value]


def _result(job) -> dict:
    """The job's metrics, or a failure record with its log (stderr, where tracebacks go)."""
    from submitit.core.utils import FailedJobError, UncompletedJobError

    try:
        return job.result()
    except (FailedJobError, UncompletedJobError) as error:
        return failure_record(error, job.paths.stderr)
