"""A dataset of compressed-video clips over a folder (SPEC sections 1 and 4).

Layers, each with one job:

- :mod:`imrkit.data.splits` lists the videos of a split (paths and labels);
- :func:`clip_start` picks the first GOP of a clip: random in training, the centre in
  evaluation;
- a transform from :mod:`imrkit.transforms` draws the crops and flips (its geometry);
- :func:`imrkit.read_clip` decodes I-frames, motion vectors and residuals, straight onto
  those crops' output grids (the compact pipeline, the default) or as full frames that the
  transform then crops, flips and normalises (``pipeline="reference"``);
- :class:`CompressedVideoDataset` composes them, attaches the label and, for PMSP
  pretraining, the 27 PMSP labels computed *after* augmentation (crops and flips change
  where motion is);
- :class:`EpochSampler` and :func:`collate_clips` make batches.

**Compact samples.** By default samples are compact (:mod:`imrkit.transforms.compact`:
uint8 I-frames, int8 motion and residual, channel-last, 7 MB instead of 28 at 224): they
cross the DataLoader small, and :func:`imrkit.transforms.compact.model_inputs` normalises a
batch on its device. Everything that consumes batches calls it; it passes float batches
through, so both pipelines feed the same code.

Randomness is reproducible whatever the number of workers and across resumes: the sampler
yields ``(index, seed)`` pairs, a pure function of ``(seed, epoch)``, and the dataset draws the
clip start and the augmentation from that seed through private generators, so reading data
never touches (nor depends on) the global random state of the training loop.

A video that cannot be read (:class:`imrkit.VideoError`) is skipped with a warning:
``__getitem__`` returns None and :func:`collate_clips` drops it and counts it in the batch's
``"num_skipped"``; the training loop reports the count at the end of every epoch.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from imrkit.data.processes import fresh_process_context, single_threaded_worker
from imrkit.data.splits import VideoSplit, read_split
from imrkit.errors import VideoError
from imrkit.transforms import (
    ClipTransform,
    EvalTransform,
    TestTransform,
    TrainTransform,
    TransformConfig,
)
from imrkit.transforms.compact import Normalization, compact_streams

STREAMS = ("iframes", "motion", "residual")


@dataclass
class DatasetConfig:
    """Where the videos are and how clips are drawn from them.

    Attributes:
        root: dataset folder.
        format: "auto", "ucf101", "hmdb51", "kinetics", "folder" (class folders) or
            "unlabeled" (every video under ``root``).
        split: official split 1..3 (UCF-101, HMDB-51).
        annotations: folder (or Kinetics CSV) of the split files when not in ``root``.
        train_subset: subset to train on ("train" or "all").
        eval_subset: subset to evaluate on ("test").
        labelled_fraction: keep this class-stratified fraction of the training list
            (finetuning on few labels); 1 keeps all.
        fraction_seed: which random fraction.
        max_videos: use at most this many videos of each subset (0: all); for smoke tests.
        num_gops: GOPs per clip, T (SPEC: 5, i.e. 5 I-frames and 25 P-frames).
        accumulate: CoViAR's accumulated motion and residuals instead of per-frame ones.
        transform: crops, flips and normalisation (:class:`imrkit.transforms.TransformConfig`;
            SPEC: 256 shorter side, 224 crops, scales 1/.975/.9/.85, 3 test crops).
        num_workers: DataLoader worker processes (0 loads in the main process).
        timeout_s: how long to wait for a worker's batch before failing (workers > 0).
        cache: keep decoded videos in memory across epochs (per worker; costs roughly
            3.5 MB per 64x64 sample video of 6 GOPs): the sample data is decoded once.
        pipeline: "compact" (read onto the crops, compact samples normalised on the
            device) or "reference" (full frames, cropped and normalised in the worker:
            float32 samples, the path the compact one is tested against).
    """

    root: str = "data/sample"
    format: Literal["auto", "ucf101", "hmdb51", "kinetics", "folder", "unlabeled"] = "auto"
    split: int = 1
    annotations: str = ""
    train_subset: Literal["train", "test", "all"] = "train"
    eval_subset: Literal["train", "test", "all"] = "test"
    labelled_fraction: float = 1.0
    fraction_seed: int = 0
    max_videos: int = 0
    num_gops: int = 5
    accumulate: bool = False
    transform: TransformConfig = field(default_factory=TransformConfig)
    num_workers: int = 2
    timeout_s: float = 300.0
    cache: bool = False
    pipeline: Literal["compact", "reference"] = "compact"


def load_split(config: DatasetConfig, subset: str, *, labelled: bool = True) -> VideoSplit:
    """The videos of ``subset`` ("train"/"test"/"all") described by ``config``.

    The labelled fraction applies to the training subset only; ``labelled=False`` drops
    labels (pretraining).
    """
    split = read_split(
        config.root, config.format, subset, config.split, annotations=config.annotations or None
    )
    if subset == config.train_subset and config.labelled_fraction < 1.0:
        split = split.fraction(config.labelled_fraction, config.fraction_seed)
    if config.max_videos and len(split) > config.max_videos:
        # Evenly spaced, so every class of a class-ordered list stays represented.
        keep = np.linspace(0, len(split) - 1, config.max_videos).round().astype(int)
        split = dataclasses.replace(split, records=[split.records[i] for i in keep])
    return split if labelled else split.unlabeled()


# --------------------------------------------------------------------------- sampling


def clip_start(
    num_video_gops: int,
    num_gops: int,
    mode: Literal["random", "center"],
    rng: np.random.Generator | None = None,
) -> int:
    """First GOP of a ``num_gops``-GOP clip in a video of ``num_video_gops`` GOPs.

    "random" draws uniformly among the valid starts (training), "center" takes the middle
    one (evaluation). A video shorter than the clip starts at 0 (the reader loops it).
    """
    last = num_video_gops - num_gops
    if last <= 0:
        return 0
    if mode == "center":
        return last // 2
    rng = rng if rng is not None else np.random.default_rng()
    return int(rng.integers(0, last + 1))


def slice_gops(clip, start: int, num_gops: int):
    """GOPs ``[start, start + num_gops)`` of a decoded clip (a cached whole video).

    Per GOP a clip holds one I-frame and ``P`` P-frames, in GOP order, so GOP ``g``'s
    P-frames are rows ``[g * P, (g + 1) * P)`` of the motion and residual arrays.
    """
    per_gop = clip.motion.shape[0] // clip.num_gops
    pframes = slice(start * per_gop, (start + num_gops) * per_gop)
    frames = slice(start * (1 + per_gop), (start + num_gops) * (1 + per_gop))
    return dataclasses.replace(
        clip,
        start_gop=clip.start_gop + start,
        num_gops=num_gops,
        iframes=clip.iframes[start : start + num_gops],
        motion=clip.motion[pframes],
        residual=clip.residual[pframes],
        frame_indices=clip.frame_indices[frames],
        frame_types=clip.frame_types[frames],
        gop_indices=clip.gop_indices[start : start + num_gops],
    )


class EpochSampler(Sampler):
    """Yields ``(index, seed)`` pairs, shuffled or not, as a pure function of (seed, epoch).

    The per-sample seed drives the clip start and the augmentation, so an epoch's data is
    the same with 0 or N workers, persistent or not, and after a resume. Call
    :meth:`set_epoch` before each epoch. Under DDP, accelerate shards the batches of this
    sampler, which is identical on every process.
    """

    def __init__(self, num_samples: int, *, shuffle: bool, seed: int = 0):
        self.num_samples = num_samples
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[tuple[int, int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(self.num_samples) if self.shuffle else np.arange(self.num_samples)
        seeds = rng.integers(0, 2**31 - 1, size=self.num_samples)
        return iter(zip(order.tolist(), seeds[order].tolist(), strict=True))


# --------------------------------------------------------------------------- dataset


class CompressedVideoDataset(Dataset):
    """Clips of the videos of a :class:`VideoSplit`, as model-ready tensors.

    A sample is a dict: the three streams (compact, see :mod:`imrkit.transforms.compact`,
    or with ``compact=False`` normalised float32 ``"iframes"`` 3 x T x S x S, ``"motion"``
    2 x 5T x S x S, ``"residual"`` 3 x 5T x S x S; test views add a leading V axis),
    ``"label"`` (int, -1 unlabeled), ``"index"`` (int) and, when the transform's
    ``pmsp_labels`` is on, ``"pmsp"`` (27,) int64 PMSP labels (SPEC section 3) of the
    augmented motion.

    Args:
        split: the videos.
        transform: a :class:`imrkit.transforms.ClipTransform` (train, eval or test views),
            or any ``transform(clip, generator) -> dict`` of a full-frame clip.
        num_gops: GOPs per clip (T).
        sampling: "random" start GOP (training) or "center" (evaluation).
        cache: keep each decoded video in memory (whole, then sliced into clips).
        accumulate: passed to :func:`imrkit.read_clip`.
        compact: read onto the transform's crops and return compact samples (a
            ClipTransform only).
    """

    def __init__(
        self,
        split: VideoSplit,
        transform: Callable[..., Any],
        *,
        num_gops: int = 5,
        sampling: Literal["random", "center"] = "random",
        cache: bool = False,
        accumulate: bool = False,
        compact: bool = True,
    ):
        self.split = split
        self.transform = transform
        self.num_gops = num_gops
        self.sampling = sampling
        self.cache = cache
        self.accumulate = accumulate
        # The compact path reads onto a ClipTransform's crops; any other callable gets the
        # full-frame clip it expects.
        self.compact = compact and isinstance(transform, ClipTransform)
        self._info: dict[int, Any] = {}  # index -> VideoInfo
        self._decoded: dict[int, Any] = {}

    @property
    def class_names(self) -> list[str]:
        return self.split.class_names

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any] | None:
        index, seed = key if isinstance(key, tuple) else (key, None)
        record = self.split.records[index]
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        try:
            if self.compact:
                sample = self._compact_sample(index, np.random.default_rng(seed), generator)
            else:
                clip = self._read(index, np.random.default_rng(seed))
                sample = _stack_views(self.transform(clip, generator))
        except VideoError as error:
            warnings.warn(f"skipping unreadable video: {error}", stacklevel=2)
            return None
        sample["label"] = record.label
        sample["index"] = index
        return sample

    def _video_info(self, index: int):
        """The video's :class:`imrkit.codec.reader.VideoInfo`, probed once per index."""
        from imrkit.codec.reader import probe

        if index not in self._info:
            self._info[index] = probe(self.split.records[index].path)
        return self._info[index]

    def _read(self, index: int, rng: np.random.Generator, views=None):
        """The clip (full frames, or on ``views``' grids: one clip per view)."""
        from imrkit.codec.crop import crop_clip
        from imrkit.codec.reader import read_clip

        path = self.split.records[index].path
        # The reader's own count (12-frame segments, whatever the codec's GOP).
        usable = self._video_info(index).usable_gops()
        start = clip_start(usable, self.num_gops, self.sampling, rng)
        loop = usable < self.num_gops
        if not self.cache or loop:
            return read_clip(
                path, start, self.num_gops, accumulate=self.accumulate, loop=loop, views=views
            )
        if index not in self._decoded:
            self._decoded[index] = read_clip(path, 0, usable, accumulate=self.accumulate)
        clip = slice_gops(self._decoded[index], start, self.num_gops)
        return crop_clip(clip, views) if views else clip

    def _compact_sample(self, index: int, rng, generator) -> dict[str, Any]:
        """Read straight onto the transform's crops; compact streams (+ PMSP labels)."""
        from imrkit.codec.crop import OutputView
        from imrkit.transforms.pmsp_labels import pmsp_label_tensor

        cfg = self.transform.cfg
        info = self._video_info(index)
        # The geometry is drawn before the start GOP, as the reference path draws it after:
        # each from its own generator, so both paths make the same clip for a seed.
        crops = self.transform.crops(info.height, info.width, generator)
        views = [OutputView.of(box, cfg.crop_size, flip) for box, flip in crops]
        normalization = Normalization.of(cfg)
        samples = []
        for clip in self._read(index, rng, views):
            sample = compact_streams(clip, normalization)
            if cfg.pmsp_labels:
                # From the motion on the output grid, before it is rounded to int8.
                sample["pmsp"] = pmsp_label_tensor(clip.motion, self.num_gops, layout="reader")
            samples.append(sample)
        return _stack_views(samples if self.transform.multi_view else samples[0])


def build_dataset(
    config: DatasetConfig,
    subset: str,
    *,
    mode: Literal["train", "eval", "test"],
    labelled: bool = True,
    pmsp: bool = False,
) -> CompressedVideoDataset:
    """The dataset of ``subset`` for training (random start, augmentation), evaluation
    (centre start, centre crop) or testing (centre start, ``transform.num_test_crops`` views).

    Args:
        labelled: False drops the labels (pretraining).
        pmsp: attach PMSP labels computed after augmentation (PMSP pretraining).
    """
    transform_config = dataclasses.replace(config.transform, pmsp_labels=pmsp)
    transform = {"train": TrainTransform, "eval": EvalTransform, "test": TestTransform}[mode]
    return CompressedVideoDataset(
        load_split(config, subset, labelled=labelled),
        transform(transform_config),
        num_gops=config.num_gops,
        sampling="random" if mode == "train" else "center",
        cache=config.cache,
        accumulate=config.accumulate,
        compact=config.pipeline == "compact",
    )


def _stack_views(sample) -> dict[str, Any]:
    if isinstance(sample, dict):
        return dict(sample)
    return {
        key: torch.stack([view[key] for view in sample])
        if isinstance(sample[0][key], torch.Tensor)
        else sample[0][key]
        for key in sample[0]
    }


def collate_clips(samples: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    """Stack samples into a batch, dropping (and counting) the unreadable ones.

    Returns a dict of B x ... tensors (``"label"`` and ``"index"`` as int64 B), plus
    ``"num_skipped"`` (int) and, for compact samples, their shared ``"normalization"``.
    When every video of the batch failed, only ``"num_skipped"`` is present.
    """
    kept = [s for s in samples if s is not None]
    batch: dict[str, Any] = {"num_skipped": len(samples) - len(kept)}
    if not kept:
        return batch
    for key in kept[0]:
        values = [s[key] for s in kept]
        if isinstance(values[0], Normalization):
            batch[key] = values[0]
        elif isinstance(values[0], torch.Tensor):
            batch[key] = torch.stack(values)
        else:
            batch[key] = torch.as_tensor(values, dtype=torch.int64)
    return batch


def make_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    num_workers: int = 0,
    timeout_s: float = 300.0,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader over ``dataset`` with an :class:`EpochSampler` (``loader.sampler``).

    Workers are persistent (decoded-video caches survive epochs), start from a fresh
    interpreter (a forked worker can deadlock in OpenCV's or OpenMP's thread pool once the
    parent has used it: seen in the test suite) and get a ``timeout`` so a stuck decode fails
    loudly instead of hanging. Each worker runs OpenCV and torch on one thread; batches are
    pinned when a GPU is present (fast, asynchronous host-to-device copies of the compact
    streams). The loader has its own generator, so
    creating its iterator never draws from the global torch generator (which would make a
    resumed run's random stream differ from an uninterrupted one).
    """
    sampler = EpochSampler(len(dataset), shuffle=shuffle, seed=seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=collate_clips,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        timeout=timeout_s if num_workers > 0 else 0,
        multiprocessing_context=fresh_process_context() if num_workers > 0 else None,
        worker_init_fn=single_threaded_worker if num_workers > 0 else None,
        pin_memory=torch.cuda.is_available(),
        drop_last=drop_last,
        generator=torch.Generator().manual_seed(seed),
    )
