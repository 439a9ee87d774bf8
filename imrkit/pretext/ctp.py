"""Correspondence type prediction (CTP, Sec. 2.2, Eq. 5).

The I-frames stay; the P streams (motion and residual together, in whole GOP chunks of
``5`` P-frames) undergo one of four transforms, drawn uniformly per clip:

0. aligned: unchanged;
1. random: the P streams of another clip of the batch (a random derangement of the batch:
   never the clip itself);
2. shuffle: a random GOP permutation that is neither the identity nor a rotation (rotations
   are the shifts of type 3, so the types never overlap; needs T >= 3);
3. shift: split at a random k in [1, T - 1] and swap the halves: GOPs [k..T-1, 0..k-1].

A 2-layer MLP on the network's embedding predicts the type. ``binary=True`` keeps types 0
and 1. ``ctp_pooling`` says which embedding (:func:`ctp_embedding`):

- ``"gop"`` (default): each pathway's final map averaged over space and over each GOP, one
  slot per GOP, concatenated: the head sees the GOP order that shuffle and shift change.
- ``"clip"``: averaged over time and space (``IMRNet.embed``), the SPEC's first reading.
  Measured on the sample data (BENCHMARKS.md, issue 9), 4-way CTP with it does not even fit
  its training clips in 600 updates (loss stays at ln 4 at lr 0.01 and 0.05), while with
  ``"gop"`` the training loss falls from about 300 updates on: the mean over time erases the
  very order the task asks about unless the network encodes it in every channel first.
  The paper's x (Eq. 4 and 5) are the sub-networks' output features, which it also pools
  per temporal window for PMSP; ``"gop"`` reads them the same way.
The transform is a pure function of (batch, labels, generator): :func:`apply_correspondence`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from imrkit.errors import ConfigError
from imrkit.pretext.base import (
    STREAMS,
    PretextOutput,
    accuracy,
    make_generator,
    mlp_head,
    streams,
)

ALIGNED, RANDOM, SHUFFLE, SHIFT = 0, 1, 2, 3
CORRESPONDENCE_TYPES = ("aligned", "random", "shuffle", "shift")


def sample_correspondence_labels(
    batch_size: int, num_types: int = 4, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Uniform transform types, LongTensor ``(batch_size,)`` in ``[0, num_types)``."""
    if num_types not in (2, 4):
        raise ConfigError(f"num_types: 4 (CTP) or 2 (binary CTP), got {num_types}")
    return torch.randint(num_types, (batch_size,), generator=generator)


def random_derangement(size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A uniformly random permutation with no fixed point (rejection: ~e draws on average)."""
    if size < 2:
        raise ConfigError(f"CTP 'random' needs a batch of at least 2 clips, got {size}")
    while True:
        permutation = torch.randperm(size, generator=generator)
        if (permutation != torch.arange(size)).all():
            return permutation


def is_rotation(order: torch.Tensor) -> bool:
    """Whether a GOP order is a cyclic shift [k..T-1, 0..k-1] (the identity is k = 0)."""
    num_gops = len(order)
    return bool((order == (torch.arange(num_gops) + order[0]) % num_gops).all())


def random_shuffle_order(num_gops: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random GOP permutation that is neither the identity nor any rotation.

    For T = 5: uniform over the 120 - 5 = 115 such orders (rejection sampling).
    """
    if num_gops < 3:
        raise ConfigError(
            f"CTP 'shuffle' needs num_gops >= 3 (every order of {num_gops} GOPs is a rotation);"
            " use binary CTP or longer clips"
        )
    while True:
        order = torch.randperm(num_gops, generator=generator)
        if not is_rotation(order):
            return order


def shift_order(num_gops: int, split: int) -> torch.Tensor:
    """GOPs ``[split..T-1, 0..split-1]`` (e.g. T = 5, split = 1: [1, 2, 3, 4, 0])."""
    return (torch.arange(num_gops) + split) % num_gops


def correspondence_plan(
    labels: torch.Tensor, num_gops: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each clip's P streams come from under its transform type.

    Args:
        labels: ``(B,)`` types (see module docstring).
        num_gops: T.
        generator: randomness (CPU).

    Returns:
        ``source (B,)``: the clip whose P streams clip i gets; ``gop_order (B, T)``: which of
        that clip's GOPs fills each GOP slot.
    """
    labels = labels.cpu()
    batch_size = len(labels)
    source = torch.arange(batch_size)
    gop_order = torch.arange(num_gops).repeat(batch_size, 1)
    if (labels == RANDOM).any():
        derangement = random_derangement(batch_size, generator)
        source = torch.where(labels == RANDOM, derangement, source)
    for index in torch.nonzero(labels == SHUFFLE).flatten().tolist():
        gop_order[index] = random_shuffle_order(num_gops, generator)
    for index in torch.nonzero(labels == SHIFT).flatten().tolist():
        if num_gops < 2:
            raise ConfigError(f"CTP 'shift' needs num_gops >= 2, got {num_gops}")
        split = int(torch.randint(1, num_gops, (1,), generator=generator))
        gop_order[index] = shift_order(num_gops, split)
    return source, gop_order


def describe_plan(source: torch.Tensor, gop_order: torch.Tensor) -> dict[str, bool]:
    """What a :func:`correspondence_plan` does to every clip of a batch, for checking it.

    Returns:
        ``{"own clip": every clip keeps its own P streams, "other clip": every clip gets
        another clip's, "identity order": no GOP moved, "rotation": every order is a cyclic
        shift (the identity included)}``.
    """
    own = source == torch.arange(len(source))
    num_gops = gop_order.shape[1]
    return {
        "own clip": bool(own.all()),
        "other clip": bool((~own).all()),
        "identity order": bool((gop_order == torch.arange(num_gops)).all()),
        "rotation": all(is_rotation(order) for order in gop_order),
    }


def rearrange_gops(
    stream: torch.Tensor, source: torch.Tensor, gop_order: torch.Tensor
) -> torch.Tensor:
    """``out[i]``'s GOP slot g = GOP ``gop_order[i, g]`` of clip ``source[i]`` (B x C x 5T x H x W).

    GOPs move as whole chunks of P-frames; the order inside a chunk is kept.
    """
    batch, channels, frames, height, width = stream.shape
    num_gops = gop_order.shape[1]
    chunks = stream.reshape(batch, channels, num_gops, frames // num_gops, height, width)
    chunks = chunks.transpose(1, 2)  # B x T x C x 5 x H x W
    source, gop_order = source.to(stream.device), gop_order.to(stream.device)
    moved = chunks[source[:, None], gop_order]  # B x T x C x 5 x H x W
    return moved.transpose(1, 2).reshape(stream.shape)


def apply_correspondence(
    batch: dict[str, torch.Tensor],
    labels: torch.Tensor,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """Apply each clip's transform type to its P streams; I-frames untouched (pure function).

    Args:
        batch: {"iframes": B x 3 x T x H x W, "motion": B x 2 x 5T x H x W,
            "residual": B x 3 x 5T x H x W, ...}.
        labels: ``(B,)`` transform types.
        generator: randomness for the partners, permutations and splits.

    Returns:
        A new dict: the batch with "motion" and "residual" rearranged (other keys as given).
    """
    iframes, motion, residual = streams(batch)
    source, gop_order = correspondence_plan(labels, iframes.shape[2], generator)
    return {
        **batch,
        "motion": rearrange_gops(motion, source, gop_order),
        "residual": rearrange_gops(residual, source, gop_order),
    }


POOLINGS = ("clip", "gop")


def ctp_embedding(
    backbone: nn.Module,
    iframes: torch.Tensor,
    motion: torch.Tensor,
    residual: torch.Tensor,
    pooling: str = "clip",
) -> torch.Tensor:
    """What the CTP head reads: ``B x embed_dim`` (``"clip"``) or ``B x (T * embed_dim)``
    (``"gop"``: each pathway's final map averaged over space and over each GOP's frames, the
    T slots concatenated in order, I then M then R within a slot)."""
    if pooling == "clip":
        return backbone.embed(iframes, motion, residual)
    if pooling != "gop":
        raise ConfigError(f"CTP pooling {pooling!r}: expected one of {POOLINGS}")
    num_gops = iframes.shape[2]
    features = backbone.forward_features(iframes, motion, residual)
    slots = [
        F.adaptive_avg_pool1d(features[name].mean(dim=(3, 4)), num_gops)  # B x C x T
        for name in STREAMS
    ]
    return torch.cat(slots, dim=1).transpose(1, 2).flatten(1)


def ctp_head_dim(backbone: nn.Module, pooling: str, num_gops: int) -> int:
    """Input width of the CTP head for ``pooling`` on clips of ``num_gops`` GOPs."""
    return backbone.embed_dim * (num_gops if pooling == "gop" else 1)


def create_ctp_head(
    backbone: nn.Module, hidden_dim: int, num_types: int, pooling: str, num_gops: int
) -> nn.Sequential:
    """Eq. 5's beta: the 2-layer MLP over what :func:`ctp_embedding` gives for ``pooling``."""
    if pooling not in POOLINGS:
        raise ConfigError(f"CTP pooling {pooling!r}: expected one of {POOLINGS}")
    return mlp_head(ctp_head_dim(backbone, pooling, num_gops), hidden_dim, num_types)


def ctp_step(
    backbone: nn.Module,
    head: nn.Module,
    batch: dict[str, torch.Tensor],
    num_types: int,
    generator: torch.Generator | None,
    pooling: str = "clip",
) -> PretextOutput:
    """One CTP forward: draw types, transform, embed (:func:`ctp_embedding`), Eq. 5
    cross-entropy."""
    iframes, _, _ = streams(batch)
    if num_types == 4 and iframes.shape[2] < 3:
        raise ConfigError(
            f"4-way CTP needs num_gops >= 3 for 'shuffle', got clips of {iframes.shape[2]} GOPs;"
            " use ctp_binary or longer clips"
        )
    labels = sample_correspondence_labels(iframes.shape[0], num_types, generator)
    transformed = apply_correspondence(batch, labels, generator)
    logits = head(ctp_embedding(backbone, *streams(transformed), pooling=pooling))
    labels = labels.to(logits.device)
    loss = F.cross_entropy(logits, labels)
    return PretextOutput(loss, {"ctp/loss": loss.detach(), "ctp/acc": accuracy(logits, labels)})


class CTP(nn.Module):
    """Correspondence type prediction on an IMRNet (Sec. 2.2, Eq. 5).

    Args:
        backbone: the IMRNet (``embed``, ``embed_dim``).
        hidden_dim: width of the 2-layer MLP.
        binary: aligned vs random only (the ``ctp_binary`` pretext).
        ctp_pooling: the embedding the head reads, ``"clip"`` or ``"gop"``
            (:func:`ctp_embedding`).
        num_gops: GOPs per clip (the head's width with ``"gop"`` pooling).
        seed: seed of the task's own generator (None: torch's global RNG).
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        hidden_dim: int = 512,
        binary: bool = False,
        ctp_pooling: str = "gop",
        num_gops: int = 5,
        seed: int | None = None,
    ):
        super().__init__()
        self.backbone = backbone
        self.num_types = 2 if binary else 4
        self.ctp_pooling = ctp_pooling
        self.ctp_head = create_ctp_head(backbone, hidden_dim, self.num_types, ctp_pooling, num_gops)
        self.generator = make_generator(seed)

    def forward(self, batch: dict[str, torch.Tensor]) -> PretextOutput:
        output = ctp_step(
            self.backbone, self.ctp_head, batch, self.num_types, self.generator, self.ctp_pooling
        )
        output.metrics["loss"] = output.metrics["ctp/loss"]
        return output


@torch.no_grad()
def evaluate_ctp(
    pretext: nn.Module,
    dataset,
    *,
    batch_size: int = 16,
    passes: int = 4,
    seed: int = 0,
) -> dict:
    """Held-out CTP accuracy, overall and per correspondence type.

    Every pass shuffles ``dataset`` into batches (so a 'random' partner comes from the same
    pool as in training) and draws every clip's type and transform from a generator seeded
    by ``seed``: the same clips and transforms for every network evaluated.

    Args:
        pretext: a CTP or PMSP+CTP module (``backbone``, ``ctp_head``, ``ctp_pooling``,
            ``num_types``).
        dataset: clips the network did not train on (e.g. the test list, centre views).
        passes: how many times every clip is drawn (each time with a fresh type).

    Returns:
        ``{"accuracy": %, "per_type": {"aligned": %, ...}, "clips": drawn clips}``.
    """
    from imrkit.data.dataset import collate_clips
    from imrkit.transforms.compact import model_inputs

    was_training = pretext.training
    pretext.eval()
    generator = torch.Generator().manual_seed(seed)
    device = next(pretext.parameters()).device
    correct = torch.zeros(pretext.num_types)
    count = torch.zeros(pretext.num_types)
    for _ in range(passes):
        order = torch.randperm(len(dataset), generator=generator).tolist()
        for start in range(0, len(order) - 1, batch_size):
            # Read batch by batch (never the whole set in memory); unreadable clips drop out.
            batch = collate_clips([dataset[i] for i in order[start : start + batch_size]])
            size = len(batch.get("iframes", ()))
            if size < 2:  # a 'random' partner needs a second clip
                continue
            batch = model_inputs(batch, device)
            batch = {name: batch[name] for name in STREAMS}
            labels = sample_correspondence_labels(size, pretext.num_types, generator)
            transformed = apply_correspondence(batch, labels, generator)
            embedding = ctp_embedding(
                pretext.backbone, *streams(transformed), pooling=pretext.ctp_pooling
            )
            logits = pretext.ctp_head(embedding)
            hits = (logits.argmax(-1).cpu() == labels).float()
            correct.index_add_(0, labels, hits)
            count.index_add_(0, labels, torch.ones_like(hits))
    pretext.train(was_training)
    names = CORRESPONDENCE_TYPES[: pretext.num_types]
    return {
        "accuracy": float(100 * correct.sum() / count.sum().clamp(min=1)),
        "per_type": {
            name: float(100 * correct[i] / count[i].clamp(min=1)) for i, name in enumerate(names)
        },
        "clips": int(count.sum()),
    }
