"""Variances and intervals from bootstrap replicates: one place for the formulas every interval and
test of audioprobe uses (task types for their intervals, `inference` for paired tests).

Three designs of replicates, each `[n_resamples, ...]` along its first axis:

- **one factor** (sounds): the variance over the resamples (ddof 1);
- **split replicates** of a cross-validated score `[n_resamples, n_splits, ...]`: in each resample the
  score of each of the same `n_splits` fixed half-splits of the sounds. The estimate averages
  `cv_splits` splits; one split per resample would add the split's own noise (the choice of halves)
  to the bootstrap variance, which overstates the headline's standard error about twofold. The
  resamples x splits table is read as a two-way layout with one value per cell (Searle, Casella &
  McCulloch 1992, *Variance Components*, ch. 4): the resample mean square less the interaction mean
  square, over the number of splits, estimates the variance of the score averaged over infinitely
  many splits; the interaction mean square over `cv_splits` adds back the split noise that the
  estimate itself keeps (`split_variance`);
- **dual bootstrap** (sounds and listeners; Schütt et al. 2023): three replicate sets over both
  factors, listeners only and sounds only, combined by `dual_bootstrap_variance`, with degrees of
  freedom by Satterthwaite (1946) (`dual_dof`).
"""

from __future__ import annotations

import numpy as np


def replicate_variance(replicates: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Variance (ddof 1, as rsatoolbox) of each column over its finite replicates, or over the rows
    `valid` marks (same shape) (NaN: fewer than 2)."""
    r = np.asarray(replicates, dtype=np.float64)
    r = r[:, None] if r.ndim == 1 else r
    ok = np.isfinite(r) if valid is None else np.asarray(valid).reshape(r.shape) & np.isfinite(r)
    k = ok.sum(axis=0)
    mean = np.where(ok, r, 0.0).sum(axis=0) / np.maximum(k, 1)
    ss = np.where(ok, (r - mean) ** 2, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(k >= 2, ss / (k - 1), np.nan)


def split_variance(values: np.ndarray, cv_splits: int | None = None, valid: np.ndarray | None = None) -> np.ndarray:
    """Bootstrap variance of a cross-validated score, its split noise removed (module docstring).

    values `[n_resamples, n_splits, *S]`: the score of split k in resample b (the same splits in every
    resample); valid `[n_resamples, *S]` (default: every split finite) marks the resamples used. With
    MS_r the mean square of the resample means (K times their variance) and MS_i the interaction
    mean square (residual of the two-way table), K = n_splits:

        V = max(0, (MS_r - MS_i) / K) + MS_i / cv_splits

    the variance over resamples of the score averaged over cv_splits splits (no second term when
    cv_splits is None). One split (K = 1) is the plain variance of the column. -> `[*S]`, NaN where
    fewer than 2 resamples are valid.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim < 2:
        raise ValueError(f"split replicates must be `[n_resamples, n_splits, ...]`, got shape {v.shape}")
    n_splits = v.shape[1]
    ok = np.all(np.isfinite(v), axis=1) if valid is None else (np.asarray(valid, dtype=bool)
                                                               & np.all(np.isfinite(v), axis=1))
    if n_splits == 1:
        return replicate_variance(v[:, 0], ok).reshape(v.shape[2:])
    b = ok.sum(axis=0)
    w = ok[:, None].astype(np.float64)
    filled = np.where(ok[:, None], v, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        row = filled.mean(axis=1)  # [n, *S] (rows not ok: 0, unused)
        col = filled.sum(axis=0) / b  # [K, *S]
        grand = col.mean(axis=0)
        ms_rows = n_splits * (w[:, 0] * (row - grand) ** 2).sum(axis=0) / (b - 1)
        resid = np.where(ok[:, None], v - row[:, None] - col[None] + grand, 0.0)
        ms_int = (resid ** 2).sum(axis=(0, 1)) / ((b - 1) * (n_splits - 1))
        out = np.maximum(0.0, (ms_rows - ms_int) / n_splits) + (ms_int / cv_splits if cv_splits else 0.0)
    return np.where(b >= 2, out, np.nan)


def split_covariance(values: np.ndarray, cv_splits: int | None = None) -> np.ndarray:
    """`split_variance` for the covariance matrix of p scores: values `[n_resamples, n_splits, p]` -> `[p, p]`
    (mean cross-products in place of mean squares, over the resamples where all p are finite; the
    resample term is not clipped at 0, a covariance may be negative)."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.all(np.isfinite(v), axis=(1, 2))
    v = v[ok]
    b, n_splits, p = v.shape
    if b < 2:
        return np.full((p, p), np.nan)
    row = v.mean(axis=1)  # [b, p]
    dev = row - row.mean(axis=0)
    mcp_rows = n_splits * dev.T @ dev / (b - 1)
    if n_splits == 1:
        return mcp_rows
    resid = (v - row[:, None] - v.mean(axis=0)[None] + v.mean(axis=(0, 1))).reshape(-1, p)
    mcp_int = resid.T @ resid / ((b - 1) * (n_splits - 1))
    return (mcp_rows - mcp_int) / n_splits + (mcp_int / cv_splits if cv_splits else 0.0)


def dual_bootstrap_variance(v_both, v_listeners, v_sounds, n_listeners: int | None = None,
                            n_sounds: int | None = None) -> np.ndarray:
    """Variance of a score that must generalise over listeners and sounds, from three bootstraps
    that share their draws: over both factors, over listeners only, over sounds only (Schütt et al.
    2023, eLife 12:e82566, the "dual bootstrap"; rsatoolbox `util.inference_util._dual_bootstrap`,
    whose arguments come in the order double, rdm (listeners), pattern (sounds)).

    Resampling both factors at once counts the variance the factors share (their interaction and
    the measurement noise) more than once; the one-factor bootstraps estimate it and remove the
    excess. Asymptotic form (n_listeners or n_sounds not given): 2 (V_l + V_s) - V_b. Small-sample
    form (both given, as rsatoolbox's `eval_dual_bootstrap` applies it):
    n_l/(n_l-1) V_l + n_s/(n_s-1) V_s - n_l n_s/((n_l-1)(n_s-1)) (V_b - V_l - V_s).
    Clipped as rsatoolbox does: at least each (corrected) one-factor variance, at most V_b.
    For the mean of a listeners x sounds table this is exactly the ANOVA estimate
    (MS_l + MS_s - MS_ls) / (n_l n_s) of the variance of the grand mean (`dual_dof`).
    """
    vb, vl, vs = (np.asarray(v, dtype=np.float64) for v in (v_both, v_listeners, v_sounds))
    if n_listeners is None or n_sounds is None:
        v = 2.0 * (vl + vs) - vb
        return np.minimum(np.maximum(np.maximum(v, vl), vs), vb)
    kl, ks = n_listeners / (n_listeners - 1.0), n_sounds / (n_sounds - 1.0)
    v = kl * vl + ks * vs - kl * ks * (vb - vl - vs)
    return np.minimum(np.maximum(np.maximum(v, kl * vl), ks * vs), vb)


def dual_dof(v_both, v_listeners, v_sounds, n_listeners: int, n_sounds: int) -> np.ndarray:
    """Degrees of freedom of `dual_bootstrap_variance` by Satterthwaite (1946, Biometrics Bull. 2:110).

    For the grand mean of a listeners x sounds table the three bootstrap variances are mean squares in
    disguise: n_l/(n_l-1) V_l = MS_l / (n_l n_s) (df n_l - 1), n_s/(n_s-1) V_s = MS_s / (n_l n_s) (df
    n_s - 1) and n_l n_s/((n_l-1)(n_s-1)) (V_b - V_l - V_s) = MS_ls / (n_l n_s) (df (n_l-1)(n_s-1)), so
    the dual variance A + B - C is the linear combination of mean squares that Satterthwaite's formula
    answers: df = V^2 / (A^2/df_l + B^2/df_s + C^2/df_ls). Where rsatoolbox's clip applies, the df
    of the variance actually used: n_l - 1 or n_s - 1 (a one-factor variance), or V_b's own
    combination (V_b = A/k_l + B/k_s + C/(k_l k_s)). Between min(n_l, n_s) - 1 (one factor
    dominates) and about n_l n_s; rsatoolbox uses min(n_l, n_s) - 1 throughout, which is
    conservative when the sounds' variance dominates (docs/metrics.md). NaN where the variance is.
    """
    vb, vl, vs = (np.asarray(v, dtype=np.float64) for v in (v_both, v_listeners, v_sounds))
    nl, ns = float(n_listeners), float(n_sounds)
    kl, ks = nl / (nl - 1.0), ns / (ns - 1.0)
    df_l, df_s, df_ls = nl - 1.0, ns - 1.0, (nl - 1.0) * (ns - 1.0)
    a, b, c = kl * vl, ks * vs, kl * ks * (vb - vl - vs)
    v = a + b - c
    with np.errstate(invalid="ignore", divide="ignore"):
        formula = v ** 2 / (a ** 2 / df_l + b ** 2 / df_s + c ** 2 / df_ls)
        at_both = vb ** 2 / ((a / kl) ** 2 / df_l + (b / ks) ** 2 / df_s + (c / (kl * ks)) ** 2 / df_ls)
    lower = np.maximum(a, b)
    clipped_high = np.maximum(v, lower) >= vb  # rsatoolbox: min(max(v, A, B), V_b)
    clipped_low = ~clipped_high & (v < lower)
    dof = np.where(clipped_high, at_both, np.where(clipped_low, np.where(a >= b, df_l, df_s), formula))
    dof = np.clip(dof, min(df_l, df_s), df_l + df_s + df_ls)
    return np.where(np.isfinite(vb) & np.isfinite(vl) & np.isfinite(vs), dof, np.nan)


def dual_variance_of(both, listeners, sounds, n_listeners: int | None, n_sounds: int | None,
                     cv_splits: int | None = None, split_axis: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(variance, dof) of replicates of the three dual-bootstrap kinds `[n_resamples, ...]` (split_axis:
    `[n_resamples, n_splits, ...]`, through `split_variance`), each variance over the resamples where all
    three kinds are defined (rsatoolbox keeps those rows too). dof: `dual_dof`, infinite without the n's."""
    arrays = [np.asarray(a, dtype=np.float64) for a in (both, listeners, sounds)]
    if not split_axis:
        arrays = [a[:, None] for a in arrays]
    valid = np.all(np.isfinite(arrays[0]) & np.isfinite(arrays[1]) & np.isfinite(arrays[2]), axis=1)
    vb, vl, vs = (split_variance(a, cv_splits, valid) for a in arrays)
    variance = dual_bootstrap_variance(vb, vl, vs, n_listeners, n_sounds)
    if n_listeners is None or n_sounds is None:
        return variance, np.full(np.shape(variance), np.inf)
    return variance, dual_dof(vb, vl, vs, n_listeners, n_sounds)


def t_interval(center, variance, dof, level: float = 0.95) -> np.ndarray:
    """center -/+ t_{dof}((1 + level)/2) sqrt(variance) -> `[..., 2]` (NaN where undefined; dof inf:
    the normal quantile)."""
    from scipy.special import stdtrit  # light: scipy.stats is not needed for a quantile

    half = stdtrit(np.asarray(dof, dtype=np.float64), 0.5 + level / 2.0) * np.sqrt(
        np.maximum(np.asarray(variance, dtype=np.float64), 0.0))
    center = np.asarray(center, dtype=np.float64)
    return np.stack([center - half, center + half], axis=-1)


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> np.ndarray:
    """Percentile bootstrap interval (Efron & Tibshirani 1993, ch. 13) per column -> `[n_cols, 2]`.

    Resamples whose statistic is undefined (NaN) are left out.
    """
    s = np.atleast_2d(np.asarray(samples, dtype=np.float64))
    alpha = (1.0 - level) / 2.0
    out = np.full((s.shape[1], 2), np.nan)
    for k in range(s.shape[1]):
        col = s[:, k][np.isfinite(s[:, k])]
        if col.size:
            out[k] = np.quantile(col, [alpha, 1.0 - alpha])
    return out
