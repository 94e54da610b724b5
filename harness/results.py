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
    scores           what the task type computed; every type has:
                     metric        one sentence saying what `score` is
                     per_layer     [{layer, score, ci: [low, high] | null, p_value, note?}] in layer order;
                                   note says why a value is null
                     headline      {value, layer, ci, selection, layer_frequency}: value is the mean
                                   held-out score of the layer picked on one half of the sounds and
                                   scored on the other, over `cv_splits` random halves; layer is the
                                   one picked most often (layer_frequency: its share of the splits)
                     statistics    {seed, bootstrap, bootstrap_unit, ci_level, ci_method,
                                   permutations, p_value (the test used), cv_splits}
                     caveat        present when the stimulus set is synthetic
                     lower_is_better  true when smaller scores are better (ABX error)
                   rsa:  noise_ceiling {value, split_half_r, split_half_r_sd, n_splits, method} or
                         {value: null, reason}; control {model, layer, score_of_control} or null
                         (partial RSA); n_sounds; n_pairs
                   transfer: per_layer also has accuracy, balanced_accuracy, baseline_accuracy,
                         baseline_balanced_accuracy (no-transfer baseline: the same probe
                         cross-validated inside the test subset), each with a `_ci`, baseline_note,
                         and C (chosen inside the training sounds); chance {accuracy,
                         balanced_accuracy, method}; n_train; n_test; n_excluded (sounds with a tied
                         modal response); classes_train; classes_test
                   abx:  chance (0.5); categories; by_values; n_sounds_used; n_triplets
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

from audioprobe.files import atomic_write_bytes
from audioprobe.errors import AudioprobeError

SCHEMA_VERSION = 1
REQUIRED_KEYS = ("schema_version", "task", "model", "dataset", "scores", "seed", "versions", "device",
                 "timing", "created")


def format_score(value: float | None, digits: int = 4) -> str:
    """A score for tables: a dash when missing, and never "-0.000" for a tiny negative."""
    if value is None:
        return "—"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and text.strip("-0.") == "" else text


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
