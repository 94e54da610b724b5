"""One probe: standardise + PCA + L2 multinomial logistic regression, its C chosen by stratified
cross-validation inside the training sounds only (a pipeline refitted in every fold).

The predictions along the grid of C come from `solver.multinomial_path` (three or more classes) or
from scikit-learn's LogisticRegression (two classes, or where the solver steps aside); `inner_folds_of`
is the design of folds C is chosen in, `fit_probe` the whole probe.
"""

from __future__ import annotations

import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from audioprobe.metrics.probing.labels import class_counts_text, fold_count
from audioprobe.metrics.probing.solver import MAX_ITER, TOL, multinomial_path

# scikit-learn (about 1 s to import) is imported inside the functions that fit probes, so that
# reading task files (`list tasks`, which needs C_GRID and modal_labels) stays fast.

#: Default grid of inverse regularisation strengths C: a decade grid centred on scikit-learn's
#: default C = 1 (LogisticRegression documentation).
C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3)


def _preprocessor():
    """Standardise, then PCA keeping every component (see `fit_probe`)."""
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), PCA(svd_solver="full"))


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
    """{C: predictions on z_pred} for the distinct C of c_grid, fitted in ascending order of C.

    Three or more classes: `multinomial_path` (the same estimator, faster); two classes, or where it
    does not reach tol within its step cap: LogisticRegression (newton-cg) along the path.
    """
    c_path = sorted({float(c) for c in c_grid})
    classes, codes = np.unique(np.asarray(y_fit), return_inverse=True)  # LogisticRegression's classes_
    if classes.size >= 3:
        fits = multinomial_path(z_fit, codes, classes.size, c_path, max_iter, tol)
        if fits is not None:
            z_pred = np.asarray(z_pred, dtype=np.float64)
            # LogisticRegression.predict: the first class of highest decision value (np.argmax)
            return {c: classes[np.argmax(z_pred @ coef.T + intercept, axis=1)] for c, (coef, intercept) in
                    zip(c_path, fits)}
    probe = _path_probe(max_iter, tol)  # binary, or the multinomial solver gave up: the slower path
    return {c: probe.set_params(C=c).fit(z_fit, y_fit).predict(z_pred) for c in c_path}


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


class ProbeDesignError(ValueError):
    """The labels cannot support the probe's cross-validated choice of C (`inner_folds_of`)."""


def inner_folds_of(y, n_folds: int, seed: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[str]] | None:
    """The inner folds that choose a probe's C on labels y, and the classes left out of that choice; None when
    no sound design exists (fewer than 2 classes with 2 or more sounds).

    The design is GridSearchCV's, StratifiedKFold(n_folds, shuffle=True, random_state=seed) on every sound,
    wherever its folds exist and every fold's fitting part holds 2 classes or more. Where it does not (a
    class of a single sound among few others can leave a fitting part with one class, and scikit-learn
    refuses more folds than the largest class has sounds), C is chosen on the sounds of the classes with
    at least 2 sounds, in as many folds as the smallest of them allows (at least 2): every fitting part then
    holds each of those classes. The classes left out (single sounds) are still in the probe's final fit;
    only the choice of C does without them."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    try:
        folds = list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(np.zeros((y.size, 1)), y))
    except ValueError:
        folds = None
    if folds and all(np.unique(y[fit]).size >= 2 for fit, _ in folds):
        return folds, []
    classes, counts = np.unique(y, return_counts=True)
    kept = classes[counts >= 2]
    if kept.size < 2:
        return None
    rows = np.flatnonzero(np.isin(y, kept))
    k = max(2, min(n_folds, int(counts[counts >= 2].min())))
    folds = [(rows[fit], rows[val]) for fit, val in
             StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros((rows.size, 1)), y[rows])]
    return folds, [str(c) for c in classes[counts < 2]]


def choose_c(x, y, c_grid, n_folds: int, seed: int, max_iter: int = MAX_ITER, tol: float = TOL) -> float:
    """C with the best mean accuracy over stratified folds of (x, y), the first of the grid on ties
    (GridSearchCV's rule, and its folds: StratifiedKFold(n_folds, shuffle=True, random_state=seed); on labels
    that cannot support them, the smaller design of `inner_folds_of`).

    Accuracies take few values, so exact ties between C's are common and resolved by grid order;
    two C's whose mean accuracies differ do so by at least 1 / (folds x validation sounds), far
    above anything solver tolerance can move (it moves a prediction only for a sound within a
    TOL-sized margin of a decision boundary)."""
    design = inner_folds_of(y, n_folds, seed)
    if design is None:
        raise ProbeDesignError(f"fewer than 2 classes with 2 or more sounds ({class_counts_text(y)}): the probe's C "
                               f"cannot be chosen by stratified cross-validation")
    scores = np.array([path_accuracies(x[fit], y[fit], x[val], y[val], c_grid, max_iter, tol)
                       for fit, val in design[0]]).T  # [C, folds]
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
                     fold_count(y_train, inner_folds), seed, max_iter)
