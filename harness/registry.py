"""Model registry: names resolve lazily to wrapper classes, with "did you mean" on a near miss.

Built-in names come from `audioprobe.models.MODEL_TABLE`; code outside the package can add its
own with the `register_model` decorator. Importing a wrapper module is cheap by contract: heavy
dependencies (transformers, h5py, ...) are imported inside `load()`.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from audioprobe.errors import AudioprobeError, UnknownNameError
from audioprobe.models import MODEL_PREFIXES, MODEL_TABLE
from audioprobe.models.base import AudioModel, ModelMeta

_EXTRA: dict[str, tuple[type[AudioModel], dict]] = {}


def register_model(name: str, **preset_args: Any) -> Callable[[type[AudioModel]], type[AudioModel]]:
    """Class decorator registering a wrapper under `name` (for wrappers outside the package)."""

    def deco(cls: type[AudioModel]) -> type[AudioModel]:
        if name in MODEL_TABLE or name in _EXTRA:
            raise ValueError(f"model name {name!r} is already registered")
        _EXTRA[name] = (cls, preset_args)
        return cls

    return deco


def model_names() -> list[str]:
    return sorted([*MODEL_TABLE, *_EXTRA])


def _import(target: str) -> type[AudioModel]:
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def resolve_model_class(name: str) -> tuple[type[AudioModel], dict[str, Any]]:
    """The wrapper class for a name and the model args the name presets."""
    if name in _EXTRA:
        return _EXTRA[name]
    if name in MODEL_TABLE:
        target, preset = MODEL_TABLE[name]
        return _import(target), dict(preset)
    prefix, sep, rest = name.partition(":")
    if sep and prefix in MODEL_PREFIXES:
        if not rest:
            raise AudioprobeError(f"model {name!r}: give a name after '{prefix}:'.")
        target, arg = MODEL_PREFIXES[prefix]
        return _import(target), {arg: rest}
    prefixes = [f"{p}:" for p in MODEL_PREFIXES]
    raise UnknownNameError(
        "model", name, model_names(),
        "See `audioprobe-eval list models`" + (f", or use {' / '.join(prefixes)}NAME." if prefixes else "."),
    )


def create_model(name: str, args: dict[str, Any] | None = None, device: str = "cpu") -> AudioModel:
    """An unloaded wrapper instance; user args override the name's presets."""
    cls, preset = resolve_model_class(name)
    return cls(device=device, **{**preset, **(args or {})})


def describe_models() -> list[tuple[str, ModelMeta | None, str]]:
    """(name, metadata, problem) for every registered name; problem is set when it cannot import."""
    rows = []
    for name in model_names():
        try:
            cls, preset = resolve_model_class(name)
            rows.append((name, cls.metadata(**preset), ""))
        except ImportError as exc:
            rows.append((name, None, f"unavailable: {exc}"))
    return rows
