"""The model section of a run config: a preset plus typed changes, from TOML, key=value or
a dict, checked when the config is read."""

from __future__ import annotations

import pytest

from imrkit.config import load_config
from imrkit.errors import ConfigError
from imrkit.models import build_model, model_config
from imrkit.train.config import FinetuneConfig, ModelConfig, PretrainConfig


def test_defaults_build_the_preset_as_before():
    config = ModelConfig(name="imrnet_tiny")
    assert config.build_kwargs() == {}  # unset fields keep the preset's values
    assert config.imrnet_config() == model_config("imrnet_tiny")


@pytest.mark.parametrize(
    ("overrides", "check"),
    [
        (["model.connections=none"], lambda c: c.connections == "none"),
        (["model.connections=unidirectional"], lambda c: c.connections == "unidirectional"),
        (
            ["model.pframes.stage_dims=[8, 8, 16, 16]", "model.pframes.inner_dims=[8, 8, 16, 16]"],
            lambda c: c.pframes.stage_dims == (8, 8, 16, 16) and c.pframes.stem_dim == 4,
        ),
        (["model.iframes.depths=[2, 1, 1, 1]"], lambda c: c.iframes.depths == (2, 1, 1, 1)),
        (["model.fusion.norm=false"], lambda c: c.fusion.norm is False),
        (["model.fusion.spatial_kernel=3"], lambda c: c.fusion.spatial_kernel == 3),
        (["model.pframes.stem_kernel=[3, 7, 7]"], lambda c: c.pframes.stem_kernel == (3, 7, 7)),
        ({"model.dropout": 0.1, "model.fusion.to_iframes_dims": [1, 1, 2, 2]}, None),
    ],
)
def test_every_ablation_is_a_config_change(overrides, check):
    config = load_config(FinetuneConfig, "finetune_sample", overrides)
    network = config.model.imrnet_config(num_classes=3)
    if check is not None:
        assert check(network)
    else:
        assert network.dropout == 0.1 and network.fusion.to_iframes_dims == (1, 1, 2, 2)
    # What is not changed keeps the preset's value.
    preset = model_config("imrnet_tiny")
    assert network.iframes.stem_dim == preset.iframes.stem_dim
    model = build_model(config.model.name, 3, **config.model.build_kwargs())
    assert model.config == network


def test_a_toml_model_table_changes_the_network(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        '[model]\nname = "imrnet_tiny"\nconnections = "no_conv"\n'
        "[model.pframes]\nstage_dims = [4, 8, 8, 16]\ninner_dims = [4, 8, 8, 16]\n"
    )
    config = load_config(PretrainConfig, path)
    model = build_model(config.model.name, None, **config.model.build_kwargs())
    assert model.config.connections == "no_conv"
    assert model.feature_dims == {"iframes": 64, "motion": 16, "residual": 16}


def test_bad_model_changes_fail_when_the_config_is_read():
    with pytest.raises(ConfigError, match=r"model\.pframes\.widths'?: unknown key"):
        load_config(PretrainConfig, None, ["model.pframes.widths=[1, 2, 3, 4]"])
    with pytest.raises(ConfigError, match="model.connections"):
        load_config(PretrainConfig, None, ["model.connections=sideways"])
    with pytest.raises(ConfigError, match="model.iframes.depths"):
        load_config(PretrainConfig, None, ['model.iframes.depths=[1, "two", 1, 1]'])
    # Each value is well typed, but together they disagree: caught before any data loads.
    with pytest.raises(ConfigError, match=r"model \(imrnet_r18\): pframes.inner_dims"):
        load_config(PretrainConfig, None, ["model.pframes.stage_dims=[8, 16, 32]"])
    with pytest.raises(ConfigError, match="unknown model"):
        load_config(PretrainConfig, None, ["model.name=imrnet_r34"])


def test_every_model_field_but_num_classes_is_configurable():
    """ModelConfig is generated from IMRNetConfig: a field added there appears here."""
    import dataclasses

    from imrkit.models import IMRNetConfig

    model_fields = {f.name for f in dataclasses.fields(IMRNetConfig)} - {"num_classes"}
    assert model_fields <= {f.name for f in dataclasses.fields(ModelConfig)}
    config = ModelConfig(name="imrnet_tiny", iframe_channels=4, dropout=0.2)
    assert config.imrnet_config().iframe_channels == 4
    assert config.imrnet_config().dropout == 0.2
