"""Pearson r of RDMs on bootstrap resamples and on both halves of fixed splits of each resample.

The cross-validated headline of an RSA task is a mean over half-splits of the sounds (pick the
best layer on one half, score it on the other). Its bootstrap replicates must carry the same
statistic: in every resample b, the scores of every layer on both halves of K splits (the same K
splits in every resample, the first K of the estimate's), from which `intervals.split_variance`
removes the splits' own noise. This module computes those scores from shared sums, for the whole
resample and its 2K halves ("parts"), in about the time the earlier one-split replicates took.

Conventions as `pearson` (its module docstring): a resample is a weight vector w over the n sounds
(bootstrap counts); every sum a Pearson r needs over the resampled pairs i < j (self-pairs
excluded) is a quadratic form w^T A w / 2 in a square A of zero diagonal. On the half H of a split,
w is zero outside H, so only the block A_HH counts: a quarter of the products of the whole square
(`split_sums`). The whole resample follows from the two halves of the first split and the block
between them: w^T A w = w_A^T A_AA w_A + w_B^T A_BB w_B + 2 w_A^T A_AB w_B.

With a target per resample (the two-factor bootstrap, listeners resampled) no square is shared by
the resamples, so the target's sums are taken over the pairs instead: with u_p = w_i w_j the pair
weights and y_bp the target of resample b, s_xy = (u o y_b) . x_l is one matrix product for a chunk
of resamples and every layer (`target_split_sums`); a half's sums use the pairs inside it.

Parts are ordered: 0 the whole, then for split k = 0..K-1 its half A (where `halves[k]` is True,
part 1 + 2k) and its half B (part 2 + 2k).
"""

from __future__ import annotations

import numpy as np

from audioprobe.metrics import geometry


def n_items(n_pairs: int) -> int:
    """Number of sounds n with n(n-1)/2 == n_pairs."""
    n = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
    if n * (n - 1) // 2 != n_pairs:
        raise ValueError(f"{n_pairs} is not the length of a condensed RDM")
    return n


#: a weighted variance below this fraction of its uncentred sum of squares is rounding error
VARIANCE_FLOOR = 1e-12


def pearson_from_sums(sw, sx, sy, sxx, syy, sxy):
    """Pearson r from the six sums over pairs (weights, x, y, x^2, y^2, xy); NaN where a side is constant."""
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sy / sw
        vx = sxx - sx * sx / sw
        vy = syy - sy * sy / sw
        r = cov / np.sqrt(vx * vy)
    # a variance within rounding of zero (relative to the sum of squares it is cancelled from: float64
    # cancellation leaves ~1e-16 of it) is a constant side: undefined, not a tiny spurious r
    bad = ~(sw > 0) | ~(vx > VARIANCE_FLOOR * np.abs(sxx)) | ~(vy > VARIANCE_FLOOR * np.abs(syy))
    return np.where(bad, np.nan, r)


def _square(condensed: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import squareform  # scipy.spatial costs 0.3 s to import: only when used

    return squareform(np.asarray(condensed, dtype=np.float64), checks=False)


def part_members(halves: np.ndarray) -> list[np.ndarray]:
    """The sound indices of each part after the whole: [A_0, B_0, A_1, B_1, ...] for halves `[K, n]` bool."""
    out = []
    for h in np.atleast_2d(np.asarray(halves, dtype=bool)):
        out += [np.flatnonzero(h), np.flatnonzero(~h)]
    return out


def _quads(weights: np.ndarray, stacked: np.ndarray, n_squares: int, rows: np.ndarray, cols: np.ndarray | None = None,
           right: np.ndarray | None = None) -> np.ndarray:
    """0.5 w_R^T A_RR w_R for each square A stacked side by side in `stacked` `[n, n_squares n]` -> `[m, n_squares]`;
    with cols: the block between two disjoint parts, w_R^T A_RC w_C (no 0.5: each pair once), `right` the
    weights of C."""
    n = stacked.shape[0]
    cols = rows if cols is None else cols
    block = stacked[np.ix_(rows, (cols[None, :] + n * np.arange(n_squares)[:, None]).ravel())]
    prod = (weights[:, rows] @ block).reshape(weights.shape[0], n_squares, cols.size)
    if right is None:
        return 0.5 * np.einsum("mn,mkn->mk", weights[:, rows], prod)
    return np.einsum("mn,mkn->mk", right[:, cols], prod)


def _part_quads(weights: np.ndarray, stacked: np.ndarray, n_squares: int, members: list[np.ndarray]) -> np.ndarray:
    """`[m, 1 + 2K, n_squares]`: the quadratic forms of every square on the whole weight rows and on each part.
    The whole is the first split's two halves plus the block between them (no dense product)."""
    m, n = weights.shape[0], stacked.shape[0]
    out = np.empty((m, 1 + len(members), n_squares))
    for p, rows in enumerate(members):
        out[:, 1 + p] = _quads(weights, stacked, n_squares, rows)
    if members:
        out[:, 0] = out[:, 1] + out[:, 2] + _quads(weights, stacked, n_squares, members[0], members[1], weights)
    else:
        out[:, 0] = _quads(weights, stacked, n_squares, np.arange(n))
    return out


def distinct_parts(weights: np.ndarray, members: list[np.ndarray], present: np.ndarray | None = None) -> np.ndarray:
    """`[m, 1 + 2K]` True where a part's weights hold at most one distinct pair (fewer than 3 distinct sounds;
    with missing pairs, fewer than 2 distinct present pairs among the drawn sounds): no correlation there."""
    drawn = (np.atleast_2d(weights) != 0)
    parts = [np.arange(drawn.shape[1]), *members]
    if present is None:
        return np.stack([np.count_nonzero(drawn[:, rows], axis=1) < 3 for rows in parts], axis=1)
    mask = _square(np.asarray(present, dtype=np.float64))
    out = []
    for rows in parts:
        d = drawn[:, rows].astype(np.float64)
        out.append(0.5 * np.einsum("mn,mn->m", d @ mask[np.ix_(rows, rows)], d) < 2)
    return np.stack(out, axis=1)


def split_sums(x: np.ndarray, y: np.ndarray | None, weights: np.ndarray, halves: np.ndarray,
               present: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Pearson sums of every layer with a fixed target on each weight row and each half of each split.

    x `[n_layers, n_pairs]` and y `[n_pairs]`, standardised over the present pairs and 0 on the missing
    ones (`pearson.standardised_present`); y None: only the sums without the target (w, x, xx).
    weights `[m, n]`; halves `[K, n]` bool; present `[n_pairs]` bool or None (every pair). Returns w, y, yy
    `[m, 1 + 2K]` and x, xx, xy `[m, 1 + 2K, n_layers]` (parts: module docstring).
    """
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    m, n = weights.shape
    members = part_members(halves) if np.size(halves) else []
    n_parts = 1 + len(members)
    # Squares without the layers: the pair count (the mask of present pairs, or all ones) and the target's
    target_squares = [np.ones((n, n)) - np.eye(n) if present is None else _square(present)]
    if y is not None:
        ysq = _square(y)
        target_squares += [ysq, ysq * ysq]
    stacked = np.concatenate(target_squares, axis=1)
    common = _part_quads(weights, stacked, len(target_squares), members)
    out = {"w": common[..., 0]}
    if y is not None:
        out["y"], out["yy"] = common[..., 1], common[..., 2]
    n_layer_squares = 2 if y is None else 3
    layer_sums = np.empty((n_layer_squares, m, n_parts, x.shape[0]))
    i, j = geometry._triu_indices(n)
    buffer = np.zeros((n, n_layer_squares, n))  # [X | X o X | X o Y] side by side, row by row (reused)
    xsq = buffer[:, 0, :]  # its diagonal stays 0
    for layer, row in enumerate(np.atleast_2d(x)):
        xsq[i, j] = row
        xsq[j, i] = row
        np.multiply(xsq, xsq, out=buffer[:, 1, :])
        if y is not None:
            np.multiply(xsq, ysq, out=buffer[:, 2, :])
        layer_sums[:, :, :, layer] = np.moveaxis(
            _part_quads(weights, buffer.reshape(n, n_layer_squares * n), n_layer_squares, members), -1, 0)
    out["x"], out["xx"] = layer_sums[0], layer_sums[1]
    if y is not None:
        out["xy"] = layer_sums[2]
    return out


#: Bytes the layers masked to each part may take (`PairParts`): below it a chunk's target sums are two
#: matrix products over all pairs; above it (thousands of sounds) each part's pairs are gathered instead.
MASKED_BYTES = 256 * 2 ** 20


class PairParts:
    """The pairs of each part (module docstring) and the layers' values on them, formed once for every chunk of
    resamples of a two-factor bootstrap. Small sets keep the layers masked to each part side by side (one
    matrix product then serves every part, and the targets are read twice, not once per part); large
    sets keep each part's pairs and gather them."""

    def __init__(self, x: np.ndarray, halves: np.ndarray):
        self.x = np.ascontiguousarray(np.atleast_2d(x), dtype=np.float64)
        n_layers, n_pairs = self.x.shape
        self.n = n_items(n_pairs)
        self.i, self.j = geometry._triu_indices(self.n)
        masks = [np.ones(n_pairs, dtype=bool)]
        for h in np.atleast_2d(np.asarray(halves, dtype=bool)) if np.size(halves) else []:
            masks += [h[self.i] & h[self.j], ~h[self.i] & ~h[self.j]]
        self.n_parts = len(masks)
        if self.n_parts * (n_layers + 1) * n_pairs * 8 <= MASKED_BYTES:
            self.masks = np.array(masks, dtype=np.float64)  # [parts, n_pairs]
            self.masked = (self.masks[:, None, :] * self.x[None]).reshape(-1, n_pairs)  # [parts * layers, n_pairs]
            self.pairs = None
        else:
            self.pairs = [np.flatnonzero(m) for m in masks[1:]]
            self.x_parts = [np.ascontiguousarray(self.x[:, p]) for p in self.pairs]


def target_split_sums(parts: PairParts, targets: np.ndarray, weights: np.ndarray | None) -> dict[str, np.ndarray]:
    """The target's Pearson sums when each row has its own target (two-factor bootstrap).

    targets `[m, n_pairs]`, standardised row by row; weights `[m, n]` (bootstrap counts of the sounds) or None
    (every sound once: the listeners-only resamples). Returns y, yy `[m, 1 + 2K]` and xy `[m, 1 + 2K,
    n_layers]` (parts: module docstring; the sums without the target come from `split_sums`). A row whose
    target is not finite gives NaN.
    """
    targets = np.atleast_2d(np.asarray(targets, dtype=np.float64))
    m, n_layers = targets.shape[0], parts.x.shape[0]
    v = targets if weights is None else targets * (weights[:, parts.i] * weights[:, parts.j])
    t = v * targets
    if parts.pairs is None:  # every part in one product (the layers masked to each part)
        s_y, s_yy = v @ parts.masks.T, t @ parts.masks.T
        s_xy = (v @ parts.masked.T).reshape(m, parts.n_parts, n_layers)
    else:
        s_y, s_yy = np.empty((m, parts.n_parts)), np.empty((m, parts.n_parts))
        s_xy = np.empty((m, parts.n_parts, n_layers))
        s_y[:, 0], s_yy[:, 0], s_xy[:, 0] = v.sum(axis=1), t.sum(axis=1), v @ parts.x.T
        for p, (pairs, xp) in enumerate(zip(parts.pairs, parts.x_parts), start=1):
            vp = v[:, pairs]
            s_y[:, p], s_yy[:, p], s_xy[:, p] = vp.sum(axis=1), t[:, pairs].sum(axis=1), vp @ xp.T
    bad = ~np.all(np.isfinite(targets), axis=1)
    s_y[bad], s_yy[bad], s_xy[bad] = np.nan, np.nan, np.nan
    return {"y": s_y, "yy": s_yy, "xy": s_xy}


def pearson_parts(sums: dict[str, np.ndarray], few: np.ndarray | None = None) -> np.ndarray:
    """`[m, 1 + 2K, n_layers]` Pearson r from `split_sums` (and `target_split_sums`) sums; NaN where `few`
    `[m, 1 + 2K]` (from `distinct_parts`) says a part holds fewer than two distinct pairs."""
    r = pearson_from_sums(sums["w"][..., None], sums["x"], sums["y"][..., None], sums["xx"], sums["yy"][..., None],
                           sums["xy"])
    return r if few is None else np.where(few[..., None], np.nan, r)
