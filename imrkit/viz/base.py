"""Figure plumbing shared by every plotting helper.

Helpers build :class:`matplotlib.figure.Figure` objects directly instead of going through
``pyplot``: no global backend is touched, nothing is kept alive by pyplot's figure manager,
and the same code runs headless (Agg is picked when a figure is saved) and inline in Jupyter
(``%matplotlib inline`` registers the PNG formatter for ``Figure``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from imrkit.errors import ImrkitError

# PMSP spatial scale -> box colour, as in the paper's Figures 5-14 (red 2x2, green 3x3,
# blue 4x4). Pure RGB so that the colours survive thumbnails and colour-blind palettes differ.
PMSP_SCALE_COLORS = {2: "red", 3: "lime", 4: "blue"}
# Retrieval neighbours of the query's class and of another class.
HIT_COLOR = "limegreen"
MISS_COLOR = "crimson"
FRAME_TYPE_COLORS = {"I": "tab:red", "P": "tab:blue", "B": "tab:green"}


class PlotInputError(ImrkitError, ValueError):
    """A plotting helper got arrays of the wrong shape or inconsistent lengths."""


def new_figure(width: float, height: float) -> Figure:
    """A pyplot-free figure of ``width`` x ``height`` inches with constrained layout."""
    return Figure(figsize=(width, height), layout="constrained")


def image_axes(figure: Figure, rows: int, cols: int) -> np.ndarray:
    """A ``rows x cols`` object array of axes with ticks and frames hidden, for images."""
    axes = np.asarray(figure.subplots(rows, cols, squeeze=False))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return axes


def show_image(ax: Axes, image: np.ndarray, **kwargs) -> None:
    """Draw an H x W (x 3) image with pixel (0, 0) in the top-left corner."""
    ax.imshow(image, interpolation="nearest", **kwargs)
    ax.set_xlim(-0.5, image.shape[1] - 0.5)
    ax.set_ylim(image.shape[0] - 0.5, -0.5)


def check_shape(name: str, array: np.ndarray, ndim: int, last: int | None = None) -> np.ndarray:
    """Return ``array`` as ndarray, raising PlotInputError if its rank or last axis is wrong."""
    array = np.asarray(array)
    if array.ndim != ndim or (last is not None and array.shape[-1] != last):
        layout = f"{ndim} dims" + (f" ending in {last}" if last is not None else "")
        raise PlotInputError(f"{name}: expected {layout}, got shape {array.shape}")
    return array


def save_figure(figure: Figure, path: str | os.PathLike, *, dpi: int = 100) -> Path:
    """Write ``figure`` to ``path`` (format from the suffix), creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    return path


def markdown_table(
    rows: Sequence[dict], columns: Sequence[str] | None = None, *, digits: int = 3
) -> str:
    """A GitHub-flavoured markdown table of ``rows`` (dicts), floats rounded to ``digits``.

    Notebooks display it with ``IPython.display.Markdown`` so results read as tables without
    pandas.
    """
    if not rows:
        return ""
    columns = list(columns or rows[0].keys())

    def cell(value) -> str:
        if isinstance(value, float | np.floating):
            return f"{value:.{digits}f}"
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
