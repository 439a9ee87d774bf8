"""Drives one notebook in a running JupyterLab through headless Chromium; run as a script.

``test_notebook_browser.py`` runs this in a child process under a hard wall-clock limit,
because a browser can block without any of Playwright's timeouts firing (a renderer that
never answers an input event or an evaluation, a ``close`` that never returns) and a hang
there once stalled a whole CI run. The child records what it observes in a JSON file; the
test asserts on it. Every step is printed, flushed, before it starts, so a run killed at the
limit says where it stood.

    python jupyterlab_driver.py CHROMIUM URL TOKEN SCENARIO SHOTS_DIR RESULT_JSON

``SCENARIO`` is ``pmsp_browser`` (notebook 01: its widget's controls and redraws) or
``codec_inspection`` (notebook 00: its figures).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

from playwright.sync_api import sync_playwright

# A cell may take minutes on a busy 2-core machine; the parent's limit bounds the whole run.
RUN_TIMEOUT_MS = int(float(os.environ.get("IMRKIT_BROWSER_TIMEOUT_S", 240)) * 1000)
# The PMSP browser's figure: an image inside its ipywidgets Output widget.
OUTPUT_WIDGET = ".widget-output"
NOTEBOOKS = {
    "pmsp_browser": "01_pmsp_labels.ipynb",
    "codec_inspection": "00_codec_inspection.ipynb",
}


def step(name: str) -> None:
    print(f"step: {name}", flush=True)


def open_and_run_all(page, url: str, token: str, name: str) -> None:
    step(f"open {name}")
    page.goto(f"{url}/lab/tree/{name}?token={token}&reset")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
    # JupyterLab may ask which kernel to start (the notebook names python3): accept it.
    try:
        page.locator(".jp-Dialog .jp-mod-accept").click(timeout=20_000)
    except Exception:  # no dialog: the kernel started by itself
        pass
    step("wait for the kernel")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    step("run all cells")
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()


def wait_until_done(page, shots: Path) -> None:
    """Every code cell has run: each prompt shows ``[n]``, then the kernel is idle.

    On a timeout the page is saved as ``shots/timeout.png`` before the error propagates.
    """
    step("wait for every cell")
    try:
        page.wait_for_function(
            """() => {
                const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
                return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
            }""",
            timeout=RUN_TIMEOUT_MS,
        )
    except Exception:
        page.screenshot(path=shots / "timeout.png", full_page=True)
        raise
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")


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


def pmsp_browser(page, shots: Path) -> dict:
    """Run notebook 01, then move the video, the first-GOP slider and the scales in turn."""
    wait_until_done(page, shots)
    page.screenshot(path=shots / "01_after_run_all.png", full_page=True)
    page.wait_for_selector(f"{OUTPUT_WIDGET} img")
    video = page.locator(".widget-dropdown select").first
    slider = page.locator(".widget-slider .noUi-handle").first
    scales = page.locator(".widget-select-multiple select").first
    video.scroll_into_view_if_needed()  # JupyterLab scrolls inside the notebook panel
    result = {
        "controls_visible": [c.is_visible() for c in (video, slider, scales)],
        "errors_after_run": error_outputs(page),
    }
    # The last cell left the browser at the last video, the last GOP, scales 2 and 4.
    images = [widget_image(page)]
    step("change the video")
    video.select_option(index=0)
    images.append(wait_for_new_image(page, images[-1]))
    page.screenshot(path=shots / "01_video_changed.png", full_page=True)
    step("move the first-GOP slider")
    slider.focus()
    page.keyboard.press("ArrowRight")  # the slider was reset to GOP 0 by the video change
    images.append(wait_for_new_image(page, images[-1]))
    page.screenshot(path=shots / "01_gop_changed.png", full_page=True)
    step("change the scales")
    scales.select_option(label=["3x3"])
    images.append(wait_for_new_image(page, images[-1]))
    page.screenshot(path=shots / "01_scales_changed.png", full_page=True)
    return {**result, "images": images, "errors_at_end": error_outputs(page)}


def codec_inspection(page, shots: Path) -> dict:
    """Run notebook 00 and measure every figure it rendered."""
    wait_until_done(page, shots)
    step("measure the figures")
    figures = page.locator(".jp-OutputArea-output img")
    widths = [figures.nth(i).evaluate("img => img.naturalWidth") for i in range(figures.count())]
    page.screenshot(path=shots / "00_after_run_all.png", full_page=True)
    return {"figure_widths": widths, "errors_at_end": error_outputs(page)}


def main(chromium: str, url: str, token: str, scenario: str, shots: str, result_path: str) -> int:
    shots_dir = Path(shots)
    with sync_playwright() as playwright:
        step("launch chromium")
        # No GPU in a VM: software GL in the renderer is one more thing that can stall.
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=["--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            open_and_run_all(page, url, token, NOTEBOOKS[scenario])
            result = globals()[scenario](page, shots_dir)
        except Exception:
            result = {"error": traceback.format_exc()}
        # Whole or absent: the parent may kill this process at any moment.
        partial = Path(result_path + ".part")
        partial.write_text(json.dumps(result))
        partial.replace(result_path)
        step("close chromium")
        browser.close()
    step("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
