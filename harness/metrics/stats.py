"""Statistics for probing scores: bootstrap over sounds (and over listeners: the two-factor
bootstrap with the variance correction of Schütt et al. 2023), permutation (Mantel) tests,
split-half and leave-one-listener-out noise ceilings and cross-validated layer selection.
Functions take arrays and return arrays.

Conventions. A condensed RDM is the upper triangle (i < j, row-major) of an `[n, n]` matrix, as in
`rsa.py`. A bootstrap resample of n sounds is a vector of counts c (how often each sound was
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
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from audioprobe.metrics import kernels, rsa
from audioprobe.metrics.intervals import dual_bootstrap_variance, percentile_interval, replicate_variance, t_interval  # noqa: F401
from audioprobe.metrics.responses import counts_from_responses
from audioprobe.metrics.split_pearson import VARIANCE_FLOOR, n_items, pearson_from_sums

#: Bytes a batch of permuted target RDMs may occupy (chunking keeps memory ~ pairs).
PERMUTATION_CHUNK_BYTES = 32 * 2 ** 20


def bootstrap_counts(rng: np.random.Generator, n: int, n_resamples: int) -> np.ndarray:
    """`[n_resamples, n]` int64 counts: n sounds drawn with replacement, per resample (Efron 1979)."""
    draws = rng.integers(0, n, size=(n_resamples, n))
    return counts_from_draws(draws, n)


def counts_from_draws(draws: np.ndarray, n: int) -> np.ndarray:
    """`[n_resamples, n]` counts from `[n_resamples, k]` drawn indices."""
    draws = np.atleast_2d(draws)
    offset = (np.arange(draws.shape[0]) * n)[:, None]
    return np.bincount((draws + offset).ravel(), minlength=draws.shape[0] * n).reshape(-1, n)


def random_halves(rng: np.random.Generator, n: int, n_splits: int) -> np.ndarray:
    """`[n_splits, n]` bool: a random half of the n items (floor(n/2) of them) per split."""
    order = np.argsort(rng.random((n_splits, n)), axis=1)
    halves = np.zeros((n_splits, n), dtype=bool)
    np.put_along_axis(halves, order[:, : n // 2], True, axis=1)
    return halves


def _standardised(v: np.ndarray) -> np.ndarray:
    """Centre and scale to unit norm along the last axis (a correlation is unchanged; sums of
    squares then carry no cancellation error)."""
    v = np.asarray(v, dtype=np.float64)
    v = v - v.mean(axis=-1, keepdims=True)  # a new array: scaled in place below (one 0.5 GB copy at 3,000 sounds)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        v /= norm
    return v


def _standardised_present(v: np.ndarray, present: np.ndarray | None) -> np.ndarray:
    """`_standardised` over the present pairs only, 0 on the missing ones (so that they add nothing to
    any sum); present None: every pair, `_standardised` itself."""
    if present is None:
        return _standardised(v)
    v = np.asarray(v, dtype=np.float64)
    out = np.zeros(v.shape)
    out[..., present] = _standardised(v[..., present])
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

    x = _standardised_present(np.atleast_2d(model_rdms), present)
    y = _standardised_present(target_rdm, present)
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

    def quad(*squares, stacked=None, out=None):  # 0.5 w^T A w for each square A: per block, then their sum
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

    ysq = squareform(y, checks=False)
    if present is None:
        s_w = [sw(w) for w in ws]
        s_y, s_yy = quad(ysq, ysq * ysq)
        single_pair = [_single_pair(w) for w in ws]
    else:
        msq = squareform(np.asarray(present, dtype=np.float64), checks=False)
        s_w, s_y, s_yy = quad(msq, ysq, ysq * ysq)
        single_pair = [_single_pair(w, msq) for w in ws]
    results = [np.empty((w.shape[0], x.shape[0])) for w in ws]
    i, j = rsa._triu_indices(n)
    xsq = square_buffers[:, 0, :]  # its diagonal stays 0: the square form of a condensed RDM
    for layer, row in enumerate(x):
        xsq[i, j] = row
        xsq[j, i] = row
        np.multiply(xsq, xsq, out=square_buffers[:, 1, :])
        np.multiply(xsq, ysq, out=square_buffers[:, 2, :])
        s_x, s_xx, s_xy = quad(stacked=square_buffers.reshape(n, 3 * n), out=layer_products)
        for k in range(len(ws)):
            r = pearson_from_sums(s_w[k], s_x[k], s_y[k], s_xx[k], s_yy[k], s_xy[k])
            results[k][:, layer] = np.where(single_pair[k], np.nan, r)
    return results


def _single_pair(w: np.ndarray, mask_square: np.ndarray | None = None) -> np.ndarray:
    """`[m]` True where weights w hold at most one distinct pair (fewer than 3 distinct sounds; with
    a square 0/1 mask of present pairs, fewer than 2 distinct present pairs among the drawn sounds):
    no correlation (the sums would give a rounding artefact, not NaN)."""
    if mask_square is None:
        return np.count_nonzero(w, axis=1) < 3
    drawn = (np.atleast_2d(w) != 0).astype(np.float64)
    return 0.5 * np.einsum("mn,mn->m", drawn @ mask_square, drawn) < 2


#: Bytes of per-resample target RDMs a two-factor bootstrap holds at once (a chunk of resamples).
TARGET_CHUNK_BYTES = 64 * 2 ** 20


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

    x = _standardised(np.atleast_2d(model_rdms))
    y = _standardised(target_rdm)
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
    i, j = rsa._triu_indices(n)
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
    x = _standardised(np.atleast_2d(model_rdms))
    y = _standardised_present(target_rdm, present)
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
        y = rsa.upper_triangle(ysq[np.ix_(p, p)])
        keep = np.isfinite(y)
        out[b] = rsa.pearson_rows(rsa.rank_rows(x[:, keep]), rsa.rank_rows(y[keep]))
    return out


def random_permutations(rng: np.random.Generator, n: int, n_perm: int) -> np.ndarray:
    """`[n_perm, n]` independent uniform permutations of range(n)."""
    return np.argsort(rng.random((n_perm, n)), axis=1)


def permutation_p_value(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """One-sided p = (1 + #{null >= observed}) / (1 + n_perm) per column (Phipson & Smyth 2010)."""
    observed = np.asarray(observed, dtype=np.float64)
    null = np.atleast_2d(null)
    with np.errstate(invalid="ignore"):
        exceed = (null >= observed[None, :] - 1e-12).sum(axis=0)
    p = (1.0 + exceed) / (1.0 + null.shape[0])
    return np.where(np.isfinite(observed), p, np.nan)


def spearman_brown(r: np.ndarray, factor: float = 2.0) -> np.ndarray:
    """Reliability of a test `factor` times longer: k r / (1 + (k - 1) r) (Spearman 1910; Brown 1910)."""
    r = np.asarray(r, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return factor * r / (1.0 + (factor - 1.0) * r)


def cross_validated_selection(score_a: np.ndarray, score_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pick the best layer on one half, score it on the other, both ways round.

    score_a, score_b `[n_splits, n_layers]` (each layer's score on the two halves of each split)
    -> (held-out scores `[2 n_splits]`, chosen layer indices `[2 n_splits]`). A split whose scores
    are all undefined gives NaN and index -1.
    """
    held, chosen = [], []
    for pick, judge in ((score_a, score_b), (score_b, score_a)):
        valid = np.isfinite(pick).any(axis=1)
        idx = np.where(valid, np.nanargmax(np.where(np.isfinite(pick), pick, -np.inf), axis=1), -1)
        val = np.where(valid, judge[np.arange(judge.shape[0]), np.maximum(idx, 0)], np.nan)
        held.append(val)
        chosen.append(idx)
    return np.concatenate(held), np.concatenate(chosen)


def expanded_pairs(condensed: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The resampled RDM's pair values: pair (i, j) repeated c_i c_j times (self-pairs excluded)."""
    i, j = np.triu_indices(counts.size, k=1)
    reps = counts[i] * counts[j]
    return np.repeat(condensed, reps)


def resampled_scores_loop(model_rdms, target_rdm, weights, compare) -> np.ndarray:
    """Any comparison on resampled or subset RDMs, one weight vector at a time (slow, general).

    For statistics no quadratic form expresses (Kendall's tau-a): `compare(x, y) -> float`.
    target_rdm `[n_pairs]`, or `[m, n_pairs]`: one target per weight vector (two-factor bootstrap).
    A target row that is all NaN (undefined) gives NaN; a target with some NaN pairs (missing
    cells) is compared on its present pairs (NaN when fewer than 2 distinct ones were drawn).
    """
    x = np.atleast_2d(model_rdms)
    targets = np.asarray(target_rdm)
    out = np.full((len(weights), x.shape[0]), np.nan)
    for b, w in enumerate(np.asarray(weights, dtype=np.int64)):
        if np.count_nonzero(w) < 3:
            continue
        target = targets if targets.ndim == 1 else targets[b]
        ok = np.isfinite(target)
        if not np.all(ok):
            i, j = rsa._triu_indices(w.size)
            if not np.any(ok) or np.count_nonzero(ok & (w[i] > 0) & (w[j] > 0)) < 2:
                continue
            y = expanded_pairs(target, w)
            keep = np.isfinite(y)
            for layer, row in enumerate(x):
                out[b, layer] = compare(expanded_pairs(row, w)[keep], y[keep])
            continue
        y = expanded_pairs(target, w)
        for layer, row in enumerate(x):
            out[b, layer] = compare(expanded_pairs(row, w), y)
    return out


def permuted_scores_loop(model_rdms, target_rdm, permutations, compare) -> np.ndarray:
    """Any comparison against row-and-column permuted targets, one permutation at a time (missing
    target pairs move with the permutation and are left out of each comparison)."""
    from scipy.spatial.distance import squareform  # scipy.spatial costs 0.3 s to import: only when used

    x = np.atleast_2d(model_rdms)
    ysq = squareform(np.asarray(target_rdm, dtype=np.float64), checks=False)
    out = np.empty((len(permutations), x.shape[0]))
    for b, p in enumerate(permutations):
        y = rsa.upper_triangle(ysq[np.ix_(p, p)])
        keep = np.isfinite(y)
        for layer, row in enumerate(x):
            out[b, layer] = compare(row, y) if keep.all() else compare(row[keep], y[keep])
    return out


def split_half_reliability(responses: dict[str, np.ndarray], n_categories: dict[str, int], target,
                           compare_rows, rng: np.random.Generator, n_splits: int, factors=None) -> np.ndarray:
    """Split-half correlations of the target RDM between random halves of the listeners.

    responses: dim -> `[n_listeners, n_sounds]` category index (-1: no answer); target(counts by
    dim) -> condensed RDM; compare_rows(a `[m, n_pairs]`, b `[m, n_pairs]`) -> `[m]` row-by-row
    comparison. Returns the `[n_splits]` uncorrected r values. Splits are processed in chunks
    (memory: a few hundred MB at most). factors(counts by dim) -> (A, B) with A @ B.T the target's
    square form, given only when the comparison is Pearson: the same r from `factored_pearson`,
    without forming any RDM (the same halves are drawn).
    """
    dims = list(responses)
    n_listeners, n_sounds = responses[dims[0]].shape
    halves = random_halves(rng, n_listeners, n_splits)
    if factors is not None:
        def half_factors(members):
            return factors({d: counts_from_responses(responses[d][members], n_categories[d]) for d in dims})

        return np.array([factored_pearson(half_factors(h), half_factors(~h)) for h in halves])
    chunk = max(1, PERMUTATION_CHUNK_BYTES // (2 * 8 * max(n_sounds * (n_sounds - 1) // 2, 1)))
    out = np.empty(n_splits)
    for start in range(0, n_splits, chunk):
        pairs = [[], []]
        for half in halves[start:start + chunk]:
            for side, members in enumerate((half, ~half)):
                pairs[side].append(target({d: counts_from_responses(responses[d][members], n_categories[d]) for d in dims}))
        out[start:start + chunk] = compare_rows(np.stack(pairs[0]), np.stack(pairs[1]))
    return out


def factored_pearson(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """Pearson r between two condensed RDMs given by factors: a = (A, B) with square form A @ B.T
    (symmetric, `[n, r]` factors; its diagonal is ignored), likewise b.

    Every sum over the pairs i < j is half the sum over the square minus its diagonal d_i = A_i.B_i:
    sum_ij (A B^T)_ij = (1^T A)(B^T 1), sum_ij (A B^T)_ij (C D^T)_ij = sum((A^T C) o (B^T D)). With
    rank r << n this is O(n r^2) instead of O(n^2): the split-half targets of a 3,000-sound noise
    ceiling (rank 16 for seven categories) cost microseconds instead of a tenth of a second each.
    Equal to `rsa.pearson_rows` of the condensed RDMs up to rounding (tests/test_large_sets.py).
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


def mean_of_rdms(rdms: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted cell-wise means of per-listener RDMs over the listeners that have each pair.

    rdms `[n_listeners, n_pairs]` (NaN: that listener did not rate that pair), weights `[m,
    n_listeners]` (0/1 membership, or counts) -> `[m, n_pairs]`, NaN where no weighted listener has
    the pair: the nanmean of the chosen listeners' matrices, for split halves and leave-one-out."""
    r = np.asarray(rdms, dtype=np.float64)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    has = np.isfinite(r)
    total = w @ np.where(has, r, 0.0)
    k = w @ has.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(k > 0, total / k, np.nan)


def split_half_rdms(rdms: np.ndarray, compare_rows, rng: np.random.Generator, n_splits: int) -> np.ndarray:
    """Split-half correlations between the mean RDMs (`mean_of_rdms`) of random halves of the listeners,
    as `split_half_reliability` does for response counts -> the `[n_splits]` uncorrected r values."""
    halves = random_halves(rng, np.shape(rdms)[0], n_splits)
    return compare_rows(mean_of_rdms(rdms, halves), mean_of_rdms(rdms, ~halves))


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


def leave_one_out_ceiling(targets_of, n_listeners: int, compare_rows,
                          factors_of=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-listener terms of the lower and upper noise-ceiling bounds (Nili et al. 2014, PLoS Comput.
    Biol. 10:e1003553; rsatoolbox `inference.boot_noise_ceiling`).

    targets_of(weights `[m, n_listeners]`) -> `[m, n_pairs]`: the target RDM built from the
    listeners with those weights (1: included once); compare_rows(a, b) -> `[m]` row by row.
    Listener l's RDM is the target built from l's responses alone; upper[l] compares it with the
    target of all listeners (l included), lower[l] with the target of the others. The bounds are the
    means of the two `[n_listeners]` arrays returned (lower, upper). Chunked over listeners.
    factors_of(weights `[n_listeners]`) -> (A, B), the target's square form A @ B.T: given only for a
    Pearson comparison, which is then computed by `factored_pearson` without forming the RDMs.
    """
    if factors_of is not None:
        eye = np.eye(n_listeners, dtype=np.int64)
        everyone = factors_of(np.ones(n_listeners, dtype=np.int64))
        alone = [factors_of(row) for row in eye]
        return (np.array([factored_pearson(a, factors_of(1 - row)) for a, row in zip(alone, eye)]),
                np.array([factored_pearson(a, everyone) for a in alone]))
    everyone = targets_of(np.ones((1, n_listeners), dtype=np.int64))[0]
    n_pairs = everyone.size
    chunk = int(max(1, TARGET_CHUNK_BYTES // (8 * max(n_pairs, 1))))
    lower, upper = np.empty(n_listeners), np.empty(n_listeners)
    eye = np.eye(n_listeners, dtype=np.int64)
    for start in range(0, n_listeners, chunk):
        alone = eye[start:start + chunk]
        single = targets_of(alone)
        upper[start:start + chunk] = compare_rows(single, np.broadcast_to(everyone, single.shape))
        lower[start:start + chunk] = compare_rows(single, targets_of(1 - alone))
    return lower, upper


def paired_rows(a: np.ndarray, b: np.ndarray, method: str) -> np.ndarray:
    """Row i of a compared with row i of b by one of rsa.COMPARISONS -> `[m]`."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    if method == "kendall_tau_a":
        return np.array([rsa.kendall_tau_a(x, y) for x, y in zip(a, b)])
    if method == "spearman":
        a, b = rsa.rank_rows(a), rsa.rank_rows(b)
    elif method != "pearson":
        raise ValueError(f"unknown comparison {method!r}")
    return np.einsum("ij,ij->i", _standardised(a), _standardised(b))


#: Below this many sounds the products are small and one BLAS thread is faster (see rsa_statistics);
#: at 3,000 sounds one thread made the 100 CV splits 2x slower (measured here).
SMALL_PROBLEM_SOUNDS = 1000


def small_problem_threads(n_sounds: int):
    """A context limiting BLAS to one thread for small problems (no limit otherwise)."""
    return threadpool_limits(limits=1 if n_sounds < SMALL_PROBLEM_SOUNDS else None, user_api="blas")


def streams(seed: int, n: int = 4) -> list[np.random.Generator]:
    """Independent generators spawned from one seed (bootstrap, permutations, splits, ceiling), so
    changing the number of one kind of draw leaves the others unchanged."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def sound_draws(seed: int, n: int, n_resamples: int) -> np.ndarray:
    """`[n_resamples, n]` bootstrap counts of the sounds of an RSA-family task (the first stream of the seed):
    the same for every model and task on a set with that seed; audioprobe-compare draws them again to
    correct a comparison's variance for the pairs' noise (`intervals.pair_noise_variance`)."""
    return bootstrap_counts(streams(seed)[0], n, n_resamples)


#: The stream of the listener draws of a two-factor bootstrap: `streams(seed, LISTENER_STREAM + 1)`
#: spawns the four streams above unchanged (SeedSequence children are numbered) and this one.
LISTENER_STREAM = 4


def listener_draws(seed: int, n_listeners: int, n_resamples: int) -> np.ndarray:
    """`[n_resamples, n_listeners]` bootstrap counts of the listeners: the same for every model and
    task on a set with that many listeners and that seed (shared resamples)."""
    return bootstrap_counts(streams(seed, LISTENER_STREAM + 1)[LISTENER_STREAM], n_listeners, n_resamples)


#: Fixed half-splits per bootstrap resample behind the cross-validated headline's replicates (the first
#: of the estimate's cv_splits, the same in every resample): `intervals.split_variance` removes their noise,
#: so a few suffice (the variance estimate's own noise grows by about (1 + 3/K) at the split noise measured
#: on the embedded set, docs/metrics.md); more cost time in every resample.
HEADLINE_SPLITS = 4


def split_held_out(half_a: np.ndarray, half_b: np.ndarray, lower_is_better: bool = False) -> np.ndarray:
    """The cross-validated score of each split of each resample: the layer picked on one half scored on
    the other, both ways round, averaged. half_a, half_b `[..., n_layers]` -> `[...]` (NaN where no layer
    is defined on a half)."""
    a, b = np.asarray(half_a, dtype=np.float64), np.asarray(half_b, dtype=np.float64)
    shape = a.shape[:-1]
    sign = -1.0 if lower_is_better else 1.0
    held, _ = cross_validated_selection(sign * a.reshape(-1, a.shape[-1]), sign * b.reshape(-1, b.shape[-1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no layer defined on a half: NaN, left out later
        return sign * np.nanmean(held.reshape(2, -1), axis=0).reshape(shape)


def rsa_statistics(model_rdms: np.ndarray, target_rdm: np.ndarray, comparison: str, seed: int,
                   n_bootstrap: int, n_permutations: int, cv_splits: int, level: float,
                   listener_targets=None, n_listeners: int = 0, backend=None) -> dict:
    """Every statistic of an RSA score, vectorised over layers, resamples and permutations.

    model_rdms `[n_layers, n_pairs]` (rows that are not finite give NaN throughout), target
    `[n_pairs]`. Returns arrays: score `[L]`; ci `[L, 2]` (percentile bootstrap over sounds);
    p_value `[L]` (one-sided Mantel permutation test); cv_scores and cv_choice `[2 cv_splits]`
    (held-out score and chosen layer index per half of each split); bootstrap `[n_bootstrap, L]`
    (each layer's score in each resample) and bootstrap_counts `[n_bootstrap, n]` (how often each
    sound was drawn: the resamples every model shares for this seed and n); cv_bootstrap
    `[n_bootstrap, K]`: the cross-validated score of each of the first K = min(HEADLINE_SPLITS,
    cv_splits) splits of the estimate, in each resample (the replicates of the headline, whose split
    noise `intervals.split_variance` removes; `split_pearson` computes them from shared sums).

    Two-factor bootstrap (listener_targets given: weights `[m, n_listeners]` -> the `[m, n_pairs]`
    targets built from those listeners; n_listeners >= 3): replicate b resamples the sounds with
    sound draw b (the draws above, unchanged) and the listeners with listener draw b
    (`listener_draws`), the target being rebuilt from the drawn listeners. Then bootstrap and
    cv_bootstrap hold these "both" replicates; bootstrap_sounds, cv_bootstrap_sounds (sound draw
    b, all listeners: the one-factor replicates, identical to a sounds-only run) and
    bootstrap_listeners, cv_bootstrap_listeners (listener draw b, all sounds, the same K splits)
    are added, with listener_counts `[n_bootstrap, n_listeners]`, variance `[L]`
    (`intervals.dual_bootstrap_variance`) and dof `[L]` (`intervals.dual_dof`, Satterthwaite), and ci
    is the t interval score -/+ t(dof) sqrt(variance).

    Spearman statistics rank the pairs of the full set once, then use the Pearson machinery:
    exact for permutations (a permutation only reorders the ranks; with missing pairs each
    permutation is re-ranked, `permuted_spearman_present`); for bootstrap resamples and half splits
    an approximation (the resample's own ranks are not recomputed). Kendall's tau-a
    has no quadratic form: it is computed resample by resample and part by part (slow).

    Missing pairs: a target with NaN entries (cells of a published matrix nobody rated) is compared
    on its present pairs only, by every statistic (score, bootstrap, Mantel test, cross-validation;
    module docstring, "Missing pairs"); Spearman ranks the present pairs. A complete target gives
    exactly the numbers it always gave. A two-factor bootstrap needs a complete target.

    backend: None (numpy, this module) or a namespace with the same `weighted_pearson_blocks` and
    `permuted_pearson` (`stats_torch.on(device)`: the products on a GPU, equal within float
    rounding), used for the Mantel test and the estimate's cross-validation of Pearson and Spearman
    RSA; the bootstrap's split sums run in numpy (`split_pearson`). The draws are the same either way.
    """
    from audioprobe.metrics import intervals, split_pearson

    x = np.atleast_2d(np.asarray(model_rdms, dtype=np.float64))
    y = np.asarray(target_rdm, dtype=np.float64)
    n = n_items(y.size)
    finite = np.all(np.isfinite(x), axis=1)
    present = np.isfinite(y)
    mask = None if present.all() else present  # None: the complete-matrix path, unchanged
    score = np.full(x.shape[0], np.nan)
    if mask is None:
        score[finite] = rsa.compare_rows(x[finite], y, comparison)
    elif present.sum() >= 2:
        score[finite] = rsa.compare_rows(x[finite][:, present], y[present], comparison)
    _, rng_perm, rng_cv, _ = streams(seed)
    two_factor = listener_targets is not None
    if two_factor and n_listeners < 3:
        raise ValueError(f"a two-factor bootstrap needs at least 3 listeners, got {n_listeners}")
    if two_factor and mask is not None:
        raise ValueError("a two-factor bootstrap needs a complete target RDM (no missing pairs)")

    # Layers whose RDM is not finite give NaN everywhere (each layer's statistics are computed
    # independently): only the finite rows are computed, and the others are filled with NaN. A partial
    # RSA whose control explains every layer then costs nothing but its draws.
    n_layers, kept = x.shape[0], np.flatnonzero(finite)
    xf = x[finite]
    x_values, y_values = xf, y  # before ranking (Spearman's Mantel test with missing pairs re-ranks)
    if comparison == "spearman" and mask is None:
        xf, y = rsa.rank_rows(xf), rsa.rank_rows(y)
    elif comparison == "spearman":  # ranks among the present pairs; the missing ones stay out
        ranked_x, ranked_y = np.zeros(xf.shape), np.full(y.shape, np.nan)
        ranked_x[:, present] = rsa.rank_rows(xf[:, present])
        ranked_y[present] = rsa.rank_rows(y[present])
        xf, y = ranked_x, ranked_y
    linear = comparison in ("pearson", "spearman")

    def spread(a):  # `[..., n_finite]` -> `[..., n_layers]`, NaN for the other layers
        full_a = np.full(a.shape[:-1] + (n_layers,), np.nan)
        full_a[..., kept] = a
        return full_a

    out = {"score": score, "ci": np.full((n_layers, 2), np.nan), "p_value": np.full(n_layers, np.nan),
           "cv_scores": np.array([]), "cv_choice": np.array([], dtype=int), "cv_bootstrap": np.empty((0, 0)),
           "bootstrap": np.empty((0, n_layers)), "bootstrap_counts": np.empty((0, n), dtype=np.int64)}
    cv_halves = random_halves(rng_cv, n, cv_splits) if cv_splits > 0 else np.zeros((0, n), dtype=bool)
    replicate_halves = cv_halves[:HEADLINE_SPLITS]
    if n_bootstrap > 0:
        counts = sound_draws(seed, n, n_bootstrap)
        if linear:
            xs, ys = _standardised_present(xf, mask), _standardised_present(y, mask)
            sums = split_pearson.split_sums(xs, ys, counts, replicate_halves, mask)
            few = split_pearson.distinct_parts(counts, split_pearson.part_members(replicate_halves), mask)
            parts = spread(split_pearson.pearson_parts(sums, few)) if kept.size else np.full(
                (n_bootstrap, 1 + 2 * len(replicate_halves), n_layers), np.nan)
        else:
            parts = spread(_parts_loop(xf, y, counts, replicate_halves, comparison))
        full = parts[:, 0]
        out["bootstrap"], out["bootstrap_counts"] = full, counts
        out["ci"] = intervals.percentile_interval(full, level)
        out["cv_bootstrap"] = split_held_out(parts[:, 1::2], parts[:, 2::2])
        if two_factor:
            out.update(_two_factor(xf, kept, n_layers, listener_targets, n_listeners, seed, counts, replicate_halves,
                                   comparison, sums if linear else None, out))
            out["ci"] = intervals.t_interval(score, out["variance"], out["dof"], level)
    # Small matrix products: one BLAS thread is faster than two on a loaded machine (measured on
    # 2 cores under load 4, 246 sounds: permutations 0.29 -> 0.17 s, CV 0.10 -> 0.02 s); the
    # bootstrap's products, and everything for large sets, keep the default threads.
    products = sys.modules[__name__] if backend is None else backend
    with small_problem_threads(n):
        if n_permutations > 0 and kept.size:
            perms = random_permutations(rng_perm, n, n_permutations)
            if comparison == "spearman" and mask is not None:
                null = permuted_spearman_present(x_values, y_values, perms)
            elif linear:
                null = products.permuted_pearson(xf, y, perms, mask)
            else:
                null = permuted_scores_loop(xf, y, perms, lambda a, b: rsa.compare_rows(a, b, comparison)[0])
            out["p_value"] = permutation_p_value(score, spread(null))
        elif n_permutations > 0:
            random_permutations(rng_perm, n, n_permutations)  # the same draws either way
        if cv_splits > 0:
            if not kept.size:
                half_a = half_b = np.full((cv_splits, n_layers), np.nan)
            elif linear:
                half_a, half_b, _ = (spread(a) for a in products.weighted_pearson_blocks(xf, y, [cv_halves, ~cv_halves],
                                                                                         mask))
            else:
                compare = lambda a, b: rsa.compare_rows(a, b, comparison)[0]  # noqa: E731
                half_a, half_b = (spread(resampled_scores_loop(xf, y, w.astype(np.int64), compare))
                                  for w in (cv_halves, ~cv_halves))
            out["cv_scores"], out["cv_choice"] = cross_validated_selection(half_a, half_b)
    return out


def _parts_loop(x, y, weights, halves, comparison) -> np.ndarray:
    """`[m, 1 + 2K, n_layers]` scores of any comparison on each weight row and each half of each split (the
    parts of `split_pearson`), one explicit resample at a time (Kendall's tau-a; slow). y `[n_pairs]`, or
    `[m, n_pairs]` (a target per row)."""
    def compare(a, b):
        return rsa.compare_rows(a, b, comparison)[0]

    weights = np.asarray(weights, dtype=np.int64)
    part_weights = [weights] + [weights * h for half in halves for h in (half, ~half)]
    return np.stack([resampled_scores_loop(x, y, w, compare) for w in part_weights], axis=1)


def _two_factor(xf, kept, n_layers, listener_targets, n_listeners, seed, counts, halves, comparison, sums,
                sounds_only) -> dict:
    """The listener and both-factor replicates of `rsa_statistics` (see there), chunk by chunk of
    resamples: the target of listener draw b is built once and serves both kinds. The sums without the
    target are those of the sounds-only resamples (`sums`: the same weights) and, for the listeners
    kind, of one row of ones (every resample keeps every sound)."""
    from audioprobe.metrics import intervals, split_pearson

    n_bootstrap, n = counts.shape
    listeners = listener_draws(seed, n_listeners, n_bootstrap)
    n_parts = 1 + 2 * len(halves)
    kinds = {"both": np.full((n_bootstrap, n_parts, n_layers), np.nan),
             "listeners": np.full((n_bootstrap, n_parts, n_layers), np.nan)}
    # rows per chunk: the targets of a chunk within TARGET_CHUNK_BYTES, but at least 8 rows (each
    # pass reads the model RDMs once) and at most 128
    n_pairs = n * (n - 1) // 2
    chunk = int(min(128, max(8, TARGET_CHUNK_BYTES // (8 * max(n_pairs, 1)))))
    if kept.size and sums is not None:
        xs = _standardised(xf)
        pairs = split_pearson.PairParts(xs, halves)
        free = split_pearson.split_sums(xs, None, np.ones((1, n)), halves)
        few = split_pearson.distinct_parts(counts, split_pearson.part_members(halves))
    for start in range(0, n_bootstrap if kept.size else 0, chunk):
        rows = slice(start, start + chunk)
        targets = np.asarray(listener_targets(listeners[rows]), dtype=np.float64)
        if comparison == "spearman":
            targets = rsa.rank_rows(targets)
        if sums is None:  # Kendall's tau-a: resample by resample
            kinds["both"][rows][..., kept] = _parts_loop(xf, targets, counts[rows], halves, comparison)
            kinds["listeners"][rows][..., kept] = _parts_loop(xf, targets, np.ones_like(counts[rows]), halves,
                                                              comparison)
            continue
        ys = _standardised(targets)
        both = {k: sums[k][rows] for k in ("w", "x", "xx")}
        both.update(split_pearson.target_split_sums(pairs, ys, counts[rows]))
        lis = {k: np.broadcast_to(v, (ys.shape[0],) + v.shape[1:]) for k, v in free.items()}
        lis.update(split_pearson.target_split_sums(pairs, ys, None))
        kinds["both"][rows][..., kept] = split_pearson.pearson_parts(both, few[rows])
        kinds["listeners"][rows][..., kept] = split_pearson.pearson_parts(lis)
    out = {"listener_counts": listeners}
    for kind, parts in kinds.items():
        key = "" if kind == "both" else "_listeners"
        out["bootstrap" + key], out["cv_bootstrap" + key] = parts[:, 0], split_held_out(parts[:, 1::2], parts[:, 2::2])
    out["bootstrap_sounds"], out["cv_bootstrap_sounds"] = sounds_only["bootstrap"], sounds_only["cv_bootstrap"]
    out["variance"], out["dof"] = intervals.dual_variance_of(out["bootstrap"], out["bootstrap_listeners"],
                                                             out["bootstrap_sounds"], n_listeners, n,
                                                             sound_counts=counts)
    return out
