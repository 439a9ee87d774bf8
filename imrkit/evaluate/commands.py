"""``imrkit evaluate | retrieve``: a trained model against a dataset's test list."""

from __future__ import annotations

import argparse
from pathlib import Path


def _dataset_config(args: argparse.Namespace):
    """The data of a run folder's config.json (if any), then --data, then overrides."""
    from imrkit.runs import run_dataset_config

    return run_dataset_config(args.model, args.data, list(args.overrides))


def _evaluate(args: argparse.Namespace) -> int:
    from imrkit.evaluate.evaluation import evaluate

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
    from imrkit.evaluate.retrieval import retrieve

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
