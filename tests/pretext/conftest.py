"""A small stand-in for IMRNet that honours the model contract (forward_features, embed)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

STREAM_CHANNELS = {"iframes": 3, "motion": 2, "residual": 3}


class FakeBackbone(nn.Module):
    """Per stream: a 1x1x1 conv, then average pooling by ``stride`` in space (time kept).

    ``forward_features`` -> {"iframes": B x 6 x T x h x w, "motion"/"residual": B x 4 x 5T x h x w}
    with h, w = H / stride, W / stride: the layout IMRNet's contract promises (stride 32).
    """

    feature_dims = {"iframes": 6, "motion": 4, "residual": 4}

    def __init__(self, stride: int = 32):
        super().__init__()
        self.stride = stride
        self.convs = nn.ModuleDict(
            {
                name: nn.Conv3d(STREAM_CHANNELS[name], dim, 1)
                for name, dim in self.feature_dims.items()
            }
        )

    @property
    def embed_dim(self) -> int:
        return sum(self.feature_dims.values())

    def forward_features(self, iframes, motion, residual):
        inputs = {"iframes": iframes, "motion": motion, "residual": residual}
        # Pool first, then the (linear) 1x1x1 conv: same result, far cheaper on a CPU.
        return {
            name: self.convs[name](F.avg_pool3d(x, (1, self.stride, self.stride)))
            for name, x in inputs.items()
        }

    def embed(self, iframes, motion, residual):
        features = self.forward_features(iframes, motion, residual)
        return torch.cat([features[name].mean(dim=(2, 3, 4)) for name in self.feature_dims], 1)

    forward = embed


@pytest.fixture
def fake_backbone():
    torch.manual_seed(0)
    return FakeBackbone()


def random_batch(batch_size=4, size=64, num_gops=5, seed=0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "iframes": torch.randn(batch_size, 3, num_gops, size, size, generator=generator),
        "motion": torch.randn(batch_size, 2, 5 * num_gops, size, size, generator=generator),
        "residual": torch.randn(batch_size, 3, 5 * num_gops, size, size, generator=generator),
    }


def id_batch(batch_size=4, num_gops=5, size=4) -> dict[str, torch.Tensor]:
    """Streams whose values name their origin: 1000 clip + 10 GOP + frame-in-GOP (P streams),
    1000 clip + 10 GOP (I-frames); motion's y channel is the x channel + 0.5."""
    clip = torch.arange(batch_size).view(-1, 1, 1, 1, 1) * 1000.0
    gop_i = torch.arange(num_gops).view(1, 1, -1, 1, 1) * 10.0
    frame = torch.arange(5 * num_gops)
    ids_p = (frame // 5 * 10 + frame % 5).view(1, 1, -1, 1, 1).float()
    shape_p = (batch_size, 1, 5 * num_gops, size, size)
    motion_x = (clip + ids_p).expand(shape_p)
    return {
        "iframes": (clip + gop_i).expand(batch_size, 3, num_gops, size, size).clone(),
        "motion": torch.cat([motion_x, motion_x + 0.5], dim=1).clone(),
        "residual": (clip + ids_p).expand(batch_size, 3, 5 * num_gops, size, size).clone() + 0.25,
    }


@pytest.fixture
def make_batch():
    """Factory of random model-layout batches: ``make_batch(batch_size, size, num_gops, seed)``."""
    return random_batch


@pytest.fixture
def make_id_batch():
    """Factory of batches whose values name their clip, GOP and frame (see ``id_batch``)."""
    return id_batch
