"""A pretext step leaves its metrics on the device: no ``.item()`` / ``float()`` per step."""

from __future__ import annotations

import pytest
import torch

from imrkit.models import build_model
from imrkit.pretext import build_pretext, pmsp_label_tensor, pretext_options


@pytest.fixture
def count_host_reads(monkeypatch):
    """Count ``Tensor.item`` and ``Tensor.__float__`` calls (each one waits for the device)."""
    calls: list[str] = []
    for name in ("item", "__float__"):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return calls


def tiny_batch(batch_size=4, num_gops=5, size=32):
    generator = torch.Generator().manual_seed(0)
    motion = torch.randn(batch_size, 2, 5 * num_gops, size, size, generator=generator)
    return {
        "iframes": torch.randn(batch_size, 3, num_gops, size, size, generator=generator),
        "motion": motion,
        "residual": torch.randn(batch_size, 3, 5 * num_gops, size, size, generator=generator),
        "pmsp": pmsp_label_tensor(motion),  # as the dataset attaches them
    }


@pytest.mark.parametrize("name", ["pmsp+ctp", "pmsp", "ctp"])
def test_a_pretext_step_makes_no_host_reads(name, count_host_reads):
    torch.manual_seed(0)
    options = {"seed": 0} if "seed" in pretext_options(name) else {}
    pretext = build_pretext(name, build_model("imrnet_tiny"), hidden_dim=8, **options)
    batch = tiny_batch()
    count_host_reads.clear()
    output = pretext(batch)
    output.loss.backward()
    assert count_host_reads == []
    assert all(isinstance(value, torch.Tensor) for value in output.metrics.values())
    # Read when a row is logged: every metric, as floats, in one transfer.
    logged = output.metric_floats()
    assert set(logged) == set(output.metrics) and "loss" in logged
    assert logged["loss"] == pytest.approx(float(output.loss.detach()))


def test_pmsp_heads_have_one_name_alone_or_with_ctp():
    backbone = build_model("imrnet_tiny")
    alone = build_pretext("pmsp", backbone, hidden_dim=8)
    combined = build_pretext("pmsp+ctp", backbone, hidden_dim=8)
    assert type(alone.pmsp_heads) is type(combined.pmsp_heads)
    keys = {key.split(".")[0] for key in alone.state_dict()}
    assert keys == {"backbone", "pmsp_heads"}
    assert {key.split(".")[0] for key in combined.state_dict()} >= {"backbone", "pmsp_heads"}
