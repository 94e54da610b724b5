"""ABX discriminability of categories from a distance matrix, exact over all triplets.

For categories a != b: A and X are two different sounds of category a, B a sound of b. The
triplet is an error when d(A, X) > d(B, X), half an error when d(A, X) == d(B, X) (Schatz et
al. 2013, "Evaluating speech features with the Minimal-Pair ABX task", eq. 1-2; ties counted
half as in their implementation). The error of the ordered pair (a, b), a *cell*, is the mean over
all its triplets. "By" another dimension: A, B and X share its value g, and the cells are
(g, a, b).

One structure, fixed on the full set (`abx_structure`). Strata are (g, category). The cell
(g, a, b) exists iff stratum (g, a) holds at least `MIN_A_SOUNDS` = 8 sounds and stratum (g, b) at
least `MIN_B_SOUNDS` = 4: then each half of a split stratified by (g, category) holds 4 distinct
A/X sounds and 2 B sounds, so every cell is defined in every half (and, with positive weights, in
every resample), and the halves are large enough for the headline's interval (see `MIN_A_SOUNDS`).
The pair {a, b} of group g scores the mean of its existing directions (e(a, b) and/or e(b, a)), a
group the mean of its pairs, the score the mean of its groups (`combine`). The structure is decided once and used unchanged for the estimate, every resample and every half: no
cell drops out and nothing is reweighted. A cell undefined under some weight vector (no triplet of
positive weight) makes that vector's whole score NaN. Cells left out for too few sounds are listed
(`Structure.excluded`). Chance is 0.5.

Weights generalise the mean: triplet (X, A, B) weighs w_X w_A w_B; X paired with itself as A
(the same sound index) is excluded. The resampling draws (`bayesian_bootstrap_weights`) are the
Bayesian bootstrap (Rubin 1981); the half-splits (`stratified_halves`) are drawn within strata.
A half's error involves only the sounds of that half: `structure_errors` scores each half on the
cells restricted to the half's sounds (index arrays), not on full-size weight vectors.
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: Sounds a stratum (by-value, category) needs to serve as A and X: 4 in each half of a stratified split.
#: The definition needs 2 (X always has an A other than itself), and 4 (2 per half) keeps every cell
#: defined, but the cross-validated headline's interval needs more: scored on halves of strata of 2 or 3
#: sounds, a half-cell holds a handful of triplets whose resampling (any bootstrap: it cannot draw new
#: sounds) shows a fraction of their variability over new sounds. Simulated (random labels, 8 layers,
#: strata of about 14 sounds): the headline's 95% interval covered 74% with 2 per half, 92% with 4;
#: with strata of about 28 sounds, 97.5% either way (docs/metrics.md, `abx`).
MIN_A_SOUNDS = 8
#: Sounds a stratum needs to serve as B: 2 in each half of a stratified split (the same reasoning).
MIN_B_SOUNDS = 4


@dataclasses.dataclass(frozen=True)
class Cell:
    """An ordered pair of categories (a: A and X, b: B) inside one value of the "by" dimension."""

    group: int
    a: int
    b: int
    idx_a: np.ndarray
    idx_b: np.ndarray


@dataclasses.dataclass(frozen=True)
class Structure:
    """The cells an ABX score averages, decided once on the full set (module docstring).

    cells: the cells scored; excluded: the ordered pairs of categories present together in a group
    but left out (dicts: group, a, b codes, n_a, n_b sounds, reason); strata `[n]`: a code per
    (group, category) stratum for each sound in a cell, -1 for the others; used: the sounds in at
    least one cell (sorted indices).
    """

    cells: tuple[Cell, ...]
    excluded: tuple[dict, ...]
    strata: np.ndarray
    min_a: int = MIN_A_SOUNDS
    min_b: int = MIN_B_SOUNDS

    @property
    def used(self) -> np.ndarray:
        return np.flatnonzero(self.strata >= 0)

    @property
    def n_triplets(self) -> int:
        return int(sum(c.idx_a.size * (c.idx_a.size - 1) * c.idx_b.size for c in self.cells))

    def on_used(self) -> "Structure":
        """The same cells over the used sounds only, renumbered 0..len(used)-1 in index order (their
        strata are whole: a sound in no cell never shares a stratum with one in a cell)."""
        used = self.used
        cells = tuple(dataclasses.replace(c, idx_a=np.searchsorted(used, c.idx_a), idx_b=np.searchsorted(used, c.idx_b))
                      for c in self.cells)
        return dataclasses.replace(self, cells=cells, strata=self.strata[used])


def abx_structure(labels: np.ndarray, by: np.ndarray | None = None, min_a: int = MIN_A_SOUNDS,
                  min_b: int = MIN_B_SOUNDS) -> Structure:
    """The cells of an ABX score (module docstring): (g, a, b) with >= min_a sounds of stratum (g, a)
    and >= min_b of (g, b); the others listed as excluded.

    labels `[n]` int category codes, -1 for sounds left out; by `[n]` int codes (-1: left out) or
    None. min_a >= 2 and min_b >= 1 are the definition's own minimum (one triplet).
    """
    labels = np.asarray(labels)
    by = np.zeros_like(labels) if by is None else np.asarray(by)
    if min_a < 2 or min_b < 1:
        raise ValueError(f"min_a must be >= 2 and min_b >= 1, got {min_a}, {min_b}")
    cells, excluded = [], []
    strata = np.full(labels.shape, -1, dtype=np.int64)
    for g in np.unique(by[(by >= 0) & (labels >= 0)]):
        in_g = (by == g) & (labels >= 0)
        cats = np.unique(labels[in_g])
        members = {int(c): np.flatnonzero(in_g & (labels == c)) for c in cats}
        for a, ia in members.items():
            for b, ib in members.items():
                if b == a:
                    continue
                if ia.size >= min_a and ib.size >= min_b:
                    cells.append(Cell(int(g), a, b, ia, ib))
                    continue
                why = []
                if ia.size < min_a:
                    why.append(f"{ia.size} sound(s) of a (A and X need >= {min_a})")
                if ib.size < min_b:
                    why.append(f"{ib.size} sound(s) of b (B needs >= {min_b})")
                excluded.append({"group": int(g), "a": a, "b": b, "n_a": int(ia.size), "n_b": int(ib.size),
                                 "reason": "; ".join(why)})
    code = 0
    for key in sorted({(c.group, c.a) for c in cells} | {(c.group, c.b) for c in cells}):
        strata[(by == key[0]) & (labels == key[1])] = code
        code += 1
    return Structure(tuple(cells), tuple(excluded), strata, min_a, min_b)


def abx_cells(labels: np.ndarray, by: np.ndarray | None = None, min_a: int = MIN_A_SOUNDS,
              min_b: int = MIN_B_SOUNDS) -> list[Cell]:
    """The cells of `abx_structure`."""
    return list(abx_structure(labels, by, min_a, min_b).cells)


# ---------------------------------------------------------------------------------------------
# Resampling: Bayesian bootstrap weights and stratified half-splits

def bayesian_bootstrap_weights(rng: np.random.Generator, n: int, n_resamples: int) -> np.ndarray:
    """`[n_resamples, n]` weights: n x Dirichlet(alpha, ..., alpha), alpha = (n - 1)/n.

    The Bayesian bootstrap (Rubin 1981, Ann. Stat. 9:130) with the concentration chosen so that the
    weights have the multinomial bootstrap counts' first two moments: mean 1, variance (n - 1)/n,
    covariance -1/n (Dirichlet: Var p_i = (1/n)(1 - 1/n)/(n alpha + 1), Cov = -(1/n^2)/(n alpha + 1),
    with n alpha + 1 = n). A linear statistic (a weighted mean) then has Efron's bootstrap variance
    exactly; exchangeable weighted bootstraps are consistent like Efron's (Praestgaard & Wellner 1993,
    Ann. Probab. 21:2053). Every weight is positive, so no sound (and no ABX cell) is ever absent.
    """
    if n < 2:
        raise ValueError(f"the Bayesian bootstrap needs n >= 2 items, got {n}")
    if n_resamples <= 0:
        return np.empty((0, n))
    return n * rng.dirichlet(np.full(n, (n - 1) / n), size=n_resamples)


def stratified_halves(rng: np.random.Generator, strata: np.ndarray, n_splits: int) -> np.ndarray:
    """`[n_splits, n]` bool: random halves drawn within each stratum.

    strata `[n]` int codes (-1: in no stratum, never in the half). Each stratum's sounds are split
    floor/ceil at random; which half gets the odd one out is a fair coin per stratum and split. The
    complement (`~h` on the sounds with a stratum) is the other half.
    """
    strata = np.asarray(strata)
    n = strata.size
    keys = rng.random((n_splits, n))
    codes = np.unique(strata[strata >= 0])
    coins = rng.random((n_splits, codes.size)) < 0.5
    halves = np.zeros((n_splits, n), dtype=bool)
    for j, s in enumerate(codes):
        idx = np.flatnonzero(strata == s)
        ranks = np.argsort(np.argsort(keys[:, idx], axis=1), axis=1)
        take = idx.size // 2 + (idx.size % 2) * coins[:, j]
        halves[:, idx] = ranks < take[:, None]
    return halves


# ---------------------------------------------------------------------------------------------
# Errors

#: Bytes one block of triplet errors (or of the weights' products) may occupy: cells are processed a
#: few layers, A sounds and X sounds at a time so that memory stays bounded on large sets.
BLOCK_BYTES = 64 * 2 ** 20


def _part_sums(distances: np.ndarray, xd_a: np.ndarray, xd_b: np.ndarray, wa: np.ndarray,
               wb: np.ndarray) -> np.ndarray:
    """Weighted error sums of parts of one cell, for every layer, parts padded to the same numbers of sounds.

    distances `[L, n, n]` (a layer's square distances per row); xd_a `[P, k_a]`: each part's A/X sounds
    (indices into distances), xd_b `[P, k_b]` its B sounds; wa `[P, k_a, m]`, wb `[P, k_b, m]` their
    weights (0 on padding). -> `[L, P, m]`: the sum over the part's triplets (X, A != X, B) of
    err(X, A, B) w_X w_A w_B. With KR the Khatri-Rao product of the A and B weights (`[(a, b), m]`,
    formed once for every layer) and E the errors (`[(layer, x), (a, b)]`, 0 where A is X), the sums
    are w_x . (E @ KR): one matrix product per part for all layers (compute-bound). Blocks of A sounds,
    layers and X rows keep every array within BLOCK_BYTES.
    """
    n_layers = distances.shape[0]
    n_parts, ka = xd_a.shape
    kb, m = xd_b.shape[1], wa.shape[2]
    num = np.zeros((n_layers, n_parts, m))
    a_step = int(min(ka, max(1, BLOCK_BYTES // (8 * n_parts * kb * m))))
    for a0 in range(0, ka, a_step):
        a1 = min(a0 + a_step, ka)
        kr = (wa[:, a0:a1, None, :] * wb[:, None, :, :]).reshape(n_parts, -1, m)  # [P, (a, b), m]
        per_row = 8 * n_parts * (a1 - a0) * kb  # bytes of the errors of one layer's X row
        rows = int(min(ka, max(1, BLOCK_BYTES // per_row)))
        layers = int(min(n_layers, max(1, BLOCK_BYTES // (per_row * ka)))) if rows == ka else 1
        for l0 in range(0, n_layers, layers):
            dd = distances[l0:l0 + layers]
            nl = dd.shape[0]
            for r0 in range(0, ka, rows):
                r1 = min(r0 + rows, ka)
                x = xd_a[:, r0:r1, None]  # [P, r, 1]
                err = dd[:, x, xd_a[:, None, a0:a1]][..., None] - dd[:, x, xd_b[:, None, :]][:, :, :, None, :]
                np.heaviside(err, 0.5, out=err)  # [l, P, r, a, k_b]: 1 if d(A, X) > d(B, X), 1/2 if equal, else 0
                own = np.arange(max(r0, a0), min(r1, a1))
                err[:, :, own - r0, own - a0, :] = 0.0  # X is never its own A
                flat = err.transpose(1, 0, 2, 3, 4).reshape(n_parts, nl * (r1 - r0), -1)
                g = np.matmul(flat, kr).reshape(n_parts, nl, r1 - r0, m)  # [P, l, r, m]
                num[l0:l0 + nl] += np.einsum("plrm,prm->lpm", g, wa[:, r0:r1])
    return num


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _members(idx: np.ndarray, members: np.ndarray, pad: int) -> np.ndarray:
    """`[P, k]`: the indices idx[members[j]] of each part j (in order), padded with `pad` to the largest."""
    k = int(members.sum(axis=1).max(initial=0))
    order = np.argsort(~members, axis=1, kind="stable")[:, :k]  # the members first, in order
    return np.where(np.take_along_axis(members, order, axis=1), idx[order], pad)


def cell_errors(distances: np.ndarray, cell: Cell, weights: np.ndarray | None = None, parts: np.ndarray | None = None,
                whole: bool = True, weights_t: np.ndarray | None = None) -> np.ndarray:
    """Weighted mean error of one cell: `[whole + n_parts, m]`, or `[L, whole + n_parts, m]` for a stack of
    distance matrices `[L, n, n]` (NaN where no triplet has weight).

    weights `[m, n]`, or None: every sound weighs 1 (m = 1); 0/1 weights give exact counts. A NaN
    distance between the cell's sounds (e.g. an all-zero activation under cosine distance) makes the
    cell NaN in every row of that layer. parts `[n_parts, n]` bool subsets of the sounds (halves) or
    None. Row 0 (when `whole`): the cell on all its sounds under each weight vector; then one row per
    part j: the cell restricted to the sounds of part j (its A/X and B sounds in the part, as index
    arrays: the other sounds cost nothing), under the same weights, the parts computed together, each
    padded to the largest with a sound of weight 0 (a stratified split's halves differ by at most one
    sound). weights_t: `weights.T` with a row of zeros appended (the padding's weight), if already made.
    """
    d = np.asarray(distances, dtype=np.float64)
    stacked = d.ndim == 3
    d = d if stacked else d[None]
    n = d.shape[1]
    parts = np.zeros((0, n), dtype=bool) if parts is None else np.atleast_2d(parts)
    ia, ib = cell.idx_a, cell.idx_b
    weights = np.ones((1, n)) if weights is None else np.atleast_2d(np.asarray(weights, dtype=np.float64))
    m = weights.shape[0]
    if weights_t is None:
        weights_t = np.vstack([weights.T, np.zeros((1, m))])  # [n + 1, m]; row n: the padding
    groups = [(ia[None], ib[None])] if whole else []
    if parts.shape[0]:
        groups.append((_members(ia, parts[:, ia], n), _members(ib, parts[:, ib], n)))
    out = []
    for xa, xb in groups:
        wa, wb = weights_t[xa], weights_t[xb]  # [P, k, m]
        sa = wa.sum(axis=1)
        den = (sa * sa - (wa * wa).sum(axis=1)) * wb.sum(axis=1)  # sum_{x != a} w_x w_a sum_b w_b
        num = _part_sums(d, np.where(xa < n, xa, 0), np.where(xb < n, xb, 0), wa, wb)  # padding: weight 0
        out.append(_ratio(num, den[None]))
    errors = np.concatenate(out, axis=1) if out else np.empty((d.shape[0], 0, m))
    undefined = np.isnan(d[:, ia][:, :, np.concatenate([ia, ib])]).any(axis=(1, 2))  # [L]
    errors[undefined] = np.nan
    return errors if stacked else errors[0]


def combine(structure: Structure | list[Cell], errors: np.ndarray) -> np.ndarray:
    """The score from its cells' errors: mean of the existing directions of each pair {a, b} of a group,
    mean over the pairs of each group, mean over the groups (plain means, module docstring).

    errors `[n_cells, *S]` in the structure's cell order -> `[*S]`. A NaN cell makes the score NaN
    (nothing is left out or reweighted). No cell: NaN.
    """
    cells = structure.cells if isinstance(structure, Structure) else structure
    errors = np.asarray(errors, dtype=np.float64)
    if not len(cells):
        return np.full(errors.shape[1:], np.nan)
    pairs: dict[tuple[int, int, int], list[int]] = {}
    for k, c in enumerate(cells):
        pairs.setdefault((c.group, min(c.a, c.b), max(c.a, c.b)), []).append(k)
    groups: dict[int, list[np.ndarray]] = {}
    for (g, _, _), ks in pairs.items():
        groups.setdefault(g, []).append(errors[ks].mean(axis=0))
    return np.stack([np.stack(v).mean(axis=0) for v in groups.values()]).mean(axis=0)


def structure_errors(distances: np.ndarray, structure: Structure, weights: np.ndarray | None = None,
                     parts: np.ndarray | None = None, whole: bool = True) -> np.ndarray:
    """The score (`combine`) under each weight vector, on all sounds (when `whole`) and on each part:
    `[whole + n_parts, m]`, or `[L, whole + n_parts, m]` for a stack of distance matrices `[L, n, n]`
    (weights `[m, n]`, or None: every sound weighs 1, m = 1; parts `[n_parts, n]` bool; `cell_errors`)."""
    d = np.asarray(distances, dtype=np.float64)
    weights = np.ones((1, d.shape[-1])) if weights is None else np.atleast_2d(np.asarray(weights, dtype=np.float64))
    weights_t = np.vstack([weights.T, np.zeros((1, weights.shape[0]))])
    errors = np.stack([cell_errors(d, c, weights, parts, whole, weights_t) for c in structure.cells])
    return combine(structure, errors)


def abx_error(distances: np.ndarray, labels: np.ndarray, by: np.ndarray | None = None,
              weights: np.ndarray | None = None, min_a: int = MIN_A_SOUNDS, min_b: int = MIN_B_SOUNDS) -> np.ndarray:
    """ABX error (module docstring) from a square distance matrix `[n, n]`, for each weight vector.

    weights `[m, n]` (default: one vector of ones, the plain score) -> `[m]`; NaN when the structure
    has no cell, or for a weight vector under which one of its cells has no triplet of positive weight.
    min_a, min_b: `abx_structure` (2 and 1 give every cell the definition allows).
    """
    d = np.asarray(distances, dtype=np.float64)
    w = None if weights is None else np.atleast_2d(np.asarray(weights, dtype=np.float64))
    structure = abx_structure(labels, by, min_a, min_b)
    if not structure.cells:
        return np.full(1 if w is None else w.shape[0], np.nan)
    return structure_errors(d, structure, w)[0]
