"""REFERENCE ONLY: the two-factor RSA sums as they were before issue 13 (a copy of
`weighted_pearson_targets` from harness/metrics/stats.py at commit c49217d): pair weights
w_i w_j formed explicitly, one tile of pairs at a time. benchmarks/bench_tasks.py swaps it in to
time the reference in the same run. Not used by the harness.
"""

from __future__ import annotations

import numpy as np

from audioprobe.metrics import rsa
from audioprobe.metrics.stats import _pearson_from_sums, _single_pair, _standardised

#: Bytes of one tile of pair weights (resamples x pairs).
PAIR_TILE_BYTES = 4 * 2 ** 20


def weighted_pearson_targets(model_rdms: np.ndarray, targets: np.ndarray, weights: list) -> list[np.ndarray]:
    """Like `weighted_pearson`, when every weight row b has its own target RDM (two-factor bootstrap).

    model_rdms `[n_layers, n_pairs]`, targets `[m, n_pairs]` (row b: the target rebuilt from
    listener draw b), weights: a list of `[m, n]` arrays (bootstrap counts, or 0/1 memberships) ->
    one `[m, n_layers]` per weight array. With a target per row the sums are no longer quadratic
    forms in one matrix: the pair weights w_i w_j are formed explicitly, one tile of pairs at a time
    for every weight array (memory: m x tile), and each sum is a product with the model RDMs.
    A row whose target is not finite gives NaN.
    """
    x = _standardised(np.atleast_2d(model_rdms))
    y = _standardised(np.atleast_2d(targets))
    ws = [np.asarray(w, dtype=np.float64) for w in weights]
    m, n = ws[0].shape
    i, j = rsa._triu_indices(n)
    xt, xxt = np.ascontiguousarray(x.T), np.ascontiguousarray((x * x).T)  # [n_pairs, n_layers]
    n_layers = x.shape[0]
    sums = [[np.zeros(m), np.zeros((m, n_layers)), np.zeros(m), np.zeros((m, n_layers)), np.zeros(m),
             np.zeros((m, n_layers))] for _ in ws]  # s_w, s_x, s_y, s_xx, s_yy, s_xy
    tile = int(max(256, PAIR_TILE_BYTES // (8 * max(m, 1))))
    for start in range(0, i.size, tile):
        ii, jj = i[start:start + tile], j[start:start + tile]
        yt, x1, x2 = y[:, start:start + tile], xt[start:start + tile], xxt[start:start + tile]
        for w, (s_w, s_x, s_y, s_xx, s_yy, s_xy) in zip(ws, sums):
            pw = w[:, ii] * w[:, jj]
            pwy = pw * yt
            s_w += pw.sum(axis=1)
            s_x += pw @ x1
            s_xx += pw @ x2
            s_y += pwy.sum(axis=1)
            s_yy += np.einsum("mp,mp->m", pwy, yt)
            s_xy += pwy @ x1
    return [np.where(_single_pair(w)[:, None], np.nan,
                     _pearson_from_sums(s_w[:, None], s_x, s_y[:, None], s_xx, s_yy[:, None], s_xy))
            for w, (s_w, s_x, s_y, s_xx, s_yy, s_xy) in zip(ws, sums)]
