"""Pretext tasks (Sec. 2.2, Appendix A) and the paper's baselines (Table 3), by name.

    pretext = build_pretext("pmsp+ctp", build_model("imrnet_r18"), ctp_weight=1.0)
    output = pretext(batch)      # batch: {"iframes", "motion", "residual"[, "pmsp"]} tensors
    output.loss.backward()       # output.metrics: {"loss": ..., "pmsp/acc_s2_t1": ..., ...}
    pretext.backbone             # the IMRNet; the heads are dropped after pretraining

=============  ==========================================================  ==================
name           task                                                        module
=============  ==========================================================  ==================
pmsp           pyramidal motion statistics prediction (Eq. 4)              pmsp.PMSP
ctp            4-way correspondence type prediction (Eq. 5)                ctp.CTP
ctp_binary     CTP, aligned vs random only                                 ctp.CTP
pmsp+ctp       L_PMSP + lambda L_CTP, the paper's objective                objective.PMSPCTP
rotation       3D rotation prediction (0/90/180/270, vectors rotated)      baselines
aot            arrow of time (forward vs reversed GOP order)               baselines
infonce        InfoNCE over two augmented views                            baselines
=============  ==========================================================  ==================

Every module takes the backbone and keyword options (``hidden_dim``, ``seed``, ...); the
transforms a task needs (CTP's, rotation, reversal, InfoNCE's views) happen inside
``forward`` on the batch's device. No module moves tensors to a device itself.

The PMSP labels (Algorithm 1) are :func:`pmsp_labels`, :func:`pmsp_magnitudes` and
:func:`pmsp_label_tensor` (:mod:`imrkit.transforms.pmsp_labels`). Names other than
:data:`PRETEXTS`, :func:`build_pretext` and :func:`pretext_options` are imported lazily
(PEP 562), so that reading the table of pretexts does not import torch.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from imrkit._lazy import lazy_exports
from imrkit.errors import ConfigError

# name -> (module, class, fixed options)
PRETEXTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "pmsp": ("imrkit.pretext.pmsp", "PMSP", {}),
    "ctp": ("imrkit.pretext.ctp", "CTP", {"binary": False}),
    "ctp_binary": ("imrkit.pretext.ctp", "CTP", {"binary": True}),
    "pmsp+ctp": ("imrkit.pretext.objective", "PMSPCTP", {}),
    "rotation": ("imrkit.pretext.baselines", "RotationPrediction", {}),
    "aot": ("imrkit.pretext.baselines", "ArrowOfTime", {}),
    "infonce": ("imrkit.pretext.baselines", "InfoNCE", {}),
}

_EXPORTS = {
    "PretextOutput": "imrkit.pretext.base",
    "metric_floats": "imrkit.pretext.base",
    "NUM_PMSP_LABELS": "imrkit.transforms.pmsp_labels",
    "PMSP_LEVELS": "imrkit.transforms.pmsp_labels",
    "SPATIAL_SCALES": "imrkit.transforms.pmsp_labels",
    "TEMPORAL_SCALES": "imrkit.transforms.pmsp_labels",
    "cell_edges": "imrkit.transforms.pmsp_labels",
    "level_slices": "imrkit.transforms.pmsp_labels",
    "pmsp_label_tensor": "imrkit.transforms.pmsp_labels",
    "pmsp_labels": "imrkit.transforms.pmsp_labels",
    "pmsp_levels": "imrkit.transforms.pmsp_labels",
    "pmsp_magnitudes": "imrkit.transforms.pmsp_labels",
    "split_label_tensor": "imrkit.transforms.pmsp_labels",
    "PMSP": "imrkit.pretext.pmsp",
    "PMSPHeads": "imrkit.pretext.pmsp",
    "CTP": "imrkit.pretext.ctp",
    "CORRESPONDENCE_TYPES": "imrkit.pretext.ctp",
    "apply_correspondence": "imrkit.pretext.ctp",
    "PMSPCTP": "imrkit.pretext.objective",
    "ArrowOfTime": "imrkit.pretext.baselines",
    "InfoNCE": "imrkit.pretext.baselines",
    "RotationPrediction": "imrkit.pretext.baselines",
}


def _pretext_class(name: str):
    if name not in PRETEXTS:
        raise ConfigError(f"pretext: unknown name {name!r}; choose one of {sorted(PRETEXTS)}")
    module, cls, fixed = PRETEXTS[name]
    return getattr(importlib.import_module(module), cls), fixed


def pretext_options(name: str) -> dict[str, Any]:
    """The keyword options a pretext accepts, with their defaults (for help and configs)."""
    cls, fixed = _pretext_class(name)
    parameters = list(inspect.signature(cls.__init__).parameters.values())[2:]
    return {p.name: p.default for p in parameters if p.name not in fixed}


def build_pretext(name: str, backbone, **config: Any):
    """Build a pretext task module around ``backbone`` (an IMRNet).

    Args:
        name: one of :data:`PRETEXTS` (pmsp, ctp, ctp_binary, pmsp+ctp, rotation, aot, infonce).
        backbone: the network to pretrain; available afterwards as ``pretext.backbone``.
        **config: the task's options (see :func:`pretext_options`); unknown keys raise.

    Returns:
        An ``nn.Module`` whose ``forward(batch)`` returns a :class:`PretextOutput`.
    """
    cls, fixed = _pretext_class(name)
    allowed = pretext_options(name)
    unknown = sorted(set(config) - set(allowed))
    if unknown:
        raise ConfigError(f"pretext {name!r}: unknown option(s) {unknown}; options: {allowed}")
    return cls(backbone, **fixed, **config)


__getattr__, __dir__, __all__ = lazy_exports(
    __name__, _EXPORTS, ("PRETEXTS", "build_pretext", "pretext_options")
)
