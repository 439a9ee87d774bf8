"""Old import paths that moved in 0.2 (issue 23), kept for one release with a warning.

``import imrkit.train.evaluation`` still works: a meta-path finder answers the old name
with the module at its new home, after a :class:`DeprecationWarning` naming that home.
One table, so the old paths cost no files in the folders they left (a file of re-exports
in ``imrkit/train`` would be an import pointing up the house).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

#: old module path -> new module path
MOVED_MODULES = {
    "imrkit.train.evaluation": "imrkit.evaluate.evaluation",
    "imrkit.train.retrieval": "imrkit.evaluate.retrieval",
    "imrkit.train.probe": "imrkit.evaluate.probe",
    "imrkit.train.experiment": "imrkit.experiment.suite",
    "imrkit.train.experiment_report": "imrkit.experiment.report",
    "imrkit.train.stats": "imrkit.experiment.bootstrap",
    "imrkit.train.summary": "imrkit.runs",
    "imrkit.pretext.labels": "imrkit.transforms.pmsp_labels",
    "imrkit.models.stats": "imrkit.models.cost",
}


def warn_moved(old: str, new: str, stacklevel: int = 3) -> None:
    warnings.warn(
        f"{old} moved to {new}; the old path will be removed in the next release",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec):
        warn_moved(spec.name, self.new, stacklevel=8)
        return importlib.import_module(self.new)

    def exec_module(self, module) -> None:
        pass  # already executed under its new name


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        new = MOVED_MODULES.get(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(new))


def install() -> None:
    """Answer the old paths (idempotent; called by ``import imrkit``)."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())
