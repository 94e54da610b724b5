"""Statistics: the count-based bootstrap against explicitly resampled RDMs (numpy and rsatoolbox),
permutations against explicit permutation, coverage of intervals, uniformity of null p-values,
noise ceiling and cross-validated selection on constructed data with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from scipy.stats import kstest

from audioprobe.metrics import rsa, stats


def rdms(rng, n=14, layers=3):
    x = np.stack([pdist(rng.normal(size=(n, 4))) for _ in range(layers)])
    return x, x[0] + pdist(rng.normal(size=(n, 2)))


def test_weighted_pearson_equals_resampled_rdm(rng):
    x, y = rdms(rng)
    counts = stats.bootstrap_counts(rng, 14, 20)
    assert np.all(counts.sum(axis=1) == 14)
    got = stats.weighted_pearson(x, y, counts)
    for b in range(20):
        draws = np.repeat(np.arange(14), counts[b])  # the resample, explicitly
        keep = np.triu_indices(14, 1)
        xs = [squareform(row)[np.ix_(draws, draws)] for row in x]
        ys = squareform(y)[np.ix_(draws, draws)]
        same = draws[:, None] == draws[None, :]  # a sound with itself or its own copy
        mask = ~same[keep]
        for k in range(3):
            ref = np.corrcoef(xs[k][keep][mask], ys[keep][mask])[0, 1]
            assert got[b, k] == pytest.approx(ref, abs=1e-12)


def test_weighted_pearson_equals_rsatoolbox_subsample(rng):
    from rsatoolbox.rdm import RDMs, compare

    x, y = rdms(rng, n=12, layers=2)
    model = RDMs(x, pattern_descriptors={"index": np.arange(12)})
    data = RDMs(y[None, :], pattern_descriptors={"index": np.arange(12)})
    draws = rng.integers(0, 12, size=(5, 12))
    got = stats.weighted_pearson(x, y, stats.counts_from_draws(draws, 12))
    for b, idx in enumerate(draws):
        ref = compare(model.subsample_pattern("index", idx), data.subsample_pattern("index", idx), "corr")[:, 0]
        np.testing.assert_allclose(got[b], ref, atol=1e-12)


def test_blocks_give_halves_and_whole(rng):
    x, y = rdms(rng)
    counts = stats.bootstrap_counts(rng, 14, 10)
    halves = stats.random_halves(rng, 14, 10)
    assert np.all(halves.sum(axis=1) == 7)
    a, b, whole = stats.weighted_pearson_blocks(x, y, [counts * halves, counts * ~halves])
    np.testing.assert_allclose(whole, stats.weighted_pearson(x, y, counts), atol=1e-12)
    np.testing.assert_allclose(a, stats.weighted_pearson(x, y, counts * halves), atol=1e-12)
    # a 0/1 weight is the score on that subset's pairs
    sub = np.nonzero(halves[0])[0]
    ref = rsa.pearson_rows(np.stack([rsa.upper_triangle(squareform(r)[np.ix_(sub, sub)]) for r in x]),
                           rsa.upper_triangle(squareform(y)[np.ix_(sub, sub)]))
    np.testing.assert_allclose(stats.weighted_pearson(x, y, halves[:1])[0], ref, atol=1e-12)


def test_permuted_pearson_equals_explicit_permutation(rng):
    x, y = rdms(rng)
    perms = stats.random_permutations(rng, 14, 7)
    got = stats.permuted_pearson(x, y, perms)
    for b, p in enumerate(perms):
        yp = rsa.upper_triangle(squareform(y)[np.ix_(p, p)])
        np.testing.assert_allclose(got[b], rsa.pearson_rows(x, yp), atol=1e-12)
    loop = stats.permuted_scores_loop(x, y, perms, lambda a, b: rsa.pearson_rows(a, b)[0])
    np.testing.assert_allclose(loop, got, atol=1e-12)


def test_permutation_p_values_uniform_under_null():
    rng = np.random.default_rng(7)
    n, reps, n_perm = 10, 300, 199
    perms = stats.random_permutations(rng, n, n_perm)
    p = []
    for _ in range(reps):  # independent sounds for model and target: the null holds
        x, y = pdist(rng.normal(size=(n, 3)))[None, :], pdist(rng.normal(size=(n, 3)))
        p.append(stats.permutation_p_value(rsa.pearson_rows(x, y), stats.permuted_pearson(x, y, perms))[0])
    assert kstest(p, "uniform").pvalue > 0.01
    assert 0.03 < np.mean(np.array(p) <= 0.05) < 0.08


def test_bootstrap_interval_coverage_near_nominal():
    """(u, v) bivariate normal with correlation rho per sound; RDMs of squared differences. The
    pairs' population correlation is corr(X^2, Y^2) = rho^2 for the jointly normal differences."""
    rng = np.random.default_rng(3)
    rho, n, reps, boots = 0.8, 40, 150, 400
    truth = rho ** 2
    cover = 0
    for _ in range(reps):
        u, v = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n).T
        x = pdist(u[:, None], "sqeuclidean")[None, :]
        y = pdist(v[:, None], "sqeuclidean")
        lo, hi = stats.percentile_interval(stats.weighted_pearson(x, y, stats.bootstrap_counts(rng, n, boots)))[0]
        cover += lo <= truth <= hi
    assert 0.85 <= cover / reps <= 0.99, cover / reps


def test_cross_validated_selection_removes_optimism():
    rng = np.random.default_rng(11)
    n = 30
    cv, best = [], []
    for _ in range(12):
        y = pdist(rng.normal(size=(n, 2)))
        x = np.stack([pdist(rng.normal(size=(n, 2))) for _ in range(15)])  # 15 layers, none related
        halves = stats.random_halves(rng, n, 20)
        a, b, _ = stats.weighted_pearson_blocks(x, y, [halves, ~halves])
        held, chosen = stats.cross_validated_selection(a, b)
        cv.append(held.mean())
        best.append(rsa.pearson_rows(x, y).max())
    assert np.mean(best) > 0.05  # picking the max on all data is biased upwards
    assert abs(np.mean(cv)) < 0.02  # the held-out score is not
    # and a real layer is found
    y = pdist(rng.normal(size=(n, 2)))
    x = np.stack([pdist(rng.normal(size=(n, 2))), y + 0.1 * rng.random(y.size), pdist(rng.normal(size=(n, 2)))])
    halves = stats.random_halves(rng, n, 20)
    a, b, _ = stats.weighted_pearson_blocks(x, y, [halves, ~halves])
    held, chosen = stats.cross_validated_selection(a, b)
    assert np.all(chosen == 1) and held.mean() > 0.9


def test_spearman_brown_and_ceiling_known_answers():
    assert stats.spearman_brown(0.5) == pytest.approx(2 / 3)
    assert stats.spearman_brown(1.0) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    same = {"d": np.tile(rng.integers(0, 3, size=12), (6, 1))}  # every listener answers alike
    r = stats.split_half_reliability(same, {"d": 3}, lambda c: rsa.symmetric_kl_rdm(c["d"], 0.5),
                                     lambda a, b: stats.paired_rows(a, b, "pearson"), rng, 5)
    np.testing.assert_allclose(r, 1.0)
    noise = {"d": rng.integers(0, 3, size=(40, 30))}  # no shared signal: reliability near 0
    r = stats.split_half_reliability(noise, {"d": 3}, lambda c: rsa.symmetric_kl_rdm(c["d"], 0.5),
                                     lambda a, b: stats.paired_rows(a, b, "pearson"), rng, 30)
    assert abs(r.mean()) < 0.05


def test_paired_rows_against_compare_rows(rng):
    a, b = rng.random((4, 30)), rng.random((4, 30))
    b[:, ::3] = 0.5  # ties
    for method in ("pearson", "spearman", "kendall_tau_a"):
        expected = [rsa.compare_rows(x, y, method)[0] for x, y in zip(a, b)]
        np.testing.assert_allclose(stats.paired_rows(a, b, method), expected, atol=1e-12)


def test_rsa_statistics_tau_a_and_spearman_paths(rng):
    x, y = rdms(rng, n=12, layers=2)
    y01 = (y > np.median(y)).astype(float)
    out = stats.rsa_statistics(x, y01, "kendall_tau_a", 0, 30, 30, 5, 0.9)
    np.testing.assert_allclose(out["score"], [rsa.kendall_tau_a(r, y01) for r in x])
    assert np.all(out["ci"][:, 0] <= out["ci"][:, 1]) and np.all((out["p_value"] > 0) & (out["p_value"] <= 1))
    sp = stats.rsa_statistics(x, y, "spearman", 0, 30, 30, 5, 0.9)
    # permutation null of Spearman: exact, equal to Spearman against the permuted target
    perms = stats.random_permutations(stats.streams(0)[1], 12, 30)
    null = np.array([[rsa.compare_rows(r, rsa.upper_triangle(squareform(y)[np.ix_(p, p)]), "spearman")[0]
                      for r in x] for p in perms])
    np.testing.assert_allclose(sp["p_value"], stats.permutation_p_value(sp["score"], null))
