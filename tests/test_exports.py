"""Every lazily exported name is the object it names, whatever was imported before it.

Importing a submodule binds its name on the package: a function exported under the same name
as its module (``imrkit.train.finetune`` the function, in ``imrkit/train/finetune.py``) was
then shadowed by the module once anything had imported the module directly, so
``from imrkit.train import finetune`` gave a module or a function depending on import order.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import imrkit

LAZY_PACKAGES = [
    "imrkit",
    "imrkit.codec",
    "imrkit.data",
    "imrkit.models",
    "imrkit.pretext",
    "imrkit.train",
]


def _all_submodules() -> list[str]:
    return [
        info.name
        for info in pkgutil.walk_packages(imrkit.__path__, "imrkit.")
        if not info.name.startswith("imrkit.__main__")
    ]


def test_no_export_shares_a_name_with_a_submodule_of_its_package():
    for package_name in LAZY_PACKAGES:
        package = importlib.import_module(package_name)
        submodules = {info.name for info in pkgutil.iter_modules(package.__path__)}
        clashes = sorted(set(package.__all__) & submodules)
        assert not clashes, f"{package_name} exports {clashes}, also its submodules' names"


def test_exports_resolve_after_every_submodule_is_imported():
    # In a fresh interpreter: import every submodule first, then ask each package.
    modules = _all_submodules()
    script = "\n".join(
        [
            "import importlib, types",
            f"for name in {modules!r}: importlib.import_module(name)",
            f"for package_name in {LAZY_PACKAGES!r}:",
            "    package = importlib.import_module(package_name)",
            "    for name in package.__all__:",
            "        value = getattr(package, name)",
            "        assert not isinstance(value, types.ModuleType), (package_name, name)",
        ]
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
