"""``imrkit bench loader`` runs end to end on tiny inputs (a smoke test, not a timing)."""

from __future__ import annotations

import argparse
import json

import pytest

from imrkit.bench import loader
from imrkit.codec.encode import encode_frames


@pytest.mark.slow
def test_bench_loader_runs_and_reports(tmp_path):
    data = tmp_path / "data" / "Class"
    data.mkdir(parents=True)
    encode_frames(loader.synthetic_frames(60, 128, 96), data / "v_Class_g01_c01.avi")
    parser = argparse.ArgumentParser()
    loader.add_arguments(parser)
    args = parser.parse_args(
        [
            "--data",
            str(tmp_path / "data"),
            "--cache",
            str(tmp_path / "cache"),
            "--long-minutes",
            "0.04",
            "--repeats",
            "1",
            "--flow-repeats",
            "1",
        ]
    )
    result = loader.run(args)
    json.dumps(result)  # JSON-ready
    assert result["long"]["frames"] == 72 and result["random_access"]["end_gop"] == 1
    for part in ("sample", "long"):
        timings = result[part]["ms_per_frame"]
        assert set(timings) == {
            "pyav_rgb",
            "pyav_rgb_reused",
            "read_clip",
            "read_clip_accumulate",
            "farneback",
            "dis",
        }
        assert all(value > 0 for value in timings.values())
    storage = result["storage_bytes_per_frame"]
    assert storage["mpeg4"] < storage["jpeg95"] < storage["raw_rgb"] == 340 * 256 * 3
    report = loader.format_report(result)
    assert "read_clip" in report and "targets" in report


def test_targets_come_from_the_targets_table():
    result = {
        "long": {
            "ratios": {
                "read_clip_vs_pyav_rgb": 1.2,
                "read_clip_vs_pyav_rgb_reused": 1.4,
                "farneback_vs_read_clip": 25.0,
            }
        },
        "random_access": {"end_vs_start": 1.3},
    }
    assert loader.check_targets(result) == {
        "read_clip_vs_plain_decode (<= 1.3, vs pyav_rgb, 340x256)": True,
        "read_clip_vs_plain_decode (<= 1.3, vs pyav_rgb_reused, 340x256)": False,
        "farneback_vs_read_clip (>= 20, 340x256)": True,
        "end_vs_start_of_long_video (<= 1.2)": False,
    }
    # One home: change the table and the verdicts follow.
    original = dict(loader.TARGETS)
    try:
        loader.TARGETS["end_vs_start_of_long_video"] = ("<=", 1.5)
        assert loader.check_targets(result)["end_vs_start_of_long_video (<= 1.5)"] is True
    finally:
        loader.TARGETS.clear()
        loader.TARGETS.update(original)
