"""Matched training sizes: transfer and baseline probes paired at equal training-set sizes.

The baseline's probes see (k-1)/k of the test subset, which may be far fewer sounds than the
transfer probe sees (24 against 149 on one split of the paper), so "transfer minus baseline" mixes
the cost of transfer with the size of the training set. `matched_plan` pairs the two at equal
sizes: for each baseline outer fold f, m_f = min(n_train, size of fold f's training part); a
matched transfer probe is trained on a class-stratified random subsample of m_f training sounds
(`stratified_subsample`) and a matched baseline probe on m_f sounds of the fold's training part
(the fold's own baseline probe when that part has m_f sounds already), both predicting fold f's
held-out sounds. Subsamples come from generators keyed by the seed and the fold only (the same
sounds for every model: paired comparisons).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from audioprobe.metrics.probing.baseline import baseline_folds

#: Spawn key of the matched subsamples' generators: `SeedSequence(seed, spawn_key=(MATCHED_STREAM, fold,
#: 0 for the transfer subsample or 1 for the baseline's))`, apart from every stream `resampling.streams`
#: spawns (keys (0,) to (4,)), so that the bootstrap, split and ceiling draws are unchanged.
MATCHED_STREAM = 100


def matched_rng(seed: int, fold: int, which: int) -> np.random.Generator:
    """The generator of fold `fold`'s matched subsample (which: 0 transfer, 1 baseline): seed and fold only."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(MATCHED_STREAM, fold, which)))


def stratified_subsample(rng: np.random.Generator, labels, m: int) -> np.ndarray | None:
    """Sorted indices of m of the sounds, class-stratified, or None when fewer than 2 classes can be kept.

    m >= the number of sounds: all of them (in order: the same training set, the same probe). Else every
    class with at least 2 sounds keeps 2 (while m allows: the largest classes first, ties in class
    order), so that the subsample's probe can predict the classes the full one can, and every inner
    fold's fitting part holds each kept class; the rest of m goes one sound at a time to the kept
    class furthest below its proportional share m n_c / n (ties in class order). Classes of a single
    sound are left out, unless the kept classes cannot fill m. Within a class the sounds are a
    uniform random draw (rng).
    """
    labels = np.asarray(labels)
    n = labels.size
    if m >= n:
        return np.arange(n)
    classes, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = np.zeros(classes.size, dtype=np.int64)
    eligible = np.flatnonzero(counts >= 2)
    kept = eligible[np.argsort(-counts[eligible], kind="stable")][: m // 2]  # the largest classes first
    if kept.size < 2:
        return None
    quota[kept] = 2
    capacity = np.zeros(classes.size, dtype=np.int64)
    capacity[kept] = counts[kept]
    if capacity.sum() < m:  # only classes of one sound left to fill m with
        capacity = counts.copy()
    share = m * counts / n
    for _ in range(m - int(quota.sum())):
        deficit = np.where(quota < capacity, share - quota, -np.inf)
        quota[int(np.argmax(deficit))] += 1
    picked = [rng.permutation(np.flatnonzero(codes == c))[:q] for c, q in enumerate(quota) if q]
    return np.sort(np.concatenate(picked))


class MatchedFold(NamedTuple):
    """One baseline outer fold's matched pair of probes (`matched_plan`)."""

    held: np.ndarray  #: test-subset positions of the fold's held-out sounds, which both probes predict
    size: int  #: m_f = min(n_train, size of the fold's training part)
    transfer: np.ndarray | None  #: positions in the training subset of the matched transfer probe's sounds
    baseline: np.ndarray | None  #: test-subset positions of the matched baseline probe's sounds
    transfer_reused: bool  #: m_f = n_train: the transfer probe itself (its predictions are reused)
    baseline_reused: bool  #: m_f = the fold's training size: the fold's baseline probe (reused)

    @property
    def fitted(self) -> bool:
        """Both probes can be fitted (each subsample keeps 2 classes or more); else no matched predictions."""
        return self.transfer is not None and self.baseline is not None


def matched_plan(y_train, y_test, n_baseline_folds: int, inner_folds: int, seed: int) -> list[MatchedFold] | None:
    """The matched-size probes of every baseline outer fold (module docstring), or None where there is
    no baseline (a test class of one sound). The folds are `baseline_folds`'; fold f's subsamples are
    drawn by `stratified_subsample` with `matched_rng(seed, f, 0)` (transfer) and `matched_rng(seed, f,
    1)` (baseline), so they depend on the labels, the seed and the fold only. A fold whose subsample
    keeps fewer than 2 classes has transfer = baseline = None (no matched predictions for its sounds)."""
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    plan = baseline_folds(y_test, n_baseline_folds, inner_folds, seed)
    if plan is None:
        return None
    out = []
    for f, (fit, held) in enumerate(plan[0]):
        m = min(y_train.size, fit.size)
        t = stratified_subsample(matched_rng(seed, f, 0), y_train, m)
        b = stratified_subsample(matched_rng(seed, f, 1), y_test[fit], m)
        if t is None or b is None:
            t = b = None
        else:
            b = fit[b]
        out.append(MatchedFold(held, int(m), t, b, m == y_train.size, m == fit.size))
    return out


class MatchedPredictions(NamedTuple):
    """One layer's matched predictions of the test sounds, paired sound by sound (`matched_plan`)."""

    transfer: np.ndarray  #: `[n_test]` the matched transfer probes' predictions (undefined: "" or 0)
    baseline: np.ndarray  #: `[n_test]` the matched baseline probes' predictions
    defined: np.ndarray  #: `[n_test]` bool: the sound's fold has both matched probes
