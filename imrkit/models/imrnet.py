"""IMRNet: three 3D-ResNet pathways joined by bidirectional dynamic connections (Sec. 2.1).

The typed configs live in :mod:`imrkit.models.config` (every width, depth and kernel), the
presets in :mod:`imrkit.models.presets`, the blocks in :mod:`imrkit.models.resnet` and
:mod:`imrkit.models.connections`; :mod:`imrkit.models.builder` builds them from a config and
hands them to :class:`IMRNet`, which only runs them.

Input layout (float32, normalised by :mod:`imrkit.transforms`):

* ``iframes``  B x 3 x T x H x W   (one I-frame per GOP; T = number of GOPs)
* ``motion``   B x 2 x 5T x H x W  (5 P-frames per GOP, (x, y) displacement in pixels)
* ``residual`` B x 3 x 5T x H x W

H and W must be multiples of 32 (the pathways stride space by 32); time is never strided.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from imrkit.errors import ShapeError
from imrkit.models.config import PATHWAYS, IMRNetConfig
from imrkit.models.io import save_pretrained


class InputShapeError(ShapeError):
    """The tensors given to IMRNet do not have the layout it needs."""


class IMRNet(nn.Module):
    """The IMR network (Sec. 2.1, Table 4): f_I, f_M, f_R plus gated connections.

    Call it as ``model(iframes, motion, residual)`` (layouts in the module docstring):
    it returns logits (B x num_classes) when it has a classifier, else the embedding
    (B x embed_dim). Build one with :func:`imrkit.models.build_model`.

    Args:
        config: what the parts were built from (kept for saving and input checks).
        iframes, motion, residual: each pathway's ``[conv1, res2, res3, res4, res5]``.
        fusions: the :class:`~imrkit.models.connections.StageFusion` following conv1, res2,
            ... in order (empty for late fusion).
        dropout: applied to the embedding before the classifier.
        classifier: ``embed_dim -> num_classes``, or None to return the embedding.
    """

    def __init__(
        self,
        config: IMRNetConfig,
        *,
        iframes: nn.ModuleList,
        motion: nn.ModuleList,
        residual: nn.ModuleList,
        fusions: nn.ModuleList,
        dropout: nn.Module,
        classifier: nn.Module | None,
    ):
        super().__init__()
        if not len(iframes) == len(motion) == len(residual) > len(fusions):
            raise ValueError(
                f"pathways of {len(iframes)}, {len(motion)}, {len(residual)} stages and "
                f"{len(fusions)} fusions: the pathways must agree and outnumber the fusions"
            )
        self.config = config
        # Registered in this order (state-dict keys iframes.*, motion.*, residual.*,
        # fusions.*, classifier.*), as saved models expect.
        self.iframes = iframes
        self.motion = motion
        self.residual = residual
        self.fusions = fusions
        self.dropout = dropout
        self.classifier = classifier

    @property
    def feature_dims(self) -> dict[str, int]:
        """Channels of each pathway's final (res5) feature map."""
        return self.config.feature_dims

    @property
    def embed_dim(self) -> int:
        """Size of :meth:`embed` (576 for R18, 2304 for R50)."""
        return self.config.embed_dim

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
        return save_pretrained(self, directory)
