"""Batch-norm statistics of an untrained network, estimated from data (issue 21).

A freshly initialised IMRNet's batch-norm layers hold mean 0 and variance 1, so in eval
mode they pass activations through unchanged and the streams keep whatever scale they
enter with: a frozen *random* network evaluated that way is a handicapped baseline, not
the random-features baseline of the literature. :func:`recalibrate_batchnorm` re-estimates
the running statistics from forward passes in train mode on unlabeled clips: no labels,
no gradients, no weight update (the "BN recalibration" of e.g. the SimCLR/MoCo linear
evaluation protocols and of stochastic weight averaging).
"""

from __future__ import annotations

import torch
from torch import nn


def batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module,
    dataset,
    *,
    max_clips: int = 160,
    batch_size: int = 16,
    device: str | torch.device | None = None,
) -> int:
    """Replace every batch-norm layer's running mean and variance by their average over
    up to ``max_clips`` clips of ``dataset`` (in dataset order), and return the clips used.

    The model runs ``embed`` in train mode for this (batch statistics), with each layer's
    momentum set to None (a cumulative average, independent of the batch order), then
    goes back to the mode it was in. Parameters are not touched.
    """
    from imrkit.data.dataset import make_loader
    from imrkit.transforms.compact import model_inputs

    layers = batchnorm_layers(model)
    if not layers or max_clips <= 0:
        return 0
    device = torch.device(device) if device else next(model.parameters()).device
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None
    was_training = model.training
    model.train()
    used = 0
    loader = make_loader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)
    try:
        for batch in loader:
            if "iframes" not in batch:
                continue
            inputs = model_inputs(batch, device)
            take = min(len(inputs["iframes"]), max_clips - used)
            if take < 2:  # batch statistics of one clip are not statistics
                break
            model.embed(*(inputs[k][:take] for k in ("iframes", "motion", "residual")))
            used += take
            if used >= max_clips:
                break
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
        model.train(was_training)
    return used
