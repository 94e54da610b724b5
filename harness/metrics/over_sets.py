"""Statistics over stimulus sets (studies): a model scored on many small similarity studies at once.

A researcher who evaluates a model on a dozen published dissimilarity studies reports the per-study
scores and their mean. The studies are then the unit of replication: the interval of the mean is
a t interval over studies (k - 1 dof; none below 2 studies), and the paired comparisons resample
studies (with replacement; Efron & Tibshirani 1993, ch. 6) with the same draws for every model, so
differences between models pair study by study (as Schütt et al. 2023 pair models on shared
resamples of subjects and stimuli) and are tested with sets - 1 dof.

Choosing a model's layer on the study it is scored on is optimistic, and on 11-24 sounds the
within-study cross-validation is very noisy. Leave-one-set-out chooses the layer for each study
on the *other* studies (the layer with the best mean score there) and scores it on this one: an
honest headline that uses every sound of the study (cf. the leave-one-subject-out layer choice of
brain-score style benchmarks).
"""

from __future__ import annotations

import numpy as np

from audioprobe.metrics.resampling import bootstrap_counts


def set_resamples(seed: int, n_sets: int, n_resamples: int) -> np.ndarray:
    """`[n_resamples, n_sets]` counts: studies drawn with replacement. A function of (seed, n_sets,
    n_resamples) only, so every model and task of a suite gets the same draws (paired)."""
    rng = np.random.default_rng([seed, n_sets, 0x5E75])  # its own stream: not the sounds' bootstrap
    return bootstrap_counts(rng, n_sets, n_resamples)


def weighted_means(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mean of `values` `[n_sets]` under each resample's counts `[m, n_sets]` -> `[m]`; undefined (NaN)
    studies are left out of a resample, and a resample that drew only undefined ones is NaN."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    c = np.asarray(counts, dtype=np.float64)[:, ok]
    total = c.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, c @ v[ok] / np.where(total > 0, total, 1), np.nan)


def mean_with_interval(values: np.ndarray, counts: np.ndarray, level: float = 0.95):
    """(mean over the defined studies, its t interval over studies, the bootstrap replicates of the mean).

    The interval is mean -/+ t(k - 1) sd / sqrt(k) over the k defined studies (sd with ddof 1; the studies
    are the unit, as a random-effects mean over studies), None-like (NaN) below 2 studies: not estimable. A
    percentile bootstrap over studies is not used for it: with a few studies it is close to the range of the
    study scores (3 studies: nearly their min and max) and covers far less than its level (Efron &
    Tibshirani 1993, ch. 13, on the bootstrap's narrowness at small n). The replicates (the same draws for
    every model) still pair models study by study for the paired tests, whose variance gets the k / (k - 1)
    correction and k - 1 dof (`inference`), which makes them the classical paired t-test over studies."""
    from scipy.stats import t as t_dist

    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    k = int(ok.sum())
    mean = float(v[ok].mean()) if k else float("nan")
    reps = weighted_means(v, counts)
    if k < 2:
        return mean, np.array([np.nan, np.nan]), reps
    half = float(t_dist.ppf(0.5 + level / 2, k - 1)) * float(v[ok].std(ddof=1)) / np.sqrt(k)
    return mean, np.array([mean - half, mean + half]), reps


def leave_one_set_out(per_layer: np.ndarray, lower_is_better: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per study s: the layer with the best mean score over the other studies, and its score on s.

    per_layer `[n_sets, n_layers]` (NaN: undefined). Returns (choice `[n_sets]`, -1 where no layer has
    a defined mean on the other studies; score `[n_sets]`, NaN there or where the chosen layer's
    score on s is undefined). Ties go to the first (shallowest) layer.
    """
    x = np.asarray(per_layer, dtype=np.float64)
    k, n_layers = x.shape
    choice = np.full(k, -1, dtype=np.int64)
    score = np.full(k, np.nan)
    if k < 2:
        return choice, score
    for s in range(k):
        others = np.delete(x, s, axis=0)
        finite = np.isfinite(others)
        n_defined = finite.sum(axis=0)
        if not n_defined.any():
            continue
        mean = np.where(finite, others, 0.0).sum(axis=0) / np.maximum(n_defined, 1)
        fill = np.inf if lower_is_better else -np.inf
        pick = int((np.argmin if lower_is_better else np.argmax)(np.where(n_defined > 0, mean, fill)))
        choice[s] = pick
        score[s] = x[s, pick]
    return choice, score
