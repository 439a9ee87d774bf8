"""IMRNet (Sec. 2.1, Table 4): three 3D-ResNet pathways with gated bidirectional connections.

Public API: :func:`build_model`, :func:`load_model`, :func:`load_backbone`,
:class:`IMRNetConfig`, :class:`IMRNet`. Names are imported lazily (PEP 562) so that the
command line can read presets and modes without importing torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "build_model": "imrkit.models.builder",
    "model_config": "imrkit.models.builder",
    "CONNECTION_MODES": "imrkit.models.config",
    "FusionConfig": "imrkit.models.config",
    "IMRNetConfig": "imrkit.models.config",
    "PathwayConfig": "imrkit.models.config",
    "IMRNet": "imrkit.models.imrnet",
    "InputShapeError": "imrkit.models.imrnet",
    "CheckpointError": "imrkit.models.io",
    "LoadReport": "imrkit.models.io",
    "load_backbone": "imrkit.models.io",
    "load_model": "imrkit.models.io",
    "save_pretrained": "imrkit.models.io",
    "PRESETS": "imrkit.models.presets",
    "model_stats": "imrkit.models.stats",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'imrkit.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
