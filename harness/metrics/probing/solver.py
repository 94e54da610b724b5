"""The multinomial probe's own solver: Newton-CG along an ascending path of C.

It exists for speed only: it fits the estimator LogisticRegression(solver="newton-cg") fits, to the
same stopping rule, checked with scikit-learn's own gradient (its private loss classes, used only
in the releases `SKLEARN_PRIVATE_LOSS_CHECKED` names; elsewhere the caller falls back to
LogisticRegression). `probe.path_predictions` chooses between the two.

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

from __future__ import annotations

import numpy as np

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


class _PathProblem:
    """One path's data, formed once for every C: the design with the intercept as a last column of ones
    (w is [k, d + 1]), the factors the objective, its gradient and its Hessian-vector products reuse,
    and scikit-learn's loss, which checks the stopping rule in its own arithmetic."""

    def __init__(self, z, codes, n_classes: int, loss_api):
        HalfMultinomialLoss, LinearModelLoss = loss_api
        z = np.asarray(z, dtype=np.float64)
        n, d = z.shape
        k = int(n_classes)
        self.z, self.codes, self.n, self.d, self.k = z, codes, n, d, k
        self.sk_loss = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=k), fit_intercept=True)
        self.y_float = np.asarray(codes, dtype=np.float64)
        self.z1 = np.c_[z, np.ones(n)]  # the intercept as a last column of ones: w is [k, d + 1]
        self.z1_sq = self.z1 ** 2
        self.z1_n = self.z1 / n  # the mean's 1/n folded into the Hessian-vector product's last factor
        self.onehot = np.zeros((n, k))
        self.onehot[np.arange(n), codes] = 1.0
        self.penalised = np.ones(d + 1)
        self.penalised[d] = 0.0  # the intercept is not penalised
        self.full_cg = max(k * (d + 1), 200)  # CG is exact in k (d + 1) steps, but for rounding
        self.can_factor = k * (d + 1) <= FACTOR_MAX_PARAMS

    def objective(self, w, l2):
        """(mean log-loss + l2 ||W||^2 / 2, class probabilities [n, k])."""
        raw = self.z1 @ w.T
        top = raw.max(axis=1, keepdims=True)
        e = np.exp(raw - top)
        total = e.sum(axis=1, keepdims=True)
        log_loss = np.log(total[:, 0]) + top[:, 0] - raw[np.arange(self.n), self.codes]
        return float(np.mean(log_loss) + 0.5 * l2 * np.sum((w * self.penalised) ** 2)), e / total

    def hessp(self, p, reg):
        """The Hessian-vector product at class probabilities p: two small matrix products."""
        z1, z1_n = self.z1, self.z1_n

        def product(v):
            pr = p * (z1 @ v.T)
            pr -= p * pr.sum(axis=1, keepdims=True)
            out = pr.T @ z1_n
            out += reg * v
            return out

        return product

    def jacobi(self, p, reg):
        """The diagonal (Jacobi) preconditioner at class probabilities p."""
        m = 1.0 / np.maximum((p * (1.0 - p)).T @ self.z1_sq / self.n + reg, 1e-300)
        return lambda r: m * r


def _warm_start(problem: _PathProblem, solved: list, c: float, l2: float, w):
    """Start from the optimum extrapolated linearly in log C from the last two (on nearly
    separable data the coefficients grow about linearly in log C), if it is better than the
    last optimum. The start cannot change the result (strictly convex in W; the intercepts'
    common shift changes neither the objective nor a prediction)."""
    if len(solved) >= 2:
        (c1, w1), (c2, w2) = solved[-2:]
        guess = w2 + (np.log(c) - c2) / (c2 - c1) * (w2 - w1)
        if problem.objective(guess, l2)[0] < problem.objective(w2, l2)[0]:
            return guess
    return w


def _newton_direction(problem: _PathProblem, p, reg, g, tol: float, use_factor: bool, factor):
    """Newton direction by preconditioned CG on H s = -g (H: the objective's Hessian at w), Jacobi first and
    the Hessian's factor once a C needs it (module docstring) -> (s, use_factor, factor)."""
    from scipy.linalg import lapack

    hessp, jacobi = problem.hessp(p, reg), problem.jacobi(p, reg)
    s = None
    if not use_factor:
        s, _, done = _pcg(hessp, jacobi, g, JACOBI_CG_CAP if problem.can_factor else problem.full_cg, tol)
        if not done and problem.can_factor:  # a hard C: the factor from here on (larger C are harder still)
            use_factor, s = True, None
    if s is None and factor is None:
        # LAPACK's potrf / potrs as scipy's cho_factor / cho_solve call them (the same
        # arithmetic), without their wrappers' checks (about 50 us a call, thousands of calls)
        factor, info = lapack.dpotrf(multinomial_hessian(problem.z1, p, reg, problem.n, full=False), lower=0,
                                     clean=0, overwrite_a=1)
        if info != 0:  # not positive definite in floating point: Jacobi this step
            factor = None
            s, _, _ = _pcg(hessp, jacobi, g, problem.full_cg, tol)
    if s is None:
        s, used, _ = _pcg(hessp, lambda r: lapack.dpotrs(factor, r.ravel(), lower=0)[0].reshape(r.shape),
                          g, problem.full_cg, tol)
        if used > STALE_FACTOR_CG:
            factor = None  # the Hessian has moved: form it again at the next step
    if not s.any():
        s = -g
    return s, use_factor, factor


def _armijo_step(problem: _PathProblem, w, s, g, f: float, l2: float):
    """Armijo backtracking on the objective -> (w, f, p) after the step, or None after 40 halvings. The slack
    of 1e-13 |f| accepts a step whose gain is below f's rounding (at the optimum's doorstep); convergence is
    judged on the gradient only."""
    slope = np.vdot(g, s)
    t = 1.0
    for _ in range(40):
        f_new, p_new = problem.objective(w + t * s, l2)
        if f_new <= f + 1e-4 * t * slope + 1e-13 * abs(f):
            return w + t * s, f_new, p_new
        t *= 0.5
    return None


def _fit_at_c(problem: _PathProblem, w, l2: float, reg, cap: int, tol: float, use_factor: bool):
    """Newton's method from w to the optimum at one C -> (w, use_factor), or None where it does not reach tol
    within cap steps (or a line search fails)."""
    f, p = problem.objective(w, l2)
    steps, factor = 0, None  # the factored preconditioner of this C, once formed
    while True:
        g = (p - problem.onehot).T @ problem.z1 / problem.n + reg * w
        if np.max(np.abs(g)) <= tol and \
                np.max(np.abs(problem.sk_loss.gradient(w.ravel(order="F"), problem.z, problem.y_float, None,
                                                       l2))) <= tol:
            return w, use_factor  # the stopping rule, in scikit-learn's own arithmetic too
        if steps >= cap:
            return None
        steps += 1
        s, use_factor, factor = _newton_direction(problem, p, reg, g, tol, use_factor, factor)
        stepped = _armijo_step(problem, w, s, g, f, l2)
        if stepped is None:
            return None
        w, f, p = stepped


def multinomial_path(z, codes, n_classes: int, c_path, max_iter: int = MAX_ITER, tol: float = TOL):
    """The multinomial probe fitted along an ascending C path: [(coef [k, d], intercept [k])] per C,
    or None where a fit does not reach tol within min(max_iter, NEWTON_CAP) Newton steps.

    The same estimator as LogisticRegression(solver="newton-cg", tol=tol) on (z, classes[codes]):
    the minimiser of mean log-loss + ||W||^2 / (2 C n) (intercept unpenalised), in the same
    parametrisation (one coefficient row and intercept per class), stopped by the same rule: every
    component of the objective's gradient at most tol in absolute value, checked with
    scikit-learn's own gradient (LinearModelLoss, as its newton-cg does) before returning.
    Why it is faster, and its preconditioners: the module docstring.
    """
    loss_api = sklearn_private_loss()
    if loss_api is None:  # the caller falls back to LogisticRegression
        return None
    problem = _PathProblem(z, codes, n_classes, loss_api)
    n, d = problem.n, problem.d
    cap = min(int(max_iter), NEWTON_CAP)
    use_factor = False  # switched on for the rest of the path once a C needs it

    w = np.zeros((problem.k, d + 1))
    solved, out = [], []  # (log C, w) of the fits so far
    for c in c_path:
        l2 = 1.0 / (c * n)
        reg = l2 * problem.penalised
        fitted = _fit_at_c(problem, _warm_start(problem, solved, c, l2, w), l2, reg, cap, tol, use_factor)
        if fitted is None:
            return None
        w, use_factor = fitted
        solved.append((float(np.log(c)), w.copy()))
        out.append((w[:, :d].copy(), w[:, d].copy()))
    return out
