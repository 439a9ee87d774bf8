"""Pretext weights saved before PMSP's heads were named ``pmsp_heads`` still load."""

from __future__ import annotations

import torch

from imrkit.models import build_model
from imrkit.pretext import build_pretext
from imrkit.train.pmsp_predict import _renamed_legacy_keys


def test_old_pmsp_head_keys_are_renamed():
    torch.manual_seed(0)
    saved = build_pretext("pmsp", build_model("imrnet_tiny"), hidden_dim=8)
    old_state = {
        (key.removeprefix("pmsp_") if key.startswith("pmsp_heads.") else key): value
        for key, value in saved.state_dict().items()
    }
    assert any(key.startswith("heads.heads.") for key in old_state)
    fresh = build_pretext("pmsp", build_model("imrnet_tiny"), hidden_dim=8)
    fresh.load_state_dict(_renamed_legacy_keys(old_state, fresh))
    for key, value in saved.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
    # PMSP+CTP always named them pmsp_heads: its keys are left alone.
    combined = build_pretext("pmsp+ctp", build_model("imrnet_tiny"), hidden_dim=8)
    state = combined.state_dict()
    assert _renamed_legacy_keys(state, combined).keys() == state.keys()
