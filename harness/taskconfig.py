"""Task YAML files: schema, validation, discovery and selection.

A task file is flat: common keys (below) plus the parameters of its `type`, declared by the type
in `tasktypes/`. `include: FILE` merges a shared defaults file (keys in the task file win);
files whose name starts with `_` hold such defaults and are not tasks. Every error names the
file, the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import hashlib
import json
from pathlib import Path
from typing import Any

from audioprobe.errors import AudioprobeError, UnknownNameError
from audioprobe.files import read_config_yaml
from audioprobe.studies import builtin_task_dir, plugin_study_folders, task_files
from audioprobe.tasktypes import TASK_TYPES
from audioprobe.tasktypes.common import REQUIRED, Param
from audioprobe.tasktypes.presentation import presentation


def _nonempty(v):
    return None if v else "must not be empty"


COMMON: dict[str, Param] = {
    "task": Param(str, doc="The task's unique name.", check=_nonempty),
    "version": Param(int, doc="Bump on any change that can change a score."),
    "description": Param(str, doc="One line shown by `list tasks`.", check=_nonempty),
    "tags": Param(list, [], "Tags selectable with --tasks TAG."),
    "dataset": Param(str, "", "Stimulus set: a registered name, a folder or hf:ORG/NAME; left out: the set is "
                             "given on the command line (--data)."),
    "type": Param(str, doc="Task type."),
}


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    name: str
    version: int
    description: str
    tags: tuple[str, ...]
    dataset: str
    type: str
    params: dict[str, Any]
    path: str

    def config(self) -> dict[str, Any]:
        """The resolved configuration recorded in results (after include and defaults)."""
        return {"task": self.name, "version": self.version, "dataset": self.dataset, "type": self.type,
                "params": self.params}

    def config_hash(self) -> str:
        """SHA-256 of the resolved configuration (dataset excluded: results record its fingerprint)."""
        cfg = {k: v for k, v in self.config().items() if k != "dataset"}
        schema = TASK_TYPES[self.type].params
        cfg["params"] = {k: v for k, v in self.params.items()
                         if k not in schema or schema[k].hashed_at_default or v != schema[k].default}
        return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()


def _read_yaml(path: Path, inside: Path | None = None) -> dict:
    data = read_config_yaml(path, "task file", inside)
    if not isinstance(data, dict):
        raise AudioprobeError(f"{path}: a task file must be a mapping of keys to values.")
    return data


def check_controls(where: str, ttype: str, params: dict[str, Any], allowed: frozenset[str] | set[str] = frozenset()) -> None:
    """A task file may name as its `control:` only a registered weight-free baseline (registry.
    weight_free_baselines): a shared task file must never import code (`hear:module`) or fetch a
    model (`hf:ORG/NAME`, a trained model). Others run only when the user names them on the command
    line (`--allow-control NAME`, passed here as `allowed`)."""
    from audioprobe.models.registry import weight_free_baselines

    safe = set(weight_free_baselines())
    for name in TASK_TYPES[ttype].controls(params):
        if name not in safe and name not in allowed:
            raise AudioprobeError(
                f"{where}: key 'control' names {name!r}, which a task file may not load on its own (it could "
                f"import code or download a model). Allowed in task files: {', '.join(sorted(safe))}. To use "
                f"{name!r}, name it on the command line: --allow-control {name}."
            )


def load_task(path: Path, allowed_controls: frozenset[str] | set[str] = frozenset(),
              inside: Path | None = None) -> TaskConfig:
    """Read, merge `include:` and validate one task file.

    `allowed_controls`: control models the user named on the command line (`--allow-control`),
    beyond the weight-free baselines a task file may always name (see `check_controls`). `inside`: the
    folder the file was found in, which it may not lead out of (a link to a file elsewhere).
    """
    path = Path(path)
    data = _read_yaml(path, inside)
    include = data.pop("include", None)
    if include is not None:
        if not isinstance(include, str):
            raise AudioprobeError(f"{path}: key 'include' must be a file name, got {include!r}.")
        inc_path = path.parent / include
        if Path(include).is_absolute() or ".." in Path(include).parts:
            raise AudioprobeError(f"{path}: key 'include' must name a file in the task file's own folder (or below), "
                                  f"got {include!r}.")
        if not inc_path.is_file():
            raise AudioprobeError(f"{path}: key 'include' names {inc_path}, a file that does not exist; cannot read it.")
        base = _read_yaml(inc_path, inside=path.parent)
        if "include" in base:
            raise AudioprobeError(f"{inc_path}: an included file cannot include another one.")
        data = {**base, **data}
    where = str(path)
    for key, spec in COMMON.items():
        if key not in data and spec.default is REQUIRED:
            raise AudioprobeError(f"{where}: missing required key {key!r}. {spec.doc}")
    ttype = data.get("type")
    if not isinstance(ttype, str) or ttype not in TASK_TYPES:
        raise UnknownNameError("task type", str(ttype), sorted(TASK_TYPES), f"(in {where}, key 'type')")
    schema = TASK_TYPES[ttype].params
    unknown = sorted(set(data) - set(COMMON) - set(schema))
    if unknown:
        allowed = sorted(set(COMMON) | set(schema) | {"include"})
        raise AudioprobeError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))} for a task of type {ttype!r}; "
            f"allowed: {', '.join(allowed)}."
        )
    common = {k: COMMON[k].validate(where, k, data.get(k, COMMON[k].default)) for k in COMMON}
    if not all(isinstance(t, str) for t in common["tags"]):
        raise AudioprobeError(f"{where}: key 'tags' must be a list of strings.")
    params = {}
    for key, spec in schema.items():
        if key not in data and spec.default is REQUIRED:
            raise AudioprobeError(f"{where}: missing required key {key!r} for type {ttype!r}. {spec.doc}")
        params[key] = spec.validate(where, key, data.get(key, spec.default))
    TASK_TYPES[ttype].check_params(where, params)
    check_controls(where, ttype, params, allowed_controls)
    return TaskConfig(
        name=common["task"], version=common["version"], description=common["description"],
        tags=tuple(common["tags"]), dataset=common["dataset"], type=ttype, params=params, path=where,
    )


def check_names_in_set(task: TaskConfig, stimset) -> None:
    """Every dimension a task names must exist in the set its own file names (as a judged dimension
    or a label column): a misspelt dimension is an error in the task file, not a task that "does
    not apply". (On another set, given with --data, a missing dimension makes it not applicable.)"""
    known = [*stimset.dimensions, *stimset.labels]
    for key in presentation(task.type).dimension_params:
        value = task.params.get(key)
        names = [value] if isinstance(value, str) else list(value or [])
        for name in names:
            if name and name not in known:
                close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
                raise AudioprobeError(
                    f"{task.path}: key {key!r} names dimension {name!r}, which stimulus set {stimset.name!r} (the "
                    f"task's dataset) does not have{f'; did you mean {close[0]!r}?' if close else '.'} Judged "
                    f"dimensions: {', '.join(stimset.dimensions) or 'none'}; label columns: "
                    f"{', '.join(stimset.labels) or 'none'}.")


def discover_tasks(include_paths: list[Path] | tuple = (),
                   allowed_controls: frozenset[str] | set[str] = frozenset()) -> dict[str, TaskConfig]:
    """All tasks under the built-in `tasks/` folder, the folders of plugins' studies and the extra paths, by name."""
    found: dict[str, TaskConfig] = {}
    roots = [builtin_task_dir(), *plugin_study_folders(), *map(Path, include_paths)]
    for root in roots:
        if not root.exists():
            raise AudioprobeError(f"--include-path {root}: no such file or folder.")
        for f in task_files(root):  # not defaults, study files or contrasts (audioprobe-compare reads those)
            task = load_task(f, allowed_controls, inside=None if root.is_file() else root)
            if task.name in found and found[task.name].path != task.path:
                raise AudioprobeError(
                    f"task name {task.name!r} is defined twice: {found[task.name].path} and {task.path}."
                )
            found[task.name] = task
    return found


def select_tasks(spec: str, tasks: dict[str, TaskConfig]) -> list[TaskConfig]:
    """`all`, names, tags or globs, comma-separated; in the order given, without repeats."""
    chosen: dict[str, TaskConfig] = {}
    tags = sorted({t for task in tasks.values() for t in task.tags})
    for token in [t.strip() for t in spec.split(",") if t.strip()]:
        if token == "all":
            matched = list(tasks.values())
        elif token in tasks:
            matched = [tasks[token]]
        elif token in tags:
            matched = [t for t in tasks.values() if token in t.tags]
        elif any(ch in token for ch in "*?["):
            matched = [t for n, t in tasks.items() if fnmatch.fnmatchcase(n, token)]
            if not matched:
                raise AudioprobeError(f"--tasks {token!r}: the pattern matches no task (see `audioprobe-eval list tasks`).")
        else:
            raise UnknownNameError("task", token, [*tasks, *tags, "all"],
                                   "See `audioprobe-eval list tasks` for names and tags.")
        for t in matched:
            chosen.setdefault(t.name, t)
    if not chosen:
        raise AudioprobeError("--tasks selected no task.")
    return sorted(chosen.values(), key=lambda t: t.name) if spec.strip() == "all" else list(chosen.values())


def task_sets(task: TaskConfig, data: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """The stimulus sets a task runs on: those of --data, else the one its file names (none: it leaves its
    set to the command line)."""
    if data:
        return [data] if isinstance(data, str) else list(data)
    return [task.dataset] if task.dataset else []


def set_groups(tasks: list[TaskConfig], data: str | list[str] | tuple[str, ...] | None
               ) -> list[tuple[str | None, tuple[TaskConfig, ...]]]:
    """The run's plan by stimulus set: (set spec, the tasks that run on it) in the order the sets first
    appear, then (None, the tasks that name no set and got none from --data). The runner, the local pool
    and SLURM group a run's work by it."""
    groups: dict[str | None, list[TaskConfig]] = {}
    for task in tasks:
        for spec in task_sets(task, data) or [None]:
            groups.setdefault(spec, []).append(task)
    none = groups.pop(None, None)
    return [(spec, tuple(ts)) for spec, ts in groups.items()] + ([(None, tuple(none))] if none else [])
