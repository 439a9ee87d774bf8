"""Baselines (Table 3): rotation with rotated vectors, arrow of time, InfoNCE views; registry."""

from __future__ import annotations

import pytest
import torch

from imrkit.errors import ConfigError, ShapeError
from imrkit.pretext import PRETEXTS, PretextOutput, build_pretext, pretext_options
from imrkit.pretext.baselines import random_view, reverse_gop_order, rotate_batch
from imrkit.transforms.functional import rotate90_clip, rotate_motion_vectors


def centroid(frame: torch.Tensor) -> torch.Tensor:
    """(x, y) = (column, row) centre of the bright pixels of an H x W frame."""
    rows, cols = torch.nonzero(frame > 0.5, as_tuple=True)
    return torch.stack([cols.float().mean(), rows.float().mean()])


def translation_batch(dx: int, dy: int, size: int = 32) -> dict[str, torch.Tensor]:
    """I-frame 0 shows a square at (8, 10); I-frame 1 the same square moved by (dx, dy);
    every P-frame's motion says (dx, dy) everywhere."""
    iframes = torch.zeros(1, 3, 5, size, size)
    iframes[:, :, 0, 10:16, 8:14] = 1.0
    iframes[:, :, 1, 10 + dy : 16 + dy, 8 + dx : 14 + dx] = 1.0
    motion = torch.zeros(1, 2, 25, size, size)
    motion[:, 0], motion[:, 1] = float(dx), float(dy)
    return {"iframes": iframes, "motion": motion, "residual": torch.zeros(1, 3, 25, size, size)}


@pytest.mark.parametrize("dx,dy", [(5, 0), (0, 4), (6, -3)])
def test_rotated_motion_vectors_match_the_rotated_translation(dx, dy):
    batch = translation_batch(dx, dy)
    for turns in range(4):
        rotated = rotate_batch(batch, torch.tensor([turns]))
        frames = rotated["iframes"][0, 0]
        moved = centroid(frames[1]) - centroid(frames[0])
        vector = rotated["motion"][0, :, 7, 3, 3]
        torch.testing.assert_close(vector, moved, msg=f"{turns} quarter turns")
        if turns:
            assert not torch.equal(rotated["iframes"], batch["iframes"])


def test_rotation_round_trip_and_per_clip_angles(make_batch):
    batch = make_batch(batch_size=4, size=16)
    motion = batch["motion"]
    assert torch.equal(rotate90_clip(rotate90_clip(motion, 1, True), 3, True), motion)
    assert torch.equal(rotate_motion_vectors(motion, 4), motion)
    out = rotate_batch(batch, torch.tensor([0, 1, 2, 3]))
    for index in range(4):
        for name in ("iframes", "residual"):
            expected = torch.rot90(batch[name][index], index, dims=(-2, -1))
            assert torch.equal(out[name][index], expected)
    with pytest.raises(ShapeError, match="square"):
        rotate_batch({k: v[..., :8] for k, v in batch.items()}, torch.zeros(4, dtype=torch.long))


def test_arrow_of_time_reverses_gop_order_only(make_id_batch):
    batch = make_id_batch(batch_size=2)
    out = reverse_gop_order(batch, torch.tensor([False, True]))
    assert all(torch.equal(out[k][0], batch[k][0]) for k in ("iframes", "motion", "residual"))
    assert out["iframes"][1, 0, :, 0, 0].tolist() == [1040, 1030, 1020, 1010, 1000]
    ids = out["motion"][1, 0, :, 0, 0] - 1000
    gops, frames = (ids // 10).view(5, 5), (ids % 10).view(5, 5)
    assert gops[:, 0].tolist() == [4, 3, 2, 1, 0]
    assert (frames == torch.arange(5.0)).all()  # P-frames keep their order inside a GOP
    assert (out["motion"][1] >= 0).all()  # vectors are not negated
    assert torch.equal(out["residual"][1, 0], out["motion"][1, 0] + 0.25)


def test_infonce_views_keep_streams_consistent(make_batch):
    batch = make_batch(batch_size=3, size=32)
    same = random_view(batch, min_scale=1.0, flip_prob=0.0)
    assert all(torch.allclose(same[k], batch[k], atol=1e-5) for k in ("iframes", "motion"))
    flat = {k: torch.zeros_like(v) for k, v in batch.items()}
    flat["motion"][:, 0], flat["motion"][:, 1] = 2.0, -1.0
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        view = random_view(flat, min_scale=0.5, flip_prob=0.5, generator=generator)
        assert view["motion"].shape == flat["motion"].shape
        scale_x = view["motion"][:, 0, 0, 0, 0].abs() / 2.0
        # the crop is square: both components grow by the same factor in [1, 2]
        torch.testing.assert_close(view["motion"][:, 1, 0, 0, 0], -scale_x)
        assert ((scale_x >= 1 - 1e-5) & (scale_x <= 2 + 1e-5)).all()


@pytest.mark.parametrize("name", sorted(PRETEXTS))
def test_every_pretext_trains_its_backbone_and_heads(name, fake_backbone, make_batch):
    options = {"seed": 0} if "seed" in pretext_options(name) else {}
    pretext = build_pretext(name, fake_backbone, hidden_dim=16, **options)
    assert pretext.backbone is fake_backbone
    output = pretext(make_batch(batch_size=4, size=64))
    assert isinstance(output, PretextOutput)
    assert output.loss.dim() == 0 and torch.isfinite(output.loss)
    # Metrics stay detached 0-dim tensors (no sync in the step); read as floats when logged.
    assert all(
        isinstance(value, torch.Tensor) and value.dim() == 0 and not value.requires_grad
        for value in output.metrics.values()
    )
    logged = output.metric_floats()
    assert all(isinstance(value, float) for value in logged.values())
    assert logged["loss"] == pytest.approx(output.loss.item(), rel=1e-5)
    output.loss.backward()
    heads = [p for n, p in pretext.named_parameters() if not n.startswith("backbone.")]
    assert heads and all(p.grad is not None for p in heads)
    assert fake_backbone.convs["iframes"].weight.grad.abs().sum() > 0


def test_build_pretext_rejects_unknown_names_and_options(fake_backbone):
    with pytest.raises(ConfigError, match="unknown name"):
        build_pretext("jigsaw", fake_backbone)
    with pytest.raises(ConfigError, match="temprature"):
        build_pretext("infonce", fake_backbone, temprature=0.1)
    assert pretext_options("pmsp+ctp")["ctp_weight"] == 1.0
    assert "binary" not in pretext_options("ctp_binary")
    assert build_pretext("pmsp+ctp", fake_backbone, ctp_weight=0.5).ctp_weight == 0.5


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_pretexts_and_labels_stay_on_the_batch_device(fake_backbone, make_batch):
    from imrkit.transforms.pmsp_labels import pmsp_labels

    device = torch.device("cuda")
    batch = {k: v.to(device) for k, v in make_batch(batch_size=4, size=64).items()}
    gpu = pmsp_labels(batch["motion"], layout="model")
    cpu = pmsp_labels(batch["motion"].cpu(), layout="model")
    assert all(gpu[k].device.type == "cuda" and torch.equal(gpu[k].cpu(), cpu[k]) for k in cpu)
    for name in ("pmsp+ctp", "rotation", "aot", "infonce"):
        pretext = build_pretext(name, fake_backbone.to(device), hidden_dim=16).to(device)
        output = pretext(batch)
        output.loss.backward()
        assert output.loss.device.type == "cuda"
