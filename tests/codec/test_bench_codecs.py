"""``imrkit bench codecs`` runs end to end on tiny inputs (a smoke test, not a timing)."""

from __future__ import annotations

import argparse
import json

import av
import pytest

from imrkit.bench import codecs
from imrkit.codec.reader import probe


@pytest.mark.slow
def test_bench_codecs_runs_and_reports(tmp_path):
    parser = argparse.ArgumentParser()
    codecs.add_arguments(parser)
    args = parser.parse_args(
        ["--cache", str(tmp_path), "--size", "96", "64", "--frames", "72", "--repeats", "1"]
    )
    result = codecs.run(args)
    json.dumps(result)  # JSON-ready
    assert set(result["codecs"]) == set(codecs.CODECS)
    assert {"mpeg4_b", "mpeg4_b_avi", "h264"} <= set(codecs.CODECS)  # rows the docs cite
    # The UCF-101-like row is what UCF-101 ships: MPEG-4 Part 2 with B-frames, in AVI.
    with av.open(str(tmp_path / "mpeg4_b_avi_96x64_72.avi")) as container:
        stream = container.streams.video[0]
        assert "avi" in container.format.name.split(",")
        assert stream.codec_context.name == "mpeg4" and stream.average_rate == 25
    assert probe(tmp_path / "mpeg4_b_avi_96x64_72.avi").has_b_frames
    for row in result["codecs"].values():
        assert row["problems"] == []  # every benchmarked codec reads directly
        assert row["read_clip_ms"] > 0 and row["residual_energy_ratio"] > 0
    access = result["random_access"]
    assert list(access["per_start"]) == [0, 1]  # 6 segments: clips start at GOP 0 or 1
    assert access["per_start"][0]["decoded"] >= 60  # B-frames may need the next anchor
    # The floor decodes no more than the reader does before the same (latest) clip.
    assert 0 < access["references_before_latest_decoded"] <= access["per_start"][1]["decoded"]
    assert access["floor_latest_vs_early"] > 1
    report = codecs.format_report(result)
    assert "h264" in report and "targets" in report and "floor" in report
