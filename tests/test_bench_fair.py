"""The benchmarks behind issue 21's figures: engine efficiency and input scales."""

from __future__ import annotations

import pytest


def test_engine_phase_arithmetic_and_report():
    from imrkit.bench.engine import _phase, format_report

    phase = _phase(real=8.0, bare=10.0, gflops=2.0)
    assert phase["efficiency"] == pytest.approx(0.8)
    assert phase["real_gflops_per_s"] == pytest.approx(16.0)
    report = format_report(
        {
            "phases": {"finetune step": phase},
            "threads": 1,
            "channels_last": True,
            "memory_format": {"contiguous": 5.0, "channels_last_3d": 6.5, "speed-up": 1.3},
        }
    )
    assert "finetune step" in report and "80%" in report and "x1.30" in report


def test_input_statistics_of_the_sample(sample_dataset):
    from imrkit.bench.inputs import stream_statistics
    from imrkit.data.dataset import DatasetConfig, build_dataset
    from imrkit.transforms import TransformConfig

    transform = TransformConfig(crop_size=32, short_side=32, scales=(1.0,))
    config = DatasetConfig(root=str(sample_dataset), num_workers=0, transform=transform)
    dataset = build_dataset(config, "test", mode="eval", labelled=False)
    stats = stream_statistics(dataset, clips=6)
    assert set(stats) == {"iframes", "motion", "residual"}
    # I-frames are normalised to about unit scale; M and R enter far below it (issue 21).
    assert 0.5 < stats["iframes"]["std"] < 2.0
    assert 0 < stats["motion"]["std"] < 0.2 * stats["iframes"]["std"]
    assert 0 < stats["residual"]["std"] < 0.2 * stats["iframes"]["std"]
