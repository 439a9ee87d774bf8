"""Named IMRNet configurations: ``imrnet_tiny``, ``imrnet_r18``, ``imrnet_r50``.

The one home of their values; :func:`model_config` applies changes to one of them.

R18 and R50 follow Table 4 as SPEC section 2 reads it; ``imrnet_tiny`` keeps the same
structure (three pathways, every connection) at widths small enough for CPU demos and tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from imrkit.config import deep_update, from_dict, to_dict
from imrkit.errors import ConfigError
from imrkit.models.config import FusionConfig, IMRNetConfig, PathwayConfig

# Table 4, R18/R50 M/R stem: 5x7^2, 8 channels, spatial stride 2 (time not strided).
_PFRAMES_STEM = dict(stem_dim=8, stem_kernel=(5, 7, 7), temporal_kernels=(3, 3, 3, 3))


def imrnet_r18() -> IMRNetConfig:
    """3D-ResNet-18 pathways: I 64/128/256/512, M/R 4/8/16/32, two basic blocks per stage."""
    return IMRNetConfig(
        iframes=PathwayConfig(
            block="basic",
            stem_dim=64,
            stem_kernel=(1, 7, 7),
            stage_dims=(64, 128, 256, 512),
            inner_dims=(64, 128, 256, 512),
            depths=(2, 2, 2, 2),
            temporal_kernels=(1, 1, 3, 3),
        ),
        pframes=PathwayConfig(
            block="basic",
            stage_dims=(4, 8, 16, 32),
            inner_dims=(4, 8, 16, 32),
            depths=(2, 2, 2, 2),
            **_PFRAMES_STEM,
        ),
        fusion=FusionConfig(to_iframes_dims=(4, 4, 8, 16), to_pframes_dims=(8, 8, 16, 32)),
    )


def imrnet_r50() -> IMRNetConfig:
    """3D-ResNet-50 pathways: bottlenecks, blocks 3/4/6/3, I 256..2048, M/R 16..128 wide."""
    return IMRNetConfig(
        iframes=PathwayConfig(
            block="bottleneck",
            stem_dim=64,
            stem_kernel=(1, 7, 7),
            stage_dims=(256, 512, 1024, 2048),
            inner_dims=(64, 128, 256, 512),
            depths=(3, 4, 6, 3),
            temporal_kernels=(1, 1, 3, 3),
        ),
        pframes=PathwayConfig(
            block="bottleneck",
            stage_dims=(16, 32, 64, 128),
            inner_dims=(4, 8, 16, 32),
            depths=(3, 4, 6, 3),
            **_PFRAMES_STEM,
        ),
        # Table 4 gives one row of connection widths for both backbones.
        fusion=FusionConfig(to_iframes_dims=(4, 4, 8, 16), to_pframes_dims=(8, 8, 16, 32)),
    )


def imrnet_tiny() -> IMRNetConfig:
    """A CPU-sized IMRNet for demos and tests: I 8/16/32/64, M/R 4/4/8/8, one block per stage."""
    return IMRNetConfig(
        iframes=PathwayConfig(
            block="basic",
            stem_dim=8,
            stem_kernel=(1, 7, 7),
            stage_dims=(8, 16, 32, 64),
            inner_dims=(8, 16, 32, 64),
            depths=(1, 1, 1, 1),
            temporal_kernels=(1, 1, 3, 3),
        ),
        pframes=PathwayConfig(
            block="basic",
            stem_dim=4,
            stem_kernel=(5, 7, 7),
            stage_dims=(4, 4, 8, 8),
            inner_dims=(4, 4, 8, 8),
            depths=(1, 1, 1, 1),
            temporal_kernels=(3, 3, 3, 3),
        ),
        fusion=FusionConfig(to_iframes_dims=(2, 2, 4, 4), to_pframes_dims=(2, 2, 4, 4)),
    )


PRESETS: dict[str, Callable[[], IMRNetConfig]] = {
    "imrnet_tiny": imrnet_tiny,
    "imrnet_r18": imrnet_r18,
    "imrnet_r50": imrnet_r50,
}


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
