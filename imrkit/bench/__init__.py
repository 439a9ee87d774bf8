"""Benchmarks behind ``imrkit bench NAME``; their figures go to BENCHMARKS.md.

Each benchmark module exposes ``add_arguments(parser)`` and ``run(args) -> dict`` (a
JSON-ready result with the machine it ran on) and ``format_report(result) -> str``.
"""
