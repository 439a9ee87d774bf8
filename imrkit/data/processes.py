"""How imrkit starts worker processes (dataset preparation, DataLoader workers)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context


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
    """
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
