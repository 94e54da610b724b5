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

**Statistics over pairs of sounds** (an RSA score: a correlation over the entries of two RDMs) are, to
first order, U-statistics of order 2 in the sounds (Hoeffding 1948): a sound's own term h1 and a pair's
own term h2. A bootstrap of sounds weights pair (i, j) by c_i c_j; it reproduces the h1 term's variance
but counts h2's three times: once in the part of a replicate that is not linear in the counts, twice
more in the linear part, whose per-sound slopes are the sample's sound terms, and those carry the mean
of h2 over a sound's partners. Where h2 matters (a target with no per-sound structure; a difference of
similar layers or models, whose sound terms cancel) the bootstrap variance is up to 3 times too large
and its tests lose their level and power. `pair_noise_variance` measures the non-linear part from the
replicates themselves (the residual of their least-squares regression on the resample's counts), and
the variances below remove it twice when given it (`pair_noise`): the U-statistic variance
4 s1^2 / n + s2^2 / P, estimated without the pairs (docs/metrics.md, "Statistics over pairs").
"""

from __future__ import annotations

import numpy as np

#: Resamples beyond the number of sounds that `pair_noise_variance` needs (the residual degrees of freedom
#: of the replicates' regression on the counts): the estimate's relative standard error is sqrt(2 / df),
#: 14% here. With fewer (e.g. 1,000 resamples of 950 sounds or more) no correction is made: conservative.
MIN_PAIR_NOISE_DF = 100

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


def split_variance(values: np.ndarray, cv_splits: int | None = None, valid: np.ndarray | None = None,
                   pair_noise: np.ndarray | None = None) -> np.ndarray:
    """Bootstrap variance of a cross-validated score, its split noise removed (module docstring).

    values `[n_resamples, n_splits, *S]`: the score of split k in resample b (the same splits in every
    resample); valid `[n_resamples, *S]` (default: every split finite) marks the resamples used. With
    MS_r the mean square of the resample means (K times their variance) and MS_i the interaction
    mean square (residual of the two-way table), K = n_splits:

        V = max(0, (MS_r - MS_i) / K) + MS_i / cv_splits

    the variance over resamples of the score averaged over cv_splits splits (no second term when
    cv_splits is None). One split (K = 1) is the plain variance of the column. -> `[*S]`, NaN where
    fewer than 2 resamples are valid.

    pair_noise `[*S]` (`pair_noise_variance` of the same replicates, for a statistic over sound pairs):
    the resample term R becomes max(R - 2 pair_noise, R / 3) (module docstring; the bootstrap counts
    the pairs' noise at most three times, so the truth is at least a third of it).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim < 2:
        raise ValueError(f"split replicates must be `[n_resamples, n_splits, ...]`, got shape {v.shape}")
    n_splits = v.shape[1]
    ok = np.all(np.isfinite(v), axis=1) if valid is None else (np.asarray(valid, dtype=bool)
                                                               & np.all(np.isfinite(v), axis=1))
    if n_splits == 1:
        return _without_pair_noise(replicate_variance(v[:, 0], ok).reshape(v.shape[2:]), pair_noise)
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
        resample_term = _without_pair_noise(np.maximum(0.0, (ms_rows - ms_int) / n_splits), pair_noise)
        out = resample_term + (ms_int / cv_splits if cv_splits else 0.0)
    return np.where(b >= 2, out, np.nan)


def _without_pair_noise(resample_term: np.ndarray, pair_noise) -> np.ndarray:
    if pair_noise is None:
        return resample_term
    e = np.where(np.isfinite(pair_noise), np.maximum(pair_noise, 0.0), 0.0)
    return np.maximum(resample_term - 2.0 * e, resample_term / 3.0)


def split_covariance(values: np.ndarray, cv_splits: int | None = None,
                     sound_counts: np.ndarray | None = None) -> np.ndarray:
    """`split_variance` for the covariance matrix of p scores: values `[n_resamples, n_splits, p]` -> `[p, p]`
    (mean cross-products in place of mean squares, over the resamples where all p are finite; the
    resample term is not clipped at 0, a covariance may be negative). sound_counts `[n_resamples,
    n_sounds]` (a statistic over sound pairs): twice the pairs' noise removed (`pair_noise_covariance`)."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.all(np.isfinite(v), axis=(1, 2))
    noise = 0.0 if sound_counts is None else pair_noise_covariance(v, sound_counts, ok)
    v = v[ok]
    b, n_splits, p = v.shape
    if b < 2:
        return np.full((p, p), np.nan)
    row = v.mean(axis=1)  # [b, p]
    dev = row - row.mean(axis=0)
    mcp_rows = n_splits * dev.T @ dev / (b - 1)
    if n_splits == 1:
        return mcp_rows - 2.0 * noise
    resid = (v - row[:, None] - v.mean(axis=0)[None] + v.mean(axis=(0, 1))).reshape(-1, p)
    mcp_int = resid.T @ resid / ((b - 1) * (n_splits - 1))
    return (mcp_rows - mcp_int) / n_splits - 2.0 * noise + (mcp_int / cv_splits if cv_splits else 0.0)


_BASES: dict = {}


def _count_basis(counts: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
    """Orthonormal basis `[n_rows, r]` of the span of the counts' columns over the given resamples (the
    constant is in it: every row sums to the number of draws), None when fewer than MIN_PAIR_NOISE_DF
    resamples are left beyond r. Cached: compare asks for the same plan many times."""
    key = (id(counts), counts.shape, rows.tobytes() if not rows.all() else b"all")
    hit = _BASES.get(key)
    if hit is not None and hit[0] is counts:
        return hit[1]
    c = np.asarray(counts, dtype=np.float64)[rows]
    basis = None
    if c.shape[0] - min(c.shape) >= MIN_PAIR_NOISE_DF:
        u, sv, _ = np.linalg.svd(c, full_matrices=False)
        r = int((sv > sv[0] * 1e-10).sum()) if sv.size else 0
        basis = u[:, :r] if c.shape[0] - r >= MIN_PAIR_NOISE_DF else None
    if len(_BASES) > 16:
        _BASES.clear()
    _BASES[key] = (counts, basis)
    return basis


def _count_residuals(values: np.ndarray, counts: np.ndarray, ok: np.ndarray):
    """(residuals of `values[ok]` `[b, K, ...]` after least squares on the counts of those resamples, their
    degrees-of-freedom factor (b - 1) / (b - r)), or None when the counts leave too few."""
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[0] != values.shape[0]:
        raise ValueError(f"sound counts must be `[n_resamples, n_sounds]` with {values.shape[0]} rows, got shape "
                         f"{counts.shape}")
    basis = _count_basis(counts, np.asarray(ok, dtype=bool))
    if basis is None:
        return None
    v = values[ok]
    flat = v.reshape(v.shape[0], -1)
    resid = flat - basis @ (basis.T @ flat)
    return resid.reshape(v.shape), (v.shape[0] - 1.0) / (v.shape[0] - basis.shape[1])


def pair_noise_variance(values: np.ndarray, sound_counts: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """The bootstrap variance of the part of the replicates that is not linear in the resample's sound
    counts: for a statistic over sound pairs, the pairs' own noise (Hoeffding's second-order term) as the
    bootstrap counts it once (module docstring). values `[n_resamples, n_splits, *S]` (split replicates:
    the resample term of `split_variance`, their split noise left out); sound_counts `[n_resamples,
    n_sounds]`; valid `[n_resamples, *S]` (default: every split finite): the regression uses the resamples
    valid for every column. Unbiased under the regression's degrees of freedom ((b - 1) / (b - r), r the
    rank of the counts). -> `[*S]` >= 0, NaN where it cannot be estimated (too few resamples: no
    correction)."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.all(np.isfinite(v), axis=1) if valid is None else (np.asarray(valid, dtype=bool)
                                                               & np.all(np.isfinite(v), axis=1))
    rows = ok.reshape(ok.shape[0], -1).all(axis=1)
    fitted = _count_residuals(v, sound_counts, rows)
    if fitted is None:
        return np.full(v.shape[2:], np.nan)
    resid, dof_factor = fitted
    k = resid.shape[1]
    if k == 1:
        term = replicate_variance(resid[:, 0]).reshape(v.shape[2:])
    else:  # the resample term of the two-way layout, as split_variance
        b = resid.shape[0]
        row = resid.mean(axis=1)
        ms_rows = k * ((row - row.mean(axis=0)) ** 2).sum(axis=0) / (b - 1)
        inter = resid - row[:, None] - resid.mean(axis=0)[None] + resid.mean(axis=(0, 1))
        ms_int = (inter ** 2).sum(axis=(0, 1)) / ((b - 1) * (k - 1))
        term = (ms_rows - ms_int) / k
    return np.maximum(dof_factor * term, 0.0)


def pair_noise_covariance(values: np.ndarray, sound_counts: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """`pair_noise_variance` as a covariance matrix: values `[n_resamples, n_splits, p]` -> `[p, p]` (zeros
    where it cannot be estimated: no correction)."""
    v = np.asarray(values, dtype=np.float64)
    rows = np.all(np.isfinite(v), axis=(1, 2)) if rows is None else np.asarray(rows, dtype=bool)
    p = v.shape[2]
    fitted = _count_residuals(v, sound_counts, rows)
    if fitted is None:
        return np.zeros((p, p))
    resid, dof_factor = fitted
    b, k = resid.shape[:2]
    row = resid.mean(axis=1)
    dev = row - row.mean(axis=0)
    term = k * dev.T @ dev / (b - 1)
    if k > 1:
        inter = (resid - row[:, None] - resid.mean(axis=0)[None] + resid.mean(axis=(0, 1))).reshape(-1, p)
        term = (term - inter.T @ inter / ((b - 1) * (k - 1))) / k
    return dof_factor * term


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
                     cv_splits: int | None = None, split_axis: bool = False,
                     sound_counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(variance, dof) of replicates of the three dual-bootstrap kinds `[n_resamples, ...]` (split_axis:
    `[n_resamples, n_splits, ...]`, through `split_variance`), each variance over the resamples where all
    three kinds are defined (rsatoolbox keeps those rows too). dof: `dual_dof`, infinite without the n's.

    sound_counts `[n_resamples, n_sounds]` (the draws of the "both" and "sounds" kinds; a statistic over
    sound pairs): the pairs' noise, measured on the sounds kind, is removed from the sounds and both
    variances alike (module docstring), which lowers the dual variance by n_s/(n_s-1) times twice it."""
    arrays = [np.asarray(a, dtype=np.float64) for a in (both, listeners, sounds)]
    if not split_axis:
        arrays = [a[:, None] for a in arrays]
    valid = np.all(np.isfinite(arrays[0]) & np.isfinite(arrays[1]) & np.isfinite(arrays[2]), axis=1)
    noise = None if sound_counts is None else pair_noise_variance(arrays[2], sound_counts, valid)
    vb, vl, vs = (split_variance(a, cv_splits, valid, pair_noise=None if kind == "listeners" else noise)
                  for a, kind in zip(arrays, ("both", "listeners", "sounds")))
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


def proportion_interval(value, variance, dof, n_max, level: float = 0.95) -> np.ndarray:
    """The Wilson interval (Wilson 1927, JASA 22:209) of a score that is a weighted proportion (accuracy,
    balanced accuracy), on its effective sample size -> `[..., 2]`, inside [0, 1].

    A t interval from a bootstrap variance fails at the bound: a probe right on none of 20 test sounds has
    every replicate 0, variance 0 and the interval [0, 0] (the Wald interval's failure, Brown, Cai &
    DasGupta 2001, Stat. Sci. 16:101). Here, as for proportions from complex samples (Korn & Graubard
    1998, Survey Methodology 24:193; the Wilson form: Dean & Pagano 2015, J. Surv. Stat. Methodol. 3:484),
    the effective sample size is n_eff = p (1 - p) / variance (the variance from the replicates, whatever
    the design), and n_max (the Kish effective size of the sounds' weights) where that is undefined: p at
    0 or 1, or variance 0. n_eff is not truncated at n_max: a score whose sounds differ in their chance of
    a right answer has a variance below the binomial one, and truncating over-covered (98-99% in
    `benchmarks/bench_transfer_variance.py`). The quantile is t(dof), as for the t interval it replaces:
    away from the bounds the two agree to O(1 / n_eff).
    """
    from scipy.special import stdtrit

    p = np.clip(np.asarray(value, dtype=np.float64), 0.0, 1.0)
    var = np.asarray(variance, dtype=np.float64)
    n_max = np.asarray(n_max, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where((var > 0) & (p > 0) & (p < 1), p * (1 - p) / var, n_max)
        z = stdtrit(np.asarray(dof, dtype=np.float64), 0.5 + level / 2.0)
        z2n = z ** 2 / n_eff
        centre = (p + z2n / 2) / (1 + z2n)
        half = z / (1 + z2n) * np.sqrt(p * (1 - p) / n_eff + z2n / (4 * n_eff))
    return np.stack([np.maximum(centre - half, 0.0), np.minimum(centre + half, 1.0)], axis=-1)


def kish_size(weights) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 of per-unit weights (Kish 1965, Survey Sampling)."""
    w = np.asarray(weights, dtype=np.float64)
    return float(w.sum() ** 2 / np.sum(w ** 2))


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
