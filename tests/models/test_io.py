"""save_pretrained / load_model / load_backbone: safetensors + JSON, never pickles."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from safetensors.torch import save_file

import imrkit
from imrkit.models import CheckpointError, build_model, load_backbone, load_model


def clip():
    generator = torch.Generator().manual_seed(0)
    return (
        torch.randn(2, 3, 2, 32, 32, generator=generator),
        torch.randn(2, 2, 10, 32, 32, generator=generator),
        torch.randn(2, 3, 10, 32, 32, generator=generator),
    )


def test_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    model = build_model("imrnet_tiny", num_classes=5, connections="unidirectional", dropout=0.2)
    model.train()
    model(*clip())  # move the BatchNorm running statistics away from their initial values
    model.eval()
    model.save_pretrained(tmp_path / "saved")
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["config"]["connections"] == "unidirectional"

    loaded = imrkit.load_model(tmp_path / "saved")
    assert loaded.config == model.config
    assert not loaded.training
    with torch.no_grad():
        torch.testing.assert_close(loaded(*clip()), model(*clip()), rtol=0, atol=0)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_load_model_errors_name_the_path(tmp_path):
    with pytest.raises(CheckpointError, match="config.json"):
        load_model(tmp_path)
    build_model("imrnet_tiny").save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_model(tmp_path)


def test_load_backbone_reports_keys(tmp_path, caplog):
    torch.manual_seed(0)
    pretrained = build_model("imrnet_tiny")
    # A pretext wrapper's state dict: the network under "backbone.", heads beside it.
    state = {f"backbone.{k}": v for k, v in pretrained.state_dict().items()}
    state["heads.pmsp.0.weight"] = torch.zeros(3, 80)
    state["backbone.extra.weight"] = torch.zeros(1)
    save_file(state, str(tmp_path / "pretext.safetensors"))

    torch.manual_seed(1)
    classifier = build_model("imrnet_tiny", num_classes=4)
    with caplog.at_level(logging.INFO, logger="imrkit.models.io"):
        report = load_backbone(classifier, tmp_path / "pretext.safetensors")
    assert report.missing_keys == ["classifier.bias", "classifier.weight"]
    assert report.unexpected_keys == ["extra.weight"]
    assert report.dropped_keys == ["heads.pmsp.0.weight"]
    assert report.mismatched_keys == []
    assert len(report.loaded) == len(pretrained.state_dict())
    for key, value in pretrained.state_dict().items():
        assert torch.equal(classifier.state_dict()[key], value), key
    assert "classifier.weight" in caplog.text and "extra.weight" in caplog.text


def test_load_backbone_from_a_saved_classifier_skips_its_head(tmp_path):
    source = build_model("imrnet_tiny", num_classes=10)
    source.save_pretrained(tmp_path)
    target = build_model("imrnet_tiny", num_classes=3)
    report = load_backbone(target, tmp_path)
    assert report.dropped_keys == ["classifier.bias", "classifier.weight"]
    assert report.missing_keys == ["classifier.bias", "classifier.weight"]
    # Asking for the classifier too: the shapes disagree, so it is reported, not loaded.
    report = load_backbone(target, tmp_path, include_classifier=True)
    assert report.mismatched_keys == ["classifier.bias", "classifier.weight"]


def test_load_backbone_across_connection_modes_reports_mismatch():
    # A `none` backbone has no connection weights and narrower stage inputs.
    source = build_model("imrnet_tiny", connections="none")
    target = build_model("imrnet_tiny")
    report = load_backbone(target, source.state_dict())
    assert any(key.startswith("fusions.") for key in report.missing_keys)
    assert "iframes.1.0.conv_a.0.weight" in report.mismatched_keys
    assert report.unexpected_keys == []
