"""`imrkit bench pmsp` runs end to end on a sample clip and reports what BENCHMARKS.md quotes."""

from __future__ import annotations

import argparse

from imrkit.bench import pmsp as bench


def test_time_clips_and_report(sample_dataset):
    video = sorted(sample_dataset.rglob("*.avi"))[0]
    part = bench.time_clips([video], crop_size=64, short_side=96, repeats=1)
    assert set(part["ms_per_clip"]) == {
        "read_clip",
        "train_transform",
        "train_transform_with_pmsp",
        "pmsp_labels_transformed",
        "pmsp_labels_full_frame",
        "pmsp_labels_in_pipeline",
    }
    assert all(value >= 0 for value in part["ms_per_clip"].values())
    assert "read_clip" not in part["ratios_vs_read_clip"]
    part["source"] = "test clip"
    result = {
        "sample": part,
        "coviar": part,
        "target": {
            "label_share_of_read_clip": 0.05,
            "worst_in_pipeline": 0.01,
            "worst_isolated": 0.02,
        },
        "met": True,
    }
    report = bench.format_report(result)
    assert "pmsp_labels_in_pipeline" in report and "target < 5%: met" in report
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    assert parser.parse_args([]).repeats == 7
