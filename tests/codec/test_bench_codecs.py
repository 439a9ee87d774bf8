"""``imrkit bench codecs`` runs end to end on tiny inputs (a smoke test, not a timing)."""

from __future__ import annotations

import argparse
import json

import pytest

from imrkit.bench import codecs


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
