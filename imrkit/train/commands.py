"""``imrkit pretrain | finetune | evaluate | retrieve | experiment | demo``.

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


def _load(cls, args: argparse.Namespace):
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

    _print_summary(pretrain(_load(PretrainConfig, args)))
    return 0


def _finetune(args: argparse.Namespace) -> int:
    from imrkit.train.config import FinetuneConfig
    from imrkit.train.finetuning import finetune

    _print_summary(finetune(_load(FinetuneConfig, args)))
    return 0


def _dataset_config(args: argparse.Namespace):
    """The data of a run folder's config.json (if any), then --data, then overrides."""
    from imrkit.config import apply_overrides, from_dict
    from imrkit.data.dataset import DatasetConfig

    config = DatasetConfig()
    run_config = Path(args.model) / "config.json"
    if run_config.is_file():
        saved = json.loads(run_config.read_text())
        if isinstance(saved.get("data"), dict):
            config = from_dict(DatasetConfig, saved["data"])
    if args.data:
        config = apply_overrides(config, [f"root={json.dumps(str(args.data))}"])
    return apply_overrides(config, list(args.overrides))


def _evaluate(args: argparse.Namespace) -> int:
    from imrkit.train.evaluation import evaluate

    result = evaluate(
        args.model,
        _dataset_config(args),
        views=args.views,
        subset=args.subset,
        batch_size=args.batch_size,
        num_workers=args.workers,
        out_dir=args.out or Path(args.model) / "eval",
    )
    print(
        f"{len(result.labels)} clips, {result.views} view(s): top-1 {100 * result.top1:.1f}%, "
        f"top-5 {100 * result.top5:.1f}%, mean class accuracy "
        f"{100 * result.mean_class_accuracy:.1f}% (skipped {result.num_skipped})"
    )
    for name, accuracy in result.per_class.items():
        print(f"  {name:<28s} {100 * accuracy:5.1f}%")
    return 0


def _retrieve(args: argparse.Namespace) -> int:
    from imrkit.train.retrieval import retrieve

    result = retrieve(
        args.model,
        _dataset_config(args),
        ks=tuple(args.k),
        top_k=args.top_k,
        batch_size=args.batch_size,
        num_workers=args.workers,
        out_dir=args.out or Path(args.model) / "retrieval",
    )
    print(
        f"{len(result.queries)} queries against {len(result.gallery)} gallery clips: "
        + ", ".join(f"R@{k} {100 * v:.1f}%" for k, v in result.recall.items())
    )
    return 0


def _experiment(args: argparse.Namespace) -> int:
    from imrkit.train.experiment import ExperimentConfig, run_experiment

    if args.suite:
        args.overrides = [f"suite={args.suite}", *args.overrides]
    config = _load(ExperimentConfig, args)
    if args.data:
        config.data_root = str(args.data)
    if args.out:
        config.out_dir = str(args.out)
    results = run_experiment(config)
    print(results.markdown)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from imrkit.train.experiment import run_demo

    run_demo(
        args.data,
        args.out,
        smoke=args.smoke,
        notebooks=not args.no_notebooks,
        config_path=args.config,
        overrides=list(args.overrides),
    )
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


def _add_model_command(subparsers, name: str, func, help_text: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.add_argument(
        "model", help="a run folder (its model/ and config.json) or a saved model folder"
    )
    parser.add_argument("--data", metavar="ROOT", help="dataset folder (default: the run's)")
    parser.add_argument("--out", metavar="DIR", help="where to write the report")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="DatasetConfig overrides (format=ucf101 split=2 ...)",
    )
    parser.set_defaults(func=func)
    return parser


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
    parser = _add_model_command(
        subparsers,
        "evaluate",
        _evaluate,
        "test a classifier: 3 crops, averaged softmax, top-1/top-5, "
        "per-class accuracy, confusion matrix",
    )
    parser.add_argument("--views", type=int, default=3, choices=(1, 3))
    parser.add_argument("--subset", default=None, help="split subset (default: the test list)")
    parser = _add_model_command(
        subparsers,
        "retrieve",
        _retrieve,
        "nearest-neighbour retrieval: test clips vs training clips",
    )
    parser.add_argument("--k", type=int, nargs="+", default=[1, 5, 10, 20, 50])
    parser.add_argument("--top-k", type=int, default=5, help="neighbours saved per query")

    parser = subparsers.add_parser(
        "experiment",
        help="a suite of paired arms over seeds (the paper's Tables 1 and 3 in miniature); "
        "writes results.json, results.md and results.png",
    )
    parser.add_argument(
        "--suite",
        help="which arms: paper (Table 3 pretexts + Table 1 connections), demo "
        "(scratch vs PMSP+CTP, full vs none) or ctp (the CTP study); default: the config's",
    )
    parser.add_argument("--config", "-c", metavar="FILE", help="experiment TOML (or preset)")
    parser.add_argument("--data", metavar="ROOT", help="dataset folder (data_root)")
    parser.add_argument("--out", metavar="DIR", help="output folder (out_dir)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    parser.set_defaults(func=_experiment)

    parser = subparsers.add_parser(
        "demo",
        help="what `make demo` runs: sample data (if missing), the experiment, then the notebooks",
    )
    parser.add_argument("--data", default="data/sample", metavar="ROOT")
    parser.add_argument("--out", default="runs/demo", metavar="DIR")
    parser.add_argument("--config", "-c", metavar="FILE", help="experiment TOML (or preset)")
    parser.add_argument(
        "--smoke", action="store_true", help="a minute-long run of everything at toy sizes"
    )
    parser.add_argument("--no-notebooks", action="store_true", help="skip the notebooks")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    parser.set_defaults(func=_demo)
