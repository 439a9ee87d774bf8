"""Interactive browsers for notebooks (ipywidgets); notebook 01 uses :class:`PMSPBrowser`.

A browser is a small class: ``_create_ui`` builds the controls, every control calls
``update`` when its value changes, and ``update`` recomputes the figure and puts it into an
``Output`` widget. Tests drive it without a browser by setting control values (which calls
``update`` through the observers) and reading ``browser.figure``.

The figure goes into the ``Output`` widget by setting the widget's ``outputs`` state, never by
capturing ``display()`` inside ``with output:``. Capturing makes a headless client (nbclient,
so papermill and ``imrkit notebooks``) mimic the widget and send comm messages to the kernel
on the shell channel while it awaits the cell's ``execute_reply`` on that same socket; with
pyzmq's edge-triggered asyncio sockets that wait can miss the reply and never wake, which hung
``papermill 01_pmsp_labels.ipynb`` at the browser cell (issue 12, BENCHMARKS.md "notebooks
soak"). Setting ``outputs`` is one state update the client only records.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from imrkit.errors import ImrkitError
from imrkit.transforms.pmsp_labels import SPATIAL_SCALES as PMSP_SPATIAL_SCALES
from imrkit.transforms.pmsp_labels import TEMPORAL_SCALES as PMSP_TEMPORAL_SCALES
from imrkit.viz.pretext import pyramid_boxes

# (path, start_gop, num_gops) -> an object with .iframes (T x H x W x 3) and .motion
# (5T x H x W x 2), i.e. a CompressedClip.
ClipLoader = Callable[[Path, int, int], object]


def _read_clip(path: Path, start_gop: int, num_gops: int):
    from imrkit.codec.reader import read_clip

    return read_clip(path, start_gop, num_gops)


def _count_gops(path: Path) -> int:
    from imrkit.codec.reader import probe

    return probe(path).num_gops


def _pmsp_labels(motion: np.ndarray, num_gops: int) -> Mapping:
    from imrkit.transforms.pmsp_labels import pmsp_labels

    return pmsp_labels(motion, num_gops)


def _display_output(value) -> dict:
    """``value`` as one ``display_data`` output of the notebook format (PNG for a figure)."""
    from IPython import get_ipython

    data, metadata = get_ipython().display_formatter.format(value)
    return {"output_type": "display_data", "data": data, "metadata": metadata}


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipywidgets depends on IPython
        return False
    return getattr(get_ipython(), "kernel", None) is not None


class PMSPBrowser:
    """Browse PMSP labels (the paper's Figures 5-12) over any video, GOP and scales.

    Controls: ``video`` (dropdown), ``start_gop`` (slider, bounded by the video's GOPs),
    ``scales`` (which spatial scales' boxes to draw). Each change redraws
    :func:`imrkit.viz.pyramid_boxes` for clip ``[start_gop, start_gop + num_gops)``.

    Args:
        videos: video files to choose from.
        num_gops: GOPs per clip, T (PMSP's temporal scales need T >= 5).
        temporal_scales: rows of the figure.
        load_clip: ``(path, start_gop, num_gops) -> CompressedClip``; default
            :func:`imrkit.codec.reader.read_clip`.
        count_gops: ``path -> number of GOPs``; default from :func:`imrkit.codec.reader.probe`.
        compute_labels: ``(motion, num_gops) -> {(s, t): labels}``; default
            :func:`imrkit.transforms.pmsp_labels.pmsp_labels`.

    Example:
        >>> from imrkit.data.files import find_videos
        >>> browser = PMSPBrowser(find_videos("data/sample"))  # doctest: +SKIP
        >>> browser.show()  # doctest: +SKIP
    """

    def __init__(
        self,
        videos: Sequence[str | os.PathLike],
        *,
        num_gops: int = 5,
        temporal_scales: Sequence[int] = PMSP_TEMPORAL_SCALES,
        load_clip: ClipLoader | None = None,
        count_gops: Callable[[Path], int] | None = None,
        compute_labels: Callable[[np.ndarray, int], Mapping] | None = None,
    ):
        self.videos = [Path(v) for v in videos]
        if not self.videos:
            raise ImrkitError("PMSPBrowser: no videos to browse")
        self.num_gops = num_gops
        self.temporal_scales = tuple(temporal_scales)
        self._load_clip = load_clip or _read_clip
        self._count_gops = count_gops or _count_gops
        self._compute_labels = compute_labels or _pmsp_labels
        self._clips: dict[tuple[Path, int], tuple[object, Mapping]] = {}
        self._syncing = False
        self.figure: Figure | None = None
        self.labels: Mapping | None = None
        self.redraws = 0  # how many times update() drew a figure (tests count on it)
        self._create_ui()
        self.update()

    def _create_ui(self) -> None:
        self.video = widgets.Dropdown(
            options=[(f"{p.parent.name}/{p.name}", i) for i, p in enumerate(self.videos)],
            value=0,
            description="video",
            layout=widgets.Layout(width="420px"),
        )
        self.start_gop = widgets.IntSlider(
            value=0, min=0, max=self._last_start(self.videos[0]), description="first GOP"
        )
        self.scales = widgets.SelectMultiple(
            options=[(f"{s}x{s}", s) for s in PMSP_SPATIAL_SCALES],
            value=PMSP_SPATIAL_SCALES,
            description="scales",
            rows=len(PMSP_SPATIAL_SCALES),
        )
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.video.observe(self._on_video, names="value")
        self.start_gop.observe(self._on_change, names="value")
        self.scales.observe(self._on_change, names="value")
        controls = widgets.HBox([widgets.VBox([self.video, self.start_gop]), self.scales])
        self.ui = widgets.VBox([controls, self.status, self.output])

    def _last_start(self, path: Path) -> int:
        """The last first-GOP that still leaves ``num_gops`` GOPs in the video."""
        available = self._count_gops(path)
        if available < self.num_gops:
            raise ImrkitError(f"{path}: {available} GOPs, the browser needs {self.num_gops}")
        return available - self.num_gops

    def _on_video(self, change) -> None:
        # Re-bound the slider without letting its own observer redraw for the old video.
        self._syncing = True
        try:
            self.start_gop.value = 0
            self.start_gop.max = self._last_start(self.videos[self.video.value])
        finally:
            self._syncing = False
        self.update()

    def _on_change(self, change) -> None:
        if not self._syncing:
            self.update()

    def clip_and_labels(self, path: Path, start_gop: int) -> tuple[object, Mapping]:
        """The clip at ``start_gop`` and its PMSP labels, decoded once per (video, GOP)."""
        key = (path, start_gop)
        if key not in self._clips:
            clip = self._load_clip(path, start_gop, self.num_gops)
            self._clips[key] = (clip, self._compute_labels(clip.motion, self.num_gops))
        return self._clips[key]

    def update(self) -> Figure:
        """Redraw the figure for the current control values; returns it."""
        path = self.videos[self.video.value]
        start = self.start_gop.value
        clip, self.labels = self.clip_and_labels(path, start)
        scales = tuple(sorted(self.scales.value))
        self.figure = pyramid_boxes(
            clip.iframes,
            self.labels,
            scales=scales,
            temporal_scales=self.temporal_scales,
            title=f"{path.name}: GOPs {start}-{start + self.num_gops - 1}",
        )
        t1 = ", ".join(f"{s}x{s}: cell {int(np.ravel(self.labels[(s, 1)])[0])}" for s in scales)
        self.status.value = f"<b>{path.name}</b> whole-clip (t = 1) labels: {t1 or 'none'}"
        self.redraws += 1
        if _in_kernel():  # outside a kernel (tests, scripts) there is nothing to draw into
            self.output.outputs = (_display_output(self.figure),)
        return self.figure

    def show(self) -> None:
        """Display the browser's controls and figure in the notebook (``self.ui`` is the widget)."""
        if _in_kernel():
            from IPython.display import display

            display(self.ui)
