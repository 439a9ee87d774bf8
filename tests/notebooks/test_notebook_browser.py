"""Notebooks 00 and 01 in a real JupyterLab, driven by headless Chromium (issue 12).

Starts JupyterLab from this venv on localhost, opens a copy of each notebook (parameters
pointed at the test's tiny dataset and output folder), runs all cells from the Run menu, and
checks the page: notebook 01's PMSP browser renders its controls and moving the video, the
first-GOP slider and the scales each changes the figure's image; notebook 00's figures render
and no cell shows an error. Screenshots go to the test's ``tmp_path``.

Needs the system browser (Debian's ``chromium``; ``.ci/run`` installs it) and the
``playwright`` package (dev extra) driving it; nothing downloads a browser. Without them the
test is skipped with the reason in pytest's summary.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import psutil
import pytest

from imrkit.data.processes import die_with_parent
from imrkit.notebook_runner import notebooks_dir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = Path(__file__).with_name("jupyterlab_driver.py")
pytestmark = [
    pytest.mark.notebooks,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="browser test skipped: no chromium on PATH (Debian: apt-get install chromium)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="browser test skipped: playwright is not installed",
    ),
]
# One attempt at a notebook: about 40 s here; a stall is cut off well before CI's limit.
ATTEMPT_S = float(os.environ.get("IMRKIT_BROWSER_ATTEMPT_S", 360))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_with_parameters(notebook: Path, dest: Path, **values) -> Path:
    """``notebook`` with its parameters cell's values replaced, as a user would edit them."""
    content = nbformat.read(notebook, as_version=4)
    cell = next(c for c in content.cells if "parameters" in c.metadata.get("tags", ()))
    cell.source += "".join(f"\n{name} = {value!r}" for name, value in values.items())
    nbformat.write(content, dest / notebook.name)
    return dest / notebook.name


@pytest.fixture(scope="module")
def lab(tmp_path_factory, sample_dataset):
    """A JupyterLab server on localhost over a folder holding copies of notebooks 00 and 01."""
    root = tmp_path_factory.mktemp("lab")
    out = root / "out"
    for name in ("00_codec_inspection.ipynb", "01_pmsp_labels.ipynb"):
        copy_with_parameters(
            notebooks_dir() / name, root, OUT_DIR=str(out), DATA_DIR=str(sample_dataset)
        )
    port, token = free_port(), secrets.token_hex(16)
    log = open(root / "jupyterlab.log", "w")  # noqa: SIM115 - closed at teardown
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            *(["--allow-root"] if os.geteuid() == 0 else []),  # CI containers run as root
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OMP_NUM_THREADS": "1", "JUPYTER_CONFIG_DIR": str(root / "config")},
        # Dies with pytest even when pytest-timeout ends it with os._exit (no teardown): a
        # server left running once kept a CI run alive to its deadline. Its kernels follow
        # (ipykernel exits when its parent is gone).
        preexec_fn=die_with_parent,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                log_path = root / "jupyterlab.log"
                raise RuntimeError(f"JupyterLab did not start: see {log_path}") from None
            time.sleep(1)
    yield url, token
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        kill_processes(server.pid)
    log.close()


def drive(lab, scenario: str, shots: Path) -> dict:
    """What ``jupyterlab_driver.py`` observed running ``scenario``, in a child process.

    The child gets ``ATTEMPT_S`` of wall clock; past it, it and every process it started
    (the Playwright driver, Chromium's) are killed and the attempt is made once more: a stalled
    browser must cost minutes, never the whole CI run. Two stalls fail the test with the steps
    the child had reached. Every wait here is bounded: the child writes to a log file, not a
    pipe, because a Chromium process that outlives the kill would hold a pipe open and a read
    to its end would never return.
    """
    url, token = lab
    result_path = shots / f"{scenario}.json"
    command = [
        sys.executable,
        str(DRIVER),
        CHROMIUM,
        url,
        token,
        scenario,
        str(shots),
        str(result_path),
    ]
    stalls = []
    for attempt in range(2):
        result_path.unlink(missing_ok=True)
        log_path = shots / f"{scenario}_attempt{attempt + 1}.log"
        with log_path.open("w") as log:
            # A session of its own, so that every process it starts is found and killed,
            # including Chromium's that were re-parented when their parent died.
            child = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
            stalled = False
            try:
                child.wait(timeout=ATTEMPT_S)
            except subprocess.TimeoutExpired:
                stalled = True
            finally:  # also what a finished child left behind
                kill_processes(child.pid, session=child.pid)
                child.wait(timeout=30)
        output = log_path.read_text()
        if stalled:
            stalls.append(f"attempt {attempt + 1} stalled after {ATTEMPT_S:.0f} s:\n{output}")
            if result_path.exists():  # it observed everything, then stalled closing Chromium
                return finished(result_path, stalls)
            shut_down_sessions(lab)  # the retry must not find a kernel still busy
            continue
        assert child.returncode == 0, f"{DRIVER.name} failed:\n{output}"
        return finished(result_path, stalls)
    pytest.fail("\n".join(stalls))


def finished(result_path: Path, stalls: list[str]) -> dict:
    """The observations a driver run wrote; a stall on the way is reported, not hidden."""
    result = json.loads(result_path.read_text())
    assert "error" not in result, result.get("error")
    if stalls:
        print(*stalls, sep="\n")
    return result


def shut_down_sessions(lab) -> None:
    """Close every notebook session (and its kernel) on the JupyterLab server."""
    url, token = lab
    headers = {"Authorization": f"token {token}"}

    def call(path: str, method: str = "GET") -> bytes:
        request = urllib.request.Request(f"{url}{path}", headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    for session in json.loads(call("/api/sessions")):
        call(f"/api/sessions/{session['id']}", method="DELETE")


def kill_processes(pid: int, session: int | None = None) -> None:
    """Kill ``pid``, its descendants and, given ``session``, every process in that session.

    Waits at most 30 s for them to go: a process that will not die is left, not waited for.
    """
    try:
        parent = psutil.Process(pid)
        processes = {parent, *parent.children(recursive=True)}
    except psutil.NoSuchProcess:
        processes = set()
    if session is not None:
        for process in psutil.process_iter():
            try:
                if os.getsid(process.pid) == session:
                    processes.add(process)
            except (ProcessLookupError, PermissionError):
                pass
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(list(processes), timeout=30)


def test_pmsp_browser_renders_and_redraws_in_jupyterlab(lab, tmp_path):
    result = drive(lab, "pmsp_browser", tmp_path)
    assert result["controls_visible"] == [True, True, True]
    assert result["errors_after_run"] == 0
    # The video, then the first-GOP slider, then the scales: each redrew the figure.
    images = result["images"]
    assert len(images) == 4 and all(images)
    assert len(set(images)) == 4  # each change gave an image not seen before
    assert result["errors_at_end"] == 0
    print(f"screenshots in {tmp_path}")


def test_codec_inspection_figures_render_without_errors(lab, tmp_path):
    result = drive(lab, "codec_inspection", tmp_path)
    expected = sum(
        1
        for c in nbformat.read(notebooks_dir() / "00_codec_inspection.ipynb", as_version=4).cells
        if c.cell_type == "code" and "viz." in c.source and "import" not in c.source
    )
    widths = result["figure_widths"]
    assert len(widths) >= expected > 0
    assert all(width > 0 for width in widths)  # decoded, not broken
    assert result["errors_at_end"] == 0
