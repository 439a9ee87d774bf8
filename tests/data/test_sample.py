"""The sample dataset: UCF-101 layout, codec layout, determinism, and motion-only classes."""

from __future__ import annotations

import re
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from imrkit.cli import main
from imrkit.data.sample import (
    CLASS_NAMES,
    SampleConfig,
    group_of,
    load_sample_config,
    make_sample,
    make_scene,
    render_video,
    video_name,
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


def test_layout_is_ucf101(sample_dataset):
    classes, train, test = read_lists(sample_dataset)
    assert classes == {str(i + 1): name for i, name in enumerate(CLASS_NAMES)}
    videos = sorted(
        p.relative_to(sample_dataset).as_posix() for p in sample_dataset.glob("*/*.avi")
    )
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
    config = SampleConfig()  # 12 per class, groups of 3: g01 test, g02-g04 train
    groups = [group_of(config, v) for v in range(config.videos_per_class)]
    assert groups == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_videos_have_imrnet_codec_layout(sample_dataset):
    config = load_sample_config(sample_dataset)
    assert config.num_gops == 6 and config.videos_per_class == 2
    for path in sorted(sample_dataset.glob("*/*.avi"))[::3]:
        frames, types, stream = decode(path)
        assert stream.codec_context.name == "mpeg4"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.width, stream.height) == (160, 128)
        assert frames[0].shape == (128, 160, 3)
        assert len(frames) == 6 * 12
        assert types == ("I" + "P" * 11) * 6  # an I every 12th frame and only there, no B


# --------------------------------------------------------------------------- determinism


TINY = SampleConfig(num_classes=2, videos_per_class=2, num_gops=1, width=64, height=64, workers=1)


def decoded_dataset(root: Path) -> dict[str, np.ndarray]:
    return {
        p.relative_to(root).as_posix(): np.stack(decode(p)[0]) for p in sorted(root.glob("*/*.avi"))
    }


def test_same_seed_gives_identical_frames_whatever_the_workers(tmp_path):
    first = decoded_dataset(make_sample(tmp_path / "a", TINY))
    second = decoded_dataset(
        make_sample(tmp_path / "b", SampleConfig(**{**TINY.__dict__, "workers": 2}))
    )
    assert first.keys() == second.keys() and len(first) == 4
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
    make_sample(root, SampleConfig(**{**TINY.__dict__, "videos_per_class": 3}))
    make_sample(root, SampleConfig(**{**TINY.__dict__, "seed": 5}))
    _, train, test = read_lists(root)
    assert sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.avi")) == sorted(
        [path for path, _ in train] + test
    )
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
            "--size",
            "64x32",
            "--workers",
            "1",
            "--quiet",
        ]
    )
    assert code == 0
    assert "2 classes x 2 videos" in capsys.readouterr().out
    assert len(list(tmp_path.glob("*/*.avi"))) == 4
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
    assert first.shape == (12, 128, 160, 3) and first.dtype == np.uint8


def object_flow_statistics(frames, scene, class_name):
    """Mean object motion measured by Farneback flow on decoded frames.

    Returns (mean flow (dx, dy) px/frame, angular rate rad/frame clockwise, expansion rate
    per frame), over frame pairs (every 5th) where the object moves smoothly.
    """
    height, width = frames[0].shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    border = np.zeros((height, width), bool)
    border[6:-6, 6:-6] = True  # flow at the frame edge (objects wrapping round) is unreliable
    flows, spins, growths = [], [], []
    for t in range(2, len(frames) - 1, 5):
        centre = scene.centre[t]
        jumped = abs(np.log(scene.scale[t + 1] / scene.scale[t])) > 0.1  # zoom sawtooth reset
        if jumped:
            continue
        _, mask = scene.render(t, with_mask=True)
        mask = cv2.erode((mask > 0.99).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        mask &= border
        if mask.sum() < 50:
            continue
        gray = [cv2.cvtColor(frames[i], cv2.COLOR_RGB2GRAY) for i in (t, t + 1)]
        flow = cv2.calcOpticalFlowFarneback(*gray, None, 0.5, 3, 9, 3, 5, 1.1, 0)[mask]
        # offsets from the centre on the torus the object lives on (it wraps round edges)
        rx = np.mod(xs[mask] - centre[0] + width / 2, width) - width / 2
        ry = np.mod(ys[mask] - centre[1] + height / 2, height) - height / 2
        radius2 = np.maximum(rx**2 + ry**2, 4.0)
        flows.append(flow.mean(0))
        # y points down, so rx * fy - ry * fx > 0 is clockwise on screen
        spins.append(np.mean((rx * flow[:, 1] - ry * flow[:, 0]) / radius2))
        growths.append(np.mean((rx * flow[:, 0] + ry * flow[:, 1]) / radius2))
    assert len(flows) >= 2, f"too few usable frame pairs for {class_name}"
    return np.array(flows), np.mean(spins), np.mean(growths)


DIRECTIONS = {"MoveRight": (1, 0), "MoveLeft": (-1, 0), "MoveUp": (0, -1), "MoveDown": (0, 1)}


@pytest.mark.slow
def test_decoded_videos_show_the_class_motion(sample_dataset):
    config = load_sample_config(sample_dataset)
    for class_index, name in enumerate(config.class_names):
        for video in range(config.videos_per_class):
            path = sample_dataset / video_name(config, class_index, video)
            frames, _, _ = decode(path)
            scene = make_scene(config, class_index, video)
            flows, spin, growth = object_flow_statistics(frames, scene, name)
            mean_flow = flows.mean(0)
            if name in DIRECTIONS:
                direction = np.array(DIRECTIONS[name])
                along = mean_flow @ direction
                across = abs(mean_flow @ direction[::-1])
                true_speed = np.linalg.norm(scene.centre[1] - scene.centre[0])
                assert along > 0.5 and across < 0.35 * along, (path, mean_flow)
                assert along == pytest.approx(true_speed, abs=0.4), (path, mean_flow)
            elif name.startswith("Rotate"):
                sign = 1 if name == "RotateClockwise" else -1
                assert sign * spin > 0.02, (path, spin)  # 4-8 deg = 0.07-0.14 rad
                assert abs(growth) < abs(spin), (path, growth, spin)
            elif name.startswith("Zoom"):
                sign = 1 if name == "ZoomIn" else -1
                assert sign * growth > 0.005, (path, growth)
                assert abs(spin) < abs(growth), (path, growth, spin)
            else:  # oscillation: motion along one axis, both ways
                axis = 0 if name == "OscillateHorizontal" else 1
                assert np.abs(flows[:, axis]).mean() > 2 * np.abs(flows[:, 1 - axis]).mean()
                assert np.abs(flows[:, axis]).max() > 1.0, (path, flows)


def motion_vector_statistics(clip, scene):
    """Mean object motion in the codec's own motion vectors (SPEC section 1, M stream).

    Returns (mean (dx, dy) px, angular rate clockwise, expansion rate), averaged over the
    clip's P-frames (but those where a zoom sawtooth restarts), on the object's pixels only
    (offsets from its centre taken on the wrap-around torus).
    """
    p_frames = np.asarray(clip.frame_indices)[np.asarray(clip.frame_types) == "P"]
    height, width = clip.motion.shape[1:3]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    flows, spins, growths = [], [], []
    for motion, frame_index in zip(clip.motion, p_frames, strict=True):
        if abs(np.log(scene.scale[frame_index] / scene.scale[frame_index - 1])) > 0.1:
            continue  # a zoom sawtooth restarts: no motion to see
        _, mask = scene.render(int(frame_index), with_mask=True)
        mask = mask > 0.99
        if mask.sum() < 50:
            continue
        centre = scene.centre[frame_index]
        rx = np.mod(xs[mask] - centre[0] + width / 2, width) - width / 2
        ry = np.mod(ys[mask] - centre[1] + height / 2, height) - height / 2
        radius2 = np.maximum(rx**2 + ry**2, 4.0)
        vectors = motion[mask].astype(np.float64)
        flows.append(vectors.mean(0))
        spins.append(np.mean((rx * vectors[:, 1] - ry * vectors[:, 0]) / radius2))
        growths.append(np.mean((rx * vectors[:, 0] + ry * vectors[:, 1]) / radius2))
    return np.array(flows), np.mean(spins), np.mean(growths)


def test_motion_vectors_show_the_class_motion(sample_dataset):
    """What IMRNet sees: the reader's motion vectors move the way the class says."""
    reader = pytest.importorskip("imrkit.codec.reader")
    config = load_sample_config(sample_dataset)
    for class_index, name in enumerate(config.class_names):
        for video in range(config.videos_per_class):
            path = sample_dataset / video_name(config, class_index, video)
            clip = reader.read_clip(path, start_gop=0, num_gops=5)
            flows, spin, growth = motion_vector_statistics(
                clip, make_scene(config, class_index, video)
            )
            mean_flow = flows.mean(0)
            if name in DIRECTIONS:
                direction = np.array(DIRECTIONS[name])
                along, across = mean_flow @ direction, abs(mean_flow @ direction[::-1])
                assert along > 0.4 and across < 0.2 * along, (path, mean_flow)
            elif name.startswith("Rotate"):
                sign = 1 if name == "RotateClockwise" else -1
                assert sign * spin > 0.005 and abs(growth) < abs(spin), (path, spin, growth)
            elif name.startswith("Zoom"):
                sign = 1 if name == "ZoomIn" else -1
                assert sign * growth > 0.002 and abs(spin) < abs(growth), (path, spin, growth)
            else:
                axis = 0 if name == "OscillateHorizontal" else 1
                assert np.abs(flows[:, axis]).mean() > 3 * np.abs(flows[:, 1 - axis]).mean()
