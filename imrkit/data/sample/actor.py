"""The embedded sample dataset: a procedurally generated *human action* dataset.

``make_sample(dst)`` writes a labelled video dataset in UCF-101's layout, plus a larger
unlabeled pool for pretraining (as Kinetics is to UCF-101), so that every command of the kit
(pretraining, finetuning, retrieval, the notebooks) runs without a download::

    dst/classInd.txt                              "1 WaveOneArm" ...
    dst/trainlist01.txt                           "WaveOneArm/v_WaveOneArm_g21_c01.avi 1" ...
    dst/testlist01.txt                            "WaveOneArm/v_WaveOneArm_g01_c01.avi" ...
    dst/WaveOneArm/v_WaveOneArm_g01_c01.avi       MPEG-4 Part 2, 12-frame GOPs (SPEC section 1)
    dst/unlabeled/v_unlabeled_00000.avi ...       the pretraining pool (no labels)
    dst/sample.json                               the SampleConfig (written last)

Read the labelled splits with ``DatasetConfig(root=dst)`` (format "ucf101", detected from
``classInd.txt``) and the pool with ``DatasetConfig(root=dst / "unlabeled",
format="unlabeled")``: every video under that folder, label -1.

**The actor.** Every video shows a stick figure (torso, head, two arms of two segments, two
legs of two segments) seen from the front, drawn with anti-aliased OpenCV primitives at
sub-pixel precision. The ten classes differ the way human actions do, by *where* the body
moves and *how*:

==============  ==========================  =======================================
class           where                       how
==============  ==========================  =======================================
WaveOneArm      one arm (either side)       periodic, 8-12 frames per wave
WaveBothArms    both arms, overhead         periodic, 8-12 frames
Clap            both forearms, to the chest periodic, fast (6-10 frames)
JumpingJacks    arms and legs together      periodic, 12-18 frames
Squat           whole body, vertical        periodic, slow (16-24 frames)
WalkInPlace     legs alternate              periodic, slow, low knees (13-18 frames)
RunInPlace      legs alternate, arms pump   periodic, fast, high knees (7-10 frames)
Jump            whole body, vertical        one-off, at a random time
Kick            one leg (either side)       one-off, at a random time
Spin            whole body turns            periodic (14-22 frames per turn)
==============  ==========================  =======================================

Tempos are about twice a real person's at 30 fps: at 64 px a hand must move a pixel or more
per frame to show in half-pel 8x8 motion vectors. Hands and feet are drawn as discs and the
limbs carry stripes, so block matching can follow them.

Limbs the class does not move hold a pose drawn from one distribution shared by every class
(an arm may hang, stick out or point up in any class), so a single frame does not tell the
class. Rhythms are not stationary: the tempo and amplitude of periodic actions drift within
a clip and one-off events happen at a random time inside every 5-GOP window of the video, so
the P-frames of one GOP belong with that GOP's I-frame (what CTP has to learn). The camera
pans over the textured background at a speed and direction that change within the clip,
shakes slightly, and one to three distractor objects wander around.

**Flip invariance.** Every class is mirror-symmetric: one-sided actions (WaveOneArm, Kick)
pick their side at random with probability 1/2, and nothing else is left/right or
clockwise-specific, so the default random horizontal flip (``imrkit.transforms``) maps a
clip of a class to another valid clip of the same class.

**Appearance.** Colours (clothes, skin, background, distractors), textures, the actor's size
and position and the background are drawn from one distribution shared by all classes.

**Splits.** Labelled clips come in groups ``gGG`` that share a background and actor, like
UCF-101's; a group is entirely in the training or the test list. Test groups hold
``test_clips_per_group`` clips (1 by default: every test clip has its own background and
actor, so test clips are independent samples). The unlabeled pool draws classes uniformly
at random, each video with its own background.

Generation is deterministic: a video's random stream is seeded by ``(seed, kind, class,
video)`` only, so the same seed gives byte-identical files whatever the number of workers.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from imrkit.codec.encode import EncodeConfig, encode_frames
from imrkit.errors import ConfigError

CLASS_NAMES = (
    "WaveOneArm",
    "WaveBothArms",
    "Clap",
    "JumpingJacks",
    "Squat",
    "WalkInPlace",
    "RunInPlace",
    "Jump",
    "Kick",
    "Spin",
)
ONE_OFF_CLASSES = ("Jump", "Kick")
"""Classes whose action happens once, at a random time; the others are periodic."""

SAMPLE_INFO = "sample.json"
UNLABELED_FOLDER = "unlabeled"
CLIP_GOPS = 5  # the clip length (SPEC section 1) one-off events must fall into


def _sample_encode_config() -> EncodeConfig:
    # 8x8 motion blocks (+mv4): at 64 px a 16x16 macroblock grid would be only 4x4, too
    # coarse to tell an arm from a leg. Still MPEG-4 Part 2, GOP 12, no B-frames.
    return EncodeConfig(four_mv=True)


@dataclass(frozen=True)
class SampleConfig:
    """What ``make_sample`` generates.

    Attributes:
        num_classes: how many of :data:`CLASS_NAMES` to use (the first ones), 2..10.
        videos_per_class: labelled clips per class (train and test together).
        test_fraction: share of each class's clips held out for testlist01.txt (at least one
            clip, and at least one left for training).
        clips_per_group: clips per training group ``gGG`` (UCF-101 has 4-7); they share a
            background and actor.
        test_clips_per_group: clips per test group; 1 makes every test clip independent.
        unlabeled_videos: clips of the unlabeled pretraining pool under ``dst/unlabeled``;
            None: twice the labelled clips (1,000 for the defaults); 0: no pool.
        num_gops: 12-frame GOPs per video (6 GOPs = 72 frames: a 5-GOP clip has 2 starts).
        width: frame width, a multiple of 32 so crops feed the model's 32x downsampling.
        height: frame height, a multiple of 32.
        fps: frame rate.
        seed: base random seed; same seed, same dataset.
        workers: processes encoding in parallel; 0 uses every CPU.
        extension: ``.avi`` (UCF-101's) or ``.mp4``.
        encode: codec settings (MPEG-4 Part 2, GOP 12, no B-frames; 8x8 motion blocks).
    """

    num_classes: int = len(CLASS_NAMES)
    videos_per_class: int = 50
    test_fraction: float = 0.4
    clips_per_group: int = 3
    test_clips_per_group: int = 1
    unlabeled_videos: int | None = None
    num_gops: int = 6
    width: int = 64
    height: int = 64
    fps: int = 30
    seed: int = 0
    workers: int = 0
    extension: str = ".avi"
    encode: EncodeConfig = field(default_factory=_sample_encode_config)

    def __post_init__(self):
        if not 2 <= self.num_classes <= len(CLASS_NAMES):
            raise ConfigError(
                f"sample.num_classes must be in 2..{len(CLASS_NAMES)}, got {self.num_classes}"
            )
        if self.videos_per_class < 2:
            raise ConfigError("sample.videos_per_class must be >= 2 (one train, one test)")
        if self.width % 32 or self.height % 32 or self.width <= 0 or self.height <= 0:
            raise ConfigError(
                f"sample width/height must be positive multiples of 32, "
                f"got {self.width}x{self.height}"
            )
        if (
            self.num_gops < 1
            or self.clips_per_group < 1
            or self.test_clips_per_group < 1
            or self.workers < 0
        ):
            raise ConfigError(
                "sample.num_gops, clips_per_group and test_clips_per_group must be >= 1, "
                "workers >= 0"
            )
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"sample.test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.extension not in (".avi", ".mp4"):
            raise ConfigError(f"sample.extension must be .avi or .mp4, got {self.extension!r}")
        if self.unlabeled_videos is not None and not 0 <= self.unlabeled_videos <= 99_999:
            raise ConfigError(
                f"sample.unlabeled_videos must be in 0..99999 or None, got {self.unlabeled_videos}"
            )
        if group_of(self, self.videos_per_class - 1) >= 99:
            raise ConfigError(
                "sample: more than 99 groups per class (gGG has two digits); raise "
                "clips_per_group / test_clips_per_group or lower videos_per_class"
            )

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASS_NAMES[: self.num_classes]

    @property
    def num_frames(self) -> int:
        return self.num_gops * self.encode.gop_size

    @property
    def num_test_per_class(self) -> int:
        """Labelled clips of each class in the test list."""
        wanted = max(1, round(self.test_fraction * self.videos_per_class))
        return min(wanted, self.videos_per_class - 1)

    @property
    def num_unlabeled(self) -> int:
        """Clips of the unlabeled pool."""
        if self.unlabeled_videos is None:
            return 2 * self.num_classes * self.videos_per_class
        return self.unlabeled_videos


# --------------------------------------------------------------------------- textures


def random_texture(
    rng: np.random.Generator,
    height: int,
    width: int,
    contrast: float = 1.0,
    min_distance: float = 0.0,
    grain: float = 18.0,
) -> np.ndarray:
    """A random colour texture (H x W x 3 float32 in [0, 255]): blobs, stripes or checks.

    Every kind carries fine grain too, so the encoder's block matching finds the motion.
    ``contrast`` < 1 pulls the second colour towards the first (quieter backgrounds);
    ``min_distance`` redraws colour pairs closer than that (RGB distance).
    """
    colours = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
    while np.linalg.norm(colours[1] - colours[0]) < min_distance:
        colours = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
    colours[1] = colours[0] + contrast * (colours[1] - colours[0])
    kind = rng.integers(3)
    if kind == 0:  # smooth blobs
        cells = rng.random((max(2, height // 12), max(2, width // 12), 1), dtype=np.float32)
        weight = cv2.resize(cells, (width, height), interpolation=cv2.INTER_CUBIC)[..., None]
    else:
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(6, 16)
        if kind == 1:  # stripes at a random angle
            phase = (xs * np.cos(angle) + ys * np.sin(angle)) * (2 * np.pi / period)
            weight = 0.5 + 0.5 * np.sin(phase)[..., None]
        else:  # checks
            u = xs * np.cos(angle) + ys * np.sin(angle)
            v = -xs * np.sin(angle) + ys * np.cos(angle)
            weight = ((np.floor(u / period) + np.floor(v / period)) % 2)[..., None]
    weight = np.clip(weight, 0, 1)
    texture = colours[0] * (1 - weight) + colours[1] * weight
    grain = rng.normal(0, grain, size=(height, width, 1)).astype(np.float32)
    return np.clip(texture + grain, 0, 255).astype(np.float32)


# --------------------------------------------------------------------------- time courses


def _smooth_noise(rng: np.random.Generator, num_frames: int, periods=(24.0, 90.0)) -> np.ndarray:
    """A smooth zero-mean random curve of roughly unit amplitude (three random sinusoids)."""
    t = np.arange(num_frames, dtype=np.float64)
    curve = np.zeros(num_frames)
    for _ in range(3):
        period = rng.uniform(*periods)
        curve += rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    return curve / 1.5


def _rhythm(rng: np.random.Generator, num_frames: int, period: float) -> np.ndarray:
    """The phase (radians) of a periodic action whose tempo drifts by up to ~25% in a clip."""
    tempo = (1.0 + 0.25 * np.clip(_smooth_noise(rng, num_frames), -1, 1)) / period
    return 2 * np.pi * np.cumsum(tempo) + rng.uniform(0, 2 * np.pi)


def _envelope(rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """An amplitude factor in [0.5, 1] that changes within a clip (a GOP or two)."""
    return 0.75 + 0.25 * np.clip(_smooth_noise(rng, num_frames, (16, 48)), -1, 1)


def event_window(num_frames: int, duration: int, gop_size: int = 12) -> tuple[int, int]:
    """Frames ``[lo, hi)`` where a one-off event of ``duration`` frames may start and end.

    The event lies inside every 5-GOP clip of the video (its overlap), so whichever clip
    the loader takes sees it; videos too short for that use the whole video.
    """
    clip = CLIP_GOPS * gop_size
    lo, hi = max(0, num_frames - clip), min(num_frames, clip)
    if hi - lo < duration + 2:
        lo, hi = 0, num_frames
    return lo, hi


# --------------------------------------------------------------------------- the actor

# Body proportions, in units of the actor's height (head top to feet).
TORSO, HEAD_RADIUS, SHOULDER, HIP = 0.30, 0.075, 0.10, 0.06
UPPER_ARM, FOREARM, THIGH, SHIN = 0.17, 0.15, 0.24, 0.23
LIMB_BANDS = 3  # alternating stripes along each limb segment
SIDES = (-1.0, 1.0)  # the actor's two sides, as signs of x (which is "left" never matters)


@dataclass
class Pose:
    """Joint angles over time (arrays of ``num_frames``; pairs are indexed by side 0/1).

    Angles are in degrees and measured *outwards* from hanging straight down on each side,
    so that the same numbers on both sides give a mirror-symmetric pose.

    Attributes:
        arm: shoulder angle (0 down, 90 straight out, 180 straight up).
        forearm: forearm direction, same convention (< 0 points across the body).
        leg: hip abduction (0 straight down).
        lift: knee lift, 0..1 (foreshortens the thigh: a knee raised towards the camera).
        bend: knee bend (knees out, feet under the hips, as in a squat).
        flight: height of the feet above the ground, in actor heights.
        turn: horizontal scale of the figure (cos of its turn angle; 1 faces the camera).
    """

    arm: np.ndarray
    forearm: np.ndarray
    leg: np.ndarray
    lift: np.ndarray
    bend: np.ndarray
    flight: np.ndarray
    turn: np.ndarray


def _rest_arm(rng: np.random.Generator, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """An arm the action does not use: a pose shared by all classes, swaying slightly."""
    arm = rng.uniform(5, 40) if rng.random() < 0.6 else rng.uniform(40, 170)
    forearm = arm + rng.uniform(-20, 50)
    sway = 4.0 * _smooth_noise(rng, num_frames)
    return arm + sway, forearm + sway


def action_pose(class_name: str, rng: np.random.Generator, num_frames: int) -> Pose:
    """The joint angles of one performance of ``class_name``: the class's definition.

    Everything one-sided (the waving arm, the kicking leg) picks its side at random with
    probability 1/2, so every class is mirror-symmetric (a flipped clip stays in its class).
    """
    n = num_frames
    t = np.arange(n, dtype=np.float64)
    arms = [list(_rest_arm(rng, n)) for _ in SIDES]
    leg = [np.full(n, rng.uniform(2, 12)) + 1.5 * _smooth_noise(rng, n) for _ in SIDES]
    lift = [np.zeros(n), np.zeros(n)]
    bend = [np.zeros(n), np.zeros(n)]
    flight = np.zeros(n)
    turn = np.ones(n)
    envelope = _envelope(rng, n)

    def wave(side: int, phase: np.ndarray) -> None:
        # A big wave: the forearm swings and the whole arm with it, a little behind.
        centre = rng.uniform(115, 155) + 5 * _smooth_noise(rng, n)
        arm = centre + rng.uniform(15, 25) * envelope * np.sin(phase - 0.5)
        swing = rng.uniform(45, 60) * envelope * np.sin(phase)
        arms[side] = [arm, centre + rng.uniform(-5, 15) + swing]

    if class_name == "WaveOneArm":
        wave(int(rng.integers(2)), _rhythm(rng, n, rng.uniform(8, 12)))
    elif class_name == "WaveBothArms":
        phase = _rhythm(rng, n, rng.uniform(8, 12))
        wave(0, phase)
        wave(1, phase)
    elif class_name == "Clap":
        phase = _rhythm(rng, n, rng.uniform(6, 10))
        closed = 0.5 - 0.5 * np.cos(phase)  # 1: hands together in front of the chest
        for side in range(2):
            arm = rng.uniform(25, 45) + 3 * _smooth_noise(rng, n)
            open_angle = rng.uniform(-10, 20)
            arms[side] = [arm, open_angle + (rng.uniform(-100, -90) - open_angle) * closed]
    elif class_name == "JumpingJacks":
        phase = _rhythm(rng, n, rng.uniform(12, 18))
        spread = (0.5 - 0.5 * np.cos(phase)) * envelope
        for side in range(2):
            arms[side] = [15 + 150 * spread, 25 + 160 * spread]
            leg[side] = 4 + 24 * spread
        flight = 0.04 * np.abs(np.sin(phase))
    elif class_name == "Squat":
        phase = _rhythm(rng, n, rng.uniform(16, 24))
        depth = rng.uniform(0.7, 1.0) * envelope * (0.5 - 0.5 * np.cos(phase))
        bend = [55 * depth, 55 * depth]
    elif class_name in ("WalkInPlace", "RunInPlace"):
        running = class_name == "RunInPlace"
        phase = _rhythm(rng, n, rng.uniform(7, 10) if running else rng.uniform(13, 18))
        height = (rng.uniform(0.8, 1.0) if running else rng.uniform(0.5, 0.7)) * envelope
        lift = [height * np.maximum(0, np.sin(phase)), height * np.maximum(0, -np.sin(phase))]
        for side, sign in enumerate((1, -1)):
            if running:  # elbows bent, fists pumping up and down in counter-phase to legs
                arm = rng.uniform(20, 35) - 12 * sign * np.sin(phase)
                arms[side] = [arm, arm + rng.uniform(110, 140)]
            else:
                arm = rng.uniform(5, 15) - 6 * sign * np.sin(phase)
                arms[side] = [arm, arm + rng.uniform(0, 15)]
        if running:
            flight = 0.03 * np.abs(np.sin(phase))
    elif class_name == "Jump":
        crouch, air = int(rng.integers(3, 5)), int(rng.integers(7, 11))
        lo, hi = event_window(n, 2 * crouch + air)
        start = rng.uniform(lo, hi - (2 * crouch + air))
        tau = t - start
        down = np.clip(tau / crouch, 0, 1) * (tau < crouch)
        landing = np.clip(1 - (tau - crouch - air) / crouch, 0, 1) * (tau >= crouch + air)
        bend = [40 * (down + landing)] * 2
        airborne = (tau >= crouch) & (tau < crouch + air)
        u = (tau - crouch) / air
        flight = np.where(airborne, rng.uniform(0.25, 0.35) * 4 * u * (1 - u), 0.0)
    elif class_name == "Kick":
        side, duration = int(rng.integers(2)), int(rng.integers(6, 10))
        lo, hi = event_window(n, duration)
        u = np.clip((t - rng.uniform(lo, hi - duration)) / duration, 0, 1)
        leg[side] = leg[side] + rng.uniform(60, 80) * np.sin(np.pi * u) ** 2
        bend[side] = 15 * np.sin(np.pi * u)
    elif class_name == "Spin":
        turn = np.cos(_rhythm(rng, n, rng.uniform(14, 22)))
    else:
        raise ConfigError(f"unknown sample class {class_name!r}")
    return Pose(
        arm=np.stack([np.broadcast_to(a[0], n) for a in arms]),
        forearm=np.stack([np.broadcast_to(a[1], n) for a in arms]),
        leg=np.stack([np.broadcast_to(x, n) for x in leg]),
        lift=np.stack([np.broadcast_to(x, n) for x in lift]),
        bend=np.stack([np.broadcast_to(x, n) for x in bend]),
        flight=np.broadcast_to(flight, n).copy(),
        turn=turn,
    )


JOINTS = ("neck", "head", "shoulder", "elbow", "hand", "hip", "knee", "foot")
"""Joints of :func:`skeleton`; the paired ones have a leading axis of length 2 (sides)."""


def skeleton(pose: Pose) -> dict[str, np.ndarray]:
    """Joint positions (x, y) in actor heights, hips at x = 0, feet on the ground y = 0.

    Returns {joint: (T, 2)} for neck and head, {joint: (2, T, 2)} for the paired joints.
    """
    side = np.array(SIDES)[:, None]
    rad = np.radians

    def limb(start, length, angle, foreshorten=1.0):
        return np.stack(
            [
                start[..., 0] + length * side * np.sin(angle),
                start[..., 1] + length * np.cos(angle) * foreshorten,
            ],
            axis=-1,
        )

    n = pose.turn.shape[0]
    zeros = np.zeros((2, n))
    shoulder = np.stack([side * SHOULDER + zeros, -TORSO + zeros], axis=-1)
    hip = np.stack([side * HIP + zeros, zeros], axis=-1)
    elbow = limb(shoulder, UPPER_ARM, rad(pose.arm))
    hand = limb(elbow, FOREARM, rad(pose.forearm))
    knee = limb(hip, THIGH, rad(pose.leg + pose.bend), 1 - 0.75 * pose.lift)
    foot = limb(knee, SHIN, rad(pose.leg - pose.bend))
    joints = {
        "neck": np.stack([np.zeros(n), np.full(n, -TORSO)], axis=-1),
        "head": np.stack([np.zeros(n), np.full(n, -TORSO - 0.1)], axis=-1),
        "shoulder": shoulder,
        "elbow": elbow,
        "hand": hand,
        "hip": hip,
        "knee": knee,
        "foot": foot,
    }
    # The lower foot stands on the ground (y = 0) unless the actor is in the air.
    ground = foot[..., 1].max(axis=0) + pose.flight
    for name, points in joints.items():
        points = points.copy()
        points[..., 0] *= pose.turn
        points[..., 1] -= ground
        joints[name] = points
    return joints


# --------------------------------------------------------------------------- scenes


@dataclass
class Scene:
    """One video's content: an actor, distractors and a panning background.

    Per-frame trajectories (length ``num_frames``) are precomputed, so ``render(t)`` is a
    pure function of ``t``.
    """

    width: int
    height: int
    class_name: str
    pose: Pose
    joints: dict[str, np.ndarray]  # skeleton(pose), in actor heights
    actor_height: float  # pixels
    actor_origin: np.ndarray  # (num_frames, 2) screen position of the actor's (0, 0)
    colours: dict[str, tuple[int, int, int]]  # shirt, trousers, skin
    background: np.ndarray  # canvas larger than the frame, float32 H' x W' x 3
    background_offset: np.ndarray  # (num_frames, 2) top-left corner (x, y) in the canvas
    distractor_centre: np.ndarray  # (num_frames, K, 2)
    distractor_radius: np.ndarray  # (K,)
    distractor_colour: np.ndarray  # (K, 3)
    distractor_round: np.ndarray  # (K,) bool: disc or square
    distractor_in_front: np.ndarray  # (K,) bool: drawn over the actor

    @property
    def num_frames(self) -> int:
        return self.actor_origin.shape[0]

    def screen_joints(self, t: int) -> dict[str, np.ndarray]:
        """Joint positions of frame ``t`` in pixels: (2,) or (2 sides, 2)."""
        return {
            name: self.actor_origin[t] + self.actor_height * points[..., t, :]
            for name, points in self.joints.items()
        }

    def render(self, t: int, *, with_parts: bool = False):
        """Frame ``t`` as RGB uint8 (H x W x 3).

        With ``with_parts``, also {"arms", "legs", "body"}: boolean masks of where the
        actor's arms, legs and torso with head are drawn (occlusions ignored).
        """
        offset_x, offset_y = self.background_offset[t]
        shift = np.float32([[1, 0, -offset_x], [0, 1, -offset_y]])
        frame = cv2.warpAffine(
            self.background,
            shift,
            (self.width, self.height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        frame = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
        self._draw_distractors(frame, t, in_front=False)
        self._draw_actor(frame, t, self.colours)
        self._draw_distractors(frame, t, in_front=True)
        if not with_parts:
            return frame
        parts = {}
        for part in ("arms", "legs", "body"):
            mask = np.zeros((self.height, self.width), np.uint8)
            self._draw_actor(mask, t, None, only=part)
            parts[part] = mask > 0
        return frame, parts

    def _draw_distractors(self, frame: np.ndarray, t: int, *, in_front: bool) -> None:
        for k in np.flatnonzero(self.distractor_in_front == in_front):
            centre = _fixed(self.distractor_centre[t, k])
            radius = self.distractor_radius[k]
            colour = tuple(int(c) for c in self.distractor_colour[k])
            if self.distractor_round[k]:
                cv2.circle(frame, centre, int(radius * 16), colour, -1, cv2.LINE_AA, 4)
            else:
                corners = self.distractor_centre[t, k] + radius * np.array(
                    [[-1, -1], [1, -1], [1, 1], [-1, 1]]
                )
                cv2.fillConvexPoly(frame, np.int32(np.round(corners * 16)), colour, cv2.LINE_AA, 4)

    def _draw_actor(self, image: np.ndarray, t: int, colours, only: str | None = None) -> None:
        """Draw the figure (or one part of it, in white, for masks) at frame ``t``."""
        joints = self.screen_joints(t)
        size = self.actor_height

        def colour(name):
            return 255 if colours is None else colours[name]

        def line(a, b, name, width):
            # Bands across the limb (sleeve and trouser stripes) move with it, so block
            # matching sees its motion along its length as well as across it.
            thickness = max(1, int(round(width * size)))
            # Plain floats in 1/16 pixels: this runs ~50 times a frame, numpy is slower here.
            ax, ay, bx, by = (float(v) * 16 for v in (a[0], a[1], b[0], b[1]))
            for band in range(LIMB_BANDS):
                u, w = band / LIMB_BANDS, (band + 1) / LIMB_BANDS
                start = (round(ax + (bx - ax) * u), round(ay + (by - ay) * u))
                end = (round(ax + (bx - ax) * w), round(ay + (by - ay) * w))
                shade = name if band % 2 == 0 else f"{name}_band"
                cv2.line(image, start, end, colour(shade), thickness, cv2.LINE_AA, 4)

        def disc(centre, name, radius):
            # Hands and feet are the fastest points of a limb: big enough for 8x8 blocks.
            cv2.circle(
                image, _fixed(centre), int(radius * size * 16), colour(name), -1, cv2.LINE_AA, 4
            )

        if only in (None, "legs"):
            for side in range(2):
                line(joints["hip"][side], joints["knee"][side], "trousers", 0.12)
                line(joints["knee"][side], joints["foot"][side], "trousers", 0.11)
                disc(joints["foot"][side], "trousers_band", 0.075)  # a shoe
        if only in (None, "body"):
            torso = np.stack(
                [joints["shoulder"][0], joints["shoulder"][1], joints["hip"][1], joints["hip"][0]]
            )
            cv2.fillConvexPoly(
                image, np.int32(np.round(torso * 16)), colour("shirt"), cv2.LINE_AA, 4
            )
            # The torso polygon collapses to a line when the actor turns side-on.
            hips = (joints["hip"][0] + joints["hip"][1]) / 2
            line(joints["neck"], hips, "shirt", 0.12)
            belt = max(1, int(round(0.05 * size)))
            cv2.line(
                image,
                _fixed(joints["hip"][0]),
                _fixed(joints["hip"][1]),
                colour("trousers_band"),
                belt,
                cv2.LINE_AA,
                4,
            )
            radius = int(round(HEAD_RADIUS * size * 16))
            cv2.circle(image, _fixed(joints["head"]), radius, colour("skin"), -1, cv2.LINE_AA, 4)
        if only in (None, "arms"):
            for side in range(2):
                line(joints["shoulder"][side], joints["elbow"][side], "shirt", 0.11)
                line(joints["elbow"][side], joints["hand"][side], "skin", 0.10)
                disc(joints["hand"][side], "skin_band", 0.07)  # a glove


def _fixed(point) -> tuple[int, int]:
    """A point in OpenCV's fixed-point pixels (``shift=4``: 1/16 pixel), for sub-pixel motion."""
    return int(round(float(point[0]) * 16)), int(round(float(point[1]) * 16))


def build_scene(
    config: SampleConfig,
    class_name: str,
    rng: np.random.Generator,
    setting_rng: np.random.Generator,
) -> Scene:
    """A scene of ``class_name``: ``setting_rng`` draws what a group shares (background,
    actor's look and size), ``rng`` the rest (motion, camera, placement, distractors)."""
    width, height, n = config.width, config.height, config.num_frames
    unit = min(width, height) / 64  # speeds and sizes are in pixels at 64 px
    # What a group shares: the setting and the actor.
    background_seed = int(setting_rng.integers(2**31))
    contrast = setting_rng.uniform(0.3, 0.8)
    colour_draws = setting_rng.integers(0, 256, size=(16, 3))
    actor_height = setting_rng.uniform(0.65, 0.85) * height

    pose = action_pose(class_name, rng, n)
    joints = skeleton(pose)
    # Feet on a ground line; the figure somewhere along it, swaying a little.
    ground = rng.uniform(0.9, 0.97) * height
    centre_x = rng.uniform(0.3, 0.7) * width
    sway = 1.0 * unit * np.stack([_smooth_noise(rng, n), 0.3 * _smooth_noise(rng, n)], axis=-1)
    # The camera pans to and fro, at a speed and direction that change within the clip, and
    # shakes. The whole world moves with it (actor included), so only the actor's own
    # movement shows relative to the background.
    reach = rng.uniform(0.0, 0.15) * np.array([width, 0.5 * height])
    pan = reach * np.stack(
        [_smooth_noise(rng, n, (40, 120)), _smooth_noise(rng, n, (40, 120))], axis=-1
    )
    pan += (
        0.5
        * unit
        * np.stack([_smooth_noise(rng, n, (6, 20)), _smooth_noise(rng, n, (6, 20))], axis=-1)
    )
    actor_origin = np.array([centre_x, ground]) + sway - pan

    margin = int(math.ceil(np.abs(pan).max())) + 2
    background = random_texture(
        np.random.default_rng(background_seed),
        height + 2 * margin,
        width + 2 * margin,
        contrast=contrast,
        grain=6.0,  # faint: a noisy background drowns the limbs' motion vectors
    )

    # The actor's colours stand out from the background (a figure the colour of the wall
    # has no motion vectors): the first draws far enough from its mean colour.
    mean_colour = background.reshape(-1, 3).mean(0)
    far = [c for c in colour_draws if np.linalg.norm(c - mean_colour) > 100]
    far += [c for c in colour_draws if np.linalg.norm(c - mean_colour) <= 100]
    colours = {}
    for name, colour in zip(("shirt", "trousers", "skin"), far, strict=False):
        colours[name] = tuple(int(c) for c in colour)
        colours[f"{name}_band"] = tuple(int(c * 0.55 + 110 * (c < 80)) for c in colour)

    # Distractors: damped random walks bouncing off the frame edges.
    count = int(rng.integers(1, 4))
    radius = rng.uniform(2.0, 4.5, size=count) * unit
    position = rng.uniform((0, 0), (width, height), size=(count, 2))
    velocity = np.zeros((count, 2))
    centres = np.empty((n, count, 2))
    for index in range(n):
        velocity = 0.92 * velocity + rng.normal(0, 0.45 * unit, size=(count, 2))
        position = position + velocity
        for axis, limit in ((0, width), (1, height)):
            low, high = position[:, axis] < 0, position[:, axis] > limit
            position[low, axis] *= -1
            position[high, axis] = 2 * limit - position[high, axis]
            velocity[low | high, axis] *= -1
        centres[index] = position
    return Scene(
        width=width,
        height=height,
        class_name=class_name,
        pose=pose,
        joints=joints,
        actor_height=actor_height,
        actor_origin=actor_origin,
        colours=colours,
        background=background,
        background_offset=margin + pan,
        distractor_centre=centres - pan[:, None, :],
        distractor_radius=radius,
        distractor_colour=rng.integers(0, 256, size=(count, 3)),
        distractor_round=rng.random(count) < 0.5,
        distractor_in_front=rng.random(count) < 0.5,
    )


def make_scene(config: SampleConfig, class_index: int, video_index: int) -> Scene:
    """The deterministic scene of labelled video ``video_index`` of a class."""
    group = group_of(config, video_index)
    setting_rng = np.random.default_rng([config.seed, 1, class_index, group])
    rng = np.random.default_rng([config.seed, 0, class_index, video_index])
    return build_scene(config, config.class_names[class_index], rng, setting_rng)


def unlabeled_class(config: SampleConfig, index: int) -> int:
    """The (hidden) class index of unlabeled video ``index``: uniform over the classes."""
    return int(np.random.default_rng([config.seed, 2, index]).integers(config.num_classes))


def make_unlabeled_scene(config: SampleConfig, index: int) -> Scene:
    """The deterministic scene of unlabeled video ``index`` (its own setting)."""
    rng = np.random.default_rng([config.seed, 3, index])
    setting_rng = np.random.default_rng([config.seed, 4, index])
    return build_scene(config, config.class_names[unlabeled_class(config, index)], rng, setting_rng)


def render_video(config: SampleConfig, class_index: int, video_index: int) -> Iterator[np.ndarray]:
    """The RGB frames (H x W x 3 uint8 each) of one labelled video, before encoding."""
    scene = make_scene(config, class_index, video_index)
    for t in range(config.num_frames):
        yield scene.render(t)


# --------------------------------------------------------------------------- layout


def _per_group(config: SampleConfig, video_index: int) -> tuple[int, int, int]:
    """(first group, clips per group, index within the split) of a labelled video."""
    num_test = config.num_test_per_class
    if video_index < num_test:
        return 0, config.test_clips_per_group, video_index
    test_groups = math.ceil(num_test / config.test_clips_per_group)
    return test_groups, config.clips_per_group, video_index - num_test


def group_of(config: SampleConfig, video_index: int) -> int:
    """0-based group of a labelled video: test groups first, as UCF-101 holds out g01-g07."""
    first, per_group, index = _per_group(config, video_index)
    return first + index // per_group


def clip_of(config: SampleConfig, video_index: int) -> int:
    _, per_group, index = _per_group(config, video_index)
    return index % per_group


def is_test_video(config: SampleConfig, video_index: int) -> bool:
    """Whether a labelled video is in the test list (its whole group is)."""
    return video_index < config.num_test_per_class


def is_test_group(config: SampleConfig, group: int) -> bool:
    """Whether a group is held out."""
    return group <= group_of(config, config.num_test_per_class - 1)


def video_name(config: SampleConfig, class_index: int, video_index: int) -> str:
    """Relative path of a video: ``ClassName/v_ClassName_gGG_cCC.avi`` (1-based numbers)."""
    name = config.class_names[class_index]
    group, clip = group_of(config, video_index) + 1, clip_of(config, video_index) + 1
    return f"{name}/v_{name}_g{group:02d}_c{clip:02d}{config.extension}"


def unlabeled_name(config: SampleConfig, index: int) -> str:
    """Relative path of an unlabeled video: ``unlabeled/v_unlabeled_NNNNN.avi``."""
    return f"{UNLABELED_FOLDER}/v_unlabeled_{index:05d}{config.extension}"


def _write_video(job: tuple[SampleConfig, int, int, str]) -> str:
    """Render and encode one video atomically (temp file, then rename); worker entry point.

    ``job`` is (config, class index or -1 for the unlabeled pool, video index, path).
    """
    config, class_index, video_index, path = job
    cv2.setNumThreads(1)  # the parallelism is across videos; avoid oversubscribing cores
    if class_index < 0:
        scene = make_unlabeled_scene(config, video_index)
    else:
        scene = make_scene(config, class_index, video_index)
    path = Path(path)
    partial = path.with_name(f".{path.name}.part")
    try:
        encode_frames(
            (scene.render(t) for t in range(config.num_frames)),
            partial,
            config.encode,
            container_format=config.extension.lstrip("."),
        )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return str(path)


GENERATOR_VERSION = 2  # 1: moving textured objects (MoveRight, ...); 2: the actor


def _config_record(config: SampleConfig) -> dict:
    return {"generator": "imrkit.data.sample", "version": GENERATOR_VERSION, **asdict(config)}


def load_sample_config(root: str | os.PathLike) -> SampleConfig:
    """The :class:`SampleConfig` a sample dataset at ``root`` was generated with.

    Raises:
        ConfigError: ``root/sample.json`` is missing (not a finished sample dataset), or
            was written by an older generator.
    """
    info_path = Path(root) / SAMPLE_INFO
    if not info_path.is_file():
        raise ConfigError(f"{info_path}: missing; is {root} a finished `imrkit make-sample`?")
    record = json.loads(info_path.read_text())
    if record.get("version") != GENERATOR_VERSION:
        raise ConfigError(
            f"{info_path}: made by an older `imrkit make-sample` (version "
            f"{record.get('version')}); run `imrkit make-sample` again"
        )
    fields = {key: value for key, value in record.items() if key not in ("generator", "version")}
    fields["encode"] = EncodeConfig(**fields["encode"])
    return SampleConfig(**fields)


def _previous_config(root: Path) -> SampleConfig | None:
    """The config of the sample dataset already at ``root``, if any (and readable)."""
    try:
        return load_sample_config(root)
    except (ConfigError, ValueError, TypeError, KeyError):
        return None


def _all_videos(config: SampleConfig) -> set[str]:
    labelled = {
        video_name(config, class_index, video_index)
        for class_index in range(config.num_classes)
        for video_index in range(config.videos_per_class)
    }
    return labelled | {unlabeled_name(config, i) for i in range(config.num_unlabeled)}


def _remove_stale_videos(root: Path, previous: SampleConfig, config: SampleConfig) -> None:
    """Delete videos an earlier ``make_sample`` wrote that the new config does not list.

    Only names the earlier config generated are touched, never other files in ``root``.
    """
    for relative in sorted(_all_videos(previous) - _all_videos(config)):
        (root / relative).unlink(missing_ok=True)
    for name in (*previous.class_names, UNLABELED_FOLDER):
        folder = root / name
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def make_sample(
    dst: str | os.PathLike, config: SampleConfig = SampleConfig(), *, progress: bool = False
) -> Path:
    """Generate the sample dataset under ``dst``: UCF-101's layout plus ``dst/unlabeled``.

    Videos already there from an identical config (recorded in ``dst/sample.json``; the
    number of workers does not count) are kept, so re-running is cheap; any other config
    regenerates every video and deletes the earlier videos it no longer lists.

    Args:
        dst: output folder (created).
        config: what to generate.
        progress: show a tqdm progress bar.

    Returns:
        ``dst`` as a Path.
    """
    from tqdm.auto import tqdm

    root = Path(dst)
    root.mkdir(parents=True, exist_ok=True)
    info_path = root / SAMPLE_INFO
    previous = _previous_config(root)
    # The number of workers does not change a single byte, so it does not force a rebuild.
    reuse = previous is not None and replace(previous, workers=0) == replace(config, workers=0)
    if previous is not None:
        _remove_stale_videos(root, previous, config)
    info_path.unlink(missing_ok=True)  # written last: its presence means "complete"

    train_lines, test_lines, jobs = [], [], []
    for class_index, name in enumerate(config.class_names):
        (root / name).mkdir(exist_ok=True)
        for video_index in range(config.videos_per_class):
            relative = video_name(config, class_index, video_index)
            if is_test_video(config, video_index):
                test_lines.append(relative)
            else:
                train_lines.append(f"{relative} {class_index + 1}")
            if not (reuse and (root / relative).exists()):
                jobs.append((config, class_index, video_index, str(root / relative)))
    if config.num_unlabeled:
        (root / UNLABELED_FOLDER).mkdir(exist_ok=True)
    for index in range(config.num_unlabeled):
        relative = unlabeled_name(config, index)
        if not (reuse and (root / relative).exists()):
            jobs.append((config, -1, index, str(root / relative)))

    from imrkit.data.prepare import available_cpus, process_pool

    workers = config.workers or available_cpus()
    bar = tqdm(total=len(jobs), desc="make-sample", unit="video", disable=not progress)
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            _write_video(job)
            bar.update()
    else:
        with process_pool(min(workers, len(jobs))) as pool:
            for _ in pool.map(_write_video, jobs, chunksize=4):
                bar.update()
    bar.close()

    class_lines = [f"{index + 1} {name}" for index, name in enumerate(config.class_names)]
    (root / "classInd.txt").write_text("\n".join(class_lines) + "\n")
    (root / "trainlist01.txt").write_text("\n".join(train_lines) + "\n")
    (root / "testlist01.txt").write_text("\n".join(test_lines) + "\n")
    info_path.write_text(json.dumps(_config_record(config), indent=2) + "\n")
    return root


def ensure_sample(
    dst: str | os.PathLike, config: SampleConfig = SampleConfig(), *, progress: bool = True
) -> Path:
    """The sample dataset at ``dst``, generated only if no complete one is there.

    A folder counts as complete once ``make_sample`` wrote its ``sample.json`` last, so an
    interrupted build is finished on the next call, while a finished one (of any config) is
    used as it is: demos and notebooks never rebuild data a user already has. A dataset
    from an older generator (other classes, no unlabeled pool) is rebuilt.
    """
    root = Path(dst)
    if _previous_config(root) is not None and (root / "classInd.txt").is_file():
        return root
    return make_sample(root, config, progress=progress)


__all__ = [
    "CLASS_NAMES",
    "ONE_OFF_CLASSES",
    "Pose",
    "SampleConfig",
    "Scene",
    "action_pose",
    "ensure_sample",
    "load_sample_config",
    "make_sample",
    "make_scene",
    "make_unlabeled_scene",
    "render_video",
    "skeleton",
    "unlabeled_name",
    "video_name",
]
