"""IMRNet: three 3D-ResNet pathways joined by bidirectional dynamic connections (Sec. 2.1).

The typed configs live in :mod:`imrkit.models.config` (every width, depth and kernel), the
presets in :mod:`imrkit.models.presets`, the blocks in :mod:`imrkit.models.resnet` and
:mod:`imrkit.models.connections`; this file assembles them.

Input layout (float32, normalised by :mod:`imrkit.transforms`):

* ``iframes``  B x 3 x T x H x W   (one I-frame per GOP; T = number of GOPs)
* ``motion``   B x 2 x 5T x H x W  (5 P-frames per GOP, (x, y) displacement in pixels)
* ``residual`` B x 3 x 5T x H x W

H and W must be multiples of 32 (the pathways stride space by 32); time is never strided.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn

from imrkit.errors import ShapeError
from imrkit.models.config import PATHWAYS, IMRNetConfig, PathwayConfig
from imrkit.models.connections import (
    StageFusion,
    create_connection,
    has_iframes_to_pframes,
    has_pframes_to_iframes,
)
from imrkit.models.resnet import create_pathway


class InputShapeError(ShapeError):
    """The tensors given to IMRNet do not have the layout it needs."""


def _fused_dims(config: IMRNetConfig) -> dict[str, tuple[int, ...]]:
    """Channels Eq. 3 concatenates onto each pathway after each connection point."""
    mode = config.connections
    to_i = config.fusion.to_iframes_dims if has_pframes_to_iframes(mode) else ()
    to_p = config.fusion.to_pframes_dims if has_iframes_to_pframes(mode) else ()
    return {
        "iframes": tuple(2 * dim for dim in to_i),  # from M and from R
        "motion": tuple(to_p),
        "residual": tuple(to_p),
    }


def _pathway_kwargs(pathway: PathwayConfig) -> dict:
    return {field.name: getattr(pathway, field.name) for field in dataclasses.fields(pathway)}


class IMRNet(nn.Module):
    """The IMR network (Sec. 2.1, Table 4): f_I, f_M, f_R plus gated connections.

    Call it as ``model(iframes, motion, residual)`` (layouts in the module docstring):
    it returns logits (B x num_classes) when ``config.num_classes`` is set, else the
    embedding (B x embed_dim).
    """

    def __init__(self, config: IMRNetConfig):
        super().__init__()
        self.config = config
        fused = _fused_dims(config)
        in_channels = {
            "iframes": config.iframe_channels,
            "motion": config.motion_channels,
            "residual": config.residual_channels,
        }
        for name in PATHWAYS:
            pathway = config.iframes if name == "iframes" else config.pframes
            modules = create_pathway(
                dim_in=in_channels[name], fused_dims=fused[name], **_pathway_kwargs(pathway)
            )
            self.add_module(name, modules)  # [conv1, res2, res3, res4, res5]

        self.fusions = nn.ModuleList()
        if config.connections != "none":
            stage_out = {
                key: (pathway.stem_dim, *pathway.stage_dims)
                for key, pathway in (("iframes", config.iframes), ("pframes", config.pframes))
            }
            for index, (to_i, to_p) in enumerate(
                zip(config.fusion.to_iframes_dims, config.fusion.to_pframes_dims, strict=True)
            ):
                kwargs = dict(
                    mode=config.connections,
                    dim_iframes=stage_out["iframes"][index],
                    dim_pframes=stage_out["pframes"][index],
                    dim_to_iframes=to_i,
                    dim_to_pframes=to_p,
                    ratio=config.pframes_per_gop,
                    norm=config.fusion.norm,
                    spatial_kernel=config.fusion.spatial_kernel,
                    negative_slope=config.fusion.gate_negative_slope,
                )
                self.fusions.append(
                    StageFusion(
                        motion=create_connection(**kwargs), residual=create_connection(**kwargs)
                    )
                )

        self.dropout = nn.Dropout(config.dropout)
        self.classifier = (
            nn.Linear(self.embed_dim, config.num_classes) if config.num_classes else None
        )
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Conv3d, nn.ConvTranspose3d)):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    @property
    def feature_dims(self) -> dict[str, int]:
        """Channels of each pathway's final (res5) feature map."""
        pframes = self.config.pframes.stage_dims[-1]
        return {
            "iframes": self.config.iframes.stage_dims[-1],
            "motion": pframes,
            "residual": pframes,
        }

    @property
    def embed_dim(self) -> int:
        """Size of :meth:`embed` (576 for R18, 2304 for R50)."""
        return sum(self.feature_dims.values())

    def check_inputs(
        self, iframes: torch.Tensor, motion: torch.Tensor, residual: torch.Tensor
    ) -> None:
        """Raise :class:`InputShapeError` naming the tensor and what is wrong with it."""
        config = self.config
        expected = {
            "iframes": config.iframe_channels,
            "motion": config.motion_channels,
            "residual": config.residual_channels,
        }
        tensors = {"iframes": iframes, "motion": motion, "residual": residual}
        for name, tensor in tensors.items():
            if not isinstance(tensor, torch.Tensor) or tensor.dim() != 5:
                shape = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor)
                raise InputShapeError(
                    f"{name}: expected a 5-D tensor B x C x T x H x W, got {shape}"
                )
            if not tensor.is_floating_point():
                raise InputShapeError(
                    f"{name}: expected a floating-point tensor (normalised by imrkit.transforms), "
                    f"got {tensor.dtype}"
                )
            if tensor.shape[1] != expected[name]:
                raise InputShapeError(
                    f"{name}: expected {expected[name]} channels (B x C x T x H x W), "
                    f"got shape {tuple(tensor.shape)}"
                )
        batch, _, num_gops, height, width = iframes.shape
        stride = config.spatial_stride
        if num_gops < 1 or height % stride or width % stride or height == 0 or width == 0:
            raise InputShapeError(
                f"iframes: need T >= 1 and H, W positive multiples of {stride}, "
                f"got shape {tuple(iframes.shape)}"
            )
        num_pframes = config.pframes_per_gop * num_gops
        for name in ("motion", "residual"):
            shape = tuple(tensors[name].shape)
            if shape[0] != batch or shape[2:] != (num_pframes, height, width):
                raise InputShapeError(
                    f"{name}: expected B x C x {config.pframes_per_gop}T x H x W = "
                    f"{(batch, expected[name], num_pframes, height, width)} to match iframes "
                    f"{tuple(iframes.shape)}, got {shape}"
                )

    def forward_features(
        self, iframes: torch.Tensor, motion: torch.Tensor, residual: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Each pathway's final feature map.

        Returns:
            ``{"iframes": B x C_I x T x h x w, "motion": B x C_M x 5T x h x w,
            "residual": B x C_R x 5T x h x w}`` with h, w = H/32, W/32.
        """
        self.check_inputs(iframes, motion, residual)
        for index in range(len(self.iframes)):
            iframes = self.iframes[index](iframes)
            motion = self.motion[index](motion)
            residual = self.residual[index](residual)
            if index < len(self.fusions):
                iframes, motion, residual = self.fusions[index](iframes, motion, residual)
        return {"iframes": iframes, "motion": motion, "residual": residual}

    def embed(
        self, iframes: torch.Tensor, motion: torch.Tensor, residual: torch.Tensor
    ) -> torch.Tensor:
        """Global average pool of each pathway's final map, concatenated: B x embed_dim."""
        features = self.forward_features(iframes, motion, residual)
        return torch.cat([features[name].mean(dim=(2, 3, 4)) for name in PATHWAYS], dim=1)

    def forward(
        self, iframes: torch.Tensor, motion: torch.Tensor, residual: torch.Tensor
    ) -> torch.Tensor:
        """Logits B x num_classes, or the embedding B x embed_dim without a classifier."""
        embedding = self.embed(iframes, motion, residual)
        if self.classifier is None:
            return embedding
        return self.classifier(self.dropout(embedding))

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``model.safetensors`` and ``config.json`` to ``directory``; return it."""
        from imrkit.models.io import save_pretrained

        return save_pretrained(self, directory)
