"""The result file: one JSON per (model, task), the only thing the leaderboard reads.

Schema (version 1), documented here and nowhere else:

    schema_version   int      1
    task             {name, version, type, description, config, config_hash}
                     config is the resolved task configuration (include and defaults applied);
                     config_hash is SHA-256 of it without the dataset key.
    model            {name, revision, resolved_revision, wrapper_version, args, meta}
                     revision: the pinned revision asked for; resolved_revision: the commit
                     actually loaded (null for local or random weights); meta: ModelMeta.
    dataset          {name, fingerprint, n_sounds, partial, synthetic, source}
                     partial is true when --limit cut the set; synthetic is true for simulated data.
    frontend         {target_rate, resampler, quality, mono, soxr_version}
    pooling          the pooling(s) the task used
    scores           {metric, per_layer: [{layer, score, ...uncertainty fields}], headline:
                     {value, layer, selection}, ...type-specific fields}
    seed             int
    versions         {audioprobe, python, torch, numpy, scipy, scikit-learn}
    device           "cpu" | "cuda:0" | ...
    timing           {extract_s, metric_s, activations_cached}
    created          ISO 8601 UTC time stamp
"""

from __future__ import annotations

import datetime
import json
import platform
import re
from pathlib import Path
from typing import Any

from audioprobe.cache import atomic_write_bytes
from audioprobe.errors import AudioprobeError

SCHEMA_VERSION = 1
REQUIRED_KEYS = ("schema_version", "task", "model", "dataset", "scores", "seed", "versions", "device",
                 "timing", "created")


def safe_name(name: str) -> str:
    """A model or task name as a file or folder name (`hf:org/name` -> `hf_org__name`)."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name.replace("/", "__"))


def result_path(output_dir: Path, model_name: str, task_name: str) -> Path:
    return Path(output_dir) / safe_name(model_name) / f"{safe_name(task_name)}.json"


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


def write_result(path: Path, result: dict[str, Any]) -> None:
    """Write a result atomically (temporary file, then rename)."""
    missing = [k for k in REQUIRED_KEYS if k not in result]
    if missing:
        raise ValueError(f"result lacks {missing}")
    text = json.dumps(result, indent=2, sort_keys=False, allow_nan=False) + "\n"
    atomic_write_bytes(Path(path), lambda fh: fh.write(text.encode("utf-8")))


def read_result(path: Path) -> dict[str, Any]:
    """Read and check one result file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AudioprobeError(f"{path}: not a readable result file ({exc}).") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise AudioprobeError(
            f"{path}: schema_version {data.get('schema_version') if isinstance(data, dict) else None} "
            f"is not {SCHEMA_VERSION}; re-run the task with --overwrite."
        )
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise AudioprobeError(f"{path}: missing key(s) {', '.join(missing)}.")
    return data


def same_run(result: dict[str, Any], config_hash: str, model_identity: dict, fingerprint: str) -> bool:
    """Whether an existing result answers this exact run (so it can be skipped on resume)."""
    m = result.get("model", {})
    return (
        result.get("task", {}).get("config_hash") == config_hash
        and result.get("dataset", {}).get("fingerprint") == fingerprint
        and m.get("name") == model_identity["name"]
        and m.get("revision") == model_identity["revision"]
        and m.get("wrapper_version") == model_identity["wrapper_version"]
        and m.get("args") == model_identity["args"]
    )
