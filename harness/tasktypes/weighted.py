"""Every statistic of a score that is a function of the sounds' weights, from one call per block of weights.

A layer's CKA with the listeners' responses, or the correlation of an encoding model's held-out predictions
with them, is a statistic of the sounds, each counted with a weight: 1 for the estimate, its bootstrap count
in a resample, 0 or 1 in a half of a split, count x membership for a half of a resample. A task type whose
score has that form gives `weighted_statistics` a function `score(weights [m, n]) -> [n_layers, m]`; this
module draws the weights and turns the values into what every task type reports:

- resamples: the seed's bootstrap counts of the sounds (`ResamplePlan.sound_counts`), the draws RSA tasks on
  the same sounds use, so audioprobe-compare pairs these scores with theirs resample by resample;
- half-splits: `resampling.random_halves` from the seed's split stream (as RSA's); the headline is the
  cross-validated layer choice (picked on one half, scored on the other) over cv_splits of them, its
  replicates the same choice on the first K = `resampling.HEADLINE_SPLITS` splits inside every resample
  (weights c h and c (1 - h)), read by `inference.Splits`;
- per layer: the percentile interval of the resamples and, where the score has a null value (0: no
  alignment), the bootstrap test against it; the headline's interval is `headline.headline`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from audioprobe.metrics import intervals, layer_selection, resampling
from audioprobe.tasktypes.common import EvalContext, interval, json_float
from audioprobe.tasktypes.headline import headline

#: Rows of weights scored in one call (memory: a few [rows, n] arrays per Gram pair or prediction matrix).
WEIGHT_ROWS = 2048


def _scored(score: Callable[[np.ndarray], np.ndarray], weights: np.ndarray, n_layers: int) -> np.ndarray:
    """`[n_layers, m]` in blocks of WEIGHT_ROWS rows."""
    out = np.empty((n_layers, weights.shape[0]))
    for start in range(0, weights.shape[0], WEIGHT_ROWS):
        out[:, start:start + WEIGHT_ROWS] = score(weights[start:start + WEIGHT_ROWS])
    return out


#: Resamples whose fits a refitted score makes at once.
FIT_CHUNK = 128


def _refitted(score: Callable[[np.ndarray, np.ndarray], np.ndarray], n_layers: int, counts: np.ndarray,
              halves: np.ndarray, K: int) -> np.ndarray:
    """The values of a refitted score in `_scored`'s layout `[n_layers, 1 + B + 2S + 2BK]`, each fit made once
    with every row that uses it: `score(fit_weights [F, n], row_weights [F, R, n]) -> [n_layers, F, R]`."""
    B, n = counts.shape
    S2 = 2 * halves.shape[0]
    out = np.empty((n_layers, 1 + B + S2 + 2 * B * K))
    estimate = score(np.ones((1, n)), np.vstack([np.ones((1, n)), resampling.with_complements(halves).astype(np.float64)])[None])
    out[:, 0], out[:, 1 + B:1 + B + S2] = estimate[:, 0, 0], estimate[:, 0, 1:]
    first = resampling.with_complements(halves[:K]).astype(np.float64)  # [2K, n]
    for start in range(0, B, FIT_CHUNK):
        c = counts[start:start + FIT_CHUNK].astype(np.float64)
        rows = np.concatenate([c[:, None, :], c[:, None, :] * first[None]], axis=1)  # [F, 1 + 2K, n]
        v = score(c, rows)
        out[:, 1 + start:1 + start + c.shape[0]] = v[:, :, 0]
        if K:
            at = 1 + B + S2 + 2 * K * start
            out[:, at:at + 2 * K * c.shape[0]] = v[:, :, 1:].reshape(n_layers, -1)
    return out


def weighted_statistics(names: list[str], score: Callable[..., np.ndarray], n: int, params: dict[str, Any],
                        ctx: EvalContext, unit: str, null_value: float | None = None,
                        undefined_note: str = "the score is undefined on these sounds",
                        refit: bool = False) -> tuple[list[dict], dict]:
    """Per-layer entries and the headline of a score given as `score(weights)`, the replicates kept on ctx.

    names: the layers (in order); n: the sounds the weights weigh; params: the task's `bootstrap`,
    `cv_splits`, `ci_level`; unit: what the kept replicates resample, in words; null_value: the score of no
    alignment (a per-layer p-value tests against it, one-sided: (1 + #resamples <= null) / (1 + resamples));
    None: no test. refit: the score holds a fit to the sounds that a resample redoes (an encoding model): it
    is called `score(fit_weights [F, n], row_weights [F, R, n]) -> [n_layers, F, R]`, each fit's weights (every
    sound once, or a resample's counts) with the rows scored on it (the estimate and its cv halves; a resample
    and its K pairs of halves)."""
    B, S = params["bootstrap"], params["cv_splits"]
    choose = len(names) > 1 and S > 0
    counts = ctx.plan.sound_counts(n, B) if B else np.zeros((0, n), dtype=np.int64)
    halves = resampling.random_halves(ctx.plan.splits(), n, S) if choose else np.zeros((0, n), dtype=bool)
    K = min(resampling.HEADLINE_SPLITS, halves.shape[0]) if B else 0
    if refit:
        values = _refitted(score, len(names), counts, halves, K)
    else:
        weights = [np.ones((1, n)), counts.astype(np.float64), resampling.with_complements(halves).astype(np.float64)]
        if K:  # [B, K, 2] halves of each resample, resample-major
            weights.append((counts[:, None, :] * resampling.with_complements(halves[:K])[None]).reshape(-1, n).astype(np.float64))
        values = _scored(score, np.vstack(weights), len(names))  # [L, 1 + B + 2S + 2BK]
    point, boot = values[:, 0], values[:, 1:1 + B].T
    cv_a, cv_b = values[:, 1 + B:1 + B + 2 * S:2].T, values[:, 2 + B:1 + B + 2 * S:2].T
    per_layer = []
    for k, name in enumerate(names):
        entry = {"layer": name, "score": json_float(point[k]), "ci": None, "p_value": None}
        ok = boot[np.isfinite(boot[:, k]), k] if B else np.empty(0)
        if ok.size:
            entry["ci"] = interval(intervals.percentile_interval(ok[:, None], params["ci_level"])[0])
            if null_value is not None:
                entry["p_value"] = json_float((1 + np.sum(ok <= null_value)) / (1 + ok.size))
        if entry["score"] is None:
            entry["note"] = undefined_note
        per_layer.append(entry)
    cv = {}
    if choose:
        cv["cv_scores"], cv["cv_choice"] = layer_selection.cross_validated_selection(cv_a, cv_b)
    split_reps = None
    if K:
        rep = values[:, 1 + B + 2 * S:].reshape(len(names), B, K, 2)
        split_reps = layer_selection.split_held_out(rep[..., 0].transpose(1, 2, 0), rep[..., 1].transpose(1, 2, 0))
    head, head_reps = headline(per_layer, names, params, **cv, layer_replicates=boot if B else None,
                               split_replicates=split_reps, n_sounds=n)
    if B:
        ctx.keep_replicates(counts, unit, per_layer=boot, **head_reps)
    return per_layer, head


def statistics_block(params: dict[str, Any], seed: int, n: int, null_test: str) -> dict:
    """The result's `statistics` for a score of the sounds' weights."""
    return {
        "seed": seed, "bootstrap": params["bootstrap"],
        "bootstrap_unit": f"sounds: the {n} sounds resampled with replacement (the seed's bootstrap counts, the draws "
                          f"of RSA tasks on the same sounds), the score recomputed with each sound weighted by its count",
        "ci_level": params["ci_level"],
        "ci_method": "per layer: percentile interval of the bootstrap replicates; headline: its ci_method",
        "p_value": null_test,
        "cv_splits": params["cv_splits"],
    }
