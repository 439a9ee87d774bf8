"""Figures of the pretext tasks (SPEC section 3): notebooks 01, 02 and 03.

- :func:`pyramid_boxes`: PMSP labels as boxes over the I-frames, the paper's Figures 5-12.
- :func:`pmsp_predictions`: ground truth next to predictions, Figures 13-14.
- :func:`ctp_grid`: the four correspondence types of CTP, Figure 4.

Inputs: ``iframes`` ``T x H x W x 3`` uint8 (``CompressedClip.iframes``), PMSP labels as
:func:`imrkit.transforms.pmsp_labels.pmsp_labels` returns them, ``{(s, t): int array (t,)}``,
and motion
in the reader layout ``5T x H x W x 2``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Rectangle

from imrkit.transforms.pmsp_labels import SPATIAL_SCALES, TEMPORAL_SCALES, cell_edges
from imrkit.viz.base import (
    PMSP_SCALE_COLORS,
    PlotInputError,
    check_shape,
    image_axes,
    new_figure,
    show_image,
)
from imrkit.viz.codec import motion_to_rgb

# Thicker boxes for coarser scales, drawn first, so nested boxes that share an edge stay
# visible (a 2x2 cell and a 4x4 cell share the outer edge of the frame quadrant).
_LINE_WIDTHS = {2: 3.0, 3: 2.0, 4: 1.2}
_COLOR_NAMES = {2: "red", 3: "green", 4: "blue"}


def cell_box(label: int, cells: int, height: int, width: int) -> tuple[float, float, float, float]:
    """``(x, y, width, height)`` in image coordinates of the row-major cell ``label``.

    The cell is the one the labels sum over (:func:`imrkit.transforms.pmsp_labels.cell_edges`:
    pixels
    ``[round(i size / s), round((i + 1) size / s))``). Pixel centres sit on integers, so a
    cell of pixels ``[a, b)`` spans ``a - 0.5 .. b - 0.5``.
    """
    if not 0 <= label < cells * cells:
        raise PlotInputError(f"PMSP label {label} is outside [0, {cells * cells}) for s={cells}")
    row, col = divmod(int(label), cells)
    ys, xs = cell_edges(height, cells).tolist(), cell_edges(width, cells).tolist()
    return (
        xs[col] - 0.5,
        ys[row] - 0.5,
        float(xs[col + 1] - xs[col]),
        float(ys[row + 1] - ys[row]),
    )


def windows_over_frame(num_gops: int, t: int, frame: int) -> list[int]:
    """Windows n of temporal scale t that contain GOP ``frame`` (window n: [n, n + T - t])."""
    span = num_gops - t
    return [n for n in range(t) if n <= frame <= n + span]


def _as_label_arrays(
    labels: Mapping, scales: Sequence[int], temporal_scales: Sequence[int], num_gops: int
) -> dict[tuple[int, int], np.ndarray]:
    arrays = {}
    for t in temporal_scales:
        if not 1 <= t <= num_gops:
            raise PlotInputError(f"temporal scale t={t} needs 1 <= t <= {num_gops} I-frames")
        for s in scales:
            if (s, t) not in labels:
                raise PlotInputError(f"labels: level (s={s}, t={t}) missing; have {sorted(labels)}")
            level = np.asarray(labels[(s, t)]).reshape(-1)  # tensors and arrays alike
            if level.shape != (t,):
                raise PlotInputError(f"labels[({s}, {t})]: expected {t} windows, got {level.shape}")
            arrays[(s, t)] = level.astype(int)
    return arrays


def draw_pyramid(
    target: Figure | SubFigure,
    iframes: np.ndarray,
    labels: Mapping,
    *,
    scales: Sequence[int] = SPATIAL_SCALES,
    temporal_scales: Sequence[int] = TEMPORAL_SCALES,
) -> np.ndarray:
    """Draw the Figures 5-12 grid on ``target``; returns the ``len(t) x T`` axes.

    Row t shows every I-frame with, for each spatial scale s, the box of the label of each
    window that contains the frame: one box per scale at t = 1 (the whole clip), overlapping
    windows' boxes at t = 3 (the middle I-frame carries all three), the frame's own GOP at
    t = T.
    """
    iframes = check_shape("iframes", iframes, 4, 3)
    num_gops, height, width = iframes.shape[:3]
    arrays = _as_label_arrays(labels, scales, temporal_scales, num_gops)
    axes = image_axes(target, len(temporal_scales), num_gops)
    for row, t in enumerate(temporal_scales):
        axes[row, 0].set_ylabel(f"t = {t}")
        for frame in range(num_gops):
            ax = axes[row, frame]
            show_image(ax, iframes[frame])
            if row == 0:
                ax.set_title(f"I-frame {frame + 1}", fontsize="small")
            for s in sorted(scales):  # coarse first: fine boxes end up on top
                for n in windows_over_frame(num_gops, t, frame):
                    x, y, w, h = cell_box(arrays[(s, t)][n], s, height, width)
                    ax.add_patch(
                        Rectangle(
                            (x, y),
                            w,
                            h,
                            fill=False,
                            linewidth=_LINE_WIDTHS.get(s, 1.5),
                            edgecolor=PMSP_SCALE_COLORS.get(s, "white"),
                        )
                    )
    return axes


def pyramid_boxes(
    iframes: np.ndarray,
    labels: Mapping,
    *,
    scales: Sequence[int] = SPATIAL_SCALES,
    temporal_scales: Sequence[int] = TEMPORAL_SCALES,
    title: str | None = None,
) -> Figure:
    """PMSP labels as boxes over the I-frames, as in the paper's Figures 5-12 (Appendix B).

    Args:
        iframes: ``T x H x W x 3`` uint8, the clip's I-frames.
        labels: ``{(s, t): (t,) ints}`` from :func:`imrkit.transforms.pmsp_labels.pmsp_labels`.
        scales: spatial scales to draw (red 2x2, green 3x3, blue 4x4).
        temporal_scales: rows (t = 1, 3, 5).
        title: figure title.

    Returns:
        A ``len(temporal_scales) x T`` grid of images with one Rectangle per (scale, window
        covering the frame): for T = 5 and all scales 15 boxes at t = 1, 27 at t = 3, 15 at
        t = 5.
    """
    iframes = check_shape("iframes", iframes, 4, 3)
    num_gops, height, width = iframes.shape[:3]
    figure = new_figure(1.9 * num_gops, 1.9 * len(temporal_scales) * height / width + 0.5)
    draw_pyramid(figure, iframes, labels, scales=scales, temporal_scales=temporal_scales)
    legend = ", ".join(f"{_COLOR_NAMES.get(s, 'white')} {s}x{s}" for s in sorted(scales))
    figure.suptitle(title or f"PMSP labels ({legend})")
    return figure


def level_agreement(ground_truth: Mapping, predicted: Mapping) -> dict[tuple[int, int], float]:
    """Fraction of windows whose predicted cell equals the label, per level present in both."""
    return {
        level: float(
            np.mean(
                np.asarray(predicted[level]).reshape(-1)
                == np.asarray(ground_truth[level]).reshape(-1)
            )
        )
        for level in ground_truth
        if level in predicted
    }


def pmsp_predictions(
    iframes: np.ndarray,
    ground_truth: Mapping,
    predicted: Mapping,
    *,
    scales: Sequence[int] = SPATIAL_SCALES,
    temporal_scales: Sequence[int] = TEMPORAL_SCALES,
    title: str | None = None,
) -> Figure:
    """Ground-truth PMSP labels next to a model's predictions, as in Figures 13-14.

    Args:
        iframes: ``T x H x W x 3`` uint8.
        ground_truth, predicted: ``{(s, t): (t,) ints}`` (the predicted cells are the
            argmax of each level's head).
        scales, temporal_scales: as :func:`pyramid_boxes`.
        title: what the clip is; the title adds how many windows were predicted right.

    Returns:
        A figure of two sub-figures, "Ground-truth PMSP labels" and "Prediction results",
        each laid out as :func:`pyramid_boxes`.
    """
    iframes = check_shape("iframes", iframes, 4, 3)
    num_gops, height, width = iframes.shape[:3]
    figure = new_figure(2 * 1.7 * num_gops + 0.4, 1.7 * len(temporal_scales) * height / width + 0.8)
    left, right = figure.subfigures(1, 2, wspace=0.04)
    for target, labels, name in (
        (left, ground_truth, "Ground-truth PMSP labels"),
        (right, predicted, "Prediction results"),
    ):
        draw_pyramid(target, iframes, labels, scales=scales, temporal_scales=temporal_scales)
        target.suptitle(name)
    agreement = level_agreement(
        {k: v for k, v in ground_truth.items() if k[0] in scales and k[1] in temporal_scales},
        predicted,
    )
    windows = sum(t for _, t in agreement)
    right_windows = sum(agreement[(s, t)] * t for s, t in agreement)
    figure.suptitle(f"{title or 'PMSP'}: {right_windows:.0f} of {windows} windows predicted right")
    return figure


def gop_motion_thumbnails(motion: np.ndarray, num_gops: int) -> np.ndarray:
    """``5T x H x W x 2`` motion -> ``T x H x W x 2``: each GOP's P-frames summed.

    One picture per GOP of where and how it moves, to show GOP order at a glance.
    """
    motion = check_shape("motion", motion, 4, 2)
    if motion.shape[0] % num_gops:
        raise PlotInputError(
            f"motion: {motion.shape[0]} P-frames do not split into {num_gops} GOPs"
        )
    return motion.reshape(num_gops, -1, *motion.shape[1:]).sum(axis=1)


def _draw_motion_row(axes: Sequence[Axes], thumbnails: np.ndarray, speed: float) -> None:
    for ax, field in zip(axes, thumbnails, strict=True):
        show_image(ax, motion_to_rgb(field, speed))


def ctp_grid(
    iframes: np.ndarray,
    motion_by_type: Mapping[str, np.ndarray],
    *,
    notes: Mapping[str, str] | None = None,
    layout: Literal["reader", "model"] = "reader",
    title: str | None = None,
) -> Figure:
    """The correspondence types of CTP as in the paper's Figure 4 (Sec. 2.2).

    Each type takes two rows: the clip's I-frames (never transformed) and, below them, one
    motion thumbnail per GOP of the P streams it is paired with (aligned: its own; random:
    another clip's; shuffle: its GOPs permuted; shift: its GOPs rotated). Thumbnails sum the
    GOP's P-frames and are coloured by :func:`motion_to_rgb`, brightest at the row's fastest.

    Args:
        iframes: ``T x H x W x 3`` uint8.
        motion_by_type: type name -> motion after the transform, in row order (e.g. aligned,
            random, shuffle, shift): ``5T x H x W x 2`` arrays, or ``2 x 5T x H x W`` (arrays
            or CPU tensors, e.g. a transformed batch entry) with ``layout="model"``.
        notes: type name -> text for the motion row (e.g. "GOP order 3 1 4 0 2").
        layout: ``"reader"`` or ``"model"``, the layout of ``motion_by_type``'s values.
        title: figure title.

    Returns:
        A ``2 * len(types) x T`` grid of images.
    """
    iframes = check_shape("iframes", iframes, 4, 3)
    num_gops, height, width = iframes.shape[:3]
    if layout not in ("reader", "model"):
        raise PlotInputError(f"layout: 'reader' or 'model', got {layout!r}")
    thumbnails = {
        name: gop_motion_thumbnails(
            np.moveaxis(np.asarray(m), 0, -1) if layout == "model" else np.asarray(m), num_gops
        )
        for name, m in motion_by_type.items()
    }
    for name, stack in thumbnails.items():
        if stack.shape[1:3] != (height, width):
            raise PlotInputError(
                f"motion_by_type[{name!r}]: frames {stack.shape[1:3]} "
                f"differ from the I-frames {(height, width)}"
            )
    notes = notes or {}
    rows = 2 * len(thumbnails)
    figure = new_figure(1.6 * num_gops + 1.2, rows * 1.6 * height / width + 0.6)
    axes = image_axes(figure, rows, num_gops)
    for index, (name, stack) in enumerate(thumbnails.items()):
        top, bottom = axes[2 * index], axes[2 * index + 1]
        for gop, ax in enumerate(top):
            show_image(ax, iframes[gop])
        # One brightness scale per row: a slow clip stays visible next to a fast random
        # partner, and a permuted row keeps the scale of its own clip.
        _draw_motion_row(bottom, stack, float(np.hypot(stack[..., 0], stack[..., 1]).max()))
        top[0].set_ylabel(f"({chr(ord('a') + index)}) {name}\nI-frames", fontsize="small")
        bottom[0].set_ylabel("P: motion", fontsize="small")
        if name in notes:
            bottom[num_gops // 2].set_xlabel(notes[name], fontsize="small")
    figure.suptitle(title or "CTP correspondence types (I-frames above, P-frame motion below)")
    return figure
