"""Opening the model an evaluation runs: a module as given, or a saved one, on a device."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from imrkit.runs import resolve_model_dir


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device``, or CUDA when available, else the CPU."""
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def open_model(
    model_or_dir: nn.Module | str | Path, device: str | torch.device | None = None
) -> tuple[nn.Module, torch.device]:
    """``(model, device)``: ``model_or_dir`` moved to the device when it is a module, else
    the model saved there (a saved model folder or a run folder, pretraining or
    finetuning) loaded onto it."""
    from imrkit.models import load_model

    device = pick_device(device)
    if isinstance(model_or_dir, nn.Module):
        return model_or_dir.to(device), device
    return load_model(resolve_model_dir(model_or_dir), device=device), device
