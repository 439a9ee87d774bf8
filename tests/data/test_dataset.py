"""The compressed-video dataset: clip sampling, determinism, views, caching, bad videos."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import torch

from imrkit.codec.reader import read_clip
from imrkit.data.dataset import (
    DatasetConfig,
    EpochSampler,
    build_dataset,
    clip_start,
    collate_clips,
    load_split,
    make_loader,
    slice_gops,
)
from imrkit.transforms import TransformConfig
from imrkit.transforms.compact import model_inputs

STREAMS = ("iframes", "motion", "residual")


def small_config(root, **changes) -> DatasetConfig:
    """32-pixel crops of the whole frame: every test here stays fast."""
    config = DatasetConfig(
        root=str(root),
        format="ucf101",
        num_workers=0,
        transform=TransformConfig(crop_size=32, short_side=32),
    )
    for key, value in changes.items():
        setattr(config, key, value)
    return config


def test_clip_start():
    rng = np.random.default_rng(0)
    starts = {clip_start(7, 5, "random", rng) for _ in range(200)}
    assert starts == {0, 1, 2}
    assert clip_start(7, 5, "center") == 1
    assert clip_start(8, 5, "center") == 1
    assert clip_start(3, 5, "random", rng) == 0  # too short: start at 0, the reader loops


def test_epoch_sampler_is_a_function_of_seed_and_epoch():
    sampler = EpochSampler(10, shuffle=True, seed=1)
    first = list(sampler)
    assert sorted(i for i, _ in first) == list(range(10))
    assert list(sampler) == first
    sampler.set_epoch(1)
    second = list(sampler)
    assert [i for i, _ in second] != [i for i, _ in first]
    # Each index keeps a per-epoch seed whatever the order it comes in.
    assert dict(second) != dict(first)
    ordered = EpochSampler(4, shuffle=False, seed=1)
    assert [i for i, _ in ordered] == [0, 1, 2, 3]


def test_collate_drops_and_counts_missing_samples():
    sample = {"iframes": torch.zeros(3, 1, 2, 2), "label": 4, "index": 7}
    batch = collate_clips([sample, None, sample, None])
    assert batch["num_skipped"] == 2
    assert batch["iframes"].shape == (2, 3, 1, 2, 2)
    assert batch["label"].tolist() == [4, 4] and batch["label"].dtype == torch.int64
    assert collate_clips([None, None]) == {"num_skipped": 2}


def test_load_split_fraction_and_limit(sample_dataset):
    # The fixture has one training video per class: take the fraction of train + test.
    config = small_config(sample_dataset, train_subset="all")
    full = load_split(config, "all")
    part = load_split(
        small_config(sample_dataset, train_subset="all", labelled_fraction=0.5), "all"
    )
    assert len(part) == len(full) // 2
    assert sorted(part.labels.tolist()) == sorted(set(full.labels.tolist()))  # one per class
    # The fraction applies to the training subset only.
    assert len(load_split(small_config(sample_dataset, labelled_fraction=0.5), "test")) == len(
        load_split(config, "test")
    )
    assert len(load_split(small_config(sample_dataset, max_videos=3), "train")) == 3
    assert set(load_split(config, "train", labelled=False).labels.tolist()) == {-1}


def test_training_samples(sample_dataset):
    dataset = build_dataset(small_config(sample_dataset), "train", mode="train", pmsp=True)
    sample = dataset[(0, 123)]
    # Compact samples cross the loader; model_inputs gives what the network takes.
    inputs = model_inputs(sample)
    assert inputs["iframes"].shape == (3, 5, 32, 32)
    assert inputs["motion"].shape == (2, 25, 32, 32)
    assert inputs["residual"].shape == (3, 25, 32, 32)
    assert sample["pmsp"].shape == (27,) and sample["pmsp"].dtype == torch.int64
    assert sample["label"] == dataset.split.records[0].label >= 0
    again = dataset[(0, 123)]
    assert all(torch.equal(sample[k], again[k]) for k in (*STREAMS, "pmsp"))
    # Other seeds draw other crops, flips and starts.
    others = [dataset[(0, seed)]["motion"] for seed in range(6)]
    assert any(not torch.equal(others[0], other) for other in others[1:])


def test_eval_and_test_views(sample_dataset):
    config = small_config(sample_dataset)
    dataset = build_dataset(config, "test", mode="eval")
    assert torch.equal(dataset[0]["iframes"], dataset[(0, 5)]["iframes"])  # no randomness
    views = model_inputs(build_dataset(config, "test", mode="test")[0])
    assert views["iframes"].shape == (3, 3, 5, 32, 32)
    assert views["motion"].shape == (3, 2, 25, 32, 32)
    # The middle view of the three is the centre crop of the eval transform.
    assert torch.allclose(views["iframes"][1], model_inputs(dataset[0])["iframes"])


def test_cached_videos_give_the_same_clips(sample_dataset):
    direct = build_dataset(small_config(sample_dataset), "train", mode="train")
    cached = build_dataset(small_config(sample_dataset, cache=True), "train", mode="train")
    for key in [(1, 5), (1, 6), (2, 7)]:
        a, b = direct[key], cached[key]
        assert all(torch.equal(a[k], b[k]) for k in STREAMS)
    assert len(cached._decoded) == 2


def test_slice_gops_matches_reading_the_gops(sample_dataset):
    path = next(sample_dataset.rglob("*.avi"))
    whole = read_clip(path, 0, 6)
    part = slice_gops(whole, 1, 4)
    direct = read_clip(path, 1, 4)
    for name in ("iframes", "motion", "residual", "frame_indices", "gop_indices"):
        np.testing.assert_array_equal(getattr(part, name), getattr(direct, name))
    assert list(part.frame_types) == list(direct.frame_types)
    assert part.start_gop == 1 and part.num_gops == 4


@pytest.fixture
def damaged_dataset(sample_dataset, tmp_path):
    """A copy of the sample data with one garbage and one truncated training video."""
    root = tmp_path / "damaged"
    shutil.copytree(sample_dataset, root)
    listed = [line.split()[0] for line in (root / "trainlist01.txt").read_text().splitlines()]
    (root / listed[0]).write_bytes(b"\x00garbage, not a video" * 50)
    truncated = root / listed[1]
    truncated.write_bytes(truncated.read_bytes()[:700])
    return root


@pytest.mark.parametrize("workers", [0, 1])
def test_unreadable_videos_are_skipped_and_counted(damaged_dataset, workers):
    dataset = build_dataset(small_config(damaged_dataset), "train", mode="train")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if workers == 0:
            assert dataset[(0, 1)] is None
            assert any("skipping unreadable video" in str(w.message) for w in caught)
    loader = make_loader(dataset, batch_size=4, shuffle=True, num_workers=workers, timeout_s=60)
    skipped = kept = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for batch in loader:
            skipped += batch["num_skipped"]
            kept += len(batch.get("index", []))
    assert skipped == 2
    assert kept == len(dataset) - 2
