"""The plotting helpers draw what they claim: boxes, arrows, bars, colours in place."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from imrkit import viz
from imrkit.viz.pretext import cell_box, windows_over_frame

H, W, T = 48, 64, 5


def rectangles(ax, color=None):
    """The Rectangle patches on ``ax`` (bars, boxes), optionally of one edge/face colour."""
    found = [p for p in ax.patches if isinstance(p, Rectangle)]
    if color is None:
        return found
    return [p for p in found if to_rgba(color) in (p.get_edgecolor(), p.get_facecolor())]


def box_xywh(patch):
    return (patch.get_x(), patch.get_y(), patch.get_width(), patch.get_height())


@pytest.fixture
def iframes():
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, size=(T, H, W, 3), dtype=np.uint8)


# --- codec figures -------------------------------------------------------------------------


def test_frame_type_timeline_draws_one_bar_per_frame_coloured_by_type():
    types = (["I"] + ["P"] * 11) * 2
    sizes = np.where(np.array(types) == "I", 5000, 800)
    figure = viz.frame_type_timeline(types, sizes=sizes, selected=[0, 2, 4, 12])
    ax = figure.axes[0]
    assert len(rectangles(ax)) == 24
    i_bars = rectangles(ax, viz.FRAME_TYPE_COLORS["I"])
    assert sorted(round(b.get_x() + b.get_width() / 2) for b in i_bars) == [0, 12]
    assert {b.get_height() for b in i_bars} == {5000}
    assert len(rectangles(ax, viz.FRAME_TYPE_COLORS["P"])) == 22


def test_frame_type_timeline_rejects_sizes_of_another_length():
    with pytest.raises(viz.PlotInputError, match="sizes"):
        viz.frame_type_timeline(["I", "P"], sizes=[1, 2, 3])


def test_motion_arrows_draws_one_arrow_per_moving_block_ending_at_its_centre():
    frame = np.zeros((H, W, 3), np.uint8)
    motion = np.zeros((H, W, 2), np.float32)
    motion[16:32, 32:48] = (4.0, -2.0)  # block (1, 2): centre (40, 24)
    motion[0:16, 0:16] = (0.25, 0.0)  # slower than min_magnitude below
    figure = viz.motion_arrows(frame, motion, block_size=16, min_magnitude=0.5, magnify=1)
    quiver = figure.axes[0].collections[0]
    assert quiver.N == 1
    np.testing.assert_allclose(quiver.X + quiver.U, [40.0])  # head at the block centre
    np.testing.assert_allclose(quiver.Y + quiver.V, [24.0])
    np.testing.assert_allclose((quiver.U, quiver.V), ([4.0], [-2.0]))
    # Without a threshold every non-zero block gets one; by default the fastest is one
    # block long, still ending at its block's centre.
    quiver = viz.motion_arrows(frame, motion).axes[0].collections[0]
    assert quiver.N == 2
    np.testing.assert_allclose(np.hypot(quiver.U, quiver.V).max(), 16.0)
    np.testing.assert_allclose(quiver.X + quiver.U, [8.0, 40.0])


def test_motion_to_rgb_hue_is_direction_and_brightness_is_speed():
    motion = np.array([[[2.0, 0.0], [0.0, 0.0], [-1.0, 0.0], [0.0, 2.0]]], np.float32)
    rgb = viz.motion_to_rgb(motion)
    np.testing.assert_allclose(rgb[0, 0], [1.0, 0.0, 0.0], atol=1e-6)  # right: red
    np.testing.assert_allclose(rgb[0, 1], [0.0, 0.0, 0.0], atol=1e-6)  # still: black
    np.testing.assert_allclose(rgb[0, 2], [0.0, 0.5, 0.5], atol=1e-6)  # left, half speed
    assert rgb[0, 3, 1] > rgb[0, 3, 2]  # down (y grows downwards): yellow-green side
    with pytest.raises(viz.PlotInputError):
        viz.motion_to_rgb(np.zeros((4, 4, 3)))


def test_motion_hsv_shows_the_coloured_field_and_a_wheel(iframes):
    motion = np.zeros((H, W, 2), np.float32)
    motion[:, W // 2 :, 0] = 3.0
    figure = viz.motion_hsv(motion, frame=iframes[0])
    assert len(figure.axes) == 3
    shown = figure.axes[1].images[0].get_array()
    np.testing.assert_allclose(shown, viz.motion_to_rgb(motion))


def test_residual_image_uses_symmetric_limits_and_the_channel_mean():
    residual = np.zeros((H, W, 3), np.int16)
    residual[:8, :8] = (30, 30, 30)
    residual[-8:, -8:] = (-60, -60, -60)
    figure = viz.residual_image(residual, limit=50)
    image = figure.axes[0].images[0]
    assert image.get_clim() == (-50.0, 50.0)
    assert image.get_array()[0, 0] == 30 and image.get_array()[-1, -1] == -60


def test_raw_vs_accumulated_puts_each_pair_of_rows_on_one_scale():
    rng = np.random.default_rng(1)
    motion = rng.normal(size=(5, H, W, 2)).astype(np.float32)
    accumulated = np.cumsum(motion, axis=0)
    residual = rng.integers(-20, 20, size=(5, H, W, 3)).astype(np.int16)
    figure = viz.raw_vs_accumulated(motion, accumulated, residual, 2 * residual)
    images = [ax.images[0] for ax in figure.axes]
    assert len(images) == 20
    # Both motion rows share the fastest speed of either: only one panel reaches full value.
    brightest = [float(im.get_array().max()) for im in images[:10]]
    assert max(brightest) == pytest.approx(1.0) and min(brightest) < 1.0
    assert len({im.get_clim() for im in images[10:]}) == 1
    with pytest.raises(viz.PlotInputError):
        viz.raw_vs_accumulated(motion, accumulated[:4], residual, residual)


def test_storage_bars_annotates_sizes_and_ratios():
    figure = viz.storage_bars({"MPEG-4": 1000, "JPEG": 10_000, "raw RGB": 100_000})
    ax = figure.axes[0]
    assert len(rectangles(ax)) == 3 and ax.get_yscale() == "log"
    texts = [t.get_text() for t in ax.texts]
    assert any("100.0x smaller" in t for t in texts) and any("10.0x smaller" in t for t in texts)
    with pytest.raises(viz.PlotInputError):
        viz.storage_bars({"empty": 0})


# --- PMSP and CTP figures ------------------------------------------------------------------


def labels_for(seed=0):
    rng = np.random.default_rng(seed)
    return {(s, t): rng.integers(0, s * s, size=t) for t in (1, 3, 5) for s in (2, 3, 4)}


def test_cell_box_follows_the_pmsp_grid():
    assert cell_box(3, 2, H, W) == (W / 2 - 0.5, H / 2 - 0.5, W / 2, H / 2)
    # 3 cells over 64 pixels: edges round(0, 21.33, 42.67, 64) = 0, 21, 43, 64.
    assert cell_box(2, 3, 48, 64) == (42.5, -0.5, 21.0, 16.0)
    with pytest.raises(viz.PlotInputError):
        cell_box(9, 3, H, W)


@pytest.mark.parametrize("size", [7, 10, 48, 50, 64])
def test_cell_box_covers_exactly_the_pixels_the_labels_sum(size):
    # The figures once kept their own (float) copy of the grid; they now use the labels'
    # integer pixel edges, and a box spans exactly its cell's pixel centres.
    from imrkit.transforms.pmsp_labels import cell_edges

    for cells in (2, 3, 4):
        edges = cell_edges(size, cells)
        assert edges.dtype == np.int64
        for label in range(cells * cells):
            box = cell_box(label, cells, size, size)
            assert all(type(value) is float for value in box)
            x, y, width, height = box
            row, col = divmod(label, cells)
            assert [p for p in range(size) if x < p < x + width] == list(
                range(edges[col], edges[col + 1])
            )
            assert [p for p in range(size) if y < p < y + height] == list(
                range(edges[row], edges[row + 1])
            )


def test_the_box_of_a_label_holds_the_motion_that_made_it():
    from imrkit.transforms.pmsp_labels import pmsp_labels

    size, cells = 50, 3  # edges 0, 17, 33, 50
    for label in range(cells * cells):
        row, col = divmod(label, cells)
        x, y, width, height = cell_box(label, cells, size, size)
        centre_x, centre_y = round(x + width / 2), round(y + height / 2)
        motion = np.zeros((25, size, size, 2), np.float32)  # reader layout: 5T x H x W x 2
        motion[:, centre_y - 2 : centre_y + 2, centre_x - 2 : centre_x + 2, 0] = 4.0
        assert pmsp_labels(motion, 5, spatial_scales=(cells,), temporal_scales=(1,))[
            (cells, 1)
        ].tolist() == [label]


def test_windows_over_frame_match_the_temporal_pyramid():
    assert [windows_over_frame(5, 3, f) for f in range(5)] == [[0], [0, 1], [0, 1, 2], [1, 2], [2]]
    assert [windows_over_frame(5, 5, f) for f in range(5)] == [[0], [1], [2], [3], [4]]
    assert all(windows_over_frame(5, 1, f) == [0] for f in range(5))


def test_pyramid_boxes_draws_the_paper_layout(iframes):
    labels = labels_for()
    figure = viz.pyramid_boxes(iframes, labels)
    axes = np.array(figure.axes).reshape(3, T)
    per_row = [sum(len(rectangles(ax)) for ax in row) for row in axes]
    assert per_row == [15, 27, 15]  # t=1: 3 per frame; t=3: 1+2+3+2+1 windows x 3; t=5: 3
    for scale, color in viz.PMSP_SCALE_COLORS.items():
        assert sum(len(rectangles(ax, color)) for ax in axes.flat) == 19
        # t = 1: the same box on every I-frame.
        expected = cell_box(labels[(scale, 1)][0], scale, H, W)
        assert all([box_xywh(p) for p in rectangles(ax, color)] == [expected] for ax in axes[0])
        # t = 5: each I-frame carries its own GOP's box.
        for frame, ax in enumerate(axes[2]):
            expected = cell_box(labels[(scale, 5)][frame], scale, H, W)
            assert [box_xywh(p) for p in rectangles(ax, color)] == [expected]
        # t = 3: the middle I-frame overlays all three windows.
        middle = sorted(box_xywh(p) for p in rectangles(axes[1, 2], color))
        assert middle == sorted(cell_box(label, scale, H, W) for label in labels[(scale, 3)])


def test_pyramid_boxes_draws_only_the_chosen_scales_and_checks_labels(iframes):
    labels = labels_for()
    figure = viz.pyramid_boxes(iframes, labels, scales=(3,), temporal_scales=(1, 5))
    patches = [p for ax in figure.axes for p in rectangles(ax)]
    assert len(patches) == 10
    assert {p.get_edgecolor() for p in patches} == {to_rgba(viz.PMSP_SCALE_COLORS[3])}
    del labels[(4, 3)]
    with pytest.raises(viz.PlotInputError, match=r"\(s=4, t=3\)"):
        viz.pyramid_boxes(iframes, labels)


def test_pyramid_boxes_frames_the_moving_corner_of_a_real_label(iframes):
    from imrkit.transforms.pmsp_labels import pmsp_labels

    motion = np.zeros((5 * T, H, W, 2), np.float32)
    motion[:, 4 : H // 2 - 4, W // 2 + 4 : W - 4] = (3.0, 1.0)  # a patch moving top-right
    labels = pmsp_labels(motion, T)
    figure = viz.pyramid_boxes(iframes, labels, scales=(2,), temporal_scales=(1,))
    for ax in figure.axes:
        (box,) = rectangles(ax, "red")
        assert box_xywh(box) == (W / 2 - 0.5, -0.5, W / 2, H / 2)  # top-right quadrant


def test_pmsp_predictions_draws_truth_and_prediction_and_counts_agreement(iframes):
    truth = labels_for(0)
    predicted = {level: value.copy() for level, value in truth.items()}
    predicted[(2, 5)][:2] = (predicted[(2, 5)][:2] + 1) % 4  # two windows wrong
    figure = viz.pmsp_predictions(iframes, truth, predicted)
    left, right = figure.subfigs
    for sub in (left, right):
        assert sum(len(rectangles(ax)) for ax in sub.axes) == 57
    assert left._suptitle.get_text() == "Ground-truth PMSP labels"
    assert "25 of 27 windows" in figure._suptitle.get_text()
    assert viz.level_agreement(truth, predicted)[(2, 5)] == pytest.approx(0.6)


def test_ctp_grid_shows_each_type_as_iframes_over_gop_motion(iframes):
    rng = np.random.default_rng(2)
    motion = rng.normal(size=(5 * T, H, W, 2)).astype(np.float32)
    order = [2, 0, 4, 1, 3]
    shuffled = motion.reshape(T, 5, H, W, 2)[order].reshape(motion.shape)
    figure = viz.ctp_grid(
        iframes, {"aligned": motion, "shuffle": shuffled}, notes={"shuffle": "GOP order 2 0 4 1 3"}
    )
    axes = np.array(figure.axes).reshape(4, T)
    np.testing.assert_array_equal(axes[2, 3].images[0].get_array(), iframes[3])  # I untouched
    sums = motion.reshape(T, 5, H, W, 2).sum(axis=1)
    speed = np.hypot(sums[..., 0], sums[..., 1]).max()  # per row; same for a permutation
    np.testing.assert_allclose(
        axes[3, 0].images[0].get_array(), viz.motion_to_rgb(sums[2], speed), atol=1e-6
    )
    np.testing.assert_allclose(
        axes[1, 0].images[0].get_array(), viz.motion_to_rgb(sums[0], speed), atol=1e-6
    )
    assert axes[3, T // 2].get_xlabel() == "GOP order 2 0 4 1 3"
    # Each row has its own brightness scale: a 10x slower clip looks the same.
    slow = viz.ctp_grid(iframes, {"aligned": motion, "slow": motion / 10})
    np.testing.assert_allclose(
        slow.axes[3 * T].images[0].get_array(), axes[1, 0].images[0].get_array(), atol=1e-6
    )
    # The model layout (2 x 5T x H x W, e.g. a transformed batch entry) draws the same.
    import torch

    model_layout = torch.from_numpy(np.moveaxis(shuffled, -1, 0).copy())
    again = viz.ctp_grid(iframes, {"shuffle": model_layout}, layout="model")
    np.testing.assert_allclose(
        again.axes[T].images[0].get_array(), axes[3, 0].images[0].get_array(), atol=1e-6
    )


# --- results figures -----------------------------------------------------------------------


def test_loss_curves_splits_losses_and_accuracies_and_skips_empty_cells():
    history = [
        {"step": "1", "epoch": "0", "loss": "2.0", "loss_ctp": "1.0", "acc_pmsp": ""},
        {"step": "2", "epoch": "0", "loss": "1.5", "loss_ctp": "0.8", "acc_pmsp": "0.25"},
        {"step": "3", "epoch": "1", "loss": "1.0", "loss_ctp": "0.5", "acc_pmsp": "0.5"},
    ]
    figure = viz.loss_curves(history)
    loss_ax, acc_ax = figure.axes[:2]
    assert [line.get_label() for line in loss_ax.lines] == ["loss", "loss_ctp"]
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), [2.0, 1.5, 1.0])
    np.testing.assert_allclose(acc_ax.lines[0].get_xdata(), [2.0, 3.0])
    with pytest.raises(viz.PlotInputError):
        viz.loss_curves([])


def test_confusion_matrix_normalises_rows():
    confusion = np.array([[3, 1, 0], [0, 2, 2], [0, 0, 0]])
    figure = viz.confusion_matrix(confusion, ["a", "b", "c"])
    shown = figure.axes[0].images[0].get_array()
    np.testing.assert_allclose(shown, [[0.75, 0.25, 0], [0, 0.5, 0.5], [0, 0, 0]])
    assert "62.5%" in figure.axes[0].get_title()
    assert len(figure.axes[0].texts) == 4  # non-zero cells
    with pytest.raises(viz.PlotInputError):
        viz.confusion_matrix(confusion, ["a", "b"])


def test_accuracy_bars_puts_paper_figures_beside_ours():
    figure = viz.accuracy_bars(
        {"scratch": 20.0, "pmsp+ctp": 30.0, "mine": 5.0}, paper={"scratch": 74.1, "pmsp+ctp": 76.8}
    )
    ax = figure.axes[0]
    assert len(rectangles(ax, "tab:blue")) == 3
    hatched = [p for p in rectangles(ax) if p.get_hatch()]
    assert sorted(p.get_height() for p in hatched) == [74.1, 76.8]


def test_retrieval_grid_frames_hits_green_and_misses_red(iframes):
    figure = viz.retrieval_grid(
        [iframes[0], iframes[1]],
        [list(iframes[:3]), list(iframes[2:])],
        query_labels=["a", "b"],
        neighbour_labels=[["a", "c", "d"], ["c", "b", "b"]],
        similarities=np.full((2, 3), 0.5),
    )
    axes = np.array(figure.axes).reshape(2, 4)
    assert not rectangles(axes[0, 0])  # the query has no frame
    greens = [len(rectangles(ax, viz.HIT_COLOR)) for ax in axes[:, 1:].flat]
    reds = [len(rectangles(ax, viz.MISS_COLOR)) for ax in axes[:, 1:].flat]
    assert greens == [1, 0, 0, 0, 1, 1] and reds == [0, 1, 1, 1, 0, 0]
    assert "1/2 hits" in figure._suptitle.get_text()
    assert axes[1, 2].get_title() == "top-2\nb (0.50)"
    with pytest.raises(viz.PlotInputError):
        viz.retrieval_grid(
            [iframes[0]], [[iframes[1]]], query_labels=["a"], neighbour_labels=[["a", "b"]]
        )


def test_retrieval_figure_puts_methods_side_by_side_for_spread_queries():
    from types import SimpleNamespace as NS

    def embeddings(names):
        return NS(
            paths=[f"/d/{n}/v{i}.avi" for i, n in enumerate(names)], labels=np.arange(len(names))
        )

    queries = embeddings(["A", "B", "C", "D", "E"])
    gallery = embeddings(["A", "B", "C", "D", "E"])
    ours = NS(
        queries=queries,
        gallery=gallery,
        neighbours=np.arange(5)[:, None].repeat(2, 1),
        similarities=np.full((5, 2), 0.9),
    )
    other = NS(
        queries=queries,
        gallery=gallery,
        neighbours=(np.arange(5)[:, None] + 1) % 5 * np.ones((1, 2), int),
        similarities=np.full((5, 2), 0.1),
    )
    drawn = []

    def thumbnail(path):
        drawn.append(path)
        return np.zeros((8, 8, 3), np.uint8)

    figure = viz.retrieval_figure(
        {"ours": ours, "random": other}, num_queries=3, thumbnail=thumbnail
    )
    axes = np.array(figure.axes).reshape(3, 3)
    assert [ax.get_title() for ax in axes[:, 0]] == ["query\nA", "query\nC", "query\nE"]
    assert [len(rectangles(ax, viz.HIT_COLOR)) for ax in axes[:, 1]] == [1, 1, 1]
    assert [len(rectangles(ax, viz.MISS_COLOR)) for ax in axes[:, 2]] == [1, 1, 1]
    assert axes[0, 2].get_title() == "random\nB (0.10)"
    assert len(drawn) == 9
    two = viz.retrieval_figure(
        {"ours": ours},
        num_queries=2,
        top_k=2,
        thumbnail=thumbnail,
        class_names=["a", "b", "c", "d", "e"],
    )
    assert np.array(two.axes).reshape(2, 3)[1, 2].get_title() == "ours top-2\ne (0.90)"
    with pytest.raises(viz.PlotInputError, match="fewer than 3"):
        viz.retrieval_figure({"ours": ours}, top_k=3, thumbnail=thumbnail)


def test_markdown_table_and_save_figure(tmp_path):
    table = viz.markdown_table([{"k": 1, "R@k": 0.51234}, {"k": 5, "R@k": 1.0}])
    assert table.splitlines() == ["| k | R@k |", "|---|---|", "| 1 | 0.512 |", "| 5 | 1.000 |"]
    figure = viz.new_figure(2, 2)
    assert isinstance(figure, Figure)
    path = viz.save_figure(figure, tmp_path / "sub" / "figure.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
