"""From a configuration to a network: the one place where config turns into modules.

In the way of pytorchvideo's ``create_*`` builders, :func:`create_imrnet` builds the parts
(the three pathways, the connections of every stage, the classifier) from an
:class:`IMRNetConfig` and passes them, already built, to :class:`IMRNet`, which never reads
a width or a kernel itself. :func:`build_model` names a preset (:mod:`.presets`) and
overrides what differs; :func:`load_model` rebuilds a saved network.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import nn

from imrkit.models.config import PATHWAYS, IMRNetConfig, PathwayConfig
from imrkit.models.connections import (
    StageFusion,
    create_connection,
    has_iframes_to_pframes,
    has_pframes_to_iframes,
)
from imrkit.models.imrnet import IMRNet
from imrkit.models.io import CheckpointError, read_config, read_state_dict
from imrkit.models.presets import model_config
from imrkit.models.resnet import create_pathway


def fused_dims(config: IMRNetConfig) -> dict[str, tuple[int, ...]]:
    """Channels Eq. 3 concatenates onto each pathway after each connection point."""
    mode = config.connections
    to_i = config.fusion.to_iframes_dims if has_pframes_to_iframes(mode) else ()
    to_p = config.fusion.to_pframes_dims if has_iframes_to_pframes(mode) else ()
    return {
        "iframes": tuple(2 * dim for dim in to_i),  # from M and from R
        "motion": tuple(to_p),
        "residual": tuple(to_p),
    }


def create_pathways(config: IMRNetConfig) -> dict[str, nn.ModuleList]:
    """f_I, f_M, f_R, each ``[conv1, res2, res3, res4, res5]``; f_M and f_R share
    ``config.pframes`` (the architecture, not the weights)."""
    fused = fused_dims(config)
    in_channels = {
        "iframes": config.iframe_channels,
        "motion": config.motion_channels,
        "residual": config.residual_channels,
    }
    pathways = {}
    for name in PATHWAYS:
        pathway: PathwayConfig = config.iframes if name == "iframes" else config.pframes
        sizes = {item.name: getattr(pathway, item.name) for item in dataclasses.fields(pathway)}
        pathways[name] = create_pathway(dim_in=in_channels[name], fused_dims=fused[name], **sizes)
    return pathways


def create_fusions(config: IMRNetConfig) -> nn.ModuleList:
    """One :class:`StageFusion` per connection point (after conv1, res2, res3, res4); none
    for ``connections="none"``."""
    fusions = nn.ModuleList()
    if config.connections == "none":
        return fusions
    stage_out = {
        "iframes": (config.iframes.stem_dim, *config.iframes.stage_dims),
        "pframes": (config.pframes.stem_dim, *config.pframes.stage_dims),
    }
    fusion = config.fusion
    for index, (to_i, to_p) in enumerate(
        zip(fusion.to_iframes_dims, fusion.to_pframes_dims, strict=True)
    ):
        kwargs = dict(
            mode=config.connections,
            dim_iframes=stage_out["iframes"][index],
            dim_pframes=stage_out["pframes"][index],
            dim_to_iframes=to_i,
            dim_to_pframes=to_p,
            ratio=config.pframes_per_gop,
            norm=fusion.norm,
            spatial_kernel=fusion.spatial_kernel,
            negative_slope=fusion.gate_negative_slope,
        )
        fusions.append(
            StageFusion(motion=create_connection(**kwargs), residual=create_connection(**kwargs))
        )
    return fusions


def init_weights(model: nn.Module) -> None:
    """He (fan-out) initialisation of the convolutions, unit/zero batch norms (ResNet's)."""
    for module in model.modules():
        if isinstance(module, (nn.Conv3d, nn.ConvTranspose3d)):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm3d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def create_imrnet(config: IMRNetConfig) -> IMRNet:
    """Build every part of an IMRNet from ``config``, assemble and initialise it."""
    # The parts are made in the order IMRNet registers them, so that a seed gives the same
    # weights as it always has.
    pathways = create_pathways(config)
    fusions = create_fusions(config)
    classifier = nn.Linear(config.embed_dim, config.num_classes) if config.num_classes else None
    model = IMRNet(
        config,
        **pathways,
        fusions=fusions,
        dropout=nn.Dropout(config.dropout),
        classifier=classifier,
    )
    init_weights(model)
    return model


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
    return create_imrnet(model_config(name, num_classes=num_classes, **overrides))


def load_model(directory: str | Path, *, device: str | torch.device = "cpu") -> IMRNet:
    """Rebuild the model saved by :meth:`IMRNet.save_pretrained` in ``directory``.

    Every weight must be present and fit (strict loading); the model is returned in eval mode.
    """
    model = create_imrnet(read_config(directory))
    state = read_state_dict(directory)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"{directory}: weights do not match config.json: {error}") from None
    return model.to(device).eval()
