"""Suites of runs: paired arms over seeds, their report, and the statistics behind it.

    from imrkit.experiment import ExperimentConfig, ExperimentResults, run_experiment
    results = run_experiment(load_config(ExperimentConfig, "experiment_sample"))
    results = ExperimentResults.load("runs/demo")   # a finished suite, from its folder

Names are imported lazily (PEP 562).
"""

from __future__ import annotations

from imrkit._lazy import lazy_exports

_EXPORTS = {
    "Arm": "imrkit.experiment.suite",
    "ExperimentConfig": "imrkit.experiment.suite",
    "ExperimentResults": "imrkit.experiment.suite",
    "run_experiment": "imrkit.experiment.suite",
    "bootstrap_ci": "imrkit.experiment.bootstrap",
    "paired_difference": "imrkit.experiment.bootstrap",
    "grouped_accuracy_ci": "imrkit.experiment.bootstrap",
    "grouped_paired_difference": "imrkit.experiment.bootstrap",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
