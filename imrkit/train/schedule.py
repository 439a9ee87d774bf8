"""Learning-rate schedule of SPEC section 4: linear warm-up, then a half-period cosine.

The schedule is a pure function of the optimizer step, so a resumed run (whose step comes
back from its checkpoint) follows exactly the curve of a run that was never stopped.
"""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR


def warmup_cosine(
    step: int, total_steps: int, warmup_steps: int, final_ratio: float = 0.0
) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` (0-based).

    Linear warm-up over ``warmup_steps`` (reaching 1 at the last warm-up step, never 0 at
    step 0), then ``final_ratio + (1 - final_ratio) * (1 + cos(pi * p)) / 2`` where ``p``
    goes from 0 to 1 over the remaining steps: half a cosine period, down to
    ``final_ratio``.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return final_ratio + (1.0 - final_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int, final_ratio: float = 0.0
) -> LambdaLR:
    """A per-step :class:`LambdaLR` following :func:`warmup_cosine`.

    Step it once per optimizer update (not per micro-batch under gradient accumulation).
    """
    return LambdaLR(
        optimizer, lambda step: warmup_cosine(step, total_steps, warmup_steps, final_ratio)
    )


def build_optimizer(
    parameters,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    *,
    decay_norms_and_biases: bool = True,
) -> torch.optim.SGD:
    """SGD with momentum and weight decay (SPEC section 4: 0.9 and 1e-4).

    Args:
        decay_norms_and_biases: apply weight decay to 1-D parameters (batch-norm scales and
            shifts, biases) too, as the paper's plain SGD does; False exempts them, the
            usual practice for ResNets.
    """
    decay, no_decay = [], []
    for parameter in parameters:
        if parameter.requires_grad:
            exempt = parameter.ndim <= 1 and not decay_norms_and_biases
            (no_decay if exempt else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return torch.optim.SGD(groups, lr=lr, momentum=momentum)
