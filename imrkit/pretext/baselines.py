"""The baseline pretexts the paper compares on the same network (Table 3).

- :class:`RotationPrediction`: 3D rotation (0/90/180/270 degrees in the image plane, the same
  for all frames of all three streams); motion vectors rotate with the frame.
- :class:`ArrowOfTime`: forward vs reversed GOP order. Reversal is a pure GOP-order reversal
  of the I-frames and of the P chunks (5 P-frames each, order inside a chunk kept); motion
  signs are *not* negated: each P-frame's vectors still describe that frame's prediction
  from its own reference, which playing the GOPs backwards does not change. (Negating them
  would fake backward motion; the task is then to notice the GOP order, as in AOT.)
- :class:`InfoNCE`: two augmented views of each clip (random square crop resized back to
  the input size + horizontal flip, on tensors, per clip), a projection head, and the
  symmetric InfoNCE loss with the other clips of the batch as negatives.

Each is one module: its label/transform code, head and loss; ``forward(batch)`` ->
:class:`~imrkit.pretext.base.PretextOutput`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from imrkit.errors import ConfigError, ShapeError
from imrkit.pretext.base import PretextOutput, accuracy, make_generator, mlp_head, streams
from imrkit.transforms.functional import CropBox, crop_resize_clip, hflip_clip, rotate90_clip


def rotate_batch(batch: dict[str, torch.Tensor], quarter_turns: torch.Tensor) -> dict:
    """Rotate clip i of every stream by ``quarter_turns[i] x 90`` degrees (pure function).

    Motion vectors turn with the frame (see
    :func:`~imrkit.transforms.functional.rotate_motion_vectors`). Frames must be square, so
    that rotated clips keep the batch's shape.
    """
    iframes, motion, residual = streams(batch)
    if iframes.shape[-1] != iframes.shape[-2]:
        raise ShapeError(f"rotation: frames must be square, got {tuple(iframes.shape[-2:])}")
    quarter_turns = quarter_turns.to(iframes.device)
    out = {**batch}
    for name, stream in (("iframes", iframes), ("motion", motion), ("residual", residual)):
        rotated = stream.clone()
        for turns in range(1, 4):
            chosen = quarter_turns == turns
            if chosen.any():
                rotated[chosen] = rotate90_clip(stream[chosen], turns, is_motion=name == "motion")
        out[name] = rotated
    return out


def reverse_gop_order(batch: dict[str, torch.Tensor], reverse: torch.Tensor) -> dict:
    """Reverse the GOP order of the clips where ``reverse`` is True (pure function).

    I-frames: ``B x 3 x T`` reversed along T. P streams: the T chunks of 5 P-frames are
    reversed as chunks; frames inside a chunk and motion signs are unchanged.
    """
    iframes, motion, residual = streams(batch)
    reverse = reverse.to(iframes.device).bool()
    num_gops = iframes.shape[2]
    out = {
        **batch,
        "iframes": torch.where(reverse[:, None, None, None, None], iframes.flip(2), iframes),
    }
    for name, stream in (("motion", motion), ("residual", residual)):
        batch_size, channels, frames, height, width = stream.shape
        chunks = stream.reshape(batch_size, channels, num_gops, frames // num_gops, height, width)
        flipped = chunks.flip(2).reshape(stream.shape)
        out[name] = torch.where(reverse[:, None, None, None, None], flipped, stream)
    return out


def random_view(
    batch: dict[str, torch.Tensor],
    min_scale: float = 0.5,
    flip_prob: float = 0.5,
    generator: torch.Generator | None = None,
) -> dict:
    """One augmented view of every clip: a random square crop (side ``U(min_scale, 1) x``
    the shorter side), resized back to H x W, flipped with probability ``flip_prob``;
    identical across the clip's streams, motion rescaled and x negated on a flip."""
    iframes, motion, residual = streams(batch)
    height, width = iframes.shape[-2:]
    views = {name: [] for name in ("iframes", "motion", "residual")}
    for index in range(iframes.shape[0]):
        scale = min_scale + (1.0 - min_scale) * float(torch.rand((), generator=generator))
        side = max(1, round(scale * min(height, width)))
        top = int(torch.randint(height - side + 1, (1,), generator=generator))
        left = int(torch.randint(width - side + 1, (1,), generator=generator))
        flip = bool(torch.rand((), generator=generator) < flip_prob)
        for name, stream in (("iframes", iframes), ("motion", motion), ("residual", residual)):
            is_motion = name == "motion"
            view = crop_resize_clip(
                stream[index], CropBox(top, left, side, side), (height, width), is_motion
            )
            views[name].append(hflip_clip(view, is_motion) if flip else view)
    return {**batch, **{name: torch.stack(frames) for name, frames in views.items()}}


class _ClassificationPretext(nn.Module):
    """Shared body of rotation and AOT: draw labels, transform, embed, classify."""

    prefix = ""
    num_classes = 0

    def __init__(self, backbone: nn.Module, *, hidden_dim: int = 512, seed: int | None = None):
        super().__init__()
        self.backbone = backbone
        self.head = mlp_head(backbone.embed_dim, hidden_dim, self.num_classes)
        self.generator = make_generator(seed)

    def transform(self, batch: dict, labels: torch.Tensor) -> dict:
        raise NotImplementedError

    def forward(self, batch: dict[str, torch.Tensor]) -> PretextOutput:
        iframes, _, _ = streams(batch)
        labels = torch.randint(self.num_classes, (iframes.shape[0],), generator=self.generator)
        logits = self.head(self.backbone.embed(*streams(self.transform(batch, labels))))
        labels = labels.to(logits.device)
        loss = F.cross_entropy(logits, labels)
        metrics = {
            f"{self.prefix}/loss": loss.detach(),
            f"{self.prefix}/acc": accuracy(logits, labels),
        }
        return PretextOutput(loss, {**metrics, "loss": metrics[f"{self.prefix}/loss"]})


class RotationPrediction(_ClassificationPretext):
    """3D rotation prediction: which of 0/90/180/270 degrees was applied (4-way)."""

    prefix, num_classes = "rotation", 4

    def transform(self, batch: dict, labels: torch.Tensor) -> dict:
        return rotate_batch(batch, labels)


class ArrowOfTime(_ClassificationPretext):
    """Arrow of time: forward (0) or reversed (1) GOP order."""

    prefix, num_classes = "aot", 2

    def transform(self, batch: dict, labels: torch.Tensor) -> dict:
        return reverse_gop_order(batch, labels == 1)


class InfoNCE(nn.Module):
    """Contrastive learning over two augmented views (InfoNCE; Oord et al., 2018).

    Args:
        backbone: the IMRNet (``embed``, ``embed_dim``).
        hidden_dim, projection_dim: the 2-layer projection head.
        temperature: softmax temperature of the cosine similarities.
        min_scale: smallest crop side, as a fraction of the shorter side.
        flip_prob: probability of a horizontal flip per view.
        seed: seed of the task's own generator (None: torch's global RNG).
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        hidden_dim: int = 512,
        projection_dim: int = 128,
        temperature: float = 0.1,
        min_scale: float = 0.5,
        flip_prob: float = 0.5,
        seed: int | None = None,
    ):
        super().__init__()
        if temperature <= 0:
            raise ConfigError(f"temperature must be positive, got {temperature}")
        if not 0 < min_scale <= 1:
            raise ConfigError(f"min_scale must be in (0, 1], got {min_scale}")
        self.backbone = backbone
        self.projection = mlp_head(backbone.embed_dim, hidden_dim, projection_dim)
        self.temperature = temperature
        self.min_scale, self.flip_prob = min_scale, flip_prob
        self.generator = make_generator(seed)

    def forward(self, batch: dict[str, torch.Tensor]) -> PretextOutput:
        projections = []
        for _ in range(2):
            view = random_view(batch, self.min_scale, self.flip_prob, self.generator)
            projections.append(
                F.normalize(self.projection(self.backbone.embed(*streams(view))), dim=1)
            )
        logits = (
            projections[0] @ projections[1].T / self.temperature
        )  # B x B, positives on the diagonal
        targets = torch.arange(logits.shape[0], device=logits.device)
        loss = (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
        metrics = {"infonce/loss": loss.detach(), "infonce/acc": accuracy(logits, targets)}
        return PretextOutput(loss, {**metrics, "loss": metrics["infonce/loss"]})
