"""Resampling draws, shared by every model on a set: the seed's independent streams, bootstrap counts of
sounds and listeners, random half-splits and permutations.

A bootstrap resample of n sounds is a vector of counts c (how often each sound was drawn); every model
scored on the same set with the same seed gets the same draws, which is what paired comparisons need
(docs/metrics.md, "Paired inference"). The streams of `streams(seed)`: 0 the bootstrap, 1 the
permutations, 2 the cross-validation splits, 3 the noise ceiling; `LISTENER_STREAM` the listener draws.
"""

from __future__ import annotations

import dataclasses

import numpy as np


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


def with_complements(halves: np.ndarray) -> np.ndarray:
    """`[2 k, n]` bool: each half followed by its complement (h_0, ~h_0, h_1, ~h_1, ...), the two sides of every
    split in the order the cross-validated headlines read them."""
    out = np.empty((2 * halves.shape[0], halves.shape[1]), dtype=bool)
    out[0::2], out[1::2] = halves, ~halves
    return out


def random_permutations(rng: np.random.Generator, n: int, n_perm: int) -> np.ndarray:
    """`[n_perm, n]` independent uniform permutations of range(n)."""
    return np.argsort(rng.random((n_perm, n)), axis=1)


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


#: The stream of the folds of an encoding model's held-out predictions (`ResamplePlan.folds`).
FOLD_STREAM = 5


def listener_draws(seed: int, n_listeners: int, n_resamples: int) -> np.ndarray:
    """`[n_resamples, n_listeners]` bootstrap counts of the listeners: the same for every model and
    task on a set with that many listeners and that seed (shared resamples)."""
    return bootstrap_counts(streams(seed, LISTENER_STREAM + 1)[LISTENER_STREAM], n_listeners, n_resamples)


#: Fixed half-splits per bootstrap resample behind the cross-validated headline's replicates (the first
#: of the estimate's cv_splits, the same in every resample): `intervals.split_variance` removes their noise,
#: so a few suffice (the variance estimate's own noise grows by about (1 + 3/K) at the split noise measured
#: on the embedded set, docs/metrics.md); more cost time in every resample.
HEADLINE_SPLITS = 4


def expanded_pairs(condensed: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The resampled RDM's pair values: pair (i, j) repeated c_i c_j times (self-pairs excluded)."""
    i, j = np.triu_indices(counts.size, k=1)
    reps = counts[i] * counts[j]
    return np.repeat(condensed, reps)


@dataclasses.dataclass(frozen=True)
class ResamplePlan:
    """The draws of one seed, by name: every model scored on a set with this seed gets the same ones.

    Each kind of draw has its own stream, an independent child of the seed's SeedSequence (children are
    numbered, so adding a kind never changes the others): the bootstrap of the sounds, the permutations
    of the Mantel test, the cross-validation's half-splits, the noise ceiling's listener halves, the
    listener bootstrap and the folds of an encoding model. A method returns a fresh generator at the start of its stream: a task takes it
    once and draws from it in order. The evaluation context carries the plan (`EvalContext.plan`)."""

    seed: int

    def bootstrap(self) -> np.random.Generator:
        return streams(self.seed)[0]

    def permutations(self) -> np.random.Generator:
        return streams(self.seed)[1]

    def splits(self) -> np.random.Generator:
        return streams(self.seed)[2]

    def ceiling(self) -> np.random.Generator:
        return streams(self.seed)[3]

    def listeners(self) -> np.random.Generator:
        return streams(self.seed, LISTENER_STREAM + 1)[LISTENER_STREAM]

    def folds(self) -> np.random.Generator:
        """The k-fold assignment of sounds of an encoding model (`encoding.fold_ids`)."""
        return streams(self.seed, FOLD_STREAM + 1)[FOLD_STREAM]

    def sound_counts(self, n: int, n_resamples: int) -> np.ndarray:
        """`sound_draws(seed, n, n_resamples)`."""
        return sound_draws(self.seed, n, n_resamples)

    def listener_counts(self, n_listeners: int, n_resamples: int) -> np.ndarray:
        """`listener_draws(seed, n_listeners, n_resamples)`."""
        return listener_draws(self.seed, n_listeners, n_resamples)
