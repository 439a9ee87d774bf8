"""IMRNet shapes, input checks and config handling (Sec. 2.1, Table 4)."""

from __future__ import annotations

import itertools

import pytest
import torch

from imrkit.errors import ConfigError
from imrkit.models import CONNECTION_MODES, PRESETS, InputShapeError, build_model


def clip(batch=2, num_gops=1, height=32, width=32):
    """Random inputs in IMRNet's layout: I B x 3 x T x H x W, M/R B x C x 5T x H x W."""
    generator = torch.Generator().manual_seed(0)
    return (
        torch.randn(batch, 3, num_gops, height, width, generator=generator),
        torch.randn(batch, 2, 5 * num_gops, height, width, generator=generator),
        torch.randn(batch, 3, 5 * num_gops, height, width, generator=generator),
    )


@pytest.mark.parametrize(
    ("name", "mode"), list(itertools.product(sorted(PRESETS), CONNECTION_MODES))
)
def test_feature_and_embedding_shapes(name, mode):
    num_gops = 2 if name == "imrnet_tiny" else 1
    model = build_model(name, connections=mode)
    inputs = clip(num_gops=num_gops)
    with torch.no_grad():
        features = model.forward_features(*inputs)
        embedding = model(*inputs)
    dims = model.feature_dims
    # Time is not strided: T and 5T survive; space is strided by 32.
    assert features["iframes"].shape == (2, dims["iframes"], num_gops, 1, 1)
    assert features["motion"].shape == (2, dims["motion"], 5 * num_gops, 1, 1)
    assert features["residual"].shape == (2, dims["residual"], 5 * num_gops, 1, 1)
    assert embedding.shape == (2, model.embed_dim)
    assert torch.isfinite(embedding).all()


@pytest.mark.parametrize(
    ("name", "embed_dim", "dims"),
    [
        ("imrnet_r18", 576, {"iframes": 512, "motion": 32, "residual": 32}),
        ("imrnet_r50", 2304, {"iframes": 2048, "motion": 128, "residual": 128}),
        ("imrnet_tiny", 80, {"iframes": 64, "motion": 8, "residual": 8}),
    ],
)
def test_embedding_size(name, embed_dim, dims):
    model = build_model(name)
    assert model.embed_dim == embed_dim
    assert model.feature_dims == dims


def test_embed_is_pooled_concatenation_of_features():
    model = build_model("imrnet_tiny").eval()
    inputs = clip(num_gops=2, height=64)
    with torch.no_grad():
        features = model.forward_features(*inputs)
        expected = torch.cat([features[k].mean(dim=(2, 3, 4)) for k in features], dim=1)
        torch.testing.assert_close(model.embed(*inputs), expected)


def test_classifier_logits_and_dropout():
    model = build_model("imrnet_tiny", num_classes=7, dropout=0.3)
    assert model.classifier.out_features == 7 and model.dropout.p == 0.3
    logits = model(*clip())
    assert logits.shape == (2, 7)


def test_any_multiple_of_32_and_any_num_gops():
    model = build_model("imrnet_tiny").eval()
    inputs = clip(batch=1, num_gops=3, height=64, width=96)
    with torch.no_grad():
        features = model.forward_features(*inputs)
    assert features["iframes"].shape[2:] == (3, 2, 3)
    assert features["motion"].shape[2:] == (15, 2, 3)


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        # motion frames != 5 x I-frames
        ([(1, 3, 2, 32, 32), (1, 2, 5, 32, 32), (1, 3, 10, 32, 32)], "motion"),
        # wrong channels: motion given 3
        ([(1, 3, 1, 32, 32), (1, 3, 5, 32, 32), (1, 3, 5, 32, 32)], "motion: expected 2 channels"),
        # spatial size not a multiple of 32
        ([(1, 3, 1, 48, 48), (1, 2, 5, 48, 48), (1, 3, 5, 48, 48)], "multiples of 32"),
        # residual of another spatial size
        ([(1, 3, 1, 32, 32), (1, 2, 5, 32, 32), (1, 3, 5, 64, 32)], "residual"),
        # batch mismatch
        ([(2, 3, 1, 32, 32), (1, 2, 5, 32, 32), (2, 3, 5, 32, 32)], "motion"),
        # not 5-D (channels-last frames straight from the reader)
        ([(1, 32, 32, 3), (1, 2, 5, 32, 32), (1, 3, 5, 32, 32)], "5-D"),
    ],
)
def test_bad_shapes_raise_clear_errors(shapes, match):
    model = build_model("imrnet_tiny")
    with pytest.raises(InputShapeError, match=match) as info:
        model(*(torch.zeros(shape) for shape in shapes))
    assert isinstance(info.value, ValueError)
    assert "got" in str(info.value)


def test_integer_frames_are_rejected():
    iframes, motion, residual = clip()
    with pytest.raises(InputShapeError, match="uint8"):
        build_model("imrnet_tiny")(iframes.to(torch.uint8), motion, residual)


def test_overrides_reach_the_config():
    model = build_model(
        "imrnet_tiny", connections="none", iframes={"depths": (2, 1, 1, 1)}, dropout=0.1
    )
    assert model.config.connections == "none"
    assert len(model.iframes[1]) == 2 and len(model.iframes[2]) == 1
    assert len(model.fusions) == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"connections": "sideways"},
        {"widths": 3},
        {"iframes": {"depths": (1, 1)}},  # fewer depths than stages
        {"dropout": "high"},
    ],
)
def test_bad_config_raises_config_error(overrides):
    with pytest.raises(ConfigError):
        build_model("imrnet_tiny", **overrides)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="imrnet_r18"):
        build_model("imrnet_r101")


def test_r18_widths_follow_table_4():
    model = build_model("imrnet_r18")
    assert model.iframes[0].conv.kernel_size == (1, 7, 7)
    assert model.motion[0].conv.kernel_size == (5, 7, 7)
    assert model.motion[0].conv.out_channels == 8
    # Eq. 3: res2 of I takes 64 + 4 (from M) + 4 (from R); res2 of M takes 8 + 8 (from I).
    assert model.iframes[1][0].conv_a[0].in_channels == 72
    assert model.motion[1][0].conv_a[0].in_channels == 16
    # res4/res5 of I use 3x3^2 first convs, res2/res3 1x3^2; every M/R stage 3x3^2.
    assert [model.iframes[i][0].conv_a[0].kernel_size[0] for i in range(1, 5)] == [1, 1, 3, 3]
    assert [model.motion[i][0].conv_a[0].kernel_size[0] for i in range(1, 5)] == [3, 3, 3, 3]
    connections = [fusion.motion for fusion in model.fusions]
    assert [c.to_iframes[0].out_channels for c in connections] == [4, 4, 8, 16]
    assert [c.to_pframes[0].out_channels for c in connections] == [8, 8, 16, 32]
    assert all(c.to_iframes[0].kernel_size == (5, 1, 1) for c in connections)
    assert all(c.to_iframes[0].stride == (5, 1, 1) for c in connections)
    assert all(isinstance(c.to_pframes[0], torch.nn.ConvTranspose3d) for c in connections)


def test_motion_and_residual_share_architecture_not_weights():
    model = build_model("imrnet_tiny")
    motion, residual = model.motion[1][0].conv_a[0], model.residual[1][0].conv_a[0]
    assert motion.weight.shape == residual.weight.shape
    assert motion.weight.data_ptr() != residual.weight.data_ptr()
    assert not torch.equal(motion.weight, residual.weight)


def test_forward_is_deterministic_under_a_seed():
    outputs = []
    for _ in range(2):
        torch.manual_seed(1234)
        model = build_model("imrnet_tiny", num_classes=3).eval()
        with torch.no_grad():
            outputs.append(model(*clip(num_gops=2)))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)
    torch.manual_seed(4321)
    other = build_model("imrnet_tiny", num_classes=3).eval()
    with torch.no_grad():
        assert not torch.allclose(other(*clip(num_gops=2)), outputs[0])


def test_the_presets_are_the_only_home_of_the_sizes():
    from imrkit.models import IMRNetConfig, PathwayConfig

    with pytest.raises(TypeError):
        IMRNetConfig()  # no default pathways: a network starts from a preset
    with pytest.raises(TypeError):
        PathwayConfig()


def test_the_builder_hands_built_parts_to_imrnet():
    from torch import nn

    from imrkit.models import IMRNet, create_imrnet, model_config
    from imrkit.models.builder import create_fusions, create_pathways

    config = model_config("imrnet_tiny", num_classes=4)
    pathways, fusions = create_pathways(config), create_fusions(config)
    model = IMRNet(
        config,
        **pathways,
        fusions=fusions,
        dropout=nn.Dropout(0.0),
        classifier=nn.Linear(config.embed_dim, 4),
    )
    assert model.iframes is pathways["iframes"] and model.fusions is fusions
    assert list(model.state_dict()) == list(create_imrnet(config).state_dict())
    with pytest.raises(ValueError, match="fusions"):
        IMRNet(
            config,
            **pathways,
            fusions=nn.ModuleList([nn.Identity()] * 5),
            dropout=nn.Identity(),
            classifier=None,
        )


def test_models_io_does_not_import_the_network():
    import subprocess
    import sys

    code = (
        "import sys, imrkit.models.io; "
        "assert 'imrkit.models.imrnet' not in sys.modules, 'models.io imports models.imrnet'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
