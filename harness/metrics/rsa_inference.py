"""RSA inference: every statistic of an RSA score (bootstrap over sounds, or sounds and listeners; the
Mantel test; the cross-validated headline and its replicates), vectorised over layers, resamples and
permutations, on a backend's products (`backends.py`). `rsa_statistics` computes them all in one call.

Two-factor bootstrap (`listener_targets` given: weights `[m, n_listeners]` -> the `[m, n_pairs]`
targets built from those listeners; n_listeners >= 3): replicate b resamples the sounds with sound
draw b (the draws of a sounds-only run, unchanged) and the listeners with listener draw b
(`listener_draws`), the target being rebuilt from the drawn listeners. Then bootstrap and
cv_bootstrap hold these "both" replicates; bootstrap_sounds, cv_bootstrap_sounds (sound draw b, all
listeners: the one-factor replicates, identical to a sounds-only run) and bootstrap_listeners,
cv_bootstrap_listeners (listener draw b, all sounds, the same K splits) are added, with
listener_counts `[n_bootstrap, n_listeners]`, variance `[L]` (`intervals.dual_bootstrap_variance`)
and dof `[L]` (`intervals.dual_dof`, Satterthwaite), and ci is the t interval score -/+ t(dof)
sqrt(variance).

Comparisons. Spearman statistics rank the pairs of the full set once, then use the Pearson
machinery: exact for permutations (a permutation only reorders the ranks; with missing pairs each
permutation is re-ranked, `permuted_spearman_present`); for bootstrap resamples and half splits an
approximation (the resample's own ranks are not recomputed). Kendall's tau-a has no quadratic form:
it is computed resample by resample and part by part (slow).

Missing pairs. A target with NaN entries (cells of a published matrix nobody rated) is compared on
its present pairs only, by every statistic (score, bootstrap, Mantel test, cross-validation;
`pearson.py`, "Missing pairs"); Spearman ranks the present pairs. A complete target gives exactly the
numbers it always gave. A two-factor bootstrap needs a complete target.

Backend (`backend`): None (`backends.NUMPY`) or another (`backends.for_device("cuda")`: the products on
a GPU, equal within float rounding), used for the Mantel test and the estimate's cross-validation of
Pearson and Spearman RSA, under its thread policy; the bootstrap's split sums run in numpy
(`split_pearson`). The draws are the same either way.
"""

from __future__ import annotations

import numpy as np

from audioprobe.metrics import geometry, intervals, split_pearson
from audioprobe.metrics.backends import NUMPY
from audioprobe.metrics.layer_selection import cross_validated_selection, split_held_out
from audioprobe.metrics.mantel import permutation_p_value, permuted_scores_loop, permuted_spearman_present
from audioprobe.metrics.pearson import TARGET_CHUNK_BYTES, standardised, standardised_present
from audioprobe.metrics.resampling import (
    HEADLINE_SPLITS,
    ResamplePlan,
    expanded_pairs,
    random_halves,
    random_permutations,
)
from audioprobe.metrics.split_pearson import n_items


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
            i, j = geometry._triu_indices(w.size)
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

    listener_targets, n_listeners: a two-factor bootstrap, with the replicates it adds; how Spearman and
    Kendall are computed, missing pairs, and the backend: see the module docstring.
    """
    x = np.atleast_2d(np.asarray(model_rdms, dtype=np.float64))
    y = np.asarray(target_rdm, dtype=np.float64)
    data = _Prepared(x, y, comparison)
    if listener_targets is not None and n_listeners < 3:
        raise ValueError(f"a two-factor bootstrap needs at least 3 listeners, got {n_listeners}")
    if listener_targets is not None and data.mask is not None:
        raise ValueError("a two-factor bootstrap needs a complete target RDM (no missing pairs)")
    plan = ResamplePlan(seed)
    out = _empty(data)
    cv_halves = random_halves(plan.splits(), data.n, cv_splits) if cv_splits > 0 else np.zeros((0, data.n), dtype=bool)
    if n_bootstrap > 0:
        out.update(_bootstrap(data, plan.sound_counts(data.n, n_bootstrap), cv_halves[:HEADLINE_SPLITS], level))
        if listener_targets is not None:
            out.update(_two_factor(data.xf, data.kept, data.n_layers, listener_targets, n_listeners, seed,
                                   out["bootstrap_counts"], cv_halves[:HEADLINE_SPLITS], comparison,
                                   out.pop("_sums"), out))
            out["ci"] = intervals.t_interval(data.score, out["variance"], out["dof"], level)
        out.pop("_sums", None)
    # Small matrix products: one BLAS thread is faster than two on a loaded machine (measured on
    # 2 cores under load 4, 246 sounds: permutations 0.29 -> 0.17 s, CV 0.10 -> 0.02 s); the
    # bootstrap's products, and everything for large sets, keep the default threads.
    products = NUMPY if backend is None else backend
    with products.threads(data.n):
        if n_permutations > 0:
            perms = random_permutations(plan.permutations(), data.n, n_permutations)  # drawn even when unused
            if data.kept.size:
                out["p_value"] = permutation_p_value(data.score, data.spread(_permutation_null(data, perms, products)))
        if cv_splits > 0:
            out["cv_scores"], out["cv_choice"] = cross_validated_selection(*_half_scores(data, cv_halves, products))
    return out


class _Prepared:
    """What every statistic of `rsa_statistics` reads: the score on all sounds, the finite layers' RDMs and
    the target (ranked for a ranked comparison, among the pairs present), the missing pairs' mask."""

    def __init__(self, x: np.ndarray, y: np.ndarray, comparison: str):
        self.comparison = geometry.COMPARISONS[comparison]
        self.name = comparison
        self.n = n_items(y.size)
        self.n_layers = x.shape[0]
        finite = np.all(np.isfinite(x), axis=1)
        present = np.isfinite(y)
        self.mask = None if present.all() else present  # None: the complete-matrix path, unchanged
        self.score = np.full(x.shape[0], np.nan)
        if self.mask is None:
            self.score[finite] = geometry.compare_rows(x[finite], y, comparison)
        elif present.sum() >= 2:
            self.score[finite] = geometry.compare_rows(x[finite][:, present], y[present], comparison)
        # Layers whose RDM is not finite give NaN everywhere (each layer's statistics are computed
        # independently): only the finite rows are computed, and the others are filled with NaN. A partial
        # RSA whose control explains every layer then costs nothing but its draws.
        self.kept = np.flatnonzero(finite)
        self.xf = x[finite]
        self.x_values, self.y_values = self.xf, y  # before ranking (Spearman's Mantel test with missing pairs re-ranks)
        self.y = y
        if self.comparison.ranks and self.mask is None:
            self.xf, self.y = geometry.rank_rows(self.xf), geometry.rank_rows(y)
        elif self.comparison.ranks:  # ranks among the present pairs; the missing ones stay out
            ranked_x, ranked_y = np.zeros(self.xf.shape), np.full(y.shape, np.nan)
            ranked_x[:, present] = geometry.rank_rows(self.xf[:, present])
            ranked_y[present] = geometry.rank_rows(y[present])
            self.xf, self.y = ranked_x, ranked_y

    def spread(self, a: np.ndarray) -> np.ndarray:
        """`[..., n_finite]` -> `[..., n_layers]`, NaN for the other layers."""
        full_a = np.full(a.shape[:-1] + (self.n_layers,), np.nan)
        full_a[..., self.kept] = a
        return full_a

    def compare(self, a, b) -> float:
        return geometry.compare_rows(a, b, self.name)[0]




def _empty(data: _Prepared) -> dict:
    """The statistics before any is computed: NaN intervals and p-values, no replicates."""
    return {"score": data.score, "ci": np.full((data.n_layers, 2), np.nan), "p_value": np.full(data.n_layers, np.nan),
            "cv_scores": np.array([]), "cv_choice": np.array([], dtype=int), "cv_bootstrap": np.empty((0, 0)),
            "bootstrap": np.empty((0, data.n_layers)), "bootstrap_counts": np.empty((0, data.n), dtype=np.int64)}


def _bootstrap(data: _Prepared, counts: np.ndarray, replicate_halves: np.ndarray, level: float) -> dict:
    """Each layer's score on every resample of the sounds and on both halves of the headline's fixed splits
    (the headline's replicates), and the percentile interval. `_sums`: the shared sums a two-factor
    bootstrap reuses (None for a comparison the Pearson engine does not compute)."""
    sums = None
    if data.comparison.linear:
        xs, ys = standardised_present(data.xf, data.mask), standardised_present(data.y, data.mask)
        sums = split_pearson.split_sums(xs, ys, counts, replicate_halves, data.mask)
        few = split_pearson.distinct_parts(counts, split_pearson.part_members(replicate_halves), data.mask)
        parts = data.spread(split_pearson.pearson_parts(sums, few)) if data.kept.size else np.full(
            (counts.shape[0], 1 + 2 * len(replicate_halves), data.n_layers), np.nan)
    else:
        parts = data.spread(_parts_loop(data.xf, data.y, counts, replicate_halves, data.name))
    full = parts[:, 0]
    return {"bootstrap": full, "bootstrap_counts": counts, "ci": intervals.percentile_interval(full, level),
            "cv_bootstrap": split_held_out(parts[:, 1::2], parts[:, 2::2]), "_sums": sums}


def _permutation_null(data: _Prepared, perms: np.ndarray, products) -> np.ndarray:
    """Each finite layer's score under every permutation of the sounds (the Mantel test's null)."""
    if data.comparison.ranks and data.mask is not None:
        return permuted_spearman_present(data.x_values, data.y_values, perms)
    if data.comparison.linear:
        return products.permuted_pearson(data.xf, data.y, perms, data.mask)
    return permuted_scores_loop(data.xf, data.y, perms, data.compare)


def _half_scores(data: _Prepared, cv_halves: np.ndarray, products) -> tuple[np.ndarray, np.ndarray]:
    """Each layer's score on each half of each random split (`[cv_splits, n_layers]` twice)."""
    if not data.kept.size:
        nan = np.full((len(cv_halves), data.n_layers), np.nan)
        return nan, nan
    if data.comparison.linear:
        half_a, half_b, _ = products.weighted_pearson_blocks(data.xf, data.y, [cv_halves, ~cv_halves], data.mask)
        return data.spread(half_a), data.spread(half_b)
    return tuple(data.spread(resampled_scores_loop(data.xf, data.y, w.astype(np.int64), data.compare))
                 for w in (cv_halves, ~cv_halves))


def _parts_loop(x, y, weights, halves, comparison) -> np.ndarray:
    """`[m, 1 + 2K, n_layers]` scores of any comparison on each weight row and each half of each split (the
    parts of `split_pearson`), one explicit resample at a time (Kendall's tau-a; slow). y `[n_pairs]`, or
    `[m, n_pairs]` (a target per row)."""
    def compare(a, b):
        return geometry.compare_rows(a, b, comparison)[0]

    weights = np.asarray(weights, dtype=np.int64)
    part_weights = [weights] + [weights * h for half in halves for h in (half, ~half)]
    return np.stack([resampled_scores_loop(x, y, w, compare) for w in part_weights], axis=1)


def _two_factor(xf, kept, n_layers, listener_targets, n_listeners, seed, counts, halves, comparison, sums,
                sounds_only) -> dict:
    """The listener and both-factor replicates of `rsa_statistics` (see there), chunk by chunk of
    resamples: the target of listener draw b is built once and serves both kinds. The sums without the
    target are those of the sounds-only resamples (`sums`: the same weights) and, for the listeners
    kind, of one row of ones (every resample keeps every sound)."""
    n_bootstrap, n = counts.shape
    listeners = ResamplePlan(seed).listener_counts(n_listeners, n_bootstrap)
    n_parts = 1 + 2 * len(halves)
    kinds = {"both": np.full((n_bootstrap, n_parts, n_layers), np.nan),
             "listeners": np.full((n_bootstrap, n_parts, n_layers), np.nan)}
    # rows per chunk: the targets of a chunk within TARGET_CHUNK_BYTES, but at least 8 rows (each
    # pass reads the model RDMs once) and at most 128
    n_pairs = n * (n - 1) // 2
    chunk = int(min(128, max(8, TARGET_CHUNK_BYTES // (8 * max(n_pairs, 1)))))
    if kept.size and sums is not None:
        xs = standardised(xf)
        pairs = split_pearson.PairParts(xs, halves)
        free = split_pearson.split_sums(xs, None, np.ones((1, n)), halves)
        few = split_pearson.distinct_parts(counts, split_pearson.part_members(halves))
    for start in range(0, n_bootstrap if kept.size else 0, chunk):
        rows = slice(start, start + chunk)
        targets = np.asarray(listener_targets(listeners[rows]), dtype=np.float64)
        if geometry.COMPARISONS[comparison].ranks:
            targets = geometry.rank_rows(targets)
        if sums is None:  # Kendall's tau-a: resample by resample
            kinds["both"][rows][..., kept] = _parts_loop(xf, targets, counts[rows], halves, comparison)
            kinds["listeners"][rows][..., kept] = _parts_loop(xf, targets, np.ones_like(counts[rows]), halves,
                                                              comparison)
            continue
        ys = standardised(targets)
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
