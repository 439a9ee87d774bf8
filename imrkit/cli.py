"""The ``imrkit`` command line.

Each area of the library contributes its subcommands through a ``register(subparsers)``
function in its own ``commands`` module, so this file only dispatches.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from imrkit.errors import ImrkitError

COMMAND_MODULES = (
    "imrkit.data.commands",  # make-sample, prepare, transcode
    "imrkit.models.commands",  # model-stats
    "imrkit.train.commands",  # pretrain, finetune
    "imrkit.evaluate.commands",  # evaluate, retrieve
    "imrkit.experiment.commands",  # experiment
    "imrkit.demo",  # demo
    "imrkit.notebook_runner.commands",  # notebooks
    "imrkit.bench.commands",  # bench loader|model|pmsp|train
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imrkit",
        description="Self-supervised learning of compressed video representations (IMRNet).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.func(args)
    except ImrkitError as error:
        print(f"imrkit {args.command}: error: {error}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        print(f"imrkit {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
