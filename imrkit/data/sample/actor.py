"""The actor: each class's joint angles over time, its skeleton, and drawing it."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from imrkit.errors import ConfigError

ONE_OFF_CLASSES = ("Jump", "Kick")
"""Classes whose action happens once, at a random time; the others are periodic."""
CLIP_GOPS = 5  # the clip length (SPEC section 1) one-off events must fall into

# --------------------------------------------------------------------------- time courses


def smooth_noise(rng: np.random.Generator, num_frames: int, periods=(24.0, 90.0)) -> np.ndarray:
    """A smooth zero-mean random curve of roughly unit amplitude (three random sinusoids)."""
    t = np.arange(num_frames, dtype=np.float64)
    curve = np.zeros(num_frames)
    for _ in range(3):
        period = rng.uniform(*periods)
        curve += rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    return curve / 1.5


def _rhythm(rng: np.random.Generator, num_frames: int, period: float) -> np.ndarray:
    """The phase (radians) of a periodic action whose tempo drifts by up to ~25% in a clip."""
    tempo = (1.0 + 0.25 * np.clip(smooth_noise(rng, num_frames), -1, 1)) / period
    return 2 * np.pi * np.cumsum(tempo) + rng.uniform(0, 2 * np.pi)


def _envelope(rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """An amplitude factor in [0.5, 1] that changes within a clip (a GOP or two)."""
    return 0.75 + 0.25 * np.clip(smooth_noise(rng, num_frames, (16, 48)), -1, 1)


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
    sway = 4.0 * smooth_noise(rng, num_frames)
    return arm + sway, forearm + sway


def action_pose(class_name: str, rng: np.random.Generator, num_frames: int) -> Pose:
    """The joint angles of one performance of ``class_name``: the class's definition.

    Everything one-sided (the waving arm, the kicking leg) picks its side at random with
    probability 1/2, so every class is mirror-symmetric (a flipped clip stays in its class).
    Over 80 lines because it is the table of class definitions, one branch per class, kept
    together so the classes read side by side.
    """
    n = num_frames
    t = np.arange(n, dtype=np.float64)
    arms = [list(_rest_arm(rng, n)) for _ in SIDES]
    leg = [np.full(n, rng.uniform(2, 12)) + 1.5 * smooth_noise(rng, n) for _ in SIDES]
    lift = [np.zeros(n), np.zeros(n)]
    bend = [np.zeros(n), np.zeros(n)]
    flight = np.zeros(n)
    turn = np.ones(n)
    envelope = _envelope(rng, n)

    def wave(side: int, phase: np.ndarray) -> None:
        # A big wave: the forearm swings and the whole arm with it, a little behind.
        centre = rng.uniform(115, 155) + 5 * smooth_noise(rng, n)
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
            arm = rng.uniform(25, 45) + 3 * smooth_noise(rng, n)
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


# --------------------------------------------------------------------------- drawing


def fixed_point(point) -> tuple[int, int]:
    """A point in OpenCV's fixed-point pixels (``shift=4``: 1/16 pixel), for sub-pixel motion."""
    return int(round(float(point[0]) * 16)), int(round(float(point[1]) * 16))


def draw_actor(
    image: np.ndarray,
    joints: dict[str, np.ndarray],
    size: float,
    colours: dict[str, tuple[int, int, int]] | None,
    only: str | None = None,
) -> None:
    """Draw the figure (or one part of it, in white, for masks) into ``image``, in place.

    Args:
        image: the frame (H x W x 3 uint8) or a mask (H x W uint8).
        joints: joint positions in pixels, (2,) or (2 sides, 2) (``Scene.screen_joints``).
        size: the actor's height in pixels.
        colours: shirt, trousers, skin and their ``_band`` shades; None draws in white.
        only: ``"arms"``, ``"legs"`` or ``"body"`` alone; None draws the whole figure.
    """

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
            image, fixed_point(centre), int(radius * size * 16), colour(name), -1, cv2.LINE_AA, 4
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
        cv2.fillConvexPoly(image, np.int32(np.round(torso * 16)), colour("shirt"), cv2.LINE_AA, 4)
        # The torso polygon collapses to a line when the actor turns side-on.
        hips = (joints["hip"][0] + joints["hip"][1]) / 2
        line(joints["neck"], hips, "shirt", 0.12)
        belt = max(1, int(round(0.05 * size)))
        cv2.line(
            image,
            fixed_point(joints["hip"][0]),
            fixed_point(joints["hip"][1]),
            colour("trousers_band"),
            belt,
            cv2.LINE_AA,
            4,
        )
        radius = int(round(HEAD_RADIUS * size * 16))
        cv2.circle(image, fixed_point(joints["head"]), radius, colour("skin"), -1, cv2.LINE_AA, 4)
    if only in (None, "arms"):
        for side in range(2):
            line(joints["shoulder"][side], joints["elbow"][side], "shirt", 0.11)
            line(joints["elbow"][side], joints["hand"][side], "skin", 0.10)
            disc(joints["hand"][side], "skin_band", 0.07)  # a glove
