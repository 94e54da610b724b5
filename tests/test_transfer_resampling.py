"""The balanced accuracy's resampling plan (`transfer.class_stratified_donors` / `class_stratified_values`):
known moments, paired arrays, and calibration under a known null through the functions the transfer task
uses (the headline's half-splits, `stats.split_held_out`, `intervals.split_variance`)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as st

from audioprobe.metrics import intervals, stats, transfer


def moderated_variances(correct: np.ndarray, labels: np.ndarray, prior: float) -> dict:
    """Each class's slot variance by the formula: ((n_c - 1) S_c^2 + prior S_pool^2) / (n_c - 1 + prior),
    S_c^2 the unbiased variance, S_pool^2 the mean over the pooled sounds of their class's S_c^2."""
    classes = np.unique(labels)
    s2 = {c: np.var(correct[labels == c], ddof=1) if np.sum(labels == c) >= 2 else None for c in classes}
    pooled = [s2[labels[i]] for i in range(labels.size) if s2[labels[i]] is not None]
    pool = float(np.mean(pooled))
    out = {}
    for c in classes:
        n_c = int(np.sum(labels == c))
        out[c] = ((n_c - 1) * (s2[c] or 0.0) + prior * pool) / (n_c - 1 + prior)
    return out


def test_the_replicates_have_the_moderated_variance_and_the_estimate_as_mean():
    rng = np.random.default_rng(3)
    labels = np.array(list("aaaaaa") + list("bbb") + list("cc") + ["d"])  # a class of one sound
    correct = np.array([1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 1, 0], dtype=float)
    donors = transfer.class_stratified_donors(rng, labels, 40000)
    values = transfer.class_stratified_values(correct, labels, donors)
    _, bal = transfer.accuracies(values, labels, np.ones((1, labels.size)))
    _, estimate = transfer.accuracies(correct, labels, np.ones((1, labels.size)))
    var = moderated_variances(correct, labels, transfer.POOLED_PSEUDO_SOUNDS)
    want = sum(var[c] / np.sum(labels == c) for c in var) / len(var) ** 2
    assert np.var(bal, ddof=1) == pytest.approx(want, rel=0.04)
    assert np.mean(bal) == pytest.approx(estimate[0], abs=4 * np.sqrt(want / 40000))
    # the class of one sound varies (the sounds bootstrap would only switch it in and out)
    assert np.var(values[:, labels == "d"]) == pytest.approx(var["d"], rel=0.04) and var["d"] > 0


def test_two_arrays_on_the_same_donors_keep_their_within_class_covariance():
    rng = np.random.default_rng(4)
    labels = np.repeat(list("abcd"), [5, 4, 3, 2])
    a = rng.integers(0, 2, labels.size).astype(float)
    b = np.where(rng.random(labels.size) < 0.7, a, 1 - a)  # mostly the same answers
    donors = transfer.class_stratified_donors(rng, labels, 40000)
    ones = np.ones((1, labels.size))
    _, bal_a = transfer.accuracies(transfer.class_stratified_values(a, labels, donors), labels, ones)
    _, bal_b = transfer.accuracies(transfer.class_stratified_values(b, labels, donors), labels, ones)
    # the difference's variance is the moderated variance of the per-sound differences
    var = moderated_variances(a - b, labels, transfer.POOLED_PSEUDO_SOUNDS)
    want = sum(var[c] / np.sum(labels == c) for c in var) / 16
    assert np.var(bal_a - bal_b, ddof=1) == pytest.approx(want, rel=0.05)


def test_the_plan_depends_on_labels_and_generator_only_and_keeps_each_class():
    labels = np.repeat(list("abc"), [4, 1, 3])
    one = transfer.class_stratified_donors(np.random.default_rng(9), labels, 50)
    two = transfer.class_stratified_donors(np.random.default_rng(9), labels, 50)
    assert np.array_equal(one, two)
    # own-class donors or pooled ones (classes of 2 sounds or more); the single sound never donates
    pool = np.flatnonzero(labels != "b")
    assert np.isin(one, pool).all()
    assert transfer.class_stratified_donors(np.random.default_rng(0), np.array(list("abc")), 10) is None


def _study(rng, n, k, n_layers):
    """Labels with every class present and a few layers of probes whose answers ignore the class (the
    truth of every balanced accuracy is 1 / k): correlated layers, probes that favour a few classes."""
    while True:
        labels = rng.integers(0, k, n)
        if np.unique(labels).size == k:
            break
    preds = np.empty((n_layers, n), dtype=np.int64)
    base = rng.choice(k, n, p=rng.dirichlet(np.full(k, 0.7)))
    for layer in range(n_layers):
        own = rng.choice(k, n, p=rng.dirichlet(np.full(k, 0.7)))
        preds[layer] = np.where(rng.random(n) < 0.6, base, own) if layer else base
    return labels, (preds == labels).astype(float)


def test_calibrated_under_a_known_null_where_the_sounds_bootstrap_under_covers():
    """A test subset of 42 sounds in 7 classes (about the 3D test subset), probes at chance: the
    cross-validated headline's t interval (replicates on 4 fixed half-splits per resample, their split
    noise removed) and the per-layer percentile interval cover 1 / k at about their level; the sounds
    bootstrap's headline interval, the one this plan replaces, covers clearly less (it cannot see a
    small class's own variance)."""
    rng = np.random.default_rng(12)
    n, k, n_layers, n_boot, n_cv, studies = 42, 7, 3, 400, 40, 400
    t = st.t.ppf(0.975, n - 1)
    covered = {"plan": [], "bootstrap": [], "layer": []}
    for _ in range(studies):
        labels, correct = _study(rng, n, k, n_layers)
        halves = stats.random_halves(rng, n, n_cv)
        sides = np.stack([halves, ~halves])
        _, on_halves = transfer.accuracies(correct[:, None, None, :], labels, sides[None])  # [L, 2, S]
        held, _ = stats.cross_validated_selection(on_halves[:, 0].T, on_halves[:, 1].T)
        estimate = np.mean(held)
        first = sides[:, : stats.HEADLINE_SPLITS]  # [2, K, n]
        donors = transfer.class_stratified_donors(rng, labels, n_boot)
        values = np.stack([transfer.class_stratified_values(c, labels, donors) for c in correct])  # [L, B, n]
        counts = stats.bootstrap_counts(rng, n, n_boot)
        for name, (v, w) in (("plan", (values[:, None, :, None, :], first[None, :, None])),
                             ("bootstrap", (correct[:, None, None, None, :], counts[None, None, :, None, :]
                                            * first[None, :, None]))):
            _, half = transfer.accuracies(v, labels, w)  # [L, 2, B, K]
            reps = stats.split_held_out(np.moveaxis(half[:, 0], 0, -1), np.moveaxis(half[:, 1], 0, -1))  # [B, K]
            se = np.sqrt(intervals.split_variance(reps, n_cv) * n / (n - 1))
            covered[name].append(abs(estimate - 1 / k) <= t * se)
        _, layer0 = transfer.accuracies(values[0], labels, np.ones((1, n)))
        lo, hi = np.quantile(layer0, [0.025, 0.975])
        covered["layer"].append(lo <= 1 / k <= hi)
    rate = {key: float(np.mean(v)) for key, v in covered.items()}
    assert rate["plan"] >= 0.93, rate
    assert rate["layer"] >= 0.89, rate
    assert rate["bootstrap"] <= rate["plan"] - 0.03, rate
