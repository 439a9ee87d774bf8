"""Worker pools die with the process that started them, even when it is killed outright."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's"
)

# A job that says where it runs, then works for far longer than the test waits.
SLOW_JOB = textwrap.dedent(
    """
    import os, pathlib, time

    def run(*args):
        pathlib.Path(os.environ["PID_DIR"], str(os.getpid())).touch()
        time.sleep(300)
    """
)

POOLS = {
    "process_pool": textwrap.dedent(
        """
        from imrkit.data.processes import process_pool
        import slow_job

        with process_pool(2) as pool:
            futures = [pool.submit(slow_job.run) for _ in range(2)]
            [f.result() for f in futures]
        """
    ),
    "suite": textwrap.dedent(
        """
        import imrkit.experiment.suite as suite
        import slow_job

        suite.run_job = slow_job.run  # what the suite's workers run, pickled by name
        suite.run_jobs([("pretrain", None, None)] * 2, parallel=2)
        """
    ),
}


@pytest.mark.parametrize("pool", sorted(POOLS))
def test_workers_die_when_their_parent_is_killed(pool, tmp_path):
    (tmp_path / "slow_job.py").write_text(SLOW_JOB)
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {
        **os.environ,
        "PID_DIR": str(pids),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    }
    parent = subprocess.Popen(
        [sys.executable, "-c", POOLS[pool]], cwd=tmp_path, env=env, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
            assert parent.poll() is None, "the pool's parent ended before its workers started"
            time.sleep(0.2)
        workers = [psutil.Process(int(p.name)) for p in pids.iterdir()]
        assert len(workers) == 2 and all(w.is_running() for w in workers)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        gone, alive = psutil.wait_procs(workers, timeout=30)
        assert not alive, f"workers outlived their killed parent: {alive}"
    finally:
        parent.kill()
        parent.wait(timeout=30)
        for path in pids.iterdir():
            if psutil.pid_exists(int(path.name)):
                psutil.Process(int(path.name)).kill()
