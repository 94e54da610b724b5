"""Claims from result files: paired comparisons of models, and contrasts within a model.

Everything here reads result files and their replicates (`<task>.replicates.npz`) only, never a
model or an activation. Two results are compared row by row only when their resample plans are
the same draws (`replicates.resampling.plan_sha256`): same stimulus set, seed and resampled
factors. The statistics are `audioprobe.metrics.inference` (Schütt et al. 2023: paired t-tests
with bootstrap variances; the dual-bootstrap correction where listeners were resampled too;
Benjamini-Hochberg across the pairs of a task or the layers of a contrast).

Its parts: `pairing` (entries and their shared replicates), `contrast_tests` (contrasts, verdicts,
families), `compare_render` (markdown); this module compares models and runs the command's selection.
"""

from __future__ import annotations

import fnmatch
import logging
from pathlib import Path
from typing import Any

from audioprobe.errors import AudioprobeError
from audioprobe.leaderboard.contrast_tests import correct_families, evaluate_contrast, judge_rows
from audioprobe.leaderboard.contrasts import Contrast
from audioprobe.leaderboard.measures_across import across_measures
from audioprobe.leaderboard.pairing import METHOD, Entry, _pairable, _stack, collect_entries, over_pairs
from audioprobe.metrics import inference
from audioprobe.results import experiment_of, unreliable_labels
from audioprobe.tasktypes.headline import headline_proportion_interval

log = logging.getLogger(__name__)


def compare_models(entries: list[Entry], alpha: float = 0.05, level: float = 0.95) -> dict[str, Any] | None:
    """Every pair of models on one task and set: differences of headlines, simultaneous ranks, the best set."""
    usable, left_out = _pairable(entries, "headline")
    usable = sorted(usable, key=lambda e: e.model)
    if len(usable) < 2:
        return None if not usable else {"models": [usable[0].model], "left_out": left_out, "pairwise": None}
    lower = bool(usable[0].result["scores"].get("lower_is_better", False))
    estimates = [e.result["scores"]["headline"]["value"] for e in usable]
    reps = over_pairs(_stack([e.replicates("headline") for e in usable]), "headline", *usable)
    n = usable[0].factors()
    common = dict(n_sounds=n["n_sounds"], n_listeners=n["n_listeners"])
    simultaneous = inference.simultaneous_pairs(estimates, reps, level=level, **common)
    best = simultaneous if abs((1 - alpha) - level) < 1e-12 else inference.simultaneous_pairs(
        estimates, reps, level=1 - alpha, **common)
    pairwise = inference.pairwise_table(estimates, reps, alpha=alpha, level=level, **common)
    _proportion_intervals(pairwise["score"], [e.result["scores"]["headline"] for e in usable], level)
    return {
        "models": [e.model for e in usable],
        "headline": estimates,
        "headline_layer": [e.result["scores"]["headline"]["layer"] for e in usable],
        "lower_is_better": lower,
        "resampling": usable[0].resampling,
        "pairwise": pairwise,
        "simultaneous": simultaneous,
        "ranks": inference.rank_intervals(estimates, reps, lower_is_better=lower, level=level,
                                          simultaneous=simultaneous, **common),
        "best_group": inference.best_set(estimates, reps, alpha=alpha, lower_is_better=lower, simultaneous=best,
                                         **common),
        "left_out": left_out,
    }


def _proportion_intervals(score: dict, headlines: list[dict], level: float) -> None:
    """Each model's interval as its result computes it where the headline is a proportion (it names its
    `n_effective_max`: `headline.headline_proportion_interval`), so that a headline has one interval."""
    for i, head in enumerate(headlines):
        if head.get("n_effective_max") is not None and score["se"][i] is not None:
            dof = score["dof"][i] if isinstance(score["dof"], list) else score["dof"]
            score["ci"][i] = headline_proportion_interval(score["estimate"][i], score["se"][i], dof,
                                                          head["n_effective_max"], level)


# ---------------------------------------------------------------------------------------------
# The report

def _tokens(spec: str) -> list[str]:
    """A comma-separated list, commas inside brackets kept: a model label such as "clap[a=1,b=2]" is one token."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(spec):
        depth += (ch == "[") - (ch == "]")
        if ch == "," and depth <= 0:
            out.append(spec[start:i])
            start = i + 1
    out.append(spec[start:])
    return [t.strip() for t in out if t.strip()]


def _matches(name: str, token: str) -> bool:
    """The name itself (a model label's brackets are not a glob's character class), or a glob."""
    return name == token or fnmatch.fnmatchcase(name, token)


def select(names: list[str], spec: str | None) -> list[str]:
    """Names matching a comma-separated list of names or globs (None: all)."""
    if not spec:
        return names
    tokens = _tokens(spec)
    chosen = [n for n in names if any(_matches(n, t) for t in tokens)]
    unknown = [t for t in tokens if not any(_matches(n, t) for n in names)]
    if unknown:
        raise AudioprobeError(f"{', '.join(map(repr, unknown))} matches no result here (known: "
                              f"{', '.join(sorted(names)[:12])}{' ...' if len(names) > 12 else ''}).")
    return chosen


def compare(results_dir: Path, contrasts: list[Contrast], tasks: str | None = None, models: str | None = None,
            alpha: float = 0.05, level: float = 0.95) -> dict[str, Any]:
    """The whole report, as JSON-ready data: per stimulus set, per task the model comparison, then contrasts."""
    entries = [e for e in collect_entries(results_dir) if e.result["schema_version"] >= 2]
    if not entries:
        raise AudioprobeError(f"{results_dir}: no result files of schema 2 here; run audioprobe-eval first.")
    task_names = select(sorted({e.task for e in entries}), tasks)
    model_names = select(sorted({e.model for e in entries}), models)
    sets: dict[str, list[Entry]] = {}
    for e in entries:
        if e.task in task_names and e.model in model_names:
            sets.setdefault(e.result["dataset"]["fingerprint"], []).append(e)
    if models:  # contrasts against controls read the controls' results even when not listed
        for e in entries:
            if e.result["dataset"]["fingerprint"] in sets and e not in sets[e.result["dataset"]["fingerprint"]]:
                sets[e.result["dataset"]["fingerprint"]].append(e)
    report = {"method": METHOD.format(design="dual-bootstrap variance where listeners were resampled", alpha=alpha),
              "alpha": alpha, "level": level, "sets": []}
    for fp, group in sorted(sets.items(), key=lambda kv: kv[1][0].result["dataset"]["name"]):
        ds = group[0].result["dataset"]
        by_task: dict[str, list[Entry]] = {}
        for e in group:
            if e.model in model_names and e.task in task_names:
                by_task.setdefault(e.task, []).append(e)
        by_key = {(e.model, e.task): e for e in group}
        shown_models = {e.model for e in group if e.model in model_names}
        tables = []
        for task, es in sorted(by_task.items()):
            table = compare_models(es, alpha, level)
            if table is not None:
                flags = unreliable_labels(es[0].result["scores"])  # the target and labels are the task's, not the model's
                tables.append({"task": task, "metric": es[0].result["scores"]["metric"], **table,
                               **({"unreliable": flags} if flags else {})})
        contrast_out = []
        for c in contrasts:
            # --models and --tasks filter the contrasts too: a row shows when its model is selected and every task
            # it reads is (a control model is not a task: kind control's b is its model, read even if unlisted)
            rows = [r for r in evaluate_contrast(c, by_key, alpha, level) if r["model"] in shown_models
                    and r["a"] in task_names and (c.kind != "tasks" or r.get("b") in task_names)]
            if rows:
                contrast_out.append({"contrast": c.name, "version": c.version, "kind": c.kind,
                                     "description": c.description, "margin": c.margin, "rows": rows})
        correct_families(tables, contrast_out, {e.task: experiment_of(e.result) for e in group}, alpha)
        judge_rows(contrast_out)
        measures = across_measures(tables, by_task, alpha, level)
        report["sets"].append({"name": ds["name"], "fingerprint": fp, "n_sounds": ds["n_sounds"],
                               "synthetic": bool(ds.get("synthetic")), "partial": bool(ds.get("partial")),
                               "tasks": tables, "contrasts": contrast_out, "measures": measures})
    from audioprobe.leaderboard.suite_tables import compare_suites

    report["suites"] = compare_suites(results_dir, alpha, level)
    return report
