"""``build_model(name, num_classes=None, **overrides)``: a preset, overridden, built."""

from __future__ import annotations

from typing import Any

from imrkit.config import deep_update, from_dict, to_dict
from imrkit.errors import ConfigError
from imrkit.models.config import IMRNetConfig
from imrkit.models.imrnet import IMRNet
from imrkit.models.presets import PRESETS


def model_config(name: str, **overrides: Any) -> IMRNetConfig:
    """The preset ``name`` with ``overrides`` applied (nested sections as dicts).

    Example: ``model_config("imrnet_r18", connections="none", fusion={"norm": False})``.
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown model {name!r}; known: {', '.join(PRESETS)}")
    values = to_dict(PRESETS[name]())
    overrides = {
        key: to_dict(value) if hasattr(value, "__dataclass_fields__") else value
        for key, value in overrides.items()
    }
    deep_update(values, overrides)
    return from_dict(IMRNetConfig, values)


def build_model(name: str, num_classes: int | None = None, **overrides: Any) -> IMRNet:
    """Build a named IMRNet.

    Args:
        name: ``imrnet_tiny``, ``imrnet_r18`` or ``imrnet_r50``.
        num_classes: add a classifier of this size (dropout first); None returns embeddings.
        **overrides: any :class:`IMRNetConfig` field, e.g. ``connections="unidirectional"``,
            ``dropout=0.2``, ``iframes={"depths": (1, 1, 1, 1)}``.

    Raises:
        ConfigError: unknown name or key, or a value of the wrong type.
    """
    return IMRNet(model_config(name, num_classes=num_classes, **overrides))
