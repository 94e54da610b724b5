"""Checking a result against the typed dicts of its schema: every key known, typed and documented; the
message names the path of each problem."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Annotated, Any, Literal, NotRequired

from audioprobe.errors import AudioprobeError
from audioprobe.identity import SCHEMA_VERSION
from audioprobe.results.schema import Result, scores_schema

# ---------------------------------------------------------------------------------------------
# The validator: typed dicts and dataclasses walked at run time. Written here because a JSON
# Schema library would need the schema twice (as types for the code and as JSON for the check).

def _hints(tp) -> dict[str, Any]:
    return typing.get_type_hints(tp, include_extras=True)


def _unwrap(tp) -> tuple[Any, str, bool]:
    """(bare type, doc, required) of a field annotation."""
    required = True
    doc = ""
    while True:
        origin = typing.get_origin(tp)
        if origin is NotRequired:
            required, tp = False, typing.get_args(tp)[0]
        elif origin is Annotated:
            tp, *meta = typing.get_args(tp)
            doc = next((m for m in meta if isinstance(m, str)), doc)
        else:
            return tp, doc, required


def _fields(tp) -> dict[str, tuple[Any, str, bool]]:
    """name -> (type, doc, required) of a TypedDict or a dataclass."""
    if dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        return {f.name: (_unwrap(hints[f.name])[0], f.metadata.get("doc", ""), True) for f in dataclasses.fields(tp)}
    out = {}
    for name, ann in _hints(tp).items():
        bare, doc, required = _unwrap(ann)
        out[name] = (bare, doc, required and name in tp.__required_keys__)
    return out


def _is_record(tp) -> bool:
    return typing.is_typeddict(tp) or (isinstance(tp, type) and dataclasses.is_dataclass(tp))


def _check(value: Any, tp: Any, where: str, problems: list[str]) -> None:
    """Append to `problems` every way `value` departs from the annotation `tp`, each named by its path `where`."""
    tp = _unwrap(tp)[0]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return
    if _is_record(tp):
        _check_record(value, tp, where, problems)
        return
    if origin in (typing.Union, types.UnionType):
        trials = []
        for option in args:
            trial: list[str] = []
            _check(value, option, where, trial)
            if not trial:
                return
            trials.append(trial)
        problems.extend(min(trials, key=len))
        return
    if origin is Literal:
        if value not in args:
            problems.append(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return
    if origin in (list, tuple):
        _check_sequence(value, origin, args, where, problems)
        return
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            problems.append(f"{where}: expected an object with string keys")
            return
        for k, item in value.items():
            _check(item, args[1] if args else Any, f"{where}.{k}", problems)
        return
    if tp is type(None):
        ok = value is None
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp in (str, bool):
        ok = isinstance(value, tp)
    else:
        raise TypeError(f"the schema uses a type the validator does not know: {tp!r}")
    if not ok:
        problems.append(f"{where}: expected {getattr(tp, '__name__', tp)}, got {value!r}"[:200])


def _check_record(value: Any, tp: Any, where: str, problems: list[str]) -> None:
    """A typed dict or dataclass: an object whose required keys are all there and every key is known (a key the
    schema does not document is a problem, not an extra)."""
    if not isinstance(value, dict):
        problems.append(f"{where}: expected an object, got {type(value).__name__}")
        return
    fields = _fields(tp)
    for name, (ftp, _, required) in fields.items():
        if name in value:
            _check(value[name], ftp, f"{where}.{name}", problems)
        elif required:
            problems.append(f"{where}: missing key {name!r}")
    for name in value:
        if name not in fields:
            problems.append(f"{where}: unknown key {name!r} (add it to the schema with its meaning)")


def _check_sequence(value: Any, origin: Any, args: tuple, where: str, problems: list[str]) -> None:
    """A list, or a tuple (a JSON list too): of one item type, or (a fixed tuple) of its length and item types."""
    if not isinstance(value, list):
        problems.append(f"{where}: expected a list, got {type(value).__name__}")
        return
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        if len(value) != len(args):
            problems.append(f"{where}: expected {len(args)} items, got {len(value)}")
            return
        for i, (item, itp) in enumerate(zip(value, args)):
            _check(item, itp, f"{where}[{i}]", problems)
        return
    for i, item in enumerate(value):
        _check(item, args[0] if args else Any, f"{where}[{i}]", problems)


def check_typed(value: Any, tp: Any, where: str) -> list[str]:
    """Every way `value` departs from the typed dict `tp` (empty: valid); for files beside the results."""
    problems: list[str] = []
    _check(value, tp, where or tp.__name__, problems)
    return problems


def validate_result(data: Any) -> list[str]:
    """Every way `data` departs from the schema (empty: valid)."""
    problems: list[str] = []
    if not isinstance(data, dict):
        return ["a result is a JSON object"]
    if data.get("schema_version") != SCHEMA_VERSION:
        problems.append(f"schema_version is {data.get('schema_version')!r}, not {SCHEMA_VERSION}")
    rest = {k: v for k, v in data.items() if k != "scores"}
    _check({**rest, "scores": {}}, _ResultWithoutScores, "result", problems)
    ttype = data.get("task", {}).get("type") if isinstance(data.get("task"), dict) else None
    if "scores" not in data:
        problems.append("result: missing key 'scores'")
    elif isinstance(ttype, str):
        try:
            schema = scores_schema(ttype)
        except AudioprobeError as exc:
            problems.append(str(exc))
        else:
            _check(data["scores"], schema, "result.scores", problems)
    problems += _seed_copies_differ(data)
    return problems


#: where a result repeats its seed: the run key (identity), the top level, the task's statistics and the
#: resampling plan its replicates were drawn with. Kept in each for the reader of that block (a change of
#: keys would bump the schema version, which is part of every run key, and recompute every stored result);
#: they must agree, or a result would pair its replicates under one seed and claim another.
SEED_COPIES = (("run_key", "seed"), ("seed",), ("scores", "statistics", "seed"), ("replicates", "resampling", "seed"))


def _seed_copies_differ(data: dict) -> list[str]:
    found = {}
    for path in SEED_COPIES:
        node: Any = data
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None:
            found[".".join(path)] = node
    if len(set(map(repr, found.values()))) > 1:
        return ["the seed differs between " + ", ".join(f"{k} ({v!r})" for k, v in found.items())]
    return []


class _ResultWithoutScores(Result):
    scores: dict[str, Any]  # checked against the task type's own schema
