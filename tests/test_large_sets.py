"""The large-set paths of the RSA statistics agree with the direct computations they replace.

- `pearson.factored_pearson` (the noise ceiling's split-half and leave-one-out correlations computed
  from low-rank factors of kl and modal targets) against scipy's pearsonr of the condensed RDMs;
- the ceiling of a task with and without the factored path;
- `kernels.permuted_dots` (the compiled Mantel loop) against explicitly permuted targets and
  against the numpy path of `mantel.permuted_pearson`;
- the two-factor bootstrap's target sums (`split_pearson.target_split_sums`) with the layers masked to
  each part (small sets) and with each part's pairs gathered (large sets).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from scipy.stats import pearsonr

from audioprobe.metrics import geometry, kernels, mantel, pearson, resampling, rsa_inference, split_pearson, targets
from audioprobe.metrics.responses import counts_from_responses
from audioprobe.tasktypes.reliability import noise_ceiling
from audioprobe.tasktypes.rsa.params import RSA_PARAMS
from tests.factories import make_set


def _counts(rng, n_sounds, n_categories, n_listeners):
    return counts_from_responses(rng.integers(0, n_categories, size=(n_listeners, n_sounds)), n_categories)


@pytest.mark.parametrize("kind", ["kl", "modal"])
def test_factors_reproduce_the_square_target(rng, kind):
    counts = _counts(rng, 23, 4, 3)  # 3 listeners, 4 categories: modal ties are frequent
    a, b = geometry.symmetric_kl_factors(counts, 0.5) if kind == "kl" else geometry.modal_factors(counts)
    square = a @ b.T
    np.testing.assert_allclose(square, square.T, atol=1e-12)
    condensed = geometry.symmetric_kl_rdm(counts, 0.5) if kind == "kl" else geometry.modal_rdm(counts)
    np.testing.assert_allclose(geometry.upper_triangle(square), condensed, atol=1e-12)
    if kind == "modal":  # tied sounds: the factors' diagonal is not 0, and must be left out
        assert np.any(np.abs(np.diag(square)) > 0.1)


@pytest.mark.parametrize("kind", ["kl", "modal"])
def test_factored_pearson_equals_pearsonr_of_the_condensed_rdms(rng, kind):
    make = (lambda c: geometry.symmetric_kl_factors(c, 0.3)) if kind == "kl" else geometry.modal_factors
    build = (lambda c: geometry.symmetric_kl_rdm(c, 0.3)) if kind == "kl" else geometry.modal_rdm
    for _ in range(5):
        c1, c2 = _counts(rng, 31, 5, 4), _counts(rng, 31, 5, 6)
        expected = pearsonr(build(c1), build(c2))[0]
        assert pearson.factored_pearson(make(c1), make(c2)) == pytest.approx(expected, abs=1e-12)
    # a mean over dimensions: factors side by side, A scaled
    c1, c2, c3 = (_counts(rng, 31, 3, 5) for _ in range(3))
    mean = targets.factors(kind, {"a": c1, "b": c2}, ["a", "b"], 0.3)
    expected = pearsonr((build(c1) + build(c2)) / 2, build(c3))[0]
    assert pearson.factored_pearson(mean, make(c3)) == pytest.approx(expected, abs=1e-12)


def test_factored_pearson_of_a_constant_target_is_undefined(rng):
    same = np.tile([[3, 1, 0]], (12, 1))  # every sound has the same responses: KL is 0 everywhere
    other = _counts(rng, 12, 3, 4)
    assert np.isnan(pearson.factored_pearson(geometry.symmetric_kl_factors(same, 0.5), geometry.symmetric_kl_factors(other, 0.5)))
    assert np.isnan(pearson.factored_pearson(geometry.modal_factors(other), geometry.modal_factors(same)))
    assert np.isnan(pearson.paired_rows(geometry.modal_rdm(other), geometry.modal_rdm(same), "pearson")[0])  # as the direct path


def _set_with_listeners(rng, n_sounds, n_listeners, n_categories=4):
    truth = rng.integers(0, n_categories, size=n_sounds)
    noisy = rng.random((n_listeners, n_sounds)) < 0.4
    responses = np.where(noisy, rng.integers(0, n_categories, size=(n_listeners, n_sounds)), truth)
    responses[0, :3] = -1  # some sounds a listener did not judge
    s = make_set({"d": [f"c{k}" for k in range(n_categories)], "e": ["x", "y"]}, name="t", audio=False,
                 responses={"d": responses, "e": rng.integers(0, 2, size=(n_listeners, n_sounds))})
    return s


@pytest.mark.parametrize("target,dims", [("kl", "d"), ("modal", "d"), ("kl", ["d", "e"])])
def test_noise_ceiling_is_the_same_with_and_without_factors(rng, monkeypatch, target, dims):
    s = _set_with_listeners(rng, 40, 9)
    params = {k: v.default for k, v in RSA_PARAMS.items()}
    params.update(target=target, dimensions=dims, ceiling_splits=25)
    fast = noise_ceiling(s, params, np.random.default_rng(3))
    monkeypatch.setattr(targets, "FACTORED", {})  # the direct path: RDMs, then paired_rows
    direct = noise_ceiling(s, params, np.random.default_rng(3))
    assert fast.keys() == direct.keys()
    for key in ("value", "split_half_r", "split_half_r_sd", "lower_bound", "upper_bound"):
        assert fast[key] == pytest.approx(direct[key], abs=1e-10), key
    assert fast["bounds_method"] == direct["bounds_method"]


needs_numba = pytest.mark.skipif(not kernels.available(), reason="numba is not installed (extra 'fast')")


@needs_numba
def test_row_tiles_cover_every_pair_once():
    for n, pairs in ((7, 3), (50, 100), (50, 10_000), (2, 1)):
        bounds, offsets = kernels.row_tiles(n, pairs)
        assert bounds[0] == 0 and bounds[-1] == n and np.all(np.diff(bounds) >= 1)
        i, _ = np.triu_indices(n, 1)
        np.testing.assert_array_equal(offsets, np.searchsorted(i, bounds))  # each tile's first pair


@needs_numba
def test_permuted_dots_against_explicitly_permuted_targets(rng, monkeypatch):
    n = 37
    monkeypatch.setattr(kernels, "TILE_PAIRS", 50)  # several tiles
    monkeypatch.setattr(kernels, "PERM_BLOCK", 3)  # several blocks, one of them short
    x = rng.normal(size=(4, n * (n - 1) // 2))
    y = pdist(rng.normal(size=(n, 3)))
    perms = resampling.random_permutations(rng, n, 10)
    got = kernels.permuted_dots(squareform(y), perms, x)
    ysq = squareform(y)
    expected = np.array([x @ geometry.upper_triangle(ysq[np.ix_(p, p)]) for p in perms])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@needs_numba
def test_permuted_pearson_compiled_path_equals_the_numpy_path(rng, monkeypatch):
    n = 45
    x = np.stack([pdist(rng.normal(size=(n, 4))) for _ in range(3)])
    y = pdist(rng.normal(size=(n, 2)))
    perms = resampling.random_permutations(rng, n, 40)
    monkeypatch.setattr(kernels, "MIN_SOUNDS", 10 ** 9)
    numpy_path = mantel.permuted_pearson(x, y, perms)
    monkeypatch.setattr(kernels, "MIN_SOUNDS", 0)
    compiled = mantel.permuted_pearson(x, y, perms)
    np.testing.assert_allclose(compiled, numpy_path, atol=1e-12)
    # and both are the Pearson r of each layer with the permuted target
    ysq = squareform(y)
    np.testing.assert_allclose(compiled[7], [pearsonr(row, geometry.upper_triangle(ysq[np.ix_(perms[7], perms[7])]))[0]
                                             for row in x], atol=1e-12)


def test_two_factor_bootstrap_gathered_parts_equal_the_masked_ones(rng, monkeypatch):
    """A whole two-factor RSA statistic (sounds and listeners resampled, split halves, CV) is the same
    with the layers masked to each part (small sets) and with each part's pairs gathered (large sets)."""

    n, n_listeners, n_categories = 30, 9, 4
    responses = rng.integers(0, n_categories, size=(n_listeners, n))
    x = np.stack([pdist(rng.normal(size=(n, 5))) for _ in range(3)])

    def listener_targets(draws):
        out = []
        for draw in np.atleast_2d(draws):
            counts = counts_from_responses(responses[np.repeat(np.arange(n_listeners), draw)], n_categories)
            out.append(geometry.symmetric_kl_rdm(counts))
        return np.array(out)

    target = listener_targets(np.ones((1, n_listeners), dtype=np.int64))[0]
    common = dict(comparison="pearson", seed=4, n_bootstrap=60, n_permutations=0, cv_splits=5, level=0.95,
                  listener_targets=listener_targets, n_listeners=n_listeners)
    compiled = rsa_inference.rsa_statistics(x, target, **common)
    monkeypatch.setattr(split_pearson, "MASKED_BYTES", 0)
    numpy_path = rsa_inference.rsa_statistics(x, target, **common)
    assert compiled.keys() == numpy_path.keys()
    for key, value in numpy_path.items():
        if np.asarray(value).dtype.kind == "f":
            np.testing.assert_allclose(compiled[key], value, atol=1e-12, equal_nan=True, err_msg=key)
        else:
            np.testing.assert_array_equal(compiled[key], value, err_msg=key)
    assert np.isfinite(compiled["variance"]).all() and compiled["bootstrap_listeners"].shape == (60, 3)
