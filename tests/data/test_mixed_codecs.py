"""A class-folder dataset mixing the codecs datasets ship in, through the training path.

tests/codec/test_formats.py checks what ``read_clip`` recovers from each codec; here the same
kinds of files sit side by side in one folder and go where training takes them: the default
(compact) dataset, a DataLoader with 2 worker processes, ``model_inputs`` and an optimizer
step of a tiny IMRNet. An HEVC file, which the reader refuses, is skipped and counted.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from imrkit.codec.encode import encode_any, encode_frames
from imrkit.codec.reader import probe
from imrkit.data.dataset import DatasetConfig, build_dataset, make_loader
from imrkit.transforms import TransformConfig
from imrkit.transforms.compact import MOTION_STEP, model_inputs

NUM_FRAMES = 72  # 6 segments of 12: a 5-GOP clip has 2 starts to draw from
WIDTH, HEIGHT = 96, 64
CROP = 32
NUM_GOPS = 5

# relative path -> (encode_any settings, codec the file must probe as, has B-frames).
# Xvid-like AVI (UCF-101, HMDB-51): MPEG-4 Part 2, keyint 250, 2 B-frames.
SOURCES = {
    "A/h264_b.mp4": (
        dict(
            codec="libx264",
            gop_size=250,
            b_frames=3,
            options={"x264-params": "keyint=250:scenecut=0:bframes=3:ref=3"},
        ),
        "h264",
        True,
    ),
    "A/mpeg2_b.mpg": (
        dict(
            codec="mpeg2video",
            gop_size=15,
            b_frames=2,
            options={"g": "15", "bf": "2", "sc_threshold": "1000000000"},
        ),
        "mpeg2video",
        True,
    ),
    "B/h264_long.mp4": (
        dict(
            codec="libx264",
            gop_size=250,
            b_frames=0,
            options={"x264-params": "keyint=250:scenecut=0:bframes=0"},
        ),
        "h264",
        False,
    ),
    "B/mpeg4_b.avi": (
        dict(
            codec="mpeg4",
            gop_size=250,
            b_frames=2,
            options={"g": "250", "bf": "2", "sc_threshold": "1000000000"},
        ),
        "mpeg4",
        True,
    ),
    "B/hevc.mp4": (
        dict(
            codec="libx265",
            gop_size=250,
            b_frames=0,
            options={"x265-params": "log-level=error"},
        ),
        "hevc",
        False,
    ),
}
UNREADABLE = "B/hevc.mp4"


@pytest.fixture
def mixed_folder(tmp_path, source_frames):
    """Class folders A and B: the sources above plus an ``imrkit prepare``-style file (64x64).

    Every video's content slides right 3 px per frame (``source_frames``).
    """
    root = tmp_path / "mixed"
    for seed, (relative, (settings, codec, b_frames)) in enumerate(SOURCES.items()):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        encode_any(source_frames(NUM_FRAMES, WIDTH, HEIGHT, seed), path, **settings)
        info = probe(path)  # the fixture is what it claims to be
        assert (info.codec, info.has_b_frames, info.num_frames) == (codec, b_frames, NUM_FRAMES)
    encode_frames(source_frames(NUM_FRAMES, 64, 64, 9), root / "A" / "prepared.avi")
    return root


def mixed_config(root, **changes) -> DatasetConfig:
    """The defaults training uses (compact pipeline, 2 workers), on 32-pixel crops."""
    values = dict(
        root=str(root),
        format="folder",
        train_subset="all",
        eval_subset="all",
        num_gops=NUM_GOPS,
        timeout_s=120,
        transform=TransformConfig(crop_size=CROP, short_side=CROP),
    )
    values.update(changes)
    return DatasetConfig(**values)


def test_mixed_codecs_through_the_training_loader(mixed_folder):
    from imrkit.models import build_model
    from imrkit.train.finetuning import classification_loss

    config = mixed_config(mixed_folder)
    assert config.pipeline == "compact" and config.num_workers == 2  # training's defaults
    dataset = build_dataset(config, "all", mode="train")
    names = [record.path.relative_to(mixed_folder).as_posix() for record in dataset.split.records]
    assert sorted(names) == sorted([*SOURCES, "A/prepared.avi"])
    hevc = names.index(UNREADABLE)
    readable = sorted(set(range(len(names))) - {hevc})

    # Skipped for the right reason: the reader refuses HEVC (UnsupportedVideoError).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert dataset[(hevc, 0)] is None
    assert any("hevc" in str(w.message) and "motion vectors" in str(w.message) for w in caught)

    loader = make_loader(
        dataset,
        batch_size=len(dataset),
        shuffle=True,
        num_workers=config.num_workers,
        timeout_s=config.timeout_s,
    )
    (batch,) = list(loader)
    assert batch["num_skipped"] == 1
    assert sorted(batch["index"].tolist()) == readable
    labels = [dataset.split.records[i].label for i in batch["index"].tolist()]
    assert batch["label"].tolist() == labels and batch["label"].dtype == torch.int64
    size = len(readable)
    # Compact streams, channel-last (imrkit.transforms.compact).
    assert batch["iframes"].dtype == torch.uint8
    assert batch["iframes"].shape == (size, NUM_GOPS, CROP, CROP, 3)
    assert batch["motion"].dtype == torch.int8
    assert batch["motion"].shape == (size, 5 * NUM_GOPS, CROP, CROP, 2)
    assert batch["residual"].dtype == torch.int8
    assert batch["residual"].shape == (size, 5 * NUM_GOPS, CROP, CROP, 3)
    # Every codec's motion is the content's, B-frames included: 3 px/frame across a crop of
    # s x 64 px resized to 32 is 1.5 / s output pixels (s in 0.85..1; x negated on a flip)
    # and nothing vertical. A few sampled frames may be coded as I-frames (MPEG-2's 15-frame
    # GOPs: zero motion), hence "almost every frame".
    low, high = 1.5 - MOTION_STEP, 1.5 / 0.85 + MOTION_STEP
    motions = batch["motion"].float() * MOTION_STEP
    for index, motion in zip(batch["index"].tolist(), motions, strict=True):
        per_frame = motion[..., 0].abs().flatten(1).median(dim=1).values  # 5T
        in_range = ((per_frame >= low) & (per_frame <= high)).float().mean().item()
        assert in_range >= 0.9, (names[index], per_frame.tolist())
        assert motion[..., 1].abs().median().item() == 0.0, names[index]

    inputs = model_inputs(batch)
    assert inputs["iframes"].shape == (size, 3, NUM_GOPS, CROP, CROP)
    assert inputs["motion"].shape == (size, 2, 5 * NUM_GOPS, CROP, CROP)
    assert inputs["residual"].shape == (size, 3, 5 * NUM_GOPS, CROP, CROP)
    assert all(inputs[k].dtype == torch.float32 for k in ("iframes", "motion", "residual"))

    # One training step of a tiny IMRNet on the batch, as finetuning takes it.
    torch.manual_seed(0)
    model = build_model("imrnet_tiny", dataset.split.num_classes)
    model.train()
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss, _ = classification_loss(model, inputs)
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    optimizer.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.slow
def test_finetune_counts_the_skipped_video(mixed_folder, tmp_path):
    """The real run over the mixed folder: the epoch's row and the final test count the
    HEVC video as skipped, and the loss stays finite."""
    # From its module: once imrkit.train.finetuning is imported (the test above), the
    # submodule shadows the lazy ``imrkit.train.finetuning`` function.
    from imrkit.train import read_history
    from imrkit.train.config import FinetuneConfig, ModelConfig, OptimConfig, RunConfig
    from imrkit.train.finetuning import finetune

    config = FinetuneConfig(
        model=ModelConfig(name="imrnet_tiny", dropout=0.0),
        data=mixed_config(mixed_folder),
        optim=OptimConfig(epochs=1, warmup_epochs=0.0, batch_size=6, lr=0.01),
        run=RunConfig(
            out_dir=str(tmp_path / "run"),
            progress=False,
            checkpoint_every=0,
            log_every=1,
            trackers="none",
            seed=0,
            threads=1,
        ),
    )
    config.eval.views = 1
    config.eval.every_epochs = 0
    config.eval.batch_size = 6
    summary = finetune(config)
    (train_row,) = read_history(summary.run_dir, "train")
    assert np.isfinite(train_row["loss"])
    (epoch_row,) = read_history(summary.run_dir, "epoch")
    assert epoch_row["skipped_videos"] == 1
    assert summary.metrics["test_num_clips"] == 5  # the 6 videos but HEVC
    assert summary.metrics["test_num_skipped"] == 1
