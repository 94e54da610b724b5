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


# ---------------------------------------------------------------------------------------------
# Statistics over pairs of sounds: the bootstrap counts the pairs' own noise three times


def _pearson_over_pairs(x, y, w):
    """Weighted Pearson r over pairs, pair weights w `[B, P]` -> `[B]` (written out, not the harness's)."""
    s = w.sum(1)
    mx, my = w @ x / s, w @ y / s
    return (w @ (x * y) / s - mx * my) / np.sqrt((w @ (x * x) / s - mx ** 2) * (w @ (y * y) / s - my ** 2))


def _study(rng, n, shared=None):
    """Two unrelated pair-valued variables over n new sounds (a model RDM and a target nobody aligns with);
    with `shared`, two models that are the same features plus independent noise (their difference is the
    statistic): the per-sound terms of the two cancel, the pairs' noise does not."""
    iu = np.triu_indices(n, 1)
    f = rng.normal(size=(n, 16))

    def rdm(g):
        g = g / np.linalg.norm(g, axis=1, keepdims=True)
        return (1.0 - g @ g.T)[iu]

    target = rdm(rng.normal(size=(n, 16)) ** 2)
    if shared is None:
        return iu, [rdm(f)], target
    return iu, [rdm(f + shared * rng.normal(size=f.shape)), rdm(f + shared * rng.normal(size=f.shape))], target


def _hoeffding_variance(h, n, iu):
    """The U-statistic variance of the mean over pairs of h, 4 s1^2 / n + s2^2 / P (Hoeffding 1948), from the
    pairs' values by the additive (sound + sound + pair) decomposition: an independent formula."""
    m = np.zeros((n, n))
    m[iu] = h
    m = m + m.T
    grand = h.mean()
    h1 = (n - 1) / (n - 2) * (m.sum(1) / (n - 1) - grand)
    resid = h - grand - h1[iu[0]] - h1[iu[1]]
    s2 = (resid ** 2).sum() / (h.size - n)
    return 4.0 * (np.var(h1, ddof=1) - s2 / (n - 2)) / n + s2 / h.size


def _influence(x, y):
    xs, ys = (x - x.mean()) / x.std(), (y - y.mean()) / y.std()
    r = np.mean(xs * ys)
    return xs * ys - r * (xs ** 2 + ys ** 2) / 2.0


def test_pair_noise_variance_is_the_residual_variance_on_the_counts():
    """By brute force: least squares of each column on [1, counts] with lstsq, residual sum of squares over
    (B - rank), against the function (one factor, and the resample term of split replicates)."""
    rng = np.random.default_rng(3)
    b, n = 400, 30
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=b)
    y = counts @ rng.normal(size=(n, 3)) + rng.normal(size=(b, 3)) * [1.0, 2.0, 0.5]
    x = np.column_stack([np.ones(b), counts])
    rank = np.linalg.matrix_rank(x)
    resid = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    expected = (resid ** 2).sum(0) / (b - rank)
    np.testing.assert_allclose(intervals.pair_noise_variance(y[:, None], counts), expected, rtol=1e-10)
    assert expected == pytest.approx([1.0, 4.0, 0.25], rel=0.2)
    # split replicates: the resample term of the residuals' two-way table (split noise left out)
    splits = y[:, None, :1] + rng.normal(size=(b, 4, 1))
    r = splits[:, :, 0] - x @ np.linalg.lstsq(x, splits[:, :, 0], rcond=None)[0]
    row = r.mean(1)
    ms_r = 4 * ((row - row.mean()) ** 2).sum() / (b - rank)
    inter = r - row[:, None] - r.mean(0)[None] + r.mean()
    ms_i = (inter ** 2).sum() / ((b - rank) * 3)
    np.testing.assert_allclose(intervals.pair_noise_variance(splits, counts), [(ms_r - ms_i) / 4], rtol=1e-10)
    # too few resamples beyond the sounds: not estimated, and no correction is made
    few = counts[: n + intervals.MIN_PAIR_NOISE_DF - 1]
    assert np.isnan(intervals.pair_noise_variance(y[: few.shape[0], None], few)).all()
    plain = intervals.split_variance(y[: few.shape[0], None])
    np.testing.assert_array_equal(intervals.split_variance(y[: few.shape[0], None], pair_noise=np.full(3, np.nan)),
                                  plain)


def test_pair_noise_correction_gives_the_u_statistic_variance():
    """On studies of two models equal in distribution (their difference: per-sound terms cancel), the
    bootstrap variance of the paired difference is 2 to 4 times Hoeffding's U-statistic variance computed from
    the pairs' influences; with the pairs' noise removed it is that variance (two estimators of one quantity:
    measured 0.93 to 1.25 per study, 1.04 on average over 6)."""
    from audioprobe.metrics import inference

    ratios, plain_ratios = [], []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        n, b = 80, 1000
        iu, (xa, xb), y = _study(rng, n, shared=1.0)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=b)
        w = counts[:, iu[0]] * counts[:, iu[1]]
        ra, rb = _pearson_over_pairs(xa, y, w), _pearson_over_pairs(xb, y, w)
        u = _hoeffding_variance(_influence(xa, y) - _influence(xb, y), n, iu)
        plain = inference.paired_difference(0.0, 0.0, ra, rb, n_sounds=n)["variance"]
        corrected = inference.paired_difference(0.0, 0.0, inference.OverPairs(ra, counts),
                                                inference.OverPairs(rb, counts), n_sounds=n)["variance"]
        ratios.append(corrected / u)
        plain_ratios.append(plain / u)
        # results on other draws are not paired with the correction: it is dropped, not misapplied
        other = inference.paired_difference(0.0, 0.0, inference.OverPairs(ra, counts),
                                            inference.OverPairs(rb, counts[::-1].copy()), n_sounds=n)["variance"]
        assert other == pytest.approx(plain)
    assert min(plain_ratios) > 1.8
    assert 0.8 < min(ratios) and max(ratios) < 1.4
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.12)


def test_pair_noise_columns_correct_each_score_and_no_difference():
    """OverPairs.columns: in a table where only some scores are pair statistics (a headline chosen among
    layers is not), each marked score's variance is corrected as on its own, the others' are the bootstrap's,
    and differences and covariances keep the bootstrap's variance (a one-sided correction could undercount)."""
    from audioprobe.metrics import inference

    rng = np.random.default_rng(5)
    n, b = 60, 400
    iu, (xa, xb), y = _study(rng, n, shared=1.0)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=b)
    w = counts[:, iu[0]] * counts[:, iu[1]]
    reps = np.stack([_pearson_over_pairs(xa, y, w), _pearson_over_pairs(xb, y, w)], axis=1)  # [b, 2]
    est = np.array([0.1, 0.2])
    mixed = inference.contrast_statistics(est, inference.OverPairs(reps, counts, columns=[True, False]), n_sounds=n)
    alone = inference.contrast_statistics(est[0], inference.OverPairs(reps[:, 0], counts), n_sounds=n)
    plain = inference.contrast_statistics(est, reps, n_sounds=n)
    assert mixed["variance"][0] == pytest.approx(alone["variance"]) and alone["variance"] < plain["variance"][0]
    assert mixed["variance"][1] == pytest.approx(plain["variance"][1])
    table = inference.pairwise_table(est, inference.OverPairs(reps, counts, columns=[True, False]), n_sounds=n)
    assert table["variance"][0][1] == pytest.approx(inference.pairwise_table(est, reps, n_sounds=n)["variance"][0][1])
    assert table["score"]["variance"] == pytest.approx(mixed["variance"])
    both = inference.pairwise_table(est, inference.OverPairs(reps, counts), n_sounds=n)
    assert both["variance"][0][1] < table["variance"][0][1]
    with pytest.raises(ValueError, match="one bool per score"):
        inference.contrast_statistics(est, inference.OverPairs(reps, counts, columns=[True]), n_sounds=n)


def test_pair_noise_corrected_variance_is_the_sampling_variance_under_a_null():
    """Calibration under a known null: 200 studies of new sounds where the target carries nothing for the
    model (a degenerate U-statistic: no per-sound term). The bootstrap's variance is about 3 times the
    variance of the estimate over the studies; corrected, their ratio is about 1 and the 95% t interval
    covers 0 at about its level."""
    from audioprobe.metrics import inference

    rng = np.random.default_rng(11)
    n, b, studies = 60, 300, 200
    est, plain, corrected, covered = [], [], [], []
    for _ in range(studies):
        iu, (x,), y = _study(rng, n)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=b)
        reps = _pearson_over_pairs(x, y, counts[:, iu[0]] * counts[:, iu[1]])
        e = float(np.corrcoef(x, y)[0, 1])
        st = inference.contrast_statistics(e, inference.OverPairs(reps, counts), n_sounds=n)
        est.append(e)
        plain.append(inference.contrast_statistics(e, reps, n_sounds=n)["variance"])
        corrected.append(st["variance"])
        covered.append(st["ci"][0] <= 0.0 <= st["ci"][1])
    true = np.var(est, ddof=1)
    assert np.mean(plain) / true > 2.0
    assert 0.75 < np.mean(corrected) / true < 1.33
    assert 0.91 <= np.mean(covered) <= 0.985


def test_proportion_interval_is_wilson_on_the_effective_sample_size():
    """With a binomial variance p (1 - p) / n, the interval is scipy's Wilson interval for k of n; at p = 0
    (variance 0, every replicate 0) it keeps a positive upper bound from n_max instead of [0, 0]."""
    from scipy.stats import binomtest

    for k, n in ((0, 20), (1, 20), (7, 22), (20, 20), (3, 150)):
        p = k / n
        got = intervals.proportion_interval(p, p * (1 - p) / n, np.inf, n, 0.95)
        want = binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert got == pytest.approx([want.low, want.high], abs=1e-12), (k, n)
    # a weighted proportion: its effective size from the variance given, whatever n_max says
    lo, hi = intervals.proportion_interval(0.3, 0.3 * 0.7 / 40, np.inf, 10, 0.95)
    want = binomtest(12, 40).proportion_ci(0.95, method="wilson")
    assert (lo, hi) == pytest.approx((want.low, want.high), abs=1e-12)
    # the t quantile: wider than the normal one, and inside [0, 1]
    lo_t, hi_t = intervals.proportion_interval(0.3, 0.3 * 0.7 / 40, 10, 10, 0.95)
    assert 0 <= lo_t < lo and hi < hi_t <= 1
    assert intervals.kish_size(np.ones(7)) == pytest.approx(7)
    assert intervals.kish_size([1.0, 1.0, 0.5, 0.5]) == pytest.approx(9 / 2.5)


def test_proportion_interval_covers_where_a_t_interval_from_the_bootstrap_does_not():
    """Binomial studies of 20 sounds at p = 0.05 (all wrong in 36% of them): the t interval from the
    bootstrap's variance covers p only when something was right; the Wilson interval on the effective size
    covers at about its level (Brown, Cai & DasGupta 2001)."""
    rng = np.random.default_rng(3)
    n, p, studies = 20, 0.05, 2000
    k = rng.binomial(n, p, studies)
    est = k / n
    var = est * (1 - est) / n  # what a bootstrap of the sounds gives, up to n / (n - 1)
    wilson = intervals.proportion_interval(est, var, n - 1, n, 0.95)
    t_int = intervals.t_interval(est, var, n - 1, 0.95)
    covers = lambda ci: np.mean((ci[:, 0] <= p) & (p <= ci[:, 1]))  # noqa: E731
    assert covers(t_int) < 0.7
    assert covers(wilson) > 0.93
