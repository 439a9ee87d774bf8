"""Figures of what a compressed video holds (SPEC section 1): notebook 00.

Inputs are the arrays of a :class:`imrkit.codec.reader.CompressedClip` (or of
``imrkit.inspect_frames``), so a script can draw the same figures without a notebook:

- frames: ``H x W x 3`` uint8 RGB;
- motion: ``H x W x 2`` float32 ``(x, y)`` displacement in pixels, reference -> current;
- residual: ``H x W x 3`` int16, decoded frame minus its motion-compensated prediction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import hsv_to_rgb
from matplotlib.figure import Figure

from imrkit.viz.base import (
    FRAME_TYPE_COLORS,
    PlotInputError,
    check_shape,
    image_axes,
    new_figure,
    show_image,
)


def frame_type_timeline(
    frame_types: Sequence[str],
    *,
    sizes: Sequence[float] | None = None,
    selected: Sequence[int] | None = None,
    title: str | None = None,
) -> Figure:
    """One bar per frame, coloured by picture type (I red, P blue): the GOP structure.

    Args:
        frame_types: ``'I'``/``'P'`` per frame in display order (length N).
        sizes: bytes per coded frame; bar heights (unit bars when omitted). I-frames are
            several times larger than P-frames, which is why the codec sends them rarely.
        selected: frame indices a clip samples (``CompressedClip.frame_indices``: the I-frame
            and P positions 2, 4, ..., 10 of each GOP, SPEC section 1), marked with dots.
        title: axes title.

    Returns:
        A figure whose axes hold exactly N bar rectangles.
    """
    types = [str(t) for t in frame_types]
    heights = np.ones(len(types)) if sizes is None else np.asarray(sizes, dtype=float)
    if heights.shape != (len(types),):
        raise PlotInputError(f"sizes: expected {len(types)} values, got shape {heights.shape}")
    figure = new_figure(max(6.0, min(16.0, len(types) * 0.12)), 2.6)
    ax = figure.subplots()
    x = np.arange(len(types))
    colors = [FRAME_TYPE_COLORS.get(t, "gray") for t in types]
    ax.bar(x, heights, width=0.85, color=colors)
    for kind in sorted(set(types)):  # legend entries without adding bars to the axes
        ax.plot([], [], "s", color=FRAME_TYPE_COLORS.get(kind, "gray"), label=f"{kind}-frame")
    if selected is not None:
        selected = np.asarray(selected, dtype=int)
        ax.plot(selected, heights[selected] * 1.05, "k.", markersize=4, label="sampled")
    ax.set_xlim(-1, len(types))
    ax.set_xlabel("frame")
    ax.set_ylabel("bytes" if sizes is not None else "")
    if sizes is None:
        ax.set_yticks([])
    ax.legend(loc="upper right", fontsize="small", ncols=3)
    ax.set_title(title or f"{len(types)} frames, {types.count('I')} I-frames")
    return figure


def block_centres(size: int, block_size: int) -> np.ndarray:
    """Pixel centres of the macroblocks along an axis of ``size`` pixels (8, 24, 40, ...)."""
    return np.arange(block_size // 2, size, block_size)


def draw_motion_arrows(
    ax: Axes,
    frame: np.ndarray,
    motion: np.ndarray,
    *,
    block_size: int = 16,
    min_magnitude: float = 0.0,
    magnify: float = 1.0,
    color: str = "yellow",
):
    """Draw ``frame`` with one arrow per moving block on ``ax``; returns the Quiver.

    The dense field is sampled at block centres (it is constant inside a block). Each arrow
    ends at the block's centre in the current frame and points along the motion; at
    ``magnify=1`` it starts where the block was in the reference frame (SPEC section 5: dst
    is the block centre). Blocks with ``|v| <= min_magnitude`` (skipped, static) get none.
    """
    frame = check_shape("frame", frame, 3, 3)
    motion = check_shape("motion", motion, 3, 2)
    if motion.shape[:2] != frame.shape[:2]:
        raise PlotInputError(f"motion {motion.shape[:2]} and frame {frame.shape[:2]} differ")
    ys, xs = np.meshgrid(
        block_centres(frame.shape[0], block_size),
        block_centres(frame.shape[1], block_size),
        indexing="ij",
    )
    vectors = motion[ys, xs]  # blocks_y x blocks_x x 2
    moving = np.hypot(vectors[..., 0], vectors[..., 1]) > min_magnitude
    dx, dy = magnify * vectors[moving, 0], magnify * vectors[moving, 1]
    show_image(ax, frame)
    # angles/scale in data units so an arrow is exactly the displacement; y grows downwards.
    return ax.quiver(
        xs[moving] - dx,
        ys[moving] - dy,
        dx,
        dy,
        angles="xy",
        scale_units="xy",
        scale=1,
        color=color,
        width=0.004,
        headwidth=3,
    )


def motion_arrows(
    frame: np.ndarray,
    motion: np.ndarray,
    *,
    block_size: int = 16,
    min_magnitude: float = 0.0,
    magnify: float | None = None,
    title: str | None = None,
) -> Figure:
    """Block motion vectors as arrows over the frame they predict.

    Args:
        frame: ``H x W x 3`` uint8, the P-frame (decoded) the vectors belong to.
        motion: ``H x W x 2`` dense motion of that frame, ``(x, y)`` pixels.
        block_size: macroblock size of the codec (16 for MPEG-4 Part 2, 8 with ``+mv4``).
        min_magnitude: blocks moving at most this much get no arrow.
        magnify: arrow length per pixel of motion; default: true length, or longer so the
            fastest block's arrow is one block long (frame-to-frame motion is often a
            pixel or two, invisible at true length).
        title: axes title.

    Returns:
        A figure with one Quiver whose ``N`` is the number of moving blocks.
    """
    figure = new_figure(6.0, 6.0 * frame.shape[0] / max(frame.shape[1], 1) + 0.5)
    ax = image_axes(figure, 1, 1)[0, 0]
    if magnify is None:
        fastest = float(np.hypot(motion[..., 0], motion[..., 1]).max()) if motion.size else 0.0
        magnify = max(1.0, block_size / fastest) if fastest > 0 else 1.0
    quiver = draw_motion_arrows(
        ax, frame, motion, block_size=block_size, min_magnitude=min_magnitude, magnify=magnify
    )
    scale = f", arrows x{magnify:.1f}" if magnify != 1 else ""
    ax.set_title(title or f"block motion vectors ({quiver.N} moving blocks{scale})")
    return figure


def motion_to_rgb(motion: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour a dense motion field: hue = direction, brightness = speed.

    Args:
        motion: ``... x 2`` ``(x, y)`` displacement in image coordinates (y down).
        max_magnitude: speed shown at full brightness (default: the field's maximum).

    Returns:
        ``... x 3`` float RGB in [0, 1]: motion to the right is red, down yellow-green,
        left cyan, up violet; no motion is black.
    """
    motion = np.asarray(motion, dtype=np.float32)
    if motion.shape[-1] != 2:
        raise PlotInputError(f"motion: expected a last axis of 2, got shape {motion.shape}")
    magnitude = np.hypot(motion[..., 0], motion[..., 1])
    if max_magnitude is None:
        max_magnitude = float(magnitude.max()) if magnitude.size else 0.0
    hue = (np.arctan2(motion[..., 1], motion[..., 0]) / (2 * np.pi)) % 1.0
    value = np.clip(magnitude / max(max_magnitude, 1e-6), 0.0, 1.0)
    return hsv_to_rgb(np.stack([hue, np.ones_like(hue), value], axis=-1))


def _colour_wheel(ax: Axes, size: int = 65) -> None:
    """A legend for motion_to_rgb: the colour of each displacement around the centre."""
    offsets = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    grid = np.stack(np.meshgrid(offsets, offsets, indexing="xy"), axis=-1)
    wheel = motion_to_rgb(grid, max_magnitude=1.0)
    wheel[np.hypot(grid[..., 0], grid[..., 1]) > 1.0] = 1.0
    show_image(ax, wheel)
    ax.set_title("direction", fontsize="small")


def motion_hsv(
    motion: np.ndarray,
    *,
    frame: np.ndarray | None = None,
    max_magnitude: float | None = None,
    title: str | None = None,
) -> Figure:
    """Dense motion as HSV colour (hue direction, value speed), next to its frame.

    Args:
        motion: ``H x W x 2`` dense motion, ``(x, y)`` pixels.
        frame: optional ``H x W x 3`` frame drawn on the left.
        max_magnitude: speed at full brightness (default: the field's maximum).
        title: title of the motion panel.

    Returns:
        A figure with panels [frame,] motion colour, colour-wheel legend.
    """
    motion = check_shape("motion", motion, 3, 2)
    panels = 3 if frame is not None else 2
    figure = new_figure(3.2 * panels, 3.2 * motion.shape[0] / max(motion.shape[1], 1) + 0.6)
    axes = image_axes(figure, 1, panels)[0]
    if frame is not None:
        show_image(axes[0], check_shape("frame", frame, 3, 3))
        axes[0].set_title("frame")
    speed = float(np.hypot(motion[..., 0], motion[..., 1]).max())
    show_image(axes[-2], motion_to_rgb(motion, max_magnitude))
    axes[-2].set_title(title or f"motion (max {speed:.1f} px)")
    _colour_wheel(axes[-1])
    return figure


def residual_limit(residual: np.ndarray, percentile: float = 99.0) -> float:
    """A symmetric colour range for residuals that ignores a few extreme pixels."""
    values = np.abs(np.asarray(residual, dtype=np.float32))
    return max(float(np.percentile(values, percentile)) if values.size else 0.0, 1.0)


def draw_residual(ax: Axes, residual: np.ndarray, limit: float):
    """Draw the channel-mean of an ``H x W x 3`` residual, zero white, on ``ax``."""
    signed = np.asarray(residual, dtype=np.float32).mean(axis=-1)
    show_image(ax, signed, cmap="RdBu_r", vmin=-limit, vmax=limit)
    return ax.images[-1]


def residual_image(
    residual: np.ndarray,
    *,
    frame: np.ndarray | None = None,
    limit: float | None = None,
    title: str | None = None,
) -> Figure:
    """A residual as a signed heat map (red: the frame is brighter than its prediction).

    Args:
        residual: ``H x W x 3`` int16 residual of one P-frame.
        frame: optional ``H x W x 3`` decoded frame drawn on the left.
        limit: colour range ``[-limit, limit]`` (default: 99th percentile of ``|residual|``).
        title: title of the residual panel.

    Returns:
        A figure whose residual image has symmetric colour limits and a colour bar.
    """
    residual = check_shape("residual", residual, 3, 3)
    limit = residual_limit(residual) if limit is None else float(limit)
    panels = 2 if frame is not None else 1
    figure = new_figure(3.6 * panels + 0.6, 3.6 * residual.shape[0] / residual.shape[1] + 0.6)
    axes = image_axes(figure, 1, panels)[0]
    if frame is not None:
        show_image(axes[0], check_shape("frame", frame, 3, 3))
        axes[0].set_title("frame")
    image = draw_residual(axes[-1], residual, limit)
    axes[-1].set_title(title or "residual (mean over RGB)")
    figure.colorbar(image, ax=axes[-1], shrink=0.8)
    return figure


def raw_vs_accumulated(
    motion: np.ndarray,
    accumulated_motion: np.ndarray,
    residual: np.ndarray,
    accumulated_residual: np.ndarray,
    *,
    p_positions: Sequence[int] = (2, 4, 6, 8, 10),
    title: str | None = None,
) -> Figure:
    """Per-frame versus accumulated (CoViAR) motion and residuals of one GOP.

    Per-frame motion points to the previous frame; accumulated motion is traced back to the
    GOP's I-frame, so it grows along the GOP, and so does the accumulated residual.

    Args:
        motion, accumulated_motion: ``P x H x W x 2`` for the GOP's sampled P-frames.
        residual, accumulated_residual: ``P x H x W x 3``.
        p_positions: the P-frames' positions in the GOP (column titles).
        title: figure title.

    Returns:
        A 4 x P grid: rows motion, accumulated motion, residual, accumulated residual, each
        row pair on one colour scale so the two readings compare directly.
    """
    arrays = [
        check_shape("motion", motion, 4, 2),
        check_shape("accumulated_motion", accumulated_motion, 4, 2),
        check_shape("residual", residual, 4, 3),
        check_shape("accumulated_residual", accumulated_residual, 4, 3),
    ]
    if len({a.shape[:3] for a in arrays}) != 1 or len(p_positions) != arrays[0].shape[0]:
        raise PlotInputError(
            "raw_vs_accumulated: arrays and p_positions disagree on "
            f"P x H x W: {[a.shape for a in arrays]}, {list(p_positions)}"
        )
    num_p, height, width = arrays[0].shape[:3]
    speed = max(float(np.hypot(m[..., 0], m[..., 1]).max()) for m in arrays[:2])
    limit = max(residual_limit(r) for r in arrays[2:])
    figure = new_figure(2.2 * num_p + 1.6, 4 * 2.2 * height / width + 0.8)
    axes = image_axes(figure, 4, num_p)
    names = ["motion", "accumulated\nmotion", "residual", "accumulated\nresidual"]
    for row, (name, stack) in enumerate(zip(names, arrays, strict=True)):
        axes[row, 0].set_ylabel(name)
        for col in range(num_p):
            if row < 2:
                show_image(axes[row, col], motion_to_rgb(stack[col], speed))
            else:
                draw_residual(axes[row, col], stack[col], limit)
            if row == 0:
                axes[row, col].set_title(f"P-frame {p_positions[col]}")
    figure.suptitle(title or f"per-frame vs accumulated (max {speed:.1f} px)")
    return figure


def _human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def storage_bars(sizes: Mapping[str, float], *, title: str | None = None) -> Figure:
    """Bytes to store the same frames in several forms (e.g. MPEG-4, JPEG, raw RGB).

    Args:
        sizes: name -> bytes, in display order.
        title: axes title.

    Returns:
        A log-scale bar chart, each bar annotated with its size and how many times smaller
        than the largest entry it is: why a loader that reads the compressed stream needs
        no JPEG dump (SPEC section 1, STYLE: CoViAR).
    """
    if not sizes:
        raise PlotInputError("storage_bars: no sizes given")
    names = list(sizes)
    values = np.asarray([float(sizes[n]) for n in names])
    if np.any(values <= 0):
        raise PlotInputError(f"storage_bars: sizes must be positive, got {dict(sizes)}")
    figure = new_figure(1.6 * len(names) + 2.0, 3.4)
    ax = figure.subplots()
    bars = ax.bar(names, values, color=[f"C{i}" for i in range(len(names))])
    ax.set_yscale("log")
    largest = values.max()
    for bar, value in zip(bars, values, strict=True):
        ratio = "" if value == largest else f"\n{largest / value:.1f}x smaller"
        ax.annotate(
            f"{_human_bytes(value)}{ratio}",
            (bar.get_x() + bar.get_width() / 2, value),
            ha="center",
            va="bottom",
            fontsize="small",
        )
    ax.set_ylim(values.min() / 2, largest * 8)
    ax.set_ylabel("bytes (log)")
    ax.set_title(title or "storage of the same frames")
    return figure
