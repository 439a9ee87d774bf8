"""Lazy package exports (PEP 562), shared by ``imrkit`` and its packages.

A package lists ``name -> module`` and gets ``__getattr__``/``__dir__``/``__all__`` that import
a module only when one of its names is first used, so ``imrkit --help`` and reader-only
scripts never pay for importing torch. Names that moved to another package are listed in
``moved`` (``name -> new module``): they still resolve, with a DeprecationWarning.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_exports(
    package: str,
    exports: Mapping[str, str],
    extra: tuple[str, ...] = (),
    moved: Mapping[str, str] | None = None,
) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """Return ``(__getattr__, __dir__, __all__)`` for ``package`` exporting ``exports``."""
    names = sorted(exports) + list(extra)
    namespace = importlib.import_module(package).__dict__
    moved = dict(moved or {})

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None and name in moved:
            from imrkit._moved import warn_moved

            warn_moved(f"{package}.{name}", f"{moved[name]}.{name}")
            return getattr(importlib.import_module(moved[name]), name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # cached: later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return names

    return __getattr__, __dir__, names
