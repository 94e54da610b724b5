"""Paired inference on scores: from bootstrap replicates to claims (differences, tables, ranks).

Arrays in, plain JSON-friendly values out; nothing here sees a model, a task or a file. Follows
Schütt et al. (2023, eLife 12:e82566, "Statistical inference on representational geometries") as
implemented in rsatoolbox (`rsatoolbox.util.inference_util`, `rsatoolbox.inference.evaluate`);
the code is ours, the formulas are theirs (the tests check both on the same numbers).

**Replicates.** A score computed on all the data is the *estimate*; the same score recomputed on
resample b is replicate b. Paired inference needs *shared* resamples: row b of every replicate
array that is compared came from the same resample (of sounds, and of listeners where there are
any). Replicates are given in one of two designs:

- one factor: an array `[n_resamples, ...]` (e.g. sounds resampled with replacement; or sounds and
  listeners resampled together in one bootstrap, rsatoolbox's `eval_bootstrap`);
- two factors (the *dual bootstrap*, rsatoolbox's `eval_dual_bootstrap`): a mapping with keys
  `"both"` (sounds and listeners resampled), `"sounds"` (sounds only, every listener kept) and
  `"listeners"` (listeners only, every sound kept), each `[n_resamples, ...]`, row b of the three
  from the same draw of indices.

NaN marks a replicate that is undefined (a resample where the score cannot be computed); it is
dropped pairwise: for a contrast, the resamples where the contrast is defined are used (in the
dual design, those where all three kinds are defined, as rsatoolbox keeps `eval_ok` rows).

**Variance of a contrast** (a score, or a difference of scores formed replicate by replicate).
One factor: the variance over resamples (ddof 1, as `np.cov`) times n / (n - 1), n the number of
sampled units (rsatoolbox `_correct_1d`; n = min(n_sounds, n_listeners) when both are given and
the replicates come from one joint bootstrap, no correction when no n is given). Two factors
(Schütt et al. 2023, eq. for the dual bootstrap; rsatoolbox `_dual_bootstrap`), with v_b, v_s,
v_l the bootstrap variances of "both", "sounds", "listeners" and S, L the numbers of sounds and
listeners:

    v = L/(L-1) v_l + S/(S-1) v_s - S L/((S-1)(L-1)) (v_b - v_l - v_s)
    clipped to [max(L/(L-1) v_l, S/(S-1) v_s), v_b]

and, when S or L is not given, the large-sample form v = 2 (v_l + v_s) - v_b clipped to
[max(v_l, v_s), v_b]. The t-test uses t = estimate / sqrt(max(v, eps)) with
dof = min(given n) - 1 (rsatoolbox: `dof = min(n_rdm, n_cond) - 1`); with no n given the normal
distribution is used (dof infinite, reported as None).

**Conventions that differ from rsatoolbox**, on purpose: (1) the contrast's estimate is the score
on all the data, not the mean of the bootstrap replicates (rsatoolbox's `t_tests` take the mean of
`evaluations`); (2) p-values use the survival function, 2 sf(|t|), not 2 (1 - cdf(|t|)) (equal
to rounding, but exact for small p); (3) the bootstrap p-value drops undefined resamples, where
rsatoolbox counts them in the denominator; (4) when every replicate difference is exactly 0 the
bootstrap p-value is 1 (rsatoolbox: NaN).

Every returned value is a float, an int, a bool, None (undefined: never NaN) or a (nested) list
of those, so a caller can write it to JSON as it is.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from audioprobe.metrics import stats

from audioprobe.metrics.stats import percentile_interval

#: Keys of a dual-bootstrap replicate mapping: both factors, sounds only, listeners only.
DUAL_KEYS = ("both", "sounds", "listeners")


# ----------------------------------------------------------------------------------------------
# JSON-friendly output

def _json(x):
    """numpy values to float / int / bool / None (non-finite floats) / nested lists."""
    if isinstance(x, Mapping):
        return {k: _json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json(v) for v in x]
    if isinstance(x, np.ndarray):
        if x.ndim == 0:
            return _json(x.item())
        return [_json(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if np.isfinite(x) else None
    return x


def _float_array(x, name: str) -> np.ndarray:
    """An array of float64, with None read as NaN."""
    if x is None:
        raise ValueError(f"{name} is missing")
    arr = np.asarray(x, dtype=object if _has_none(x) else None)
    if arr.dtype == object:
        arr = np.where(arr == None, np.nan, arr)  # noqa: E711 (elementwise)
    return np.asarray(arr, dtype=np.float64)


def _has_none(x) -> bool:
    if x is None:
        return True
    if isinstance(x, (list, tuple)):
        return any(_has_none(v) for v in x)
    return False


# ----------------------------------------------------------------------------------------------
# Designs: one factor or the dual bootstrap

def _is_dual(replicates) -> bool:
    return isinstance(replicates, Mapping)


def _replicate_arrays(replicates, name: str = "replicates"):
    """(kind -> array) for a dual mapping, or the array itself; checks shapes."""
    if _is_dual(replicates):
        missing = [k for k in DUAL_KEYS if k not in replicates]
        extra = [k for k in replicates if k not in DUAL_KEYS]
        if missing or extra:
            raise ValueError(f"{name}: a dual-bootstrap mapping needs exactly the keys {list(DUAL_KEYS)}"
                             f" (missing {missing}, unknown {extra})")
        arrays = {k: _float_array(replicates[k], f"{name}[{k!r}]") for k in DUAL_KEYS}
        shapes = {a.shape for a in arrays.values()}
        if len(shapes) != 1:
            raise ValueError(f"{name}: 'both', 'sounds' and 'listeners' must have the same shape, got"
                             f" {[arrays[k].shape for k in DUAL_KEYS]}")
        if arrays["both"].ndim < 1:
            raise ValueError(f"{name}: replicates need a leading resample axis")
        return arrays
    arr = _float_array(replicates, name)
    if arr.ndim < 1:
        raise ValueError(f"{name}: replicates need a leading resample axis `[n_resamples, ...]`")
    return arr


def _combine(fn, *reps):
    """Apply fn to corresponding arrays of one or several replicate sets of the same design."""
    if any(_is_dual(r) for r in reps):
        if not all(_is_dual(r) for r in reps):
            raise ValueError("replicates mix the one-factor and the dual-bootstrap designs")
        return {k: fn(*(r[k] for r in reps)) for k in DUAL_KEYS}
    return fn(*reps)


def _paired_subtract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.shape != b.shape:
        raise ValueError(f"paired replicates must have the same shape (got {a.shape} and {b.shape})")
    return a - b


def _n_checked(n, name):
    if n is None:
        return None
    n = int(n)
    if n < 2:
        raise ValueError(f"{name} must be at least 2 (got {n})")
    return n


def _dof(n_sounds, n_listeners):
    """dof = min(given n) - 1 (rsatoolbox), inf when no n is given (normal distribution)."""
    given = [n for n in (n_sounds, n_listeners) if n is not None]
    return float(min(given) - 1) if given else np.inf


def _masked_variance(x: np.ndarray, valid: np.ndarray):
    """Variance (ddof 1) over axis 0 of the valid entries; NaN where fewer than 2. Also the count."""
    n = valid.sum(axis=0)
    xz = np.where(valid, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = xz.sum(axis=0) / n
        dev = np.where(valid, x - mean, 0.0)
        var = (dev * dev).sum(axis=0) / (n - 1)
    return np.where(n >= 2, var, np.nan), n


def _corrected_1d(variance, n_sounds=None, n_listeners=None):
    """One-factor small-sample correction v n / (n - 1), n = min(given n) (rsatoolbox `_correct_1d`).

    variance: any shape; n_sounds, n_listeners: the numbers of units that were resampled (None: not
    resampled or not known). Returns the corrected array (unchanged when no n is given).
    """
    given = [n for n in (n_sounds, n_listeners) if n is not None]
    v = np.asarray(variance, dtype=np.float64)
    if not given:
        return v
    n = min(given)
    return (n / (n - 1.0)) * v


def _dual_variance(v_both, v_sounds, v_listeners, n_sounds=None, n_listeners=None):
    """Dual-bootstrap variance of Schütt et al. (2023): `stats.dual_bootstrap_variance` (one place for
    the formula), called by keyword so that the three kinds cannot be passed in the wrong order."""
    return stats.dual_bootstrap_variance(v_both=v_both, v_listeners=v_listeners, v_sounds=v_sounds,
                                         n_listeners=n_listeners, n_sounds=n_sounds)


def _bootstrap_p(d: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Two-sided bootstrap p of d = 0 over axis 0 (rsatoolbox `bootstrap_pair_tests`):
    prop = #(d < 0) / (n - #(d = 0)); p = 2 min(prop, 1 - prop); p = (n - 1)/n p + 1/n."""
    n = valid.sum(axis=0).astype(np.float64)
    less = (valid & (d < 0)).sum(axis=0)
    ties = (valid & (d == 0)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        prop = less / (n - ties)
        p = 2.0 * np.minimum(prop, 1.0 - prop)
        p = (n - 1.0) / n * p + 1.0 / n
    p = np.where(n - ties == 0, 1.0, p)  # every difference exactly 0: no evidence either way
    return np.where(n >= 1, p, np.nan)


def _percentile(samples: np.ndarray, valid: np.ndarray, level: float) -> np.ndarray:
    """Percentile interval over axis 0 of the valid entries -> `[..., 2]` (stats.percentile_interval)."""
    shape = samples.shape[1:]
    flat = np.where(valid, samples, np.nan).reshape(samples.shape[0], -1)
    return percentile_interval(flat, level).reshape(*shape, 2)


def _check_level(level):
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1 (got {level})")
    return level


def _contrast_arrays(estimate, replicates, n_sounds=None, n_listeners=None, level=0.95) -> dict:
    """Array form of `contrast_statistics` (NaN for undefined); see there for the keys."""
    from scipy import stats as sstats  # scipy.stats costs ~0.3 s to import: only when used

    level = _check_level(level)
    n_sounds, n_listeners = _n_checked(n_sounds, "n_sounds"), _n_checked(n_listeners, "n_listeners")
    est = np.asarray(estimate, dtype=np.float64)
    if _is_dual(replicates):
        reps = {k: np.asarray(replicates[k], dtype=np.float64) for k in DUAL_KEYS}
        valid = np.isfinite(reps["both"]) & np.isfinite(reps["sounds"]) & np.isfinite(reps["listeners"])
        v = {k: _masked_variance(reps[k], valid)[0] for k in DUAL_KEYS}
        n_ok = valid.sum(axis=0)
        variance = _dual_variance(v["both"], v["sounds"], v["listeners"], n_sounds, n_listeners)
        boot = reps["both"]
        design = "dual"
    else:
        boot = np.asarray(replicates, dtype=np.float64)
        valid = np.isfinite(boot)
        raw, n_ok = _masked_variance(boot, valid)
        variance = _corrected_1d(raw, n_sounds, n_listeners)
        design = "one-factor"
    if boot.shape[1:] != est.shape:
        raise ValueError(f"replicates have shape {boot.shape} but the estimate has shape {est.shape};"
                         " expected replicates `[n_resamples, *estimate.shape]`")
    dof = _dof(n_sounds, n_listeners)
    variance = np.where(np.isfinite(est), variance, np.nan)
    se = np.sqrt(np.maximum(variance, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = est / np.sqrt(np.maximum(variance, np.finfo(float).eps))
    p = 2.0 * sstats.t.sf(np.abs(t), dof)
    q = sstats.t.ppf(0.5 + level / 2.0, dof)
    ci = np.stack([est - q * se, est + q * se], axis=-1)
    boot_valid = valid & np.isfinite(est)[None]
    return {
        "estimate": est, "variance": variance, "se": se, "dof": dof, "t": t, "p_value": p, "ci": ci,
        "ci_percentile": _percentile(boot, boot_valid, level), "p_bootstrap": _bootstrap_p(boot, boot_valid),
        "n_resamples": np.where(np.isfinite(est), n_ok, 0), "design": design, "level": level,
    }


def _contrast_json(arrays: dict, difference_key: str = "estimate") -> dict:
    out = {difference_key: arrays["estimate"]}
    for key in ("variance", "se", "ci", "t", "p_value", "ci_percentile", "p_bootstrap", "n_resamples"):
        out[key] = arrays[key]
    out["dof"] = None if not np.isfinite(arrays["dof"]) else int(arrays["dof"])
    out["design"] = arrays["design"]
    out["level"] = arrays["level"]
    return _json(out)


# ----------------------------------------------------------------------------------------------
# 1. One contrast, one paired difference

def contrast_statistics(estimate, replicates, *, n_sounds=None, n_listeners=None, level=0.95) -> dict:
    """Variance, t-test and bootstrap test of a score or contrast (Schütt et al. 2023; rsatoolbox).

    The variance is rsatoolbox's `extract_variances` (`_correct_1d` / `_dual_bootstrap`), the t-test
    its `t_tests`, the bootstrap p its `bootstrap_pair_tests`, applied to one quantity.

    estimate: the score or contrast on all the data (scalar or array, shape `S`); replicates:
    `[n_resamples, *S]` (one factor) or a mapping "both" / "sounds" / "listeners" of such arrays
    (dual bootstrap). n_sounds, n_listeners: the numbers of sampled units (give the ones that were
    resampled; both for the dual design's small-sample formula). Vectorised over `S`.

    Returns (each value of shape `S`, or `S + [2]` for intervals; None where undefined):
    estimate; variance (module docstring); se = sqrt(variance); t = estimate / se; p_value
    (two-sided t-test of 0, dof); ci (estimate -/+ t_{dof, (1+level)/2} se); ci_percentile
    (percentile interval of the replicates: of "both" in the dual design); p_bootstrap (two-sided
    bootstrap p of 0, rsatoolbox `bootstrap_pair_tests`); n_resamples (resamples used); dof (int,
    None for the normal distribution); design ("one-factor" or "dual"); level.
    """
    reps = _replicate_arrays(replicates)
    return _contrast_json(_contrast_arrays(_float_array(estimate, "estimate"), reps, n_sounds, n_listeners,
                                           level))


def paired_difference(estimate_a, estimate_b, replicates_a, replicates_b, *, n_sounds=None,
                      n_listeners=None, level=0.95) -> dict:
    """Paired a - b: variance of replicate differences, t and bootstrap tests (Schütt et al. 2023).

    Equal to rsatoolbox `extract_variances` on the pair's covariance, then `t_tests` and
    `bootstrap_pair_tests`.

    estimate_a, estimate_b: the two scores on all the data (scalars, or arrays of one shape `S` for
    many pairs at once); replicates_a, replicates_b: `[n_resamples, *S]` each, or dual-bootstrap
    mappings (module docstring), row b of both from the same resample. A resample where either is
    NaN is dropped.

    Returns the keys of `contrast_statistics`, with `difference` (a - b) in place of `estimate`.
    """
    ra, rb = _replicate_arrays(replicates_a, "replicates_a"), _replicate_arrays(replicates_b, "replicates_b")
    diff_reps = _combine(_paired_subtract, ra, rb)
    est = _float_array(estimate_a, "estimate_a") - _float_array(estimate_b, "estimate_b")
    arrays = _contrast_arrays(est, diff_reps, n_sounds, n_listeners, level)
    return _contrast_json(arrays, "difference")


# ----------------------------------------------------------------------------------------------
# 2. Benjamini-Hochberg and the table of all pairs

def _bh_numpy(p: np.ndarray) -> np.ndarray:
    """BH adjusted p of a 1-D array of finite p-values (fallback when scipy has no
    `false_discovery_control`): q_(i) = min_{j >= i} p_(j) m / j, capped at 1."""
    m = p.size
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


def _bh_arrays(p_values) -> np.ndarray:
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if not ok.any():
        return q
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    try:
        from scipy.stats import false_discovery_control  # scipy >= 1.11
    except ImportError:  # pragma: no cover (the installed scipy has it)
        q[ok] = _bh_numpy(p[ok])
    else:
        q[ok] = false_discovery_control(p[ok], method="bh")
    return q


def benjamini_hochberg(p_values, alpha: float = 0.05) -> dict:
    """BH q_(i) = min_{j>=i} m p_(j) / j and rejections q <= alpha (Benjamini & Hochberg 1995).

    Benjamini & Hochberg (1995, J. R. Stat. Soc. B 57:289); computed by scipy
    `false_discovery_control(method="bh")`; controls the false discovery rate at alpha.

    p_values: any shape; None / NaN entries are not tests (left out of m, q None, reject False).
    Returns: q_value (same shape), reject (bool, same shape), m (number of tests), alpha.
    """
    p = _float_array(p_values, "p_values")
    q = _bh_arrays(p)
    return _json({"q_value": q, "reject": np.isfinite(q) & (q <= alpha), "m": int(np.isfinite(p).sum()),
                  "alpha": float(alpha)})


def _estimates_and_reps(estimates, replicates):
    est = _float_array(estimates, "estimates")
    if est.ndim != 1:
        raise ValueError(f"estimates must be one value per model `[k]` (got shape {est.shape})")
    reps = _replicate_arrays(replicates)
    shape = (reps["both"] if _is_dual(reps) else reps).shape
    if len(shape) != 2 or shape[1] != est.size:
        raise ValueError(f"replicates must be `[n_resamples, {est.size}]` (one column per model), got {shape}")
    return est, reps


def pairwise_table(estimates, replicates, *, n_sounds=None, n_listeners=None, level=0.95, alpha=0.05,
                   test: str = "t") -> dict:
    """All k(k-1)/2 paired differences of k models, BH-corrected (Schütt et al. 2023; BH 1995).

    Per pair as `paired_difference` (rsatoolbox `extract_variances` + `t_tests` /
    `bootstrap_pair_tests`), with Benjamini-Hochberg FDR control across the pairs.

    estimates `[k]`, replicates `[n_resamples, k]` (or a dual mapping of such), shared resamples.
    test: "t" (the t-test, default) or "bootstrap": which p-value the BH correction uses.

    Returns `[k][k]` tables, entry [i][j] about model i minus model j (the diagonal None):
    difference, variance, se, ci (`[k][k][2]`, t-based), p_value (t), ci_percentile, p_bootstrap,
    q_value (BH over the pairs i < j of the chosen test, mirrored), reject (q <= alpha; False on the
    diagonal); plus score: per-model statistics of the score itself (`contrast_statistics` keys:
    estimate, variance, se, ci, t, p_value against 0, ci_percentile, p_bootstrap, n_resamples);
    n_resamples `[k][k]`; dof, design, level, alpha, test, m (number of pairs).
    """
    if test not in ("t", "bootstrap"):
        raise ValueError(f"test must be 't' or 'bootstrap' (got {test!r})")
    est, reps = _estimates_and_reps(estimates, replicates)
    k = est.size
    diff_reps = _combine(lambda r: r[:, :, None] - r[:, None, :], reps)
    arrays = _contrast_arrays(est[:, None] - est[None, :], diff_reps, n_sounds, n_listeners, level)
    off = ~np.eye(k, dtype=bool)
    iu = np.triu_indices(k, 1)
    p_used = arrays["p_value"] if test == "t" else arrays["p_bootstrap"]
    q_upper = _bh_arrays(p_used[iu])
    q = np.full((k, k), np.nan)
    q[iu] = q_upper
    q[(iu[1], iu[0])] = q_upper
    table = {}
    for key in ("variance", "se", "t", "p_value", "p_bootstrap"):
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
    out.update(score=score, dof=score["dof"], design=score["design"], level=float(level), alpha=float(alpha),
               test=test, m=int(np.isfinite(q_upper).sum()))
    return out


# ----------------------------------------------------------------------------------------------
# 3. Ranks with rank intervals

def _average_ranks(x: np.ndarray, lower_is_better: bool) -> np.ndarray:
    """Average ranks along the last axis, 1 = best (ties share the mean of their ranks)."""
    from scipy.stats import rankdata

    return rankdata(x if lower_is_better else -x, method="average", axis=-1)


def rank_intervals(estimates, replicates, *, lower_is_better: bool = False, level: float = 0.95) -> dict:
    """Ranks (1 = best, ties averaged) with percentile bootstrap rank intervals (Hall & Miller 2009).

    Percentile interval (Efron & Tibshirani 1993, ch. 13) of each model's rank over the replicates;
    Hall & Miller (2009, Ann. Stat. 37:3929, "Using the bootstrap to quantify the authority of an
    empirical ranking") discuss what such intervals mean.

    estimates `[k]`, replicates `[n_resamples, k]` or a dual mapping (its "both" replicates are
    used). lower_is_better: for error rates (rank 1 = lowest). Models whose estimate is undefined
    get None and are left out of every ranking; a resample where a ranked model is undefined is
    dropped. The interval's bounds are ranks that occurred (lower: numpy quantile method "lower",
    upper: "higher").

    Returns: rank `[k]`; rank_interval `[k][2]`; share_best `[k]` (fraction of resamples in which
    the model is best; a tie for best counts 1/t for each of the t tied models); n_resamples;
    lower_is_better; level.
    """
    level = _check_level(level)
    est, reps = _estimates_and_reps(estimates, replicates)
    boot = reps["both"] if _is_dual(reps) else reps
    k = est.size
    defined = np.isfinite(est)
    rank = np.full(k, np.nan)
    interval = np.full((k, 2), np.nan)
    share = np.full(k, np.nan)
    n_used = 0
    if defined.any():
        rank[defined] = _average_ranks(est[defined], lower_is_better)
        sub = boot[:, defined]
        rows = np.all(np.isfinite(sub), axis=1)
        sub = sub[rows]
        n_used = int(sub.shape[0])
        if n_used:
            r = _average_ranks(sub, lower_is_better)
            a = (1.0 - level) / 2.0
            interval[defined, 0] = np.quantile(r, a, axis=0, method="lower")
            interval[defined, 1] = np.quantile(r, 1.0 - a, axis=0, method="higher")
            best = sub == (sub.min(axis=1) if lower_is_better else sub.max(axis=1))[:, None]
            share[defined] = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
    return _json({"rank": rank, "rank_interval": interval, "share_best": share, "n_resamples": n_used,
                  "lower_is_better": bool(lower_is_better), "level": level})


# ----------------------------------------------------------------------------------------------
# 4. Models the data do not separate from the best

def indistinguishable_from_best(estimates, replicates, *, n_sounds=None, n_listeners=None, alpha=0.05,
                                lower_is_better: bool = False, test: str = "t", level: float = 0.95) -> dict:
    """Best model plus those not separated from it: paired tests vs best, BH over k - 1 (Schütt 2023).

    Every model whose paired difference from the best (`paired_difference`, Schütt et al. 2023) is
    not significant after Benjamini-Hochberg correction (1995) over the k - 1 comparisons.

    This is the set of models that the data do NOT separate from the best at FDR alpha: not a
    proof that they are equal (absence of evidence; a small stimulus set gives a large group), and
    the best is itself chosen on the same data (which favours finding differences from it slightly).
    The best is the model with the highest estimate (lowest with lower_is_better; the first index
    on a tie); models with an undefined estimate are left out.

    estimates `[k]`, replicates `[n_resamples, k]` or a dual mapping; test "t" or "bootstrap".
    Returns: best (index, None if nothing is defined); members (indices in the group, best first,
    then by estimate); in_group `[k]` bool; gap `[k]` (how much worse than the best, in score
    units: best - model, or model - best when lower is better; 0 for the best); gap_ci `[k][2]`
    (t-based), p_value `[k]` (the chosen test's p of gap = 0; None for the best), q_value `[k]`
    (BH over the k - 1 comparisons); alpha, test, lower_is_better, dof, design.
    """
    if test not in ("t", "bootstrap"):
        raise ValueError(f"test must be 't' or 'bootstrap' (got {test!r})")
    est, reps = _estimates_and_reps(estimates, replicates)
    k = est.size
    defined = np.isfinite(est)
    nan_k = np.full(k, np.nan)
    if not defined.any():
        return _json({"best": None, "members": [], "in_group": np.zeros(k, bool), "gap": nan_k,
                      "gap_ci": np.full((k, 2), np.nan), "p_value": nan_k, "q_value": nan_k,
                      "alpha": float(alpha), "test": test, "lower_is_better": bool(lower_is_better),
                      "dof": None, "design": "dual" if _is_dual(reps) else "one-factor"})
    sign = -1.0 if lower_is_better else 1.0
    best = int(np.nanargmax(sign * est))
    gap_reps = _combine(lambda r: sign * (r[:, [best]] - r), reps)
    arrays = _contrast_arrays(sign * (est[best] - est), gap_reps, n_sounds, n_listeners, level)
    p = arrays["p_value"] if test == "t" else arrays["p_bootstrap"]
    others = defined & (np.arange(k) != best)
    p = np.where(others, p, np.nan)
    q = _bh_arrays(p)
    in_group = np.zeros(k, dtype=bool)
    in_group[best] = True
    in_group |= others & ~(q <= alpha)  # not rejected (an undefined q is not a rejection)
    order = [i for i in np.argsort(-sign * est, kind="stable") if in_group[i] and i != best]
    gap = np.where(defined, arrays["estimate"], np.nan)
    return _json({"best": best, "members": [best, *order], "in_group": in_group, "gap": gap,
                  "gap_ci": np.where(defined[:, None], arrays["ci"], np.nan), "p_value": p, "q_value": q,
                  "alpha": float(alpha), "test": test, "lower_is_better": bool(lower_is_better),
                  "dof": None if not np.isfinite(arrays["dof"]) else int(arrays["dof"]),
                  "design": arrays["design"]})


# ----------------------------------------------------------------------------------------------
# 5. Contrast within one result set (per layer and headline)

def layer_contrast(scores_a, scores_b, replicates_a, replicates_b, *, headline_a=None, headline_b=None,
                   headline_replicates_a=None, headline_replicates_b=None, n_sounds=None, n_listeners=None,
                   level=0.95, alpha=0.05, test: str = "t") -> dict:
    """Paired a - b per layer and for the headline, BH across layers (Schütt et al. 2023; BH 1995).

    Per layer as `paired_difference` on shared resamples, with Benjamini-Hochberg correction across
    the layers; the headline contrast is tested alone.

    For a perceived vs a physical target, transfer vs the no-transfer baseline, partial vs raw
    RSA, a model vs its control: a and b come from the same resamples. scores_a, scores_b `[L]`;
    replicates_a, replicates_b `[n_resamples, L]` (or dual mappings); headline_*: the headline
    scores (floats) and their replicates `[n_resamples]` (optional: give all four or none).

    Returns: layers: the `paired_difference` keys as `[L]` lists (difference, variance, se, ci, t,
    p_value, ci_percentile, p_bootstrap, n_resamples, dof, design, level) plus q_value `[L]` (BH
    across the layers of the chosen test's p) and reject `[L]` (q <= alpha); headline: the
    `paired_difference` keys for the headline contrast, or None; alpha; test.
    """
    if test not in ("t", "bootstrap"):
        raise ValueError(f"test must be 't' or 'bootstrap' (got {test!r})")
    sa, sb = _float_array(scores_a, "scores_a"), _float_array(scores_b, "scores_b")
    if sa.ndim != 1 or sa.shape != sb.shape:
        raise ValueError(f"scores_a and scores_b must be `[n_layers]` of one length (got {sa.shape}, {sb.shape})")
    ra, rb = _replicate_arrays(replicates_a, "replicates_a"), _replicate_arrays(replicates_b, "replicates_b")
    arrays = _contrast_arrays(sa - sb, _combine(_paired_subtract, ra, rb), n_sounds, n_listeners, level)
    q = _bh_arrays(arrays["p_value"] if test == "t" else arrays["p_bootstrap"])
    layers = _contrast_json(arrays, "difference")
    layers["q_value"] = _json(q)
    layers["reject"] = _json(np.isfinite(q) & (q <= alpha))
    heads = (headline_a, headline_b, headline_replicates_a, headline_replicates_b)
    headline = None
    if any(h is not None for h in heads):
        if headline_replicates_a is None or headline_replicates_b is None:
            raise ValueError("the headline contrast needs headline_replicates_a and headline_replicates_b")
        if headline_a is None or headline_b is None:  # an undefined headline score: the contrast is undefined
            headline_a = np.nan if headline_a is None else headline_a
            headline_b = np.nan if headline_b is None else headline_b
        headline = paired_difference(headline_a, headline_b, headline_replicates_a, headline_replicates_b,
                                     n_sounds=n_sounds, n_listeners=n_listeners, level=level)
    return {"layers": layers, "headline": headline, "alpha": float(alpha), "test": test}


# ----------------------------------------------------------------------------------------------
# 6. Depth trend

def _spearman_with_index(x: np.ndarray) -> np.ndarray:
    """Spearman rho of each row of x `[m, L]` with 0..L-1 over its finite entries (at least 3)."""
    from scipy.stats import rankdata

    x = np.atleast_2d(x)
    out = np.full(x.shape[0], np.nan)
    full = np.all(np.isfinite(x), axis=1)

    def rho(rows: np.ndarray, index: np.ndarray) -> np.ndarray:
        r = rankdata(rows, method="average", axis=1)
        r = r - r.mean(axis=1, keepdims=True)
        i = rankdata(index) - rankdata(index).mean()
        with np.errstate(invalid="ignore", divide="ignore"):
            val = (r @ i) / np.sqrt((r * r).sum(axis=1) * (i @ i))
        return np.where((r * r).sum(axis=1) > 0, val, np.nan)

    if x.shape[1] >= 3 and full.any():
        out[full] = rho(x[full], np.arange(x.shape[1], dtype=np.float64))
    for m in np.flatnonzero(~full):
        ok = np.isfinite(x[m])
        if ok.sum() >= 3:
            out[m] = rho(x[m, ok][None], np.flatnonzero(ok).astype(np.float64))[0]
    return out


def depth_trend(scores, replicates, *, level: float = 0.95) -> dict:
    """Spearman rho of score with layer index 0..L-1 (Spearman 1904), bootstrap interval and p.

    The interval is the percentile bootstrap (Efron & Tibshirani 1993, ch. 13) of each replicate's
    rho; the two-sided p of rho = 0 is the rsatoolbox `bootstrap_pair_tests` formula on those rhos.

    scores `[L]` (per-layer scores on all the data), replicates `[n_resamples, L]` or a dual
    mapping ("both" is used): each replicate's per-layer scores give one rho. Undefined layers are
    left out (rho over the defined layers, at least 3). rho is undefined when the scores are all
    equal. A positive rho: scores rise with depth.

    Returns: rho; ci [2]; p_bootstrap; n_resamples (replicates with a defined rho); n_layers.
    """
    level = _check_level(level)
    s = _float_array(scores, "scores")
    if s.ndim != 1:
        raise ValueError(f"scores must be `[n_layers]` (got shape {s.shape})")
    reps = _replicate_arrays(replicates)
    boot = reps["both"] if _is_dual(reps) else reps
    if boot.ndim != 2 or boot.shape[1] != s.size:
        raise ValueError(f"replicates must be `[n_resamples, {s.size}]`, got {boot.shape}")
    rho = _spearman_with_index(s)[0]
    rho_b = _spearman_with_index(boot)
    valid = np.isfinite(rho_b) & np.isfinite(rho)
    return _json({"rho": rho, "ci": _percentile(rho_b, valid, level), "p_bootstrap": _bootstrap_p(rho_b, valid),
                  "n_resamples": int(valid.sum()), "n_layers": int(s.size)})


# ----------------------------------------------------------------------------------------------
# 7. Ceiling-normalised score

def ceiling_normalised(score, ceiling_lower, ceiling_upper) -> dict:
    """score / ceiling for each bound of the noise ceiling: a descriptive ratio (Schrimpf et al. 2018).

    As Brain-Score normalises by a ceiling (Schrimpf et al. 2018, bioRxiv 407007): the fraction of
    the alignment that the human data allow.

    This is a descriptive ratio of point estimates, not a test: it carries no uncertainty, it is
    undefined (None) when a bound is not positive or not given, and it can exceed 1 (a score may
    pass the lower bound; see docs/metrics.md on reading ceilings). A ceiling near 0 makes the ratio
    meaningless even where it is defined. Scalars or arrays of one shape.

    Returns: of_lower (score / ceiling_lower: the larger fraction), of_upper (score /
    ceiling_upper).
    """
    s = _float_array(score, "score")
    out = {}
    for key, bound in (("of_lower", ceiling_lower), ("of_upper", ceiling_upper)):
        c = np.full(s.shape, np.nan) if bound is None else _float_array(bound, key)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[key] = np.where(c > 0, s / np.where(c > 0, c, 1.0), np.nan)
    return _json(out)
