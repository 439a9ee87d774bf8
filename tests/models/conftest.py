"""Model tests run single-threaded.

On a 2-core machine shared with other jobs (CI runners, the rest of the suite in parallel),
PyTorch's OpenMP regions wait at their barriers for threads the OS has descheduled, which made
these tests 20x slower with 2 threads than with 1 (see BENCHMARKS.md, model section).
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
