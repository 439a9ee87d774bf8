"""What a PMSP-pretrained network predicts for one clip (for notebook 03).

``predict_pmsp(run_dir, sample)`` rebuilds the pretext module of a pretraining run (backbone
and heads, from ``pretext.safetensors``) and returns, for every pyramid level r = (s, t),
the predicted cell of each of the t windows: the argmax of the level's head, to compare
with the labels of :func:`imrkit.pmsp_labels` (Algorithm 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from imrkit.errors import ConfigError
from imrkit.runs import PRETEXT_WEIGHTS, read_run_config
from imrkit.transforms.compact import STREAMS, is_compact, model_inputs


def load_pretext(run_dir: str | Path, *, device: str | torch.device = "cpu") -> nn.Module:
    """The pretext module (backbone + heads) a pretraining run saved, in eval mode."""
    from safetensors.torch import load_file

    from imrkit.config import from_dict
    from imrkit.train.config import PretrainConfig
    from imrkit.train.pretraining import build_pretext_model

    run_dir = Path(run_dir)
    weights = run_dir / PRETEXT_WEIGHTS
    if not weights.is_file():
        raise ConfigError(f"{weights}: not found (is {run_dir} a finished pretraining run?)")
    config = from_dict(PretrainConfig, read_run_config(run_dir))
    pretext = build_pretext_model(config)
    pretext.load_state_dict(_renamed_legacy_keys(load_file(str(weights), device="cpu"), pretext))
    return pretext.to(device).eval()


def _renamed_legacy_keys(state: dict, pretext: nn.Module) -> dict:
    """Runs saved before PMSP alone named its heads ``pmsp_heads`` (as PMSP+CTP does) kept
    them under ``heads.``: rename those keys so that such runs still load."""
    if not hasattr(pretext, "pmsp_heads") or hasattr(pretext, "heads"):
        return state
    prefix = "heads."
    return {
        ("pmsp_" + key if key.startswith(prefix) else key): value for key, value in state.items()
    }


def _pmsp_heads(pretext: nn.Module) -> nn.Module:
    heads = getattr(pretext, "pmsp_heads", None)
    if heads is None:
        raise ConfigError(f"{type(pretext).__name__} has no PMSP heads (pretext without PMSP?)")
    return heads


@torch.no_grad()
def predict_pmsp(
    pretext_or_run_dir: nn.Module | str | Path, sample: dict[str, torch.Tensor]
) -> dict[tuple[int, int], np.ndarray]:
    """Predicted PMSP cells of a clip: {(s, t): int array (t,)} (or (B, t) for a batch).

    Args:
        pretext_or_run_dir: a PMSP or PMSP+CTP module, or a pretraining run folder.
        sample: a dataset sample (compact, or float ``"iframes"`` 3 x T x S x S,
            ``"motion"``, ``"residual"``) or a batch of them (leading B axis).
    """
    pretext = pretext_or_run_dir
    if not isinstance(pretext, nn.Module):
        pretext = load_pretext(pretext)
    heads = _pmsp_heads(pretext)
    device = next(pretext.parameters()).device
    single = torch.as_tensor(sample["iframes"]).ndim == 4
    batch = {k: torch.as_tensor(v) for k, v in sample.items() if k in STREAMS}
    if single:
        batch = {k: v.unsqueeze(0) for k, v in batch.items()}
    if is_compact(sample):
        batch["normalization"] = sample["normalization"]
    batch = model_inputs(batch, device)
    streams = [batch[k] for k in STREAMS]
    was_training = pretext.training
    pretext.eval()
    features = pretext.backbone.forward_features(*streams)
    logits = heads(features, streams[0].shape[2])  # {(s, t): B x t x s^2}
    pretext.train(was_training)
    cells = {level: value.argmax(dim=-1).cpu().numpy() for level, value in logits.items()}
    return {level: value[0] if single else value for level, value in cells.items()}
