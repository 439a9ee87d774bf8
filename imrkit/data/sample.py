"""The embedded sample dataset: a small, procedurally generated action dataset.

``make_sample(dst)`` writes a labelled video dataset in UCF-101's layout so that every
command of the kit (pretraining, finetuning, retrieval, the notebooks) runs without a
download::

    dst/classInd.txt                          "1 MoveRight" ...
    dst/trainlist01.txt                       "MoveRight/v_MoveRight_g02_c01.avi 1" ...
    dst/testlist01.txt                        "MoveRight/v_MoveRight_g01_c01.avi" ...
    dst/MoveRight/v_MoveRight_g01_c01.avi     MPEG-4 Part 2, 12-frame GOPs (SPEC section 1)

Each class is a kind of *motion* (move right, rotate clockwise, zoom in, ...) of a textured
object over a textured, sometimes panning background, with a small distractor object
wandering at random. Everything a single frame shows (object shape, colours, texture, size,
position, background) is drawn from one distribution shared by all classes, so a class can
only be told from how things move: the signal IMRNet's motion stream and the PMSP pretext
task are about. Objects leave one edge and come back at the opposite one (the frame is a
torus), which lets start positions be uniform whatever the direction of motion.

Generation is deterministic: a video's random stream is seeded by
``(seed, class index, video index)`` only, so the same seed gives byte-identical frames
whatever the number of workers. Clips are grouped (``gGG``) like UCF-101's groups; clips of
a group share their background and groups never straddle the train/test split.
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
    "MoveRight",
    "MoveLeft",
    "MoveUp",
    "MoveDown",
    "RotateClockwise",
    "RotateCounterclockwise",
    "ZoomIn",
    "ZoomOut",
    "OscillateHorizontal",
    "OscillateVertical",
)

SAMPLE_INFO = "sample.json"


@dataclass(frozen=True)
class SampleConfig:
    """What ``make_sample`` generates.

    Attributes:
        num_classes: how many of :data:`CLASS_NAMES` to use (the first ones), 2..10.
        videos_per_class: clips per class.
        clips_per_group: clips per group ``gGG`` (UCF-101 has 4-7); lowered when a class has
            too few clips for two groups, so that both splits always get some.
        test_fraction: share of each class's groups held out for testlist01.txt.
        num_gops: 12-frame GOPs per video (7 GOPs = 84 frames: a 5-GOP clip has 3 starts).
        width: frame width, a multiple of 32 so crops feed the model's 32x downsampling.
        height: frame height, a multiple of 32.
        fps: frame rate.
        seed: base random seed; same seed, same dataset.
        workers: processes encoding in parallel; 0 uses every CPU.
        extension: ``.avi`` (UCF-101's) or ``.mp4``.
        encode: codec settings (MPEG-4 Part 2, GOP 12, no B-frames).
    """

    num_classes: int = len(CLASS_NAMES)
    videos_per_class: int = 12
    clips_per_group: int = 3
    test_fraction: float = 0.25
    num_gops: int = 7
    width: int = 160
    height: int = 128
    fps: int = 30
    seed: int = 0
    workers: int = 0
    extension: str = ".avi"
    encode: EncodeConfig = field(default_factory=EncodeConfig)

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
        if self.num_gops < 1 or self.clips_per_group < 1 or self.workers < 0:
            raise ConfigError("sample.num_gops and clips_per_group must be >= 1, workers >= 0")
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"sample.test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.extension not in (".avi", ".mp4"):
            raise ConfigError(f"sample.extension must be .avi or .mp4, got {self.extension!r}")

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASS_NAMES[: self.num_classes]

    @property
    def num_frames(self) -> int:
        return self.num_gops * self.encode.gop_size


# --------------------------------------------------------------------------- textures


def random_texture(
    rng: np.random.Generator,
    height: int,
    width: int,
    contrast: float = 1.0,
    min_distance: float = 0.0,
) -> np.ndarray:
    """A random colour texture (H x W x 3 float32 in [0, 255]): blobs, stripes or checks.

    Every kind carries fine grain too, so the encoder's block matching finds the motion.
    ``contrast`` < 1 pulls the second colour towards the first (quieter backgrounds);
    ``min_distance`` redraws colour pairs closer than that (RGB distance), so an object never
    comes out flat, which would hide its rotation from the motion vectors.
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
    grain = rng.normal(0, 18, size=(height, width, 1)).astype(np.float32)
    return np.clip(texture + grain, 0, 255).astype(np.float32)


def random_sprite(rng: np.random.Generator, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """A textured object: (texture S x S x 3, soft mask S x S), centred, of the given radius."""
    size = int(math.ceil(2 * radius)) + 4
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) - (size - 1) / 2
    aspect = rng.uniform(0.6, 1.0)
    if rng.random() < 0.5:  # ellipse
        inside = (xs / radius) ** 2 + (ys / (radius * aspect)) ** 2 <= 1
    else:  # rectangle
        inside = (np.abs(xs) <= radius * 0.9) & (np.abs(ys) <= radius * 0.9 * aspect)
    mask = cv2.GaussianBlur(inside.astype(np.float32), (3, 3), 0)
    return random_texture(rng, size, size, min_distance=120.0), mask


# --------------------------------------------------------------------------- scenes


@dataclass
class Scene:
    """One video's content: a moving textured object, a distractor and a background.

    Per-frame trajectories (length ``num_frames``) are precomputed, so ``render(t)`` is a
    pure function of ``t``.
    """

    width: int
    height: int
    background: np.ndarray  # canvas larger than the frame, float32 H' x W' x 3
    background_offset: np.ndarray  # (num_frames, 2) top-left corner (x, y) in the canvas
    sprite: np.ndarray
    sprite_mask: np.ndarray
    centre: np.ndarray  # (num_frames, 2) x, y in pixels (wrapped onto the frame)
    angle: np.ndarray  # (num_frames,) degrees, clockwise on screen
    scale: np.ndarray  # (num_frames,)
    distractor: np.ndarray
    distractor_mask: np.ndarray
    distractor_centre: np.ndarray  # (num_frames, 2)

    def render(self, t: int, *, with_mask: bool = False):
        """Frame ``t`` as RGB uint8 (H x W x 3); with ``with_mask``, also the object's mask."""
        offset_x, offset_y = self.background_offset[t]
        shift = np.float32([[1, 0, -offset_x], [0, 1, -offset_y]])
        frame = cv2.warpAffine(
            self.background,
            shift,
            (self.width, self.height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        frame, _ = self._paste(
            frame, self.distractor, self.distractor_mask, self.distractor_centre[t], 0.0, 1.0
        )
        frame, mask = self._paste(
            frame, self.sprite, self.sprite_mask, self.centre[t], self.angle[t], self.scale[t]
        )
        frame = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
        return (frame, mask) if with_mask else frame

    def _paste(self, frame, sprite, sprite_mask, centre, angle, scale):
        """Composite a sprite at ``centre`` (wrapped around the frame edges)."""
        size = sprite.shape[0]
        half_extent = scale * size / 2 * math.sqrt(2)
        total_mask = np.zeros(frame.shape[:2], np.float32)
        for dx in (-self.width, 0, self.width):
            for dy in (-self.height, 0, self.height):
                x, y = centre[0] + dx, centre[1] + dy
                if (
                    x + half_extent < 0
                    or x - half_extent > self.width
                    or y + half_extent < 0
                    or y - half_extent > self.height
                ):
                    continue
                # Rotation matrix about the sprite centre; negative angle is clockwise for
                # OpenCV (y points down), and our angles are clockwise-positive.
                matrix = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), -angle, scale)
                matrix[:, 2] += np.float64([x - (size - 1) / 2, y - (size - 1) / 2])
                mask = cv2.warpAffine(
                    sprite_mask,
                    matrix,
                    (self.width, self.height),
                    flags=cv2.INTER_LINEAR,
                    borderValue=0,
                )
                texture = cv2.warpAffine(
                    sprite, matrix, (self.width, self.height), flags=cv2.INTER_LINEAR, borderValue=0
                )
                alpha = mask[..., None]
                frame = frame * (1 - alpha) + texture * alpha
                total_mask = np.maximum(total_mask, mask)
        return frame, total_mask


def _object_motion(
    class_name: str, rng: np.random.Generator, num_frames: int, width: int, height: int
):
    """Per-frame (centre offset (T, 2), angle (T,), scale (T,)) defining a motion class.

    The base scale is drawn the same way for every class; zoom classes share one scale
    range, travelled in opposite directions from a random phase, so a single frame's object
    size does not betray the class either.
    """
    t = np.arange(num_frames, dtype=np.float64)
    offset = np.zeros((num_frames, 2))
    angle = np.full(num_frames, rng.uniform(0, 360))
    scale = np.full(num_frames, rng.uniform(0.85, 1.15))
    unit = min(width, height) / 128  # speeds are in pixels at 128 px, scaled with the frame
    if class_name.startswith("Move"):
        speed = rng.uniform(1.0, 2.5) * unit
        direction = {
            "MoveRight": (1, 0),
            "MoveLeft": (-1, 0),
            "MoveUp": (0, -1),
            "MoveDown": (0, 1),
        }[class_name]
        offset = np.outer(t, direction) * speed
    elif class_name.startswith("Rotate"):
        sign = 1.0 if class_name == "RotateClockwise" else -1.0
        angle = angle + sign * rng.uniform(4.0, 8.0) * t
    elif class_name.startswith("Zoom"):
        # A sawtooth: the object grows (shrinks) by `ratio` over `period` frames, then jumps
        # back and starts again. A single sweep over the whole video would change the size
        # by well under a pixel per frame, too little for half-pel motion vectors to show.
        ratio = rng.uniform(2.0, 3.0)
        period = rng.uniform(16, 30)
        progress = np.mod(t / period + rng.uniform(0, 1), 1.0)
        if class_name == "ZoomOut":
            progress = 1 - progress
        scale = scale * ratio ** (progress - 0.5)
    elif class_name.startswith("Oscillate"):
        amplitude = rng.uniform(10, 22) * unit
        period = rng.uniform(16, 36)
        swing = amplitude * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
        axis = 0 if class_name == "OscillateHorizontal" else 1
        offset[:, axis] = swing
    else:
        raise ConfigError(f"unknown sample class {class_name!r}")
    return offset, angle, scale


def make_scene(config: SampleConfig, class_index: int, video_index: int) -> Scene:
    """The deterministic scene of one video, from ``(seed, class, video)`` alone."""
    class_name = config.class_names[class_index]
    width, height, num_frames = config.width, config.height, config.num_frames
    unit = min(width, height) / 128
    group = group_of(config, video_index)
    # The background depends on the group only (UCF-101's groups share a setting).
    group_rng = np.random.default_rng([config.seed, class_index, 1000 + group])
    rng = np.random.default_rng([config.seed, class_index, video_index])

    pan_speed = group_rng.uniform(0.2, 0.6) * unit if group_rng.random() < 0.5 else 0.0
    pan_angle = group_rng.uniform(0, 2 * np.pi)
    pan = np.outer(np.arange(num_frames), [np.cos(pan_angle), np.sin(pan_angle)]) * pan_speed
    margin = int(math.ceil(pan_speed * num_frames)) + 2
    background = random_texture(
        group_rng, height + 2 * margin, width + 2 * margin, contrast=group_rng.uniform(0.3, 0.7)
    )
    background_offset = margin + pan

    sprite, sprite_mask = random_sprite(rng, radius=rng.uniform(16, 26) * unit)
    start = rng.uniform((0, 0), (width, height))
    offset, angle, scale = _object_motion(class_name, rng, num_frames, width, height)
    centre = np.mod(start + offset, (width, height))

    # The distractor wanders: a velocity random walk with damping.
    distractor, distractor_mask = random_sprite(rng, radius=rng.uniform(4, 7) * unit)
    velocity = np.zeros(2)
    steps = np.empty((num_frames, 2))
    for index in range(num_frames):
        velocity = 0.9 * velocity + rng.normal(0, 0.5 * unit, size=2)
        steps[index] = velocity
    distractor_start = rng.uniform((0, 0), (width, height))
    distractor_centre = np.mod(distractor_start + np.cumsum(steps, axis=0), (width, height))
    return Scene(
        width,
        height,
        background,
        background_offset,
        sprite,
        sprite_mask,
        centre,
        angle,
        scale,
        distractor,
        distractor_mask,
        distractor_centre,
    )


def render_video(config: SampleConfig, class_index: int, video_index: int) -> Iterator[np.ndarray]:
    """The RGB frames (H x W x 3 uint8 each) of one video, before encoding."""
    scene = make_scene(config, class_index, video_index)
    for t in range(config.num_frames):
        yield scene.render(t)


# --------------------------------------------------------------------------- layout


def group_of(config: SampleConfig, video_index: int) -> int:
    """0-based group of a video; at least two groups per class so both splits get clips."""
    per_group = min(config.clips_per_group, math.ceil(config.videos_per_class / 2))
    return video_index // per_group


def clip_of(config: SampleConfig, video_index: int) -> int:
    per_group = min(config.clips_per_group, math.ceil(config.videos_per_class / 2))
    return video_index % per_group


def is_test_group(config: SampleConfig, group: int) -> bool:
    """Whether a group is held out (the first groups, as UCF-101 holds out g01-g07)."""
    num_groups = group_of(config, config.videos_per_class - 1) + 1
    num_test = min(num_groups - 1, max(1, round(config.test_fraction * num_groups)))
    return group < num_test


def video_name(config: SampleConfig, class_index: int, video_index: int) -> str:
    """Relative path of a video: ``ClassName/v_ClassName_gGG_cCC.avi`` (1-based numbers)."""
    name = config.class_names[class_index]
    group, clip = group_of(config, video_index) + 1, clip_of(config, video_index) + 1
    return f"{name}/v_{name}_g{group:02d}_c{clip:02d}{config.extension}"


def _write_video(job: tuple[SampleConfig, int, int, str]) -> str:
    """Render and encode one video atomically (temp file, then rename); worker entry point."""
    config, class_index, video_index, path = job
    cv2.setNumThreads(1)  # the parallelism is across videos; avoid oversubscribing cores
    path = Path(path)
    partial = path.with_name(f".{path.name}.part")
    try:
        encode_frames(
            render_video(config, class_index, video_index),
            partial,
            config.encode,
            container_format=config.extension.lstrip("."),
        )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return str(path)


def _config_record(config: SampleConfig) -> dict:
    return {"generator": "imrkit.data.sample", "version": 1, **asdict(config)}


def load_sample_config(root: str | os.PathLike) -> SampleConfig:
    """The :class:`SampleConfig` a sample dataset at ``root`` was generated with.

    Raises:
        ConfigError: ``root/sample.json`` is missing (not a finished sample dataset).
    """
    info_path = Path(root) / SAMPLE_INFO
    if not info_path.is_file():
        raise ConfigError(f"{info_path}: missing; is {root} a finished `imrkit make-sample`?")
    record = json.loads(info_path.read_text())
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
    return {
        video_name(config, class_index, video_index)
        for class_index in range(config.num_classes)
        for video_index in range(config.videos_per_class)
    }


def _remove_stale_videos(root: Path, previous: SampleConfig, config: SampleConfig) -> None:
    """Delete videos an earlier ``make_sample`` wrote that the new config does not list.

    Only names the earlier config generated are touched, never other files in ``root``.
    """
    for relative in sorted(_all_videos(previous) - _all_videos(config)):
        (root / relative).unlink(missing_ok=True)
    for name in previous.class_names:
        folder = root / name
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def make_sample(
    dst: str | os.PathLike, config: SampleConfig = SampleConfig(), *, progress: bool = False
) -> Path:
    """Generate the sample dataset under ``dst`` in UCF-101's layout.

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
            if is_test_group(config, group_of(config, video_index)):
                test_lines.append(relative)
            else:
                train_lines.append(f"{relative} {class_index + 1}")
            if not (reuse and (root / relative).exists()):
                jobs.append((config, class_index, video_index, str(root / relative)))

    from imrkit.data.prepare import available_cpus, process_pool

    workers = config.workers or available_cpus()
    bar = tqdm(total=len(jobs), desc="make-sample", unit="video", disable=not progress)
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            _write_video(job)
            bar.update()
    else:
        with process_pool(min(workers, len(jobs))) as pool:
            for _ in pool.map(_write_video, jobs, chunksize=2):
                bar.update()
    bar.close()

    class_lines = [f"{index + 1} {name}" for index, name in enumerate(config.class_names)]
    (root / "classInd.txt").write_text("\n".join(class_lines) + "\n")
    (root / "trainlist01.txt").write_text("\n".join(train_lines) + "\n")
    (root / "testlist01.txt").write_text("\n".join(test_lines) + "\n")
    info_path.write_text(json.dumps(_config_record(config), indent=2) + "\n")
    return root


__all__ = [
    "CLASS_NAMES",
    "SampleConfig",
    "Scene",
    "load_sample_config",
    "make_sample",
    "make_scene",
    "render_video",
    "video_name",
]


def ensure_sample(
    dst: str | os.PathLike, config: SampleConfig = SampleConfig(), *, progress: bool = True
) -> Path:
    """The sample dataset at ``dst``, generated only if no complete one is there.

    A folder counts as complete once ``make_sample`` wrote its ``sample.json`` last, so an
    interrupted build is finished on the next call, while a finished one (of any config) is
    used as it is: demos and notebooks never rebuild data a user already has.
    """
    root = Path(dst)
    if (root / SAMPLE_INFO).is_file() and (root / "classInd.txt").is_file():
        return root
    return make_sample(root, config, progress=progress)
