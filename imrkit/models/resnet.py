"""3D-ResNet building blocks for IMRNet's three pathways (Table 4).

Read bottom-up: the residual blocks, the stage that stacks them, the stem, then the
``create_*`` builders that assemble them from keyword arguments. Modules take already built
submodules (pytorchvideo style) and never see a config object; the builder in
:mod:`imrkit.models.imrnet` turns the config into keyword arguments in one place.

Time is never strided: a pathway keeps its T (I-frames) or 5T (P-frames) frames from input to
output, so temporal kernels are padded to "same" size. Kernel sizes are (T, H, W).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def _conv_bn(
    dim_in: int,
    dim_out: int,
    kernel: tuple[int, int, int],
    stride: tuple[int, int, int] = (1, 1, 1),
) -> nn.Sequential:
    """Conv3d (no bias: BatchNorm follows) with 'same' padding, then BatchNorm3d."""
    padding = tuple(k // 2 for k in kernel)
    return nn.Sequential(
        nn.Conv3d(dim_in, dim_out, kernel, stride=stride, padding=padding, bias=False),
        nn.BatchNorm3d(dim_out),
    )


def _shortcut(dim_in: int, dim_out: int, spatial_stride: int) -> nn.Module:
    """A residual block's skip path: identity, or a strided 1x1x1 projection where the block
    changes width or resolution."""
    if dim_in == dim_out and spatial_stride == 1:
        return nn.Identity()
    return _conv_bn(dim_in, dim_out, (1, 1, 1), (1, spatial_stride, spatial_stride))


class BasicBlock(nn.Module):
    """3D-ResNet-18 block: [t x 3^2, C; 1 x 3^2, C] plus a shortcut.

    Args:
        dim_in: input channels (grown by what the previous connection fused).
        dim_out: output channels.
        temporal_kernel: temporal size t of the first conv (1 or 3 in Table 4).
        spatial_stride: 2 in the first block of res3..res5, else 1.

    Shapes: B x dim_in x T x H x W -> B x dim_out x T x H/s x W/s.
    """

    def __init__(self, dim_in: int, dim_out: int, *, temporal_kernel: int, spatial_stride: int):
        super().__init__()
        stride = (1, spatial_stride, spatial_stride)
        self.conv_a = _conv_bn(dim_in, dim_out, (temporal_kernel, 3, 3), stride)
        self.conv_b = _conv_bn(dim_out, dim_out, (1, 3, 3))
        self.shortcut = _shortcut(dim_in, dim_out, spatial_stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_b(self.relu(self.conv_a(x)))
        return self.relu(out + self.shortcut(x))


class BottleneckBlock(nn.Module):
    """3D-ResNet-50 block: [t x 1^2, C_in; 1 x 3^2, C_in; 1 x 1^2, C_out] plus a shortcut.

    Args:
        dim_in: input channels.
        dim_inner: bottleneck width (64, 128, 256, 512 for the I pathway).
        dim_out: output channels (4 x dim_inner in Table 4).
        temporal_kernel: temporal size t of the first 1x1 conv (1 or 3).
        spatial_stride: stride of the 3x3 conv (torchvision's "ResNet v1.5" placement).

    Shapes: B x dim_in x T x H x W -> B x dim_out x T x H/s x W/s.
    """

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        *,
        dim_inner: int,
        temporal_kernel: int,
        spatial_stride: int,
    ):
        super().__init__()
        stride = (1, spatial_stride, spatial_stride)
        self.conv_a = _conv_bn(dim_in, dim_inner, (temporal_kernel, 1, 1))
        self.conv_b = _conv_bn(dim_inner, dim_inner, (1, 3, 3), stride)
        self.conv_c = _conv_bn(dim_inner, dim_out, (1, 1, 1))
        self.shortcut = _shortcut(dim_in, dim_out, spatial_stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.conv_a(x))
        out = self.conv_c(self.relu(self.conv_b(out)))
        return self.relu(out + self.shortcut(x))


class ResStage(nn.Sequential):
    """A stage (res2..res5): residual blocks applied in order."""


class Stem(nn.Module):
    """conv1 + BN + ReLU + pool1 (Table 4): B x C x T x H x W -> B x dim_out x T x H/4 x W/4."""

    def __init__(self, conv: nn.Module, norm: nn.Module, pool: nn.Module):
        super().__init__()
        self.conv = conv
        self.norm = norm
        self.relu = nn.ReLU(inplace=True)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.relu(self.norm(self.conv(x))))


def create_stem(
    *,
    dim_in: int,
    dim_out: int,
    kernel: tuple[int, int, int],
    pool_kernel: tuple[int, int, int] = (1, 3, 3),
) -> Stem:
    """conv1 with spatial stride 2 and 'same' temporal padding, then a stride-2 max-pool."""
    conv = nn.Conv3d(
        dim_in,
        dim_out,
        kernel,
        stride=(1, 2, 2),
        padding=tuple(k // 2 for k in kernel),
        bias=False,
    )
    pool = nn.MaxPool3d(pool_kernel, stride=(1, 2, 2), padding=tuple(k // 2 for k in pool_kernel))
    return Stem(conv, nn.BatchNorm3d(dim_out), pool)


def create_res_stage(
    *,
    block: str,
    dim_in: int,
    dim_out: int,
    dim_inner: int,
    depth: int,
    temporal_kernel: int,
    spatial_stride: int,
) -> ResStage:
    """Stack ``depth`` blocks; only the first one strides and changes the width."""
    blocks = []
    for index in range(depth):
        kwargs = dict(
            temporal_kernel=temporal_kernel,
            spatial_stride=spatial_stride if index == 0 else 1,
        )
        block_in = dim_in if index == 0 else dim_out
        if block == "basic":
            blocks.append(BasicBlock(block_in, dim_out, **kwargs))
        elif block == "bottleneck":
            blocks.append(BottleneckBlock(block_in, dim_out, dim_inner=dim_inner, **kwargs))
        else:
            raise ValueError(f"unknown block type {block!r}; expected 'basic' or 'bottleneck'")
    return ResStage(*blocks)


def create_pathway(
    *,
    block: str,
    dim_in: int,
    stem_dim: int,
    stem_kernel: tuple[int, int, int],
    pool_kernel: tuple[int, int, int],
    stage_dims: Sequence[int],
    inner_dims: Sequence[int],
    depths: Sequence[int],
    temporal_kernels: Sequence[int],
    spatial_strides: Sequence[int],
    fused_dims: Sequence[int],
) -> nn.ModuleList:
    """One pathway as a list [stem, res2, res3, res4, res5].

    Args:
        fused_dims: channels concatenated onto the output of module ``i`` by the connection
            that follows it (Eq. 3), so module ``i + 1`` takes ``dim_out + fused_dims[i]``
            input channels (PySlowFast's FuseFastToSlow convention). Shorter than the number
            of modules: no connection follows the last ones.
    """
    modules: list[nn.Module] = [
        create_stem(dim_in=dim_in, dim_out=stem_dim, kernel=stem_kernel, pool_kernel=pool_kernel)
    ]
    dim_prev = stem_dim
    for index, dim_out in enumerate(stage_dims):
        fused = fused_dims[index] if index < len(fused_dims) else 0
        modules.append(
            create_res_stage(
                block=block,
                dim_in=dim_prev + fused,
                dim_out=dim_out,
                dim_inner=inner_dims[index],
                depth=depths[index],
                temporal_kernel=temporal_kernels[index],
                spatial_stride=spatial_strides[index],
            )
        )
        dim_prev = dim_out
    return nn.ModuleList(modules)
