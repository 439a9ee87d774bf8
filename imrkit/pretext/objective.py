"""The paper's final objective: L_PMSP + lambda L_CTP (Sec. 2.2, "Final Objective", lambda = 1).

Eq. 4 and Eq. 5 see different inputs: PMSP the clip as the data loader made it, CTP the
clip with transformed P streams. So the backbone runs twice per batch (once per task),
sharing its weights; each task has its own heads, dropped after pretraining.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from imrkit.pretext.base import PretextOutput, make_generator
from imrkit.pretext.ctp import create_ctp_head, ctp_step
from imrkit.pretext.pmsp import create_pmsp_heads, pmsp_step
from imrkit.transforms.pmsp_labels import SPATIAL_SCALES, TEMPORAL_SCALES


class PMSPCTP(nn.Module):
    """PMSP + lambda x CTP on one IMRNet.

    Args:
        backbone: the IMRNet.
        ctp_weight: lambda (paper: 1).
        hidden_dim: width of every head's hidden layer.
        binary: binary CTP (aligned vs random) instead of 4-way.
        ctp_pooling: the embedding CTP's head reads, ``"clip"`` or ``"gop"``
            (:func:`imrkit.pretext.ctp.ctp_embedding`).
        num_gops: GOPs per clip (CTP's head width with ``"gop"`` pooling).
        spatial_scales, temporal_scales: the PMSP pyramid.
        seed: seed of the CTP generator (None: torch's global RNG).
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        ctp_weight: float = 1.0,
        hidden_dim: int = 512,
        binary: bool = False,
        ctp_pooling: str = "gop",
        num_gops: int = 5,
        spatial_scales: Sequence[int] = SPATIAL_SCALES,
        temporal_scales: Sequence[int] = TEMPORAL_SCALES,
        seed: int | None = None,
    ):
        super().__init__()
        self.backbone = backbone
        self.ctp_weight = ctp_weight
        self.pmsp_heads = create_pmsp_heads(backbone, hidden_dim, spatial_scales, temporal_scales)
        self.num_types = 2 if binary else 4
        self.ctp_pooling = ctp_pooling
        self.ctp_head = create_ctp_head(backbone, hidden_dim, self.num_types, ctp_pooling, num_gops)
        self.generator = make_generator(seed)

    def forward(self, batch: dict[str, torch.Tensor]) -> PretextOutput:
        pmsp = pmsp_step(self.backbone, self.pmsp_heads, batch)
        ctp = ctp_step(
            self.backbone, self.ctp_head, batch, self.num_types, self.generator, self.ctp_pooling
        )
        loss = pmsp.loss + self.ctp_weight * ctp.loss
        return PretextOutput(loss, {**pmsp.metrics, **ctp.metrics, "loss": loss.detach()})
