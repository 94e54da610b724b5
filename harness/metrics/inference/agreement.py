"""Do the measures agree? The models of one target ranked by several alignment measures (RSA Pearson, RSA
Spearman, CKA, an encoding model...): Kendall's W of the measures, their pairwise Kendall tau, intervals of both
from shared replicates, and the verdict on each claim "model i is better than model j" across the measures.

Inputs, for one target: `scores` `[k_measures, n_models]` (each measure's headline score of each model; NaN or
None: missing), optionally `replicates` `[n_resamples, k_measures, n_models]` (the same scores recomputed on
resamples shared by every measure and model: row b of every measure and model from the same resample of sounds,
and of sources where there are any), and `lower_is_better` `[k]` (a measure that is an error rate: its order of
models is reversed, so that rank 1 is the best model under every measure). Outputs are JSON-friendly (floats,
ints, bools, None for undefined, never NaN), as in the rest of the package.
"""

from __future__ import annotations

import numpy as np

from audioprobe.metrics.inference.multiplicity import _bh_arrays
from audioprobe.metrics.inference.paired import _check_level, _float_array, _json
from audioprobe.metrics.intervals import percentile_interval

#: The verdicts of `claims_across_measures` on a claim "model i is better than model j".
VERDICTS = ("holds under every measure", "depends on the measure", "holds under no measure")


# ----------------------------------------------------------------------------------------------
# Inputs

def _scores_array(scores) -> np.ndarray:
    x = _float_array(scores, "scores")
    if x.ndim != 2:
        raise ValueError(f"scores must be `[k_measures, n_models]` (got shape {x.shape})")
    return x


def _orientation(lower_is_better, k: int) -> np.ndarray:
    """`[k]` signs: +1 for a measure where higher is better, -1 for an error rate (lower is better)."""
    if lower_is_better is None:
        return np.ones(k)
    flags = np.asarray(lower_is_better, dtype=bool)
    if flags.ndim == 0:
        flags = np.full(k, bool(flags))
    if flags.shape != (k,):
        raise ValueError(f"lower_is_better must be one bool per measure `[{k}]` (got shape {flags.shape})")
    return np.where(flags, -1.0, 1.0)


def _replicates_array(replicates, shape: tuple[int, int]) -> np.ndarray:
    if isinstance(replicates, dict) or hasattr(replicates, "cv_splits"):
        raise ValueError("replicates must be a plain array `[n_resamples, k_measures, n_models]` (one bootstrap "
                         "shared by every measure and model)")
    r = _float_array(replicates, "replicates")
    if r.ndim != 3 or r.shape[1:] != shape:
        raise ValueError(f"replicates must be `[n_resamples, {shape[0]}, {shape[1]}]` (got shape {r.shape})")
    return r


# ----------------------------------------------------------------------------------------------
# Kendall's W, vectorised

def _w_arrays(x: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """Kendall's W of `x` `[..., k, m]` (k judges, m objects, all finite) with the tie correction -> `[...]`
    (NaN where k < 2, m < 2 or the denominator is 0: every judge ties every object).

    Ranks: average ranks, 1 = best (`sign` `[k]`: +1 higher is better, -1 lower is better). The tie term
    T = sum over judges and tie groups of t^3 - t comes from the ranks themselves: with average ranks a judge's
    sum of squared ranks is m(m+1)(2m+1)/6 - (its sum of t^3 - t)/12 (a tie group of t consecutive ranks loses
    t (t^2 - 1)/12 to its mean). Ranks are multiples of 1/2, so S and T are exact in float64."""
    from scipy.stats import rankdata

    k, m = x.shape[-2], x.shape[-1]
    if k < 2 or m < 2:
        return np.full(x.shape[:-2], np.nan)
    ranks = rankdata(-sign[:, None] * x, axis=-1)  # rank 1 = best
    rank_sums = ranks.sum(axis=-2)  # [..., m]
    s = np.sum((rank_sums - k * (m + 1) / 2.0) ** 2, axis=-1)
    ties = np.rint(12.0 * (k * m * (m + 1) * (2 * m + 1) / 6.0 - np.sum(ranks ** 2, axis=(-2, -1))))
    denominator = k * k * (m ** 3 - m) - k * ties
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 12.0 * s / np.where(denominator > 0, denominator, 1.0), np.nan)


def kendalls_w(scores, lower_is_better=None) -> float | None:
    """Kendall's coefficient of concordance W of k measures (the "judges") over n models (the "objects").

    Each measure ranks the models (average ranks for ties; rank 1 = the best model, so an error rate with
    `lower_is_better` ranks its lowest score first); with R_j the sum of model j's ranks over the measures,
    S = sum_j (R_j - k (n + 1)/2)^2 and

        W = 12 S / (k^2 (n^3 - n) - k T),   T = sum over measures, over their tie groups of size t, of t^3 - t

    (Kendall & Babington Smith 1939, Ann. Math. Stat. 10(3):275; the tie correction: Kendall 1948, "Rank
    correlation methods"). W = 1 when every measure orders the models alike, 0 when the rank sums are all
    equal (e.g. two measures in exactly reverse order); W = chi2_F / (k (n - 1)) for Friedman's chi2_F with
    the models as treatments and the measures as blocks.

    scores `[k_measures, n_models]` (NaN / None: missing); lower_is_better: one bool per measure (or one bool
    for all; default: higher is better everywhere). A model missing under any measure is left out (W compares
    the measures on the same models). Returns W, or None when fewer than 2 measures or 2 models remain, or
    when every measure ties every model (the denominator is 0).
    """
    x = _scores_array(scores)
    sign = _orientation(lower_is_better, x.shape[0])
    used = np.all(np.isfinite(x), axis=0)
    return _json(_w_arrays(x[:, used], sign))


# ----------------------------------------------------------------------------------------------
# Pairwise Kendall tau-b

def _tau_b_rows(xa: np.ndarray, xb: np.ndarray, chunk_elements: int = 4_000_000) -> np.ndarray:
    """Kendall's tau-b of the rows of xa and xb `[B, m]` -> `[B]` (NaN where a row has a NaN, m < 2 or a row
    is constant). tau-b is the cosine of the two sign vectors over the pairs of objects: sum sx sy over
    sqrt(sum sx^2 sum sy^2), sum sx^2 being the pairs not tied in x (Kendall 1945, Biometrika 33:239)."""
    b, m = xa.shape
    out = np.full(b, np.nan)
    if m < 2:
        return out
    i, j = np.triu_indices(m, 1)
    step = max(1, chunk_elements // i.size)
    for start in range(0, b, step):
        a_rows, b_rows = xa[start:start + step], xb[start:start + step]
        sx, sy = np.sign(a_rows[:, i] - a_rows[:, j]), np.sign(b_rows[:, i] - b_rows[:, j])
        denominator = np.sqrt(np.sum(sx * sx, axis=1) * np.sum(sy * sy, axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:start + step] = np.where(denominator > 0, np.sum(sx * sy, axis=1) / denominator, np.nan)
    return out


def _tau_matrix(x: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """`[k, k]` sign-adjusted Kendall tau-b (scipy) over the models defined under both measures (NaN: undefined)."""
    from scipy.stats import kendalltau

    k = x.shape[0]
    tau = np.full((k, k), np.nan)
    for a in range(k):
        for b in range(a, k):
            both = np.isfinite(x[a]) & np.isfinite(x[b])
            xa, xb = x[a, both], x[b, both]
            if both.sum() < 2 or np.all(xa == xa[0]) or np.all(xb == xb[0]):
                continue  # tau-b needs two models and a measure that does not tie them all
            tau[a, b] = tau[b, a] = 1.0 if a == b else sign[a] * sign[b] * kendalltau(xa, xb).statistic
    return tau


def pairwise_rank_agreement(scores, lower_is_better=None) -> list[list[float | None]]:
    """Kendall's tau-b between every two measures over the models (scipy `kendalltau`, variant "b": ties
    corrected; Kendall 1945, Biometrika 33:239), sign-adjusted for `lower_is_better` so that +1 means the same
    order of models from best to worst and -1 the reverse order.

    scores `[k_measures, n_models]` (NaN / None: missing); each pair of measures uses the models defined under
    both (pairwise deletion; `kendalls_w` uses the models defined under every measure). Returns `[k][k]`
    (symmetric; the diagonal 1), None where fewer than 2 models are shared or a measure ties all of them.
    """
    x = _scores_array(scores)
    return _json(_tau_matrix(x, _orientation(lower_is_better, x.shape[0])))


# ----------------------------------------------------------------------------------------------
# Concordance with intervals from shared replicates

def concordance(scores, replicates=None, lower_is_better=None, level=0.95) -> dict:
    """Kendall's W of the measures and their pairwise Kendall tau, with percentile intervals from replicates on
    resamples shared by every measure and model.

    scores `[k_measures, n_models]`; replicates `[n_resamples, k_measures, n_models]` (optional; row b of every
    measure and model from the same resample); lower_is_better `[k]` bools; level of the intervals.

    W is computed on the models defined under every measure in `scores` (`kendalls_w`), and in every resample
    on the same models: a resample where one of them is NaN under some measure leaves W undefined there and is
    dropped (counted out of `n_resamples_used`). Likewise each tau uses the models its pair of measures shares in
    `scores`, and a resample where one of those is NaN is dropped for that pair.

    Returns: w (None: undefined); w_ci [lo, hi], the percentile interval of W over the usable resamples (None
    without replicates, without a usable resample, or when w is None); n_resamples_used (0 without replicates); pairwise_tau
    `[k][k]` (`pairwise_rank_agreement`); pairwise_tau_ci `[k][k]` of [lo, hi] (None without replicates; an entry
    None where its tau is None or no resample defines it); pairwise_n_resamples `[k][k]` (None without replicates); n_models (used
    by W); n_measures; lower_is_better `[k]`; level; method.
    """
    level = _check_level(level)
    x = _scores_array(scores)
    k, n = x.shape
    sign = _orientation(lower_is_better, k)
    used = np.all(np.isfinite(x), axis=0)
    w = _w_arrays(x[:, used], sign)
    tau = _tau_matrix(x, sign)
    out = {"w": w, "w_ci": None, "n_resamples_used": 0, "pairwise_tau": tau, "pairwise_tau_ci": None,
           "pairwise_n_resamples": None, "n_models": int(used.sum()), "n_measures": int(k),
           "lower_is_better": sign < 0, "level": level,
           "method": "Kendall's coefficient of concordance W of the measures over the models (average ranks, tie "
                     "corrected; Kendall & Babington Smith 1939) and Kendall's tau-b of every two measures, signed "
                     "so that +1 is the same order from best to worst; intervals: percentile bootstrap over the "
                     "resamples (of sounds, and of sources where there are any) shared by every measure and model, "
                     "undefined resamples dropped"}
    if replicates is None:
        return _json(out)
    reps = _replicates_array(replicates, (k, n))
    sub = reps[:, :, used]
    ok = np.all(np.isfinite(sub), axis=(1, 2))
    w_reps = np.full(reps.shape[0], np.nan)
    if ok.any():
        w_reps[ok] = _w_arrays(sub[ok], sign)
    valid = np.isfinite(w_reps)
    out["n_resamples_used"] = int(valid.sum())
    if valid.any() and np.isfinite(w):
        out["w_ci"] = percentile_interval(w_reps[valid][:, None], level)[0]
    tau_ci = [[None] * k for _ in range(k)]
    tau_n = np.zeros((k, k), dtype=int)
    for a in range(k):
        for b in range(a, k):
            if not np.isfinite(tau[a, b]):
                continue
            both = np.isfinite(x[a]) & np.isfinite(x[b])
            t = sign[a] * sign[b] * _tau_b_rows(reps[:, a, both], reps[:, b, both])
            good = np.isfinite(t)
            tau_n[a, b] = tau_n[b, a] = int(good.sum())
            if good.any():
                tau_ci[a][b] = tau_ci[b][a] = percentile_interval(t[good][:, None], level)[0]
    out["pairwise_tau_ci"] = tau_ci
    out["pairwise_n_resamples"] = tau_n
    return _json(out)


# ----------------------------------------------------------------------------------------------
# Claims that hold under every measure: the intersection-union test

def _symmetric_fill(a: np.ndarray, sign: float, name: str) -> np.ndarray:
    """Fill NaN entries [m, i, j] from sign * [m, j, i]; raise where both are given and disagree."""
    t = sign * np.swapaxes(a, 1, 2)
    both = np.isfinite(a) & np.isfinite(t) & ~np.eye(a.shape[1], dtype=bool)  # the diagonal is never used
    if not np.allclose(a[both], t[both], rtol=1e-9, atol=1e-12):
        kind = "symmetric (one two-sided p per pair)" if sign > 0 else "antisymmetric (d[i, j] = -d[j, i])"
        raise ValueError(f"{name} must be {kind} in every measure")
    return np.where(np.isfinite(a), a, t)


def claims_across_measures(p_values, differences, alpha=0.05, correct_pairs: bool = False) -> list[list[str | None]]:
    """The verdict on every claim "model i is better than model j" across k measures (`VERDICTS`).

    p_values `[k, n, n]`: each measure's two-sided paired-test p-value of each pair (e.g. `pairwise_table`'s
    p_value; None / NaN: not tested); differences `[k, n, n]`: each measure's score_i - score_j, already
    oriented so that positive means i better (the caller flips an error rate's differences). Entries given on
    one side of the diagonal only are mirrored (p symmetric, differences antisymmetric).

    Measure m supports "i over j" when its difference is positive and its two-sided p is below alpha: the
    decision each measure's own table makes (a significant difference, read in its direction), so that a claim
    about two equal models is made in either direction with probability alpha. The verdict on [i][j] is

    - "holds under every measure": every measure supports it. This is the intersection-union test (Berger 1982,
      Technometrics 24(4):295; Berger & Hsu 1996, Stat. Sci. 11(4):283): it rejects "i is not better than j
      under some measure" only when every measure's test rejects, so the claim that i beats j under all the
      measures holds at the level of one measure's test (alpha/2 in its direction) with no correction for the
      number of measures;
    - "depends on the measure": at least one measure supports it but not every one (another measure's
      difference has the other sign, or is not significant, or is undefined);
    - "holds under no measure": no measure supports it;
    - None on the diagonal and where no measure has both a p-value and a difference.

    Multiplicity over the model pairs: without `correct_pairs` nothing is corrected (pass p-values already
    corrected as the tables are, e.g. their Benjamini-Hochberg q-values). With `correct_pairs=True`, each
    measure's p-values are replaced by Benjamini-Hochberg adjusted ones (Benjamini & Hochberg 1995) over its
    tested pairs i < j before the rule above.

    Returns `[n][n]` verdicts (strings of `VERDICTS`, or None).
    """
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1 (got {alpha})")
    p = _float_array(p_values, "p_values")
    d = _float_array(differences, "differences")
    if p.ndim != 3 or p.shape[1] != p.shape[2]:
        raise ValueError(f"p_values must be `[k_measures, n_models, n_models]` (got shape {p.shape})")
    if d.shape != p.shape:
        raise ValueError(f"differences must have the shape of p_values {p.shape} (got {d.shape})")
    ok = np.isfinite(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    p, d = _symmetric_fill(p, 1.0, "p_values"), _symmetric_fill(d, -1.0, "differences")
    k, n, _ = p.shape
    if correct_pairs and n > 1:
        iu = np.triu_indices(n, 1)
        for m in range(k):
            q = np.full((n, n), np.nan)
            q[iu] = _bh_arrays(p[m][iu])
            q[(iu[1], iu[0])] = q[iu]
            p[m] = np.where(np.eye(n, dtype=bool), p[m], q)
    tested = np.isfinite(p) & np.isfinite(d)
    supports = tested & (d > 0) & (p < alpha)  # the measure's own two-sided decision, in its direction
    n_support = supports.sum(axis=0)
    verdict = np.where(n_support == k, VERDICTS[0], np.where(n_support > 0, VERDICTS[1], VERDICTS[2]))
    undefined = ~tested.any(axis=0) | np.eye(n, dtype=bool)
    return [[None if undefined[i, j] else str(verdict[i, j]) for j in range(n)] for i in range(n)]
