"""Plotting helpers of the notebooks, usable from scripts: every one returns a Figure.

The figures do not use ``pyplot``: they work headless (``figure.savefig``) and inline in
Jupyter after ``%matplotlib inline``. Grouped by what they show:

- :mod:`imrkit.viz.codec`: the compressed stream (notebook 00).
- :mod:`imrkit.viz.pretext`: PMSP labels and CTP transforms (notebooks 01-03; paper
  Figures 4, 5-12, 13-14).
- :mod:`imrkit.viz.results`: training, evaluation and retrieval (notebooks 03-05; paper
  Figures 15-18).
"""

from imrkit.viz.base import (
    FRAME_TYPE_COLORS,
    HIT_COLOR,
    MISS_COLOR,
    PMSP_SCALE_COLORS,
    PlotInputError,
    markdown_table,
    new_figure,
    save_figure,
)
from imrkit.viz.codec import (
    frame_type_timeline,
    motion_arrows,
    motion_hsv,
    motion_to_rgb,
    raw_vs_accumulated,
    residual_image,
    storage_bars,
)
from imrkit.viz.pretext import (
    cell_box,
    ctp_grid,
    level_agreement,
    pmsp_predictions,
    pyramid_boxes,
    windows_over_frame,
)
from imrkit.viz.results import (
    accuracy_bars,
    confusion_matrix,
    loss_curves,
    retrieval_figure,
    retrieval_grid,
)

__all__ = [
    "FRAME_TYPE_COLORS",
    "HIT_COLOR",
    "MISS_COLOR",
    "PMSP_SCALE_COLORS",
    "PlotInputError",
    "accuracy_bars",
    "cell_box",
    "confusion_matrix",
    "ctp_grid",
    "frame_type_timeline",
    "level_agreement",
    "loss_curves",
    "markdown_table",
    "motion_arrows",
    "motion_hsv",
    "motion_to_rgb",
    "new_figure",
    "pmsp_predictions",
    "pyramid_boxes",
    "raw_vs_accumulated",
    "residual_image",
    "retrieval_figure",
    "retrieval_grid",
    "save_figure",
    "storage_bars",
    "windows_over_frame",
]
