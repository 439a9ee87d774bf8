"""Typed configuration: dataclasses as the one source of truth.

Config files (TOML or JSON) and ``key=value`` command-line overrides only change what
differs from a dataclass's defaults. Unknown keys and values of the wrong type are
:class:`~imrkit.errors.ConfigError` s naming the key, in the spirit of nanoGPT's
configurator but typed.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from imrkit.errors import ConfigError

T = TypeVar("T")
Overrides = Sequence[str] | Mapping[str, Any]

#: Where the configs shipped with the kit live; :func:`load_config` finds them by name.
BUNDLED_CONFIGS = Path(__file__).resolve().parent / "configs"


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check ``value`` against a type annotation, converting where it is lossless."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(f"{key}: {value!r} matches none of {annotation}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{key}: {value!r} is not one of {list(args)}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a sequence, got {value!r}")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{key}: expected {len(args)} items, got {len(value)}")
            pairs = enumerate(zip(value, args, strict=True))
            return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in pairs)
        item = args[0] if args else Any
        return origin(_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table for {annotation.__name__}, got {value!r}")
        return from_dict(annotation, value, prefix=f"{key}.")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if isinstance(annotation, type) and not isinstance(value, annotation):
        raise ConfigError(f"{key}: expected {annotation.__name__}, got {value!r}")
    return value


def from_dict(cls: type[T], values: dict[str, Any], *, prefix: str = "") -> T:
    """Build dataclass ``cls`` from a (nested) dict, rejecting unknown keys and bad types."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(prefix + k for k in unknown)} for {cls.__name__}; "
            f"known: {', '.join(sorted(names))}"
        )
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in values.items()}
    return cls(**kwargs)


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (nested) dataclass; tuples become lists."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _parse_value(text: str) -> Any:
    """Parse an override's right-hand side as TOML would (numbers, bools, lists, strings)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    # A flat list of bare words is a list of strings, as a bare word is a string: a shell
    # user writes `only=[scratch,pmsp+ctp]` far more often than TOML's quoted form.
    inner = text[1:-1].strip() if text.startswith("[") and text.endswith("]") else None
    if inner is not None and not any(mark in inner for mark in "[]\"'{}"):
        return [_parse_value(item.strip()) for item in inner.split(",")] if inner else []
    return text  # a bare word is a string: `model=imrnet_tiny`


def _override_items(overrides: Overrides) -> list[tuple[str, Any]]:
    """``key=value`` strings (values parsed as TOML) or a mapping of dotted keys to values."""
    if isinstance(overrides, Mapping):
        return [(str(key), value) for key, value in overrides.items()]
    items = []
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, text = item.split("=", 1)
        items.append((key.strip(), _parse_value(text.strip())))
    return items


def apply_overrides(config: T, overrides: Overrides) -> T:
    """Return a copy of ``config`` with overrides applied.

    ``overrides`` is a list of ``key=value`` strings (dotted keys for nested sections, values
    parsed as TOML), as the command line gives them, or a dict such as
    ``{"optim.lr": 0.05, "run.out_dir": "runs/pt"}``, as a notebook gives them.
    """
    values = to_dict(config)
    for key, value in _override_items(overrides):
        node = values
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"override {key!r}: {part!r} is not a section")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"override {key!r}: unknown key; known: {', '.join(sorted(node))}")
        node[parts[-1]] = json.loads(json.dumps(value, default=str))
    return from_dict(type(config), values)


def bundled_configs() -> dict[str, Path]:
    """The configs shipped in ``imrkit/configs``, by name (file stem)."""
    return {path.stem: path for path in sorted(BUNDLED_CONFIGS.glob("*.toml"))}


def resolve_config_path(source: str | Path | None) -> Path | None:
    """A config file path, or a bundled config by name (``pretrain_sample``; ``.toml`` optional)."""
    if source is None or source == "":
        return None
    path = Path(source)
    if path.is_file():
        return path
    bundled = bundled_configs()
    name = path.name.removesuffix(".toml")
    if path.parent == Path(".") and name in bundled:
        return bundled[name]
    if path.parent != Path(".") or path.suffix in (".json", ".toml"):
        raise ConfigError(f"{path}: config file not found")
    raise ConfigError(
        f"config {str(source)!r}: no such file, nor a bundled config "
        f"(bundled: {', '.join(bundled)})"
    )


def load_config(cls: type[T], source: str | Path | None = None, overrides: Overrides = ()) -> T:
    """Defaults of ``cls``, updated by a config file, then by overrides.

    ``source`` is a TOML/JSON file path or the name of a bundled config
    (:func:`bundled_configs`); ``overrides`` as in :func:`apply_overrides`, e.g.
    ``load_config(PretrainConfig, "pretrain_sample", {"optim.epochs": 2})``.
    """
    config = cls()
    path = resolve_config_path(source)
    if path is not None:
        text = path.read_text()
        try:
            values = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"{path}: cannot parse: {error}") from None
        merged = to_dict(config)
        deep_update(merged, values, f"{path}: ")
        config = from_dict(cls, merged)
    return apply_overrides(config, overrides)


def deep_update(base: dict, update: dict, where: str = "") -> None:
    """Update the nested dict ``base`` in place; a key ``base`` lacks is an error naming it.

    ``where`` prefixes the dotted key in messages (a file name, a section).
    """
    for key, value in update.items():
        if key not in base:
            raise ConfigError(f"{where}{key}: unknown key; known: {', '.join(sorted(base))}")
        if isinstance(base[key], dict) and isinstance(value, dict):
            deep_update(base[key], value, f"{where}{key}.")
        else:
            base[key] = value
