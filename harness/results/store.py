"""Writing and reading result files: `build_result` (the one function that assembles a result), atomic
writes of a result and its replicates, strict JSON reading, and collecting a folder's results."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import logging
import platform
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from audioprobe.errors import AudioprobeError
from audioprobe.files import atomic_write_bytes
from audioprobe.identity import SCHEMA_VERSION, ModelKey, RunKey
from audioprobe.results.interpret import _no_constant
from audioprobe.results.paths import SUITE_SUFFIX, is_set_summary, replicates_path, result_label, safe_name
from audioprobe.results.schema import LEGACY_REQUIRED_KEYS, READABLE_VERSIONS, FrontendInfo
from audioprobe.results.validator import check_typed, validate_result

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
