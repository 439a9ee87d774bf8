"""The training loop, on accelerate (as in its ``examples/complete_cv_example.py``).

One loop serves pretraining and finetuning: a :class:`TrainTask` brings the model, the
training DataLoader, a loss function and optionally an evaluation; :func:`fit` prepares
them with an :class:`accelerate.Accelerator` and runs epochs of
``accumulate -> loss -> backward -> step``, so the same code runs on one CPU, one GPU, and
under ``accelerate launch`` on several GPUs or nodes (DDP), with mixed precision and
gradient accumulation as options.

What the loop guarantees:

- Schedule per optimizer update (warm-up then half-period cosine, :mod:`.schedule`).
- Checkpoints (accelerate ``save_state``: model, optimizer, scheduler, RNG states, plus
  ``trainer_state.json``: step, epoch, position in the epoch) every ``checkpoint_every``
  updates as ``checkpoints/step_N`` and at each epoch end as ``checkpoints/epoch_N``
  (:mod:`.checkpoints`).
- ``resume``: load the state and skip the batches already seen in the interrupted epoch
  (``skip_first_batches``). With the data randomness keyed by (seed, epoch, index)
  (:class:`imrkit.data.dataset.EpochSampler`), a resumed run sees the same batches, takes
  the same steps with the same learning rates, and ends where an uninterrupted one ends.
- A NaN or infinite loss stops the run with :class:`DivergedError` before the update, so
  the weights and the checkpoints on disk stay the last good ones.
- SIGTERM or SIGUSR1 (a scheduler about to preempt the job) ends the run after the current
  update with a checkpoint and :class:`~imrkit.train.preemption.Preempted`.
- Unreadable videos skipped by the dataset are counted and reported at each epoch end
  (console and metrics CSV).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from imrkit.errors import ConfigError, ImrkitError
from imrkit.pretext.base import metric_floats
from imrkit.runs import RUN_CONFIG
from imrkit.train.checkpoints import (
    CHECKPOINTS,
    TrainerState,
    read_trainer_state,
    resolve_resume,
    save_checkpoint,
)
from imrkit.train.config import OptimConfig, RunConfig
from imrkit.train.exit_order import leave_last_at_exit
from imrkit.train.metrics_log import MetricsLog
from imrkit.train.preemption import Preempted, PreemptionWatcher
from imrkit.train.schedule import build_optimizer, build_scheduler
from imrkit.transforms.compact import model_inputs

# (model, batch) -> (loss, metrics); metrics may be detached tensors, read only when logged.
LossFn = Callable[[nn.Module, dict], tuple[torch.Tensor, dict[str, Any]]]
EvalFn = Callable[[nn.Module, Any, Any], dict[str, float]]


class TrainingError(ImrkitError, RuntimeError):
    """Training cannot go on (the message says why and what is kept)."""


class DivergedError(TrainingError):
    """The loss became NaN or infinite; nothing of that step was applied or saved."""


@dataclass
class TrainTask:
    """What :func:`fit` trains.

    Attributes:
        name: "pretrain" or "finetune" (tracker project name).
        model: the module whose parameters are optimised.
        train_loader: its DataLoader; ``train_loader.sampler`` has ``set_epoch``.
        loss_fn: ``(prepared_model, batch) -> (loss, metrics)``.
        eval_loader: optional DataLoader for ``eval_fn``.
        eval_fn: ``(prepared_model, prepared_eval_loader, accelerator) -> metrics``, run
            every ``eval_every`` epochs.
        eval_every: epochs between evaluations (0: never).
    """

    name: str
    model: nn.Module
    train_loader: Any
    loss_fn: LossFn
    eval_loader: Any = None
    eval_fn: EvalFn | None = None
    eval_every: int = 1


@dataclass
class FitResult:
    """What :func:`fit` leaves behind.

    Attributes:
        model: the trained module, unwrapped from DDP.
        state: the final :class:`TrainerState`.
        metrics: the last epoch's row of the metrics log.
        interrupted: a :class:`Callback` stopped the run (as if killed).
        last_checkpoint: the newest complete checkpoint folder, if any.
    """

    model: nn.Module
    state: TrainerState
    metrics: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False
    last_checkpoint: Path | None = None


# --------------------------------------------------------------------------- setup


def resolve_trackers(name: str) -> list[str] | None:
    """accelerate ``log_with``: ``auto`` is TensorBoard when it is installed, else none."""
    if name == "none":
        return None
    if name == "auto":
        import importlib.util

        installed = any(importlib.util.find_spec(m) for m in ("tensorboard", "tensorboardX"))
        return ["tensorboard"] if installed else None
    return [name]


def create_accelerator(run: RunConfig, optim: OptimConfig):
    """An :class:`accelerate.Accelerator` configured from the run and optimizer configs."""
    from accelerate import Accelerator, DistributedDataParallelKwargs
    from accelerate.utils import ProjectConfiguration

    if run.threads:
        torch.set_num_threads(run.threads)
    if optim.gradient_accumulation_steps < 1:
        raise ConfigError("optim.gradient_accumulation_steps must be >= 1")
    # Several processes (torchrun / `accelerate launch --multi_gpu`) on a machine without a
    # GPU: train on the CPU, so that accelerate joins them with gloo (CPU DDP) instead of
    # running independent copies.
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    return Accelerator(
        cpu=run.cpu or (launched and not torch.cuda.is_available()),
        mixed_precision=run.mixed_precision,
        gradient_accumulation_steps=optim.gradient_accumulation_steps,
        log_with=resolve_trackers(run.trackers),
        project_config=ProjectConfiguration(
            project_dir=run.out_dir, logging_dir=str(Path(run.out_dir) / "logs")
        ),
        kwargs_handlers=[
            DistributedDataParallelKwargs(find_unused_parameters=run.find_unused_parameters)
        ],
    )


def prepare_run_dir(accelerator, run: RunConfig, config_dict: dict) -> Path:
    """Create the run folder and write ``config.json`` (main process); refuse to mix runs.

    A folder that already holds checkpoints is only reused with ``run.resume``.
    """
    run_dir = Path(run.out_dir)
    checkpoints = run_dir / CHECKPOINTS
    if accelerator.is_main_process:
        if not run.resume and checkpoints.is_dir() and any(checkpoints.iterdir()):
            raise ConfigError(
                f"{run_dir} already holds checkpoints of a run: pass "
                "run.resume=latest (--resume) to continue it, or another "
                "run.out_dir"
            )
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / RUN_CONFIG).write_text(json.dumps(config_dict, indent=2) + "\n")
    accelerator.wait_for_everyone()
    return run_dir


# --------------------------------------------------------------------------- the loop


def _batch_loss(task: TrainTask, model: nn.Module, batch: dict, last_batch: dict | None):
    """The task's loss; for a batch whose videos all failed, a zero loss that still runs
    forward and backward (on the previous batch), so DDP processes stay in step."""
    if "iframes" in batch:
        return task.loss_fn(model, batch)
    if last_batch is None:  # the very first batch: no forward to repeat
        return sum(p.sum() * 0.0 for p in model.parameters() if p.requires_grad), {}
    loss, _ = task.loss_fn(model, last_batch)
    return loss * 0.0, {}


class _Window:
    """Running sums between two ``train`` rows of the metrics log.

    Losses and metrics are summed as detached tensors on their device and read back only
    when a row is written, so that a training step does not wait for the device.
    """

    def __init__(self):
        self.loss_sum: torch.Tensor | float = 0.0  # summed batch losses (this process)
        self.metrics: dict[str, torch.Tensor | float] = {}
        self.batches, self.clips = 0, 0
        self.start = time.perf_counter()

    def add(self, loss: torch.Tensor, clips: int, metrics: dict[str, Any]) -> None:
        self.loss_sum = self.loss_sum + loss.detach().float()
        self.batches, self.clips = self.batches + 1, self.clips + clips
        for key, value in metrics.items():
            value = value.detach() if isinstance(value, torch.Tensor) else float(value)
            self.metrics[key] = self.metrics.get(key, 0.0) + value

    def row(self, accelerator, step: int, epoch: int, lr: float) -> dict[str, Any]:
        """The row: loss averaged over every process, other metrics over this one."""
        loss_sum = torch.as_tensor(self.loss_sum, dtype=torch.float32).cpu()
        totals = torch.stack([loss_sum, torch.tensor(float(self.batches))])
        totals = accelerator.reduce(totals.to(accelerator.device), "sum").cpu()
        elapsed = time.perf_counter() - self.start
        row = {
            "kind": "train",
            "step": step,
            "epoch": epoch,
            "loss": (totals[0] / max(totals[1], 1)).item(),
            "lr": lr,
            "clips_per_s": self.clips * accelerator.num_processes / elapsed,
        }
        metrics = metric_floats(self.metrics)
        row.update({k: v / max(self.batches, 1) for k, v in metrics.items() if k not in row})
        return row


class _EpochSums:
    """This process's epoch counters since they were last folded into the trainer state."""

    def __init__(self):
        self.loss: torch.Tensor | float = 0.0
        self.batches, self.skipped = 0, 0

    def fold_into(self, accelerator, state: TrainerState) -> None:
        """Add the counters, summed over processes, into ``state``; start again from zero."""
        loss = torch.as_tensor(self.loss, dtype=torch.float64).cpu().reshape(1)
        counts = torch.tensor([self.batches, self.skipped], dtype=torch.float64)
        totals = accelerator.reduce(torch.cat([loss, counts]).to(accelerator.device), "sum")
        loss_sum, batches, skipped = totals.cpu().tolist()
        state.epoch_loss_sum += loss_sum
        state.epoch_batches += int(batches)
        state.epoch_skipped += int(skipped)
        self.loss, self.batches, self.skipped = 0.0, 0, 0


def _flat_config(values: dict, prefix: str = "") -> dict[str, Any]:
    """Tracker hyper-parameters must be scalars: nested keys dotted, sequences as text."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flat_config(value, f"{prefix}{key}."))
        elif isinstance(value, (list, tuple)):
            flat[f"{prefix}{key}"] = str(list(value))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


class Callback:
    """Hooks into :func:`fit`; subclass and override what you need (these do nothing).

    Tests use them to inject faults (a NaN loss, a run killed mid-epoch) without knobs in
    the user-facing config.
    """

    def on_loss(self, loss: torch.Tensor, state: TrainerState) -> torch.Tensor:
        """Called with every batch's loss before the divergence check and the backward pass
        of update ``state.step + 1``; returns the loss to use."""
        return loss

    def on_step_end(self, state: TrainerState) -> bool:
        """Called after every optimizer update (and its checkpoint, if any). Return True to
        end the run there, as if killed: nothing more is saved and the result is
        ``interrupted``."""
        return False


@dataclass
class _Loop:
    """What :func:`fit` prepared and what it carries from one batch and epoch to the next."""

    accelerator: Any
    task: TrainTask
    optim: OptimConfig
    run: RunConfig
    run_dir: Path
    model: nn.Module
    optimizer: Any
    scheduler: Any
    train_loader: Any
    eval_loader: Any
    batches_per_epoch: int
    state: TrainerState
    log: MetricsLog
    callbacks: Sequence[Callback]
    last_checkpoint: Path | None = None
    lr: float = 0.0
    window: _Window = field(default_factory=_Window)
    last_batch: dict | None = None
    last_row: dict[str, Any] = field(default_factory=dict)
    preemption: PreemptionWatcher | None = None

    def result(self, interrupted: bool) -> FitResult:
        leave_last_at_exit()  # multi-node torchrun: a clean exit barrier (.exit_order)
        model = self.accelerator.unwrap_model(self.model)
        return FitResult(model, self.state, self.last_row, interrupted, self.last_checkpoint)


def _setup(accelerator, task, optim, run, config_dict, callbacks) -> _Loop:
    """Run folder, optimizer, prepared model and loaders, schedule, resumed state, log."""
    from accelerate.utils import set_seed

    run_dir = prepare_run_dir(accelerator, run, config_dict)
    if run.channels_last:
        task.model.to(memory_format=torch.channels_last_3d)
    optimizer = build_optimizer(
        task.model.parameters(),
        optim.lr,
        optim.momentum,
        optim.weight_decay,
        decay_norms_and_biases=optim.decay_norms_and_biases,
    )
    model, optimizer, train_loader = accelerator.prepare(task.model, optimizer, task.train_loader)
    eval_loader = accelerator.prepare(task.eval_loader) if task.eval_loader is not None else None
    batches_per_epoch = len(train_loader)
    if batches_per_epoch == 0:
        raise ConfigError("the training set is smaller than one batch; lower optim.batch_size")
    updates_per_epoch = math.ceil(batches_per_epoch / optim.gradient_accumulation_steps)
    total_steps = updates_per_epoch * optim.epochs
    # Not prepared: accelerate would step a prepared scheduler once per process per update;
    # ours counts optimizer updates, so it is stepped here and only registered for saving.
    scheduler = build_scheduler(
        optimizer, total_steps, round(optim.warmup_epochs * updates_per_epoch), optim.final_lr_ratio
    )
    accelerator.register_for_checkpointing(scheduler)

    state = TrainerState()
    resume_from = resolve_resume(run)
    if resume_from is not None:
        accelerator.load_state(str(resume_from))
        state = read_trainer_state(resume_from)
        accelerator.print(
            f"resumed from {resume_from} at step {state.step}, epoch "
            f"{state.epoch + 1}, batch {state.batches_in_epoch}"
        )
    else:
        if run.resume:
            accelerator.print(f"no checkpoint in {run_dir / CHECKPOINTS}: starting afresh")
        # Different processes draw different CTP/dropout randomness from here on.
        set_seed(run.seed, device_specific=True)

    log = MetricsLog(run_dir / "metrics.csv", enabled=accelerator.is_main_process)
    log.truncate_after(state.step if resume_from is not None else -1)
    accelerator.init_trackers(task.name, config=_flat_config(config_dict))
    accelerator.print(
        f"{task.name}: {batches_per_epoch} batches x {optim.epochs} epochs = "
        f"{total_steps} updates on {accelerator.num_processes} process(es), "
        f"device {accelerator.device}; run folder {run_dir}"
    )
    return _Loop(
        accelerator=accelerator,
        task=task,
        optim=optim,
        run=run,
        run_dir=run_dir,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        train_loader=train_loader,
        eval_loader=eval_loader,
        batches_per_epoch=batches_per_epoch,
        state=state,
        log=log,
        callbacks=tuple(callbacks),
        last_checkpoint=resume_from,
        lr=optimizer.param_groups[0]["lr"],
    )


def _epoch_batches(loop: _Loop, epoch: int):
    """The epoch's loader (past the batches a resumed run already saw), in a progress bar."""
    from tqdm.auto import tqdm

    state, accelerator = loop.state, loop.accelerator
    # accelerate's loaders call set_epoch(their own iteration count) on the sampler when
    # iterated: keep that count equal to the epoch, also after a resume and in the fresh
    # loader skip_first_batches makes.
    loop.train_loader.set_epoch(epoch)
    loop.task.train_loader.sampler.set_epoch(epoch)
    loader = loop.train_loader
    if state.batches_in_epoch:
        loader = accelerator.skip_first_batches(loop.train_loader, state.batches_in_epoch)
        loader.set_epoch(epoch)
    return tqdm(
        loader,
        total=loop.batches_per_epoch,
        initial=state.batches_in_epoch,
        desc=f"{loop.task.name} epoch {epoch + 1}/{loop.optim.epochs}",
        leave=False,
        disable=not (loop.run.progress and accelerator.is_local_main_process),
    )


def _train_step(loop: _Loop, batch: dict, sums: _EpochSums) -> None:
    """Forward, divergence check, backward and (when gradients sync) the optimizer update."""
    accelerator, state, model = loop.accelerator, loop.state, loop.model
    state.batches_in_epoch += 1
    sums.skipped += batch["num_skipped"]
    # compact streams -> normalised float, on the device
    batch = model_inputs(batch, channels_last=loop.run.channels_last)
    with accelerator.accumulate(model):
        loss, metrics = _batch_loss(loop.task, model, batch, loop.last_batch)
        for callback in loop.callbacks:
            loss = callback.on_loss(loss, state)
        _check_finite(accelerator, loss, state, loop.last_checkpoint)
        accelerator.backward(loss)
        if accelerator.sync_gradients and loop.optim.max_grad_norm > 0:
            accelerator.clip_grad_norm_(model.parameters(), loop.optim.max_grad_norm)
        loop.optimizer.step()
        loop.optimizer.zero_grad()
    if "iframes" in batch:
        sums.loss, sums.batches = sums.loss + loss.detach().float(), sums.batches + 1
        loop.window.add(loss, len(batch["iframes"]), metrics)
        loop.last_batch = batch


def _after_update(loop: _Loop, epoch: int, sums: _EpochSums, bar) -> bool:
    """Schedule, log row and mid-epoch checkpoint of an update; True to stop the run."""
    accelerator, state, run = loop.accelerator, loop.state, loop.run
    loop.lr = loop.optimizer.param_groups[0]["lr"]  # the rate this update used
    loop.scheduler.step()
    state.step += 1
    if state.step % run.log_every == 0:
        row = loop.window.row(accelerator, state.step, epoch + 1, loop.lr)
        loop.log.append(row)
        accelerator.log({k: v for k, v in row.items() if k != "kind"}, step=state.step)
        bar.set_postfix(loss=f"{row['loss']:.3f}", lr=f"{loop.lr:.2e}")
        loop.window = _Window()
    end_of_epoch = state.batches_in_epoch >= loop.batches_per_epoch
    if run.checkpoint_every and state.step % run.checkpoint_every == 0 and not end_of_epoch:
        sums.fold_into(accelerator, state)
        loop.last_checkpoint = save_checkpoint(
            accelerator, loop.run_dir, f"step_{state.step}", state, run.keep_checkpoints
        )
    if loop.preemption is not None and loop.preemption.requested(accelerator):
        if not end_of_epoch:  # at an epoch end, fit stops after the epoch's checkpoint
            _save_preempted(loop, sums)
    stop = False
    for callback in loop.callbacks:
        stop = callback.on_step_end(state) or stop
    return stop


def _train_epoch(loop: _Loop, epoch: int) -> bool:
    """One pass over the training batches (the rest of it after a resume); True when a
    callback stopped the run."""
    if loop.state.batches_in_epoch == 0:
        loop.state.start_epoch(epoch)
    loop.model.train()
    sums = _EpochSums()
    bar = _epoch_batches(loop, epoch)
    for batch in bar:
        _train_step(loop, batch, sums)
        if not loop.accelerator.sync_gradients:
            continue
        if _after_update(loop, epoch, sums, bar):
            bar.close()
            loop.accelerator.print(f"stopped after {loop.state.step} steps (by a callback)")
            return True
    bar.close()
    sums.fold_into(loop.accelerator, loop.state)
    return False


def _end_epoch(loop: _Loop, epoch: int, seconds: float) -> None:
    """The epoch row (loss, skipped videos, evaluation), its log lines and checkpoint."""
    accelerator, state, task = loop.accelerator, loop.state, loop.task
    row = {
        "kind": "epoch",
        "step": state.step,
        "epoch": epoch + 1,
        "loss": state.epoch_loss_sum / max(state.epoch_batches, 1),
        "lr": loop.lr,
        "skipped_videos": state.epoch_skipped,
        "epoch_time_s": seconds,
    }
    if task.eval_fn is not None and task.eval_every and (epoch + 1) % task.eval_every == 0:
        scores = task.eval_fn(loop.model, loop.eval_loader, accelerator)
        row.update({f"eval_{k}": v for k, v in scores.items()})
        loop.model.train()
    state.total_skipped += state.epoch_skipped
    if state.epoch_skipped:
        accelerator.print(
            f"epoch {epoch + 1}: skipped {state.epoch_skipped} unreadable "
            f"video(s) ({state.total_skipped} in all); see the warnings above"
        )
    loop.log.append(row)
    accelerator.log({k: v for k, v in row.items() if k != "kind"}, step=state.step)
    accelerator.print(_describe_epoch(row, loop.optim.epochs))
    loop.last_row = row
    state.start_epoch(epoch + 1)
    loop.last_checkpoint = save_checkpoint(
        accelerator, loop.run_dir, f"epoch_{epoch + 1}", state, loop.run.keep_checkpoints
    )


def fit(
    accelerator,
    task: TrainTask,
    optim: OptimConfig,
    run: RunConfig,
    config_dict: dict,
    callbacks: Sequence[Callback] = (),
) -> FitResult:
    """Train ``task`` for ``optim.epochs`` epochs (or resume and finish it).

    Writes ``run.out_dir/metrics.csv`` (one ``train`` row every ``log_every`` updates, one
    ``epoch`` row per epoch) and checkpoints; logs the same to accelerate's trackers.
    ``callbacks`` (:class:`Callback`) see every loss and every update.

    Raises:
        DivergedError: a NaN/inf loss (checked on every process before the update).
        Preempted: SIGTERM or SIGUSR1 arrived; the run stopped after the update it was
            in, with a checkpoint (:mod:`.preemption`).
    """
    loop = _setup(accelerator, task, optim, run, config_dict, callbacks)
    with PreemptionWatcher() as loop.preemption:
        for epoch in range(loop.state.epoch, optim.epochs):
            epoch_start = time.perf_counter()
            if _train_epoch(loop, epoch):
                return loop.result(interrupted=True)
            _end_epoch(loop, epoch, time.perf_counter() - epoch_start)
            if epoch + 1 < optim.epochs and loop.preemption.requested(accelerator):
                raise _preempted(loop)
    return loop.result(interrupted=False)


def _save_preempted(loop: _Loop, sums: _EpochSums) -> None:
    """A signal asked the run to stop: checkpoint this update (unless just saved), then
    raise :class:`Preempted` on every process."""
    name = f"step_{loop.state.step}"
    if loop.last_checkpoint is None or loop.last_checkpoint.name != name:
        sums.fold_into(loop.accelerator, loop.state)
        loop.last_checkpoint = save_checkpoint(
            loop.accelerator, loop.run_dir, name, loop.state, loop.run.keep_checkpoints
        )
    raise _preempted(loop)


def _preempted(loop: _Loop) -> Preempted:
    leave_last_at_exit()
    return Preempted(loop.preemption.received, loop.state.step, loop.last_checkpoint)


def _check_finite(
    accelerator, loss: torch.Tensor, state: TrainerState, last_checkpoint: Path | None
) -> None:
    """Raise :class:`DivergedError` on every process if any process's loss is not finite."""
    losses = accelerator.gather(loss.detach().float().reshape(1))
    if bool(torch.isfinite(losses).all()):
        return
    kept = (
        f"the last good checkpoint is {last_checkpoint}"
        if last_checkpoint
        else "no checkpoint had been saved yet"
    )
    raise DivergedError(
        f"loss became {losses.tolist()} at step {state.step + 1} (epoch {state.epoch + 1}, "
        f"batch {state.batches_in_epoch}); the update was not applied and {kept}. Lower "
        "optim.lr, raise optim.warmup_epochs or set optim.max_grad_norm, then resume with "
        "--resume PATH"
    )


def _describe_epoch(row: dict[str, Any], epochs: int) -> str:
    text = (
        f"epoch {row['epoch']}/{epochs}: step {row['step']}, loss {row['loss']:.4f}, "
        f"lr {row['lr']:.3g}, {row['epoch_time_s']:.1f} s"
    )
    extra = [f"{k[5:]} {v:.4g}" for k, v in row.items() if k.startswith("eval_")]
    return text + (f"; eval: {', '.join(extra)}" if extra else "")
