"""Preemption: a run asked to stop by its scheduler ends on a checkpoint, not mid-step.

SLURM sends SIGTERM to the processes of a job it preempts (SIGKILL follows after the
partition's GraceTime) and, with ``--signal=USR1@90``, SIGUSR1 before the time limit;
submitit sends its own signal (``SUBMITIT_PREEMPT_SIGNAL``, SIGUSR2 by default) before
both. :func:`imrkit.train.engine.fit` installs a :class:`PreemptionWatcher` for its
duration: a signal only sets a flag, the current optimizer update finishes, every process
agrees to stop (one all-reduce per update, since a signal reaches the processes of a
multi-node run at different moments), a checkpoint ``step_N`` is written, and
:class:`Preempted` is raised. ``--resume`` (``run.resume=latest``) continues from that
checkpoint and ends where an uninterrupted run ends.

Under submitit the job function catches :class:`Preempted` and hands over to submitit's
own checkpoint-and-requeue handler (:mod:`imrkit.experiment.launchers`).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import torch

from imrkit.errors import ImrkitError

#: what SLURM sends before it preempts a job or at its time limit
SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
#: the signal submitit's jobs receive before a preemption or time-out (its env knob)
SUBMITIT_SIGNAL_ENV = "SUBMITIT_PREEMPT_SIGNAL"


class Preempted(ImrkitError):
    """A signal stopped the run after a complete update; its checkpoint is ``checkpoint``."""

    def __init__(self, signum: int, step: int, checkpoint: Path):
        self.signum, self.step, self.checkpoint = signum, step, checkpoint
        super().__init__(
            f"{signal.Signals(signum).name} received: stopped after step {step} with the "
            f"checkpoint {checkpoint}; run the same command with --resume (run.resume=latest) "
            "to continue"
        )

    @property
    def exit_status(self) -> int:
        """128 + the signal, as a shell reports a process the signal ended: a batch script
        tells "stopped by the scheduler, resume me" from a failure (2)."""
        return 128 + self.signum


def submitit_signal() -> signal.Signals | None:
    """The signal submitit sends this job before a preemption or time-out (None outside a
    submitit job)."""
    if not os.environ.get("SUBMITIT_EXECUTOR"):
        return None
    name = os.environ.get(SUBMITIT_SIGNAL_ENV, "USR2").upper().removeprefix("SIG")
    return getattr(signal, f"SIG{name}", None)


def watched_signals() -> tuple[signal.Signals, ...]:
    """SIGTERM and SIGUSR1, plus submitit's preemption signal inside a submitit job."""
    extra = submitit_signal()
    return SIGNALS if extra is None or extra in SIGNALS else (*SIGNALS, extra)


class PreemptionWatcher:
    """A context manager that turns the preemption signals into a flag for the loop.

    The previous handlers come back on exit. Outside the main thread (where Python cannot
    install handlers, e.g. a notebook's worker thread) it watches nothing.
    """

    def __init__(self, signals: tuple[int, ...] | None = None):
        self.signals = watched_signals() if signals is None else signals
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> PreemptionWatcher:
        if threading.current_thread() is threading.main_thread():
            for signum in self.signals:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame) -> None:
        if self.received is None:
            print(
                f"imrkit: {signal.Signals(signum).name} received; finishing the current step, "
                "then writing a checkpoint",
                file=sys.stderr,
                flush=True,
            )
        self.received = signum

    def requested(self, accelerator) -> bool:
        """Whether any process has received a signal (a collective: call it on all)."""
        if accelerator.num_processes == 1:
            return self.received is not None
        flag = torch.tensor([float(self.received is not None)])
        anyone = accelerator.reduce(flag.to(accelerator.device), "sum").item() > 0
        if anyone and self.received is None:  # another process got it
            self.received = signal.SIGTERM
        return anyone
