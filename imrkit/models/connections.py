"""Bidirectional dynamic connections between the I pathway and a P pathway (Sec. 2.1).

This is PySlowFast's ``FuseFastToSlow`` made bidirectional and gated. After conv1, res2, res3
and res4, for each pair (I, M) and (I, R):

* P -> I: a temporally strided Conv3d, kernel (5, 1, 1), stride (5, 1, 1), maps the P
  pathway's 5T frames onto the I pathway's T frames;
* I -> P: a ConvTranspose3d with the same kernel and stride maps T frames onto 5T
  (the paper's text names conv and deconv the other way round, which cannot match the frame
  counts; SPEC section 2 resolves it as here);
* a multimodal gate (Eq. 1) reads both pathways and emits a sigmoid weight per output channel
  of each direction, which scales the (de-)conv output channel-wise (Eq. 2);
* :class:`StageFusion` concatenates the gated features onto the receiving pathway (Eq. 3),
  so the next stage's input width grows by what was fused.

The ``connections`` switch builds the ablations of Table 1:

==================  ==========================================================================
``full``            both directions, learned (de-)convs, gates (IMRNet)
``none``            no connections at all: late fusion, CoViAR-like (no module is built)
``unidirectional``  P -> I only (Eq. 3 becomes x_M = x_M, x_R = x_R); gated
``no_conv``         the (de-)convs replaced by parameter-free temporal resampling: average over
                    each GOP's 5 P-frames (P -> I) or repeat each I-frame 5 times (I -> P).
                    A 1x1x1 conv projects channels, only where the source width differs from
                    the connection's width (always, with the presets), so the next stage's
                    width matches ``full`` and no learned kernel mixes frames; gated
``no_attention``    both directions with (de-)convs, the gates removed (v = conv(x))
==================  ==========================================================================
"""

from __future__ import annotations

import torch
from torch import nn

from imrkit.models.config import CONNECTION_MODES


def has_pframes_to_iframes(mode: str) -> bool:
    """Whether M/R features flow into the I pathway in this mode."""
    return mode != "none"


def has_iframes_to_pframes(mode: str) -> bool:
    """Whether I features flow into the M/R pathways in this mode."""
    return mode in ("full", "no_conv", "no_attention")


class MultimodalGate(nn.Module):
    """Multimodal gate functions (Eq. 1).

    ``z = [maxpool(x_I); maxpool(x_P)]`` (global max-pool over T x H x W, C_z = C_I + C_P),
    ``h = LeakyReLU(W2 LeakyReLU(W1 z + b1) + b2)`` with W1, W2 of size C_z x C_z, then one
    sigmoid head per direction, sized to the channels of the connection it gates (SPEC section 2
    resolves the paper's C/8 sizes, which disagree with its Table 4, this way).

    Args:
        dim_iframes: channels C_I of the I pathway at this stage.
        dim_pframes: channels C_P of the P pathway at this stage.
        dim_to_iframes: channels of the P -> I connection (size of a_I).
        dim_to_pframes: channels of the I -> P connection (size of a_P); 0 builds no head.
        negative_slope: of the LeakyReLUs.
    """

    def __init__(
        self,
        *,
        dim_iframes: int,
        dim_pframes: int,
        dim_to_iframes: int,
        dim_to_pframes: int,
        negative_slope: float = 0.01,
    ):
        super().__init__()
        dim_z = dim_iframes + dim_pframes
        self.mlp = nn.Sequential(
            nn.Linear(dim_z, dim_z),
            nn.LeakyReLU(negative_slope),
            nn.Linear(dim_z, dim_z),
            nn.LeakyReLU(negative_slope),
        )
        self.to_iframes = nn.Linear(dim_z, dim_to_iframes)
        self.to_pframes = nn.Linear(dim_z, dim_to_pframes) if dim_to_pframes else None

    def forward(
        self, iframes: torch.Tensor, pframes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """B x C_I x T x H x W, B x C_P x 5T x H x W -> a_I (B x C_to_I), a_P (B x C_to_P)."""
        z = torch.cat([iframes.amax(dim=(2, 3, 4)), pframes.amax(dim=(2, 3, 4))], dim=1)
        h = self.mlp(z)  # B x C_z
        to_iframes = torch.sigmoid(self.to_iframes(h))
        to_pframes = torch.sigmoid(self.to_pframes(h)) if self.to_pframes is not None else None
        return to_iframes, to_pframes


class TemporalAverage(nn.Module):
    """Parameter-free P -> I resampling for ``no_conv``: mean over each group of ``ratio`` frames.

    B x C x 5T x H x W -> B x C x T x H x W.
    """

    def __init__(self, ratio: int):
        super().__init__()
        self.ratio = ratio

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, frames, height, width = x.shape
        return x.view(batch, channels, frames // self.ratio, self.ratio, height, width).mean(3)


class TemporalRepeat(nn.Module):
    """Parameter-free I -> P resampling for ``no_conv``: each frame repeated ``ratio`` times.

    B x C x T x H x W -> B x C x 5T x H x W.
    """

    def __init__(self, ratio: int):
        super().__init__()
        self.ratio = ratio

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(self.ratio, dim=2)


def _norm_act(dim: int, norm: bool) -> list[nn.Module]:
    # PySlowFast's FuseFastToSlow follows its conv with BN + ReLU, which keeps the fused
    # features on the scale of the post-ReLU features they are concatenated with.
    return [nn.BatchNorm3d(dim), nn.ReLU(inplace=True)] if norm else []


def create_transform(
    *,
    direction: str,
    mode: str,
    dim_in: int,
    dim_out: int,
    ratio: int,
    norm: bool,
    spatial_kernel: int = 1,
) -> nn.Sequential:
    """The learned (de-)conv, or for ``no_conv`` the resampling (+ 1x1x1 projection if needed).

    Args:
        direction: ``"to_iframes"`` (5T -> T frames) or ``"to_pframes"`` (T -> 5T).
        mode: a connection mode (see the module docstring).
        dim_in: channels of the source pathway.
        dim_out: channels of the connection.
        ratio: P-frames per I-frame (5): the temporal kernel and stride.
        norm: add BatchNorm + ReLU after the learned layer.
        spatial_kernel: odd spatial size of the (de-)conv kernel ('same' padding); 1 in SPEC.
    """
    if mode != "no_conv":
        conv_cls = nn.Conv3d if direction == "to_iframes" else nn.ConvTranspose3d
        conv = conv_cls(
            dim_in,
            dim_out,
            (ratio, spatial_kernel, spatial_kernel),
            stride=(ratio, 1, 1),
            padding=(0, spatial_kernel // 2, spatial_kernel // 2),
            bias=not norm,
        )
        return nn.Sequential(conv, *_norm_act(dim_out, norm))
    resample = TemporalAverage(ratio) if direction == "to_iframes" else TemporalRepeat(ratio)
    if dim_in == dim_out:
        return nn.Sequential(resample)
    # Pointwise per frame, so it commutes with the resampling: project on the T-frame side,
    # where it is 5x cheaper.
    projection = [nn.Conv3d(dim_in, dim_out, 1, bias=not norm), *_norm_act(dim_out, norm)]
    if direction == "to_iframes":
        return nn.Sequential(resample, *projection)
    return nn.Sequential(*projection, resample)


class GatedConnection(nn.Module):
    """The bidirectional dynamic connection between I and one P pathway at one stage (Eq. 2).

    Args:
        to_iframes: P -> I transform (B x C_P x 5T x h x w -> B x C_to_I x T x h x w).
        to_pframes: I -> P transform (B x C_I x T x h x w -> B x C_to_P x 5T x h x w), or None
            when the mode is one-way.
        gate: the multimodal gate, or None (``no_attention``).
    """

    def __init__(
        self,
        *,
        to_iframes: nn.Module,
        to_pframes: nn.Module | None,
        gate: MultimodalGate | None,
    ):
        super().__init__()
        self.to_iframes = to_iframes
        self.to_pframes = to_pframes
        self.gate = gate

    def forward(
        self, iframes: torch.Tensor, pframes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return v_P->I (B x C_to_I x T x h x w) and v_I->P (B x C_to_P x 5T x h x w or None)."""
        to_iframes = self.to_iframes(pframes)
        to_pframes = self.to_pframes(iframes) if self.to_pframes is not None else None
        if self.gate is not None:
            weight_i, weight_p = self.gate(iframes, pframes)
            to_iframes = to_iframes * weight_i[:, :, None, None, None]
            if to_pframes is not None:
                to_pframes = to_pframes * weight_p[:, :, None, None, None]
        return to_iframes, to_pframes


def create_connection(
    *,
    mode: str,
    dim_iframes: int,
    dim_pframes: int,
    dim_to_iframes: int,
    dim_to_pframes: int,
    ratio: int,
    norm: bool,
    negative_slope: float,
    spatial_kernel: int = 1,
) -> GatedConnection:
    """Build one pair's connection for ``mode`` (any mode but ``none``)."""
    if mode not in CONNECTION_MODES or mode == "none":
        raise ValueError(f"cannot build a connection for mode {mode!r}")
    two_way = has_iframes_to_pframes(mode)
    common = dict(mode=mode, ratio=ratio, norm=norm, spatial_kernel=spatial_kernel)
    to_iframes = create_transform(
        direction="to_iframes", dim_in=dim_pframes, dim_out=dim_to_iframes, **common
    )
    to_pframes = (
        create_transform(
            direction="to_pframes", dim_in=dim_iframes, dim_out=dim_to_pframes, **common
        )
        if two_way
        else None
    )
    gate = (
        MultimodalGate(
            dim_iframes=dim_iframes,
            dim_pframes=dim_pframes,
            dim_to_iframes=dim_to_iframes,
            dim_to_pframes=dim_to_pframes if two_way else 0,
            negative_slope=negative_slope,
        )
        if mode != "no_attention"
        else None
    )
    return GatedConnection(to_iframes=to_iframes, to_pframes=to_pframes, gate=gate)


class StageFusion(nn.Module):
    """Eq. 3 at one stage: x_I <- [x_I; v_M->I; v_R->I], x_M <- [x_M; v_I->M], x_R <- [x_R; v_I->R].

    Args:
        motion: the (I, M) connection.
        residual: the (I, R) connection.
    """

    def __init__(self, *, motion: GatedConnection, residual: GatedConnection):
        super().__init__()
        self.motion = motion
        self.residual = residual

    def forward(
        self, iframes: torch.Tensor, motion: torch.Tensor, residual: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        motion_to_i, i_to_motion = self.motion(iframes, motion)
        residual_to_i, i_to_residual = self.residual(iframes, residual)
        iframes = torch.cat([iframes, motion_to_i, residual_to_i], dim=1)
        if i_to_motion is not None:
            motion = torch.cat([motion, i_to_motion], dim=1)
        if i_to_residual is not None:
            residual = torch.cat([residual, i_to_residual], dim=1)
        return iframes, motion, residual
