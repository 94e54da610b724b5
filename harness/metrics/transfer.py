"""Transfer probes (Bost et al. 2024, experiment 2) on arrays.

A linear probe (L2-regularised multinomial logistic regression) learns a category from one
layer's pooled activations on a training subset of sounds and is tested on a disjoint subset,
e.g. trained on sounds perceived as 1D or 2D and tested on sounds perceived as 3D. The
no-transfer baseline is the same probe cross-validated inside the test subset. Standardisation
and the choice of C are fitted on training sounds only (a pipeline refitted in every fold).
"""

from __future__ import annotations

import warnings

import numpy as np
from threadpoolctl import threadpool_limits

# scikit-learn (about 1 s to import) is imported inside the functions that fit probes, so that
# reading task files (`list tasks`, which needs C_GRID and modal_labels) stays fast.

#: Default grid of inverse regularisation strengths C: a decade grid centred on scikit-learn's
#: default C = 1 (LogisticRegression documentation).
C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3)


def modal_labels(counts: np.ndarray, categories: list[str]) -> list[str | None]:
    """Each sound's most frequent response; None where the top count is tied (no single mode)."""
    c = np.asarray(counts)
    top = c == c.max(axis=1, keepdims=True)
    return [categories[int(np.argmax(row))] if row.sum() == 1 else None for row in top]


def _folds(labels: np.ndarray, wanted: int) -> int:
    """As many stratified folds as asked, but no more than the smallest class allows (>= 2)."""
    smallest = int(np.min(np.unique(labels, return_counts=True)[1]))
    return max(2, min(wanted, smallest))


def _preprocessor():
    """Standardise, then PCA keeping every component (see `fit_probe`)."""
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), PCA(svd_solver="full"))


#: The probe is the converged estimator: the unique minimiser of the (strictly convex) L2 multinomial
#: objective, mean log-loss + ||W||^2 / (2 C n) (scikit-learn's scaling; the intercept is not
#: penalised), which any correct solver reaches. A fit stops when every component of that
#: objective's gradient is below TOL in absolute value (LogisticRegression's `tol` for newton-cg).
#: On the embedded set this leaves the objective within about 1e-12 (relative) of its minimum at
#: every C of the grid, and the coefficients within 1e-4 (relative) of those of other solvers run to
#: TOL; at scikit-learn's default tol=1e-4, lbfgs stopped about 1e-2 (relative) above the minimum at
#: C = 1000, so the chosen C depended on where that optimiser stopped (transfer version 2).
TOL = 1e-8

#: Iteration cap of the solver. A cap only: fits stop at TOL, here after at most a few tens of Newton
#: iterations (lbfgs, which the reference pipeline uses, needs a few thousand at C = 1000).
MAX_ITER = 10000


def _path_probe(max_iter: int, tol: float):
    """LogisticRegression fitted along the C path: ascending C, each fit warm-started from the last.

    Newton-CG (exact Hessian-vector products) converges quadratically near the optimum, where
    lbfgs crawls on the ill-conditioned large-C problems (curvature down to 1 / (C n)); the optimum
    moves smoothly with C, so a warm start leaves a few Newton steps per C. Warm starts cannot
    change the result: each fit runs to TOL on a strictly convex objective.
    """
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(solver="newton-cg", tol=tol, max_iter=max_iter, warm_start=True)


def path_predictions(z_fit, y_fit, z_pred, c_grid, max_iter: int = MAX_ITER, tol: float = TOL) -> dict:
    """{C: predictions on z_pred} for the distinct C of c_grid, fitted in ascending order of C."""
    probe = _path_probe(max_iter, tol)
    return {c: probe.set_params(C=c).fit(z_fit, y_fit).predict(z_pred)
            for c in sorted({float(c) for c in c_grid})}


def path_accuracies(x_fit, y_fit, x_val, y_val, c_grid, max_iter: int = MAX_ITER, tol: float = TOL) -> np.ndarray:
    """Validation accuracy of the probe for every C of c_grid (in grid order), one preprocessing.

    The scaler and PCA are fitted once on x_fit (the plain pipeline refits them for every C, with
    the same result), then the probe is fitted along the C path with warm starts.
    """
    pre = _preprocessor()
    z_fit = pre.fit_transform(x_fit, y_fit)  # fit_transform, as Pipeline.fit does (PCA's differs from
    z_val = pre.transform(x_val)             # fit().transform() by rounding)
    pred = path_predictions(z_fit, y_fit, z_val, c_grid, max_iter, tol)
    return np.array([float(np.average(pred[float(c)] == y_val)) for c in c_grid])


def choose_c(x, y, c_grid, n_folds: int, seed: int, max_iter: int = MAX_ITER, tol: float = TOL) -> float:
    """C with the best mean accuracy over stratified folds of (x, y), the first of the grid on ties
    (GridSearchCV's rule, and its folds: StratifiedKFold(n_folds, shuffle=True, random_state=seed)).

    Accuracies take few values, so exact ties between C's are common and resolved by grid order;
    two C's whose mean accuracies differ do so by at least 1 / (folds x validation sounds), far
    above anything solver tolerance can move (it moves a prediction only for a sound within a
    TOL-sized margin of a decision boundary)."""
    from sklearn.model_selection import StratifiedKFold

    cv = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    scores = np.array([path_accuracies(x[fit], y[fit], x[val], y[val], c_grid, max_iter, tol)
                       for fit, val in cv.split(x, y)]).T  # [C, folds]
    mean = np.average(scores, axis=1)  # as GridSearchCV's mean_test_score
    return float(list(c_grid)[int(np.flatnonzero(mean == mean.max())[0])])


def fit_probe(x_train, y_train, x_test, c_grid, n_folds: int, seed: int, max_iter: int = MAX_ITER,
              tol: float = TOL):
    """One probe: C by inner stratified CV on the training sounds only, then a refit of
    standardise + PCA + multinomial logistic regression on all training sounds -> (predictions, C).

    PCA keeping every component rotates the (centred) training rows onto their own span. That
    changes nothing but speed: the L2-penalised solution lies in the span of the training rows
    (representer theorem; the intercept is not penalised), so the predictions are those of the plain
    pipeline, with n_train instead of n_features coefficients per class. The refit follows the path
    up to the chosen C (warm starts), so it reaches the same optimum as a cold fit.
    """
    from sklearn.exceptions import ConvergenceWarning

    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class" notices of inner folds
        warnings.simplefilter("default", ConvergenceWarning)  # a fit short of TOL is not the probe: say so
        best_c = choose_c(x_train, y_train, c_grid, n_folds, seed, max_iter, tol)
        pre = _preprocessor()
        z = pre.fit_transform(x_train, y_train)
        path = [c for c in c_grid if float(c) <= best_c]  # warm starts up to the chosen C
        return path_predictions(z, y_train, pre.transform(x_test), path, max_iter, tol)[best_c], best_c


def transfer_predictions(x_train, y_train, x_test, c_grid=C_GRID, inner_folds=5, seed=0, max_iter=MAX_ITER):
    """Fit the probe on the training sounds only; predict the test sounds. -> (predictions, chosen C)."""
    y_train = np.asarray(y_train)
    if len(np.unique(y_train)) < 2:
        raise ValueError("the training subset has a single class: nothing to learn")
    return fit_probe(np.asarray(x_train, dtype=np.float64), y_train, np.asarray(x_test, dtype=np.float64), c_grid,
                     _folds(y_train, inner_folds), seed, max_iter)


def baseline_folds(y, folds: int, inner_folds: int, seed: int):
    """The no-transfer baseline's folds: (outer [(train, test) index pairs], inner fold count), or None
    when a class has a single sound (no stratified split can test it). Inner folds must fit inside
    an outer training fold, which holds about (k-1)/k of each class."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    _, class_counts = np.unique(y, return_counts=True)
    if class_counts.size < 2 or class_counts.min() < 2:
        return None
    k = _folds(y, folds)
    outer = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros((y.size, 1)), y))
    smallest_train = int(class_counts.min()) * (k - 1) // k
    return outer, max(2, min(inner_folds, smallest_train))


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


def layer_predictions(x: np.ndarray, train: np.ndarray, test: np.ndarray, y_train, y_test, c_grid, inner_folds: int,
                      baseline_folds: int, seed: int, max_iter: int):
    """One layer: (transfer predictions on the test sounds, chosen C, baseline out-of-fold predictions)."""
    return all_layer_predictions([x], train, test, y_train, y_test, c_grid, inner_folds, baseline_folds, seed,
                                 max_iter, n_jobs=1)[0]


def _workers(n_jobs: int | None) -> int:
    import os

    if n_jobs is None:
        n_jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, n_jobs)


def all_layer_predictions(layers: list[np.ndarray], train: np.ndarray, test: np.ndarray, y_train, y_test, c_grid,
                          inner_folds: int, n_baseline_folds: int, seed: int, max_iter: int,
                          n_jobs: int | None = None) -> list[tuple]:
    """(transfer predictions, chosen C, baseline out-of-fold predictions or None) for every layer.

    The work is cut into independent probes, one per (layer, transfer or baseline outer fold), so a
    one-layer model keeps every core busy too; each probe runs single-threaded in a worker process
    (the fits are small: processes are the parallelism that helps), largest first. Results do not
    depend on the number of workers.
    """
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if len(np.unique(y_train)) < 2:
        raise ValueError("the training subset has a single class: nothing to learn")
    n_transfer_folds = _folds(y_train, inner_folds)
    plan = baseline_folds(y_test, n_baseline_folds, inner_folds, seed)
    jobs = []  # (layer, fold or -1 for the transfer probe, arguments of fit_probe)
    for k, x in enumerate(layers):
        x = np.asarray(x, dtype=np.float64)
        jobs.append((k, -1, (x[train], y_train, x[test], c_grid, n_transfer_folds, seed, max_iter)))
        if plan is not None:
            xt = x[test]
            for f, (fit, held) in enumerate(plan[0]):
                jobs.append((k, f, (xt[fit], y_test[fit], xt[held], c_grid, plan[1], seed, max_iter)))
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i][2][0].shape[0])  # largest first
    n_jobs = min(_workers(n_jobs), len(jobs))
    if n_jobs == 1:
        fitted = [fit_probe(*jobs[i][2]) for i in order]
    else:
        from joblib import Parallel, delayed

        fitted = Parallel(n_jobs=n_jobs, backend="loky")(delayed(fit_probe)(*jobs[i][2]) for i in order)
    results = dict(zip(order, fitted))
    out = []
    for k in range(len(layers)):
        pred, best_c, base = None, None, None
        if plan is not None:
            base = np.empty_like(y_test)
        for i, (layer, f, _) in enumerate(jobs):
            if layer != k:
                continue
            if f < 0:
                pred, best_c = results[i]
            else:
                base[plan[0][f][1]] = results[i][0]
        out.append((pred, best_c, base))
    return out


def accuracies(correct: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and balanced accuracy (mean per-class recall, Brodersen et al. 2010) per weight vector.

    correct `[n]` bool, labels `[n]` true classes, weights `[m, n]` (bootstrap counts of the test
    sounds, or 0/1 subset membership) -> two `[m]` arrays. Classes absent from a resample are left
    out of its balanced accuracy.
    """
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    ok = np.asarray(correct, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = (w @ ok) / w.sum(axis=1)
        classes = np.unique(labels)
        onehot = (np.asarray(labels)[:, None] == classes[None, :]).astype(np.float64)  # [n, k]
        hits = w @ (onehot * ok[:, None])
        totals = w @ onehot
        recall = np.where(totals > 0, hits / totals, np.nan)
        present = np.isfinite(recall).sum(axis=1)
        balanced = np.where(present > 0, np.nansum(recall, axis=1) / np.maximum(present, 1), np.nan)
    return acc, balanced
