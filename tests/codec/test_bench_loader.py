"""``imrkit bench loader`` runs end to end on tiny inputs (a smoke test, not a timing)."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
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
            "--reader-repeats",
            "1",
            "--reader-batch",
            "1",
            "--reader-sizes",
            "96x64",
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
    assert {row["size"] for row in result["reader"]["rows"]} == {"96x64"}
    report = loader.format_report(result)
    assert "read_clip" in report and "targets" in report and "read_clip / decord" in report


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


def _reader_args(tmp_path, *extra):
    parser = argparse.ArgumentParser()
    loader.add_arguments(parser)
    return parser.parse_args(
        [
            "--only",
            "reader",
            "--cache",
            str(tmp_path),
            "--reader-repeats",
            "1",
            "--reader-batch",
            "1",
            *extra,
        ]
    )


@pytest.mark.slow
def test_reader_table_compares_read_clip_with_decord_and_splits_its_stages(tmp_path):
    result = loader.run(_reader_args(tmp_path, "--reader-sizes", "96x64"))
    table = result["reader"]
    json.dumps(result)  # JSON-ready
    cases = {(row["codec"], row["size"], row["start_gop"]) for row in table["rows"]}
    assert cases == {(codec, "96x64", gop) for codec in loader.READER_CODECS for gop in (0, 1)}
    decord = loader.decord_missing() == ""
    for row in table["rows"]:
        ms = row["ms_per_clip"]
        assert ("decord_rgb" in ms) == decord and all(value > 0 for value in ms.values())
        if decord:  # one round: the paired ratio is the ratio of the medians
            assert row["read_clip_vs_decord"] == pytest.approx(ms["read_clip"] / ms["decord_rgb"])
    for part in table["stages"].values():
        assert sum(part["share"].values()) == pytest.approx(1.0, abs=0.05)
    report = loader.format_report(result)
    assert "read_clip / decord" in report and "reference_matching" in report


def test_reader_table_without_decord_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "decord", None)  # import decord now fails
    assert "pip install 'imrkit[bench]'" in loader.decord_missing()
    table = {
        "versions": {},
        "decord": loader.decord_missing(),
        "repeats": 1,
        "source": "test",
        "rows": [
            {
                "codec": "h264",
                "size": "96x64",
                "start_gop": 0,
                "ms_per_clip": dict.fromkeys(
                    ("decode_only", "pyav_rgb", "pyav_rgb_tuned", "read_clip"), 1.0
                ),
                "read_clip_vs_pyav_rgb_tuned": 1.0,
                "read_clip_vs_decode_only": 1.0,
            }
        ],
        "stages": {"h264 96x64": {"ms": {"decode": 1.0, "total": 1.0}, "share": {"decode": 1.0}}},
    }
    report = loader.format_reader_table(table)
    assert "| n/a |" in report and "pip install 'imrkit[bench]'" in report


def test_decode_only_and_decord_read_the_clip_frames(tmp_path):
    path = tmp_path / "clip.avi"
    encode_frames(loader.synthetic_frames(84, 96, 64), path)
    assert loader.decode_only(path, 1) == loader.CLIP_FRAMES
    if loader.decord_missing():
        pytest.skip(loader.decord_missing())
    frames = loader.decord_rgb(path, 1)
    plain = np.stack(loader.plain_decode(path, 1, reuse_reformatter=True))
    assert frames.shape == plain.shape == (loader.CLIP_FRAMES, 64, 96, 3)
    # Another FFmpeg and converter: the same frames up to YUV->RGB rounding.
    assert np.abs(frames.astype(np.int16) - plain).mean() < 2.0
