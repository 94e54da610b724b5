"""Mantel permutation tests of RSA scores: permuted targets' correlations with each layer, by blocks of
permutations from shared sums (numpy; the numba kernels of `kernels.py` for large sets), and the
permutation p-value.
"""

from __future__ import annotations

import numpy as np

from audioprobe.metrics import geometry, kernels
from audioprobe.metrics.pearson import PERMUTATION_CHUNK_BYTES, standardised, standardised_present
from audioprobe.metrics.split_pearson import pearson_from_sums


def permuted_pearson(model_rdms: np.ndarray, target_rdm: np.ndarray, permutations: np.ndarray,
                     present: np.ndarray | None = None) -> np.ndarray:
    """Pearson r of each model RDM with the target RDM whose rows and columns are permuted together.

    The Mantel (1967) test statistic under each permutation of `[n_perm, n]`; -> `[n_perm, n_layers]`.
    One batch of permuted targets serves every layer; batches are chunked to bound memory.
    present `[n_pairs]` bool (None: all): the target's present pairs; the missing ones move with the
    permutation, and each permuted target is compared on the pairs present in it.
    """
    if present is not None:
        return _permuted_pearson_present(model_rdms, target_rdm, permutations, present)
    from scipy.spatial.distance import squareform  # scipy.spatial costs 0.3 s to import: only when used

    x = standardised(np.atleast_2d(model_rdms))
    y = standardised(target_rdm)
    perms = np.atleast_2d(permutations)
    n = perms.shape[1]
    if n >= kernels.MIN_SOUNDS and kernels.available():  # compiled gather-and-dot loop (kernels.py)
        return kernels.permuted_dots(squareform(y, checks=False), perms, x)
    flat_target = squareform(y, checks=False).ravel()
    # Tiled over permutations x pairs: a tile's permuted target values stay within
    # PERMUTATION_CHUNK_BYTES, and each pass over the model RDMs serves a whole chunk of
    # permutations (at 3,000 sounds one permutation at a time re-read 0.5 GB of model RDMs each:
    # 195 ms per permutation here). Small chunks of permutations keep the index arrays in cache
    # (64 permutations of 246 sounds measured ~2x faster than 256).
    out = np.zeros((perms.shape[0], x.shape[0]))
    for rows, cols, flat in _permuted_pair_tiles(perms, n):
        out[rows] += np.take(flat_target, flat) @ x[:, cols].T
    return out


def _permuted_pair_tiles(perms: np.ndarray, n: int):
    """Tiles (permutation rows, pair columns, `[chunk, block]` flat indices into the square target): the
    square-target position of each upper-triangle pair under each permutation of a chunk."""
    i, j = geometry._triu_indices(n)
    chunk = 64
    block = int(max(1, PERMUTATION_CHUNK_BYTES // (3 * 8 * chunk)))
    for start in range(0, perms.shape[0], chunk):
        p = perms[start:start + chunk]
        pn = p * n
        for s in range(0, i.size, block):
            flat = np.take(pn, i[s:s + block], axis=1)
            flat += np.take(p, j[s:s + block], axis=1)
            yield slice(start, start + chunk), slice(s, s + block), flat


def _permuted_pearson_present(model_rdms, target_rdm, permutations, present) -> np.ndarray:
    """`permuted_pearson` with missing target pairs. Under permutation p the present pairs P_p are
    the permuted mask's; y (standardised over its present pairs, 0 elsewhere) keeps its sums over
    P_p, so only the model's sums over P_p change: r = (S_xy - S_x S_y / N) / sqrt((S_xx - S_x^2 / N)
    (S_yy - S_y^2 / N)), N = |P| (a permutation keeps the count), S_x and S_xx from the permuted mask."""
    from scipy.spatial.distance import squareform

    present = np.asarray(present, dtype=bool)
    x = standardised(np.atleast_2d(model_rdms))
    y = standardised_present(target_rdm, present)
    perms = np.atleast_2d(permutations)
    n = perms.shape[1]
    flat_target = squareform(y, checks=False).ravel()
    flat_mask = squareform(present.astype(np.float64), checks=False).ravel()
    n_present = np.float64(present.sum())  # a numpy scalar: `~(sw > 0)` in _pearson_from_sums must be logical
    s_y, s_yy = y.sum(), (y * y).sum()
    xx = x * x
    s_xy, s_x, s_xx = (np.zeros((perms.shape[0], x.shape[0])) for _ in range(3))
    for rows, cols, flat in _permuted_pair_tiles(perms, n):
        mask = np.take(flat_mask, flat)
        s_xy[rows] += np.take(flat_target, flat) @ x[:, cols].T
        s_x[rows] += mask @ x[:, cols].T
        s_xx[rows] += mask @ xx[:, cols].T
    return pearson_from_sums(n_present, s_x, s_y, s_xx, s_yy, s_xy)


def permuted_spearman_present(model_rdms, target_rdm, permutations) -> np.ndarray:
    """Spearman rho of each model RDM with the permuted target, on the pairs present in each permuted
    target, both sides re-ranked per permutation: with missing pairs the model's ranks depend on which
    pairs the permutation leaves present, so the ranks of the whole set cannot be reused (they can for
    a complete target). One ranking of all layers per permutation."""
    from scipy.spatial.distance import squareform

    x = np.atleast_2d(np.asarray(model_rdms, dtype=np.float64))
    ysq = squareform(np.asarray(target_rdm, dtype=np.float64), checks=False)
    out = np.empty((len(permutations), x.shape[0]))
    for b, p in enumerate(np.atleast_2d(permutations)):
        y = geometry.upper_triangle(ysq[np.ix_(p, p)])
        keep = np.isfinite(y)
        out[b] = geometry.pearson_rows(geometry.rank_rows(x[:, keep]), geometry.rank_rows(y[keep]))
    return out


def permutation_p_value(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """One-sided p = (1 + #{null >= observed}) / (1 + n_perm) per column (Phipson & Smyth 2010)."""
    observed = np.asarray(observed, dtype=np.float64)
    null = np.atleast_2d(null)
    with np.errstate(invalid="ignore"):
        exceed = (null >= observed[None, :] - 1e-12).sum(axis=0)
    p = (1.0 + exceed) / (1.0 + null.shape[0])
    return np.where(np.isfinite(observed), p, np.nan)


def permuted_scores_loop(model_rdms, target_rdm, permutations, compare) -> np.ndarray:
    """Any comparison against row-and-column permuted targets, one permutation at a time (missing
    target pairs move with the permutation and are left out of each comparison)."""
    from scipy.spatial.distance import squareform  # scipy.spatial costs 0.3 s to import: only when used

    x = np.atleast_2d(model_rdms)
    ysq = squareform(np.asarray(target_rdm, dtype=np.float64), checks=False)
    out = np.empty((len(permutations), x.shape[0]))
    for b, p in enumerate(permutations):
        y = geometry.upper_triangle(ysq[np.ix_(p, p)])
        keep = np.isfinite(y)
        for layer, row in enumerate(x):
            out[b, layer] = compare(row, y) if keep.all() else compare(row[keep], y[keep])
    return out
