"""Variances and degrees of freedom (metrics/intervals.py) against independent expectations.

- `split_variance`: a resamples x splits table drawn from a two-way random-effects model with known
  components; the estimate must recover the variance of the score averaged over cv_splits splits.
- `dual_bootstrap_variance` and `dual_dof`: for the grand mean of a listeners x sounds table, bootstrap
  variances computed by brute force (resampling the table) must give the classical ANOVA estimate of the
  mean's variance, (MS_l + MS_s - MS_ls) / (n_l n_s), and Satterthwaite's degrees of freedom computed from
  those mean squares directly (Satterthwaite 1946).
"""

from __future__ import annotations

import numpy as np
import pytest

from audioprobe.metrics import intervals


def test_split_variance_recovers_the_variance_of_the_split_mean():
    """y_bk = alpha_b + beta_k + gamma_bk: the target is var(alpha) + var(gamma) / cv_splits; the plain variance
    of one split's column overstates it by var(gamma), the variance of the K-split means by var(gamma) / K."""
    rng = np.random.default_rng(0)
    b, k, cv = 1000, 4, 100
    va, vg = 1.0, 3.0
    est, plain, means = [], [], []
    for _ in range(200):
        y = rng.normal(0, np.sqrt(va), (b, 1)) + rng.normal(0, 0.8, (1, k)) + rng.normal(0, np.sqrt(vg), (b, k))
        est.append(float(intervals.split_variance(y, cv)))
        plain.append(np.var(y[:, 0], ddof=1))
        means.append(np.var(y.mean(axis=1), ddof=1))
    target = va + vg / cv
    assert np.mean(est) == pytest.approx(target, rel=0.02)
    assert np.mean(plain) == pytest.approx(va + vg, rel=0.02)
    assert np.mean(means) == pytest.approx(va + vg / k, rel=0.02)
    # one split: the plain variance; NaN rows left out; a column per score
    y = rng.normal(size=(50, 1, 3))
    np.testing.assert_allclose(intervals.split_variance(y), np.var(y[:, 0], axis=0, ddof=1))
    y = rng.normal(size=(60, 4, 2))
    y[3, 1, 0] = np.nan
    got = intervals.split_variance(y, 10)
    assert got[0] == pytest.approx(float(intervals.split_variance(np.delete(y[:, :, 0], 3, axis=0), 10)))
    assert got[1] == pytest.approx(float(intervals.split_variance(y[:, :, 1], 10)))


def test_split_covariance_diagonal_is_the_split_variance():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(300, 4, 3)) + rng.normal(size=(300, 1, 1))
    cov = intervals.split_covariance(y, 20)
    np.testing.assert_allclose(np.diag(cov), intervals.split_variance(y, 20), rtol=1e-12)
    np.testing.assert_allclose(cov, cov.T)


def anova(table):
    """Mean squares of a two-way table without replication (rows: listeners, columns: sounds)."""
    nl, ns = table.shape
    grand = table.mean()
    rows, cols = table.mean(axis=1), table.mean(axis=0)
    ms_l = ns * np.sum((rows - grand) ** 2) / (nl - 1)
    ms_s = nl * np.sum((cols - grand) ** 2) / (ns - 1)
    resid = table - rows[:, None] - cols[None, :] + grand
    ms_ls = np.sum(resid ** 2) / ((nl - 1) * (ns - 1))
    return ms_l, ms_s, ms_ls


@pytest.mark.parametrize("listener_sd", [0.2, 1.0, 3.0])
def test_dual_variance_and_dof_of_a_grand_mean_equal_the_anova_answer(listener_sd):
    rng = np.random.default_rng(int(listener_sd * 10))
    nl, ns, draws = 9, 30, 40_000
    table = (listener_sd * rng.normal(size=(nl, 1)) + 0.7 * rng.normal(size=(1, ns))
             + 1.0 * rng.normal(size=(nl, ns)))
    lis = rng.integers(0, nl, size=(draws, nl))
    snd = rng.integers(0, ns, size=(draws, ns))
    both = np.array([table[np.ix_(a, b)].mean() for a, b in zip(lis[:4000], snd[:4000])])
    v_l = np.var(table[lis].mean(axis=(1, 2)), ddof=1)
    v_s = np.var(table[:, snd].mean(axis=(0, 2)), ddof=1)
    v_b = np.var(both, ddof=1)
    ms_l, ms_s, ms_ls = anova(table)
    # the three bootstrap variances are the mean squares in disguise (exact for a mean, up to Monte-Carlo error)
    assert v_l * nl / (nl - 1) == pytest.approx(ms_l / (nl * ns), rel=0.03)
    assert v_s * ns / (ns - 1) == pytest.approx(ms_s / (nl * ns), rel=0.03)
    variance = float(intervals.dual_bootstrap_variance(v_b, v_l, v_s, nl, ns))
    unclipped = (ms_l + ms_s - ms_ls) / (nl * ns)
    a, b, c = ms_l / (nl * ns), ms_s / (nl * ns), ms_ls / (nl * ns)
    satterthwaite = unclipped ** 2 / (a ** 2 / (nl - 1) + b ** 2 / (ns - 1) + c ** 2 / ((nl - 1) * (ns - 1)))
    dof = float(intervals.dual_dof(v_b, v_l, v_s, nl, ns))
    if variance < v_b * 0.999:  # the formula decided (not rsatoolbox's upper clip): the ANOVA answer
        assert variance == pytest.approx(unclipped, rel=0.1)
        assert dof == pytest.approx(satterthwaite, rel=0.15)
    assert min(nl, ns) - 1 <= dof <= (nl - 1) * (ns - 1) + nl + ns
    if listener_sd == 3.0:  # listeners dominate: about n_l - 1
        assert dof < 2 * (nl - 1)
    if listener_sd == 0.2:  # sounds and noise dominate: far more than min(n) - 1
        assert dof > 2 * (nl - 1)


def test_dual_dof_follows_the_clip():
    # rsatoolbox's clip to a one-factor variance: that factor's dof
    assert float(intervals.dual_dof(2.0, 0.9, 0.01, 10, 100)) == pytest.approx(9)
    assert float(intervals.dual_dof(2.0, 0.01, 0.9, 10, 100)) == pytest.approx(99)
    assert np.isnan(intervals.dual_dof(np.nan, 1.0, 1.0, 5, 5))
