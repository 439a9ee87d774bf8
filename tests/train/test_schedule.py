"""Linear warm-up + half-period cosine, per optimizer step; the SGD groups."""

from __future__ import annotations

import math

import pytest
import torch

from imrkit.train.schedule import build_optimizer, build_scheduler, warmup_cosine


def test_warmup_is_linear_and_never_zero():
    assert [warmup_cosine(s, 100, 4) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]


def test_cosine_is_half_a_period_after_warmup():
    total, warmup = 110, 10
    assert warmup_cosine(10, total, warmup) == pytest.approx(1.0)
    assert warmup_cosine(60, total, warmup) == pytest.approx(0.5)  # half-way: cos(pi/2)
    assert warmup_cosine(35, total, warmup) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert warmup_cosine(110, total, warmup) == pytest.approx(0.0)
    assert warmup_cosine(500, total, warmup) == pytest.approx(0.0)  # clamped past the end
    assert warmup_cosine(110, total, warmup, final_ratio=0.1) == pytest.approx(0.1)
    values = [warmup_cosine(s, total, warmup) for s in range(warmup, total + 1)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    assert warmup_cosine(0, 10, 0) == pytest.approx(1.0)  # no warm-up at all


def test_scheduler_steps_per_update():
    weight = torch.nn.Parameter(torch.zeros(2, 2))
    optimizer = build_optimizer([weight], lr=0.4)
    scheduler = build_scheduler(optimizer, total_steps=6, warmup_steps=2)
    rates = []
    for _ in range(6):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates == pytest.approx(
        [
            0.2,
            0.4,
            0.4,
            0.4 * 0.5 * (1 + math.cos(math.pi / 4)),
            0.2,
            0.4 * 0.5 * (1 + math.cos(3 * math.pi / 4)),
        ]
    )


def test_optimizer_is_sgd_with_the_paper_settings():
    matrix, bias = torch.nn.Parameter(torch.zeros(3, 3)), torch.nn.Parameter(torch.zeros(3))
    frozen = torch.nn.Parameter(torch.zeros(3), requires_grad=False)
    optimizer = build_optimizer([matrix, bias, frozen], lr=0.1)
    assert isinstance(optimizer, torch.optim.SGD)
    (group,) = optimizer.param_groups
    assert group["momentum"] == 0.9 and group["weight_decay"] == 1e-4
    assert len(group["params"]) == 2  # frozen parameters are left out
    groups = build_optimizer([matrix, bias], lr=0.1, decay_norms_and_biases=False).param_groups
    assert [(len(g["params"]), g["weight_decay"]) for g in groups] == [(1, 1e-4), (1, 0.0)]
