"""Checkpoints of a run: accelerate states plus where the run was (``trainer_state.json``).

``checkpoints/step_N`` is saved every ``run.checkpoint_every`` optimizer updates and
``checkpoints/epoch_N`` at each epoch end. A checkpoint counts once its
``trainer_state.json`` exists, which is written last, so a run killed while saving leaves
an incomplete folder that :func:`list_checkpoints` ignores.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from imrkit.errors import ConfigError
from imrkit.train.config import RunConfig

STATE_FILE = "trainer_state.json"
CHECKPOINTS = "checkpoints"


@dataclass
class TrainerState:
    """Where a run is; saved beside each checkpoint.

    Attributes:
        step: optimizer updates done.
        epoch: the current epoch (0-based); equals the epochs done at an epoch boundary.
        batches_in_epoch: DataLoader batches of ``epoch`` already consumed.
        epoch_loss_sum: summed batch losses of ``epoch`` so far (all processes).
        epoch_batches: non-empty batches of ``epoch`` so far (all processes).
        epoch_skipped: unreadable videos skipped in ``epoch`` so far (all processes).
        total_skipped: unreadable videos skipped since the run began.
    """

    step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0
    epoch_loss_sum: float = 0.0
    epoch_batches: int = 0
    epoch_skipped: int = 0
    total_skipped: int = 0

    def start_epoch(self, epoch: int) -> None:
        self.epoch, self.batches_in_epoch = epoch, 0
        self.epoch_loss_sum, self.epoch_batches, self.epoch_skipped = 0.0, 0, 0


def read_trainer_state(checkpoint: Path) -> TrainerState:
    path = Path(checkpoint) / STATE_FILE
    try:
        return TrainerState(**json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError, TypeError) as error:
        raise ConfigError(f"{path}: not a complete imrkit checkpoint ({error})") from None


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first (by step; an epoch end after a step)."""
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if (p / STATE_FILE).is_file()]

    def order(path: Path) -> tuple[int, int]:
        return read_trainer_state(path).step, int(path.name.startswith("epoch_"))

    return sorted(found, key=order)


def resolve_resume(run: RunConfig) -> Path | None:
    """The checkpoint ``run.resume`` names: ``latest`` (None when the run has none) or a path."""
    if not run.resume:
        return None
    if run.resume == "latest":
        checkpoints = list_checkpoints(run.out_dir)
        return checkpoints[-1] if checkpoints else None
    path = Path(run.resume)
    if not (path / STATE_FILE).is_file():
        raise ConfigError(
            f"run.resume: {path} is not a complete checkpoint folder (no {STATE_FILE})"
        )
    return path


def save_checkpoint(accelerator, run_dir: Path, name: str, state: TrainerState, keep: int) -> Path:
    """accelerate ``save_state`` into ``checkpoints/name``, then the trainer state (last)."""
    path = run_dir / CHECKPOINTS / name
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        (path / STATE_FILE).write_text(json.dumps(asdict(state), indent=2) + "\n")
        if keep > 0:
            for old in list_checkpoints(run_dir)[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return path
