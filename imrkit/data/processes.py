"""How imrkit starts worker processes (dataset preparation, the sample data, DataLoader workers)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def fresh_process_context() -> multiprocessing.context.BaseContext:
    """Start method for worker processes that is safe after OpenCV, PyAV or torch ran.

    Forking a process whose thread pools (OpenCV's, OpenMP's) have started can deadlock the
    child, which inherits their locks but not their threads (seen in the test suite: a
    DataLoader worker hung after earlier tests had used OpenCV); ``forkserver`` (``spawn``
    where it does not exist) starts workers from a fresh interpreter instead.
    """
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def single_threaded_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: one OpenCV and one torch thread per worker.

    Workers are the parallelism; a worker whose OpenCV or torch spawns a pool per core
    oversubscribes the machine (N workers x N threads) and scales worse with more workers.

    Workers also outlive the first preemption signal (SIGTERM or SIGUSR1; SLURM signals
    every process of a job): the training process finishes its step and checkpoints
    (:mod:`imrkit.train.preemption`), and a worker killed meanwhile would abort that step
    through the DataLoader's SIGCHLD handler. A second signal (the DataLoader's or
    multiprocessing's ``terminate`` of a stuck worker) ends the worker.
    """
    import signal

    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    handler = _ExitOnSecondSignal()
    for signum in (signal.SIGTERM, signal.SIGUSR1):
        signal.signal(signum, handler)


class _ExitOnSecondSignal:
    """A signal handler that ignores its first signal and exits on the next."""

    def __init__(self):
        self.seen = False

    def __call__(self, signum: int, frame) -> None:
        if self.seen:
            os._exit(128 + signum)
        self.seen = True


def die_with_parent(parent_pid: int | None = None) -> None:
    """Have Linux SIGKILL this process when the process that started it ends.

    A pool's workers otherwise outlive a parent that was killed outright (SIGKILL, an
    out-of-memory kill, a closed notebook kernel) and keep training or decoding for nobody.
    Use it as a pool's ``initializer`` or a ``subprocess`` ``preexec_fn``. ``parent_pid``: the
    parent this process expects; if that parent is already gone (it died before this ran),
    the process exits now. Elsewhere than Linux it does nothing.

    SIGKILL, not SIGTERM: a pool worker that caught SIGTERM to checkpoint would then wait
    forever on a task queue whose other end is gone; the runs it leaves are incomplete and
    a rerun redoes them.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def available_cpus() -> int:
    """CPUs this process may run on (respects affinity masks, e.g. under SLURM or taskset)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool of fresh interpreters that die with this process.

    Spawned, not forked (no inherited thread pools, see :func:`fresh_process_context`), and
    not from a forkserver either: each forkserver worker keeps the server alive, so a
    killed parent's workers would outlive it; spawned workers are this process's children
    and :func:`die_with_parent` ends them with it. As with any such pool, a script using it
    needs the ``if __name__ == "__main__":`` guard.
    """
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    )


@contextmanager
def process_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A :func:`worker_pool` that, on Ctrl-C or an error, cancels the jobs not yet started
    rather than running them to the end."""
    pool = worker_pool(workers)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def map_with_progress(
    func: Callable[[Item], Result],
    items: Sequence[Item],
    *,
    workers: int,
    desc: str,
    progress: bool = True,
    unit: str = "video",
    worker_died: Result | None = None,
) -> Iterator[tuple[Item, Result]]:
    """Yield ``(item, func(item))`` for every item, as each finishes, under a progress bar.

    Runs in this process when ``workers`` is 1 or there is at most one item; else in a
    :func:`process_pool` of ``min(workers, len(items))`` fresh processes (``func`` must then
    be picklable: a module-level function or a ``functools.partial`` of one), results coming
    in the order they finish. The bar advances once the caller has handled a result, so a
    line the caller prints for it (``tqdm.write``) lands above the bar.

    Args:
        func: what to run on each item.
        items: the jobs.
        workers: processes (1: this process).
        desc, unit: the tqdm bar's label and unit.
        progress: show the bar.
        worker_died: the result given to each item whose worker process died (e.g. FFmpeg
            crashed on a damaged file), and to the rest of the pool's; None re-raises
            :class:`BrokenProcessPool` instead. An exception ``func`` raises always
            propagates, and cancels the jobs not yet started.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=len(items), desc=desc, unit=unit, disable=not progress)
    if workers == 1 or len(items) <= 1:
        for item in items:
            yield item, func(item)
            bar.update()
    else:
        with process_pool(min(workers, len(items))) as pool:
            futures = {pool.submit(func, item): item for item in items}
            for future in as_completed(futures):
                try:
                    result = future.result()
                except BrokenProcessPool:
                    if worker_died is None:
                        raise
                    result = worker_died
                yield futures[future], result
                bar.update()
    bar.close()
