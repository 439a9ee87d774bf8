"""Hand-crafted motion features: the strongest simple baselines a learned representation
must beat (issue 21). No learning at all; each turns a clip's motion into a vector that
the frozen-feature protocols (:func:`imrkit.evaluate.probe.evaluate_embeddings`) then
classify and retrieve exactly as they do a network's embedding.

=====================  ====================================================================
name                   feature
=====================  ====================================================================
``pmsp_pyramid``       log(1 + motion energy) of every cell of the PMSP pyramid
                       (:func:`imrkit.transforms.pmsp_labels.pmsp_magnitudes`: the very
                       statistics whose argmax PMSP learns to predict), 27 x s^2 values
``motion_grid``        mean |motion| on a 4 x 4 grid of every P-frame (25 x 16 values)
=====================  ====================================================================
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from imrkit.evaluate.retrieval import Embeddings
from imrkit.transforms.pmsp_labels import pmsp_magnitudes

#: cells per side of ``motion_grid``
GRID = 4


def pmsp_pyramid(motion: torch.Tensor, num_gops: int) -> torch.Tensor:
    """``B x 2 x 5T x S x S`` motion -> ``B x F`` log pyramid energies."""
    cells = pmsp_magnitudes(motion, num_gops, layout="model", backend="torch")
    return torch.cat([torch.log1p(v.flatten(1)) for _, v in sorted(cells.items())], dim=1)


def motion_grid(motion: torch.Tensor, num_gops: int) -> torch.Tensor:
    """``B x 2 x 5T x S x S`` motion -> ``B x (5T * GRID^2)`` mean magnitudes per cell."""
    magnitude = motion.norm(dim=1)  # B x 5T x S x S
    pooled = torch.nn.functional.adaptive_avg_pool2d(magnitude, GRID)
    return pooled.flatten(1)


HANDCRAFTED: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "pmsp_pyramid": pmsp_pyramid,
    "motion_grid": motion_grid,
}


@torch.no_grad()
def handcrafted_embeddings(name: str, dataset, *, batch_size: int = 16) -> Embeddings:
    """The ``name`` feature (:data:`HANDCRAFTED`) of every clip of ``dataset`` (built with
    ``mode="eval"``), as :class:`Embeddings` (not L2-normalised: the protocols standardise
    each feature with the training clips' statistics)."""
    from imrkit.data.dataset import make_loader
    from imrkit.errors import ConfigError
    from imrkit.transforms.compact import model_inputs

    if name not in HANDCRAFTED:
        raise ConfigError(f"handcrafted feature {name!r}: unknown; known: {', '.join(HANDCRAFTED)}")
    feature = HANDCRAFTED[name]
    loader = make_loader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)
    features, indices, skipped = [], [], 0
    for batch in loader:
        skipped += batch["num_skipped"]
        if "motion" not in batch:
            continue
        motion = model_inputs(batch)["motion"]
        features.append(feature(motion, dataset.num_gops).float().numpy())
        indices.extend(batch["index"].tolist())
    records = [dataset.split.records[i] for i in indices]
    return Embeddings(
        np.concatenate(features) if features else np.zeros((0, 0), np.float32),
        np.array([r.label for r in records], np.int64),
        [str(r.path) for r in records],
        skipped,
    )
