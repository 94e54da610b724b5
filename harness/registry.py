"""Named extensions: one lazy `Registry` type for every kind, and plugins through Python entry points.

Models, task types, stimulus sets, similarity measures, RDM comparisons, studies and figure kinds
are each a `Registry`: a name maps to an
object, or to a "module:attr" string imported the first time the name is used, so listing names
imports nothing heavy. An unknown name is an `UnknownNameError` that suggests the closest names.

Plugins: an installed package adds entries without a pull request by declaring entry points in the
registry's group (its pyproject.toml), e.g.
    [project.entry-points."audioprobe.models"]
    toy = "toy_plugin:ToyModel"
The groups: audioprobe.models, audioprobe.task_types, audioprobe.stimulus_sets, audioprobe.measures,
audioprobe.comparisons, audioprobe.studies, audioprobe.figure_kinds.
Entry points are read when a registry is first listed or asked for a name it does not hold; their
modules are imported only when the name is used. A plugin never replaces a built-in name (it is
skipped with a warning naming both). importlib.metadata does the discovery: it is the standard
mechanism (pip, setuptools and every installer write the metadata it reads).
"""

from __future__ import annotations

import dataclasses
import importlib
import warnings
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, Generic, TypeVar

from audioprobe.errors import AudioprobeError, UnknownNameError

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One registered name: its target (the object, or "module:attr" until first use), a one-line
    description for listings, what the registry's kind keeps beside it (`info`), and the distribution
    that provided it ("" for built-ins and entries added in code)."""

    name: str
    target: Any
    description: str = ""
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    plugin: str = ""

    @property
    def loaded(self) -> bool:
        return not isinstance(self.target, str)


class Registry(MutableMapping[str, T], Generic[T]):
    """name -> object, imported lazily; a mapping (`reg[name]` loads, `name in reg` and listing do not).

    kind: what a name is, for messages ("model", "task type"). group: the entry-point group plugins
    use. check(name, obj): called with each loaded object, returns a problem ("" if none). hint:
    appended to the unknown-name message (where to list the names, what else is accepted).
    `reg[name] = obj` replaces a target and keeps the entry's description and info (what a test's
    monkeypatch needs); `add` is the way to register, and refuses a second target for a name."""

    def __init__(self, kind: str, group: str, *, check: Callable[[str, Any], str] | None = None,
                 hint: str = ""):
        self.kind, self.group, self.hint = kind, group, hint
        self._check = check
        self._entries: dict[str, Entry] = {}
        self._plugins_read = False

    # -- adding ---------------------------------------------------------------------------------------
    def add(self, name: str, target: Any, description: str = "", **info: Any) -> None:
        """Register `target` (an object or "module:attr") under `name`; a name holds one target."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} name must be a non-empty string, not {name!r}")
        old, plugin = self._entries.get(name), ""
        if old is not None and old.target is not target:
            if not (old.plugin and not old.loaded):
                raise ValueError(f"{self.kind} {name!r} is already registered ({_where(old)})")
            # a plugin's module registering its own entry point's name as it is imported: the same entry
            plugin, description, info = old.plugin, description or old.description, {**old.info, **info}
        self._entries[name] = Entry(name, target, description, dict(info), plugin)

    # -- reading --------------------------------------------------------------------------------------
    def entry(self, name: str) -> Entry:
        """The entry of `name`, not loaded; UnknownNameError (did you mean) if there is none."""
        if name not in self._entries:
            self._read_plugins()
        try:
            return self._entries[name]
        except KeyError:
            raise self.unknown(name) from None

    def unknown(self, name: str, hint: str | None = None) -> UnknownNameError:
        return UnknownNameError(self.kind, name, self.names(), self.hint if hint is None else hint)

    def names(self) -> list[str]:
        self._read_plugins()
        return sorted(self._entries)

    def __getitem__(self, name: str) -> T:
        entry = self.entry(name)
        if entry.loaded:
            return entry.target
        obj = _import(entry, self.kind)
        problem = self._check(name, obj) if self._check else ""
        if problem:
            raise AudioprobeError(f"{self.kind} {name!r} ({_where(entry)}): {problem}")
        self._entries[name] = dataclasses.replace(entry, target=obj)
        return obj

    def __setitem__(self, name: str, target: Any) -> None:
        old = self._entries.get(name)
        self._entries[name] = dataclasses.replace(old, target=target) if old else Entry(name, target)

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __contains__(self, name: object) -> bool:
        if name in self._entries:
            return True
        self._read_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    # -- plugins --------------------------------------------------------------------------------------
    def _read_plugins(self) -> None:
        if self._plugins_read:
            return
        self._plugins_read = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.group):
            dist = getattr(ep.dist, "name", "") or "an installed package"
            if ep.name in self._entries:
                warnings.warn(f"plugin {dist} declares {self.kind} {ep.name!r} (entry point {ep.value}), which is "
                              f"already registered ({_where(self._entries[ep.name])}); the plugin's is ignored",
                              stacklevel=3)
                continue
            self._entries[ep.name] = Entry(ep.name, ep.value, f"(plugin {dist})", {}, dist)


def _where(entry: Entry) -> str:
    target = entry.target if isinstance(entry.target, str) else getattr(entry.target, "__qualname__", "in code")
    return f"by plugin {entry.plugin}: {target}" if entry.plugin else f"as {target}"


def _import(entry: Entry, kind: str) -> Any:
    module, sep, attr = entry.target.partition(":")
    try:
        obj = importlib.import_module(module)
        for part in attr.split(".") if sep else ():
            obj = getattr(obj, part)
    except Exception as exc:  # any failure of a plugin's import is reported as the plugin's, not ours
        source = f"plugin {entry.plugin}" if entry.plugin else "its registration"
        raise AudioprobeError(
            f"{kind} {entry.name!r} is registered as {entry.target!r}, which cannot be imported "
            f"({type(exc).__name__}: {exc}); fix or reinstall {source}.") from None
    return obj
