"""The sample dataset: UCF-101 layout, the unlabeled pool, codec layout, determinism.

The classes' motion is tested in test_sample_motion.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import av
import numpy as np
import pytest

from imrkit.cli import main
from imrkit.data.sample import (
    CLASS_NAMES,
    SampleConfig,
    group_of,
    is_test_video,
    load_sample_config,
    make_sample,
    make_scene,
    make_unlabeled_scene,
    render_video,
    unlabeled_class,
)
from imrkit.errors import ConfigError

NAME = re.compile(r"^(?P<cls>\w+)/v_(?P=cls)_g(?P<group>\d\d)_c(?P<clip>\d\d)\.avi$")


def decode(path: Path) -> tuple[list[np.ndarray], str, av.video.stream.VideoStream]:
    """RGB frames, picture types ('IPPP...') and the stream of a video."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, types = [], []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            types.append(" IPB"[int(frame.pict_type)])  # PyAV 14+: a plain int
        return frames, "".join(types), stream


def read_lists(root: Path):
    classes = dict(line.split() for line in (root / "classInd.txt").read_text().splitlines())
    train = [line.split() for line in (root / "trainlist01.txt").read_text().splitlines()]
    test = (root / "testlist01.txt").read_text().splitlines()
    return classes, train, test


# --------------------------------------------------------------------------- layout


def labelled_videos(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix() for p in root.glob("*/*.avi") if p.parent.name != "unlabeled"
    )


def test_layout_is_ucf101(sample_dataset):
    classes, train, test = read_lists(sample_dataset)
    assert classes == {str(i + 1): name for i, name in enumerate(CLASS_NAMES)}
    videos = labelled_videos(sample_dataset)
    listed = sorted([path for path, _ in train] + test)
    assert listed == videos and len(videos) == 2 * len(CLASS_NAMES)
    for path, label in train:  # a train label is the 1-based index of the video's folder
        assert classes[label] == path.split("/")[0]
    assert all(NAME.match(path) for path in listed)


def test_groups_never_straddle_the_split(sample_dataset):
    _, train, test = read_lists(sample_dataset)

    def groups(paths):
        return {(m["cls"], m["group"]) for m in map(NAME.match, paths)}

    train_groups, test_groups = groups(path for path, _ in train), groups(test)
    assert not train_groups & test_groups
    # every class appears in both splits
    assert {c for c, _ in train_groups} == {c for c, _ in test_groups} == set(CLASS_NAMES)


def test_default_split_holds_out_whole_groups():
    config = SampleConfig()  # 50 per class: 20 test clips of their own group, 30 train in 3s
    groups = [group_of(config, v) for v in range(config.videos_per_class)]
    test = [v for v in range(config.videos_per_class) if is_test_video(config, v)]
    assert test == list(range(20)) and groups[:20] == list(range(20))
    assert groups[20:] == [20 + i // 3 for i in range(30)]
    assert not {groups[v] for v in test} & {groups[v] for v in range(20, 50)}


def test_default_sizes_fit_the_experiment():
    """An unlabeled pool much larger than the labelled set; enough independent test clips."""
    config = SampleConfig()
    num_test = config.num_classes * config.num_test_per_class
    labelled = config.num_classes * config.videos_per_class
    assert config.num_unlabeled >= 1000 and config.num_unlabeled >= 2 * labelled
    assert num_test >= 200
    assert config.test_clips_per_group == 1  # every test clip its own background and actor
    assert config.num_gops >= 5 and config.width % 32 == 0 and config.height % 32 == 0
    # small configs keep a small pool (twice the labelled clips) unless told otherwise
    assert SampleConfig(videos_per_class=2).num_unlabeled == 40
    assert SampleConfig(videos_per_class=2, unlabeled_videos=0).num_unlabeled == 0


def test_unlabeled_pool_is_read_by_the_unlabeled_format(sample_dataset):
    from imrkit.data.dataset import DatasetConfig, load_split

    config = load_sample_config(sample_dataset)
    pool = load_split(
        DatasetConfig(root=str(sample_dataset / "unlabeled"), format="unlabeled"), "train"
    )
    assert len(pool) == config.num_unlabeled == 40
    assert set(pool.labels.tolist()) == {-1}
    assert all(r.path.parent == sample_dataset / "unlabeled" for r in pool.records)
    # the labelled splits never list a pool video
    labelled = load_split(DatasetConfig(root=str(sample_dataset)), "train")
    assert all("unlabeled" not in r.path.parts for r in labelled.records)
    # the pool covers the classes, each video with its own setting
    hidden = {unlabeled_class(config, i) for i in range(config.num_unlabeled)}
    assert len(hidden) >= config.num_classes - 2
    first, second = make_unlabeled_scene(config, 0), make_unlabeled_scene(config, 1)
    assert not np.array_equal(first.background, second.background)


def test_videos_have_imrnet_codec_layout(sample_dataset):
    config = load_sample_config(sample_dataset)
    assert config.num_gops == 6 and config.videos_per_class == 2
    for path in sorted(sample_dataset.glob("*/*.avi"))[::5]:
        frames, types, stream = decode(path)
        assert stream.codec_context.name == "mpeg4"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.width, stream.height) == (64, 64)
        assert frames[0].shape == (64, 64, 3)
        assert len(frames) == 6 * 12
        assert types == ("I" + "P" * 11) * 6  # an I every 12th frame and only there, no B


# --------------------------------------------------------------------------- determinism


TINY = SampleConfig(
    num_classes=2,
    videos_per_class=2,
    unlabeled_videos=2,
    num_gops=1,
    width=64,
    height=64,
    workers=1,
)


def decoded_dataset(root: Path) -> dict[str, np.ndarray]:
    return {
        p.relative_to(root).as_posix(): np.stack(decode(p)[0]) for p in sorted(root.glob("*/*.avi"))
    }


def test_same_seed_gives_identical_frames_whatever_the_workers(tmp_path):
    first = decoded_dataset(make_sample(tmp_path / "a", TINY))
    second = decoded_dataset(
        make_sample(tmp_path / "b", SampleConfig(**{**TINY.__dict__, "workers": 2}))
    )
    assert first.keys() == second.keys() and len(first) == 6  # 4 labelled, 2 unlabeled
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
    other = decoded_dataset(
        make_sample(tmp_path / "c", SampleConfig(**{**TINY.__dict__, "seed": 1}))
    )
    assert all(not np.array_equal(first[name], other[name]) for name in first)


def test_rerun_keeps_videos_and_a_new_config_regenerates(tmp_path):
    root = make_sample(tmp_path, TINY)
    video = next(root.glob("*/*.avi"))
    stamp = video.stat().st_mtime_ns
    make_sample(root, SampleConfig(**{**TINY.__dict__, "workers": 2}))
    assert video.stat().st_mtime_ns == stamp
    make_sample(root, SampleConfig(**{**TINY.__dict__, "seed": 5}))
    assert video.stat().st_mtime_ns != stamp
    assert load_sample_config(root).seed == 5
    # a smaller dataset removes the videos (and class folders) it no longer lists
    (root / "notes.txt").write_text("mine")
    make_sample(
        root, SampleConfig(**{**TINY.__dict__, "videos_per_class": 3, "unlabeled_videos": 5})
    )
    make_sample(root, SampleConfig(**{**TINY.__dict__, "seed": 5}))
    _, train, test = read_lists(root)
    assert labelled_videos(root) == sorted([path for path, _ in train] + test)
    assert len(list((root / "unlabeled").glob("*.avi"))) == 2
    make_sample(root, SampleConfig(**{**TINY.__dict__, "unlabeled_videos": 0}))
    assert not (root / "unlabeled").exists()
    assert (root / "notes.txt").read_text() == "mine"
    assert not list(root.rglob(".*.part"))


@pytest.mark.parametrize(
    "overrides",
    [
        {"width": 100},
        {"height": 0},
        {"num_classes": 11},
        {"videos_per_class": 1},
        {"extension": ".mkv"},
        {"test_clips_per_group": 0},
        {"unlabeled_videos": -1},
        {"videos_per_class": 500, "clips_per_group": 1},
    ],
)
def test_bad_config_is_a_config_error(overrides):
    with pytest.raises(ConfigError):
        SampleConfig(**overrides)


def test_cli_make_sample(tmp_path, capsys):
    code = main(
        [
            "make-sample",
            str(tmp_path),
            "--classes",
            "2",
            "--videos-per-class",
            "2",
            "--num-gops",
            "1",
            "--unlabeled-videos",
            "3",
            "--size",
            "64x32",
            "--workers",
            "1",
            "--quiet",
        ]
    )
    assert code == 0
    assert "2 classes x 2 videos (2 train, 2 test) + 3 unlabeled" in capsys.readouterr().out
    assert len(labelled_videos(tmp_path)) == 4
    assert len(list((tmp_path / "unlabeled").glob("*.avi"))) == 3
    frames, _, _ = decode(next(tmp_path.glob("*/*.avi")))
    assert frames[0].shape == (32, 64, 3)


# --------------------------------------------------------------------------- content


def appearance_features(frame: np.ndarray) -> np.ndarray:
    pixels = frame.reshape(-1, 3).astype(np.float64)
    return np.concatenate([pixels.mean(0), pixels.std(0)])


def test_one_frame_does_not_tell_the_class():
    """Colour statistics of a single frame classify held-out groups at about chance.

    Nearest class centroid on (mean, std) of RGB, leave-one-group-out (clips of a group share
    their background, so a group must not be its own neighbour), averaged over seeds.
    """
    accuracies = []
    for seed in range(4):
        config = SampleConfig(videos_per_class=8, num_gops=6, seed=seed)
        features, labels, groups = [], [], []
        rng = np.random.default_rng(seed)
        for class_index in range(config.num_classes):
            for video in range(config.videos_per_class):
                frame = make_scene(config, class_index, video).render(
                    int(rng.integers(config.num_frames))
                )
                features.append(appearance_features(frame))
                labels.append(class_index)
                groups.append(100 * class_index + group_of(config, video))
        features, labels, group_ids = np.array(features), np.array(labels), np.array(groups)
        correct = 0
        for i in range(len(features)):
            others = group_ids != group_ids[i]
            centroids = np.stack(
                [features[others & (labels == c)].mean(0) for c in range(config.num_classes)]
            )
            correct += np.argmin(((centroids - features[i]) ** 2).sum(1)) == labels[i]
        accuracies.append(correct / len(features))
    assert np.mean(accuracies) < 0.25  # chance is 0.1; appearance alone does not solve it


def test_render_video_is_deterministic():
    config = SampleConfig(num_gops=1, seed=3)
    first = np.stack(list(render_video(config, 4, 1)))
    second = np.stack(list(render_video(config, 4, 1)))
    np.testing.assert_array_equal(first, second)
    assert first.shape == (12, 64, 64, 3) and first.dtype == np.uint8


def test_iframes_change_over_a_clip():
    """Pose and camera move between GOPs, so the I stream follows the P streams in time."""
    config = SampleConfig(videos_per_class=4, num_gops=6)
    for class_index in range(config.num_classes):
        scene = make_scene(config, class_index, 0)
        iframes = np.stack([scene.render(t) for t in range(0, config.num_frames, 12)])
        change = np.abs(np.diff(iframes.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
        assert change.min() > 2.0, (CLASS_NAMES[class_index], change)
