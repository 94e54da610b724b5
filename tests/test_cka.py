"""CKA against formulas written out here (explicit centring matrix and traces, Kornblith et al.'s feature-space
form, Song et al.'s U-statistic over distinct index quadruples) and against its published identities."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from audioprobe.metrics import cka


def trace_cka(x, y):
    """tr(K H L H) / sqrt(tr(K H K H) tr(L H L H)) with H written out."""
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    k, l_ = x @ x.T, y @ y.T
    return np.trace(k @ h @ l_ @ h) / np.sqrt(np.trace(k @ h @ k @ h) * np.trace(l_ @ h @ l_ @ h))


def feature_cka(x, y):
    """Kornblith et al. (2019) eq. 4: ||Y_c^T X_c||_F^2 / (||X_c^T X_c||_F ||Y_c^T Y_c||_F)."""
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    return np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))


def u_statistic_hsic(k, l_):
    """HSIC as the U-statistic of Song et al. (2012): the mean over distinct ordered (i, j, q, r) of
    k_ij l_ij + k_ij l_qr - 2 k_ij l_iq (averaging over all orderings symmetrises the kernel)."""
    total, count = 0.0, 0
    for i, j, q, r in itertools.permutations(range(k.shape[0]), 4):
        total += k[i, j] * l_[i, j] + k[i, j] * l_[q, r] - 2 * k[i, j] * l_[i, q]
        count += 1
    return total / count


def test_linear_cka_equals_the_trace_and_feature_space_forms(rng):
    x, y = rng.normal(size=(30, 5)), rng.normal(size=(30, 8))
    y[:, :3] += x[:, :3]
    value = cka.linear_cka(x, y)
    assert value == pytest.approx(trace_cka(x, y), abs=1e-12) == pytest.approx(feature_cka(x, y), abs=1e-12)
    assert 0.2 < value < 1


def test_unbiased_hsic_equals_the_u_statistic(rng):
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    k, l_ = x @ x.T, y @ y.T
    assert cka.hsic_unbiased(k, l_) == pytest.approx(u_statistic_hsic(k, l_), abs=1e-12)
    assert cka.hsic_unbiased(k, k) == pytest.approx(u_statistic_hsic(k, k), abs=1e-12)


def test_identities(rng):
    """CKA(X, X) = 1; unchanged by an orthogonal transform, an isotropic scaling and a shift of either side;
    changed by a non-isotropic scaling (CKA is not invariant to every invertible linear map)."""
    x, y = rng.normal(size=(25, 6)), rng.normal(size=(25, 4))
    y += x[:, :4]
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    for debiased in (False, True):
        assert cka.linear_cka(x, x, debiased) == pytest.approx(1.0, abs=1e-12)
        base = cka.linear_cka(x, y, debiased)
        assert cka.linear_cka(3.0 * x @ q + 5.0, y, debiased) == pytest.approx(base, abs=1e-12)
        assert cka.linear_cka(x, -0.5 * y + 1.0, debiased) == pytest.approx(base, abs=1e-12)
        assert abs(cka.linear_cka(x * np.arange(1, 7) ** 2, y, debiased) - base) > 1e-3


def test_debiased_cka_is_near_zero_for_independent_representations_where_the_biased_one_is_not():
    """Few sounds, many features (the regime of a network layer on a small stimulus set): independent random
    representations give a biased CKA far from 0 and a debiased one centred on 0."""
    rng = np.random.default_rng(0)
    biased, debiased = [], []
    for _ in range(40):
        x, y = rng.normal(size=(40, 400)), rng.normal(size=(40, 300))
        biased.append(cka.linear_cka(x, y))
        debiased.append(cka.linear_cka(x, y, debiased=True))
    assert np.mean(biased) > 0.8
    assert abs(np.mean(debiased)) < 3 * np.std(debiased) / np.sqrt(40) + 0.01 and np.std(debiased) < 0.05


def test_gram_from_euclidean_distances_is_the_centred_gram(rng):
    """Classical scaling: -1/2 H (D o D) H of Euclidean distances is X_c X_c^T, so CKA from two RDMs equals
    linear CKA of the representations; a missing pair leaves no double-centred form."""
    x, y = rng.normal(size=(20, 4)), rng.normal(size=(20, 3))
    y[:, 0] += x[:, 0]
    gx = cka.gram_from_rdm(squareform(pdist(x)))
    xc = x - x.mean(axis=0)
    np.testing.assert_allclose(gx, xc @ xc.T, atol=1e-12)
    gy = cka.gram_from_rdm(squareform(pdist(y)))
    for debiased in (False, True):
        assert cka.cka_from_grams(gx, gy, debiased) == pytest.approx(cka.linear_cka(x, y, debiased), abs=1e-12)
    d = squareform(pdist(x))
    d[0, 1] = d[1, 0] = np.nan
    assert np.isnan(cka.cka_from_grams(cka.gram_from_rdm(d), gy))


def test_undefined_values_are_nan():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 3))
    assert np.isnan(cka.linear_cka(np.ones((10, 3)), x))  # a constant side
    assert np.isnan(cka.linear_cka(x[:3], x[:3], debiased=True))  # the unbiased estimator needs 4 sounds
    with pytest.raises(ValueError, match="10 and 9 sounds"):
        cka.linear_cka(x, x[:9])


def weighted_u_statistic_hsic(k, l_, c):
    """HSIC as Song et al.'s U-statistic over distinct sounds, each ordered quadruple (i, j, q, r) weighing the
    product of its sounds' weights c, written out over every quadruple."""
    num = den = 0.0
    for i, j, q, r in itertools.permutations(range(k.shape[0]), 4):
        weight = c[i] * c[j] * c[q] * c[r]
        num += weight * (k[i, j] * l_[i, j] + k[i, j] * l_[q, r] - 2 * k[i, j] * l_[i, q])
        den += weight
    return num / den


def test_weighted_cka_equals_its_definitions_under_weights(rng):
    """Under weights 1: the plain estimators. Under bootstrap counts: the biased CKA of the resampled rows
    (np.repeat), the debiased one the weighted U-statistic over distinct sounds written out above (copies of a
    sound never form a tuple). Under a 0/1 mask: CKA of the kept sounds. Several Gram matrices at once."""
    n = 8
    x, y, z = rng.normal(size=(n, 3)), rng.normal(size=(n, 2)), rng.normal(size=(n, 5))
    y[:, 0] += x[:, 0]
    grams = [x @ x.T, z @ z.T]
    gy = y @ y.T
    counts = rng.integers(0, 3, size=(3, n))
    counts[:, :4] = np.maximum(counts[:, :4], 1)
    mask = np.array([1, 1, 0, 1, 0, 1, 1, 1], dtype=float)
    weights = np.vstack([np.ones(n), counts, mask, rng.random(n) * 2])
    for debiased in (False, True):
        got = cka.weighted_cka(grams, gy, weights, debiased)
        assert got.shape == (2, weights.shape[0])
        for g, (rep, gram_x) in enumerate(zip((x, z), grams)):
            assert got[g, 0] == pytest.approx(cka.cka_from_grams(gram_x, gy, debiased), abs=1e-12)
            assert got[g, 4] == pytest.approx(cka.linear_cka(rep[mask > 0], y[mask > 0], debiased), abs=1e-12)
            for b, c in enumerate(counts, start=1):
                if debiased:
                    want = weighted_u_statistic_hsic(gram_x, gy, c) / np.sqrt(
                        weighted_u_statistic_hsic(gram_x, gram_x, c) * weighted_u_statistic_hsic(gy, gy, c))
                else:
                    idx = np.repeat(np.arange(n), c)
                    want = cka.linear_cka(rep[idx], y[idx])
                assert got[g, b] == pytest.approx(want, abs=1e-12)
        c = weights[-1]
        want = weighted_u_statistic_hsic(grams[0], gy, c) / np.sqrt(
            weighted_u_statistic_hsic(grams[0], grams[0], c) * weighted_u_statistic_hsic(gy, gy, c))
        if debiased:
            assert got[0, -1] == pytest.approx(want, abs=1e-12)
        # a shift of the features leaves it unchanged under any weights (the U-statistic's kernel is centred)
        shifted = (x + 4.0) @ (x + 4.0).T
        np.testing.assert_allclose(cka.weighted_cka([shifted], gy, weights, debiased)[0], got[0], atol=1e-9)


def test_weighted_cka_is_nan_where_undefined(rng):
    x, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    few = np.zeros((1, 10))
    few[0, :3] = 2.0  # three sounds: no distinct quadruple
    assert np.isnan(cka.weighted_cka([x @ x.T], y @ y.T, few, debiased=True)).all()
    assert np.isnan(cka.weighted_cka([np.ones((10, 10))], y @ y.T, np.ones((1, 10)))).all()  # a constant side
    with pytest.raises(ValueError, match="9 columns for 10 sounds"):
        cka.weighted_cka([x @ x.T], y @ y.T, np.ones((1, 9)))


@pytest.mark.parametrize("debiased", [False, True])
def test_permuted_cka_is_cka_of_the_permuted_target_in_both_paths_and_any_block(rng, monkeypatch, debiased):
    """The permutation null written out: linear CKA with the target's rows permuted; the factor path (one
    matrix product for many permutations) and the gather path agree, whatever the block size."""
    n = 12
    x, p = rng.normal(size=(n, 5)), rng.dirichlet(np.ones(3), size=n)
    perms = np.argsort(rng.random((7, n)), axis=1)
    want = [cka.linear_cka(x, p[pi], debiased) for pi in perms]
    for block_bytes in (cka.PERMUTATION_BYTES, 8 * n * n * 2):  # the default, and blocks of two permutations
        monkeypatch.setattr(cka, "PERMUTATION_BYTES", block_bytes)
        np.testing.assert_allclose(cka.permuted_cka([x @ x.T], p @ p.T, perms, debiased)[0], want, atol=1e-12)
        np.testing.assert_allclose(cka.permuted_cka([x @ x.T], p @ p.T, perms, debiased, factor=p)[0], want,
                                   atol=1e-12)
