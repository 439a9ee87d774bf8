"""Saving and loading IMRNets: safetensors weights plus a JSON config, never pickles.

A saved model is a folder holding ``model.safetensors`` (the state dict) and ``config.json``
(``{"architecture": "IMRNet", "config": <IMRNetConfig as a dict>, "imrkit_version": ...}``).
:func:`load_backbone` moves pretrained weights into a model of another head, e.g. a
pretext-pretrained backbone into a classifier, and reports what did not fit. Rebuilding a
saved network is :func:`imrkit.models.builder.load_model` (this module builds nothing, so
that :mod:`.imrnet` can use it without an import cycle).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from imrkit.config import from_dict, to_dict
from imrkit.errors import ConfigError, ImrkitError
from imrkit.models.config import IMRNetConfig

logger = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
ARCHITECTURE = "IMRNet"
# Pretext wrappers (imrkit.pretext) keep the network as `.backbone` next to their heads.
BACKBONE_PREFIX = "backbone."


class CheckpointError(ImrkitError, ValueError):
    """A saved model folder or weights file is missing or unreadable."""


def save_pretrained(model: nn.Module, directory: str | Path) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into ``directory`` (created).

    ``model`` is an IMRNet (or anything with its ``config``: an :class:`IMRNetConfig`).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    from imrkit import __version__

    # safetensors refuses non-contiguous tensors; detach + cpu also copes with CUDA models.
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_NAME), metadata={"format": "pt"})
    meta = {
        "architecture": ARCHITECTURE,
        "config": to_dict(model.config),
        "imrkit_version": __version__,
    }
    (directory / CONFIG_NAME).write_text(json.dumps(meta, indent=2) + "\n")
    return directory


def _weights_path(source: str | Path) -> Path:
    source = Path(source)
    path = source / WEIGHTS_NAME if source.is_dir() else source
    if not path.is_file():
        raise CheckpointError(
            f"{path}: no weights file (expected a folder written by save_pretrained, "
            f"holding {WEIGHTS_NAME}, or a .safetensors file)"
        )
    return path


def read_state_dict(source: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a ``.safetensors`` file or a saved model folder, on the CPU."""
    path = _weights_path(source)
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: cannot read safetensors weights: {error}") from None


def read_config(directory: str | Path) -> IMRNetConfig:
    """The :class:`IMRNetConfig` saved in ``directory/config.json``."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{path}: not found (is {directory} a save_pretrained folder?)")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}: not valid JSON: {error}") from None
    if meta.get("architecture") != ARCHITECTURE or "config" not in meta:
        raise CheckpointError(f"{path}: not an {ARCHITECTURE} config")
    try:
        return from_dict(IMRNetConfig, meta["config"])
    except ConfigError as error:
        raise CheckpointError(f"{path}: {error}") from None


@dataclass
class LoadReport:
    """What :func:`load_backbone` did.

    Attributes:
        loaded: keys copied into the model.
        missing_keys: model keys the checkpoint did not provide (kept as initialised), e.g.
            a new classifier.
        unexpected_keys: checkpoint keys the model has no place for.
        mismatched_keys: keys present on both sides with different shapes (not loaded), e.g.
            a classifier of another number of classes.
        dropped_keys: pretext-head keys (outside ``backbone.``) left out on purpose.
    """

    loaded: list[str] = field(default_factory=list)
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)
    mismatched_keys: list[str] = field(default_factory=list)
    dropped_keys: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"loaded {len(self.loaded)} tensors; missing {len(self.missing_keys)}, "
            f"unexpected {len(self.unexpected_keys)}, shape-mismatched "
            f"{len(self.mismatched_keys)}, dropped pretext keys {len(self.dropped_keys)}"
        )


def strip_backbone_prefix(state: dict[str, torch.Tensor]) -> tuple[dict, list[str]]:
    """Keep a pretext wrapper's ``backbone.*`` tensors, unprefixed; return the rest's keys.

    A state dict without any ``backbone.`` key is returned unchanged.
    """
    if not any(key.startswith(BACKBONE_PREFIX) for key in state):
        return state, []
    kept = {
        key[len(BACKBONE_PREFIX) :]: value
        for key, value in state.items()
        if key.startswith(BACKBONE_PREFIX)
    }
    dropped = sorted(key for key in state if not key.startswith(BACKBONE_PREFIX))
    return kept, dropped


def load_backbone(
    model: nn.Module, source: str | Path | dict[str, torch.Tensor], *, include_classifier=False
) -> LoadReport:
    """Copy pretrained weights into ``model`` wherever names and shapes agree.

    Args:
        model: the network to fill in place (e.g. a fresh classifier).
        source: a save_pretrained folder, a ``.safetensors`` file, or a state dict. Keys
            prefixed ``backbone.`` (pretext wrappers) are unprefixed and everything else
            (pretext heads) dropped.
        include_classifier: also copy ``classifier.*`` when shapes agree (off by default:
            a backbone is pretrained for another task).

    Returns:
        A :class:`LoadReport`; it is also logged.
    """
    state = source if isinstance(source, dict) else read_state_dict(source)
    state, dropped = strip_backbone_prefix(state)
    if not include_classifier:
        dropped += sorted(key for key in state if key.startswith("classifier."))
        state = {key: value for key, value in state.items() if not key.startswith("classifier.")}

    own = model.state_dict()
    report = LoadReport(dropped_keys=dropped)
    fitting = {}
    for key, value in state.items():
        if key not in own:
            report.unexpected_keys.append(key)
        elif own[key].shape != value.shape:
            report.mismatched_keys.append(key)
        else:
            fitting[key] = value
    report.loaded = sorted(fitting)
    report.missing_keys = sorted(key for key in own if key not in state)
    report.unexpected_keys.sort()
    report.mismatched_keys.sort()
    model.load_state_dict(fitting, strict=False)
    logger.info("load_backbone from %s: %s", _describe(source), report)
    for label, keys in (
        ("missing", report.missing_keys),
        ("unexpected", report.unexpected_keys),
        ("shape-mismatched", report.mismatched_keys),
    ):
        if keys:
            logger.info("  %s keys: %s", label, ", ".join(keys))
    return report


def _describe(source) -> str:
    return "a state dict" if isinstance(source, dict) else str(source)
