"""The stage profile of ``read_clip`` (issue 24) accounts for the whole read, once."""

from __future__ import annotations

from pathlib import Path

import pytest

from imrkit.codec import decoder, references, residual
from imrkit.codec.stages import STAGES, stage_times

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("name", ["ref_mpeg4_gop12.avi", "ref_h264_b.mp4"])
def test_stages_add_up_to_the_read_and_leave_the_reader_as_it_was(name):
    originals = (
        decoder._rgb,
        decoder.SegmentDecoder._motion,
        references._match_costs,
        residual.MotionCompensator.residual,
        decoder._Picture.__dict__["vectors"],
    )
    times = stage_times(DATA / name, 0, 2, repeats=3)
    assert set(times) == {*STAGES, "total"}
    assert all(times[stage] >= 0 for stage in STAGES)
    # Medians per stage need not add up exactly to the median total: within 20 %.
    assert sum(times[stage] for stage in STAGES) == pytest.approx(times["total"], rel=0.2)
    for stage in ("decode", "rgb", "residual", "motion_vectors"):
        assert times[stage] > 0, stage
    assert (times["reference_matching"] > 0) == name.startswith("ref_h264")
    assert originals == (
        decoder._rgb,
        decoder.SegmentDecoder._motion,
        references._match_costs,
        residual.MotionCompensator.residual,
        decoder._Picture.__dict__["vectors"],
    )
