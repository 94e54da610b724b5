"""Measures of the timbre and sound-similarity literature on dissimilarity matrices.

Every measure compares a model's dissimilarity matrix with the human one, both square `[n, n]`
float arrays with rows and columns in the same sound order. The diagonal is ignored; a cell that
is not finite (NaN: a pair not rated) is missing, and every measure uses only the cells present
in *both* matrices. Row-wise (anchor-wise) measures read row i as the dissimilarities from anchor
i to the other sounds; global measures read the upper triangle (i < j). Matrices are assumed
symmetric and not checked (a published matrix may be asymmetric: then the row-wise measures use
it as given and the global ones its upper triangle). A measure that is undefined (too few pairs,
a constant side) is NaN, never an exception or a warning.

`MEASURES` names them for task files; `bootstrap_measure` resamples the sounds for an interval.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from audioprobe.registry import Registry


def _sps():
    """scipy.stats, imported when a measure runs (0.5 s: task files that name no measure never pay it)."""
    from scipy import stats

    return stats

#: Bytes the per-anchor difference blocks of `triplet_agreement` may occupy at once.
TRIPLET_CHUNK_BYTES = 16 * 2 ** 20

RANK_METHODS = ("spearman", "kendall")

#: Up to this many sounds, row-wise tau-b compares all pairs at once (O(n^3), vectorised); above,
#: one scipy call per anchor (O(n^2 log n)). The literature's matrices have 11-24 sounds.
KENDALL_VECTOR_MAX = 100


def _masked(model, human) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float64 copies with NaN wherever a cell is missing in either matrix or on the diagonal,
    and the `[n, n]` bool mask of the cells present in both."""
    m = np.array(model, dtype=np.float64)
    h = np.array(human, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"a dissimilarity matrix must be square [n, n], got shape {m.shape}")
    if h.shape != m.shape:
        raise ValueError(f"model and human matrices differ in shape: {m.shape} vs {h.shape}")
    present = np.isfinite(m) & np.isfinite(h)
    np.fill_diagonal(present, False)
    m[~present] = np.nan
    h[~present] = np.nan
    return m, h, present


def _row_extent(x: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row min and max over present cells (+inf / -inf for a row with none), warning-free."""
    return (np.where(present, x, np.inf).min(axis=1, initial=np.inf),
            np.where(present, x, -np.inf).max(axis=1, initial=-np.inf))


def _upper_present(model, human) -> tuple[np.ndarray, np.ndarray]:
    """The upper-triangle (i < j) cells present in both, as two aligned vectors."""
    m, h, present = _masked(model, human)
    i, j = np.triu_indices(m.shape[0], k=1)
    keep = present[i, j]
    return m[i, j][keep], h[i, j][keep]


def _mean_or_nan(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


# ---------------------------------------------------------------------------------------------
# Row-wise (anchor-wise) measures


def rowwise_rank_correlations(model, human, method: str = "spearman") -> np.ndarray:
    """`[n]` per-anchor rank correlations behind `rowwise_rank_correlation` (NaN where undefined)."""
    if method not in RANK_METHODS:
        raise ValueError(f"unknown rank correlation {method!r}; choose from {', '.join(RANK_METHODS)}")
    m, h, present = _masked(model, human)
    k = present.sum(axis=1)
    m_lo, m_hi = _row_extent(m, present)
    h_lo, h_hi = _row_extent(h, present)
    defined = (k >= 3) & (m_hi > m_lo) & (h_hi > h_lo)
    out = np.full(m.shape[0], np.nan)
    if not defined.any():
        return out
    if method == "kendall" and m.shape[0] > KENDALL_VECTOR_MAX:
        # tau-b per row (scipy's O(k log k) algorithm): O(n^2 log n) in all
        for i in np.flatnonzero(defined):
            row = present[i]
            out[i] = _sps().kendalltau(m[i, row], h[i, row]).statistic
        return out
    if method == "kendall":
        out[defined] = _kendall_rows(m[defined], h[defined], present[defined])
        return out
    # Spearman: Pearson r of mid-ranks over each row's present cells, all rows at once
    rm = _sps().rankdata(m[defined], axis=1, nan_policy="omit")
    rh = _sps().rankdata(h[defined], axis=1, nan_policy="omit")
    centre = ((k[defined] + 1) / 2.0)[:, None]  # the mean of mid-ranks 1..k
    rm = np.where(present[defined], rm - centre, 0.0)
    rh = np.where(present[defined], rh - centre, 0.0)
    num = np.einsum("ij,ij->i", rm, rh)
    den = np.sqrt(np.einsum("ij,ij->i", rm, rm) * np.einsum("ij,ij->i", rh, rh))
    out[defined] = np.clip(num / den, -1.0, 1.0)
    return out


def _kendall_rows(m: np.ndarray, h: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Tau-b of each row over its present cells from all ordered pairs at once: O(n^3), but for
    the small matrices of the literature (and their bootstrap) far faster than a loop of scipy
    calls. Concordant minus discordant = sum sign(dm) sign(dh) / 2; untied pairs = nonzero signs / 2."""
    m0, h0 = np.where(present, m, 0.0), np.where(present, h, 0.0)
    both = present[:, :, None] & present[:, None, :]
    sm = np.where(both, np.sign(m0[:, :, None] - m0[:, None, :]), 0.0)
    sh = np.where(both, np.sign(h0[:, :, None] - h0[:, None, :]), 0.0)
    num = np.einsum("ijk,ijk->i", sm, sh)
    untied_m = np.count_nonzero(sm, axis=(1, 2)).astype(np.float64)
    den = np.sqrt(untied_m * np.count_nonzero(sh, axis=(1, 2)))
    return np.clip(num / den, -1.0, 1.0)


def rowwise_rank_correlation(model, human, method: str = "spearman") -> float:
    """Row-wise rank correlation: per anchor i, Spearman's rho or Kendall's tau-b between the
    model's and the humans' dissimilarities from i to the other sounds, averaged over anchors.

    Asks whether a model ranks each sound's neighbours as listeners do, without requiring one
    scale shared by all anchors (listeners' ratings drift between anchors).
    Spearman (1904, Am. J. Psychol. 15(1)) with mid-ranks for ties; Kendall's tau-b with its tie
    correction (Kendall 1945, Biometrika 33(3); scipy.stats.kendalltau's default). An anchor counts when it has >= 3 present pairs
    and neither side is constant on them; NaN when no anchor does. Higher is better, in [-1, 1].
    """
    return _mean_or_nan(rowwise_rank_correlations(model, human, method))


def _triplet_sums(m: np.ndarray, h: np.ndarray, margin: float) -> tuple[float, float]:
    """(sum of agreement scores, number of kept triplets) over ordered pairs (j, k) per anchor,
    anchors in chunks; each unordered pair appears twice with the same score."""
    n = m.shape[0]
    chunk = max(1, TRIPLET_CHUNK_BYTES // max(1, 3 * 8 * n * n))
    score = kept = 0.0
    with np.errstate(invalid="ignore"):
        for start in range(0, n, chunk):
            mb, hb = m[start:start + chunk], h[start:start + chunk]
            dh = hb[:, :, None] - hb[:, None, :]  # NaN where j or k is missing or the anchor itself
            keep = np.abs(dh) > margin  # NaN compares False; j == k gives 0, never > margin >= 0
            dm = mb[:, :, None] - mb[:, None, :]
            agree = np.sign(dm[keep]) * np.sign(dh[keep])  # 1 same order, 0 model tie, -1 reversed
            kept += agree.size
            score += 0.5 * (agree.size + agree.sum())
    return score, kept


def triplet_agreement(model, human, margin: float = 0.0) -> float:
    """Fraction of anchor-centred triplets the model orders as humans do.

    For every anchor i and unordered pair {j, k} of other sounds (all four cells present in both
    matrices): does the model put d(i, j) and d(i, k) in the humans' order? The anchor-centred
    comparison a triadic similarity judgement asks of a listener ("is j or k closer to i?"),
    read off the matrices (triplet accuracy as a model-human measure: Hebart
    et al. 2020, Nat. Hum. Behav. 4(11)): an ordinal test that needs no common scale.
    Triplets whose human difference |h(i,j) - h(i,k)| <= margin are left out (humans do not
    order them reliably; margin=0 leaves out exact human ties); a model tie scores 1/2 (chance).
    Pooled over all kept triplets (anchors with more present pairs weigh more); NaN if none is
    kept. Higher is better, in [0, 1], 0.5 at chance.
    """
    if not margin >= 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    m, h, _ = _masked(model, human)
    score, kept = _triplet_sums(m, h, float(margin))
    return score / kept if kept else float("nan")


def _dcg_discounts(length: int, k: int | None) -> np.ndarray:
    """1 / log2(rank + 1) for ranks 1..length, 0 from rank k+1 on (Järvelin & Kekäläinen 2002)."""
    d = 1.0 / np.log2(np.arange(length) + 2.0)
    if k is not None:
        d[k:] = 0.0
    return d


def retrieval_ndcgs(model, human, k: int | None = None) -> np.ndarray:
    """`[n]` per-anchor NDCG@k behind `retrieval_ndcg` (NaN where undefined)."""
    if k is not None and (int(k) != k or k < 1):
        raise ValueError(f"k must be a positive integer or None, got {k!r}")
    k = None if k is None else int(k)
    m, h, present = _masked(model, human)
    n = m.shape[0]
    h_lo, h_hi = _row_extent(h, present)
    defined = h_hi > h_lo  # implies >= 2 present pairs
    out = np.full(n, np.nan)
    if not defined.any():
        return out
    m, h, present = m[defined], h[defined], present[defined]
    h_lo, h_hi = h_lo[defined, None], h_hi[defined, None]
    rows = m.shape[0]
    # relevance: most similar sound 1, least similar 0; missing cells 0 and ranked last (+inf)
    rel = np.where(present, 1.0 - (np.where(present, h, h_lo) - h_lo) / (h_hi - h_lo), 0.0)
    score = np.where(present, m, np.inf)
    disc = _dcg_discounts(n, k)
    ideal = (-np.sort(-rel, axis=1)) @ disc
    # DCG with tied model scores averaged over their orderings (McSherry & Najork 2008): each
    # tie group gets its mean relevance times the sum of the discounts at the ranks it occupies
    order = np.argsort(score, axis=1, kind="stable")
    s = np.take_along_axis(score, order, axis=1)
    r = np.take_along_axis(rel, order, axis=1)
    starts = np.ones_like(s, dtype=bool)
    starts[:, 1:] = s[:, 1:] != s[:, :-1]
    group = np.cumsum(starts.ravel()) - 1  # a new group at every row start too
    n_groups = group[-1] + 1
    rel_sum = np.bincount(group, weights=r.ravel(), minlength=n_groups)
    size = np.bincount(group, minlength=n_groups)
    disc_sum = np.bincount(group, weights=np.broadcast_to(disc, s.shape).ravel(), minlength=n_groups)
    row_of_group = np.repeat(np.arange(rows), starts.sum(axis=1))
    dcg = np.bincount(row_of_group, weights=rel_sum / size * disc_sum, minlength=rows)
    out[defined] = dcg / ideal
    return out


def retrieval_ndcg(model, human, k: int | None = None) -> float:
    """NDCG@k of similar-sound retrieval, averaged over anchors.

    Per anchor, the other sounds are ranked by model dissimilarity (most similar first) and
    scored by graded relevance: 1 minus the human dissimilarity min-max normalised within the
    anchor's row (the humans' most similar sound 1, least similar 0). Normalised discounted
    cumulative gain, linear gain and discount 1 / log2(rank + 1) over the first k ranks (all if
    None; Järvelin & Kekäläinen 2002, ACM TOIS 20(4)): rewards getting the nearest neighbours
    right, as a sound search engine must. Tied model dissimilarities are averaged over their
    orderings (McSherry & Najork 2008, ECIR), as `sklearn.metrics.ndcg_score` does. An anchor
    counts when its human row is not constant (>= 2 present pairs); NaN when none does. Higher
    is better, in [0, 1].
    """
    return _mean_or_nan(retrieval_ndcgs(model, human, k))


# ---------------------------------------------------------------------------------------------
# Global measures (upper triangle)


def kendall_tau_b(model, human) -> float:
    """Kendall's tau-b between the model's and the humans' dissimilarities over all pairs.

    The ordinal counterpart of RSA's correlation (Kendall 1945, Biometrika 33(3), tie-corrected;
    scipy.stats.kendalltau), over the upper-triangle pairs present in both. NaN with fewer than
    3 pairs or a constant side. Higher is better, in [-1, 1].
    """
    m, h = _upper_present(model, human)
    if m.size < 3 or m.min() == m.max() or h.min() == h.max():
        return float("nan")
    return float(_sps().kendalltau(m, h).statistic)


def normalised_mae(model, human) -> float:
    """Mean absolute error after min-max normalising each matrix's present pairs to [0, 1].

    The model's dissimilarities are put on the humans' scale by their own range alone (each
    matrix's smallest present dissimilarity 0, largest 1), then compared cell by cell over the
    upper-triangle pairs present in both: unlike the correlations, it penalises a model whose
    distances are compressed or bunched. Invariant to a positive affine change
    of either matrix.
    NaN with fewer than 2 pairs or a constant side. LOWER is better, in [0, 1].
    """
    m, h = _upper_present(model, human)
    if m.size < 2 or m.min() == m.max() or h.min() == h.max():
        return float("nan")
    mn = (m - m.min()) / (m.max() - m.min())
    hn = (h - h.min()) / (h.max() - h.min())
    return float(np.mean(np.abs(mn - hn)))


# ---------------------------------------------------------------------------------------------
# Bootstrap and names


def resample_matrix(matrix, counts) -> np.ndarray:
    """The bootstrap resample of a dissimilarity matrix: `M[idx][:, idx]` with
    idx = `np.repeat(arange(n), counts)`, cells pairing a sound with itself or its own copy NaN
    (their 0 is by construction, not data; as the RSA bootstrap in `pearson` excludes them)."""
    x = np.asarray(matrix, dtype=np.float64)
    idx = np.repeat(np.arange(x.shape[0]), np.asarray(counts, dtype=np.int64))
    out = x[np.ix_(idx, idx)]
    out[idx[:, None] == idx[None, :]] = np.nan
    return out


def bootstrap_measure(measure: Callable[..., float], model, human, counts, **kwargs) -> np.ndarray:
    """`[m]` replicates of a measure over bootstrap resamples of the sounds.

    counts `[m, n]` int: how often each sound is drawn in each resample (as from
    `resampling.bootstrap_counts`, so every measure and the RSA scores of a set can share one set of
    resamples). Both matrices are resampled the same way (`resample_matrix`) and the measure,
    with kwargs, is computed on each pair; a percentile interval is then
    `intervals.percentile_interval(replicates)`. Replicates where the measure is undefined are NaN.
    Each replicate is a full evaluation, so the cost is m times the measure's.
    """
    c = np.atleast_2d(np.asarray(counts, dtype=np.int64))
    n = np.shape(model)[0]
    if c.shape[1] != n:
        raise ValueError(f"counts have {c.shape[1]} columns for {n} sounds")
    if np.any(c < 0):
        raise ValueError("bootstrap counts must be >= 0")
    out = np.full(c.shape[0], np.nan)
    for b, w in enumerate(c):
        out[b] = measure(resample_matrix(model, w), resample_matrix(human, w), **kwargs)
    return out


def rdm_cka(model, human, debiased: bool = True) -> float:
    """CKA of two dissimilarity matrices through their double-centred forms -1/2 H (D o D) H
    (`cka.gram_from_rdm`; for Euclidean distances, linear CKA of the representations: Kornblith et al. 2019;
    debiased: Song et al. 2012's unbiased HSIC). The diagonal is read as 0 (a sound's distance to itself); NaN
    where a pair is missing on either side, with fewer than 3 sounds, or where every pair of a side is equally far
    (a constant side: no geometry to compare).
    Higher is better, 1 for the same geometry up to rotation and scale."""
    from audioprobe.metrics import cka

    m, h = _zero_diagonal(model), _zero_diagonal(human)
    if m.shape[0] < 3 or _constant_off_diagonal(m) or _constant_off_diagonal(h):
        return float("nan")
    return cka.cka_from_grams(cka.gram_from_rdm(m), cka.gram_from_rdm(h), debiased)


def _constant_off_diagonal(matrix: np.ndarray) -> bool:
    """Every pair equally far (a constant side: no geometry to compare, as the other measures say)."""
    cells = matrix[~np.eye(matrix.shape[0], dtype=bool)]
    return bool(cells.size) and bool(np.all(np.isfinite(cells))) and bool(cells.max() == cells.min())


def _zero_diagonal(matrix) -> np.ndarray:
    out = np.array(matrix, dtype=np.float64)
    if out.ndim != 2 or out.shape[0] != out.shape[1]:
        raise ValueError(f"a dissimilarity matrix must be square [n, n], got shape {out.shape}")
    np.fill_diagonal(out, 0.0)
    return out


def rdm_cka_under_weights(model, human, weights, debiased: bool = True) -> np.ndarray:
    """`[m]` `rdm_cka` under weights of the sounds (bootstrap counts): the double-centred forms of the full
    matrices reweighted (`cka.weighted_cka`), a copy of a sound never paired with itself (debiased) -- where
    `resample_matrix` would leave its pairs undefined and the double-centred form with them."""
    from audioprobe.metrics import cka

    m, h = _zero_diagonal(model), _zero_diagonal(human)
    if _constant_off_diagonal(m) or _constant_off_diagonal(h):
        return np.full(np.atleast_2d(weights).shape[0], np.nan)
    return cka.weighted_cka([cka.gram_from_rdm(m)], cka.gram_from_rdm(h), weights, debiased)[0]


class Measure(NamedTuple):
    """A model-human measure a task selects by name: func(model, human, **kwargs) -> float on square
    [n, n] distance matrices in the same sound order (NaN: a missing pair); lower_is_better for
    error-like measures; under_weights(model, human, weights `[m, n]`, **kwargs) -> `[m]`, where given, the
    measure on bootstrap resamples of the sounds from their counts (else `bootstrap_measure`)."""

    func: Callable[..., float]
    kwargs: dict
    lower_is_better: bool = False
    under_weights: Callable[..., np.ndarray] | None = None


def _check_measure(name: str, obj: object) -> str:
    return "" if isinstance(obj, Measure) else f"{obj!r} is not a Measure (harness/metrics/similarity.py)"


#: name -> Measure, so a task can select measures by name; plugins add theirs through the entry-point
#: group `audioprobe.measures` (NAME = "module:MEASURE_OBJECT"; harness/registry.py)
MEASURES: Registry[Measure] = Registry("measure", "audioprobe.measures", check=_check_measure)
MEASURES.add("rowwise_spearman", Measure(rowwise_rank_correlation, {"method": "spearman"}))
MEASURES.add("rowwise_kendall", Measure(rowwise_rank_correlation, {"method": "kendall"}))
MEASURES.add("triplet_agreement", Measure(triplet_agreement, {"margin": 0.0}))
MEASURES.add("ndcg", Measure(retrieval_ndcg, {"k": None}))
MEASURES.add("kendall_tau_b", Measure(kendall_tau_b, {}))
MEASURES.add("normalised_mae", Measure(normalised_mae, {}, lower_is_better=True))
MEASURES.add("cka", Measure(rdm_cka, {"debiased": True}, under_weights=rdm_cka_under_weights))
MEASURES.add("cka_biased", Measure(rdm_cka, {"debiased": False}, under_weights=rdm_cka_under_weights))
