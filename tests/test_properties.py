"""Properties that hold for every input (hypothesis, small and seeded runs): RDM symmetry and
zero diagonal, RSA invariant to the order of the sounds, bootstrap counts summing to n, the
weighted r of a resample equal to the r of the resample written out, p-values and intervals
against their formulas, Benjamini-Hochberg against its definition."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist, squareform
from scipy.stats import pearsonr

from audioprobe.metrics import (
    ceiling,
    geometry,
    inference,
    intervals,
    layer_selection,
    mantel,
    pearson,
    resampling,
    rsa_inference,
)

FAST = settings(max_examples=30, deadline=None, derandomize=True)

seeds = st.integers(0, 2 ** 32 - 1)


def square(condensed):
    return squareform(np.asarray(condensed), checks=False)


@FAST
@given(seed=seeds, n=st.integers(3, 12), dim=st.integers(1, 6),
       distance=st.sampled_from(geometry.MODEL_DISTANCES))
def test_model_rdm_is_a_symmetric_matrix_with_zero_diagonal(seed, n, dim, distance):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)) + rng.normal(size=dim)
    d = geometry.model_rdm(x, distance)
    assert d.shape == (n * (n - 1) // 2,)
    ref = {"cosine": pdist(x, "cosine"), "correlation": pdist(x, "correlation") if dim > 1 else None,
           "euclidean": pdist(x, "euclidean"), "centred_cosine": pdist(x - x.mean(axis=0), "cosine")}[distance]
    if ref is not None:
        np.testing.assert_allclose(d, ref, atol=1e-9)
    m = square(d)
    assert np.array_equal(m, m.T, equal_nan=True) and np.all(np.diag(m) == 0)
    assert np.all(d[np.isfinite(d)] >= -1e-12)


@FAST
@given(seed=seeds, n=st.integers(3, 10), k=st.integers(2, 5), smoothing=st.floats(0.05, 3.0))
def test_divergence_rdms_symmetric_non_negative_and_zero_for_equal_responses(seed, n, k, smoothing):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 6, size=(n, k))
    counts[1] = counts[0]  # two sounds judged alike: distance 0
    for fn, top in ((geometry.symmetric_kl_rdm, np.inf), (geometry.jensen_shannon_rdm, np.log(2))):
        d = fn(counts, smoothing)
        assert np.all(d >= -1e-12) and np.all(d <= top + 1e-12)
        assert abs(d[0]) < 1e-12  # pair (0, 1)
        # the same pairs whichever way round the sounds come: permuting sounds permutes the matrix
        p = rng.permutation(n)
        np.testing.assert_allclose(square(fn(counts[p], smoothing)), square(d)[np.ix_(p, p)], atol=1e-12)


@FAST
@given(seed=seeds, n=st.integers(5, 14), comparison=st.sampled_from(sorted(geometry.COMPARISONS)))
def test_rsa_invariant_to_the_order_of_the_sounds(seed, n, comparison):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    counts = rng.integers(0, 5, size=(n, 3))
    score = geometry.compare_rows(geometry.cosine_rdm(x), geometry.symmetric_kl_rdm(counts, 0.5), comparison)
    p = rng.permutation(n)
    again = geometry.compare_rows(geometry.cosine_rdm(x[p]), geometry.symmetric_kl_rdm(counts[p], 0.5), comparison)
    np.testing.assert_allclose(again, score, atol=1e-9)
    if comparison == "pearson":
        assert score[0] == pytest_approx(pearsonr(pdist(x, "cosine"), geometry.symmetric_kl_rdm(counts, 0.5))[0])


def pytest_approx(v):
    import pytest

    return pytest.approx(v, abs=1e-9)


@FAST
@given(seed=seeds, n=st.integers(1, 30), m=st.integers(1, 20))
def test_bootstrap_counts_sum_to_n(seed, n, m):
    rng = np.random.default_rng(seed)
    counts = resampling.bootstrap_counts(rng, n, m)
    assert counts.shape == (m, n) and counts.dtype.kind == "i"
    assert np.all(counts >= 0) and np.all(counts.sum(axis=1) == n)
    draws = rng.integers(0, n, size=(m, 7))
    ref = np.stack([np.bincount(row, minlength=n) for row in draws])
    np.testing.assert_array_equal(resampling.counts_from_draws(draws, n), ref)


@FAST
@given(seed=seeds, n=st.integers(2, 25), m=st.integers(1, 10))
def test_random_halves_hold_half_the_items(seed, n, m):
    h = resampling.random_halves(np.random.default_rng(seed), n, m)
    assert h.shape == (m, n) and h.dtype == bool and np.all(h.sum(axis=1) == n // 2)
    perms = resampling.random_permutations(np.random.default_rng(seed), n, m)
    assert np.all(np.sort(perms, axis=1) == np.arange(n))


@FAST
@given(seed=seeds, n=st.integers(4, 10), m=st.integers(1, 4))
def test_weighted_pearson_is_r_of_the_resample_written_out(seed, n, m):
    rng = np.random.default_rng(seed)
    x = np.stack([pdist(rng.normal(size=(n, 2))), pdist(rng.normal(size=(n, 3)))])
    y = pdist(rng.normal(size=(n, 2)))
    counts = rng.integers(0, 3, size=(m, n))
    got = pearson.weighted_pearson(x, y, counts)
    loop = rsa_inference.resampled_scores_loop(x, y, counts, lambda a, b: np.corrcoef(a, b)[0, 1])
    for b in range(m):
        draws = np.repeat(np.arange(n), counts[b])
        i, j = np.triu_indices(draws.size, 1)
        keep = draws[i] != draws[j]
        pairs = [square(r)[draws[i], draws[j]][keep] for r in (*x, y)]
        distinct = np.count_nonzero(counts[b]) >= 3
        for k in range(2):
            if distinct and np.ptp(pairs[k]) > 1e-9 and np.ptp(pairs[2]) > 1e-9:
                ref = np.corrcoef(pairs[k], pairs[2])[0, 1]
                assert abs(got[b, k] - ref) < 1e-9
                assert abs(loop[b, k] - ref) < 1e-9
            elif not distinct:
                assert np.isnan(got[b, k]) and np.isnan(loop[b, k])
    # relabelling the sounds (model, target and weights together) changes nothing
    p = rng.permutation(n)
    xp = np.stack([geometry.upper_triangle(square(r)[np.ix_(p, p)]) for r in x])
    yp = geometry.upper_triangle(square(y)[np.ix_(p, p)])
    np.testing.assert_allclose(pearson.weighted_pearson(xp, yp, counts[:, p]), got, atol=1e-9, equal_nan=True)


@FAST
@given(seed=seeds, n=st.integers(5, 10), n_perm=st.integers(1, 30))
def test_permutation_p_value_matches_its_formula(seed, n, n_perm):
    rng = np.random.default_rng(seed)
    x = np.stack([pdist(rng.normal(size=(n, 2))) for _ in range(2)])
    y = pdist(rng.normal(size=(n, 2)))
    perms = resampling.random_permutations(rng, n, n_perm)
    null = mantel.permuted_pearson(x, y, perms)
    for b, p in enumerate(perms):
        yp = geometry.upper_triangle(square(y)[np.ix_(p, p)])
        np.testing.assert_allclose(null[b], [np.corrcoef(r, yp)[0, 1] for r in x], atol=1e-9)
    observed = geometry.pearson_rows(x, y)
    p_value = mantel.permutation_p_value(observed, null)
    np.testing.assert_allclose(p_value, (1 + (null >= observed - 1e-12).sum(axis=0)) / (1 + n_perm))
    assert np.all((p_value >= 1 / (n_perm + 1)) & (p_value <= 1))


@FAST
@given(seed=seeds, m=st.integers(1, 60), level=st.floats(0.5, 0.99))
def test_percentile_interval_brackets_the_middle_level(seed, m, level):
    s = np.random.default_rng(seed).normal(size=(m, 2))
    lo, hi = intervals.percentile_interval(s, level).T
    a = (1 - level) / 2
    np.testing.assert_allclose(lo, np.quantile(s, a, axis=0))
    np.testing.assert_allclose(hi, np.quantile(s, 1 - a, axis=0))
    inside = ((s >= lo) & (s <= hi)).mean(axis=0)
    assert np.all(inside >= level - 2 / m)


@FAST
@given(r=st.floats(-0.9, 1.0), k=st.floats(1.0, 5.0))
def test_spearman_brown_formula_and_monotone(r, k):
    got = float(ceiling.spearman_brown(r, k))
    assert abs(got - k * r / (1 + (k - 1) * r)) < 1e-12
    if r > 0:
        assert r - 1e-12 <= got <= 1 + 1e-12


@FAST
@given(seed=seeds, splits=st.integers(1, 6), layers=st.integers(1, 5))
def test_cross_validated_selection_picks_on_one_half_and_scores_on_the_other(seed, splits, layers):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(splits, layers)), rng.normal(size=(splits, layers))
    a[0, 0] = np.nan
    held, chosen = layer_selection.cross_validated_selection(a, b)
    for s in range(splits):
        if np.isnan(a[s]).all():  # nothing to pick: no layer, no score
            assert chosen[s] == -1 and np.isnan(held[s])
        else:
            pick_a = int(np.argmax(np.where(np.isnan(a[s]), -np.inf, a[s])))
            assert chosen[s] == pick_a and held[s] == b[s, pick_a]
        pick_b = int(np.argmax(b[s]))
        assert chosen[splits + s] == pick_b
        assert held[splits + s] == a[s, pick_b] or (np.isnan(a[s, pick_b]) and np.isnan(held[splits + s]))


@FAST
@given(seed=seeds, m=st.integers(1, 12))
def test_benjamini_hochberg_against_its_definition(seed, m):
    rng = np.random.default_rng(seed)
    p = rng.random(m) ** 3
    p[rng.random(m) < 0.2] = np.nan  # not tests
    out = inference.benjamini_hochberg(p.tolist(), alpha=0.1)
    ok = np.isfinite(p)
    tests = p[ok]
    mm = tests.size
    assert out["m"] == mm
    q = np.array([None if v is None else v for v in out["q_value"]], dtype=object)
    for i in np.nonzero(~ok)[0]:
        assert q[i] is None and out["reject"][i] is False
    for i in np.nonzero(ok)[0]:
        # q_i = min over the p-values at least as large of m p_(j) / rank(j), capped at 1
        ref = min(1.0, min(mm * pj / (np.sum(tests <= pj)) for pj in tests if pj >= p[i]))
        assert abs(q[i] - ref) < 1e-12
        assert out["reject"][i] == (ref <= 0.1)


@FAST
@given(seed=seeds, n=st.integers(3, 6))
def test_kendall_tau_a_against_brute_force(seed, n):
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 3, size=n * 2).astype(float), rng.integers(0, 2, size=n * 2).astype(float)
    brute = sum(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j]) for i, j in itertools.combinations(range(2 * n), 2))
    assert abs(geometry.kendall_tau_a(x, y) - brute / (n * (2 * n - 1))) < 1e-12
