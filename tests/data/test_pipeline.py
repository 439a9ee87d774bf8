"""The compact clip pipeline: same samples as the reference path, fewer bytes, any workers."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from imrkit.data.dataset import DatasetConfig, build_dataset, collate_clips, make_loader
from imrkit.transforms import TransformConfig
from imrkit.transforms.compact import (
    MOTION_STEP,
    Normalization,
    compact_streams,
    model_inputs,
)
from imrkit.transforms.pmsp_labels import level_slices, pmsp_magnitudes

STREAMS = ("iframes", "motion", "residual")


def config(root, pipeline: str, **changes) -> DatasetConfig:
    """Crops of 48 from the 64x64 sample videos: scales and flips make real resizes."""
    return DatasetConfig(
        root=str(root),
        format="ucf101",
        num_workers=0,
        pipeline=pipeline,
        transform=TransformConfig(crop_size=48, short_side=56),
        **changes,
    )


def assert_close_to_reference(compact: dict, reference: dict, motion_scale: float) -> None:
    """Compact vs float samples (batched): rounding of motion and saturation are the only
    differences the compact format allows."""
    inputs = model_inputs(compact)
    for name in STREAMS:
        assert inputs[name].dtype == torch.float32
        assert inputs[name].shape == reference[name].shape, name
    assert (inputs["iframes"] - reference["iframes"]).abs().max() < 1e-5
    # Quarter-pixel motion: within half a step, in normalised units.
    motion_error = (inputs["motion"] - reference["motion"]).abs().max()
    assert motion_error <= MOTION_STEP / 2 / motion_scale + 1e-6
    saturated = reference["residual"].abs() * 255 > 127
    residual_error = (inputs["residual"] - reference["residual"]).abs()
    assert residual_error[~saturated].max() < 1e-6
    assert torch.equal(compact["label"], reference["label"])


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_train_samples_equal_the_reference_path(sample_dataset, seed):
    """Seeds draw different scales, positions, flips and start GOPs; PMSP labels included."""
    compact = build_dataset(config(sample_dataset, "compact"), "train", mode="train", pmsp=True)
    reference = build_dataset(config(sample_dataset, "reference"), "train", mode="train", pmsp=True)
    keys = [(index, 100 * seed + index) for index in range(len(compact))]
    a = collate_clips([compact[key] for key in keys])
    b = collate_clips([reference[key] for key in keys])
    assert_close_to_reference(a, b, 16.0)
    assert_same_pmsp_labels(a["pmsp"], b)


def assert_same_pmsp_labels(labels: torch.Tensor, reference: dict) -> None:
    """Equal labels, except between cells whose energies tie to float rounding (the two
    paths resample motion with different but equally exact arithmetic; the sample's actors
    are mirror-symmetric, so exact ties between mirrored cells are common)."""
    magnitudes = pmsp_magnitudes(reference["motion"], 5, layout="model")
    for (s, t), where in level_slices().items():
        energy = magnitudes[(s, t)].reshape(len(labels), t, s * s)
        chosen = energy.gather(-1, labels[:, where, None])[..., 0]
        best = energy.max(-1).values
        assert torch.all(chosen >= best * (1 - 1e-4) - 1e-6), (s, t)
    assert (labels == reference["pmsp"]).float().mean() > 0.9


@pytest.mark.parametrize("mode", ["eval", "test"])
def test_eval_and_test_views_equal_the_reference_path(sample_dataset, mode):
    compact = build_dataset(config(sample_dataset, "compact"), "test", mode=mode)
    reference = build_dataset(config(sample_dataset, "reference"), "test", mode=mode)
    a = collate_clips([compact[i] for i in range(4)])
    b = collate_clips([reference[i] for i in range(4)])
    if mode == "test":
        assert a["iframes"].shape == (4, 3, 5, 48, 48, 3)  # B x V x T x S x S x C
    assert_close_to_reference(a, b, 16.0)


def test_cached_compact_samples_equal_direct_reads(sample_dataset):
    direct = build_dataset(config(sample_dataset, "compact"), "train", mode="train")
    cached = build_dataset(config(sample_dataset, "compact", cache=True), "train", mode="train")
    for key in [(1, 5), (1, 6), (2, 7)]:
        a, b = direct[key], cached[key]
        assert torch.equal(a["iframes"], b["iframes"])
        assert torch.equal(a["residual"], b["residual"])
        # Cells resampled vs the full field resized: equal up to one rounding step.
        assert (a["motion"].int() - b["motion"].int()).abs().max() <= 1


def test_compact_samples_are_small_and_typed(sample_dataset):
    compact = build_dataset(config(sample_dataset, "compact"), "train", mode="train")[(0, 1)]
    reference = build_dataset(config(sample_dataset, "reference"), "train", mode="train")[(0, 1)]
    assert compact["iframes"].dtype == torch.uint8 and compact["iframes"].shape == (5, 48, 48, 3)
    assert compact["motion"].dtype == torch.int8 and compact["motion"].shape == (25, 48, 48, 2)
    assert compact["residual"].dtype == torch.int8
    size = sum(compact[k].nbytes for k in STREAMS)
    assert sum(reference[k].nbytes for k in STREAMS) >= 3 * size
    accumulated = build_dataset(
        config(sample_dataset, "compact", accumulate=True), "train", mode="train"
    )[(0, 1)]
    assert accumulated["motion"].dtype == torch.float16  # accumulated motion grows: no int8


def test_compact_round_trip_and_saturation():
    """Output-grid streams -> compact -> model_inputs: the normalised float streams."""
    rng = np.random.default_rng(0)
    clip = SimpleNamespace(
        iframes=rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8),
        motion=rng.uniform(-40, 40, (10, 8, 8, 2)).astype(np.float32),
        residual=rng.integers(-255, 256, (10, 8, 8, 3)).astype(np.int16),
        accumulate=False,
    )
    norm = Normalization((0.5, 0.4, 0.3), (0.2, 0.25, 0.3), motion_scale=16.0, residual_scale=255.0)
    inputs = model_inputs(compact_streams(clip, norm))
    mean = torch.tensor(norm.iframe_mean)[:, None, None, None]
    std = torch.tensor(norm.iframe_std)[:, None, None, None]
    iframes = (torch.from_numpy(clip.iframes).permute(3, 0, 1, 2) / 255 - mean) / std
    torch.testing.assert_close(inputs["iframes"], iframes)
    motion = torch.from_numpy(clip.motion).permute(3, 0, 1, 2)
    saturates = motion.abs() > 127 * MOTION_STEP
    torch.testing.assert_close(
        inputs["motion"][~saturates], motion[~saturates] / 16, atol=MOTION_STEP / 32, rtol=0
    )
    assert torch.equal(
        inputs["motion"][saturates].abs(),
        torch.full_like(motion[saturates], 127 * MOTION_STEP / 16),
    )
    residual = torch.from_numpy(clip.residual).permute(3, 0, 1, 2).float()
    expected = residual.clamp(-127, 127) / 255
    torch.testing.assert_close(inputs["residual"], expected)
    # A float batch passes through untouched; a device move keeps the conversion.
    float_batch = {"iframes": iframes}
    assert model_inputs(float_batch)["iframes"] is iframes
    moved = model_inputs(compact_streams(clip, norm), device="cpu")
    assert torch.equal(moved["residual"], inputs["residual"])
    assert "normalization" not in moved


def test_two_workers_yield_the_batches_of_zero_workers(sample_dataset):
    dataset = build_dataset(config(sample_dataset, "compact"), "train", mode="train", pmsp=True)

    def batches(workers: int) -> list[dict]:
        loader = make_loader(dataset, batch_size=3, shuffle=True, seed=4, num_workers=workers)
        loader.sampler.set_epoch(1)
        return list(loader)

    serial, parallel = batches(0), batches(2)
    assert len(serial) == len(parallel) > 1
    for a, b in zip(serial, parallel, strict=True):
        assert a.keys() == b.keys()
        for key, value in a.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, b[key]), key
            else:
                assert value == b[key], key


def test_pipelines_are_named_in_the_config():
    assert DatasetConfig().pipeline == "compact"
    assert dataclasses.replace(DatasetConfig(), pipeline="reference").pipeline == "reference"


def test_channels_last_inputs_hold_the_same_values(sample_dataset):
    """The training engine's channels_last_3d batches: the same numbers, another layout."""
    dataset = build_dataset(config(sample_dataset, "compact"), "train", mode="train", pmsp=True)
    batch = collate_clips([dataset[(index, index)] for index in range(4)])
    plain, fast = model_inputs(batch), model_inputs(batch, channels_last=True)
    for name in ("iframes", "motion", "residual"):
        assert torch.equal(plain[name], fast[name])
        assert fast[name].is_contiguous(memory_format=torch.channels_last_3d)
        assert plain[name].is_contiguous()
    assert torch.equal(plain["pmsp"], fast["pmsp"])
