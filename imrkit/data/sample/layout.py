"""The dataset layout: classes, the config, train/test groups, file names, the unlabeled pool."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from imrkit.codec.encode import EncodeConfig
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

SAMPLE_INFO = "sample.json"
UNLABELED_FOLDER = "unlabeled"


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


def unlabeled_class(config: SampleConfig, index: int) -> int:
    """The (hidden) class index of unlabeled video ``index``: uniform over the classes."""
    return int(np.random.default_rng([config.seed, 2, index]).integers(config.num_classes))


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
