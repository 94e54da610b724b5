"""Suites: many stimulus sets (studies) in one run, and a model's result over all of them.

A suite file (YAML) names stimulus sets: folders (relative to the suite file), registered names or
`hf:` ids. `audioprobe-eval --data SUITE.yaml` runs every task on every set (each model loaded once);
per-set results go where they always go (`DIR/<set>-<fp8>/<model>/<task>.json`, never overwritten by
another set), and after them one suite result per (model, task):
`DIR/suites/<suite>/<model>/<task>.suite.json` (`SuiteResult`, validated), with the per-set scores,
their mean with an interval over sets, and the leave-one-set-out headline (metrics/over_sets.py).

The suite result is rebuilt from the per-set results on every run, so it is never stale; the
resamples over sets are a function of (seed, number of sets, resamples) and are recomputed, not
stored, by `audioprobe-compare` to pair models set by set.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Annotated, Any, NotRequired, TypedDict

import numpy as np

from audioprobe.errors import AudioprobeError
from audioprobe.results import (
    SUITE_SUFFIX,
    load_json_strict,
    model_folder,
    now_utc,
    safe_name,
    validate_file,
    write_json_file,
)

SUITE_VERSION = 2  # 2: t intervals over sets (was: percentile bootstrap over sets)
SUITES_FOLDER = "suites"
#: resamples of the sets for the paired comparisons of models over sets (cheap: a few dozen sets)
SET_RESAMPLES = 10000


@dataclasses.dataclass(frozen=True)
class Suite:
    name: str
    description: str
    sets: tuple[str, ...]  # stimulus-set specs, relative folders resolved against the suite file
    path: str

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "path": self.path}


def is_suite_file(spec: str) -> bool:
    return spec.endswith((".yaml", ".yml")) and Path(spec).expanduser().is_file()


def load_suite(path: Path) -> Suite:
    """Read and check a suite file; every error names the file and the key."""
    path = Path(path).expanduser()
    from audioprobe.files import read_config_yaml

    data = read_config_yaml(path, "suite file")
    if not isinstance(data, dict):
        raise AudioprobeError(f"{path}: a suite file is a mapping with keys name, description, sets.")
    unknown = sorted(set(data) - {"name", "description", "sets"})
    if unknown:
        raise AudioprobeError(f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; a suite file has name, "
                              f"description and sets.")
    name = data.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_+-]*(\.[A-Za-z0-9_+-]+)*", name):
        raise AudioprobeError(f"{path}: key 'name' must be a non-empty name of letters, digits, '-', '_' or '.' "
                              f"(it names the suite's result folder), got {name!r}.")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise AudioprobeError(f"{path}: key 'description' must be text.")
    sets = data.get("sets")
    if not isinstance(sets, list) or not sets or not all(isinstance(s, str) and s.strip() for s in sets):
        raise AudioprobeError(f"{path}: key 'sets' must be a non-empty list of stimulus sets (folders relative to "
                              f"the suite file, registered names or hf:ORG/NAME).")
    resolved = []
    for spec in sets:
        local = path.parent / spec
        if not spec.startswith("hf:") and (local.exists() or "/" in spec or spec.startswith(".")):
            spec = str(local)
        resolved.append(spec)
    dup = next((s for i, s in enumerate(resolved) if s in resolved[:i]), None)
    if dup is not None:
        raise AudioprobeError(f"{path}: key 'sets' lists {dup!r} twice.")
    return Suite(name, description, tuple(resolved), str(path))


# ---------------------------------------------------------------------------------------------
# The suite result

class SetEntry(TypedDict):
    set: Annotated[str, "the stimulus set's name"]
    fingerprint: Annotated[str, "its fingerprint (SHA-256 of its contents)"]
    n_sounds: Annotated[int, "sounds in it"]
    headline: Annotated[float | None, "the set's own headline (its layer chosen on the set itself; null: undefined)"]
    headline_layer: Annotated[str | None, "the layer of that headline"]
    per_layer: Annotated[list[float | None], "per-layer scores on the set, in the order of `layers`"]
    leave_one_set_out: Annotated[float | None, "the score on this set of the layer chosen on the other sets"]
    leave_one_set_out_layer: Annotated[str | None, "that layer (null: no layer defined on the other sets)"]


class MeanOverSets(TypedDict):
    value: Annotated[float | None, "mean over the sets with a defined score"]
    ci: Annotated[tuple[float, float] | None, "percentile interval over resamples of the sets"]
    n_sets: Annotated[int, "sets with a defined score"]


class SuiteStatistics(TypedDict):
    resampled: Annotated[str, "what the interval resamples: stimulus sets (studies), with replacement"]
    n_resamples: Annotated[int, "resamples of the sets"]
    seed: Annotated[int, "seed of the set resamples (metrics.over_sets.set_resamples)"]
    ci_level: Annotated[float, "level of the intervals"]
    ci_method: Annotated[str, "percentile bootstrap over sets"]


class SuiteResult(TypedDict):
    suite_version: Annotated[int, f"version of this file's layout ({SUITE_VERSION})"]
    suite: Annotated[dict[str, str], "the suite: name, description, path of its file"]
    model: Annotated[dict[str, Any], "the model (name, revision, ...), as in the per-set results"]
    task: Annotated[dict[str, Any], "the task (name, type, version, config_hash)"]
    lower_is_better: Annotated[bool, "an error rate: lower is better"]
    layers: Annotated[list[str], "the model's layers (the same on every set)"]
    sets: Annotated[list[SetEntry], "per set, in the suite's order"]
    mean_of_set_headlines: Annotated[MeanOverSets, "mean of each set's own headline (layer chosen per set)"]
    leave_one_set_out: Annotated[MeanOverSets, "mean of the leave-one-set-out scores: the headline of the suite"]
    per_layer_mean: Annotated[list[float | None], "per layer, the mean score over the sets"]
    statistics: Annotated[SuiteStatistics, "how the intervals were made"]
    synthetic: Annotated[bool, "some set is synthetic"]
    caveat: NotRequired[Annotated[str, "synthetic sets: not findings about human perception"]]
    missing_sets: NotRequired[Annotated[list[str], "sets of the suite with no result for this task (not "
                                                   "applicable): left out of every mean"]]
    created: Annotated[str, "UTC time the file was written"]


def suite_path(output_dir: Path, suite: str, model: str, task: str) -> Path:
    return Path(output_dir) / SUITES_FOLDER / safe_name(suite) / model_folder(model) / f"{safe_name(task)}{SUITE_SUFFIX}"


def _f(x) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def build_suite_result(suite: Suite, results: list[dict], missing: list[str], seed: int,
                       level: float = 0.95, n_resamples: int = SET_RESAMPLES) -> dict[str, Any]:
    """The suite result of one (model, task) from its per-set results (in the suite's order)."""
    from audioprobe.metrics.over_sets import leave_one_set_out, mean_with_interval, set_resamples

    first = results[0]
    layers = [e["layer"] for e in first["scores"]["per_layer"]]
    for r in results[1:]:
        if [e["layer"] for e in r["scores"]["per_layer"]] != layers:
            raise AudioprobeError(f"suite {suite.name!r}: model {first['model']['name']!r} has other layers on set "
                                  f"{r['dataset']['name']!r} than on {first['dataset']['name']!r}; cannot pool them.")
    lower = bool(first["scores"].get("lower_is_better", False))
    per_layer = np.array([[np.nan if e["score"] is None else e["score"] for e in r["scores"]["per_layer"]]
                          for r in results], dtype=np.float64)
    heads = np.array([np.nan if r["scores"]["headline"]["value"] is None else r["scores"]["headline"]["value"]
                      for r in results])
    choice, loso = leave_one_set_out(per_layer, lower)
    counts = set_resamples(seed, len(results), n_resamples)

    def over_sets(values):
        mean, ci, _ = mean_with_interval(values, counts, level)
        ok = np.isfinite(values)
        return {"value": _f(mean), "ci": None if not np.all(np.isfinite(ci)) else [float(ci[0]), float(ci[1])],
                "n_sets": int(ok.sum())}

    finite = np.isfinite(per_layer)
    layer_mean = np.where(finite.any(axis=0), np.where(finite, per_layer, 0).sum(axis=0) /
                          np.maximum(finite.sum(axis=0), 1), np.nan)
    synthetic = any(r["dataset"].get("synthetic") for r in results)
    out = {
        "suite_version": SUITE_VERSION,
        "suite": suite.describe(),
        "model": first["model"],
        "task": {k: first["task"][k] for k in ("name", "type", "version")} | {"config_hash": first["run_key"]["task"][
            "config_hash"]},
        "lower_is_better": lower,
        "layers": layers,
        "sets": [{"set": r["dataset"]["name"], "fingerprint": r["dataset"]["fingerprint"],
                  "n_sounds": r["dataset"]["n_sounds"], "headline": _f(heads[i]),
                  "headline_layer": r["scores"]["headline"]["layer"],
                  "per_layer": [_f(v) for v in per_layer[i]], "leave_one_set_out": _f(loso[i]),
                  "leave_one_set_out_layer": layers[choice[i]] if choice[i] >= 0 else None}
                 for i, r in enumerate(results)],
        "mean_of_set_headlines": over_sets(heads),
        "leave_one_set_out": over_sets(loso),
        "per_layer_mean": [_f(v) for v in layer_mean],
        "statistics": {"resampled": "stimulus sets (studies), with replacement; the same draws for every model and "
                                    "task of the suite", "n_resamples": n_resamples, "seed": seed,
                       "ci_level": level, "ci_method": "t interval over sets: mean -/+ t(k - 1) sd / sqrt(k) over "
                                                       "the k sets with a score (none below 2 sets)"},
        "synthetic": synthetic,
        "created": now_utc(),
    }
    if synthetic:
        out["caveat"] = ("some sets are synthetic with simulated judgments: these numbers test the harness, they are "
                         "not findings about human perception")
    if missing:
        out["missing_sets"] = list(missing)
    return out


def validate_suite_result(data: Any, where: str) -> dict[str, Any]:
    return validate_file(data, SuiteResult, "suite_version", SUITE_VERSION, where, "suite result",
                         "Rerun audioprobe-eval on the suite.")


def write_suite_result(path: Path, data: dict[str, Any]) -> None:
    write_json_file(path, validate_suite_result(data, str(path)))


def read_suite_result(path: Path) -> dict[str, Any]:
    """One suite result, validated (an unreadable or invalid one is an error naming it)."""
    try:
        data = load_json_strict(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AudioprobeError(f"{path}: unreadable suite result ({exc}); rerun audioprobe-eval on the suite.") from None
    return validate_suite_result(data, str(path))


def read_suite_results(results_dir: Path) -> list[tuple[Path, dict]]:
    """Every readable suite result under `results_dir`; an unreadable or invalid one is skipped with a warning
    naming it (one bad file never stops the leaderboard, compare or the report)."""
    import logging

    out = []
    for f in sorted(Path(results_dir).rglob(f"*{SUITE_SUFFIX}")):
        try:
            out.append((f, read_suite_result(f)))
        except AudioprobeError as exc:
            logging.getLogger(__name__).warning("skipped %s", exc)
    return out
