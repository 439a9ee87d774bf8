"""The sample classes' motion: defined by the skeleton, visible in the codec's vectors.

Two levels:

- the class *definitions* (joint trajectories from :func:`action_pose`, cheap, many draws):
  which body parts move, how fast, periodic or one-off, and mirror symmetry, so that the
  default random horizontal flip never turns a clip into another class;
- what IMRNet sees: ``read_clip``'s motion vectors of generated videos, through the default
  transform with and without its flip, show each class's defining motion.
"""

from __future__ import annotations

import numpy as np
import pytest

from imrkit.data.sample import (
    CLASS_NAMES,
    ONE_OFF_CLASSES,
    SampleConfig,
    action_pose,
    event_window,
    load_sample_config,
    make_sample,
    make_scene,
    skeleton,
    video_name,
)

NUM_FRAMES = 72
ARM_CLASSES = ("WaveOneArm", "WaveBothArms", "Clap")
LEG_CLASSES = ("WalkInPlace", "RunInPlace", "Kick")
WHOLE_BODY_CLASSES = ("JumpingJacks", "Squat", "Jump", "Spin")


def joint_tracks(class_name: str, draw: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([12345, CLASS_NAMES.index(class_name), draw])
    return skeleton(action_pose(class_name, rng, NUM_FRAMES))


def speed(points: np.ndarray) -> np.ndarray:
    """Per-frame speed (actor heights per frame) of (..., T, 2) positions."""
    return np.linalg.norm(np.diff(points, axis=-2), axis=-1)


def signature(joints: dict[str, np.ndarray], mirror: bool = False) -> np.ndarray:
    """Side-specific motion features of one performance.

    Per side: mean speed of hand, elbow, knee and foot, and their mean signed horizontal
    velocity; then head speed and signed horizontal velocity, and the peak-to-mean ratio of
    the whole body's speed. ``mirror`` gives the features of the horizontally flipped clip:
    x negated, and what was on one side is on the other.
    """
    sides = (1, 0) if mirror else (0, 1)
    sign = -1.0 if mirror else 1.0
    features = []
    for side in sides:
        for name in ("hand", "elbow", "knee", "foot"):
            track = joints[name][side]
            features += [speed(track).mean(), sign * np.diff(track[:, 0]).mean() * 10]
    features += [speed(joints["head"]).mean(), sign * np.diff(joints["head"][:, 0]).mean() * 10]
    total = sum(speed(joints[name]).sum(0) for name in ("hand", "foot")) + speed(joints["head"])
    features.append(total.max() / total.mean() / 10)
    return np.array(features)


@pytest.fixture(scope="module")
def signatures():
    return {name: [joint_tracks(name, draw) for draw in range(24)] for name in CLASS_NAMES}


def part_speeds(joints) -> dict[str, float]:
    return {
        "hands": speed(joints["hand"]).max(0).mean(),  # the faster hand, frame by frame
        "feet": speed(joints["foot"]).max(0).mean(),
        "head": speed(joints["head"]).mean(),
    }


def test_classes_differ_by_where_the_body_moves(signatures):
    for name, draws in signatures.items():
        parts = {k: np.mean([part_speeds(j)[k] for j in draws]) for k in ("hands", "feet", "head")}
        if name in ARM_CLASSES:  # the arms move, the body stands still
            assert parts["hands"] > 4 * max(parts["feet"], parts["head"]), (name, parts)
        elif name in LEG_CLASSES:  # the legs move, the head hardly
            assert parts["feet"] > 2.5 * parts["head"], (name, parts)
        else:  # the whole body: the head moves too, or (Spin) the figure turns
            assert name in WHOLE_BODY_CLASSES
            moving = parts["head"] > 0.005 or parts["hands"] > 4 * parts["head"]
            assert moving, (name, parts)


def test_waving_one_arm_moves_one_hand_and_both_arms_two(signatures):
    for name, expect_both in (("WaveOneArm", False), ("WaveBothArms", True), ("Clap", True)):
        for joints in signatures[name]:
            hands = speed(joints["hand"]).mean(1)
            assert (hands.min() > 0.5 * hands.max()) == expect_both, (name, hands)


def test_running_is_faster_than_walking(signatures):
    def feet(name):
        return np.array([part_speeds(j)["feet"] for j in signatures[name]])

    walk, run = feet("WalkInPlace"), feet("RunInPlace")
    assert run.min() > walk.max()  # no overlap at all
    assert run.mean() > 2.5 * walk.mean()


def test_one_off_actions_happen_once_inside_every_clip(signatures):
    window = event_window(NUM_FRAMES, 0)
    for name, draws in signatures.items():
        for joints in draws:
            body = speed(joints["hand"]).sum(0) + speed(joints["foot"]).sum(0)
            active = body + speed(joints["head"]) > 0.25 * body.max()
            if name in ONE_OFF_CLASSES:
                # one burst, short, inside the frames every 5-GOP clip covers
                assert active.sum() < 16, (name, active.sum())
                frames = np.flatnonzero(active)
                assert frames.min() >= window[0] - 1 and frames.max() < window[1], name
                assert frames.max() - frames.min() < 20, name
            else:  # periodic: active again and again through the clip
                assert np.ptp(np.flatnonzero(active)) > NUM_FRAMES / 2, name


def test_no_two_gops_move_alike(signatures):
    """Motion is not stationary: a GOP's P-frames do not fit another GOP's place.

    The vertical velocity of the moving joint at the sampled P positions (2, 4, .., 10)
    differs from GOP to GOP (tempo and amplitude drift; the phase does not repeat every 12
    frames), which is what lets CTP tell shuffled or shifted P-frames from aligned ones.
    """
    joint = {"Squat": "head", "Spin": "hand", "JumpingJacks": "hand"}
    for name in set(CLASS_NAMES) - set(ONE_OFF_CLASSES):
        part = joint.get(name, "hand" if name in ARM_CLASSES else "foot")
        for joints in signatures[name][:10]:
            track = joints[part]
            if track.ndim == 3:  # a pair: the side that moves more (WaveOneArm uses one)
                track = track[np.argmax(speed(track).mean(1))]
            velocity = np.diff(track[:, 1] if name != "Spin" else track[:, 0])
            # P-frame k's motion is from frame k - 1 to k: velocity index k - 1
            profiles = np.stack([velocity[12 * g + np.arange(1, 11, 2)] for g in range(6)])
            scale = np.linalg.norm(profiles, axis=1).mean()
            gaps = [
                np.linalg.norm(profiles[g] - profiles[h]) / scale
                for g in range(6)
                for h in range(g + 1, 6)
            ]
            # at most one pair of the 15 alike by chance
            alike = int(np.sum(np.array(gaps) < 0.1))
            assert alike <= 1 and np.mean(gaps) > 0.5, (name, alike, np.mean(gaps))


def test_every_class_is_mirror_symmetric(signatures):
    """A flipped clip still looks like its own class, never like another one.

    Nearest class centroid on side-specific features: mirrored performances are recognised
    as their own class as well as the originals are. ("Wave the left arm" against "wave the
    right arm", or "move right" against "move left", would fail here.)
    """
    names = list(signatures)
    train = {n: np.stack([signature(j) for j in d[:12]]) for n, d in signatures.items()}
    centroids = np.stack([train[n].mean(0) for n in names])
    scale = np.concatenate(list(train.values())).std(0) + 1e-9

    def accuracy(mirror: bool) -> float:
        correct = total = 0
        for label, name in enumerate(names):
            for joints in signatures[name][12:]:
                distances = (((centroids - signature(joints, mirror)) / scale) ** 2).sum(1)
                correct += int(np.argmin(distances) == label)
                total += 1
        return correct / total

    plain, flipped = accuracy(False), accuracy(True)
    assert plain > 0.8
    assert flipped >= plain - 0.02, (plain, flipped)
    # And class by class: the mirrored class mean sits on the class mean.
    for label, name in enumerate(names):
        mirrored = np.stack([signature(j, mirror=True) for j in signatures[name]]).mean(0)
        distances = (((centroids - mirrored) / scale) ** 2).sum(1)
        assert np.argmin(distances) == label, name


# --------------------------------------------------------------------------- codec level


def clip_part_motion(clip, scene, *, flipped: bool) -> dict[str, np.ndarray]:
    """Per P-frame motion (px/frame, camera motion removed) near hands, feet and head.

    ``clip`` went through the default transform (full-frame crop, optional flip), so its
    motion is model-layout 2 x N x H x W; the scene's joints are mirrored alike.
    """
    from imrkit.transforms import TransformConfig

    motion = clip["motion"].numpy() * TransformConfig().motion_scale  # back to pixels
    height, width = motion.shape[2:]
    ys, xs = np.mgrid[0:height, 0:width]
    radius = 0.08 * scene.actor_height
    parts = {"hands": [], "feet": [], "head": []}
    for index, frame in enumerate(clip["p_frames"]):
        camera = -(scene.background_offset[frame] - scene.background_offset[frame - 1])
        if flipped:
            camera = camera * (-1, 1)
        relative = np.linalg.norm(
            motion[:, index].transpose(1, 2, 0) - camera.astype(np.float32), axis=-1
        )
        joints = scene.screen_joints(int(frame))
        for part, joint in (("hands", "hand"), ("feet", "foot"), ("head", "head")):
            values = []
            for x, y in joints[joint].reshape(-1, 2):
                if flipped:
                    x = width - 1 - x
                near = (xs - x) ** 2 + (ys - y) ** 2 <= radius**2
                if near.any():
                    values.append(relative[near].mean())
            parts[part].append(max(values) if values else 0.0)
    return {part: np.array(values) for part, values in parts.items()}


def measured_motion(root, *, flipped: bool) -> dict[str, list[dict[str, np.ndarray]]]:
    """{class: [part motion of each of its videos]} through the default transform."""
    import torch

    from imrkit.codec.reader import read_clip
    from imrkit.transforms import TransformConfig, transform_clip
    from imrkit.transforms.functional import CropBox

    config = load_sample_config(root)
    measured = {}
    for class_index, name in enumerate(config.class_names):
        measured[name] = []
        for video in range(config.videos_per_class):
            clip = read_clip(root / video_name(config, class_index, video), 0, 5)
            box = CropBox(0, 0, config.height, config.width)
            cfg = TransformConfig(crop_size=config.width, short_side=config.width)
            with torch.no_grad():
                sample = transform_clip(clip, box, flipped, cfg)
            kinds = np.asarray(clip.frame_types)
            sample["p_frames"] = np.asarray(clip.frame_indices)[kinds == "P"]
            scene = make_scene(config, class_index, video)
            measured[name].append(clip_part_motion(sample, scene, flipped=flipped))
    return measured


@pytest.fixture(scope="module")
def motion_dataset(tmp_path_factory):
    """Four videos of every class (class means, not single clips, carry the assertions)."""
    config = SampleConfig(videos_per_class=4, unlabeled_videos=0, num_gops=6, workers=1)
    assert config.width == config.height  # a square frame: the full-frame crop is exact
    return make_sample(tmp_path_factory.mktemp("sample_motion"), config)


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "flipped"])
def codec_motion(request, motion_dataset):
    return measured_motion(motion_dataset, flipped=request.param)


def test_motion_vectors_show_where_each_class_moves(codec_motion):
    for name, videos in codec_motion.items():
        mean = {part: np.mean([v[part].mean() for v in videos]) for part in videos[0]}
        if name in ARM_CLASSES + ("JumpingJacks", "Spin"):
            assert mean["hands"] > 1.5 * mean["head"], (name, mean)
        if name in ARM_CLASSES:
            assert mean["hands"] > 1.5 * mean["feet"], (name, mean)
        if name in ("RunInPlace", "Kick"):
            assert mean["feet"] > 1.2 * mean["head"], (name, mean)
        if name == "Squat":  # the body goes down and up on planted feet
            assert mean["head"] > 1.3 * mean["feet"], (name, mean)


def test_motion_vectors_show_how_fast_and_when(codec_motion):
    def feet(name):
        return np.mean([v["feet"].mean() for v in codec_motion[name]])

    assert feet("RunInPlace") > 1.5 * feet("WalkInPlace")

    def peakiness(video):
        body = video["hands"] + video["feet"] + video["head"]
        return body.max() / np.median(body)

    one_off = [peakiness(v) for name in ONE_OFF_CLASSES for v in codec_motion[name]]
    periodic = [
        peakiness(v) for name in ("WaveBothArms", "RunInPlace", "Spin") for v in codec_motion[name]
    ]
    # one burst stands out of a clip's motion, a rhythm does not
    assert np.median(one_off) > 2 * np.median(periodic), (one_off, periodic)
