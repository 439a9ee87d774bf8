"""The metrics CSV: growing columns, truncation on resume, read_history."""

from __future__ import annotations

from imrkit.train.metrics_log import MetricsLog, read_history


def test_rows_columns_and_truncation(tmp_path):
    log = MetricsLog(tmp_path / "metrics.csv")
    log.append({"kind": "train", "step": 1, "epoch": 1, "loss": 2.5, "lr": 0.1})
    log.append({"kind": "train", "step": 2, "epoch": 1, "loss": 2.0, "lr": 0.1, "pmsp/acc": 0.5})
    log.append(
        {"kind": "epoch", "step": 2, "epoch": 1, "loss": 2.25, "lr": 0.1, "skipped_videos": 3}
    )
    rows = read_history(tmp_path)
    assert [r["kind"] for r in rows] == ["train", "train", "epoch"]
    assert rows[0]["pmsp/acc"] is None and rows[1]["pmsp/acc"] == 0.5
    assert rows[2]["skipped_videos"] == 3 and isinstance(rows[2]["skipped_videos"], int)
    assert read_history(tmp_path / "metrics.csv", "epoch") == rows[2:]
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0]
    assert header.startswith("kind,step,epoch,loss,lr")
    # A resumed run re-logs what came after its checkpoint.
    resumed = MetricsLog(tmp_path / "metrics.csv")
    resumed.truncate_after(1)
    assert [r["step"] for r in read_history(tmp_path)] == [1]
    resumed.truncate_after(-1)
    assert read_history(tmp_path) == []
    assert read_history(tmp_path / "absent") == []


def test_disabled_log_writes_nothing(tmp_path):
    log = MetricsLog(tmp_path / "metrics.csv", enabled=False)
    log.append({"kind": "train", "step": 1})
    log.truncate_after(-1)
    assert not (tmp_path / "metrics.csv").exists()
