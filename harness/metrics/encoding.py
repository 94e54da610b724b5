"""Behavioural encoding model, the arrays: predict the listeners' response proportions from a layer.

A probe asks whether a layer separates the listeners' modal categories; an encoding model asks how well
the layer predicts *how* the listeners split over a dimension's categories, sound by sound (the
encoding-model framework of sensory neuroscience: Naselaris, Kay, Nishimoto & Gallant 2011, NeuroImage
56:400, "Encoding and decoding in fMRI"). For each sound, y `[n_sounds, q]` holds the proportions of
responses in each of the q categories and x `[n_sounds, p]` a layer's pooled activations.

**Model.** One linear map per category column: ridge regression (Hoerl & Kennard 1970, Technometrics
12:55) on standardised features with an intercept, fitted on the training sounds of a fold and applied
to the held-out ones (`cross_validated_predictions`; folds over sounds from `fold_ids`). The penalty of
each column is chosen among `ALPHAS` *inside the training sounds only*, by scikit-learn's `RidgeCV`:
its efficient leave-one-out error, which for a linear smoother is exact in closed form from one
eigendecomposition or SVD (generalised cross-validation, Golub, Heath & Wahba 1979, Technometrics 21:215;
scikit-learn picks the Gram or the covariance form by the shape of x, so p >> n costs an n x n problem).
The standardisation (mean 0, sd 1 per feature) is also fitted on the training sounds only; a feature
constant there (within the rounding bound of Chan, Golub & LeVeque 1983, as scikit-learn's
StandardScaler) is set to 0 in training and held-out sounds alike: it carries nothing the fold learnt.

**Score.** The held-out predictions are scored against the observations by a Pearson r per column over
the sounds (`weighted_correlations`), under weights over the sounds: bootstrap counts (a resampled
sound counts as often as it was drawn: the r equals np.corrcoef on the rows repeated), 0/1 masks (the
halves of a split), or their products. A category's r is undefined (NaN) where either side is constant
under the weights or fewer than 3 sounds carry weight. A dimension's score is the mean r over the
columns fixed as scored on the full set (`tasktypes.proportions.scored_columns`: a category nobody, or everybody, chose
cannot be predicted or correlated), NaN-skipping per resample (`category_score`).

**A caution on the null, and the score that avoids it.** Held-out predictions of pure noise are
*anti*-correlated with the observations over all sounds on average, not centred on 0: the intercept of
fold f is the mean of the other folds, which is low where fold f's mean is high. With K folds and strong
penalties (noise makes RidgeCV choose them) that r tends to -sqrt((K - 1) / (n - 1)) (-0.26 for 5 folds of
60 sounds), and how far depends on the penalty a layer gets: a bias that differs between models. Scoring each
fold on its own held-out sounds and averaging over folds (`fold_correlations`) is centred on 0 under no
relation, exactly (tests/test_encoding.py measures both); it is what the `encode` task scores.

Arrays in, arrays out (numpy; scikit-learn imported inside the fitting function, so that reading task
files and the CLI's --help do not load it). Undefined values are NaN, never an exception or a warning;
malformed inputs (shapes, negative weights) raise ValueError.
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: The ridge penalties tried for each category column: 21 values, 2 per decade, from 1e-3 (next to least
#: squares on standardised features) to 1e7 (next to the intercept alone: with n sounds of p standardised
#: features the data term is O(n p), so 1e7 shrinks every coefficient to ~0 for the sets studied here).
ALPHAS = np.logspace(-3, 7, 21)

#: a weighted variance below this fraction of its uncentred sum of squares is rounding error (the
#: convention of `split_pearson.VARIANCE_FLOOR`, kept here so this module stays numpy-only)
VARIANCE_FLOOR = 1e-12

#: the most bytes a chunk of resamples may occupy in `weighted_correlations`' temporaries
CHUNK_BYTES = 64 * 2**20


def fold_ids(rng: np.random.Generator, n: int, n_folds: int) -> np.ndarray:
    """The fold (0..n_folds-1, int64 `[n]`) of each of n sounds: sizes within 1 of each other, at random."""
    n, n_folds = int(n), int(n_folds)
    if n_folds < 2 or n_folds > n:
        raise ValueError(f"{n_folds} folds of {n} sounds: need 2 <= folds <= sounds")
    return (np.arange(n, dtype=np.int64) % n_folds)[rng.permutation(n)]


def _standardise(x_fit: np.ndarray, x_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x_fit and x_pred standardised by x_fit's means and sds (ddof 0); a feature constant in x_fit -> 0."""
    mean = x_fit.mean(axis=0)
    var = x_fit.var(axis=0)
    n = x_fit.shape[0]
    eps = np.finfo(np.float64).eps
    constant = var <= n * eps * var + (n * mean * eps) ** 2  # scikit-learn's _is_constant_feature
    scale = np.where(constant, 1.0, np.sqrt(var))
    z_fit, z_pred = (x_fit - mean) / scale, (x_pred - mean) / scale
    z_fit[:, constant] = 0.0
    z_pred[:, constant] = 0.0
    return z_fit, z_pred


def cross_validated_predictions(x: np.ndarray, y: np.ndarray, folds: np.ndarray,
                                alphas: np.ndarray = ALPHAS) -> tuple[np.ndarray, np.ndarray]:
    """Held-out ridge predictions of y `[n, q]` from x `[n, p]` (a vector: one feature) in the folds
    `[n]` (ints 0..K-1, each used): standardise and choose each column's penalty among alphas on the
    training sounds only (RidgeCV, efficient leave-one-out). -> (predictions `[n, q]`, alphas `[K, q]`);
    a 1-D y is one column. The scikit-learn path of the model: the encode task uses `fold_fits`, which makes
    the same choices and predictions from one decomposition per fold and is tested against this."""
    from sklearn.linear_model import RidgeCV

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    y = y[:, None] if y.ndim == 1 else y
    folds = np.asarray(folds)
    alphas = np.asarray(alphas, dtype=np.float64).ravel()
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x {x.shape} and y {y.shape} must be [n, p] and [n, q] of the same n sounds")
    if folds.shape != (x.shape[0],) or not np.issubdtype(folds.dtype, np.integer):
        raise ValueError(f"folds must be integers [{x.shape[0]}], got {folds.dtype} {folds.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite")
    if alphas.size == 0 or not np.all(np.isfinite(alphas) & (alphas > 0)):
        raise ValueError("alphas must be finite and positive")
    n_folds = int(folds.max()) + 1 if folds.size else 0
    if n_folds < 2 or folds.min() < 0 or np.unique(folds).size != n_folds:
        raise ValueError(f"folds must number 0..K-1 with K >= 2, each used; got {np.unique(folds)}")
    q = y.shape[1]
    predictions = np.empty(y.shape, dtype=np.float64)
    chosen = np.empty((n_folds, q), dtype=np.float64)
    for f in range(n_folds):
        test = folds == f
        z_fit, z_pred = _standardise(x[~test], x[test])
        model = RidgeCV(alphas=alphas, alpha_per_target=True, fit_intercept=True).fit(z_fit, y[~test])
        predictions[test] = np.asarray(model.predict(z_pred), dtype=np.float64).reshape(-1, q)
        chosen[f] = np.broadcast_to(np.asarray(model.alpha_, dtype=np.float64).ravel(), (q,))
    return predictions, chosen


@dataclasses.dataclass(frozen=True)
class FoldFit:
    """One fold's ridge fits (every category's, at its chosen penalty), in the dual form that gives both the
    held-out predictions and their first-order change when the training sounds are reweighted.

    train, test: bool `[n]`; predictions `[n_test, q]`; residuals `[n_train, q]` (training sounds, in-sample);
    hat `[q, n_test, n_train]`: h[c, t, i] = z_t^T M_c^{-1} z_i, the influence of training sound i on the
    prediction of test sound t (z = [1, standardised features], M_c = Z^T Z + alpha_c diag(0, 1, ..., 1))."""

    train: np.ndarray
    test: np.ndarray
    predictions: np.ndarray
    residuals: np.ndarray
    hat: np.ndarray
    alphas: np.ndarray  # [q] the penalty chosen for each category


def _loo_errors(lam: np.ndarray, q_mat: np.ndarray, qty: np.ndarray, intercept_dim: int, alphas: np.ndarray
                ) -> np.ndarray:
    """`[n_alphas, q]` mean squared leave-one-out errors of ridge with an unpenalised intercept, for every
    penalty, from one eigendecomposition of the training Gram matrix plus 11^T (the closed form of Golub, Heath
    & Wahba 1979, as scikit-learn's RidgeCV computes it in its Gram mode: the intercept's direction left
    unpenalised, e_i = c_i / (G^{-1})_ii with c = G^{-1} y)."""
    out = np.empty((alphas.size, qty.shape[1]))
    q2 = q_mat * q_mat
    for a, alpha in enumerate(alphas):
        w = 1.0 / (lam + alpha)
        w[intercept_dim] = 0.0
        c = q_mat @ (w[:, None] * qty)
        g_inv_diag = q2 @ w
        out[a] = np.mean((c / g_inv_diag[:, None]) ** 2, axis=0)
    return out


def fold_fits(x: np.ndarray, y: np.ndarray, folds: np.ndarray, alphas: np.ndarray = ALPHAS) -> list[FoldFit]:
    """Each fold's ridge fits, every category's penalty chosen among `alphas` by leave-one-out on the fold's
    training sounds, features standardised on them: the model of `cross_validated_predictions` (the same
    penalties and predictions as scikit-learn's RidgeCV there, tests/test_encoding.py), from ONE
    eigendecomposition per fold that also gives the hat blocks and residuals of `refit_predictions`
    (predictions p_t = ybar + k_t (K + alpha I)^{-1} (y - ybar), K the training Gram matrix of the standardised
    features). Written here: scikit-learn exposes neither the hat matrix nor the residuals of RidgeCV's fit,
    and a second decomposition would double the cost."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    x = x.reshape(x.shape[0], -1)
    y = y[:, None] if y.ndim == 1 else y
    folds = np.asarray(folds)
    alphas = np.asarray(alphas, dtype=np.float64).ravel()
    out = []
    for f in range(int(folds.max()) + 1):
        test = folds == f
        train = ~test
        z_fit, z_pred = _standardise(x[train], x[test])
        n_train = int(train.sum())
        y_train = y[train]
        ybar = y_train.mean(axis=0)
        yc = y_train - ybar
        # K + 11^T: the constant vector is an eigenvector (z_fit is centred), the intercept's direction
        lam_aug, q_aug = np.linalg.eigh(z_fit @ z_fit.T + 1.0)
        intercept_dim = int(np.argmax(np.abs(q_aug.sum(axis=0))))
        errors = _loo_errors(lam_aug, q_aug, q_aug.T @ yc, intercept_dim, alphas)
        chosen = alphas[np.argmin(errors, axis=0)]  # [q], the first of tied minima
        # the same eigenvectors diagonalise K itself: its eigenvalue on the intercept's direction is 0
        lam = np.maximum(lam_aug, 0.0)
        lam[intercept_dim] = 0.0
        ku = (z_pred @ z_fit.T) @ q_aug  # [n_test, n_train]
        uy = q_aug.T @ yc
        inv = 1.0 / (lam[:, None] + chosen[None, :])  # [n_train, q]
        predictions = ybar + ku @ (inv * uy)
        residuals = y_train - (ybar + q_aug @ (lam[:, None] * inv * uy))
        hat = np.stack([1.0 / n_train + (ku * inv[:, c]) @ q_aug.T for c in range(y.shape[1])])
        out.append(FoldFit(train, test, predictions, residuals, hat, chosen))
    return out


def refit_predictions(fits: list[FoldFit], fit_weights: np.ndarray) -> np.ndarray:
    """`[m, n, q]`: every sound's held-out prediction with its fold's fit redone on the training sounds weighted
    by each row of fit_weights `[m, n]` (bootstrap counts; 1: the fit itself), to first order in the weights
    (`refit_fold_predictions`, placed back in the sounds' order).

    The infinitesimal jackknife (Jaeckel 1972; Efron 1982, ch. 6; as an approximation of a reweighted refit,
    Giordano et al. 2019, AISTATS, "A Swiss Army infinitesimal jackknife"): the ridge solution is a smooth
    function of the weights, theta(w) ~ theta + M^{-1} sum_i (w_i - 1) z_i r_i, so a held-out prediction moves
    by sum_i (w_i - 1) r_i h_ti (`FoldFit.hat`). The penalties and the standardisation stay those of the fit.
    Why: a bootstrap that reweighs the held-out predictions with the fits fixed leaves out how the fits move
    with the sounds, and, the folds sharing their training sounds, underestimates the variance of a
    cross-validated score (Bengio & Grandvalet 2004): 81% coverage of nominal 95% under no relation, where
    this refit gives 94-96% (docs/metrics.md, "Encoding")."""
    w = np.atleast_2d(np.asarray(fit_weights, dtype=np.float64))
    out = np.empty((w.shape[0], w.shape[1], fits[0].predictions.shape[1]))
    for fit, pred in zip(fits, refit_fold_predictions(fits, w)):
        out[:, fit.test, :] = pred
    return out


def refit_fold_predictions(fits: list[FoldFit], fit_weights: np.ndarray) -> list[np.ndarray]:
    """Per fold, `[m, n_test, q]`: `refit_predictions` of its held-out sounds (in the fold's order)."""
    w = np.atleast_2d(np.asarray(fit_weights, dtype=np.float64))
    q = fits[0].predictions.shape[1]
    out = []
    for fit in fits:
        # sum_i (w_i - 1) r_ic h_cti for every category at once: one matrix product with the fold's influence
        # matrix [n_train, n_test q], r_ic h_cti laid out as (t, c)
        influence = (fit.residuals.T[:, None, :] * fit.hat).transpose(2, 1, 0).reshape(fit.hat.shape[2], -1)
        change = (w[:, fit.train] - 1.0) @ influence  # [m, n_test q]
        out.append(fit.predictions[None] + change.reshape(w.shape[0], -1, q))
    return out


def _fold_r(wf: np.ndarray, pred: np.ndarray, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One fold's weighted r of every category: wf `[F, R, n_f]` (R rows of weights on each of F predictions),
    pred `[F, n_f, q]`, obs `[n_f, q]` -> (r `[F, R, q]`, r = 0 where a side is constant under the weights;
    whether the row has at least 3 weighted sounds, `[F, R, q]`). The sums are batched matrix products."""
    pc = pred - pred.mean(axis=1, keepdims=True)  # each prediction's own centre: r does not change, and one that
    # barely varies keeps its few significant digits (the one-pass sums below would cancel them)
    oc = obs - obs.mean(axis=0)
    sw = wf.sum(axis=2)[..., None]  # [F, R, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        mp = np.matmul(wf, pc) / sw  # [F, R, q]
        mo = (wf @ oc) / sw
        raw_p = np.matmul(wf, pc * pc) / sw
        raw_o = (wf @ (oc * oc)) / sw
        cov = np.matmul(wf, pc * oc[None]) / sw - mp * mo
        vp, vo = raw_p - mp * mp, raw_o - mo * mo
        r = np.clip(cov / np.sqrt(vp * vo), -1.0, 1.0)
    enough = np.broadcast_to((np.count_nonzero(wf > 0, axis=2) >= 3)[..., None], r.shape)
    varies = (vp > VARIANCE_FLOOR * np.abs(raw_p)) & (vo > VARIANCE_FLOOR * np.abs(raw_o)) & np.isfinite(r)
    return np.where(varies, r, 0.0), enough  # a constant side: r = 0 (it counts, as nothing)


def _mean_over_folds(per_fold) -> np.ndarray:
    """The mean of (r, enough) pairs over folds, a fold counting where it has enough weighted sounds (NaN where
    none has)."""
    total = count = 0.0
    for r, enough in per_fold:
        total = total + np.where(enough, r, 0.0)
        count = count + enough
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def refit_fold_correlations(fits: list[FoldFit], obs: np.ndarray, fit_weights: np.ndarray,
                            row_weights: np.ndarray) -> np.ndarray:
    """`[F, R, q]`: the encoding score's per-category mean over folds of each fold's weighted r, every fit of
    fit_weights `[F, n]` (`refit_fold_predictions`) scored under its rows of row_weights `[F, R, n]` (a
    resample and its halves share the resample's fit). The rule of `fold_correlations_of_rows` (a constant
    side: r = 0; fewer than 3 weighted sounds: the fold left out)."""
    o = np.asarray(obs, dtype=np.float64)
    o = o[:, None] if o.ndim == 1 else o
    rw = np.asarray(row_weights, dtype=np.float64)
    return _mean_over_folds(_fold_r(rw[:, :, fit.test], pred, o[fit.test])
                            for fit, pred in zip(fits, refit_fold_predictions(fits, fit_weights)))


def fold_correlations_of_rows(pred: np.ndarray, obs: np.ndarray, weights: np.ndarray, folds: np.ndarray
                              ) -> np.ndarray:
    """`fold_correlations` with its own predictions per row: pred `[m, n, q]` (e.g. `refit_predictions`), obs
    `[n, q]`, weights `[m, n]` -> `[m, q]`: the mean over folds of each fold's weighted r (a constant side under
    the weights: r = 0; a fold with fewer than 3 weighted sounds left out)."""
    p = np.asarray(pred, dtype=np.float64)
    o = np.asarray(obs, dtype=np.float64)
    o = o[:, None] if o.ndim == 1 else o
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    folds = np.asarray(folds)
    if p.shape[1:] != o.shape or w.shape != p.shape[:2] or folds.shape != (o.shape[0],):
        raise ValueError(f"pred {p.shape}, obs {o.shape}, weights {w.shape} and folds {folds.shape} must be "
                         f"[m, n, q], [n, q], [m, n] and [n]")
    if not np.all(np.isfinite(w) & (w >= 0)):
        raise ValueError("weights must be finite and non-negative")
    # each row its own prediction (F = m) scored under one row of weights (R = 1)
    return _mean_over_folds(_fold_r(w[:, None, idx], p[:, idx], o[idx])
                            for idx in (np.flatnonzero(folds == f) for f in np.unique(folds)))[:, 0]


def weighted_correlations(pred: np.ndarray, obs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted Pearson r `[m, q]` of each column of pred and obs `[n, q]` (a vector: one column) under each
    row of weights `[m, n]` (non-negative; a vector: one row, -> `[q]`); NaN where a side is constant
    under the weights or fewer than 3 sounds carry weight."""
    pred, obs = np.asarray(pred, dtype=np.float64), np.asarray(obs, dtype=np.float64)
    pred = pred[:, None] if pred.ndim == 1 else pred
    obs = obs[:, None] if obs.ndim == 1 else obs
    w = np.asarray(weights)  # cast to float64 a chunk at a time: integer counts stay as they came
    one_row = w.ndim == 1
    w = w[None, :] if one_row else w
    if pred.shape != obs.shape or pred.ndim != 2:
        raise ValueError(f"pred {pred.shape} and obs {obs.shape} must be one shape [n, q]")
    if w.ndim != 2 or w.shape[1] != pred.shape[0]:
        raise ValueError(f"weights {w.shape} must be [m, {pred.shape[0]}]")
    if not (np.issubdtype(w.dtype, np.number) or w.dtype == bool):
        raise ValueError(f"weights must be numbers, got {w.dtype}")
    n, q = pred.shape
    # centred on the unweighted means first (r does not change under a shift): the one-pass sums below
    # then cancel little; the uncentred sums of squares, for the constancy floor, are recovered from them
    mp, mo = pred.mean(axis=0), obs.mean(axis=0)
    pc, oc = pred - mp, obs - mo
    stacked = np.concatenate([pc, oc, pc * pc, oc * oc, pc * oc], axis=1)  # [n, 5q]
    out = np.empty((w.shape[0], q), dtype=np.float64)
    rows = max(1, CHUNK_BYTES // (8 * (n + 12 * q)))
    for start in range(0, w.shape[0], rows):
        wc = np.asarray(w[start:start + rows], dtype=np.float64)
        if not np.all(np.isfinite(wc) & (wc >= 0)):
            raise ValueError("weights must be finite and non-negative")
        sw = wc.sum(axis=1)[:, None]
        enough = (np.count_nonzero(wc > 0, axis=1) >= 3)[:, None]
        sums = wc @ stacked
        sx, sy, sxx, syy, sxy = (sums[:, k * q:(k + 1) * q] for k in range(5))
        raw_xx = sxx + 2 * mp * sx + mp * mp * sw  # sum of w pred^2, uncentred
        raw_yy = syy + 2 * mo * sy + mo * mo * sw
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            cov = sxy - sx * sy / sw
            vx = sxx - sx * sx / sw
            vy = syy - sy * sy / sw
            r = np.clip(cov / np.sqrt(vx * vy), -1.0, 1.0)
        good = enough & (vx > VARIANCE_FLOOR * np.abs(raw_xx)) & (vy > VARIANCE_FLOOR * np.abs(raw_yy))
        out[start:start + rows] = np.where(good, r, np.nan)
    return out[0] if one_row else out


def fold_correlations(pred: np.ndarray, obs: np.ndarray, weights: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """`[m, q]`: the mean over folds of each fold's `weighted_correlations` on its own held-out sounds. A fold
    whose predictions (or observations) are constant over its weighted sounds scores r = 0 (it predicts
    nothing); a fold with fewer than 3 weighted sounds is left out (NaN where no fold is left).

    The encode task's score. Held-out predictions of fold f depend on the other folds' observations only, so
    under no relation each fold's r has mean 0 (the observations are exchangeable given the predictions), and
    so has their mean over a set of folds fixed in advance; the r pooled over every sound does not (the
    module's caution), nor the pooled within-fold r (the other folds' predictions, in its denominator, move
    with fold f's observations; -0.17 under strong penalties), nor a mean that leaves out the folds whose
    predictions are constant (which folds those are depends on the other folds' observations: -0.05 at 60
    sounds; tests/test_encoding.py measures them). Scoring each split and averaging over splits is how
    Brain-Score scores its neural predictivity (Schrimpf et al. 2018)."""
    p = np.asarray(pred, dtype=np.float64)
    p = p[:, None] if p.ndim == 1 else p
    rows = np.broadcast_to(p, (np.atleast_2d(weights).shape[0],) + p.shape)
    return fold_correlations_of_rows(rows, obs, weights, folds)


def category_score(r: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """The mean of r `[..., q]` over the scored columns (bool `[q]`), skipping NaN -> `[...]`; NaN where
    no scored column is finite."""
    r = np.asarray(r, dtype=np.float64)
    scored = np.asarray(scored, dtype=bool)
    if scored.shape != r.shape[-1:]:
        raise ValueError(f"scored {scored.shape} must be [{r.shape[-1] if r.ndim else 0}] bool")
    sel = r[..., scored]
    finite = np.isfinite(sel)
    count = finite.sum(axis=-1)
    total = np.where(finite, sel, 0.0).sum(axis=-1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)
