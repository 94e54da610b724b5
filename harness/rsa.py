"""Representational similarity analysis on arrays.

RDMs are kept in condensed form: the upper triangle (i < j) in row-major order, the order of
`scipy.spatial.distance.pdist`. Functions take arrays and return arrays; none sees a model.
"""

from __future__ import annotations

import numpy as np


def upper_triangle(square: np.ndarray) -> np.ndarray:
    """Condensed vector (i < j, row-major) of a square matrix."""
    n = square.shape[0]
    i, j = np.triu_indices(n, k=1)
    return square[i, j]


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


def pearson_rows(model_rdms: np.ndarray, target_rdm: np.ndarray) -> np.ndarray:
    """Pearson r between each row of `[n_layers, n_pairs]` and a target `[n_pairs]`."""
    x = np.atleast_2d(np.asarray(model_rdms, dtype=np.float64))
    y = np.asarray(target_rdm, dtype=np.float64)
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc @ yc) / (np.linalg.norm(xc, axis=1) * np.linalg.norm(yc))
