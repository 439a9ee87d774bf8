"""Parameter and MAC counts (Table 2) and the `imrkit model-stats` command."""

from __future__ import annotations

import json

import pytest
import torch

from imrkit.cli import main
from imrkit.models import build_model, model_stats
from imrkit.models.cost import count_macs


def test_macs_are_half_the_counted_flops_of_a_known_conv():
    model = build_model("imrnet_tiny")
    inputs = (
        torch.zeros(1, 3, 2, 64, 64),
        torch.zeros(1, 2, 10, 64, 64),
        torch.zeros(1, 3, 10, 64, 64),
    )
    macs = count_macs(model, inputs)
    # I conv1: 8 x 3 x 1x7x7 kernel at every output position of a 2 x 32 x 32 map; the
    # stem's BatchNorm and max-pool cost no MACs.
    assert macs["iframes.0"] == 2 * 32 * 32 * 8 * 3 * 49
    # M conv1: 4 x 2 x 5x7x7 over 10 x 32 x 32.
    assert macs["motion.0"] == 10 * 32 * 32 * 4 * 2 * 5 * 49


@pytest.mark.parametrize(
    ("name", "paper", "band"), [("imrnet_r18", 0.66, 0.15), ("imrnet_r50", 1.04, 0.25)]
)
def test_gmacs_per_frame_near_table_2(name, paper, band):
    stats = model_stats(name)
    gmacs = stats["gmacs_per_frame"]
    assert stats["input"]["frames_divided_by"] == 25
    assert abs(gmacs["total"] / paper - 1) < band
    # The breakdown accounts for everything.
    assert abs(gmacs["unaccounted"]) < 1e-9
    assert gmacs["connections_total"] > 0
    params = stats["parameters"]
    parts = sum(p["total"] for p in params["pathways"].values())
    parts += sum(sum(c.values()) for c in params["connections"].values())
    assert parts + params["classifier"] == params["total"]


def test_none_mode_has_no_connection_cost():
    stats = model_stats("imrnet_r18", connections="none")
    assert stats["gmacs_per_frame"]["connections_total"] == 0
    assert stats["parameters"]["connections"] == {}
    assert stats["gmacs_per_frame"]["total"] < model_stats("imrnet_r18")["gmacs_per_frame"]["total"]


def test_model_stats_command(capsys):
    assert main(["model-stats", "imrnet_r18", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["model"] == "imrnet_r18" and stats["paper_gmacs_per_frame"] == 0.66
    assert set(stats["parameters"]["pathways"]) == {"iframes", "motion", "residual"}
    assert main(["model-stats", "imrnet_tiny", "--connections", "no_conv", "--size", "64"]) == 0
    text = capsys.readouterr().out
    assert "connection res4 I<->R" in text and "total" in text
