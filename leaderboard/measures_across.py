"""Claims across measures: do the models rank the same way under every measure of alignment with one target?

Which model "aligns best" can flip with the measure (Kornblith et al. 2019; Ding, Denain & Steinhardt 2021;
Klabunde et al. 2023). For each target that several tasks of a set measure alignment with (RSA against the
listeners' KL or modal RDM, CKA with their response proportions, an encoding model of them: each type's
`Presentation.alignment_target` names the target alike), on the models every one of those tasks has:

- the ranking under each measure, and their agreement: Kendall's W over the measures with its percentile
  interval over the resamples the measures share, and Kendall's tau of every two measures
  (`inference.agreement.concordance`). A replicate of a headline is the mean of its split replicates in that
  resample (K of them where the headline averages cv_splits: the spread, and so the interval, is a little
  wider than the headline's own); for a two-factor result, its sounds-only replicates (listeners fixed), so
  that every measure is read on the same resamples of the sounds;
- each pairwise claim "a is better than b", as each measure's table decides it (its difference significant
  at the table's Benjamini-Hochberg q), marked "holds under every measure" when every measure's table makes
  it (an intersection-union test, Berger 1982: no correction over measures is needed) or "depends on the
  measure" when only some do (`inference.inference.claims_across_measures`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audioprobe.leaderboard.pairing import Entry
from audioprobe.metrics import inference
from audioprobe.tasktypes import presentation


def _headline_replicate(entry: Entry) -> np.ndarray | None:
    """`[B]`: the headline in each resample of the sounds (see the module docstring), or None."""
    reps = entry.replicates("headline")
    if reps is None:
        return None
    if isinstance(reps, dict):
        reps = reps["sounds"]
    if isinstance(reps, inference.Splits):
        values = reps.values
        with np.errstate(invalid="ignore"):
            finite = np.isfinite(values)
            return np.where(finite.any(axis=1), np.where(finite, values, 0.0).sum(axis=1) / np.maximum(
                finite.sum(axis=1), 1), np.nan)
    return np.asarray(reps, dtype=np.float64)


def _shared_replicates(tables: list[dict], models: list[str], by_task: dict[str, list[Entry]]
                       ) -> tuple[np.ndarray | None, str]:
    """`[B, k, n]` headline replicates of every measure and model on the same resamples of the sounds, or None
    and why."""
    entries = []
    for t in tables:
        of_model = {e.model: e for e in by_task[t["task"]]}
        entries.append([of_model[m] for m in models])
    plans = {(e.resampling or {}).get("sounds_plan_sha256") for row in entries for e in row}
    if None in plans or len(plans) != 1:
        return None, ("no interval: the measures' results were not drawn on the same resamples of the sounds "
                      "(another seed, other sounds, or no bootstrap)")
    reps = [[_headline_replicate(e) for e in row] for row in entries]
    if any(r is None for row in reps for r in row):
        return None, "no interval: a result keeps no headline replicates"
    return np.stack([np.stack(row, axis=1) for row in reps], axis=1), (
        f"intervals over the {entries[0][0].resampling['n_resamples']} resamples of the sounds the measures share")


def _claims(tables: list[dict], models: list[str], alpha: float) -> list[dict]:
    """Each claim some measure's table makes, with its verdict across measures, the measures that make it and
    those whose table makes the opposite claim (a ranking that flips with the measure)."""
    n, k = len(models), len(tables)
    q = np.full((k, n, n), np.nan)
    d = np.full((k, n, n), np.nan)
    for m, t in enumerate(tables):
        idx = [t["models"].index(x) for x in models]
        sign = -1.0 if t["lower_is_better"] else 1.0
        table_q = np.array([[np.nan if v is None else v for v in row] for row in t["pairwise"]["q_value"]], float)
        table_d = np.array([[np.nan if v is None else v for v in row] for row in t["pairwise"]["difference"]], float)
        q[m], d[m] = table_q[np.ix_(idx, idx)], sign * table_d[np.ix_(idx, idx)]
    verdicts = inference.claims_across_measures(q, d, alpha=alpha)
    out = []
    for i in range(n):
        for j in range(n):
            if i == j or verdicts[i][j] in (None, inference.VERDICTS[2]):
                continue
            by = [t["task"] for m, t in enumerate(tables) if d[m, i, j] > 0 and q[m, i, j] < alpha]
            against = [t["task"] for m, t in enumerate(tables) if d[m, i, j] < 0 and q[m, i, j] < alpha]
            out.append({"better": models[i], "worse": models[j], "verdict": verdicts[i][j], "supported_by": by,
                        "reversed_by": against})
    return out


def _ranks(scores: np.ndarray, lower: list[bool]) -> list[list[float | None]]:
    """Each measure's average rank of each model (1 best; None where undefined): the ranks of the tables."""
    out = []
    for row, low in zip(scores, lower):
        ranks = np.full(row.size, np.nan)
        ok = np.isfinite(row)
        ranks[ok] = inference.average_ranks(row[ok], low)
        out.append([None if not np.isfinite(r) else float(r) for r in ranks])
    return out


def across_measures(tables: list[dict], by_task: dict[str, list[Entry]], alpha: float = 0.05,
                    level: float = 0.95) -> list[dict[str, Any]]:
    """Per alignment target measured by at least two tasks on at least two common models: the rankings, their
    concordance and the verdict on each claim (the module docstring). tables: audioprobe-compare's model
    tables of one set, after their multiplicity correction."""
    targets: dict[str, list[dict]] = {}
    for t in tables:
        if t.get("pairwise") is None:
            continue
        first = by_task[t["task"]][0].result
        target = presentation.of(first).alignment_target(first)
        if target is not None:
            targets.setdefault(target, []).append(t)
    out = []
    for target, ts in sorted(targets.items()):
        ts = sorted(ts, key=lambda t: t["task"])
        models = sorted(set.intersection(*(set(t["models"]) for t in ts)))
        if len(ts) < 2 or len(models) < 2:
            continue
        scores = np.array([[np.nan if (v := t["headline"][t["models"].index(m)]) is None else v for m in models]
                           for t in ts], dtype=np.float64)
        lower = [bool(t["lower_is_better"]) for t in ts]
        reps, resamples = _shared_replicates(ts, models, by_task)
        out.append({
            "target": target, "measures": [t["task"] for t in ts], "models": models,
            "scores": [[None if not np.isfinite(v) else float(v) for v in row] for row in scores],
            "ranks": _ranks(scores, lower), "lower_is_better": lower,
            "concordance": inference.concordance(scores, reps, lower, level), "resamples": resamples,
            "unreliable": [t["task"] for t in ts if t.get("unreliable")],
            "claims": _claims(ts, models, alpha),
        })
    return out
