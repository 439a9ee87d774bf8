"""The house's layers: every import between the library's folders points down.

Imports inside functions count (a lazy import is still a dependency), so the graph is read
from the source with ``ast``, not from ``sys.modules``.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

import imrkit

PACKAGE = Path(imrkit.__file__).parent


def _room(module: str) -> str:
    """The folder or top-level module of ``imrkit.X...``: ``X``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "<root>"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("imrkit.")}


def room_graph() -> dict[str, set[str]]:
    rooms = {p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        source = _room(_module_name(path))
        for target in _imports(path):
            room = _room(target)
            if room in rooms and room != source:
                graph.setdefault(source, set()).add(room)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, path + [nxt])
                if cycle:
                    return cycle
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [node])
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None


def test_no_cycle_between_folders():
    graph = room_graph()
    assert "train" in graph and "codec" in graph["data"]  # the graph was read at all
    assert find_cycle(graph) is None, f"import cycle between folders: {find_cycle(graph)}"


@pytest.mark.parametrize(
    "low, high",
    [
        ("codec", "transforms"),
        ("transforms", "data"),
        ("evaluate", "train"),
        ("train", "experiment"),
    ],
)
def test_lower_rooms_never_import_higher_ones(low, high):
    assert high not in room_graph().get(low, set())


@pytest.mark.parametrize(
    "old, new, name",
    [
        ("imrkit.train.evaluation", "imrkit.evaluate.evaluation", "evaluate"),
        ("imrkit.train.experiment", "imrkit.experiment.suite", "run_experiment"),
        ("imrkit.pretext.labels", "imrkit.transforms.pmsp_labels", "pmsp_labels"),
        ("imrkit.train.stats", "imrkit.experiment.bootstrap", "bootstrap_ci"),
    ],
)
def test_old_paths_import_with_a_warning_naming_the_new_one(old, new, name):
    import importlib
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_moved_names_of_the_train_package_warn():
    import imrkit.evaluate
    import imrkit.train

    with pytest.warns(DeprecationWarning, match="imrkit.evaluate"):
        assert imrkit.train.retrieve is imrkit.evaluate.retrieve
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert callable(imrkit.train.pretrain)  # a name that stayed does not warn
