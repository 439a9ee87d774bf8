"""Figures of training and evaluation (SPEC section 4): notebooks 03, 04 and 05.

- :func:`loss_curves`: a run's metrics history (``imrkit.train.read_history`` rows).
- :func:`confusion_matrix`: row-normalised confusion of a classifier.
- :func:`accuracy_bars`: accuracy per setting, optionally next to the paper's figures
  (pretrained vs scratch, Table 1's ablations).
- :func:`retrieval_grid`: queries and their nearest clips, the paper's Figures 15-18;
  :func:`retrieval_figure` draws it from retrieval results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from imrkit.viz.base import (
    HIT_COLOR,
    MISS_COLOR,
    PlotInputError,
    check_shape,
    image_axes,
    new_figure,
    show_image,
)


def _column(history: Sequence[Mapping], key: str, x: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the rows where ``key`` has a value (CSV rows leave it empty otherwise)."""
    points = [
        (float(row[x]), float(row[key]))
        for row in history
        if row.get(key) not in (None, "") and row.get(x) not in (None, "")
    ]
    points = [(a, b) for a, b in points if np.isfinite(b)]
    return (np.asarray([p[0] for p in points]), np.asarray([p[1] for p in points]))


def loss_curves(
    history: Sequence[Mapping],
    *,
    losses: Sequence[str] | None = None,
    accuracies: Sequence[str] | None = None,
    x: str = "step",
    title: str | None = None,
) -> Figure:
    """Losses (left) and accuracies (right) of a run against ``x``.

    Args:
        history: rows of the run's metrics CSV (dicts of numbers or numeric strings).
        losses: keys to draw on the left (default: every key containing ``"loss"``).
        accuracies: keys to draw on the right (default: every key containing ``"acc"``;
            no right panel when there are none).
        x: the key of the horizontal axis.
        title: figure title.

    Returns:
        A figure with one line per key that has at least one value.
    """
    if not history:
        raise PlotInputError("loss_curves: the history is empty (did the run log anything?)")
    keys = list(dict.fromkeys(k for row in history for k in row))
    losses = [k for k in keys if "loss" in k] if losses is None else list(losses)
    accuracies = [k for k in keys if "acc" in k] if accuracies is None else list(accuracies)
    panels = [
        (name, group) for name, group in (("loss", losses), ("accuracy", accuracies)) if group
    ]
    if not panels:
        raise PlotInputError(f"loss_curves: nothing to draw among the keys {keys}")
    figure = new_figure(5.0 * len(panels), 3.4)
    axes = np.atleast_1d(figure.subplots(1, len(panels)))
    for ax, (name, group) in zip(axes, panels, strict=True):
        for key in group:
            xs, ys = _column(history, key, x)
            if len(xs):
                ax.plot(xs, ys, marker="." if len(xs) < 30 else None, label=key)
        ax.set_xlabel(x)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize="x-small", ncols=2 if len(ax.lines) > 6 else 1)
    figure.suptitle(title or "training history")
    return figure


def normalise_rows(confusion: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (rows of classes never seen stay zero)."""
    confusion = np.asarray(confusion, dtype=float)
    totals = confusion.sum(axis=1, keepdims=True)
    return np.divide(confusion, totals, out=np.zeros_like(confusion), where=totals > 0)


def confusion_matrix(
    confusion: np.ndarray,
    class_names: Sequence[str],
    *,
    normalise: bool = True,
    title: str | None = None,
) -> Figure:
    """A classifier's confusion matrix (rows: true class, columns: predicted class).

    Args:
        confusion: ``C x C`` counts.
        class_names: C names.
        normalise: show each row as fractions of that class's clips.
        title: axes title (default: the overall accuracy).

    Returns:
        A figure whose image holds the (normalised) matrix; cells are annotated when C <= 20.
    """
    confusion = check_shape("confusion", confusion, 2)
    num_classes = len(class_names)
    if confusion.shape != (num_classes, num_classes):
        raise PlotInputError(
            f"confusion: expected {num_classes} x {num_classes} for "
            f"{num_classes} class names, got {confusion.shape}"
        )
    shown = normalise_rows(confusion) if normalise else np.asarray(confusion, dtype=float)
    size = min(12.0, 2.0 + 0.45 * num_classes)
    figure = new_figure(size + 1.0, size)
    ax = figure.subplots()
    image = ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=1.0 if normalise else None)
    ax.set_xticks(range(num_classes), class_names, rotation=90, fontsize="small")
    ax.set_yticks(range(num_classes), class_names, fontsize="small")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if num_classes <= 20:
        high = shown.max() / 2 if shown.size else 0
        for (row, col), value in np.ndenumerate(shown):
            if value:
                text = f"{value:.2f}" if normalise else f"{value:.0f}"
                ax.text(
                    col,
                    row,
                    text,
                    ha="center",
                    va="center",
                    fontsize="x-small",
                    color="white" if value > high else "black",
                )
    total = confusion.sum()
    accuracy = np.trace(confusion) / total if total else 0.0
    ax.set_title(title or f"confusion matrix (accuracy {100 * accuracy:.1f}%)")
    figure.colorbar(image, ax=ax, shrink=0.8)
    return figure


def accuracy_bars(
    values: Mapping[str, float],
    *,
    paper: Mapping[str, float] | None = None,
    ylabel: str = "top-1 accuracy (%)",
    title: str | None = None,
) -> Figure:
    """Bars of accuracy per setting (e.g. scratch vs PMSP+CTP, or Table 1's ablations).

    Args:
        values: setting -> our figure, in display order.
        paper: setting -> the paper's figure, drawn as hatched bars beside ours (settings the
            paper does not report get none). Our numbers come from tiny runs on the sample
            data, so compare orderings, not values.
        ylabel: axis label.
        title: axes title.

    Returns:
        A figure with one bar per setting (``ours``) plus one per paper figure.
    """
    if not values:
        raise PlotInputError("accuracy_bars: no values given")
    names = list(values)
    positions = np.arange(len(names))
    width = 0.4 if paper else 0.7
    figure = new_figure(max(4.0, 1.1 * len(names) + 2.0), 3.6)
    ax = figure.subplots()
    ours = ax.bar(
        positions - (width / 2 if paper else 0),
        [values[n] for n in names],
        width,
        label="ours",
        color="tab:blue",
    )
    ax.bar_label(ours, fmt="%.1f", fontsize="x-small")
    if paper:
        known = [i for i, n in enumerate(names) if n in paper]
        theirs = ax.bar(
            positions[known] + width / 2,
            [paper[names[i]] for i in known],
            width,
            label="paper",
            color="white",
            edgecolor="tab:gray",
            hatch="//",
        )
        ax.bar_label(theirs, fmt="%.1f", fontsize="x-small")
        ax.legend(fontsize="small")
    ax.set_xticks(positions, names, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title or ylabel)
    return figure


def retrieval_grid(
    query_frames: Sequence[np.ndarray],
    neighbour_frames: Sequence[Sequence[np.ndarray]],
    *,
    query_labels: Sequence[str],
    neighbour_labels: Sequence[Sequence[str]],
    similarities: np.ndarray | None = None,
    column_titles: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Queries and their nearest training clips, as in the paper's Figures 15-18 (App. D).

    Args:
        query_frames: Nq ``H x W x 3`` thumbnails (e.g. each query clip's first I-frame).
        neighbour_frames: Nq rows of k thumbnails (a method's nearest first, or the top-1
            of several methods side by side, as the paper does).
        query_labels, neighbour_labels: class names (Nq, and Nq x k); a neighbour of the
            query's class is a hit.
        similarities: ``Nq x k`` cosine similarities shown with the names.
        column_titles: k column headings (default ``top-1``, ``top-2``, ...).
        title: figure title (default: the hit count of the first column).

    Returns:
        An ``Nq x (1 + k)`` grid; every neighbour is framed by a Rectangle, green for a hit
        and red for a miss.
    """
    num_queries = len(query_frames)
    k = len(neighbour_frames[0]) if num_queries else 0
    shapes = {len(query_labels), len(neighbour_frames), len(neighbour_labels)}
    if (
        not num_queries
        or shapes != {num_queries}
        or any(len(row) != k for row in (*neighbour_frames, *neighbour_labels))
    ):
        raise PlotInputError(
            f"retrieval_grid: {num_queries} queries, {len(query_labels)} query labels, "
            f"neighbour rows {[len(r) for r in neighbour_frames]} and label rows "
            f"{[len(r) for r in neighbour_labels]} do not match"
        )
    pairs = zip(query_labels, neighbour_labels, strict=True)
    hits = np.array([[name == query for name in row] for query, row in pairs])
    column_titles = list(column_titles or [f"top-{c + 1}" for c in range(k)])
    figure = new_figure(1.9 * (k + 1), 1.8 * num_queries + 0.5)
    axes = image_axes(figure, num_queries, k + 1)
    for row in range(num_queries):
        show_image(axes[row, 0], query_frames[row])
        axes[row, 0].set_title(f"query\n{query_labels[row]}", fontsize="small")
        for col in range(k):
            ax = axes[row, col + 1]
            show_image(ax, neighbour_frames[row][col])
            edge = HIT_COLOR if hits[row, col] else MISS_COLOR
            ax.add_patch(
                Rectangle(
                    (0, 0),
                    1,
                    1,
                    transform=ax.transAxes,
                    fill=False,
                    linewidth=4,
                    clip_on=False,
                    edgecolor=edge,
                )
            )
            caption = f"{column_titles[col]}\n{neighbour_labels[row][col]}"
            if similarities is not None:
                caption += f" ({float(similarities[row][col]):.2f})"
            ax.set_title(caption, fontsize="x-small")
    figure.suptitle(
        title
        or f"{column_titles[0]}: {int(hits[:, 0].sum())}/{num_queries} hits "
        "(green: same class as the query)"
    )
    return figure


def _first_iframe(path: str) -> np.ndarray:
    from imrkit.codec.reader import read_clip

    return read_clip(path, 0, 1).iframes[0]


def retrieval_figure(
    results: Mapping[str, object],
    *,
    num_queries: int = 4,
    top_k: int = 1,
    class_names: Sequence[str] | None = None,
    thumbnail: Callable[[str], np.ndarray] | None = None,
    title: str | None = None,
) -> Figure:
    """Top-k retrievals of one or more models for the same queries (Figures 15-18).

    Args:
        results: method name -> :class:`imrkit.train.RetrievalResult` (``queries`` and
            ``gallery`` embeddings with ``paths`` and ``labels``, ``neighbours`` and
            ``similarities`` Nq x K); every result must have the same queries.
        num_queries: queries shown, evenly spread over the query list (which is ordered by
            class in UCF-101-style splits, so several classes show).
        top_k: neighbours shown per method (the paper shows the top-1 of each method).
        class_names: names of the label indices (default: each video's folder name).
        thumbnail: path -> ``H x W x 3`` image (default: the video's first I-frame).
        title: figure title.

    Returns:
        The :func:`retrieval_grid` of the chosen queries, methods side by side.
    """
    if not results:
        raise PlotInputError("retrieval_figure: no results")
    thumbnail = thumbnail or _first_iframe
    first = next(iter(results.values()))
    for name, result in results.items():
        if list(result.queries.paths) != list(first.queries.paths):
            raise PlotInputError(f"retrieval_figure: {name!r} has other queries")
        if result.neighbours.shape[1] < top_k:
            raise PlotInputError(f"retrieval_figure: {name!r} kept fewer than {top_k} neighbours")

    def label(embeddings, index: int) -> str:
        if class_names is not None:
            return class_names[int(embeddings.labels[index])]
        return Path(embeddings.paths[index]).parent.name

    count = len(first.queries.paths)
    shown = np.unique(np.linspace(0, count - 1, min(num_queries, count)).round().astype(int))
    columns = [(name, k) for name in results for k in range(top_k)]
    rows = [[(results[name].neighbours[q, k], results[name]) for name, k in columns] for q in shown]
    return retrieval_grid(
        [thumbnail(first.queries.paths[q]) for q in shown],
        [[thumbnail(result.gallery.paths[j]) for j, result in row] for row in rows],
        query_labels=[label(first.queries, q) for q in shown],
        neighbour_labels=[[label(result.gallery, j) for j, result in row] for row in rows],
        similarities=np.array(
            [[results[name].similarities[q, k] for name, k in columns] for q in shown]
        ),
        column_titles=[name if top_k == 1 else f"{name} top-{k + 1}" for name, k in columns],
        title=title,
    )
