"""ABX discriminability of categories from a distance matrix, exact over all triplets.

For categories a != b: A and X are two different sounds of category a, B a sound of b. The
triplet is an error when d(A, X) > d(B, X), half an error when d(A, X) == d(B, X) (Schatz et
al. 2013, "Evaluating speech features with the Minimal-Pair ABX task", eq. 1-2; ties counted
half as in their implementation). The error of the ordered pair (a, b) is the mean over all its
triplets; it is symmetrised, e(a, b) and e(b, a) averaged; then averaged over the pairs of
categories. "By" another dimension: A, B and X share its value; the score is the mean over its
values of the mean over pairs within that value. Chance is 0.5.

Weights generalise the mean: triplet (X, A, B) weighs w_X w_A w_B (bootstrap counts, or 0/1
subset membership); X paired with a copy of itself as A is excluded, like the self-pairs of
the RSA bootstrap.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np


@dataclasses.dataclass(frozen=True)
class Cell:
    """An ordered pair of categories (a: A and X, b: B) inside one value of the "by" dimension."""

    group: int
    a: int
    b: int
    idx_a: np.ndarray
    idx_b: np.ndarray


def abx_cells(labels: np.ndarray, by: np.ndarray | None = None) -> list[Cell]:
    """Every ordered pair of categories with >= 2 sounds of a and >= 1 of b, per "by" value.

    labels `[n]` int category codes, -1 for sounds left out; by `[n]` int codes or None.
    """
    labels = np.asarray(labels)
    by = np.zeros_like(labels) if by is None else np.asarray(by)
    cells = []
    for g in np.unique(by[by >= 0]):
        in_g = (by == g) & (labels >= 0)
        cats = np.unique(labels[in_g])
        for a in cats:
            ia = np.nonzero(in_g & (labels == a))[0]
            if ia.size < 2:
                continue
            for b in cats:
                if b != a:
                    cells.append(Cell(int(g), int(a), int(b), ia, np.nonzero(in_g & (labels == b))[0]))
    return cells


#: Bytes one block of triplet errors (or their weighted sums) may occupy: cells are processed a
#: few X sounds at a time so that memory stays bounded on large sets.
BLOCK_BYTES = 64 * 2 ** 20


def error_tensor(distances: np.ndarray, cell: Cell, rows: slice = slice(None)) -> np.ndarray:
    """`[n_x, n_a (A), n_b (B)]` for the cell's X sounds `rows`: 1 if d(A,X) > d(B,X), 0.5 if equal,
    else 0; 0 where A is X."""
    xs = cell.idx_a[rows]
    d_ax = distances[np.ix_(xs, cell.idx_a)]  # [X, A]
    d_bx = distances[np.ix_(xs, cell.idx_b)]  # [X, B]
    diff = d_ax[:, :, None] - d_bx[:, None, :]
    err = (diff > 0) + 0.5 * (diff == 0)
    x_pos = np.arange(cell.idx_a.size)[rows]
    err[np.arange(xs.size), x_pos, :] = 0.0
    return err


def cell_errors(distances: np.ndarray, cell: Cell, weights: np.ndarray) -> np.ndarray:
    """Weighted mean error of one cell for each weight vector `[m, n]` -> `[m]` (NaN if no triplet)."""
    wa = weights[:, cell.idx_a]
    wb = weights[:, cell.idx_b]
    na, nb, m = cell.idx_a.size, cell.idx_b.size, weights.shape[0]
    step = max(1, BLOCK_BYTES // (8 * na * max(nb, m)))
    num = np.zeros(m)
    for start in range(0, na, step):
        rows = slice(start, start + step)
        err = error_tensor(distances, cell, rows)
        t = (err.reshape(-1, nb) @ wb.T).reshape(err.shape[0], na, m)  # [X, A, m]
        num += np.einsum("xam,mx,ma->m", t, wa[:, rows], wa)
    sa, sb = wa.sum(axis=1), wb.sum(axis=1)
    den = (wa * (sa[:, None] - wa)).sum(axis=1) * sb
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def combine(cells: list[Cell], errors: np.ndarray) -> np.ndarray:
    """Symmetrise over (a, b), (b, a); mean over pairs in each group; mean over groups.

    errors `[n_cells, m]` -> `[m]`. Undefined cells (NaN) are left out of every mean.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN slice: the mean is NaN
        pairs: dict[tuple[int, int, int], list[int]] = {}
        for k, c in enumerate(cells):
            pairs.setdefault((c.group, min(c.a, c.b), max(c.a, c.b)), []).append(k)
        groups: dict[int, list[np.ndarray]] = {}
        for (g, _, _), ks in pairs.items():
            groups.setdefault(g, []).append(np.nanmean(errors[ks], axis=0))
        per_group = [np.nanmean(np.stack(v), axis=0) for v in groups.values()]
        if not per_group:
            return np.full(errors.shape[1] if errors.ndim == 2 else 1, np.nan)
        return np.nanmean(np.stack(per_group), axis=0)


def abx_error(distances: np.ndarray, labels: np.ndarray, by: np.ndarray | None = None,
              weights: np.ndarray | None = None) -> np.ndarray:
    """ABX error (module docstring) from a square distance matrix `[n, n]`, for each weight vector.

    weights `[m, n]` (default: one vector of ones, the plain score) -> `[m]`.
    """
    d = np.asarray(distances, dtype=np.float64)
    w = np.ones((1, d.shape[0])) if weights is None else np.atleast_2d(np.asarray(weights, dtype=np.float64))
    cells = abx_cells(labels, by)
    if not cells:
        return np.full(w.shape[0], np.nan)
    errors = np.stack([cell_errors(d, c, w) for c in cells])
    return combine(cells, errors)
