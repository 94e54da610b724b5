"""The Pearson engine: a correlation over sound pairs from sums that are quadratic forms of the counts.

Conventions. A condensed RDM is the upper triangle (i < j, row-major) of an `[n, n]` matrix, as in
`geometry.py`. A bootstrap resample of n sounds is a vector of counts c (how often each sound was
drawn). The resampled RDM holds every pair of drawn copies of two *different* sounds, so pair
(i, j) appears c_i c_j times; a sound paired with its own copy is excluded (its distance is 0 by
construction, not data), exactly as rsatoolbox's `subsample_pattern` marks those cells NaN. Every
sum a Pearson r needs over the resampled pairs is then a quadratic form
`sum_{i<j} c_i c_j a_ij = c^T A c / 2` (A the square form with zero diagonal), so a batch of
resamples costs a few matrix products and memory grows with the pairs, not pairs x resamples.

Missing pairs. A target RDM may hold NaN where a pair was not rated (a published matrix with
empty cells). Every statistic then uses only the pairs present: with M the 0/1 square mask of the
present pairs, the pair count is `c^T M c / 2` instead of `((sum c)^2 - sum c^2) / 2` and the
model and target values are set to 0 on the missing pairs, so every other sum skips them; a
resampled pair (i, j) whose cell is missing is left out, however often i and j were drawn. A
complete target takes the original code path unchanged (the same numbers).

These are the numpy implementations of the products a backend provides (`backends.py`); the torch
backend (`backend_torch.py`) shares the helpers here (`standardised`, `standardised_present`,
`single_pair`).
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from audioprobe.metrics import geometry
from audioprobe.metrics.split_pearson import VARIANCE_FLOOR, pearson_from_sums

#: Bytes a batch of permuted target RDMs may occupy (chunking keeps memory ~ pairs).
PERMUTATION_CHUNK_BYTES = 32 * 2 ** 20

#: Bytes of per-resample target RDMs a two-factor bootstrap holds at once (a chunk of resamples).
TARGET_CHUNK_BYTES = 64 * 2 ** 20


def standardised(v: np.ndarray) -> np.ndarray:
    """Centre and scale to unit norm along the last axis (a correlation is unchanged; sums of
    squares then carry no cancellation error)."""
    v = np.asarray(v, dtype=np.float64)
    v = v - v.mean(axis=-1, keepdims=True)  # a new array: scaled in place below (one 0.5 GB copy at 3,000 sounds)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        v /= norm
    return v


def standardised_present(v: np.ndarray, present: np.ndarray | None) -> np.ndarray:
    """`standardised` over the present pairs only, 0 on the missing ones (so that they add nothing to
    any sum); present None: every pair, `standardised` itself."""
    if present is None:
        return standardised(v)
    v = np.asarray(v, dtype=np.float64)
    out = np.zeros(v.shape)
    out[..., present] = standardised(v[..., present])
    return out


def weighted_pearson(model_rdms: np.ndarray, target_rdm: np.ndarray, weights: np.ndarray,
                     present: np.ndarray | None = None) -> np.ndarray:
    """Pearson r over pairs i<j weighted by w_i w_j, for each weight vector and each model RDM.

    model_rdms `[n_layers, n_pairs]`, target `[n_pairs]`, weights `[m, n]` (bootstrap counts, or
    0/1 membership of a subset of sounds) -> `[m, n_layers]`. With counts c this is the Pearson r
    of the bootstrap-resampled RDMs (module docstring); with 0/1 weights, r on a subset's pairs.
    present `[n_pairs]` bool: only those pairs count (missing pairs; None: all).
    """
    return weighted_pearson_blocks(model_rdms, target_rdm, [np.asarray(weights, dtype=np.float64)], present)[0]


def weighted_pearson_blocks(model_rdms, target_rdm, blocks, present=None):
    """Like `weighted_pearson` for several weight blocks W_1..W_k `[m, n]` at once.

    Returns one `[m, n_layers]` array per block and, last, the one for the sum of the blocks
    (computed from the same products: sum_k W_k @ A). With W_1 = c*h and W_2 = c*(1-h) this gives
    both halves of a split of a bootstrap resample and the whole resample for the cost of two.
    present `[n_pairs]` bool (None: all pairs): the pairs that count (module docstring, "Missing pairs").
    """
    from scipy.spatial.distance import squareform  # scipy.spatial costs 0.3 s to import: only when used

    x = standardised_present(np.atleast_2d(model_rdms), present)
    y = standardised_present(target_rdm, present)
    blocks = [np.asarray(b, dtype=np.float64) for b in blocks]
    total = np.sum(blocks, axis=0)
    ws = blocks + [total]

    def sw(w):  # sum over pairs of w_i w_j, self-pairs excluded
        return 0.5 * (w.sum(axis=1) ** 2 - (w * w).sum(axis=1))

    n = blocks[0].shape[1]
    # Buffers reused by every layer: at 3,000 sounds each square is 72 MB, and allocating them afresh
    # per layer cost seconds of page faults (system time), not arithmetic
    square_buffers = np.zeros((n, 3, n))  # [X | X o X | X o Y] side by side, row by row
    layer_products = [np.empty((b.shape[0], 3 * n)) for b in blocks]

    ysq = squareform(y, checks=False)
    if present is None:
        s_w = [sw(w) for w in ws]
        s_y, s_yy = _block_quadratic_forms(blocks, ysq, ysq * ysq)
        few_pairs = [single_pair(w) for w in ws]
    else:
        msq = squareform(np.asarray(present, dtype=np.float64), checks=False)
        s_w, s_y, s_yy = _block_quadratic_forms(blocks, msq, ysq, ysq * ysq)
        few_pairs = [single_pair(w, msq) for w in ws]
    results = [np.empty((w.shape[0], x.shape[0])) for w in ws]
    i, j = geometry._triu_indices(n)
    xsq = square_buffers[:, 0, :]  # its diagonal stays 0: the square form of a condensed RDM
    for layer, row in enumerate(x):
        xsq[i, j] = row
        xsq[j, i] = row
        np.multiply(xsq, xsq, out=square_buffers[:, 1, :])
        np.multiply(xsq, ysq, out=square_buffers[:, 2, :])
        s_x, s_xx, s_xy = _block_quadratic_forms(blocks, stacked=square_buffers.reshape(n, 3 * n), out=layer_products)
        for k in range(len(ws)):
            r = pearson_from_sums(s_w[k], s_x[k], s_y[k], s_xx[k], s_yy[k], s_xy[k])
            results[k][:, layer] = np.where(few_pairs[k], np.nan, r)
    return results


def _block_quadratic_forms(blocks, *squares, stacked=None, out=None):
    """0.5 w^T A w for each square A `[n, n]` and each weight row w: per block, then for the blocks' sum.

    The squares side by side (`stacked` `[n, k n]`, or concatenated here) cost one matrix product per
    block; the sum's forms come from the same products (no product with the summed weights).
    out: one `[m, k n]` buffer per block for those products. Returns, per square, the forms of each
    block and, last, of their sum (`[m]` each).
    """
    n = blocks[0].shape[1]
    if stacked is None:
        stacked = np.concatenate(squares, axis=1) if len(squares) > 1 else squares[0]
    k = stacked.shape[1] // n
    products = [np.matmul(b, stacked, out=None if out is None else out[q]).reshape(b.shape[0], k, n)
                for q, b in enumerate(blocks)]  # one product per block
    per = [0.5 * np.einsum("mn,mkn->km", b, g) for b, g in zip(blocks, products)]
    # (sum_k w_k)^T A (sum_k w_k) = sum_k w_k^T A w_k + 2 sum_{k<l} w_l^T A w_k (A symmetric)
    whole = sum(per)
    for k1 in range(len(blocks)):
        for k2 in range(k1 + 1, len(blocks)):
            whole = whole + np.einsum("mn,mkn->km", blocks[k2], products[k1])
    return [[p[s] for p in per] + [whole[s]] for s in range(k)]


def single_pair(w: np.ndarray, mask_square: np.ndarray | None = None) -> np.ndarray:
    """`[m]` True where weights w hold at most one distinct pair (fewer than 3 distinct sounds; with
    a square 0/1 mask of present pairs, fewer than 2 distinct present pairs among the drawn sounds):
    no correlation (the sums would give a rounding artefact, not NaN)."""
    if mask_square is None:
        return np.count_nonzero(w, axis=1) < 3
    drawn = (np.atleast_2d(w) != 0).astype(np.float64)
    return 0.5 * np.einsum("mn,mn->m", drawn @ mask_square, drawn) < 2


def paired_rows(a: np.ndarray, b: np.ndarray, method: str) -> np.ndarray:
    """Row i of a compared with row i of b by one of geometry.COMPARISONS -> `[m]`."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    comparison = geometry.COMPARISONS[method]
    if not comparison.linear:
        return np.array([comparison.pair(x, y) for x, y in zip(a, b)])
    if comparison.ranks:
        a, b = geometry.rank_rows(a), geometry.rank_rows(b)
    return np.einsum("ij,ij->i", standardised(a), standardised(b))


def paired_rows_present(a: np.ndarray, b: np.ndarray, method: str) -> np.ndarray:
    """`paired_rows` on the pairs finite in both rows of each pair of rows (missing pairs left out);
    NaN where fewer than 3 pairs remain. Rows with every pair present take `paired_rows` unchanged."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    b = np.broadcast_to(b, a.shape)
    both = np.isfinite(a) & np.isfinite(b)
    if both.all():
        return paired_rows(a, b, method)
    out = np.full(a.shape[0], np.nan)
    for k in range(a.shape[0]):
        if both[k].sum() >= 3:
            out[k] = paired_rows(a[k, both[k]], b[k, both[k]], method)[0]
    return out


def factored_pearson(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """Pearson r between two condensed RDMs given by factors: a = (A, B) with square form A @ B.T
    (symmetric, `[n, r]` factors; its diagonal is ignored), likewise b.

    Every sum over the pairs i < j is half the sum over the square minus its diagonal d_i = A_i.B_i:
    sum_ij (A B^T)_ij = (1^T A)(B^T 1), sum_ij (A B^T)_ij (C D^T)_ij = sum((A^T C) o (B^T D)). With
    rank r << n this is O(n r^2) instead of O(n^2): the split-half targets of a 3,000-sound noise
    ceiling (rank 16 for seven categories) cost microseconds instead of a tenth of a second each.
    Equal to `geometry.pearson_rows` of the condensed RDMs up to rounding (tests/test_large_sets.py).
    """
    (fa, ga), (fb, gb) = _centred_factors(*a), _centred_factors(*b)
    n_pairs = np.float64(fa.shape[0] * (fa.shape[0] - 1) / 2)
    da, db = np.einsum("ir,ir->i", fa, ga), np.einsum("ir,ir->i", fb, gb)
    s_a = 0.5 * (fa.sum(axis=0) @ ga.sum(axis=0) - da.sum())
    s_b = 0.5 * (fb.sum(axis=0) @ gb.sum(axis=0) - db.sum())
    gram_a, gram_b = (fa.T @ fa) * (ga.T @ ga), (fb.T @ fb) * (gb.T @ gb)
    s_aa, s_bb = 0.5 * (np.sum(gram_a) - da @ da), 0.5 * (np.sum(gram_b) - db @ db)
    s_ab = 0.5 * (np.sum((fa.T @ fb) * (ga.T @ gb)) - da @ db)
    r = float(pearson_from_sums(n_pairs, s_a, s_b, s_aa, s_bb, s_ab))
    # A constant RDM's variance is a difference of Gram terms far larger than the RDM's own squares: it
    # is rounding error unless it exceeds VARIANCE_FLOOR of their size (the direct path's rule, scaled)
    for s_x, s_xx, gram in ((s_a, s_aa, gram_a), (s_b, s_bb, gram_b)):
        if not s_xx - s_x * s_x / n_pairs > VARIANCE_FLOOR * np.sum(np.abs(gram)):
            return float("nan")
    return r


def _centred_factors(f: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Factors of the same square less a constant (a correlation ignores it), with centred columns.

    f g^T = c + h 1^T + 1 k^T + df dg^T (df, dg: f and g less their column means; h = df mean(g),
    k = dg mean(f)): the sums of squares are then those of deviations, not of the raw factors, whose
    cancellation cost about 1e-11 of accuracy on one-listener KL targets at 3,000 sounds."""
    f_mean, g_mean = f.mean(axis=0), g.mean(axis=0)
    df, dg = f - f_mean, g - g_mean
    ones = np.ones((f.shape[0], 1))
    return np.hstack([(df @ g_mean)[:, None], ones, df]), np.hstack([ones, (dg @ f_mean)[:, None], dg])


#: Below this many sounds the products are small and one BLAS thread is faster (see rsa_inference.rsa_statistics);
#: at 3,000 sounds one thread made the 100 CV splits 2x slower (measured here).
SMALL_PROBLEM_SOUNDS = 1000


def small_problem_threads(n_sounds: int):
    """A context limiting BLAS to one thread for small problems (no limit otherwise)."""
    return threadpool_limits(limits=1 if n_sounds < SMALL_PROBLEM_SOUNDS else None, user_api="blas")
