"""Representational similarity analysis on arrays.

RDMs are kept in condensed form: the upper triangle (i < j) in row-major order, the order of
`scipy.spatial.distance.pdist`. Functions take arrays and return arrays; none sees a model.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import numpy as np

from audioprobe.registry import Registry


@functools.lru_cache(maxsize=8)
def _triu_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(n, k=1)
    i.flags.writeable = False
    j.flags.writeable = False
    return i, j


@functools.lru_cache(maxsize=8)
def _triu_flat(n: int) -> np.ndarray:
    i, j = _triu_indices(n)
    flat = i * n + j
    flat.flags.writeable = False
    return flat


def upper_triangle(square: np.ndarray) -> np.ndarray:
    """Condensed vector (i < j, row-major) of a square matrix (one flat gather: about twice as fast
    as indexing with (i, j), which mattered for the thousands of targets of a two-factor bootstrap)."""
    square = np.asarray(square)
    n = square.shape[0]
    return np.take(square.reshape(n * square.shape[1]) if square.flags.c_contiguous else square.ravel(),
                   _triu_flat(n))


def cosine_rdm(features: np.ndarray) -> np.ndarray:
    """1 - cosine similarity between every pair of rows (Bost et al. 2024, experiment 1).

    Computed in float64. A row of zeros has no direction: its distances are NaN, as in scipy.
    """
    x = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = x / norms[:, None]
    sim = unit @ unit.T
    return upper_triangle(1.0 - sim)


def response_distributions(counts: np.ndarray, smoothing: float) -> np.ndarray:
    """Per-sound response distributions from counts `[n_sounds, n_categories]` with additive smoothing."""
    c = np.asarray(counts, dtype=np.float64) + smoothing
    total = c.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("a sound has no responses and smoothing is 0: its distribution is undefined")
    return c / total


def symmetric_kl_rdm(counts: np.ndarray, smoothing: float = 0.5) -> np.ndarray:
    """KL(p||q) + KL(q||p) between the smoothed response distributions of every pair of sounds.

    Bost et al. (2024), experiment 1: distance between two sounds' distributions of listener
    responses on one dimension. Sum over categories of (p - q)(log p - log q), which equals the
    symmetric KL and needs no pairwise loop. Requires smoothing > 0 when a count can be 0.
    """
    p = response_distributions(counts, smoothing)
    if np.any(p == 0):
        raise ValueError("symmetric KL needs smoothing > 0 when some category has zero responses")
    logp = np.log(p)
    # sum_k (p_ik - p_jk)(log p_ik - log p_jk) = a_i + a_j - p_i.logp_j - p_j.logp_i
    self_term = np.einsum("ik,ik->i", p, logp)
    cross = p @ logp.T
    full = self_term[:, None] + self_term[None, :] - cross - cross.T
    return upper_triangle(full)


def symmetric_kl_factors(counts: np.ndarray, smoothing: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(A, B), `[n, 2k + 2]` each, with A @ B.T the square form of `symmetric_kl_rdm` (zero diagonal).

    The symmetric KL matrix is a_i + a_j - p_i.logp_j - p_j.logp_i: rank at most 2k + 2 for k
    categories. Sums over its pairs then cost O(n k^2), not O(n^2) (`pearson.factored_pearson`), which
    makes the noise ceiling's hundreds of split-half targets cheap on large sets.
    """
    p = response_distributions(counts, smoothing)
    if np.any(p == 0):
        raise ValueError("symmetric KL needs smoothing > 0 when some category has zero responses")
    logp = np.log(p)
    self_term = np.einsum("ik,ik->i", p, logp)[:, None]
    ones = np.ones_like(self_term)
    return np.hstack([self_term, ones, -p, -logp]), np.hstack([ones, self_term, logp, p])


def modal_factors(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) with A @ B.T = 1 - u u^T, the square form of `modal_rdm` off the diagonal (its diagonal,
    1 - |u_i|^2, is not 0 for a tied sound: `pearson.factored_pearson` leaves the diagonal out)."""
    u = modal_indicators(counts)
    ones = np.ones((u.shape[0], 1))
    return np.hstack([ones, -u]), np.hstack([ones, u])


def pearson_rows(model_rdms: np.ndarray, target_rdm: np.ndarray) -> np.ndarray:
    """Pearson r between each row of `[n_layers, n_pairs]` and a target `[n_pairs]`."""
    x = np.atleast_2d(np.asarray(model_rdms, dtype=np.float64))
    y = np.asarray(target_rdm, dtype=np.float64)
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc @ yc) / (np.linalg.norm(xc, axis=1) * np.linalg.norm(yc))


# ---------------------------------------------------------------------------------------------
# Model RDMs. Gram-matrix forms (BLAS) rather than scipy's pdist, whose C loop is ~50x slower at
# 3,000 sounds x 768 dimensions; tests check every one against pdist.

MODEL_DISTANCES = ("cosine", "correlation", "euclidean", "centred_cosine")


def correlation_rdm(features: np.ndarray) -> np.ndarray:
    """1 - Pearson r between every pair of rows (scipy's `correlation` distance)."""
    x = np.asarray(features, dtype=np.float64)
    return cosine_rdm(x - x.mean(axis=1, keepdims=True))


def centred_cosine_rdm(features: np.ndarray) -> np.ndarray:
    """Cosine distance after centring each feature across the stimulus set (column means removed).

    Removes the component shared by all sounds, which leaves raw cosine nearly blind for
    log-spectral features and transformer activations.
    """
    x = np.asarray(features, dtype=np.float64)
    return cosine_rdm(x - x.mean(axis=0, keepdims=True))


def euclidean_rdm(features: np.ndarray) -> np.ndarray:
    """Euclidean distance between every pair of rows, from the Gram matrix (clipped at 0)."""
    x = np.asarray(features, dtype=np.float64)
    x = x - x.mean(axis=0, keepdims=True)  # translation-invariant; centring reduces cancellation
    sq = np.einsum("ij,ij->i", x, x)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    return np.sqrt(np.maximum(upper_triangle(d2), 0.0))


def model_rdm(features: np.ndarray, distance: str) -> np.ndarray:
    """Condensed RDM of `[n_sounds, dim]` features under one of MODEL_DISTANCES."""
    funcs = {"cosine": cosine_rdm, "correlation": correlation_rdm, "euclidean": euclidean_rdm,
             "centred_cosine": centred_cosine_rdm}
    if distance not in funcs:
        raise ValueError(f"unknown model distance {distance!r}; choose from {', '.join(MODEL_DISTANCES)}")
    return funcs[distance](features)


# ---------------------------------------------------------------------------------------------
# Target RDMs from human responses or labels


def jensen_shannon_rdm(counts: np.ndarray, smoothing: float = 0.5) -> np.ndarray:
    """Jensen-Shannon divergence (natural log) between the response distributions of every pair.

    JS(p, q) = KL(p || m)/2 + KL(q || m)/2 with m = (p + q)/2 (Lin 1991, eq. 4.1); bounded by
    log 2 and defined for empty categories, so smoothing may be 0. Equals the square of scipy's
    `jensenshannon` distance. Computed over condensed pairs, one category at a time (memory: pairs).
    """
    p = response_distributions(counts, smoothing)
    from scipy.special import rel_entr

    i, j = _triu_indices(p.shape[0])
    out = np.zeros(i.size)
    for k in range(p.shape[1]):
        a, b = p[i, k], p[j, k]
        m = 0.5 * (a + b)
        out += 0.5 * (rel_entr(a, m) + rel_entr(b, m))
    return out


def modal_indicators(counts: np.ndarray) -> np.ndarray:
    """`[n_sounds, n_categories]`: 1/|M_i| on each of sound i's modal categories M_i, else 0."""
    c = np.asarray(counts)
    top = c == c.max(axis=1, keepdims=True)
    return top / top.sum(axis=1, keepdims=True)


def modal_rdm(counts: np.ndarray) -> np.ndarray:
    """0/1 distance between the modal responses of two sounds (Bost et al. 2024, figure 1B).

    A sound whose top count is tied between categories has no single modal response; its
    distance is the probability that the two modal responses differ when ties are broken
    uniformly at random: 1 - u_i . u_j with u from `modal_indicators`. Exactly 0/1 without ties.
    """
    u = modal_indicators(counts)
    return upper_triangle(1.0 - u @ u.T)


def label_rdm(labels) -> np.ndarray:
    """0/1 distance between physical labels: 1 where two sounds' labels differ (figure 1B)."""
    codes = np.unique(np.asarray(labels, dtype=str), return_inverse=True)[1]
    return upper_triangle((codes[:, None] != codes[None, :]).astype(np.float64))


def square_rdm(matrix: np.ndarray) -> np.ndarray:
    """Condensed RDM of a given dissimilarity matrix; an asymmetric one is symmetrised (M + M^T)/2."""
    m = np.asarray(matrix, dtype=np.float64)
    return upper_triangle(0.5 * (m + m.T))


# ---------------------------------------------------------------------------------------------
# Comparisons of condensed RDMs

@dataclasses.dataclass(frozen=True)
class Comparison:
    """One way to compare two condensed RDMs (an RSA task's `comparison`). Without `pair`, it is a Pearson
    correlation, of the values or (`ranks`) of their average ranks among the pairs present, and the Pearson
    engine computes every statistic of it in closed form; with `pair` (x, y -> float), every resample and
    permutation calls it once per layer (slow, for comparisons with no product form)."""

    label: str  # its name in words: a profile's y axis
    ranks: bool = False
    pair: Callable[[np.ndarray, np.ndarray], float] | None = None

    @property
    def linear(self) -> bool:
        """True when the Pearson engine computes it (on ranks when `ranks`)."""
        return self.pair is None


def _check_comparison(name: str, obj) -> str:
    if not isinstance(obj, Comparison):
        return f"{obj!r} is not a Comparison (audioprobe.metrics.geometry)"
    return "" if obj.linear or callable(obj.pair) else "its pair is not a function (x, y) -> float"


#: comparison name -> Comparison; plugins add more (entry-point group `audioprobe.comparisons`, NAME =
#: "module:COMPARISON", a Comparison with a `pair` function)
COMPARISONS: Registry[Comparison] = Registry("comparison", "audioprobe.comparisons", check=_check_comparison)


def rank_rows(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank) along the last axis."""
    from scipy.stats import rankdata

    return rankdata(np.asarray(x, dtype=np.float64), axis=-1)


def spearman_rows(model_rdms: np.ndarray, target_rdm: np.ndarray) -> np.ndarray:
    """Spearman rho (Pearson r of average ranks) between each row and the target."""
    return pearson_rows(rank_rows(np.atleast_2d(model_rdms)), rank_rows(target_rdm))


def _tied_pairs(x: np.ndarray) -> int:
    _, counts = np.unique(x, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def kendall_tau_a(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-a: (concordant - discordant) / (n(n-1)/2), ties in the denominator (Kendall 1938).

    Nili et al. (2014) recommend it for RDMs with tied entries (0/1 RDMs). From scipy's tau-b
    (O(n log n)): tau_a = tau_b * sqrt((n0 - t_x)(n0 - t_y)) / n0, t = pairs tied in x, in y.
    """
    from scipy.stats import kendalltau

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n0 = x.size * (x.size - 1) // 2
    if n0 == 0:
        return float("nan")
    tx, ty = _tied_pairs(x), _tied_pairs(y)
    if tx == n0 or ty == n0:
        return 0.0  # a constant vector: no pair is concordant or discordant
    tau_b = kendalltau(x, y, variant="b").statistic
    return float(tau_b * np.sqrt(float(n0 - tx) * float(n0 - ty)) / n0)


COMPARISONS.add("pearson", Comparison("Pearson"), "Pearson r of the dissimilarities")
COMPARISONS.add("spearman", Comparison("Spearman", ranks=True), "Spearman rho: Pearson r of their average ranks")
COMPARISONS.add("kendall_tau_a", Comparison("Kendall's tau-a", pair=kendall_tau_a),
                "Kendall's tau-a, ties in the denominator (Nili et al. 2014: for RDMs with tied entries)")


def compare_rows(model_rdms: np.ndarray, target_rdm: np.ndarray, method: str) -> np.ndarray:
    """Each row of `[n_layers, n_pairs]` compared with the target by one of COMPARISONS."""
    x = np.atleast_2d(np.asarray(model_rdms, dtype=np.float64))
    comparison = COMPARISONS[method]
    if not comparison.linear:
        return np.array([comparison.pair(row, target_rdm) for row in x])
    return spearman_rows(x, target_rdm) if comparison.ranks else pearson_rows(x, target_rdm)


def residualise(model_rdms: np.ndarray, control_rdm: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """Residuals of each model RDM after least-squares regression on a control RDM and an intercept.

    Bost et al. (2024), appendix B: model distances regressed on spectrogram distances; the
    residuals are then compared with the human RDM (a semi-partial correlation). present `[n_pairs]`
    bool (None: all): the pairs the human RDM has; the regression is fitted on those alone (so the
    residuals are uncorrelated with the control on the pairs compared) and applied to every pair.
    """
    x = np.atleast_2d(np.asarray(model_rdms, dtype=np.float64))
    c = np.asarray(control_rdm, dtype=np.float64)
    if present is not None:
        cc = c - c[present].mean()
        xc = x - x[:, present].mean(axis=1, keepdims=True)
        denom = cc[present] @ cc[present]
        slope = (xc[:, present] @ cc[present]) / denom if denom > 0 else np.zeros(x.shape[0])
        return xc - slope[:, None] * cc[None, :]
    cc = c - c.mean()
    xc = x - x.mean(axis=1, keepdims=True)
    denom = cc @ cc
    slope = (xc @ cc) / denom if denom > 0 else np.zeros(x.shape[0])
    return xc - slope[:, None] * cc[None, :]
