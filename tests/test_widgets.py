"""The PMSP browser redraws on every control, driven without a browser."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle

from imrkit.data.files import VIDEO_EXTENSIONS, find_videos
from imrkit.errors import ImrkitError
from imrkit.viz import PMSP_SCALE_COLORS
from imrkit.widgets import PMSPBrowser

H, W, T = 32, 48, 5
GOPS = {"a.avi": 8, "b.avi": 6, "short.avi": 3}


class FakeVideos:
    """Clips whose motion sits top-left for even first GOPs and bottom-right for odd ones."""

    def __init__(self):
        self.loads = []

    def load(self, path: Path, start_gop: int, num_gops: int):
        self.loads.append((path.name, start_gop, num_gops))
        motion = np.zeros((5 * num_gops, H, W, 2), np.float32)
        rows, cols = (
            (slice(2, 12), slice(2, 18))
            if start_gop % 2 == 0
            else (slice(H - 12, H - 2), slice(W - 18, W - 2))
        )
        motion[:, rows, cols] = (2.0, 1.0)
        iframes = np.full((num_gops, H, W, 3), 10 * start_gop, np.uint8)
        return SimpleNamespace(iframes=iframes, motion=motion)

    @staticmethod
    def count(path: Path) -> int:
        return GOPS[path.name]


@pytest.fixture
def videos():
    return FakeVideos()


@pytest.fixture
def browser(videos):
    return PMSPBrowser(
        [Path("x/a.avi"), Path("y/b.avi")], load_clip=videos.load, count_gops=videos.count
    )


def boxes(figure, scale=None):
    found = [p for ax in figure.axes for p in ax.patches if isinstance(p, Rectangle)]
    if scale is not None:
        found = [p for p in found if p.get_edgecolor() == to_rgba(PMSP_SCALE_COLORS[scale])]
    return found


def red_box_corner(figure):
    return {(p.get_x(), p.get_y()) for p in boxes(figure, 2)}


def test_browser_draws_all_scales_at_start(browser, videos):
    assert browser.redraws == 1
    assert len(boxes(browser.figure)) == 57
    assert videos.loads == [("a.avi", 0, 5)]
    assert browser.start_gop.max == GOPS["a.avi"] - T
    assert red_box_corner(browser.figure) == {(-0.5, -0.5)}  # top-left quadrant
    assert "a.avi" in browser.status.value


def test_scales_control_redraws_only_the_chosen_scales(browser, videos):
    browser.scales.value = (2,)
    assert browser.redraws == 2
    assert len(boxes(browser.figure)) == len(boxes(browser.figure, 2)) == 19
    browser.scales.value = (3, 4)
    assert len(boxes(browser.figure, 3)) == len(boxes(browser.figure, 4)) == 19
    assert not boxes(browser.figure, 2)
    assert len(videos.loads) == 1  # scales reuse the decoded clip


def test_gop_control_moves_the_clip_and_its_boxes(browser, videos):
    browser.start_gop.value = 1
    assert browser.redraws == 2 and videos.loads[-1] == ("a.avi", 1, 5)
    assert red_box_corner(browser.figure) == {(W / 2 - 0.5, H / 2 - 0.5)}  # bottom-right
    assert browser.figure.axes[0].images[0].get_array()[0, 0, 0] == 10
    browser.start_gop.value = 0
    assert red_box_corner(browser.figure) == {(-0.5, -0.5)}
    assert len(videos.loads) == 2  # GOP 0 came from the cache


def test_video_control_rebounds_the_gop_slider_and_redraws_once(browser, videos):
    browser.start_gop.value = 3
    redraws = browser.redraws
    browser.video.value = 1
    assert browser.redraws == redraws + 1
    assert browser.start_gop.value == 0 and browser.start_gop.max == GOPS["b.avi"] - T
    assert videos.loads[-1] == ("b.avi", 0, 5)
    assert "b.avi" in browser.figure._suptitle.get_text()


def test_browser_refuses_videos_too_short_for_a_clip(videos):
    with pytest.raises(ImrkitError, match="short.avi: 3 GOPs"):
        PMSPBrowser([Path("short.avi")], load_clip=videos.load, count_gops=videos.count)
    with pytest.raises(ImrkitError):
        PMSPBrowser([])


def test_find_videos_lists_a_dataset_tree(tmp_path):
    for name in ("B/v_2.avi", "A/v_1.mp4", "A/notes.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [p.relative_to(tmp_path).as_posix() for p in find_videos(tmp_path)] == [
        "A/v_1.mp4",
        "B/v_2.avi",
    ]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImrkitError, match="no videos"):
        find_videos(tmp_path / "empty")
    with pytest.raises(ImrkitError, match="not a folder"):
        find_videos(tmp_path / "missing")


def test_one_extension_list_for_prepare_splits_and_find_videos(tmp_path):
    """The three copies disagreed: find_videos missed .mov/.webm/.mpg/... files that prepare
    converts and the split readers accept."""
    from imrkit.data import prepare, splits

    assert prepare.VIDEO_EXTENSIONS is splits.VIDEO_EXTENSIONS is VIDEO_EXTENSIONS
    assert VIDEO_EXTENSIONS[:2] == (".avi", ".mp4")  # split lookup tries .avi, then .mp4
    for extension in (".mov", ".webm", ".mpg", ".flv", ".wmv", ".3gp", ".ogv", ".MKV"):
        (tmp_path / f"v{extension}").write_bytes(b"")
    (tmp_path / "v.part").write_bytes(b"")
    (tmp_path / "folder.avi").mkdir()  # a folder named like a video is not one
    assert sorted(p.name for p in find_videos(tmp_path)) == sorted(
        f"v{e}" for e in (".mov", ".webm", ".mpg", ".flv", ".wmv", ".3gp", ".ogv", ".MKV")
    )


def test_browser_reads_real_videos(sample_dataset):
    import imrkit

    videos = find_videos(sample_dataset)
    browser = PMSPBrowser(videos[:2])
    assert browser.start_gop.max == imrkit.probe(videos[0]).num_gops - T
    browser.start_gop.value = browser.start_gop.max
    expected = imrkit.pmsp_labels(imrkit.read_clip(videos[0], browser.start_gop.max, T).motion, T)
    assert {level: list(v) for level, v in browser.labels.items()} == {
        level: list(v) for level, v in expected.items()
    }
    assert len(boxes(browser.figure)) == 57 and browser.redraws == 2
