"""Noise ceilings: split-half reliability of a target over random halves of the listeners (Spearman-Brown
corrected) and the leave-one-listener-out bounds (Nili et al. 2014; rsatoolbox's boot_noise_ceiling).
"""

from __future__ import annotations

import numpy as np

from audioprobe.metrics.pearson import PERMUTATION_CHUNK_BYTES, TARGET_CHUNK_BYTES, factored_pearson
from audioprobe.metrics.resampling import random_halves
from audioprobe.metrics.responses import counts_from_responses


def spearman_brown(r: np.ndarray, factor: float = 2.0) -> np.ndarray:
    """Reliability of a test `factor` times longer: k r / (1 + (k - 1) r) (Spearman 1910; Brown 1910)."""
    r = np.asarray(r, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return factor * r / (1.0 + (factor - 1.0) * r)


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
