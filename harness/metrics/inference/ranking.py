"""Tables of models: every pair compared with simultaneous (max-t) intervals, the ranks' intervals and the
confidence set of the best model, from shared replicates."""

from __future__ import annotations

import warnings

import numpy as np

from audioprobe.metrics import intervals
from audioprobe.metrics.inference.multiplicity import _bh_arrays
from audioprobe.metrics.inference.paired import (
    DUAL_KEYS,
    _check_level,
    _combine,
    _contrast_arrays,
    _contrast_json,
    _corrected_1d,
    _Design,
    _dof_json,
    _float_array,
    _json,
    _replicate_arrays,
)


def _estimates_and_reps(estimates, replicates) -> tuple[np.ndarray, _Design]:
    est = _float_array(estimates, "estimates")
    if est.ndim != 1:
        raise ValueError(f"estimates must be one value per model `[k]` (got shape {est.shape})")
    reps = _replicate_arrays(replicates)
    shape = reps.main.shape
    if len(shape) != 3 or shape[2] != est.size:
        raise ValueError(f"replicates must be `[n_resamples, {est.size}]` (one column per model), got "
                         f"{shape[:1] + shape[2:]}")
    return est, reps


#: Monte Carlo draws behind the simultaneous critical value (the quantile of the largest |t| over the
#: pairs): its 95% quantile then has a Monte Carlo standard error of about 0.01 (in t units).
SIMULTANEOUS_DRAWS = 200_000


#: Seed of those draws: the same critical value for the same correlations, run after run.
SIMULTANEOUS_SEED = 20240622


def _score_covariance(design: _Design, n_sounds, n_listeners) -> np.ndarray:
    """`[k, k]` covariance of k scores from their replicates `[n_resamples, n_splits, k]`, in the design's
    own terms (`intervals.split_covariance`; the dual combination of Schütt et al. 2023 without its clip),
    made positive semi-definite (negative eigenvalues set to 0)."""
    cv, counts = design.cv_splits, design.shared_counts
    if design.dual:
        rows = np.all(np.isfinite(np.stack([design.arrays[k] for k in DUAL_KEYS])), axis=(0, 2, 3))
        noise = (0.0 if counts is None else intervals.pair_noise_covariance(design.arrays["sounds"], counts, rows))
        c = {k: intervals.split_covariance(design.arrays[k], cv) - (2.0 * noise if k != "listeners" else 0.0)
             for k in DUAL_KEYS}
        if n_sounds is None or n_listeners is None:
            cov = 2.0 * (c["listeners"] + c["sounds"]) - c["both"]
        else:
            kl, ks = n_listeners / (n_listeners - 1.0), n_sounds / (n_sounds - 1.0)
            cov = kl * c["listeners"] + ks * c["sounds"] - kl * ks * (c["both"] - c["listeners"] - c["sounds"])
    else:
        cov = _corrected_1d(intervals.split_covariance(design.arrays, cv, counts), n_sounds, n_listeners)
    if not np.all(np.isfinite(cov)):
        return cov
    w, v = np.linalg.eigh(0.5 * (cov + cov.T))
    return (v * np.maximum(w, 0.0)) @ v.T


def _max_abs_t(correlation: np.ndarray, dof: float) -> np.ndarray:
    """Sorted draws of max_p |T_p| for T multivariate t with `dof` (normal when infinite) and the given
    correlation `[P, P]` (Hothorn, Bretz & Westfall 2008: the single-step max-t of simultaneous tests;
    multivariate t as in Dunnett 1955). Monte Carlo, seeded (SIMULTANEOUS_DRAWS, SIMULTANEOUS_SEED)."""
    w, v = np.linalg.eigh(correlation)
    root = v * np.sqrt(np.maximum(w, 0.0))
    rng = np.random.default_rng(SIMULTANEOUS_SEED)
    out = []
    chunk = max(1, 2_000_000 // max(correlation.shape[0], 1))
    for start in range(0, SIMULTANEOUS_DRAWS, chunk):
        m = min(chunk, SIMULTANEOUS_DRAWS - start)
        z = rng.standard_normal((m, root.shape[1])) @ root.T
        if np.isfinite(dof):
            z /= np.sqrt(rng.chisquare(dof, size=m) / dof)[:, None]
        out.append(np.abs(z).max(axis=1))
    return np.sort(np.concatenate(out))


def simultaneous_pairs(estimates, replicates, *, n_sounds=None, n_listeners=None, level=0.95) -> dict:
    """Every pairwise difference of k models tested at once, the family-wise error rate held at 1 - level
    (the single-step max-t procedure; Hothorn, Bretz & Westfall 2008, Biom. J. 50:346).

    Each pair's t is that of `paired_difference` (its variance and dof from the design, as the pairwise
    table); the critical value c is the `level` quantile of max |T| over all pairs of the defined models,
    T multivariate t with the correlation of the pair differences (from the models' covariance,
    `_score_covariance`) and the smallest dof of the pairs. With probability `level` every interval
    d -/+ c se covers its difference at once; `p_adjusted` is the share of draws whose max |T| reaches
    |t| (Westfall & Young 1993, single step). Two models: c is the t quantile, p_adjusted the t-test's p.

    estimates `[k]`, replicates `[n_resamples, k]` (or `Splits`, or a dual mapping). Returns `[k][k]` tables
    (entry [i][j] about i minus j): difference, t, ci_simultaneous, p_adjusted, better (i significantly
    above j); critical_value, dof (the one used), n_pairs, level.
    """
    level = _check_level(level)
    est, reps = _estimates_and_reps(estimates, replicates)
    k = est.size
    defined = np.flatnonzero(np.isfinite(est))
    diff_reps = _combine(lambda r: r[..., :, None] - r[..., None, :], reps)
    arrays = _contrast_arrays(est[:, None] - est[None, :], diff_reps, n_sounds, n_listeners, level)
    off = ~np.eye(k, dtype=bool)
    t, se = np.where(off, arrays["t"], np.nan), arrays["se"]
    iu = [(a, b) for ai, a in enumerate(defined) for b in defined[ai + 1:]
          if np.isfinite(t[a, b]) and se[a, b] > 0]
    out = {"difference": np.where(off, arrays["estimate"], np.nan), "t": t, "ci_simultaneous": np.full((k, k, 2), np.nan),
           "p_adjusted": np.full((k, k), np.nan), "better": np.zeros((k, k), dtype=bool),
           "critical_value": np.nan, "dof": None, "n_pairs": len(iu), "level": level}
    if not iu:
        return _json(out)
    cov = _score_covariance(reps, n_sounds, n_listeners)
    contrasts = np.zeros((len(iu), k))
    for p, (a, b) in enumerate(iu):
        contrasts[p, a], contrasts[p, b] = 1.0, -1.0
    pair_cov = contrasts @ np.where(np.isfinite(cov), cov, 0.0) @ contrasts.T
    sd = np.sqrt(np.maximum(np.diag(pair_cov), 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(np.outer(sd, sd) > 0, pair_cov / np.outer(sd, sd), 0.0)
    np.fill_diagonal(corr, 1.0)
    dofs = np.array([arrays["dof"][a, b] for a, b in iu])
    dof = float(np.min(dofs)) if np.all(np.isfinite(dofs)) else (float(np.min(dofs[np.isfinite(dofs)]))
                                                                  if np.isfinite(dofs).any() else np.inf)
    draws = _max_abs_t(corr, dof)
    c = float(np.quantile(draws, level))
    for a, b in iu:
        p_adj = 1.0 - np.searchsorted(draws, abs(t[a, b]), side="left") / draws.size
        for i, j, sign in ((a, b, 1.0), (b, a, -1.0)):
            d = sign * arrays["estimate"][a, b]
            out["ci_simultaneous"][i, j] = [d - c * se[a, b], d + c * se[a, b]]
            out["p_adjusted"][i, j] = p_adj
            out["better"][i, j] = sign * t[a, b] > c
    out.update(critical_value=c, dof=None if not np.isfinite(dof) else round(dof, 1))
    return _json(out)


def pairwise_table(estimates, replicates, *, n_sounds=None, n_listeners=None, level=0.95, alpha=0.05,
                   test: str = "t") -> dict:
    """All k(k-1)/2 paired differences of k models, BH-corrected (Schütt et al. 2023; BH 1995).

    Per pair as `paired_difference` (rsatoolbox `extract_variances` + `t_tests` /
    `bootstrap_pair_tests`), with Benjamini-Hochberg FDR control across the pairs (a caller that makes
    claims over several tables corrects across them: `benjamini_hochberg` on the p-values).

    estimates `[k]`, replicates `[n_resamples, k]` (or `Splits` of `[n_resamples, n_splits, k]`, or a dual
    mapping of such), shared resamples. test: "t" (the t-test, default) or "bootstrap": which p-value
    the BH correction uses (the bootstrap p exists for plain replicates only).

    Returns `[k][k]` tables, entry [i][j] about model i minus model j (the diagonal None):
    difference, variance, se, ci (`[k][k][2]`, t-based), dof, p_value (t), ci_percentile, p_bootstrap,
    q_value (BH over the pairs i < j of the chosen test, mirrored), reject (q <= alpha; False on the
    diagonal); plus score: per-model statistics of the score itself (`contrast_statistics` keys:
    estimate, variance, se, ci, t, p_value against 0, ci_percentile, p_bootstrap, n_resamples, dof);
    n_resamples `[k][k]`; design, level, alpha, test, m (number of pairs).
    """
    if test not in ("t", "bootstrap"):
        raise ValueError(f"test must be 't' or 'bootstrap' (got {test!r})")
    est, reps = _estimates_and_reps(estimates, replicates)
    k = est.size
    diff_reps = _combine(lambda r: r[..., :, None] - r[..., None, :], reps)
    arrays = _contrast_arrays(est[:, None] - est[None, :], diff_reps, n_sounds, n_listeners, level)
    off = ~np.eye(k, dtype=bool)
    iu = np.triu_indices(k, 1)
    p_used = arrays["p_value"] if test == "t" else arrays["p_bootstrap"]
    q_upper = _bh_arrays(p_used[iu])
    q = np.full((k, k), np.nan)
    q[iu] = q_upper
    q[(iu[1], iu[0])] = q_upper
    table = {}
    for key in ("variance", "se", "t", "p_value", "p_bootstrap", "dof"):
        table[key] = np.where(off, arrays[key], np.nan)
    table["difference"] = np.where(off, arrays["estimate"], np.nan)
    for key in ("ci", "ci_percentile"):
        table[key] = np.where(off[..., None], arrays[key], np.nan)
    table["n_resamples"] = np.where(off, arrays["n_resamples"], 0)
    table["q_value"] = q
    table["reject"] = np.isfinite(q) & (q <= alpha)
    score = _contrast_json(_contrast_arrays(est, reps, n_sounds, n_listeners, level))
    out = _json({key: table[key] for key in ("difference", "variance", "se", "ci", "t", "p_value",
                                               "ci_percentile", "p_bootstrap", "q_value", "reject",
                                               "n_resamples")})
    out["dof"] = _dof_json(table["dof"])
    out.update(score=score, design=score["design"], level=float(level), alpha=float(alpha),
               test=test, m=int(np.isfinite(q_upper).sum()))
    return out


# ----------------------------------------------------------------------------------------------
# 3. Ranks with simultaneous rank intervals, and the set of the best

def average_ranks(x: np.ndarray, lower_is_better: bool) -> np.ndarray:
    """Average ranks along the last axis, 1 = best (ties share the mean of their ranks)."""
    from scipy.stats import rankdata

    return rankdata(x if lower_is_better else -x, method="average", axis=-1)


def rank_intervals(estimates, replicates, *, n_sounds=None, n_listeners=None, lower_is_better: bool = False,
                   level: float = 0.95, simultaneous: dict | None = None) -> dict:
    """Ranks (1 = best, ties averaged) with simultaneous rank intervals (Mogstad, Romano, Shaikh & Wilhelm
    2024, Rev. Econ. Stud. 91:476, "Inference for ranks").

    From the simultaneous intervals of every pairwise difference (`simultaneous_pairs`): model j's rank
    is at least 1 + the number of models significantly better than j, and at most the number of
    defined models less the number significantly worse. Because the pairwise intervals hold together
    with probability `level`, so do all the rank intervals: the true ranks lie in them at once (not
    one at a time, as percentile intervals of bootstrap ranks would say: Hall & Miller 2009 discuss
    why those undercover). Two intervals that do not overlap say that the ranks differ.

    estimates `[k]`, replicates `[n_resamples, k]`, `Splits` or a dual mapping; n_sounds, n_listeners as
    `paired_difference`. lower_is_better: for error rates (rank 1 = lowest). Models whose estimate is
    undefined get None and are left out of every ranking. simultaneous: `simultaneous_pairs`' result
    when the caller has it (same arguments).

    Returns: rank `[k]`; rank_interval `[k][2]`; share_best `[k]` (descriptive: the fraction of resamples
    in which the model is best, split replicates averaged over their splits; a tie counts 1/t);
    n_resamples; critical_value; lower_is_better; level; method.
    """
    level = _check_level(level)
    est, reps = _estimates_and_reps(estimates, replicates)
    sim = simultaneous if simultaneous is not None else simultaneous_pairs(
        est, reps, n_sounds=n_sounds, n_listeners=n_listeners, level=level)
    k = est.size
    defined = np.isfinite(est)
    rank = np.full(k, np.nan)
    interval = np.full((k, 2), np.nan)
    share = np.full(k, np.nan)
    better = np.array(sim["better"], dtype=bool)  # [i][j]: i significantly above j (higher score)
    above = better.T if lower_is_better else better  # [i][j]: i significantly better than j
    n_used = 0
    if defined.any():
        rank[defined] = average_ranks(est[defined], lower_is_better)
        n_def = int(defined.sum())
        for j in np.flatnonzero(defined):
            interval[j] = [1 + above[defined, j].sum(), n_def - above[j, defined].sum()]
        if reps.main.shape[1] > 1:  # a resample whose splits are all undefined stays NaN (and is left out below)
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                boot = np.nanmean(reps.main, axis=1)[:, defined]
        else:
            boot = reps.main[:, 0, defined]
        rows = np.all(np.isfinite(boot), axis=1)
        sub = boot[rows]
        n_used = int(sub.shape[0])
        if n_used:
            best = sub == (sub.min(axis=1) if lower_is_better else sub.max(axis=1))[:, None]
            share[defined] = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
    return _json({"rank": rank, "rank_interval": interval, "share_best": share, "n_resamples": n_used,
                  "critical_value": sim["critical_value"], "lower_is_better": bool(lower_is_better), "level": level,
                  "method": "simultaneous rank intervals (Mogstad et al. 2024) from single-step max-t intervals of "
                            "every pairwise difference"})


def best_set(estimates, replicates, *, n_sounds=None, n_listeners=None, alpha=0.05, lower_is_better: bool = False,
             simultaneous: dict | None = None) -> dict:
    """A confidence set for the best model: the models that no other model is significantly better than,
    at family-wise level alpha over all pairs (Mogstad et al. 2024: the models whose simultaneous rank
    interval includes 1).

    With probability at least 1 - alpha it holds every model that is truly best (all of them when
    several tie), whatever the others are: so when all models are equal it holds all of them with
    probability 1 - alpha, and a model left out is worse than some other model with that confidence.
    This is not the "best and those not separated from it": the best on these data is itself a noisy
    choice, and a set tested against it (with k - 1 corrected tests) is not a confidence set.

    Returns: best (index of the highest estimate, lowest with lower_is_better; None if nothing is
    defined); members (indices in the set, by estimate); in_group `[k]` bool; gap `[k]` (best's estimate
    minus the model's, lower_is_better: the reverse); beaten_by `[k]` (for a model left out, the model
    whose advantage over it is most significant; None otherwise); critical_value, dof; alpha;
    lower_is_better; method.
    """
    est, reps = _estimates_and_reps(estimates, replicates)
    sim = simultaneous if simultaneous is not None else simultaneous_pairs(
        est, reps, n_sounds=n_sounds, n_listeners=n_listeners, level=1.0 - alpha)
    k = est.size
    defined = np.isfinite(est)
    sign = -1.0 if lower_is_better else 1.0
    base = {"critical_value": sim["critical_value"], "dof": sim["dof"], "alpha": float(alpha),
            "lower_is_better": bool(lower_is_better),
            "method": "confidence set for the best: models no other model is significantly better than (single-step "
                      "max-t over all pairs; Mogstad et al. 2024)"}
    if not defined.any():
        return _json({"best": None, "members": [], "in_group": np.zeros(k, bool), "gap": np.full(k, np.nan),
                      "beaten_by": [None] * k, **base})
    better = np.array(sim["better"], dtype=bool)
    above = better.T if lower_is_better else better  # above[i][j]: i significantly better than j
    t = np.array(sim["t"], dtype=object)
    in_group = defined & ~above[:, :].any(axis=0)
    beaten_by = [None] * k
    for j in np.flatnonzero(defined & ~in_group):
        winners = np.flatnonzero(above[:, j])
        beaten_by[j] = int(max(winners, key=lambda i: abs(float(t[i][j])) if t[i][j] is not None else 0.0))
    best = int(np.nanargmax(sign * est))
    order = [int(i) for i in np.argsort(-sign * est, kind="stable") if in_group[i]]
    gap = np.where(defined, sign * (est[best] - est), np.nan)
    return _json({"best": best, "members": order, "in_group": in_group, "gap": gap, "beaten_by": beaten_by, **base})
