"""The no-transfer baseline: the same probe cross-validated inside the test subset.

Its outer folds are stratified folds of the test sounds; the probe of each outer fold chooses its C
in inner folds of that fold's training part. `baseline_absence` says why a test subset has none.
"""

from __future__ import annotations

import numpy as np

from audioprobe.metrics.probing.labels import class_counts_text, fold_count
from audioprobe.metrics.probing.probe import C_GRID, fit_probe, inner_folds_of
from audioprobe.metrics.probing.solver import MAX_ITER


def baseline_folds(y, folds: int, inner_folds: int, seed: int):
    """The no-transfer baseline's folds: (outer [(train, test) index pairs], inner fold count), or None
    where there is no baseline (`baseline_absence` says why). Inner folds must fit inside an outer
    training fold, which holds about (k-1)/k of each class."""
    return _baseline_design(y, folds, inner_folds, seed)[0]


def baseline_absence(y, folds: int, inner_folds: int, seed: int) -> str | None:
    """Why the test subset has no no-transfer baseline (None: it has one): a class of a single sound (no
    stratified split can test it), or an outer fold whose training part cannot choose the probe's C
    (`inner_folds_of`)."""
    return _baseline_design(y, folds, inner_folds, seed)[1]


def _baseline_design(y, folds: int, inner_folds: int, seed: int):
    """((outer folds, inner fold count), None) where the baseline exists, else (None, why)."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    if classes.size < 2:
        return None, f"the test subset has a single class ({class_counts_text(y)}): no baseline"
    if counts.min() < 2:
        return None, (f"a test class has a single sound ({class_counts_text(y)}): no stratified split can test it, "
                      f"so no baseline")
    k = fold_count(y, folds)
    outer = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros((y.size, 1)), y))
    n_inner = max(2, min(inner_folds, int(counts.min()) * (k - 1) // k))
    for fit, _ in outer:
        if inner_folds_of(y[fit], n_inner, seed) is None:
            return None, (f"an outer fold's training part ({class_counts_text(y[fit])}) has fewer than 2 classes with "
                          f"2 or more sounds: the baseline's C cannot be cross-validated, so no baseline")
    return (outer, n_inner), None


def baseline_predictions(x, y, folds=5, c_grid=C_GRID, inner_folds=5, seed=0, max_iter=MAX_ITER):
    """No-transfer baseline: out-of-fold predictions of the same probe cross-validated inside x.

    Returns None when a class has a single sound (no stratified split can test it).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
    plan = baseline_folds(y, folds, inner_folds, seed)
    if plan is None:
        return None
    outer, n_inner = plan
    out = np.empty_like(y)
    for fit, held in outer:
        out[held] = fit_probe(x[fit], y[fit], x[held], c_grid, n_inner, seed, max_iter)[0]
    return out
