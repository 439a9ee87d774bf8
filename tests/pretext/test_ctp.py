"""CTP: every transform against its definition, balanced labels, head and loss."""

from __future__ import annotations

import itertools

import pytest
import torch

from imrkit.errors import ConfigError
from imrkit.pretext import build_pretext
from imrkit.pretext.ctp import (
    ALIGNED,
    RANDOM,
    SHIFT,
    SHUFFLE,
    apply_correspondence,
    correspondence_plan,
    is_rotation,
    random_shuffle_order,
    sample_correspondence_labels,
    shift_order,
)


def origin(stream: torch.Tensor, index: int) -> tuple[int, list[int]]:
    """(source clip, GOP order) read back from an id batch's P stream of clip ``index``."""
    values = stream[index, 0, :, 0, 0]  # 5T ids: 1000 clip + 10 GOP + frame
    clips = {int(v // 1000) for v in values}
    assert len(clips) == 1, "a clip's P streams must come from one clip"
    ids = (values % 1000).round().long()
    gops, frames = (ids // 10).view(-1, 5), (ids % 10).view(-1, 5)
    assert (gops == gops[:, :1]).all(), "GOPs must move as whole chunks"
    assert (frames == torch.arange(5)).all(), "frames inside a chunk keep their order"
    return clips.pop(), gops[:, 0].tolist()


def test_labels_are_balanced():
    generator = torch.Generator().manual_seed(0)
    for num_types in (4, 2):
        draws = 40_000
        labels = sample_correspondence_labels(draws, num_types, generator)
        counts = torch.bincount(labels, minlength=num_types).float()
        expected = draws / num_types
        chi_square = ((counts - expected) ** 2 / expected).sum().item()
        # 99.99th percentile of chi^2 with 3 (1) degrees of freedom: 21.1 (15.1).
        assert chi_square < (21.1 if num_types == 4 else 15.1), counts
        assert set(labels.tolist()) == set(range(num_types))


def test_every_transform_matches_its_definition(make_id_batch):
    batch = make_id_batch(batch_size=8)
    generator = torch.Generator().manual_seed(1)
    seen_splits, seen_shuffles = set(), set()
    for _ in range(40):
        labels = sample_correspondence_labels(8, 4, generator)
        out = apply_correspondence(batch, labels, generator)
        assert torch.equal(out["iframes"], batch["iframes"])  # I untouched
        # motion and residual move together, both motion channels alike
        assert torch.equal(out["motion"][:, 1], out["motion"][:, 0] + 0.5)
        for index, label in enumerate(labels.tolist()):
            clip, order = origin(out["motion"], index)
            assert (clip, order) == origin(out["residual"], index)
            if label == ALIGNED:
                assert (clip, order) == (index, [0, 1, 2, 3, 4])
            elif label == RANDOM:
                assert clip != index and order == [0, 1, 2, 3, 4]
            elif label == SHUFFLE:
                assert clip == index and sorted(order) == list(range(5))
                assert not is_rotation(torch.tensor(order))  # identity is a rotation too
                seen_shuffles.add(tuple(order))
            else:
                split = order[0]
                assert clip == index and 1 <= split <= 4
                assert order == list(range(split, 5)) + list(range(split))
                seen_splits.add(split)
    assert seen_splits == {1, 2, 3, 4}
    assert len(seen_shuffles) > 20


def test_random_partners_form_a_derangement(make_id_batch):
    batch = make_id_batch(batch_size=6)
    for seed in range(20):
        labels = torch.full((6,), RANDOM)
        out = apply_correspondence(batch, labels, torch.Generator().manual_seed(seed))
        sources = [origin(out["motion"], index)[0] for index in range(6)]
        assert sorted(sources) == list(range(6))  # a permutation ...
        assert all(
            source != index for index, source in enumerate(sources)
        )  # ... with no fixed point


def test_shuffle_covers_exactly_the_non_rotations():
    generator = torch.Generator().manual_seed(0)
    drawn = {tuple(random_shuffle_order(5, generator).tolist()) for _ in range(3000)}
    valid = {p for p in itertools.permutations(range(5)) if not is_rotation(torch.tensor(p))}
    assert len(valid) == 115
    assert drawn == valid
    assert shift_order(5, 1).tolist() == [1, 2, 3, 4, 0]  # the paper's example
    assert shift_order(5, 3).tolist() == [3, 4, 0, 1, 2]


def test_transform_is_pure_and_reproducible(make_id_batch):
    batch = make_id_batch(batch_size=4)
    before = {k: v.clone() for k, v in batch.items()}
    labels = torch.tensor([SHIFT, SHUFFLE, RANDOM, RANDOM])
    first = apply_correspondence(batch, labels, torch.Generator().manual_seed(3))
    second = apply_correspondence(batch, labels, torch.Generator().manual_seed(3))
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert all(torch.equal(batch[k], before[k]) for k in batch)


def test_too_small_inputs_raise_clearly(make_id_batch):
    with pytest.raises(ConfigError, match="num_gops >= 3"):
        random_shuffle_order(2)
    with pytest.raises(ConfigError, match="at least 2 clips"):
        correspondence_plan(torch.tensor([RANDOM]), 5)
    batch = make_id_batch(batch_size=4, num_gops=2)
    pretext = build_pretext("ctp", _Embedder(), ctp_pooling="clip")
    with pytest.raises(ConfigError, match="ctp_binary"):
        pretext(batch)
    # binary CTP needs no shuffle: fine with 2 GOPs
    binary = build_pretext("ctp_binary", _Embedder(), ctp_pooling="clip")
    assert torch.isfinite(binary(batch).loss)


class _Embedder(torch.nn.Module):
    """Embeds a clip by its streams' means (enough to run the CTP head)."""

    embed_dim = 3

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(3))

    def embed(self, iframes, motion, residual):
        means = torch.stack([x.flatten(1).mean(1) for x in (iframes, motion, residual)], 1)
        return means * self.scale


def test_ctp_module_loss_and_gradients(fake_backbone, make_batch):
    for name, classes in (("ctp", 4), ("ctp_binary", 2)):
        pretext = build_pretext(name, fake_backbone, hidden_dim=16, seed=0)
        assert pretext.ctp_head[-1].out_features == classes
        output = pretext(make_batch())
        assert output.loss.dim() == 0 and torch.isfinite(output.loss)
        assert set(output.metrics) == {"ctp/loss", "ctp/acc", "loss"}
        output.loss.backward()
        assert pretext.backbone.convs["motion"].weight.grad is not None
        assert pretext.ctp_head[0].weight.grad.abs().sum() > 0


def test_describe_plan_tells_each_transform_apart():
    from imrkit.pretext.ctp import SHIFT, SHUFFLE, correspondence_plan, describe_plan

    generator = torch.Generator().manual_seed(0)
    described = {
        label: describe_plan(*correspondence_plan(torch.full((6,), label), 5, generator))
        for label in range(4)
    }
    assert described[0] == {
        "own clip": True,
        "other clip": False,
        "identity order": True,
        "rotation": True,
    }
    assert described[1]["other clip"] and described[1]["identity order"]
    assert described[SHUFFLE]["own clip"] and not described[SHUFFLE]["rotation"]
    assert described[SHIFT]["rotation"] and not described[SHIFT]["identity order"]


def _first_order(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per clip: mean and std of every channel of every stream (B x 16)."""
    stats = []
    for name in ("iframes", "motion", "residual"):
        values = batch[name].flatten(2)  # B x C x N
        stats += [values.mean(-1), values.std(-1)]
    return torch.cat(stats, dim=1)


def test_types_are_indistinguishable_from_first_order_statistics(make_batch):
    """The shortcut guard: no type changes what a clip's streams hold, only how I and P
    correspond. Shuffle and shift keep each clip's P-frames (so its statistics), random
    swaps whole P streams within the batch (so the batch's statistics are a permutation):
    a 'random' partner cannot be told by brightness, size or motion energy alone."""
    batch = make_batch()
    reference = _first_order(batch)
    generator = torch.Generator().manual_seed(0)
    size = len(reference)
    for label in (ALIGNED, SHUFFLE, SHIFT):
        labels = torch.full((size,), label)
        moved = apply_correspondence(batch, labels, generator)
        assert torch.allclose(_first_order(moved), reference, atol=1e-5)
        assert {k: v.shape for k, v in moved.items()} == {k: v.shape for k, v in batch.items()}
    moved = _first_order(apply_correspondence(batch, torch.full((size,), RANDOM), generator))
    assert torch.equal(moved[:, :6], reference[:, :6])  # I-frames untouched
    # Each clip got another clip's P statistics, and together they are the same set.
    matches = torch.cdist(moved[:, 6:], reference[:, 6:]) < 1e-5
    assert (matches.sum(1) == 1).all() and (matches.sum(0) == 1).all()
    assert not matches.diagonal().any()


def test_held_out_evaluation_counts_every_type(fake_backbone, make_batch):
    from imrkit.pretext.ctp import evaluate_ctp

    batch = make_batch(batch_size=10, size=32)
    clips = [{name: batch[name][i] for name in batch} for i in range(10)]
    pretext = build_pretext("ctp", fake_backbone, hidden_dim=8, seed=0)
    first = evaluate_ctp(pretext, clips, batch_size=4, passes=3, seed=5)
    assert first == evaluate_ctp(pretext, clips, batch_size=4, passes=3, seed=5)
    assert first["clips"] == 30  # 10 clips x 3 passes, batches of 4, 4 and 2
    assert set(first["per_type"]) == {"aligned", "random", "shuffle", "shift"}
    assert 0 <= first["accuracy"] <= 100
    assert pretext.training  # left as it was found
    # A head that always answers "random" is right on exactly the random draws.
    with torch.no_grad():
        pretext.ctp_head[-1].weight.zero_()
        pretext.ctp_head[-1].bias.copy_(torch.tensor([0.0, 10.0, 0.0, 0.0]))
    always_random = evaluate_ctp(pretext, clips, batch_size=4, passes=3, seed=5)
    assert always_random["per_type"]["random"] == 100.0
    assert always_random["per_type"]["aligned"] == always_random["per_type"]["shift"] == 0.0


def test_gop_pooling_keeps_the_gop_order():
    """With ``gop`` pooling the head sees one slot per GOP, so a shift changes its input;
    the clip embedding (a mean over time) cannot tell a shifted clip from the aligned one
    when the network mixes no frames (here: a per-frame backbone)."""
    from imrkit.pretext.ctp import ctp_embedding, ctp_head_dim

    class PerFrame(torch.nn.Module):
        embed_dim = 8

        def forward_features(self, iframes, motion, residual):
            return {"iframes": iframes, "motion": motion, "residual": residual}

        def embed(self, iframes, motion, residual):
            features = self.forward_features(iframes, motion, residual)
            return torch.cat([f.mean(dim=(2, 3, 4)) for f in features.values()], dim=1)

    backbone = PerFrame()
    batch = {
        "iframes": torch.randn(2, 3, 5, 4, 4),
        "motion": torch.randn(2, 2, 25, 4, 4),
        "residual": torch.randn(2, 3, 25, 4, 4),
    }
    shifted = apply_correspondence(batch, torch.tensor([SHIFT, SHIFT]))
    streams_of = lambda b: (b["iframes"], b["motion"], b["residual"])  # noqa: E731
    clip = [ctp_embedding(backbone, *streams_of(b), pooling="clip") for b in (batch, shifted)]
    gop = [ctp_embedding(backbone, *streams_of(b), pooling="gop") for b in (batch, shifted)]
    assert torch.allclose(clip[0], clip[1], atol=1e-6)
    assert not torch.allclose(gop[0], gop[1], atol=1e-3)
    assert gop[0].shape == (2, ctp_head_dim(backbone, "gop", 5)) == (2, 40)
    with pytest.raises(ConfigError, match="pooling"):
        ctp_embedding(backbone, *streams_of(batch), pooling="max")


def test_gop_pooled_ctp_trains_end_to_end(fake_backbone, make_batch):
    pretext = build_pretext("ctp", fake_backbone, hidden_dim=8, ctp_pooling="gop", seed=0)
    assert pretext.ctp_head[0].in_features == 5 * fake_backbone.embed_dim
    output = pretext(make_batch(size=32))
    output.loss.backward()
    assert pretext.ctp_head[0].weight.grad.abs().sum() > 0
