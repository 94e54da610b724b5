"""REFERENCE ONLY: the transfer probe computed the plain, slow way, so that
benchmarks/bench_tasks.py and tests/test_transfer_speed.py can compare the fast path
(audioprobe.metrics.probing) with it in the same run. Not used by the harness. Do not edit except
to follow scikit-learn API changes or a change of what the task computes (e.g. the
matched-size probes, `matched_predictions`).

The matched-size probes take their training sounds from `audioprobe.metrics.probing.matched_plan`
(which sounds is the design, tested on its own in tests/test_transfer_matched.py); everything fitted
on them is the plain pipeline below, each fold's matched probes fitted cold, none reused.

Each C is a cold GridSearchCV fit of Pipeline(StandardScaler, PCA, LogisticRegression(C, tol,
max_iter)) per inner fold, nested in the outer folds of the baseline. Two settings:

- `CONVERGED` (default): tol=TOL, max_iter=MAX_ITER of audioprobe.metrics.probing, the estimator
  the harness computes since transfer version 3 (the converged L2 logistic regression);
- `LEGACY`: scikit-learn's default tol=1e-4 and max_iter=1000, the pipeline before version 3
  (lbfgs stopped before the optimum at large C); kept to report the speed-up against it too.
"""

from __future__ import annotations

import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from audioprobe.metrics.probing import C_GRID, MAX_ITER, TOL

CONVERGED = {"tol": TOL, "max_iter": MAX_ITER}
LEGACY = {"tol": 1e-4, "max_iter": 1000}


def _folds(labels: np.ndarray, wanted: int) -> int:
    """As many stratified folds as asked, but no more than the smallest class allows (>= 2)."""
    smallest = int(np.min(np.unique(labels, return_counts=True)[1]))
    return max(2, min(wanted, smallest))


def make_probe(c_grid, inner_folds: int, labels: np.ndarray, seed: int, max_iter: int = MAX_ITER, tol: float = TOL):
    """Standardise + multinomial logistic regression, C chosen by stratified CV on the fit data only.

    Between the two, PCA keeping every component rotates the (centred) training rows onto their own
    span. That changes nothing but speed: the L2-penalised solution lies in the span of the
    training rows (representer theorem; the intercept is not penalised), so the probe's predictions
    are those of the plain pipeline, with n_train instead of n_features coefficients per class
    (tests/test_transfer.py checks the equality).
    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), PCA(svd_solver="full"), LogisticRegression(max_iter=max_iter, tol=tol))
    cv = StratifiedKFold(_folds(labels, inner_folds), shuffle=True, random_state=seed)
    return GridSearchCV(pipe, {"logisticregression__C": list(c_grid)}, cv=cv, scoring="accuracy")


def transfer_predictions(x_train, y_train, x_test, c_grid=C_GRID, inner_folds=5, seed=0, max_iter=MAX_ITER, tol=TOL):
    """Fit the probe on the training sounds only; predict the test sounds. -> (predictions, chosen C)."""
    from sklearn.exceptions import ConvergenceWarning

    y_train = np.asarray(y_train)
    if len(np.unique(y_train)) < 2:
        raise ValueError("the training subset has a single class: nothing to learn")
    probe = make_probe(c_grid, inner_folds, y_train, seed, max_iter, tol)
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(np.asarray(x_train, dtype=np.float64), y_train)
        pred = probe.predict(np.asarray(x_test, dtype=np.float64))
    return pred, float(probe.best_params_["logisticregression__C"])


def baseline_predictions(x, y, folds=5, c_grid=C_GRID, inner_folds=5, seed=0, max_iter=MAX_ITER, tol=TOL):
    """No-transfer baseline: out-of-fold predictions of the same probe cross-validated inside x.

    Returns None when a class has a single sound (no stratified split can test it).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    y = np.asarray(y)
    if len(np.unique(y)) < 2 or np.min(np.unique(y, return_counts=True)[1]) < 2:
        return None
    k = _folds(y, folds)
    outer = StratifiedKFold(k, shuffle=True, random_state=seed)
    probe = make_probe(c_grid, inner_folds, y, seed, max_iter, tol)
    # inner folds must fit inside an outer training fold, which holds about (k-1)/k of each class
    smallest_train = int(np.min(np.unique(y, return_counts=True)[1])) * (k - 1) // k
    probe.cv = StratifiedKFold(max(2, min(inner_folds, smallest_train)), shuffle=True, random_state=seed)
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # "least populated class" notices of inner folds
        return cross_val_predict(probe, np.asarray(x, dtype=np.float64), y, cv=outer)


def matched_predictions(x: np.ndarray, train: np.ndarray, test: np.ndarray, y_train, y_test, c_grid, inner_folds: int,
                        baseline_folds: int, seed: int, max_iter: int, tol: float = TOL):
    """The matched-size probes' predictions of the test sounds, (transfer, baseline, defined) as
    `audioprobe.metrics.probing.MatchedPredictions`, or None without a baseline. Every probe is a
    cold GridSearchCV fit on its fold's sounds, none reused: where a subsample is the whole training
    subset (or the fold's whole training part) the fast path reuses the transfer (or baseline)
    probe's predictions, and these refits check that reuse. A subsampled probe chooses its inner
    folds as the transfer probe does (`make_probe`); the fold's own baseline probe as
    `baseline_predictions` does."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold

    from audioprobe.metrics.probing import MatchedPredictions, matched_plan

    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    plan = matched_plan(y_train, y_test, baseline_folds, inner_folds, seed)
    if plan is None:
        return None
    xs, xt = x[train], x[test]
    out = MatchedPredictions(np.zeros_like(y_test), np.zeros_like(y_test), np.zeros(y_test.size, dtype=bool))
    for fold in plan:
        if not fold.fitted:
            continue
        out.transfer[fold.held] = transfer_predictions(xs[fold.transfer], y_train[fold.transfer], xt[fold.held],
                                                       c_grid, inner_folds, seed, max_iter, tol)[0]
        probe = make_probe(c_grid, inner_folds, y_test[fold.baseline], seed, max_iter, tol)
        if fold.baseline_reused:  # the fold's baseline probe: inner folds as in `baseline_predictions`
            counts = np.unique(y_test, return_counts=True)[1]
            k = _folds(y_test, baseline_folds)
            probe.cv = StratifiedKFold(max(2, min(inner_folds, int(np.min(counts)) * (k - 1) // k)), shuffle=True,
                                       random_state=seed)
        with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)  # "least populated class" notices of inner folds
            probe.fit(xt[fold.baseline], y_test[fold.baseline])
            out.baseline[fold.held] = probe.predict(xt[fold.held])
        out.defined[fold.held] = True
    return out


def layer_predictions(x: np.ndarray, train: np.ndarray, test: np.ndarray, y_train, y_test, c_grid, inner_folds: int,
                      baseline_folds: int, seed: int, max_iter: int, tol: float = TOL):
    """One layer: (transfer predictions on the test sounds, chosen C, baseline out-of-fold predictions,
    matched-size predictions)."""
    x = np.asarray(x, dtype=np.float64)
    pred, best_c = transfer_predictions(x[train], y_train, x[test], c_grid, inner_folds, seed, max_iter, tol)
    base = baseline_predictions(x[test], y_test, baseline_folds, c_grid, inner_folds, seed, max_iter, tol)
    matched = matched_predictions(x, train, test, y_train, y_test, c_grid, inner_folds, baseline_folds, seed,
                                  max_iter, tol)
    return pred, best_c, base, matched


def all_layer_predictions(layers: list[np.ndarray], *args, n_jobs: int | None = None, tol: float = TOL) -> list[tuple]:
    """`layer_predictions` for every layer, in worker processes (one BLAS thread each): (transfer
    predictions, C, baseline predictions, matched-size predictions) per layer.

    Layers are independent and each fit is small and single-threaded, so processes are the only
    parallelism that helps; results do not depend on the number of workers.
    """
    import os

    from joblib import Parallel, delayed

    if n_jobs is None:
        n_jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n_jobs = max(1, min(n_jobs, len(layers)))
    if n_jobs == 1:
        return [layer_predictions(x, *args, tol=tol) for x in layers]
    return Parallel(n_jobs=n_jobs, backend="loky")(delayed(layer_predictions)(x, *args, tol=tol) for x in layers)
