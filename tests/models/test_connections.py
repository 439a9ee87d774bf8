"""The bidirectional dynamic connections (Sec. 2.1, Eqs. 1-3) and the Table 1 ablation switch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from imrkit.models import CONNECTION_MODES, build_model
from imrkit.models.connections import (
    MultimodalGate,
    TemporalAverage,
    TemporalRepeat,
    create_connection,
)


def clip(seed=0, batch=2, num_gops=2, size=32):
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.randn(batch, 3, num_gops, size, size, generator=generator),
        torch.randn(batch, 2, 5 * num_gops, size, size, generator=generator),
        torch.randn(batch, 3, 5 * num_gops, size, size, generator=generator),
    )


def gate_outputs(model, inputs):
    """Run the model, recording every gate's (a_I, a_P) with forward hooks."""
    recorded = []
    hooks = [
        module.register_forward_hook(lambda _m, _in, out: recorded.append(out))
        for module in model.modules()
        if isinstance(module, MultimodalGate)
    ]
    with torch.no_grad():
        model(*inputs)
    for hook in hooks:
        hook.remove()
    return recorded


def test_gates_are_in_unit_interval_and_depend_on_input():
    model = build_model("imrnet_tiny").eval()
    first = gate_outputs(model, clip(seed=0))
    second = gate_outputs(model, clip(seed=1))
    assert len(first) == 8  # 4 stages x (I, M) and (I, R)
    for (to_i, to_p), (other_i, other_p) in zip(first, second, strict=True):
        for weight in (to_i, to_p):
            assert ((weight > 0) & (weight < 1)).all()
        # Channel-wise, per sample: B x C_connection.
        assert to_i.dim() == 2 and to_i.shape[0] == 2
        assert not torch.allclose(to_i, other_i) and not torch.allclose(to_p, other_p)


def test_gate_heads_are_sized_to_the_connections():
    model = build_model("imrnet_r18")
    gates = [fusion.motion.gate for fusion in model.fusions]
    # z = [maxpool(x_I); maxpool(x_M)]: C_z = C_I + C_M at conv1, res2, res3, res4.
    assert [g.mlp[0].in_features for g in gates] == [64 + 8, 64 + 4, 128 + 8, 256 + 16]
    assert all(g.mlp[0].out_features == g.mlp[0].in_features for g in gates)
    assert all(g.mlp[2].weight.shape[0] == g.mlp[2].weight.shape[1] for g in gates)
    assert [g.to_iframes.out_features for g in gates] == [4, 4, 8, 16]
    assert [g.to_pframes.out_features for g in gates] == [8, 8, 16, 32]


def test_gate_modulates_channel_wise():
    torch.manual_seed(0)
    connection = create_connection(
        mode="full",
        dim_iframes=6,
        dim_pframes=4,
        dim_to_iframes=3,
        dim_to_pframes=2,
        ratio=5,
        norm=False,
        negative_slope=0.01,
    )
    iframes, pframes = torch.randn(2, 6, 2, 4, 4), torch.randn(2, 4, 10, 4, 4)
    to_i, to_p = connection(iframes, pframes)
    weight_i, weight_p = connection.gate(iframes, pframes)
    # Eq. 2: v = a * conv(x), a broadcast over T x H x W.
    expected_i = connection.to_iframes(pframes) * weight_i[:, :, None, None, None]
    expected_p = connection.to_pframes(iframes) * weight_p[:, :, None, None, None]
    torch.testing.assert_close(to_i, expected_i)
    torch.testing.assert_close(to_p, expected_p)
    assert to_i.shape == (2, 3, 2, 4, 4) and to_p.shape == (2, 2, 10, 4, 4)


def _has_grad(parameters) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in parameters)


@pytest.mark.parametrize("mode", CONNECTION_MODES)
def test_gradient_flows_only_along_the_modes_connections(mode):
    model = build_model("imrnet_tiny", connections=mode)
    inputs = clip()

    # A loss on the I pathway reaches M/R weights exactly when M/R -> I connections exist.
    model.forward_features(*inputs)["iframes"].square().mean().backward()
    reaches_pframes = _has_grad(model.motion.parameters()) and _has_grad(
        model.residual.parameters()
    )
    assert reaches_pframes == (mode != "none")

    # A loss on M reaches I weights only when I -> M connections exist.
    model.zero_grad(set_to_none=True)
    model.forward_features(*inputs)["motion"].square().mean().backward()
    reaches_iframes = _has_grad(model.iframes.parameters())
    two_way = mode in ("full", "no_conv", "no_attention")
    assert reaches_iframes == two_way
    # M and R talk only through I: R -> I -> M needs both directions.
    assert _has_grad(model.residual.parameters()) == two_way


def test_no_attention_has_no_gates():
    full = build_model("imrnet_tiny")
    plain = build_model("imrnet_tiny", connections="no_attention")
    assert any(isinstance(m, MultimodalGate) for m in full.modules())
    assert not any(isinstance(m, MultimodalGate) for m in plain.modules())
    assert not any("gate" in name for name, _ in plain.named_parameters())
    # Everything else is the same network.
    gate_params = sum(
        p.numel() for m in full.modules() if isinstance(m, MultimodalGate) for p in m.parameters()
    )
    assert sum(p.numel() for p in plain.parameters()) + gate_params == sum(
        p.numel() for p in full.parameters()
    )


def test_unidirectional_has_no_i_to_p_modules():
    model = build_model("imrnet_tiny", connections="unidirectional")
    for fusion in model.fusions:
        for connection in (fusion.motion, fusion.residual):
            assert connection.to_pframes is None
            assert connection.gate.to_pframes is None


def test_none_builds_no_connection():
    model = build_model("imrnet_r18", connections="none")
    assert len(model.fusions) == 0
    assert model.iframes[1][0].conv_a[0].in_channels == 64  # nothing fused


def test_no_conv_learns_no_temporal_kernel():
    model = build_model("imrnet_r18", connections="no_conv")
    layers = [m for fusion in model.fusions for m in fusion.modules()]
    assert not any(isinstance(m, nn.ConvTranspose3d) for m in layers)
    convs = [m for m in layers if isinstance(m, nn.Conv3d)]
    assert convs and all(conv.kernel_size == (1, 1, 1) for conv in convs)
    assert any(isinstance(m, TemporalAverage) for m in layers)
    assert any(isinstance(m, TemporalRepeat) for m in layers)
    # Widths match the full model, so the ablation changes only the temporal transform.
    full = build_model("imrnet_r18")
    assert model.iframes[1][0].conv_a[0].in_channels == full.iframes[1][0].conv_a[0].in_channels
    assert model.motion[1][0].conv_a[0].in_channels == full.motion[1][0].conv_a[0].in_channels


def test_temporal_resampling_is_average_and_repeat():
    x = torch.arange(10.0).view(1, 1, 10, 1, 1)
    assert TemporalAverage(5)(x).flatten().tolist() == [2.0, 7.0]
    y = torch.tensor([1.0, 2.0]).view(1, 1, 2, 1, 1)
    assert TemporalRepeat(5)(y).flatten().tolist() == [1.0] * 5 + [2.0] * 5


def test_spatial_kernel_of_the_connections_is_config():
    model = build_model("imrnet_tiny", fusion={"spatial_kernel": 3})
    connection = model.fusions[0].motion
    assert connection.to_iframes[0].kernel_size == (5, 3, 3)
    assert connection.to_pframes[0].kernel_size == (5, 3, 3)
    features = model.forward_features(*clip(batch=1))
    assert features["motion"].shape[2:] == (10, 1, 1)
