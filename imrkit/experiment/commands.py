"""``imrkit experiment``: a suite of paired arms over seeds."""

from __future__ import annotations

import argparse

from imrkit.train.commands import load_run_config


def _experiment(args: argparse.Namespace) -> int:
    from imrkit.experiment.suite import ExperimentConfig, run_experiment

    if args.suite:
        args.overrides = [f"suite={args.suite}", *args.overrides]
    if args.launcher:
        args.overrides = [f"launcher.name={args.launcher}", *args.overrides]
    config = load_run_config(ExperimentConfig, args)
    if args.data:
        config.data_root = str(args.data)
    if args.out:
        config.out_dir = str(args.out)
    results = run_experiment(config)
    print(results.markdown)
    return 0


def register(subparsers) -> None:
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
    parser.add_argument(
        "--launcher",
        choices=("local", "submitit-local", "slurm"),
        help="where the runs execute: local (a process pool, the default), slurm (one "
        "submitit job per run; resources from the config's [launcher] section) or "
        "submitit-local (the same jobs as local processes); rerunning skips complete runs",
    )
    parser.add_argument("--data", metavar="ROOT", help="dataset folder (data_root)")
    parser.add_argument("--out", metavar="DIR", help="output folder (out_dir)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    parser.set_defaults(func=_experiment)
