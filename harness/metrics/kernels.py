"""Compiled loops (numba) for the statistic numpy cannot vectorise well: the Mantel test on large sets.

Mantel test. A permutation test of an RSA score needs, for every permutation p and layer l, the sum
over pairs i < j of x_l[ij] * y[p(i), p(j)]. numpy must first gather the permuted target into memory
(three index gathers per pair, 21 ms per permutation at 3,000 sounds) and then multiply it with a
skinny matrix product that runs far below peak. `permuted_dots` gathers each permuted target row into
a small buffer and takes its dot products with every layer while the row is in cache, four
permutations at a time: about 4x less CPU time than numpy at 3,000 sounds (16 against 60 ms per
permutation here).

The two-factor bootstrap's sums with a target per resample, once compiled here, are matrix
products over the pairs since (`split_pearson.target_split_sums`): they serve the half-splits of every
resample at once, which a loop over pairs would visit one by one.

numba is optional (`pip install audioprobe[fast]`); without it (or below `MIN_SOUNDS`) `mantel` keeps its
numpy path. Both give the same sums up to floating-point rounding (tests/test_large_sets.py).
"""

from __future__ import annotations

import functools

import numpy as np

#: Below this many sounds the numpy path is fast enough and the one-off compilation (about 2 s, then
#: cached on disk) would cost more than it saves.
MIN_SOUNDS = 1000
#: Pairs of a tile: the layers' values of a tile stay in cache while every permutation visits them.
TILE_PAIRS = 4096
#: Permutations a thread takes through the tiles together.
PERM_BLOCK = 16


def available() -> bool:
    """Whether numba can be imported (the compiled path is then used for large sets)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _kernel():
    import numba

    def permuted_dots(flat_target, perms, n, row_bounds, pair_bounds, x, out, block):
        # out[k, l] = sum_{i<j} x[l, pair(i, j)] * target[p_k(i), p_k(j)]. Each thread takes a block of
        # permutations (a multiple of 4) and walks the tiles of rows: a tile of x, read once from memory,
        # serves the whole block from cache, and each value of x read serves four permutations at once
        # (half the time of one at a time, measured here)
        n_perm, n_layers = perms.shape[0], x.shape[0]
        for b in numba.prange((n_perm + block - 1) // block):
            r0, r1, r2, r3 = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
            for t in range(row_bounds.size - 1):
                for k in range(b * block, min(n_perm, (b + 1) * block), 4):
                    p0, p1, p2, p3 = perms[k], perms[k + 1], perms[k + 2], perms[k + 3]
                    pos = pair_bounds[t]
                    for i in range(row_bounds[t], row_bounds[t + 1]):
                        m = n - 1 - i
                        b0, b1, b2, b3 = p0[i] * n, p1[i] * n, p2[i] * n, p3[i] * n
                        for q in range(m):
                            r0[q] = flat_target[b0 + p0[i + 1 + q]]
                            r1[q] = flat_target[b1 + p1[i + 1 + q]]
                            r2[q] = flat_target[b2 + p2[i + 1 + q]]
                            r3[q] = flat_target[b3 + p3[i + 1 + q]]
                        for layer in range(n_layers):
                            s0, s1, s2, s3 = 0.0, 0.0, 0.0, 0.0
                            for q in range(m):
                                v = x[layer, pos + q]
                                s0 += v * r0[q]
                                s1 += v * r1[q]
                                s2 += v * r2[q]
                                s3 += v * r3[q]
                            out[k, layer] += s0
                            out[k + 1, layer] += s1
                            out[k + 2, layer] += s2
                            out[k + 3, layer] += s3
                        pos += m

    options = dict(parallel=True, boundscheck=False, fastmath=True, nogil=True)
    try:
        return numba.njit(cache=True, **options)(permuted_dots)
    except Exception:  # a read-only install: no on-disk cache, compile each process
        return numba.njit(**options)(permuted_dots)


def row_tiles(n: int, pairs: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Row bounds and the condensed offset of each tile's first pair: consecutive rows of the upper
    triangle holding about `pairs` pairs each (row i holds n - 1 - i pairs)."""
    pairs = TILE_PAIRS if pairs is None else pairs
    per_row = np.arange(n - 1, -1, -1)
    starts = np.concatenate([[0], np.cumsum(per_row)])  # condensed offset of each row's first pair
    bounds = [0]
    while bounds[-1] < n:
        nxt = int(np.searchsorted(starts, starts[bounds[-1]] + pairs, side="left"))
        bounds.append(min(n, max(nxt, bounds[-1] + 1)))
    bounds = np.array(bounds, dtype=np.int64)
    return bounds, starts[bounds].astype(np.int64)


def permuted_dots(square_target: np.ndarray, perms: np.ndarray, x: np.ndarray) -> np.ndarray:
    """`[n_perm, n_layers]`: sum over pairs i < j of x[l, ij] * square_target[p(i), p(j)] for every
    permutation p (rows of perms `[n_perm, n]`) and every condensed row of x `[n_layers, n_pairs]`."""
    n_perm, n = perms.shape
    bounds, offsets = row_tiles(n)
    padded = np.concatenate([perms, np.repeat(perms[:1], -n_perm % 4, axis=0)])  # the loop takes 4 at a time
    out = np.zeros((padded.shape[0], x.shape[0]))
    _kernel()(np.ascontiguousarray(square_target, dtype=np.float64).ravel(), np.ascontiguousarray(padded, np.int64),
              n, bounds, offsets, np.ascontiguousarray(x, dtype=np.float64), out, max(4, PERM_BLOCK // 4 * 4))
    return out[:n_perm]
