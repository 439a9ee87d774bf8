"""``imrkit pretrain | finetune``.

Training commands take a config file (a path, or the name of a preset shipped in
``imrkit/configs``: ``pretrain_sample``, ``finetune_ucf101``, ...) and ``key=value``
overrides, e.g.::

    imrkit pretrain --config pretrain_sample run.out_dir=runs/pt optim.lr=0.05
    imrkit finetune --config finetune_sample pretrained=runs/pt --resume
    accelerate launch --multi_gpu --num_processes 4 -m imrkit.cli pretrain --config ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load_run_config(cls, args: argparse.Namespace):
    """A config file (or preset) and its overrides from a command line, ``--resume`` included."""
    from imrkit.config import load_config

    overrides = list(args.overrides)
    resume = getattr(args, "resume", None)
    if resume and "=" in resume and not Path(resume).exists():
        # `--resume key=value ...`: argparse gave the first override to --resume.
        overrides.insert(0, resume)
        resume = "latest"
    if resume:
        overrides.append(f"run.resume={json.dumps(resume)}")
    return load_config(cls, args.config, overrides)


def _print_summary(summary) -> None:
    from accelerate import PartialState

    if not PartialState().is_main_process:
        return
    figures = ", ".join(f"{k} {v:.4g}" for k, v in summary.metrics.items())
    state = "stopped early" if summary.interrupted else f"model in {summary.model_dir}"
    print(f"run folder {summary.run_dir}: {state}; {figures}")


def _pretrain(args: argparse.Namespace) -> int:
    from imrkit.train.config import PretrainConfig
    from imrkit.train.pretraining import pretrain

    _print_summary(pretrain(load_run_config(PretrainConfig, args)))
    return 0


def _finetune(args: argparse.Namespace) -> int:
    from imrkit.train.config import FinetuneConfig
    from imrkit.train.finetuning import finetune

    _print_summary(finetune(load_run_config(FinetuneConfig, args)))
    return 0


def _add_training(subparsers, name: str, func, help_text: str, preset: str) -> None:
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.add_argument(
        "--config", "-c", metavar="FILE", help=f"TOML/JSON config or a preset name (e.g. {preset})"
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        metavar="CHECKPOINT",
        help="continue a stopped run: its latest checkpoint (no value) or "
        "the given checkpoint folder",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="config overrides, dotted for sections (optim.lr=0.05)",
    )
    parser.set_defaults(func=func)


def register(subparsers) -> None:
    _add_training(
        subparsers,
        "pretrain",
        _pretrain,
        "self-supervised pretraining (PMSP, CTP, ...) with accelerate",
        "pretrain_sample",
    )
    _add_training(
        subparsers,
        "finetune",
        _finetune,
        "finetune a pretrained backbone (or train from scratch) on labels",
        "finetune_sample",
    )
