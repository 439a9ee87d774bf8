"""``imrkit demo``: what ``make demo`` runs. Sample data if missing, the demo suite of
:mod:`imrkit.experiment`, then every notebook through :mod:`imrkit.notebook_runner`.

It sits above both, so neither needs the other.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from imrkit.experiment.suite import ExperimentConfig, run_experiment


def run_demo(
    data: str | Path,
    out: str | Path,
    *,
    smoke: bool = False,
    notebooks: bool = True,
    config_path: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
):
    """``imrkit demo``: sample data if missing, the demo suite, then the notebooks."""
    from imrkit.config import load_config
    from imrkit.data.sample import ensure_sample

    if config_path is None:
        config_path = "experiment_smoke" if smoke else "experiment_sample"
    data = ensure_sample(data)
    config = load_config(ExperimentConfig, config_path, list(overrides))
    config.data_root, config.out_dir = str(data), str(Path(out))
    results = run_experiment(config)
    print(results.markdown)
    print(f"results in {Path(out) / 'results.md'}, results.json and results.png")
    if notebooks:
        _run_notebooks(Path(out), data)
    return results


def _run_notebooks(out: Path, data: Path) -> None:
    """The notebooks at their own small (smoke) sizes, their full-scale values being the
    paper's (R18, Kinetics, several GPUs), not a demo's; notebook 04 shows this demo's own
    experiment rather than running a tiny one."""
    from imrkit.notebook_runner import run_notebooks

    executed = run_notebooks(
        out / "notebooks",
        smoke=True,
        data_dir=data,
        parameters={"EXPERIMENT_DIR": str(out.resolve())},
    )
    print(f"notebooks executed into {out / 'notebooks'}: {len(executed)}")


def _demo(args: argparse.Namespace) -> int:
    run_demo(
        args.data,
        args.out,
        smoke=args.smoke,
        notebooks=not args.no_notebooks,
        config_path=args.config,
        overrides=list(args.overrides),
    )
    return 0


def register(subparsers) -> None:
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
