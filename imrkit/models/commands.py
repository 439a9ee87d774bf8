"""``imrkit model-stats NAME [--json]``: parameters and GMACs per frame of a preset."""

from __future__ import annotations

import argparse
import json


def _model_stats(args: argparse.Namespace) -> int:
    from imrkit.models.cost import format_stats, model_stats

    stats = model_stats(
        args.name, num_gops=args.num_gops, size=args.size, connections=args.connections
    )
    print(json.dumps(stats, indent=2) if args.json else format_stats(stats))
    return 0


def register(subparsers) -> None:
    """Add ``model-stats`` to the ``imrkit`` command line."""
    # Kept import-light: the CLI builds every parser before running one command.
    from imrkit.models.config import CONNECTION_MODES
    from imrkit.models.presets import PRESETS

    parser = subparsers.add_parser(
        "model-stats",
        help="parameters and GMACs per frame of an IMRNet preset (Table 2's counting)",
        description=(
            "Parameters per pathway and connection, and multiply-accumulates per frame at the "
            "paper's input (5 I-frames + 25 P-frames at 224x224, clip cost divided by 25), "
            "counted with torch.utils.flop_counter on the meta device."
        ),
    )
    parser.add_argument("name", choices=sorted(PRESETS), help="model preset")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--connections", default="full", choices=CONNECTION_MODES)
    parser.add_argument("--num-gops", type=int, default=5, help="T (default 5, as the paper)")
    parser.add_argument("--size", type=int, default=224, help="spatial size, multiple of 32")
    parser.set_defaults(func=_model_stats)
