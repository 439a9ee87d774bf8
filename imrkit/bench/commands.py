"""``imrkit bench NAME [--json]``: run one of the benchmarks recorded in BENCHMARKS.md."""

from __future__ import annotations

import argparse
import importlib
import json

from imrkit.machine import machine_info  # noqa: F401 (also imported from here)

BENCHMARKS = {
    "loader": ("imrkit.bench.loader", "read_clip vs plain decode vs optical flow; storage"),
    "model": ("imrkit.bench.model", "IMRNet GMACs vs Table 2, CPU/GPU throughput"),
    "pmsp": ("imrkit.bench.pmsp", "PMSP label cost vs reading a clip"),
    "train": ("imrkit.bench.train", "training and data-loading throughput"),
    "ctp": ("imrkit.bench.ctp", "can the CTP types be told apart in a dataset, and by what"),
    "codecs": ("imrkit.bench.codecs", "read_clip per codec (H.264, MPEG-2/4) vs decode, prepare"),
    "pipeline": ("imrkit.bench.pipeline", "dataset sample vs plain decode, bytes, worker scaling"),
    "engine": ("imrkit.bench.engine", "each phase of a suite job: real run vs bare loop, GFLOP/s"),
    "inputs": (
        "imrkit.bench.inputs",
        "per-stream input scale, sample and natural-like video",
    ),
}


def _run(args: argparse.Namespace) -> int:
    module = importlib.import_module(BENCHMARKS[args.benchmark][0])
    result = module.run(args)
    result.setdefault("machine", machine_info())
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(module.format_report(result))
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="run a benchmark (figures for BENCHMARKS.md)")
    benches = parser.add_subparsers(dest="benchmark", metavar="NAME", required=True)
    for name, (module_name, help_text) in BENCHMARKS.items():
        sub = benches.add_parser(name, help=help_text)
        sub.add_argument("--json", action="store_true", help="print the result as JSON")
        sub.set_defaults(func=_run)
        # Benchmark modules import their heavy dependencies inside run(), so building the
        # parser stays cheap.
        importlib.import_module(module_name).add_arguments(sub)
