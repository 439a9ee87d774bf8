"""Shared fixtures: small videos generated on the fly, never downloaded."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def single_torch_thread():
    """Run the suite with one torch thread.

    The tensors in tests are tiny, and on a 2-core machine shared with other jobs (a CI
    runner, DataLoader workers, the 2-process DDP test) OpenMP threads waiting at their
    barriers for descheduled peers made model tests up to 20x slower with 2 threads than with 1
    (see BENCHMARKS.md, model section).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def sample_dataset(tmp_path_factory):
    """A tiny copy of the embedded sample dataset (UCF-101 layout), built once per run."""
    from imrkit.data.sample import SampleConfig, make_sample

    root = tmp_path_factory.mktemp("sample")
    make_sample(root, SampleConfig(videos_per_class=2, num_gops=6, seed=0, workers=1))
    return root
