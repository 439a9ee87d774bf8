"""IMRNet (Sec. 2.1, Table 4): three 3D-ResNet pathways with gated bidirectional connections.

Public API: :func:`build_model`, :func:`load_model`, :func:`load_backbone`,
:class:`IMRNetConfig`, :class:`IMRNet`; :func:`create_imrnet` builds from a full config.
Names are imported lazily (PEP 562) so that the
command line can read presets and modes without importing torch.
"""

from __future__ import annotations

from imrkit._lazy import lazy_exports

_EXPORTS = {
    "build_model": "imrkit.models.builder",
    "create_imrnet": "imrkit.models.builder",
    "load_model": "imrkit.models.builder",
    "model_config": "imrkit.models.presets",
    "CONNECTION_MODES": "imrkit.models.config",
    "FusionConfig": "imrkit.models.config",
    "FusionOverrides": "imrkit.models.config",
    "IMRNetConfig": "imrkit.models.config",
    "PathwayConfig": "imrkit.models.config",
    "PathwayOverrides": "imrkit.models.config",
    "IMRNet": "imrkit.models.imrnet",
    "InputShapeError": "imrkit.models.imrnet",
    "CheckpointError": "imrkit.models.io",
    "LoadReport": "imrkit.models.io",
    "load_backbone": "imrkit.models.io",
    "read_config": "imrkit.models.io",
    "save_pretrained": "imrkit.models.io",
    "PRESETS": "imrkit.models.presets",
    "format_stats": "imrkit.models.cost",
    "model_stats": "imrkit.models.cost",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
