"""Transfer probes (Bost et al. 2024, experiment 2) on arrays.

A linear probe (L2-regularised multinomial logistic regression) learns a category from one
layer's pooled activations on a training subset of sounds and is tested on a disjoint subset,
e.g. trained on sounds perceived as 1D or 2D and tested on sounds perceived as 3D. The
no-transfer baseline is the same probe cross-validated inside the test subset. Standardisation
and the choice of C are fitted on training sounds only (a pipeline refitted in every fold).

Matched training sizes. The baseline's probes see (k-1)/k of the test subset, which may be far fewer
sounds than the transfer probe sees (24 against 149 on one split of the paper), so "transfer minus
baseline" mixes the cost of transfer with the size of the training set. `matched_plan` pairs the
two at equal sizes: for each baseline outer fold f, m_f = min(n_train, size of fold f's training
part); a matched transfer probe is trained on a class-stratified random subsample of m_f training
sounds (`stratified_subsample`) and a matched baseline probe on m_f sounds of the fold's training part
(the fold's own baseline probe when that part has m_f sounds already), both predicting fold f's
held-out sounds. Subsamples come from generators keyed by the seed and the fold only (the same
sounds for every model: paired comparisons).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

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


#: Newton steps allowed per C to the multinomial path solver before it gives up (and the path is
#: fitted by LogisticRegression instead). A cap only: on the embedded set and random deep models a
#: fit stops at TOL after about 10 steps.
NEWTON_CAP = 200

#: CG products of one Newton step, preconditioned by the Hessian's diagonal, after which the path
#: switches to the Hessian's Cholesky factor as preconditioner (`multinomial_path`). A factor costs
#: about (k (d + 1))^2 / (12 n) products (about 500 for 7 classes and 120 sounds). 80 was the fastest
#: of 20 to 240 on the random model's transfer paths while the factor went through scipy's wrappers
#: and a full matrix product; with LAPACK called directly and the Hessian's upper triangle by syrk
#: 40 is about 6% faster than 80 on the baseline folds' probes of the
#: random model and of logmel (20: the same as 40).
JACOBI_CG_CAP = 40

#: CG products with a factored preconditioner beyond which the factor is taken as stale (the
#: Hessian moved since it was formed) and formed again at the next Newton step. 10 is 4% (random
#: model) to 11% (logmel) faster than 30 on the baseline folds' probes; 5 and 15 are no faster.
STALE_FACTOR_CG = 10

#: Largest number of coefficients k (d + 1) for which the Hessian is factored (128 MiB, about 2e10
#: flops); larger problems keep the diagonal preconditioner.
FACTOR_MAX_PARAMS = 4096


def multinomial_hessian(z1, p, reg, n: int, full: bool = True) -> np.ndarray:
    """The Hessian of mean multinomial log-loss + penalty at class probabilities p, [k D, k D] in the
    order of w.ravel() (w: [k, D], the intercept as z1's last column of ones), plus u u^T where u
    is the unit common shift of the intercepts: the objective is flat along u (the softmax ignores
    a common shift), so the Hessian is singular there; the gradient is orthogonal to u, so adding
    u u^T makes the matrix positive definite without changing a Newton step's effect.

    full=False: only the upper triangle is right (what LAPACK's potrf reads; the rank-m product by
    BLAS syrk, half the multiplications), the lower one is not."""
    m, d1 = z1.shape
    k = p.shape[1]
    pz = (p[:, :, None] * z1[:, None, :]).reshape(m, k * d1)  # row i: p_ia z_i for every class a
    if full:
        h = pz.T @ pz
        np.negative(h, out=h)  # - sum_i (p_i p_i^T) (x) z_i z_i^T
    else:
        from scipy.linalg import blas

        h = blas.dsyrk(-1.0, pz.T)  # its upper triangle (pz.T is Fortran-ordered: no copy)
    for a in range(k):
        block = slice(a * d1, (a + 1) * d1)
        h[block, block] += pz[:, block].T @ z1  # + sum_i p_ia z_i z_i^T on the diagonal blocks
    h /= n
    h[np.diag_indices_from(h)] += np.tile(reg, k)
    intercepts = np.arange(k) * d1 + (d1 - 1)
    h[np.ix_(intercepts, intercepts)] += 1.0 / k
    return h


def _pcg(hessp, precondition, g, cap: int, tol: float):
    """Preconditioned CG on H s = -g -> (s, products used, converged within cap).

    Inexact Newton: stops when the residual (the next gradient, to first order) is below
    min(0.5, sqrt(|g|)) |g| (superlinear near the optimum) or every component below tol / 10."""
    g_norm = np.sqrt(np.vdot(g, g))
    forcing = min(0.5, np.sqrt(g_norm)) * g_norm
    forcing_sq, small = forcing * forcing, 0.1 * tol
    small_sq = g.size * small * small  # max |r| <= small implies |r|^2 <= size small^2
    s, r = np.zeros_like(g), -g
    q = precondition(r)
    rz = np.vdot(r, q)
    for used in range(1, cap + 1):
        hq = hessp(q)
        curvature = np.vdot(q, hq)
        if curvature <= 0:  # only rounding (H is positive semi-definite): stop here
            return s, used, True
        a = rz / curvature
        s += a * q
        r -= a * hq
        rr = np.vdot(r, r)
        if rr <= forcing_sq or (rr <= small_sq and np.abs(r).max() <= small):
            return s, used, True
        zr = precondition(r)
        rz, rz_old = np.vdot(r, zr), rz
        q = zr + (rz / rz_old) * q
    return s, cap, False


#: scikit-learn releases (major, minor), inclusive, whose private loss classes the path solver was checked
#: with (tests/test_transfer_speed.py: its fits equal LogisticRegression's). Outside them the private API may
#: have moved or changed meaning, so the solver steps aside and LogisticRegression fits every C.
SKLEARN_PRIVATE_LOSS_CHECKED = ((1, 3), (1, 9))


def sklearn_private_loss():
    """(HalfMultinomialLoss, LinearModelLoss) from scikit-learn's private modules, the loss its newton-cg
    checks its stopping rule with; None when the installed release is outside SKLEARN_PRIVATE_LOSS_CHECKED
    or the classes are not where they were."""
    import sklearn

    try:
        version = tuple(int(part) for part in sklearn.__version__.split(".")[:2])
    except ValueError:  # a development build ("1.10.dev0" parses; "main" does not)
        return None
    low, high = SKLEARN_PRIVATE_LOSS_CHECKED
    if not low <= version <= high:
        return None
    try:
        from sklearn._loss.loss import HalfMultinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss
    except ImportError:
        return None
    return HalfMultinomialLoss, LinearModelLoss


def multinomial_path(z, codes, n_classes: int, c_path, max_iter: int = MAX_ITER, tol: float = TOL):
    """The multinomial probe fitted along an ascending C path: [(coef [k, d], intercept [k])] per C,
    or None where a fit does not reach tol within min(max_iter, NEWTON_CAP) Newton steps.

    The same estimator as LogisticRegression(solver="newton-cg", tol=tol) on (z, classes[codes]):
    the minimiser of mean log-loss + ||W||^2 / (2 C n) (intercept unpenalised), in the same
    parametrisation (one coefficient row and intercept per class), stopped by the same rule: every
    component of the objective's gradient at most tol in absolute value, checked with
    scikit-learn's own gradient (LinearModelLoss, as its newton-cg does) before returning.

    Why not LogisticRegression: on deep random models (7 classes, about 120 PCA components) its CG
    needs about 56 Hessian-vector products per Newton step, each a scikit-learn call with fixed
    overheads. Here the Hessian-vector product is two small matrix products in numpy (about half
    the time), CG stops as soon as its residual (the next gradient, to first order) is well below
    tol, and each C starts from a prediction of its optimum (fewer Newton steps).

    Preconditioning. Small C are well conditioned: CG preconditioned by the Hessian's diagonal
    (Jacobi) takes a few tens of products per Newton step. At large C the curvature goes down to
    1 / (C n) and the samples' weights p_ik (1 - p_ik) spread over orders of magnitude on nearly
    separable data, which no diagonal removes: CG then needs hundreds of products per step (on the
    random model, about 900 per C at C = 1000). So once a Jacobi CG runs past JACOBI_CG_CAP
    products, the rest of the path (larger C only get harder) preconditions CG with the Cholesky
    factor of the Hessian itself, formed at the first Newton step of each C and reused by its later
    steps while it keeps CG short (refactored after STALE_FACTOR_CG products): 2 times faster on
    the random model's paths. Problems with more than FACTOR_MAX_PARAMS coefficients keep Jacobi
    (the factor's memory and cubic cost). The preconditioner changes only the way to the optimum.
    """
    from scipy.linalg import lapack

    loss_api = sklearn_private_loss()
    if loss_api is None:  # the caller falls back to LogisticRegression
        return None
    HalfMultinomialLoss, LinearModelLoss = loss_api

    z = np.asarray(z, dtype=np.float64)
    n, d = z.shape
    k = int(n_classes)
    sk_loss = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=k), fit_intercept=True)
    y_float = np.asarray(codes, dtype=np.float64)
    z1 = np.c_[z, np.ones(n)]  # the intercept as a last column of ones: w is [k, d + 1]
    z1_sq = z1 ** 2
    z1_n = z1 / n  # the mean's 1/n folded into the Hessian-vector product's last factor
    onehot = np.zeros((n, k))
    onehot[np.arange(n), codes] = 1.0
    penalised = np.ones(d + 1)
    penalised[d] = 0.0  # the intercept is not penalised
    cap = min(int(max_iter), NEWTON_CAP)
    full_cg = max(k * (d + 1), 200)  # CG is exact in k (d + 1) steps, but for rounding
    can_factor = k * (d + 1) <= FACTOR_MAX_PARAMS
    use_factor = False  # switched on for the rest of the path once a C needs it

    def objective(w, l2):
        """(mean log-loss + l2 ||W||^2 / 2, class probabilities [n, k])."""
        raw = z1 @ w.T
        top = raw.max(axis=1, keepdims=True)
        e = np.exp(raw - top)
        total = e.sum(axis=1, keepdims=True)
        log_loss = np.log(total[:, 0]) + top[:, 0] - raw[np.arange(n), codes]
        return float(np.mean(log_loss) + 0.5 * l2 * np.sum((w * penalised) ** 2)), e / total

    w = np.zeros((k, d + 1))
    solved, out = [], []  # (log C, w) of the fits so far
    for c in c_path:
        l2 = 1.0 / (c * n)
        reg = l2 * penalised
        if len(solved) >= 2:
            # Start from the optimum extrapolated linearly in log C from the last two (on nearly
            # separable data the coefficients grow about linearly in log C), if it is better than the
            # last optimum. The start cannot change the result (strictly convex in W; the intercepts'
            # common shift changes neither the objective nor a prediction).
            (c1, w1), (c2, w2) = solved[-2:]
            guess = w2 + (np.log(c) - c2) / (c2 - c1) * (w2 - w1)
            if objective(guess, l2)[0] < objective(w2, l2)[0]:
                w = guess
        f, p = objective(w, l2)
        steps, factor = 0, None  # the factored preconditioner of this C, once formed
        while True:
            g = (p - onehot).T @ z1 / n + reg * w
            if np.max(np.abs(g)) <= tol and \
                    np.max(np.abs(sk_loss.gradient(w.ravel(order="F"), z, y_float, None, l2))) <= tol:
                break  # the stopping rule, in scikit-learn's own arithmetic too
            if steps >= cap:
                return None
            steps += 1

            def hessp(v, p=p, reg=reg):
                pr = p * (z1 @ v.T)
                pr -= p * pr.sum(axis=1, keepdims=True)
                out = pr.T @ z1_n
                out += reg * v
                return out

            def jacobi(r, m=1.0 / np.maximum((p * (1.0 - p)).T @ z1_sq / n + reg, 1e-300)):
                return m * r

            # Newton direction by preconditioned CG on H s = -g (H: the objective's Hessian at w)
            s = None
            if not use_factor:
                s, _, done = _pcg(hessp, jacobi, g, JACOBI_CG_CAP if can_factor else full_cg, tol)
                if not done and can_factor:  # a hard C: the factor from here on (larger C are harder still)
                    use_factor, s = True, None
            if s is None and factor is None:
                # LAPACK's potrf / potrs as scipy's cho_factor / cho_solve call them (the same
                # arithmetic), without their wrappers' checks (about 50 us a call, thousands of calls)
                factor, info = lapack.dpotrf(multinomial_hessian(z1, p, reg, n, full=False), lower=0, clean=0,
                                             overwrite_a=1)
                if info != 0:  # not positive definite in floating point: Jacobi this step
                    factor = None
                    s, _, _ = _pcg(hessp, jacobi, g, full_cg, tol)
            if s is None:
                s, used, _ = _pcg(hessp, lambda r: lapack.dpotrs(factor, r.ravel(), lower=0)[0].reshape(r.shape),
                                  g, full_cg, tol)
                if used > STALE_FACTOR_CG:
                    factor = None  # the Hessian has moved: form it again at the next step
            if not s.any():
                s = -g
            # Armijo backtracking on the objective; the slack of 1e-13 |f| accepts a step whose gain is
            # below f's rounding (at the optimum's doorstep). Convergence is judged on the gradient only.
            slope = np.vdot(g, s)
            t = 1.0
            for _ in range(40):
                f_new, p_new = objective(w + t * s, l2)
                if f_new <= f + 1e-4 * t * slope + 1e-13 * abs(f):
                    break
                t *= 0.5
            else:
                return None
            w, f, p = w + t * s, f_new, p_new
        solved.append((float(np.log(c)), w.copy()))
        out.append((w[:, :d].copy(), w[:, d].copy()))
    return out


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


def class_counts_text(labels) -> str:
    """'wood 10, metal 1': the classes of some labels and their sizes, for messages."""
    classes, counts = np.unique(np.asarray(labels), return_counts=True)
    return ", ".join(f"{c} {n}" for c, n in zip(classes, counts))


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
                     _folds(y_train, inner_folds), seed, max_iter)


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
    k = _folds(y, folds)
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


#: Spawn key of the matched subsamples' generators: `SeedSequence(seed, spawn_key=(MATCHED_STREAM, fold,
#: 0 for the transfer subsample or 1 for the baseline's))`, apart from every stream `resampling.streams`
#: spawns (keys (0,) to (4,)), so that the bootstrap, split and ceiling draws are unchanged.
MATCHED_STREAM = 100


def matched_rng(seed: int, fold: int, which: int) -> np.random.Generator:
    """The generator of fold `fold`'s matched subsample (which: 0 transfer, 1 baseline): seed and fold only."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(MATCHED_STREAM, fold, which)))


def stratified_subsample(rng: np.random.Generator, labels, m: int) -> np.ndarray | None:
    """Sorted indices of m of the sounds, class-stratified, or None when fewer than 2 classes can be kept.

    m >= the number of sounds: all of them (in order: the same training set, the same probe). Else every
    class with at least 2 sounds keeps 2 (while m allows: the largest classes first, ties in class
    order), so that the subsample's probe can predict the classes the full one can, and every inner
    fold's fitting part holds each kept class; the rest of m goes one sound at a time to the kept
    class furthest below its proportional share m n_c / n (ties in class order). Classes of a single
    sound are left out, unless the kept classes cannot fill m. Within a class the sounds are a
    uniform random draw (rng).
    """
    labels = np.asarray(labels)
    n = labels.size
    if m >= n:
        return np.arange(n)
    classes, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = np.zeros(classes.size, dtype=np.int64)
    eligible = np.flatnonzero(counts >= 2)
    kept = eligible[np.argsort(-counts[eligible], kind="stable")][: m // 2]  # the largest classes first
    if kept.size < 2:
        return None
    quota[kept] = 2
    capacity = np.zeros(classes.size, dtype=np.int64)
    capacity[kept] = counts[kept]
    if capacity.sum() < m:  # only classes of one sound left to fill m with
        capacity = counts.copy()
    share = m * counts / n
    for _ in range(m - int(quota.sum())):
        deficit = np.where(quota < capacity, share - quota, -np.inf)
        quota[int(np.argmax(deficit))] += 1
    picked = [rng.permutation(np.flatnonzero(codes == c))[:q] for c, q in enumerate(quota) if q]
    return np.sort(np.concatenate(picked))


class MatchedFold(NamedTuple):
    """One baseline outer fold's matched pair of probes (`matched_plan`)."""

    held: np.ndarray  #: test-subset positions of the fold's held-out sounds, which both probes predict
    size: int  #: m_f = min(n_train, size of the fold's training part)
    transfer: np.ndarray | None  #: positions in the training subset of the matched transfer probe's sounds
    baseline: np.ndarray | None  #: test-subset positions of the matched baseline probe's sounds
    transfer_reused: bool  #: m_f = n_train: the transfer probe itself (its predictions are reused)
    baseline_reused: bool  #: m_f = the fold's training size: the fold's baseline probe (reused)

    @property
    def fitted(self) -> bool:
        """Both probes can be fitted (each subsample keeps 2 classes or more); else no matched predictions."""
        return self.transfer is not None and self.baseline is not None


def matched_plan(y_train, y_test, n_baseline_folds: int, inner_folds: int, seed: int) -> list[MatchedFold] | None:
    """The matched-size probes of every baseline outer fold (module docstring), or None where there is
    no baseline (a test class of one sound). The folds are `baseline_folds`'; fold f's subsamples are
    drawn by `stratified_subsample` with `matched_rng(seed, f, 0)` (transfer) and `matched_rng(seed, f,
    1)` (baseline), so they depend on the labels, the seed and the fold only. A fold whose subsample
    keeps fewer than 2 classes has transfer = baseline = None (no matched predictions for its sounds)."""
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    plan = baseline_folds(y_test, n_baseline_folds, inner_folds, seed)
    if plan is None:
        return None
    out = []
    for f, (fit, held) in enumerate(plan[0]):
        m = min(y_train.size, fit.size)
        t = stratified_subsample(matched_rng(seed, f, 0), y_train, m)
        b = stratified_subsample(matched_rng(seed, f, 1), y_test[fit], m)
        if t is None or b is None:
            t = b = None
        else:
            b = fit[b]
        out.append(MatchedFold(held, int(m), t, b, m == y_train.size, m == fit.size))
    return out


class MatchedPredictions(NamedTuple):
    """One layer's matched predictions of the test sounds, paired sound by sound (`matched_plan`)."""

    transfer: np.ndarray  #: `[n_test]` the matched transfer probes' predictions (undefined: "" or 0)
    baseline: np.ndarray  #: `[n_test]` the matched baseline probes' predictions
    defined: np.ndarray  #: `[n_test]` bool: the sound's fold has both matched probes


def layer_predictions(x: np.ndarray, train: np.ndarray, test: np.ndarray, y_train, y_test, c_grid, inner_folds: int,
                      baseline_folds: int, seed: int, max_iter: int):
    """One layer: (transfer predictions on the test sounds, chosen C, baseline out-of-fold predictions,
    matched predictions), as `all_layer_predictions`."""
    return all_layer_predictions([x], train, test, y_train, y_test, c_grid, inner_folds, baseline_folds, seed,
                                 max_iter, n_jobs=1)[0]


def release_workers() -> None:
    """Shut down the worker processes the probes ran in (joblib's reusable loky executor). They would
    otherwise idle for loky's timeout (300 s) and keep a finishing process, such as a local sweep's job
    worker, from exiting for as long; a later probe starts new ones."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def _workers(n_jobs: int | None) -> int:
    import os

    if n_jobs is None:
        n_jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, n_jobs)


def all_layer_predictions(layers: list[np.ndarray], train: np.ndarray, test: np.ndarray, y_train, y_test, c_grid,
                          inner_folds: int, n_baseline_folds: int, seed: int, max_iter: int,
                          n_jobs: int | None = None) -> list[tuple]:
    """(transfer predictions, chosen C, baseline out-of-fold predictions or None, `MatchedPredictions`
    or None) for every layer; the last two are None where there is no baseline (a test class of one
    sound).

    The work is cut into independent probes, one per (layer, transfer or baseline outer fold, matched
    probe of a fold), so a one-layer model keeps every core busy too; each probe runs single-threaded
    in a worker process (the fits are small: processes are the parallelism that helps), largest
    first. Matched probes (`matched_plan`) are fitted only where they are not a probe already there:
    per fold at most one more per layer (trained on m_f sounds, the smaller of the two sizes); a
    matched transfer probe uses inner folds as the transfer probe does (`_folds` of its own labels),
    a subsampled matched baseline probe likewise. Results do not depend on the number of workers.
    """
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if len(np.unique(y_train)) < 2:
        raise ValueError("the training subset has a single class: nothing to learn")
    n_transfer_folds = _folds(y_train, inner_folds)
    plan = baseline_folds(y_test, n_baseline_folds, inner_folds, seed)
    matched = matched_plan(y_train, y_test, n_baseline_folds, inner_folds, seed)
    jobs = []  # (layer, -1 transfer / fold f baseline / ("matched" or "matched_baseline", f), fit_probe's arguments)
    for k, x in enumerate(layers):
        x = np.asarray(x, dtype=np.float64)
        jobs.append((k, -1, (x[train], y_train, x[test], c_grid, n_transfer_folds, seed, max_iter)))
        if plan is not None:
            xt = x[test]
            for f, (fit, held) in enumerate(plan[0]):
                jobs.append((k, f, (xt[fit], y_test[fit], xt[held], c_grid, plan[1], seed, max_iter)))
            for f, mf in enumerate(matched):
                if mf.fitted and not mf.transfer_reused:
                    y_sub = y_train[mf.transfer]
                    jobs.append((k, ("matched", f), (x[train[mf.transfer]], y_sub, xt[mf.held], c_grid,
                                                     _folds(y_sub, inner_folds), seed, max_iter)))
                if mf.fitted and not mf.baseline_reused:
                    y_sub = y_test[mf.baseline]
                    jobs.append((k, ("matched_baseline", f), (xt[mf.baseline], y_sub, xt[mf.held], c_grid,
                                                              _folds(y_sub, inner_folds), seed, max_iter)))
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i][2][0].shape[0])  # largest first (stable)
    n_jobs = min(_workers(n_jobs), len(jobs))
    if n_jobs == 1:
        fitted = [fit_probe(*jobs[i][2]) for i in order]
    else:
        from joblib import Parallel, delayed

        fitted = Parallel(n_jobs=n_jobs, backend="loky")(delayed(fit_probe)(*jobs[i][2]) for i in order)
    results = dict(zip(order, fitted))
    by_layer: dict[int, dict] = {k: {} for k in range(len(layers))}
    for i, (layer, f, _) in enumerate(jobs):
        by_layer[layer][f] = results[i]
    out = []
    for k in range(len(layers)):
        pred, best_c = by_layer[k][-1]
        base = pairs = None
        if plan is not None:
            base = np.empty_like(y_test)
            for f, (_, held) in enumerate(plan[0]):
                base[held] = by_layer[k][f][0]
            pairs = MatchedPredictions(np.zeros_like(y_test), np.zeros_like(y_test), np.zeros(y_test.size, bool))
            for f, mf in enumerate(matched):
                if not mf.fitted:
                    continue
                pairs.transfer[mf.held] = pred[mf.held] if mf.transfer_reused else by_layer[k][("matched", f)][0]
                pairs.baseline[mf.held] = base[mf.held] if mf.baseline_reused else \
                    by_layer[k][("matched_baseline", f)][0]
                pairs.defined[mf.held] = True
        out.append((pred, best_c, base, pairs))
    return out


def accuracies(values: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and balanced accuracy (mean per-class recall, Brodersen et al. 2010) per weight vector.

    values `[..., n]` each sound's correctness (bool or 0/1; or `class_stratified_values`' pseudo-values),
    labels `[n]` true classes, weights `[..., n]` (bootstrap counts of the test sounds, or 0/1 subset
    membership), broadcast against values -> two arrays of their broadcast shape less the sounds' axis
    (at least 1-d). Classes absent from a resample are left out of its balanced accuracy.
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    shape = np.broadcast_shapes(v.shape, w.shape)
    w = np.broadcast_to(w, shape).reshape(-1, shape[-1])
    wv = np.broadcast_to(v, shape).reshape(w.shape) * w
    out_shape = shape[:-1] if len(shape) > 1 else (1,)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = wv.sum(axis=1) / w.sum(axis=1)
        classes = np.unique(labels)
        onehot = (np.asarray(labels)[:, None] == classes[None, :]).astype(np.float64)  # [n, k]
        hits = wv @ onehot
        totals = w @ onehot
        recall = np.where(totals > 0, hits / totals, np.nan)
        present = np.isfinite(recall).sum(axis=1)
        balanced = np.where(present > 0, np.nansum(recall, axis=1) / np.maximum(present, 1), np.nan)
    return acc.reshape(out_shape), balanced.reshape(out_shape)
