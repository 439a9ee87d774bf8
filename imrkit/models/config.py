"""Typed configuration of IMRNet: what every width, depth and kernel (Table 4) means.

The values of the named networks live in :mod:`imrkit.models.presets`, once; the fields
here that a preset sets have no default. :class:`PathwayOverrides` and
:class:`FusionOverrides` mirror :class:`PathwayConfig` and :class:`FusionConfig` field for
field with ``None`` meaning "the preset's value": what a run config
(:class:`imrkit.train.config.ModelConfig`) changes, e.g. ``model.pframes.stage_dims=[8, 16,
32, 64]``.

Kept free of torch so that the command line can list presets and modes cheaply.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Literal, Optional

from imrkit.errors import ConfigError

PATHWAYS = ("iframes", "motion", "residual")
STAGE_NAMES = ("conv1", "res2", "res3", "res4", "res5")
ConnectionMode = Literal["full", "none", "unidirectional", "no_conv", "no_attention"]
CONNECTION_MODES: tuple[str, ...] = ("full", "none", "unidirectional", "no_conv", "no_attention")


@dataclass
class PathwayConfig:
    """Widths, depths and kernels of one 3D-ResNet pathway (Table 4).

    Attributes:
        block: ``"basic"`` (ResNet-18 blocks) or ``"bottleneck"`` (ResNet-50 blocks).
        stem_dim: conv1 output channels.
        stem_kernel: conv1 kernel (T, H, W); spatial stride 2, no temporal stride.
        pool_kernel: pool1 max-pool kernel (T, H, W); spatial stride 2 (SPEC: 1x3x3 for all).
        stage_dims: output channels of res2..res5.
        inner_dims: bottleneck widths of res2..res5 (ignored by basic blocks).
        depths: blocks per stage.
        temporal_kernels: temporal size of each stage's first conv (1 or 3 in Table 4).
        spatial_strides: spatial stride of each stage's first block.
    """

    block: Literal["basic", "bottleneck"]
    stem_dim: int
    stem_kernel: tuple[int, int, int]
    stage_dims: tuple[int, ...]
    inner_dims: tuple[int, ...]
    depths: tuple[int, ...]
    temporal_kernels: tuple[int, ...]
    pool_kernel: tuple[int, int, int] = (1, 3, 3)
    spatial_strides: tuple[int, ...] = (1, 2, 2, 2)


@dataclass
class FusionConfig:
    """Channels and details of the connections after conv1, res2, res3, res4 (Table 4).

    Attributes:
        to_iframes_dims: out channels of each M -> I and R -> I conv (4, 4, 8, 16 for R18).
        to_pframes_dims: out channels of each I -> M and I -> R deconv (8, 8, 16, 32 for R18).
        spatial_kernel: spatial size of the (de-)conv kernels, (5, k, k) with 'same' padding
            (resolved: Table 4's spatial sizes are garbled, the text says (5 x 1 x 1); default 1).
        norm: BatchNorm + ReLU after each (de-)conv, as PySlowFast's FuseFastToSlow does
            (resolved: the paper's Eq. 2 shows none; default on).
        gate_negative_slope: slope of the gate MLP's LeakyReLUs (Eq. 1).
    """

    to_iframes_dims: tuple[int, ...]
    to_pframes_dims: tuple[int, ...]
    spatial_kernel: int = 1
    norm: bool = True
    gate_negative_slope: float = 0.01


@dataclass
class IMRNetConfig:
    """Everything that defines an IMRNet (the presets fill in the pathways and fusion).

    Attributes:
        iframes: the I pathway f_I.
        pframes: the architecture shared (not the weights) by f_M and f_R.
        fusion: the connections' widths.
        connections: one of ``full``, ``none``, ``unidirectional``, ``no_conv``,
            ``no_attention`` (Table 1 rows; see :mod:`imrkit.models.connections`).
        num_classes: size of the classifier; None returns the embedding instead.
        dropout: dropout before the classifier.
        pframes_per_gop: P-frames per I-frame (5: positions 2, 4, 6, 8, 10 of a 12-frame GOP);
            the temporal kernel and stride of the connections.
        iframe_channels, motion_channels, residual_channels: input channels.
    """

    iframes: PathwayConfig
    pframes: PathwayConfig
    fusion: FusionConfig
    connections: ConnectionMode = "full"
    num_classes: int | None = None
    dropout: float = 0.5
    pframes_per_gop: int = 5
    iframe_channels: int = 3
    motion_channels: int = 2
    residual_channels: int = 3

    def __post_init__(self) -> None:
        if self.connections not in CONNECTION_MODES:
            raise ConfigError(
                f"connections: {self.connections!r} is not one of {list(CONNECTION_MODES)}"
            )
        for name in ("iframes", "pframes"):
            pathway = getattr(self, name)
            num_stages = len(pathway.stage_dims)
            for key in ("inner_dims", "depths", "temporal_kernels", "spatial_strides"):
                if len(getattr(pathway, key)) != num_stages:
                    raise ConfigError(
                        f"{name}.{key}: has {len(getattr(pathway, key))} entries but "
                        f"stage_dims has {num_stages}"
                    )
        if self.pframes.spatial_strides != self.iframes.spatial_strides:
            raise ConfigError(
                "pframes.spatial_strides must equal iframes.spatial_strides: the connections "
                "concatenate maps of the same spatial size"
            )
        num_points = len(self.fusion.to_iframes_dims)
        if len(self.fusion.to_pframes_dims) != num_points:
            raise ConfigError("fusion.to_iframes_dims and fusion.to_pframes_dims differ in length")
        if self.fusion.spatial_kernel < 1 or self.fusion.spatial_kernel % 2 == 0:
            raise ConfigError(
                f"fusion.spatial_kernel: must be odd and positive, got {self.fusion.spatial_kernel}"
            )
        if num_points > len(self.iframes.stage_dims):
            raise ConfigError(
                f"fusion: {num_points} connection points, but only conv1 and the first "
                f"{len(self.iframes.stage_dims) - 1} stages can be followed by one"
            )
        if self.num_classes is not None and self.num_classes < 1:
            raise ConfigError(f"num_classes: must be positive or None, got {self.num_classes}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout: must be in [0, 1), got {self.dropout}")

    @property
    def spatial_stride(self) -> int:
        """Total spatial downsampling of a pathway (32 for the presets)."""
        stride = 4  # conv1 and pool1
        for value in self.iframes.spatial_strides:
            stride *= value
        return stride

    @property
    def feature_dims(self) -> dict[str, int]:
        """Channels of each pathway's final (res5) feature map."""
        pframes = self.pframes.stage_dims[-1]
        return {"iframes": self.iframes.stage_dims[-1], "motion": pframes, "residual": pframes}

    @property
    def embed_dim(self) -> int:
        """Size of the embedding: the pooled final maps concatenated (576 R18, 2304 R50)."""
        return sum(self.feature_dims.values())


# ------------------------------------------------------------------ overrides of a preset


def _overrides_of(
    cls: type, doc: str, nested: dict[str, type] | None = None, exclude: tuple[str, ...] = ()
) -> type:
    """A dataclass with every field of ``cls`` typed ``Optional`` and defaulting to None.

    Generated rather than written out, so that a field added to ``cls`` is overridable
    without a second list to keep in step. ``nested`` maps a field holding a dataclass to
    the overrides class of that dataclass (its default: no change); ``exclude`` names the
    fields that are not for overriding.
    """
    nested = nested or {}
    hints = typing.get_type_hints(cls)
    fields = [
        (f.name, nested[f.name], dataclasses.field(default_factory=nested[f.name]))
        if f.name in nested
        else (f.name, Optional[hints[f.name]], dataclasses.field(default=None))  # noqa: UP045
        for f in dataclasses.fields(cls)
        if f.name not in exclude
    ]
    overrides = dataclasses.make_dataclass(cls.__name__.replace("Config", "Overrides"), fields)
    overrides.__module__ = __name__
    overrides.__doc__ = doc
    return overrides


PathwayOverrides = _overrides_of(
    PathwayConfig,
    """Changes to a preset's :class:`PathwayConfig`: every field of it, None keeping the
    preset's value (e.g. ``stage_dims=(8, 16, 32, 64)``).""",
)
FusionOverrides = _overrides_of(
    FusionConfig,
    """Changes to a preset's :class:`FusionConfig`: every field of it, None keeping the
    preset's value (e.g. ``norm=False``).""",
)
IMRNetOverrides = _overrides_of(
    IMRNetConfig,
    """Changes to a preset's :class:`IMRNetConfig`: every field of it but ``num_classes``
    (the dataset sets it), None keeping the preset's value; the pathways and the fusion
    as :class:`PathwayOverrides` / :class:`FusionOverrides`.""",
    nested={"iframes": PathwayOverrides, "pframes": PathwayOverrides, "fusion": FusionOverrides},
    exclude=("num_classes",),
)


def set_values(overrides: Any) -> dict[str, Any]:
    """The fields of an overrides dataclass that are set (not None), nested ones as dicts."""
    values = {}
    for item in dataclasses.fields(overrides):
        value = getattr(overrides, item.name)
        if dataclasses.is_dataclass(value):
            value = set_values(value)
            if not value:
                continue
        if value is not None:
            values[item.name] = value
    return values
