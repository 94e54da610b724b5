"""The result file: one JSON per (model, task, stimulus set), the only thing the leaderboard,
comparisons and reports read.

The schema is this module's typed dicts (the `scores` block: the task type's `scores_schema`),
checked by `validate_result` on every write and every read, and rendered into docs/results.md
by `schema_markdown()` (a test keeps the two equal). `build_result` is the one function that
assembles a result; the runner calls it.

Files live at `DIR/<set>-<fingerprint[:8]>/<model>/<task>.json`, so results of different
stimulus sets (or of a `--limit` cut) never overwrite each other, nor those of two settings of one model
(`<model>` is `model_folder(model_label(name, args))`). Schema 1 files (the earlier
`DIR/<model>/<task>.json` layout, no run key) are still read, never reused.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import io
import json
import logging
import platform
import re
import types
import typing
import zipfile
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired, TypedDict

import numpy as np

from audioprobe.errors import AudioprobeError
from audioprobe.files import atomic_write_bytes
from audioprobe.identity import SCHEMA_VERSION, ModelKey, RunKey
from audioprobe.tasktypes.common import Scores

#: schema versions `read_result` accepts; only SCHEMA_VERSION results carry a run key that can match a run
#: (reusable). Schema 2 (headline replicates of one random split per resample, ceiling ratios
#: to the reliability itself, no matched-size transfer baseline) is read as the earlier layout is, for display;
#: audioprobe-compare leaves its headlines out of paired tests. Schema 3 (no reliability of the
#: target or labels, partial RSA with the raw target's ceiling) is read as it is, its missing flags absent.
READABLE_VERSIONS = (1, 2, 3, 4, SCHEMA_VERSION)
LEGACY_REQUIRED_KEYS = ("schema_version", "task", "model", "dataset", "scores", "seed", "versions", "device",
                        "timing", "created")


class TaskInfo(TypedDict):
    name: Annotated[str, "the task's name"]
    version: Annotated[int, "bumped on any change that can change a score"]
    type: Annotated[str, "the task type (rsa, transfer, abx, ...)"]
    description: Annotated[str, "one line"]
    config: Annotated[dict[str, Any], "the resolved task configuration (include and defaults applied)"]
    config_hash: Annotated[str, "SHA-256 of config without the dataset key"]


class ModelInfo(TypedDict):
    name: Annotated[str, "the registered model name"]
    revision: Annotated[str | None, "the pinned revision asked for (for an unpinned Hub repository: the commit "
                                    "its branch pointed to)"]
    resolved_revision: Annotated[str | None, "the commit actually loaded (null: local or random weights)"]
    wrapper_version: Annotated[str, "the wrapper's code version"]
    args: Annotated[dict[str, Any], "--model-args, typed"]
    checkpoint_sha256: Annotated[dict[str, str], "model argument -> SHA-256 of the local file or folder it "
                                                 "names (a folder: of its files' relative paths and hashes)"]
    meta: Annotated[dict[str, Any], "the model's metadata (ModelMeta: family, training, license, citation, "
                                    "Hub repository, parameter count, ...)"]


class DatasetInfo(TypedDict):
    name: Annotated[str, "the stimulus set's name"]
    fingerprint: Annotated[str, "SHA-256 of ids, audio samples, labels and judgments"]
    n_sounds: Annotated[int, "sounds scored"]
    partial: Annotated[bool, "true when --limit cut the set"]
    synthetic: Annotated[bool, "true for simulated data (not human judgments)"]
    source: Annotated[str, "where the set came from (embedded generator version, folder, hf:ORG/NAME@commit)"]


class FrontendInfo(TypedDict):
    target_rate: Annotated[int, "the model's sample rate, every sound resampled to it"]
    resampler: Annotated[str, "resampling library"]
    quality: Annotated[str, "its quality recipe"]
    mono: Annotated[str, "how channels are mixed to mono"]
    soxr_version: Annotated[str, "resampler version"]


class Resampling(TypedDict):
    factors: Annotated[list[str], "what the bootstrap resamples: sounds (and listeners, where resampled)"]
    unit: Annotated[str, "the items of the sounds factor (sounds; test sounds for transfer)"]
    n_items: Annotated[int, "items resampled"]
    n_resamples: Annotated[int, "bootstrap resamples"]
    seed: Annotated[int, "the seed they were drawn from"]
    n_listeners: NotRequired[Annotated[int, "listeners resampled (two-factor bootstrap)"]]
    plan_sha256: Annotated[str, "SHA-256 of the draws: two results are paired row by row only when equal (same "
                                "seed and items: shared resamples)"]
    sounds_plan_sha256: Annotated[str, "SHA-256 of the sound draws alone: a sounds-only result pairs with a "
                                       "two-factor one on the same sounds (it does not vary with listeners)"]
    pair_statistic: NotRequired[Annotated[list[str], "the replicate arrays that are smooth statistics over pairs of "
                                                     "sounds (RSA: per_layer; headline when it is the only layer's), "
                                                     "drawn by `resampling.sound_draws`: comparisons of those remove the "
                                                     "pairs' noise, which the bootstrap counts three times, from their "
                                                     "variances"]]


class Replicates(TypedDict):
    file: Annotated[str, "the array file beside this one (`<task>.replicates.npz`)"]
    sha256: Annotated[str, "SHA-256 of that file: a replaced or damaged file is refused"]
    arrays: Annotated[dict[str, list[int]], "name -> shape: per_layer `[resamples, layers]` and headline "
                                            "(`[resamples, K]`: a cross-validated headline on K fixed half-splits "
                                            "of every resample; `[resamples]`: one layer, or cv_splits 0); "
                                            "two-factor RSA adds the _sounds and _listeners kinds of both; transfer "
                                            "adds baseline, matched, matched_baseline `[resamples, layers]` and "
                                            "baseline_contrast (shaped as headline)"]
    resampling: Annotated[Resampling, "the resamples the rows come from"]


class Timing(TypedDict):
    extract_s: Annotated[float, "seconds spent computing activations (0 when read from the cache)"]
    metric_s: Annotated[float, "seconds spent in the task's metric"]
    activations_cached: Annotated[bool, "true when the activations came from the cache"]


class Result(TypedDict):
    schema_version: Annotated[int, f"{SCHEMA_VERSION}"]
    run_key: Annotated[RunKey, "everything that can change a number; a result is reused only when the key of "
                               "the run asked for is equal"]
    task: Annotated[TaskInfo, "the task"]
    model: Annotated[ModelInfo, "the model"]
    dataset: Annotated[DatasetInfo, "the stimulus set"]
    frontend: Annotated[FrontendInfo, "the audio front end"]
    pooling: Annotated[list[str], "poolings over frames the task read"]
    precision: Annotated[Literal["fp32", "fp16", "bf16"], "forward-pass precision"]
    device: Annotated[str, "where the forward pass and the RSA statistics ran (cpu, cuda, cuda:1; not part of the run key: results agree within float rounding)"]
    scores: Annotated[Scores, "what the task type computed: see the task type's scores below"]
    seed: Annotated[int, "seed of every resampling statistic"]
    versions: Annotated[dict[str, str], "audioprobe, python, torch, numpy, scipy, scikit-learn"]
    timing: Annotated[Timing, "costs"]
    created: Annotated[str, "ISO 8601 UTC time stamp"]
    replicates: NotRequired[Annotated[Replicates, "the bootstrap replicates paired comparisons read (absent when "
                                                  "bootstrap is 0)"]]


# ---------------------------------------------------------------------------------------------
# Paths and formatting

def format_score(value: float | None, digits: int = 4) -> str:
    """A score for tables: a dash when missing, and never "-0.000" for a tiny negative."""
    if value is None:
        return "—"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and text.strip("-0.") == "" else text


def score_text(x, digits: int = 3) -> str:
    """A score in a table cell ("—": missing): the leaderboard, comparisons, report and suite tables."""
    return format_score(x, digits) if x is not None else "—"


def interval_text(ci, digits: int = 3) -> str:
    return f"[{score_text(ci[0], digits)}, {score_text(ci[1], digits)}]" if ci and None not in ci else "—"


def p_text(p) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def safe_name(name: str) -> str:
    """A model, task or set name as a file or folder name (`hf:org/name` -> `hf_org__name`)."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name.replace("/", "__"))


def set_folder(dataset_name: str, fingerprint: str) -> str:
    """The folder of one stimulus set's results: its name and a short fingerprint."""
    return f"{safe_name(dataset_name)}-{fingerprint[:8]}"


def distinguishing_args(name: str, args: dict[str, Any] | None) -> dict[str, Any]:
    """The --model-args that make this setting of a model another model: every argument whose value is not
    the one the name presets (`random-beats` presets random=true, `hf:ORG/NAME` its repository), so a model
    run as registered has none. A name this process does not know keeps all its arguments."""
    if not args:
        return {}
    from audioprobe.models.registry import preset_args  # names only: no wrapper (nor torch) is imported

    preset = preset_args(name) or {}
    return {k: v for k, v in sorted(args.items()) if k not in preset or preset[k] != v}


def model_label(name: str, args: dict[str, Any] | None = None) -> str:
    """How results, tables and figures name a model: its registered name, and after it, in brackets, the
    arguments that distinguish this setting (`distinguishing_args`): "clap[checkpoint=ft.pt]". Two settings
    of one model are then two models everywhere (folders, leaderboard rows, comparisons), never one
    replacing the other."""
    extra = distinguishing_args(name, args)
    if not extra:
        return name
    return f"{name}[{','.join(f'{k}={v}' for k, v in extra.items())}]"


def result_label(result: dict) -> str:
    """A result's model label (`model_label` of its model's name and arguments)."""
    model = result["model"]
    return model_label(model["name"], model.get("args"))


def model_folder(label: str) -> str:
    """A model label as a folder name: the name alone as before; with arguments, the name, '@', the
    arguments shortened to 40 characters and 8 hex digits of their SHA-256 (readable, never two settings in
    one folder, and short whatever a path argument's length)."""
    name, bracket, rest = label.partition("[")
    if not bracket:
        return safe_name(label)
    digest = hashlib.sha256(rest[:-1].encode()).hexdigest()[:8]
    return f"{safe_name(name)}@{safe_name(rest[:-1])[:40]}-{digest}"


def model_dir(output_dir: Path, dataset_name: str, fingerprint: str, model_name: str) -> Path:
    """`DIR/<set>-<fp8>/<model>/`: a model's results (and saved activations) on one stimulus set; model_name
    is its label (`model_label`), whose folder is `model_folder`'s."""
    return Path(output_dir) / set_folder(dataset_name, fingerprint) / model_folder(model_name)


def result_path(output_dir: Path, dataset_name: str, fingerprint: str, model_name: str, task_name: str) -> Path:
    return model_dir(output_dir, dataset_name, fingerprint, model_name) / f"{safe_name(task_name)}.json"


# ---------------------------------------------------------------------------------------------
# Building, writing, reading

def package_versions() -> dict[str, str]:
    import numpy
    import scipy
    import sklearn
    import torch

    from audioprobe import __version__

    return {"audioprobe": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__}


def now_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def replicates_path(path: Path) -> Path:
    """The array file beside a result file: `<task>.replicates.npz`."""
    path = Path(path)
    return path.with_name(path.stem + ".replicates.npz")


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()})
    return buffer.getvalue()


def build_result(*, key: RunKey, task, model_meta: dict[str, Any], resolved_revision: str | None,
                 dataset: dict[str, Any], scores: dict[str, Any], device: str, extract_s: float, metric_s: float,
                 activations_cached: bool, replicates: dict[str, np.ndarray] | None = None,
                 resampling: dict[str, Any] | None = None) -> tuple[dict[str, Any], bytes | None]:
    """The result file's content, and the bytes of its replicates file (or None): the one place a
    result is assembled. Validated here."""
    mk: ModelKey = key.model
    result = {
        "schema_version": SCHEMA_VERSION,
        "run_key": key.as_dict(),
        "task": {"name": task.name, "version": task.version, "type": task.type, "description": task.description,
                 "config": task.config(), "config_hash": task.config_hash()},
        "model": {"name": mk.name, "revision": mk.revision, "resolved_revision": resolved_revision,
                  "wrapper_version": mk.wrapper_version, "args": mk.args,
                  "checkpoint_sha256": mk.checkpoint_sha256, "meta": model_meta},
        "dataset": dataset,
        "frontend": {k: mk.frontend[k] for k in FrontendInfo.__annotations__},
        "pooling": list(key.pooling),
        "precision": mk.precision,
        "device": device,
        "scores": scores,
        "seed": key.seed,
        "versions": package_versions(),
        "timing": {"extract_s": round(extract_s, 4), "metric_s": round(metric_s, 4),
                   "activations_cached": activations_cached},
        "created": now_utc(),
    }
    sidecar = None
    if replicates:
        sidecar = _npz_bytes(replicates)
        result["replicates"] = {"file": replicates_path(Path(f"{safe_name(task.name)}.json")).name,
                                "sha256": hashlib.sha256(sidecar).hexdigest(),
                                "arrays": {k: list(np.shape(v)) for k, v in replicates.items()},
                                "resampling": dict(resampling or {})}
    problems = validate_result(result)
    if problems:  # a bug in a task type or here, never the user's: say exactly what is off
        raise ValueError("the result does not match the schema (audioprobe.results):\n  " + "\n  ".join(problems))
    return result, sidecar


def write_result(path: Path, result: dict[str, Any], sidecar: bytes | None = None) -> None:
    """Validate, then write atomically (temporary file, then rename): the replicates file first, so a
    result file never names arrays that are not there."""
    problems = validate_result(result)
    if problems:
        raise ValueError(f"refusing to write {path}: " + "; ".join(problems))
    if (sidecar is None) != ("replicates" not in result):
        raise ValueError(f"refusing to write {path}: replicates block and replicates file must come together")
    if sidecar is not None:
        if hashlib.sha256(sidecar).hexdigest() != result["replicates"]["sha256"]:
            raise ValueError(f"refusing to write {path}: the replicates file does not match its hash")
        atomic_write_bytes(replicates_path(path), lambda fh: fh.write(sidecar))
    text = json.dumps(result, indent=2, sort_keys=False, allow_nan=False) + "\n"
    atomic_write_bytes(Path(path), lambda fh: fh.write(text.encode("utf-8")))


def read_replicates(path: Path, result: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """The replicates beside result file `path`, checked against the hash the result records."""
    result = result if result is not None else read_result(path)
    info = result.get("replicates")
    if info is None:
        raise AudioprobeError(f"{path}: this result keeps no bootstrap replicates (bootstrap was 0, or it was written "
                              f"before they were kept); re-run it with --overwrite to compare it.")
    file = replicates_path(path)
    if info["file"] != file.name:  # never follow a name read from the file to another place
        raise AudioprobeError(f"{path}: its replicates file is named {info['file']!r}, not {file.name!r}; re-run the "
                              f"task with --overwrite.")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise AudioprobeError(f"{file}: cannot read the replicates of {path} ({exc.strerror}); re-run the task with "
                              f"--overwrite.") from None
    if hashlib.sha256(data).hexdigest() != info["sha256"]:
        raise AudioprobeError(f"{file}: does not match the SHA-256 recorded in {path} (replaced or damaged); re-run "
                              f"the task with --overwrite.")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:  # its hash matches, but no npz
        raise AudioprobeError(f"{file}: not a readable replicates file ({exc.__class__.__name__}); re-run the task "
                              f"with --overwrite.") from None
    if {k: list(v.shape) for k, v in arrays.items()} != info["arrays"]:
        raise AudioprobeError(f"{file}: its arrays are not those {path} lists; re-run the task with --overwrite.")
    return arrays


def experiment_of(result: dict) -> str:
    """The experiment a result belongs to: its task type, partial RSA (a control regressed out) apart. The
    leaderboard's and the report's sections, and the families over which audioprobe-compare corrects for
    multiple comparisons."""
    kind = result["task"].get("type", "other")
    control = result["task"].get("config", {}).get("params", {}).get("control", "none")
    if kind == "rsa" and control not in ("none", "", None):
        return "rsa-partial"
    return re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-") or "other"  # a slug: it becomes an anchor


def reliability_blocks(scores: dict) -> dict[str, dict]:
    """Every split-half reliability block a result is read against, by role: "target" (an RSA target's
    `noise_ceiling`, or the raw target's `target_reliability` for partial RSA) and each perceived label of a
    transfer or ABX task (`label_reliability`: "target", "split", "labels", "strata"). The one place that
    knows where they are."""
    target = scores.get("target_reliability") or scores.get("noise_ceiling")
    return {**({"target": target} if target else {}), **(scores.get("label_reliability") or {})}


def unreliable_roles(scores: dict) -> list[str]:
    """The roles of `reliability_blocks` the listeners do not agree on (`reliable` false), in order."""
    return [role for role, block in reliability_blocks(scores).items() if block.get("reliable") is False]


def unreliable_labels(scores: dict) -> list[str]:
    """What a result is read against that the listeners do not agree on, in words (empty: nothing): an
    RSA target whose split-half ceiling does not reach its reliability floor, and each perceived label of a
    transfer or ABX task that does not (`reliability_blocks`). Scores against such a target or split say
    more about the listeners' noise than about the model; the leaderboard, the report and compare flag them."""
    out = []
    for role, block in reliability_blocks(scores).items():
        if block.get("reliable") is not False:
            continue
        value, (lo, hi) = format_score(block.get("value"), 3), (format_score(x, 3) for x in block["interval"])
        if "dimension" in block:  # a perceived label (rsa.dimension_reliability)
            out.append(f"{role} label {block['dimension']!r} unreliable: listeners' split-half reliability {value}, "
                       f"[{lo}, {hi}]")
        else:
            out.append(f"target unreliable: ceiling {value}, [{lo}, {hi}] over listener splits")
    return out


def _no_constant(name: str):
    raise ValueError(f"a non-finite number ({name}) where JSON allows none")


def load_json_strict(text: str) -> Any:
    """json.loads refusing NaN and Infinity (Python writes and reads them, JSON has none): a result or suite
    file holding one was edited or corrupted, and would change the leaderboard's bold and crash compare. Deep
    nesting (no result nests more than a few levels) is refused as the ValueError it is, not a RecursionError."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply to be a result") from None


def read_result(path: Path) -> dict[str, Any]:
    """Read and check one result file (the current schema; an older one is checked for its required keys only)."""
    try:
        data = load_json_strict(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: bad JSON, bad UTF-8, a NaN (load_json_strict)
        raise AudioprobeError(f"{path}: not a readable result file ({str(exc)[:200]}).") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version is None:
        raise AudioprobeError(f"{path}: not an audioprobe result file (no schema_version).")
    if version not in READABLE_VERSIONS:
        raise AudioprobeError(f"{path}: schema_version {version!r} is not one of {READABLE_VERSIONS}; re-run the "
                              f"task with --overwrite.")
    if version != SCHEMA_VERSION:
        missing = [k for k in LEGACY_REQUIRED_KEYS if k not in data]
        problems = [f"missing key {k!r}" for k in missing]
    else:
        problems = validate_result(data)
    if problems:
        raise AudioprobeError(f"{path}: not a valid result file: {'; '.join(problems[:5])}"
                              f"{' ...' if len(problems) > 5 else ''}. Re-run the task with --overwrite.")
    return data


#: a stimulus set's summary beside its model folders (written and read by audioprobe.summaries)
SUMMARY_FILE = "dataset.json"
#: a suite result's file name ends so (written and read by audioprobe.suites)
SUITE_SUFFIX = ".suite.json"


def is_set_summary(path: Path) -> bool:
    """A stimulus set's summary, which lies among the results but is none."""
    if path.name != SUMMARY_FILE:
        return False
    try:
        with open(path, "rb") as fh:
            return b'"summary_version"' in fh.read(64)
    except OSError:  # a folder or a dangling link of that name: not a summary, and not a result either
        return True


def collect_files(results_dir: Path) -> list[tuple[Path, dict]]:
    """(path, result) for every result file under `results_dir`, one per (stimulus set, model, task).

    Both layouts are read: `DIR/<set>-<fp8>/<model>/<task>.json` (schema 2) and the earlier
    `DIR/<model>/<task>.json` (schema 1). Where both hold a result for the same set, model and
    task, the newer schema wins (then the later `created`), so an old file never hides or
    duplicates a recomputed one.
    """
    best: dict[tuple, tuple[Path, dict]] = {}
    for f in sorted(Path(results_dir).rglob("*.json")):
        if is_set_summary(f) or f.name.endswith(SUITE_SUFFIX):  # beside the results, but none
            continue
        if not f.is_file():  # a folder, or a dangling link, named like a result
            logging.getLogger(__name__).warning("skipped %s: not a file", f)
            continue
        try:
            r = read_result(f)
        except AudioprobeError as exc:  # one bad file never hides the others: skip it, say which
            logging.getLogger(__name__).warning("skipped %s", exc)
            continue
        if f.name != f"{safe_name(r['task']['name'])}.json":  # a copy ("rsa-rdm (copy).json"): not this layout's
            logging.getLogger(__name__).warning("skipped %s: a result of task %r is named %s.json; this file is a "
                                                "copy or was renamed", f, r["task"]["name"], safe_name(r["task"]["name"]))
            continue
        slot = (r["dataset"]["fingerprint"], result_label(r), r["task"]["name"])
        rank = (r["schema_version"], r.get("created", ""))
        if slot not in best or rank > (best[slot][1]["schema_version"], best[slot][1].get("created", "")):
            best[slot] = (f, r)
    return list(best.values())


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
    tp = _unwrap(tp)[0]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return
    if _is_record(tp):
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


def check_typed(value: Any, tp: Any, where: str) -> list[str]:
    """Every way `value` departs from the typed dict `tp` (empty: valid); for files beside the results."""
    problems: list[str] = []
    _check(value, tp, where or tp.__name__, problems)
    return problems


def validate_file(data: Any, tp: Any, version_key: str, version: int, where: str, what: str, fix: str) -> dict:
    """A typed file beside the results (a set summary, a suite result): valid for `tp` and of this
    `version`, or an AudioprobeError naming `where`, what it should be and how to `fix` it."""
    problems = check_typed(data, tp, "")
    if not problems and data[version_key] != version:
        problems.append(f"{version_key} {data[version_key]} (this version reads {version})")
    if problems:
        raise AudioprobeError(f"{where}: not a valid {what}: {'; '.join(problems[:5])}. {fix}")
    return data


def write_json_file(path: Path, data: dict[str, Any]) -> None:
    """Write a validated JSON file atomically (no NaN: JSON has none)."""
    text = json.dumps(data, indent=1, allow_nan=False) + "\n"
    atomic_write_bytes(Path(path), lambda fh: fh.write(text.encode()))


def scores_schema(task_type: str) -> type:
    """The TypedDict of a task type's `scores` block."""
    from audioprobe.tasktypes import TASK_TYPES

    if task_type not in TASK_TYPES:
        raise AudioprobeError(f"task type {task_type!r} is not registered here; cannot check its scores.")
    return TASK_TYPES[task_type].scores_schema


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
    return problems


class _ResultWithoutScores(Result):
    scores: dict[str, Any]  # checked against the task type's own schema


# ---------------------------------------------------------------------------------------------
# Documentation generated from the schema (docs/results.md)

def _type_name(tp) -> str:
    tp = _unwrap(tp)[0]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if _is_record(tp):
        return f"[{tp.__name__}](#{tp.__name__.lower()})"
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in args)
    if origin is Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        return "[" + ", ".join(_type_name(a) for a in args) + "]"
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"object of {_type_name(args[1])}"
    return {type(None): "null", float: "number", int: "integer", str: "string", bool: "boolean",
            Any: "any"}.get(tp, getattr(tp, "__name__", str(tp)))


def _records(tp, seen: list) -> None:
    """Every record type reachable from tp, in first-use order."""
    tp = _unwrap(tp)[0]
    if _is_record(tp):
        if tp in seen:
            return
        seen.append(tp)
        for ftp, _, _ in _fields(tp).values():
            _records(ftp, seen)
    for a in typing.get_args(tp):
        if not isinstance(a, str) and a is not Ellipsis:
            _records(a, seen)


def _table(tp) -> list[str]:
    doc = (tp.__doc__ or "").strip() if dataclasses.is_dataclass(tp) else ""
    lines = [f"### {tp.__name__}", ""] + ([doc.splitlines()[0], ""] if doc else [])
    lines += ["| key | type | required | meaning |", "| --- | --- | --- | --- |"]
    for name, (ftp, fdoc, required) in _fields(tp).items():
        lines.append(f"| `{name}` | {_type_name(ftp)} | {'yes' if required else 'no'} | {fdoc} |")
    return lines + [""]


def schema_markdown() -> str:
    """docs/results.md: every field of a result file, generated from the types above."""
    from audioprobe.tasktypes import TASK_TYPES

    lines = ["# Result files", "",
             "<!-- generated by `python -m audioprobe.results > docs/results.md`; a test checks it is current -->", "",
             f"One JSON file per (model, task, stimulus set), schema version {SCHEMA_VERSION}, at",
             "`DIR/<set>-<fingerprint[:8]>/<model>/<task>.json`, where `<model>` is the model's name, or for a setting",
             "with `--model-args` other than the name's presets the name, `@`, those arguments and 8 hex digits of",
             "their hash (`results.model_folder`; tables show it as `name[k=v,...]`, `results.model_label`). The",
             "leaderboard, comparisons and reports read nothing else. Every file audioprobe writes is checked against this schema; an unknown key is an",
             "error. Numbers that are undefined are `null`, never NaN.", "", "## The file", ""]
    common: list = []
    _records(Scores, common)
    top: list = []
    _records(Result, top)
    for tp in top:
        if tp not in common:
            lines += _table(tp)
    lines += ["## Scores", "", "Every task type's `scores` has these keys; each type adds its own below.", ""]
    for tp in common:
        lines += _table(tp)
    done = set(common) | set(top)
    for name, ttype in sorted(TASK_TYPES.items()):
        lines += [f"## Task type `{name}`", "", f"`scores` is a {_type_name(ttype.scores_schema)}.", ""]
        found: list = []
        _records(ttype.scores_schema, found)
        for tp in found:
            if tp not in done:
                lines += _table(tp)
                done.add(tp)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(schema_markdown(), end="")
