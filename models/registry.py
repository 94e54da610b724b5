"""Model names: the `MODELS` registry, resolved lazily to wrapper classes, with "did you mean".

Built-in names and their `ModelMeta` come from `audioprobe.models.catalog`, which imports no
wrapper: listing models never imports torch. A name's wrapper ("module:Class") is imported only
when the model is created. Code outside the package adds names with `register_model`; an installed
package adds them through the `audioprobe.models` entry-point group (harness/registry.py), its
wrapper class's `meta` being the name's metadata.

Every registered model with learned weights also has `random-NAME`, its fixed-seed
random-initialisation control (models/meta.py): the same wrapper with `random=true`, registered
here for every catalogue entry whose training is not "none", and for every other name whose
wrapper `supports_random` (a plugin's control is known once its wrapper has been imported).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from audioprobe.errors import AudioprobeError, UnknownNameError
from audioprobe.models.catalog import CATALOG, PREFIXES
from audioprobe.models.meta import RANDOM_PREFIX, ModelMeta, has_learned_weights, random_control, random_name
from audioprobe.registry import Registry

if TYPE_CHECKING:
    from audioprobe.models.base import AudioModel


def _check_wrapper(name: str, obj: Any) -> str:
    from audioprobe.models.base import AudioModel

    if isinstance(obj, type) and issubclass(obj, AudioModel):
        return ""
    return f"{obj!r} is not an AudioModel subclass (models/base.py)"


#: name -> wrapper class ("module:Class" until created); info: `args` (the preset model args) and
#: `card` (the catalogue's ModelMeta; absent for names whose wrapper's class `meta` is their card)
MODELS: Registry[type[AudioModel]] = Registry("model", "audioprobe.models", check=_check_wrapper)
for _name, _entry in CATALOG.items():
    MODELS.add(_name, _entry.wrapper, _entry.meta.description, args=dict(_entry.args), card=_entry.meta)


def register_model(name: str, **preset_args: Any) -> Callable[[type[AudioModel]], type[AudioModel]]:
    """Class decorator registering a wrapper under `name` (for wrappers outside the package).

    The wrapper's class `meta` is the name's metadata; if the wrapper `supports_random` and the
    model has learned weights, `random-NAME` is registered with it.
    """

    def deco(cls: type[AudioModel]) -> type[AudioModel]:
        if name.startswith(RANDOM_PREFIX):
            raise ValueError(f"model name {name!r}: names starting with {RANDOM_PREFIX!r} are the random-"
                             f"initialisation controls, registered with their trained model; register "
                             f"{name[len(RANDOM_PREFIX):]!r} with a wrapper that supports random init instead")
        if name in MODELS or name in _controls():
            raise ValueError(f"model name {name!r} is already registered")
        MODELS.add(name, cls, getattr(getattr(cls, "meta", None), "description", ""), args=dict(preset_args))
        return cls

    return deco


def _has_control(name: str, load: bool) -> bool:
    """Whether registered `name` has a random-initialisation control; a plugin's wrapper is imported to
    tell only when `load` (listing never imports a plugin)."""
    entry = MODELS.entry(name)
    card = entry.info.get("card")
    if card is not None:
        return has_learned_weights(card)
    if not entry.loaded and not load:
        return False
    cls = MODELS[name]
    return bool(getattr(cls, "supports_random", False)) and has_learned_weights(cls.meta)


def _controls() -> dict[str, str]:
    """`random-NAME` -> NAME for every registered name known (without importing plugins) to have a control."""
    return {random_name(name): name for name in MODELS.names() if _has_control(name, load=False)}


def _trained(name: str) -> str | None:
    """The trained model whose control `name` is, or None."""
    if not name.startswith(RANDOM_PREFIX):
        return None
    base = name[len(RANDOM_PREFIX):]
    return base if base in MODELS and _has_control(base, load=True) else None


def model_names() -> list[str]:
    """Every registered name: the catalogue, `register_model` and plugin names, and their random controls."""
    return sorted([*MODELS.names(), *_controls()])


def resolve_model(name: str) -> tuple[type[AudioModel], dict[str, Any], ModelMeta | None]:
    """A name's wrapper class, the model args it presets, and its registered metadata (the card
    `create_model` passes the wrapper: the trained model's for a `random-NAME`, which presets
    `random=True`; None for prefixed, `register_model` and plugin names, whose wrapper's `meta` is used)."""
    if name in MODELS:
        entry = MODELS.entry(name)
        return MODELS[name], dict(entry.info.get("args", {})), entry.info.get("card")
    trained = _trained(name)
    if trained is not None:
        cls, preset, card = resolve_model(trained)
        return cls, {**preset, "random": True}, card
    prefix, sep, rest = name.partition(":")
    if sep and prefix in PREFIXES:
        if not rest:
            raise AudioprobeError(f"model {name!r}: give a name after '{prefix}:'.")
        target, arg = PREFIXES[prefix]
        return _import_prefixed(target), {arg: rest}, None
    if name.startswith(RANDOM_PREFIX):
        base = name[len(RANDOM_PREFIX):]
        if base in MODELS:
            raise AudioprobeError(f"model {name!r}: {base!r} has no random-initialisation control, having no "
                                  f"learned weights (or a wrapper that cannot draw them).")
        if base.partition(":")[0] in PREFIXES:
            raise AudioprobeError(f"model {name!r}: the control of a prefixed name is "
                                  f"--model {base} --model-args random=true.")
    prefixes = [f"{p}:" for p in PREFIXES]
    raise UnknownNameError(
        "model", name, model_names(),
        "See `audioprobe-eval list models`" + (f", or use {' / '.join(prefixes)}NAME." if prefixes else "."),
    )


def _import_prefixed(target: str) -> type[AudioModel]:
    import importlib

    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def preset_args(name: str) -> dict[str, Any] | None:
    """The model args a name presets (`resolve_model`'s), without importing its wrapper (results name models
    by them: `results.model_label`); None for a name this process does not know."""
    if name in MODELS:
        return dict(MODELS.entry(name).info.get("args", {}))
    if name.startswith(RANDOM_PREFIX) and name[len(RANDOM_PREFIX):] in MODELS:
        base = name[len(RANDOM_PREFIX):]
        return {**(preset_args(base) or {}), "random": True} if _has_control(base, load=False) else None
    prefix, sep, rest = name.partition(":")
    if sep and prefix in PREFIXES and rest:
        return {PREFIXES[prefix][1]: rest}
    return None


def weight_free_baselines() -> list[str]:
    """Registered names a task file may name as a `control:` on its own: catalogue models with no
    learned weights and nothing to fetch (logmel, mfcc, spectrogram). Creating one imports only
    audioprobe's own code and downloads nothing; any other control (a trained model, a random
    control that reads a Hub configuration, `hf:`, `hear:`) must be named on the command line."""
    return sorted(name for name, entry in CATALOG.items()
                  if not has_learned_weights(entry.meta) and entry.meta.repo_id is None
                  and entry.wrapper.startswith("audioprobe."))


def resolve_model_class(name: str) -> tuple[type[AudioModel], dict[str, Any]]:
    """The wrapper class for a name and the model args the name presets."""
    cls, preset, _ = resolve_model(name)
    return cls, preset


def create_model(name: str, args: dict[str, Any] | None = None, device: str = "cpu") -> AudioModel:
    """An unloaded wrapper instance with the name's metadata; user args override the name's presets."""
    cls, preset, card = resolve_model(name)
    registered = {"card": card} if card is not None else {}
    return cls(device=device, **registered, **{**preset, **(args or {})})


def describe_models() -> list[tuple[str, ModelMeta | None, str]]:
    """(name, metadata, problem) for every registered name; problem is set when it cannot be described.

    Catalogue names and their controls are described from the catalogue alone, without importing
    their wrappers (`list models` imports neither torch nor transformers).
    """
    controls = _controls()
    rows: list[tuple[str, ModelMeta | None, str]] = []
    for name in model_names():
        trained = controls.get(name, name)
        card = MODELS.entry(trained).info.get("card")
        if card is not None:
            rows.append((name, random_control(card) if name in controls else card, ""))
            continue
        try:
            rows.append((name, create_model(name).meta, ""))
        except (AudioprobeError, ImportError) as exc:
            rows.append((name, None, f"unavailable: {exc}"))
    return rows
