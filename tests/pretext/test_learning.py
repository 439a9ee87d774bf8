"""A real learning signal: imrnet_tiny's PMSP + CTP loss falls on clips of the sample data."""

from __future__ import annotations

import pytest
import torch

from imrkit.codec.reader import read_clip
from imrkit.models import build_model
from imrkit.pretext import build_pretext
from imrkit.transforms import TransformConfig, eval_transform


@pytest.fixture
def one_thread():
    # Tiny 3D convs gain nothing from a second thread, and OpenMP's spinning makes them
    # 10x slower when the cores are shared (measured: 0.3 s vs 5 s per step under load).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_pmsp_ctp_loss_falls_on_sample_clips(sample_dataset, one_thread):
    # Four clips of different classes, read by the real reader and transformed (64 x 64
    # crops of the whole shorter side, PMSP labels from the transformed motion), cached.
    videos = sorted(sample_dataset.rglob("*.avi"))[::5][:4]
    transform = eval_transform(TransformConfig(crop_size=64, short_side=64, pmsp_labels=True))
    samples = [transform(read_clip(video, num_gops=5)) for video in videos]
    batch = {key: torch.stack([sample[key] for sample in samples]) for key in samples[0]}
    assert batch["pmsp"].shape == (4, 27)

    torch.manual_seed(0)
    pretext = build_pretext("pmsp+ctp", build_model("imrnet_tiny"), hidden_dim=64, seed=0)
    optimizer = torch.optim.Adam(pretext.parameters(), lr=1e-3)
    losses, accuracies = [], []
    for _ in range(10):
        output = pretext(batch)
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
        losses.append(output.loss.item())
        accuracies.append(output.metric_floats()["pmsp/acc"])
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.5 * first, losses
    assert sum(accuracies[-3:]) / 3 > sum(accuracies[:3]) / 3 + 0.2, accuracies
