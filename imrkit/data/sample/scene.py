"""Scenes: the actor, distractors and a panning textured background, rendered frame by frame."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from imrkit.data.sample.actor import (
    Pose,
    action_pose,
    draw_actor,
    fixed_point,
    skeleton,
    smooth_noise,
)
from imrkit.data.sample.layout import SampleConfig, group_of, unlabeled_class

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
        joints = self.screen_joints(t)
        self._draw_distractors(frame, t, in_front=False)
        draw_actor(frame, joints, self.actor_height, self.colours)
        self._draw_distractors(frame, t, in_front=True)
        if not with_parts:
            return frame
        parts = {}
        for part in ("arms", "legs", "body"):
            mask = np.zeros((self.height, self.width), np.uint8)
            draw_actor(mask, joints, self.actor_height, None, only=part)
            parts[part] = mask > 0
        return frame, parts

    def _draw_distractors(self, frame: np.ndarray, t: int, *, in_front: bool) -> None:
        for k in np.flatnonzero(self.distractor_in_front == in_front):
            centre = fixed_point(self.distractor_centre[t, k])
            radius = self.distractor_radius[k]
            colour = tuple(int(c) for c in self.distractor_colour[k])
            if self.distractor_round[k]:
                cv2.circle(frame, centre, int(radius * 16), colour, -1, cv2.LINE_AA, 4)
            else:
                corners = self.distractor_centre[t, k] + radius * np.array(
                    [[-1, -1], [1, -1], [1, 1], [-1, 1]]
                )
                cv2.fillConvexPoly(frame, np.int32(np.round(corners * 16)), colour, cv2.LINE_AA, 4)


def build_scene(
    config: SampleConfig,
    class_name: str,
    rng: np.random.Generator,
    setting_rng: np.random.Generator,
) -> Scene:
    """A scene of ``class_name``: ``setting_rng`` draws what a group shares (background,
    actor's look and size), ``rng`` the rest (motion, camera, placement, distractors).

    Over 80 lines because it is one linear recipe whose steps draw from the two random
    streams in a fixed order: that order is what makes a seed give the same dataset.
    """
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
    sway = 1.0 * unit * np.stack([smooth_noise(rng, n), 0.3 * smooth_noise(rng, n)], axis=-1)
    # The camera pans to and fro, at a speed and direction that change within the clip, and
    # shakes. The whole world moves with it (actor included), so only the actor's own
    # movement shows relative to the background.
    reach = rng.uniform(0.0, 0.15) * np.array([width, 0.5 * height])
    pan = reach * np.stack(
        [smooth_noise(rng, n, (40, 120)), smooth_noise(rng, n, (40, 120))], axis=-1
    )
    pan += (
        0.5
        * unit
        * np.stack([smooth_noise(rng, n, (6, 20)), smooth_noise(rng, n, (6, 20))], axis=-1)
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
