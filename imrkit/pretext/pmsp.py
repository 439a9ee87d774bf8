"""Pyramidal motion statistics prediction (PMSP, Sec. 2.2, Eq. 4): heads and loss.

The labels (Algorithm 1, Appendix A) live in :mod:`imrkit.transforms.pmsp_labels`
(:func:`~imrkit.transforms.pmsp_labels.pmsp_labels`, ``pmsp_magnitudes``, ``pmsp_label_tensor``).

For each level r = (s, t) a 2-layer MLP reads the backbone's final feature maps pooled over
window q's time span and into an s x s grid, and predicts the window's most vibrant cell;
the loss sums the cross-entropies over q and r.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from imrkit.errors import ShapeError
from imrkit.pretext.base import PretextOutput, accuracy, mlp_head, streams
from imrkit.transforms.pmsp_labels import (
    SPATIAL_SCALES,
    TEMPORAL_SCALES,
    pmsp_labels,
    pmsp_levels,
    split_label_tensor,
)

# --------------------------------------------------------------------------- heads and loss


def pool_window_features(
    features: dict[str, torch.Tensor], num_gops: int, levels: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], torch.Tensor]:
    """Feature x_{q,r} of every window q of every level r = (s, t) (SPEC Sec. 3, "Heads").

    Each pathway's final map is averaged over the window's time span, GOPs [n, n + T - t]
    (I: frames [n, n + T - t]; M/R: frames [5n, 5(n + T - t + 1))), and into an s x s grid
    by adaptive average pooling; the pathways are concatenated and flattened. Computed as
    GOP means, then one spatial pooling per s, then window means over GOPs: the same averages
    (every GOP has as many frames), with 3 pooling calls instead of 54.

    The final map is small (H/32: 7 x 7 at 224, 4 x 4 at 112, 2 x 2 at 64). Adaptive pooling
    of a map smaller than s x s repeats its cells (2 x 2 -> 3 x 3 shares the middle row and
    column): the head still sees every cell, only less sharply, which is acceptable for the
    tiny test inputs.

    Args:
        features: ``forward_features`` output: {"iframes": B x C_I x T x h x w,
            "motion"/"residual": B x C x 5T x h x w}.
        num_gops: T.
        levels: the (s, t) to pool for.

    Returns:
        {(s, t): ``B x t x (C x s x s)``} with C = C_I + C_M + C_R (channel-major flattening).
    """
    per_gop = []
    for name in ("iframes", "motion", "residual"):
        feature = features[name]  # B x C x F x h x w, F = T x frames per GOP
        batch, channels, frames, height, width = feature.shape
        gops = feature.reshape(batch, channels, num_gops, frames // num_gops, height, width)
        per_gop.append(gops.mean(dim=3))
    per_gop = torch.cat(per_gop, dim=1)  # B x C x T x h x w
    grids = {
        s: F.adaptive_avg_pool3d(per_gop, (num_gops, s, s)) for s in sorted({s for s, _ in levels})
    }
    pooled = {}
    for s, t in levels:
        span = num_gops - t + 1  # GOPs per window; window n = GOPs [n, n + span)
        windows = grids[s].unfold(2, span, 1).mean(dim=-1)  # B x C x t x s x s
        pooled[(s, t)] = windows.transpose(1, 2).flatten(2)  # B x t x (C s s)
    return pooled


class PMSPHeads(nn.Module):
    """One 2-layer MLP per level r = (s, t): ``C x s^2 -> hidden -> s^2`` logits (Eq. 4)."""

    def __init__(
        self,
        feature_dim: int,
        *,
        hidden_dim: int = 512,
        spatial_scales: Sequence[int] = SPATIAL_SCALES,
        temporal_scales: Sequence[int] = TEMPORAL_SCALES,
    ):
        super().__init__()
        self.levels = pmsp_levels(spatial_scales, temporal_scales)
        self.heads = nn.ModuleDict(
            {f"s{s}_t{t}": mlp_head(feature_dim * s * s, hidden_dim, s * s) for s, t in self.levels}
        )

    @property
    def num_labels(self) -> int:
        return sum(t for _, t in self.levels)

    def forward(
        self, features: dict[str, torch.Tensor], num_gops: int
    ) -> dict[tuple[int, int], torch.Tensor]:
        """{(s, t): B x t x s^2 logits}."""
        pooled = pool_window_features(features, num_gops, self.levels)
        return {(s, t): self.heads[f"s{s}_t{t}"](pooled[(s, t)]) for s, t in self.levels}

    def loss(
        self, logits: dict[tuple[int, int], torch.Tensor], labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Eq. 4: cross-entropy summed over windows q and levels r, averaged over the batch.

        The metrics (per-level and mean accuracy, the loss) are detached tensors.

        Args:
            logits: from :meth:`forward`.
            labels: ``B x num_labels`` in
                :func:`~imrkit.transforms.pmsp_labels.pmsp_label_tensor` order.
        """
        targets = split_label_tensor(labels, self.levels)
        total, metrics = 0.0, {}
        for (s, t), level_logits in logits.items():
            level_targets = targets[(s, t)]
            # mean over B x t, times t: a sum over the t windows of the batch mean.
            level_loss = F.cross_entropy(level_logits.flatten(0, 1), level_targets.flatten()) * t
            total = total + level_loss
            metrics[f"pmsp/acc_s{s}_t{t}"] = accuracy(level_logits, level_targets)
        metrics["pmsp/acc"] = torch.stack(list(metrics.values())).mean()
        metrics["pmsp/loss"] = total.detach()
        return total, metrics


def batch_pmsp_labels(batch: dict[str, torch.Tensor], heads: PMSPHeads) -> torch.Tensor:
    """The batch's ``"pmsp"`` labels (B x 27), computed from its motion if absent."""
    _, motion, _ = streams(batch)
    labels = batch.get("pmsp")
    if labels is not None:
        if labels.shape != (motion.shape[0], heads.num_labels):
            raise ShapeError(
                f"batch['pmsp']: expected B x {heads.num_labels} labels, got {tuple(labels.shape)}"
            )
        return labels.to(motion.device, torch.long)
    num_gops = batch["iframes"].shape[2]
    spatial = sorted({s for s, _ in heads.levels})
    temporal = sorted({t for _, t in heads.levels})
    with torch.no_grad():
        per_level = pmsp_labels(
            motion.detach(),
            num_gops,
            layout="model",
            spatial_scales=spatial,
            temporal_scales=temporal,
        )
    return torch.cat([per_level[level] for level in heads.levels], dim=-1)


def pmsp_step(backbone: nn.Module, heads: PMSPHeads, batch: dict) -> PretextOutput:
    """One PMSP forward: features of the batch as given, labels, Eq. 4 loss."""
    iframes, motion, residual = streams(batch)
    labels = batch_pmsp_labels(batch, heads)
    features = backbone.forward_features(iframes, motion, residual)
    loss, metrics = heads.loss(heads(features, iframes.shape[2]), labels)
    return PretextOutput(loss, metrics)


def create_pmsp_heads(
    backbone: nn.Module,
    hidden_dim: int,
    spatial_scales: Sequence[int] = SPATIAL_SCALES,
    temporal_scales: Sequence[int] = TEMPORAL_SCALES,
) -> PMSPHeads:
    """The PMSP heads over ``backbone``'s concatenated final features (used by every
    pretext that predicts PMSP labels)."""
    return PMSPHeads(
        sum(backbone.feature_dims.values()),
        hidden_dim=hidden_dim,
        spatial_scales=spatial_scales,
        temporal_scales=temporal_scales,
    )


class PMSP(nn.Module):
    """Pyramidal motion statistics prediction on an IMRNet (Sec. 2.2, Eq. 4).

    ``forward(batch)`` reads ``batch["pmsp"]`` (B x 27, from a dataset using
    :func:`~imrkit.transforms.pmsp_labels.pmsp_label_tensor` after augmentation) or computes
    the labels from
    ``batch["motion"]`` on its device.

    Args:
        backbone: the IMRNet (``forward_features``, ``feature_dims``).
        hidden_dim: width of each level's 2-layer MLP.
        spatial_scales, temporal_scales: the pyramid (default 2, 3, 4 and 1, 3, 5).
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        hidden_dim: int = 512,
        spatial_scales: Sequence[int] = SPATIAL_SCALES,
        temporal_scales: Sequence[int] = TEMPORAL_SCALES,
    ):
        super().__init__()
        self.backbone = backbone
        self.pmsp_heads = create_pmsp_heads(backbone, hidden_dim, spatial_scales, temporal_scales)

    def forward(self, batch: dict[str, torch.Tensor]) -> PretextOutput:
        output = pmsp_step(self.backbone, self.pmsp_heads, batch)
        output.metrics["loss"] = output.metrics["pmsp/loss"]
        return output
