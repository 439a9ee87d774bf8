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

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from imrkit.notebook_runner import notebooks_dir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.notebooks,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="browser test skipped: no chromium on PATH (Debian: apt-get install chromium)",
    ),
]
# A cell may take minutes on a busy 2-core machine.
RUN_TIMEOUT_MS = int(float(os.environ.get("IMRKIT_BROWSER_TIMEOUT_S", 600)) * 1000)


# The PMSP browser's figure: an image inside its ipywidgets Output widget.
OUTPUT_WIDGET = ".widget-output"


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
        server.kill()
    log.close()


@pytest.fixture
def page(lab):
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="browser test skipped: playwright is not installed"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()


def open_and_run_all(page, lab, name: str) -> None:
    url, token = lab
    page.goto(f"{url}/lab/tree/{name}?token={token}&reset")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
    # JupyterLab may ask which kernel to start (the notebook names python3): accept it.
    try:
        page.locator(".jp-Dialog .jp-mod-accept").click(timeout=20_000)
    except Exception:  # no dialog: the kernel started by itself
        pass
    # Wait for the kernel before running (the toolbar shows its status as idle).
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()


def wait_until_done(page, shots: Path) -> None:
    """Every code cell has run: no prompt shows ``[*]`` or is empty, the kernel is idle.

    On a timeout the page is saved as ``shots/timeout.png`` before the error propagates.
    """
    try:
        _wait_for_prompts(page)
    except Exception:
        page.screenshot(path=shots / "timeout.png", full_page=True)
        raise
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")


def _wait_for_prompts(page) -> None:
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=RUN_TIMEOUT_MS,
    )


def error_outputs(page) -> int:
    return page.locator(
        "[data-mime-type='application/vnd.jupyter.stderr'], .jp-OutputArea-output.jp-mod-error"
    ).count()


def widget_image(page) -> str:
    return page.locator(f"{OUTPUT_WIDGET} img").first.get_attribute("src")


def wait_for_new_image(page, old: str) -> str:
    page.wait_for_function(
        """([old, selector]) => {
            const img = document.querySelector(selector);
            return img && img.getAttribute('src') !== old;
        }""",
        arg=[old, f"{OUTPUT_WIDGET} img"],
        timeout=RUN_TIMEOUT_MS,
    )
    return widget_image(page)


def test_pmsp_browser_renders_and_redraws_in_jupyterlab(page, lab, tmp_path):
    open_and_run_all(page, lab, "01_pmsp_labels.ipynb")
    wait_until_done(page, tmp_path)
    page.screenshot(path=tmp_path / "01_after_run_all.png", full_page=True)
    page.wait_for_selector(f"{OUTPUT_WIDGET} img")
    video = page.locator(".widget-dropdown select").first
    slider = page.locator(".widget-slider .noUi-handle").first
    scales = page.locator(".widget-select-multiple select").first
    video.scroll_into_view_if_needed()  # JupyterLab scrolls inside the notebook panel
    for control in (video, slider, scales):
        assert control.is_visible()
    assert error_outputs(page) == 0

    # The last cell left the browser at the last video, the last GOP, scales 2 and 4.
    image = widget_image(page)
    video.select_option(index=0)
    image = wait_for_new_image(page, image)
    page.screenshot(path=tmp_path / "01_video_changed.png", full_page=True)
    slider.focus()
    page.keyboard.press("ArrowRight")  # the slider was reset to GOP 0 by the video change
    image = wait_for_new_image(page, image)
    page.screenshot(path=tmp_path / "01_gop_changed.png", full_page=True)
    scales.select_option(label=["3x3"])
    wait_for_new_image(page, image)
    page.screenshot(path=tmp_path / "01_scales_changed.png", full_page=True)
    assert error_outputs(page) == 0
    print(f"screenshots in {tmp_path}")


def test_codec_inspection_figures_render_without_errors(page, lab, tmp_path):
    open_and_run_all(page, lab, "00_codec_inspection.ipynb")
    wait_until_done(page, tmp_path)
    figures = page.locator(".jp-OutputArea-output img")
    expected = sum(
        1
        for c in nbformat.read(notebooks_dir() / "00_codec_inspection.ipynb", as_version=4).cells
        if c.cell_type == "code" and "viz." in c.source and "import" not in c.source
    )
    assert figures.count() >= expected > 0
    for index in range(figures.count()):
        assert figures.nth(index).evaluate("img => img.naturalWidth") > 0  # decoded, not broken
    assert error_outputs(page) == 0
    page.screenshot(path=tmp_path / "00_after_run_all.png", full_page=True)
