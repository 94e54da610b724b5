"""Statistics: the count-based bootstrap against explicitly resampled RDMs (numpy and rsatoolbox),
permutations against explicit permutation, coverage of intervals, uniformity of null p-values,
noise ceiling and cross-validated selection on constructed data with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from scipy.stats import kstest

from audioprobe.metrics import (
    ceiling,
    geometry,
    intervals,
    layer_selection,
    mantel,
    pearson,
    resampling,
    rsa_inference,
    split_pearson,
)


def rdms(rng, n=14, layers=3):
    x = np.stack([pdist(rng.normal(size=(n, 4))) for _ in range(layers)])
    return x, x[0] + pdist(rng.normal(size=(n, 2)))


def test_weighted_pearson_equals_resampled_rdm(rng):
    x, y = rdms(rng)
    counts = resampling.bootstrap_counts(rng, 14, 20)
    assert np.all(counts.sum(axis=1) == 14)
    got = pearson.weighted_pearson(x, y, counts)
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
    got = pearson.weighted_pearson(x, y, resampling.counts_from_draws(draws, 12))
    for b, idx in enumerate(draws):
        ref = compare(model.subsample_pattern("index", idx), data.subsample_pattern("index", idx), "corr")[:, 0]
        np.testing.assert_allclose(got[b], ref, atol=1e-12)


def test_blocks_give_halves_and_whole(rng):
    x, y = rdms(rng)
    counts = resampling.bootstrap_counts(rng, 14, 10)
    halves = resampling.random_halves(rng, 14, 10)
    assert np.all(halves.sum(axis=1) == 7)
    a, b, whole = pearson.weighted_pearson_blocks(x, y, [counts * halves, counts * ~halves])
    for r in range(10):  # each block and their sum: r over the explicitly resampled pairs
        for got, w in ((a, counts[r] * halves[r]), (b, counts[r] * ~halves[r]), (whole, counts[r])):
            draws = np.repeat(np.arange(14), w)
            i, j = np.triu_indices(draws.size, 1)
            mask = draws[i] != draws[j]
            ys = squareform(y)[draws[i], draws[j]][mask]
            ref = [np.corrcoef(squareform(row)[draws[i], draws[j]][mask], ys)[0, 1] for row in x]
            if np.count_nonzero(w) >= 3:
                np.testing.assert_allclose(got[r], ref, atol=1e-10)
    # a 0/1 weight is the score on that subset's pairs
    sub = np.nonzero(halves[0])[0]
    ref = geometry.pearson_rows(np.stack([geometry.upper_triangle(squareform(r)[np.ix_(sub, sub)]) for r in x]),
                           geometry.upper_triangle(squareform(y)[np.ix_(sub, sub)]))
    np.testing.assert_allclose(pearson.weighted_pearson(x, y, halves[:1])[0], ref, atol=1e-12)


def test_permuted_pearson_equals_explicit_permutation(rng):
    x, y = rdms(rng)
    perms = resampling.random_permutations(rng, 14, 7)
    got = mantel.permuted_pearson(x, y, perms)
    for b, p in enumerate(perms):
        yp = geometry.upper_triangle(squareform(y)[np.ix_(p, p)])
        np.testing.assert_allclose(got[b], geometry.pearson_rows(x, yp), atol=1e-12)
    loop = mantel.permuted_scores_loop(x, y, perms, lambda a, b: geometry.pearson_rows(a, b)[0])
    np.testing.assert_allclose(loop, got, atol=1e-12)


def test_permutation_p_values_uniform_under_null():
    rng = np.random.default_rng(7)
    n, reps, n_perm = 10, 300, 199
    perms = resampling.random_permutations(rng, n, n_perm)
    p = []
    for _ in range(reps):  # independent sounds for model and target: the null holds
        x, y = pdist(rng.normal(size=(n, 3)))[None, :], pdist(rng.normal(size=(n, 3)))
        p.append(mantel.permutation_p_value(geometry.pearson_rows(x, y), mantel.permuted_pearson(x, y, perms))[0])
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
        lo, hi = intervals.percentile_interval(pearson.weighted_pearson(x, y, resampling.bootstrap_counts(rng, n, boots)))[0]
        cover += lo <= truth <= hi
    assert 0.85 <= cover / reps <= 0.99, cover / reps


def test_cross_validated_selection_removes_optimism():
    rng = np.random.default_rng(11)
    n = 30
    cv, best = [], []
    for _ in range(12):
        y = pdist(rng.normal(size=(n, 2)))
        x = np.stack([pdist(rng.normal(size=(n, 2))) for _ in range(15)])  # 15 layers, none related
        halves = resampling.random_halves(rng, n, 20)
        a, b, _ = pearson.weighted_pearson_blocks(x, y, [halves, ~halves])
        held, chosen = layer_selection.cross_validated_selection(a, b)
        cv.append(held.mean())
        best.append(geometry.pearson_rows(x, y).max())
    assert np.mean(best) > 0.05  # picking the max on all data is biased upwards
    assert abs(np.mean(cv)) < 0.02  # the held-out score is not
    # and a real layer is found
    y = pdist(rng.normal(size=(n, 2)))
    x = np.stack([pdist(rng.normal(size=(n, 2))), y + 0.1 * rng.random(y.size), pdist(rng.normal(size=(n, 2)))])
    halves = resampling.random_halves(rng, n, 20)
    a, b, _ = pearson.weighted_pearson_blocks(x, y, [halves, ~halves])
    held, chosen = layer_selection.cross_validated_selection(a, b)
    assert np.all(chosen == 1) and held.mean() > 0.9


def test_spearman_brown_and_ceiling_known_answers():
    assert ceiling.spearman_brown(0.5) == pytest.approx(2 / 3)
    assert ceiling.spearman_brown(1.0) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    same = {"d": np.tile(rng.integers(0, 3, size=12), (6, 1))}  # every listener answers alike
    r = ceiling.split_half_reliability(same, {"d": 3}, lambda c: geometry.symmetric_kl_rdm(c["d"], 0.5),
                                     lambda a, b: pearson.paired_rows(a, b, "pearson"), rng, 5)
    np.testing.assert_allclose(r, 1.0)
    noise = {"d": rng.integers(0, 3, size=(40, 30))}  # no shared signal: reliability near 0
    r = ceiling.split_half_reliability(noise, {"d": 3}, lambda c: geometry.symmetric_kl_rdm(c["d"], 0.5),
                                     lambda a, b: pearson.paired_rows(a, b, "pearson"), rng, 30)
    assert abs(r.mean()) < 0.05


def test_paired_rows_against_compare_rows(rng):
    a, b = rng.random((4, 30)), rng.random((4, 30))
    b[:, ::3] = 0.5  # ties
    for method in ("pearson", "spearman", "kendall_tau_a"):
        expected = [geometry.compare_rows(x, y, method)[0] for x, y in zip(a, b)]
        np.testing.assert_allclose(pearson.paired_rows(a, b, method), expected, atol=1e-12)


def test_rsa_statistics_tau_a_and_spearman_paths(rng):
    x, y = rdms(rng, n=12, layers=2)
    y01 = (y > np.median(y)).astype(float)
    out = rsa_inference.rsa_statistics(x, y01, "kendall_tau_a", 0, 30, 30, 5, 0.9)
    np.testing.assert_allclose(out["score"], [geometry.kendall_tau_a(r, y01) for r in x])
    assert np.all(out["ci"][:, 0] <= out["ci"][:, 1]) and np.all((out["p_value"] > 0) & (out["p_value"] <= 1))
    sp = rsa_inference.rsa_statistics(x, y, "spearman", 0, 30, 30, 5, 0.9)
    # permutation null of Spearman: exact, equal to Spearman against the permuted target
    perms = resampling.random_permutations(resampling.streams(0)[1], 12, 30)
    null = np.array([[geometry.compare_rows(r, geometry.upper_triangle(squareform(y)[np.ix_(p, p)]), "spearman")[0]
                      for r in x] for p in perms])
    np.testing.assert_allclose(sp["p_value"], (1 + (null >= sp["score"] - 1e-9).sum(axis=0)) / (1 + 30))


# ---------------------------------------------------------------------------------------------
# the two-factor (sounds and listeners) bootstrap and the leave-one-listener-out ceiling


def test_listener_stream_leaves_the_first_four_streams_unchanged():
    for seed in (0, 7):
        four, five = resampling.streams(seed), resampling.streams(seed, 5)
        for a, b in zip(four, five[:4]):
            np.testing.assert_array_equal(a.integers(0, 1 << 30, 20), b.integers(0, 1 << 30, 20))
    np.testing.assert_array_equal(resampling.listener_draws(3, 9, 5),
                                  resampling.bootstrap_counts(resampling.streams(3, 5)[4], 9, 5))


def test_two_distinct_sounds_give_no_correlation(rng):
    x, y = rdms(rng)
    two = np.zeros((1, 14), dtype=np.int64)
    two[0, [3, 8]] = [2, 1]  # two distinct sounds: one distinct pair, no correlation (not a rounding artefact)
    assert np.isnan(pearson.weighted_pearson(x, y, two)).all()


def _random_covariances(rng, k):
    """Three covariance matrices [3, k, k] in rsatoolbox's order (both factors, rdm = listeners,
    pattern = sounds), with the one-factor ones smaller than the two-factor one, as bootstraps give."""
    def cov(scale):
        a = rng.normal(size=(k, 2 * k)) * scale
        return a @ a.T / (2 * k)

    lis, snd = cov(rng.uniform(0.2, 1.0)), cov(rng.uniform(0.2, 1.0))
    return np.stack([lis + snd + cov(rng.uniform(0.0, 0.6)) - cov(rng.uniform(0.0, 0.6)), lis, snd])


def test_dual_bootstrap_variance_equals_rsatoolbox_extract_variances():
    from rsatoolbox.util.inference_util import extract_variances

    rng = np.random.default_rng(5)
    clipped = set()
    for _ in range(40):
        cov = _random_covariances(rng, 4)
        diag = np.einsum("kjj->kj", cov)
        for n_rdm, n_pattern in ((None, None), (12, 40), (3, 245)):
            ref = extract_variances(cov, nc_included=False, n_rdm=n_rdm, n_pattern=n_pattern)[0]
            got = intervals.dual_bootstrap_variance(diag[0], diag[1], diag[2], n_rdm, n_pattern)
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-15)
            clipped.update(np.where(got == diag[0], "both", np.where(got > 2 * (diag[1] + diag[2]) - diag[0] + 1e-15,
                                                                    "low", "none")).tolist())
    assert {"both", "none"} <= clipped  # the clipping and the unclipped formula both exercised


def _listener_problem(seed, n=20, n_listeners=12, spread=0.4):
    """Per-listener RDMs R_l = A + b_l B (listeners weigh a second feature differently), the target
    their mean: a target linear in per-listener RDMs, as rsatoolbox's data RDMs."""
    rng = np.random.default_rng(seed)
    a, b = pdist(rng.normal(size=(n, 3))), pdist(rng.normal(size=(n, 3)))
    per_listener = a + spread * rng.normal(size=n_listeners)[:, None] * b
    models = np.stack([a + b + rng.normal(size=a.size), a + 2.0 * rng.normal(size=a.size)])
    return per_listener, models


def _mean_of(per_listener):
    return lambda w: (w @ per_listener) / w.sum(axis=1, keepdims=True)


@pytest.mark.slow
def test_two_factor_variance_agrees_with_rsatoolbox_eval_dual_bootstrap(monkeypatch):
    """Our two-factor replicates and rsatoolbox's eval_dual_bootstrap on the same draws (its sampler
    replaced by ours, so no Monte-Carlo error separates them). The conventions still differ: our
    score is the correlation with the mean RDM of the drawn listeners, rsatoolbox's the mean over
    the drawn listeners of the correlation with each one's RDM; their variances agree to ~10-20%
    (measured 0.92-1.19 over 4 seeds). rsatoolbox's own covariances through our formula give its
    variance exactly."""
    import rsatoolbox.inference.evaluate as evaluate
    from rsatoolbox.model import ModelFixed
    from rsatoolbox.rdm import RDMs

    per_listener, models = _listener_problem(0)
    n_listeners, n = per_listener.shape[0], split_pearson.n_items(per_listener.shape[1])
    out = rsa_inference.rsa_statistics(models, per_listener.mean(axis=0), "pearson", 0, 1000, 0, 0, 0.95,
                               listener_targets=_mean_of(per_listener), n_listeners=n_listeners)
    draws = iter(zip([np.repeat(np.arange(n_listeners), c) for c in out["listener_counts"]],
                     [np.repeat(np.arange(n), c) for c in out["bootstrap_counts"]]))

    def our_draws(rdms, rdm_descriptor="index", pattern_descriptor="index"):
        listeners, sounds = next(draws)
        sample = rdms.subsample(rdm_descriptor, listeners).subsample_pattern(pattern_descriptor, sounds)
        return sample, listeners, sounds

    monkeypatch.setattr(evaluate, "bootstrap_sample", our_draws)
    res = evaluate.eval_dual_bootstrap([ModelFixed(f"m{k}", RDMs(m[None])) for k, m in enumerate(models)],
                                       RDMs(per_listener), method="corr", N=1000)
    theirs = np.einsum("kjj->kj", res.variances)[:, :2]  # double, rdm, pattern; the models' part
    np.testing.assert_allclose(intervals.dual_bootstrap_variance(*theirs, n_listeners, n), res.model_var, rtol=1e-12)
    # the bootstrap's own dual variance (rsatoolbox's) ...
    plain, _ = intervals.dual_variance_of(out["bootstrap"], out["bootstrap_listeners"], out["bootstrap_sounds"],
                                          n_listeners, n)
    ratio = plain / res.model_var
    assert np.all((ratio > 0.75) & (ratio < 1.33)), ratio
    # ... and ours, with the pairs' noise counted once (a statistic over sound pairs): never larger
    corrected, _ = intervals.dual_variance_of(out["bootstrap"], out["bootstrap_listeners"], out["bootstrap_sounds"],
                                              n_listeners, n, sound_counts=out["bootstrap_counts"])
    np.testing.assert_allclose(out["variance"], corrected, rtol=1e-12)
    assert np.all(corrected <= plain) and np.any(corrected < plain)
    ours = [intervals.replicate_variance(out[k]) for k in ("bootstrap", "bootstrap_listeners", "bootstrap_sounds")]
    assert np.all((np.array(ours) / theirs > 0.6) & (np.array(ours) / theirs < 1.6))
    # dof: Satterthwaite's per layer (intervals.dual_dof), never below rsatoolbox's min(n) - 1
    assert res.dof == min(n_listeners, n) - 1 and np.all(out["dof"] >= res.dof - 1e-9)


def test_two_factor_sound_replicates_are_the_one_factor_ones(rng):
    per_listener, models = _listener_problem(1, n=15, n_listeners=6)
    target = per_listener.mean(axis=0)
    for comparison in ("pearson", "spearman", "kendall_tau_a"):
        b = 30 if comparison == "kendall_tau_a" else 200
        one = rsa_inference.rsa_statistics(models, target, comparison, 4, b, 20, 5, 0.95)
        two = rsa_inference.rsa_statistics(models, target, comparison, 4, b, 20, 5, 0.95,
                                   listener_targets=_mean_of(per_listener), n_listeners=6)
        np.testing.assert_array_equal(two["bootstrap_sounds"], one["bootstrap"])
        np.testing.assert_array_equal(two["cv_bootstrap_sounds"], one["cv_bootstrap"])
        np.testing.assert_array_equal(two["bootstrap_counts"], one["bootstrap_counts"])
        for key in ("score", "p_value", "cv_scores", "cv_choice"):
            np.testing.assert_array_equal(two[key], one[key])
        np.testing.assert_array_equal(two["listener_counts"], resampling.listener_draws(4, 6, b))
        # replicate 0 of "both", directly: sound draw 0 and the mean RDM of listener draw 0
        y0 = _mean_of(per_listener)(two["listener_counts"][:1])[0]
        direct = rsa_inference.resampled_scores_loop(models, y0, two["bootstrap_counts"][:1],
                                             lambda p, q: geometry.compare_rows(p, q, comparison)[0])[0]
        tol = 0.05 if comparison == "spearman" else 1e-12  # spearman: ranks of the full set reused
        np.testing.assert_allclose(two["bootstrap"][0], direct, atol=tol)
        var, dof = intervals.dual_variance_of(two["bootstrap"], two["bootstrap_listeners"], two["bootstrap_sounds"], 6, 15,
                                              sound_counts=two["bootstrap_counts"])
        np.testing.assert_allclose(two["ci"], intervals.t_interval(two["score"], var, dof, 0.95))
        assert np.all(dof >= 5)


def test_leave_one_out_ceiling_equals_rsatoolbox_boot_noise_ceiling(rng):
    """A target linear in per-listener RDMs (their mean), each RDM standardised so that rsatoolbox's
    pooling for 'corr' (z-score each, average) is that mean up to a shift: equal bounds."""
    from rsatoolbox.inference import boot_noise_ceiling
    from rsatoolbox.rdm import RDMs

    per_listener, _ = _listener_problem(2, n=16, n_listeners=7, spread=1.0)
    per_listener = per_listener + 0.5 * rng.normal(size=per_listener.shape)
    per_listener = (per_listener - per_listener.mean(axis=1, keepdims=True)) / per_listener.std(axis=1, keepdims=True)
    lower, upper = ceiling.leave_one_out_ceiling(_mean_of(per_listener), 7,
                                               lambda a, b: pearson.paired_rows(a, b, "pearson"))
    ref_lower, ref_upper = boot_noise_ceiling(RDMs(per_listener), method="corr")
    assert lower.mean() == pytest.approx(ref_lower, abs=1e-12)
    assert upper.mean() == pytest.approx(ref_upper, abs=1e-12)
    assert ref_lower < ref_upper


def test_replicate_variance_and_t_interval():
    r = np.array([[1.0, np.nan], [2.0, 1.0], [4.0, np.nan]])
    np.testing.assert_allclose(intervals.replicate_variance(r), [np.var([1, 2, 4], ddof=1), np.nan])
    # the two-factor variance uses the resamples where all three kinds are defined
    both, lis = np.array([1.0, 2.0, 3.0, np.nan]), np.array([0.5, np.nan, 1.5, 2.0])
    snd = np.array([1.0, 2.0, 4.0, 9.0])
    ok = [0, 2]
    ref = intervals.dual_bootstrap_variance(*(np.var(v[ok], ddof=1) for v in (both, lis, snd)), 5, 9)
    np.testing.assert_allclose(intervals.dual_variance_of(both, lis, snd, 5, 9)[0], ref)
    from scipy.stats import t

    lo, hi = intervals.t_interval(0.5, 0.04, 16, 0.95)
    assert hi - 0.5 == pytest.approx(t.ppf(0.975, 16) * 0.2) and lo == pytest.approx(1.0 - hi)


def test_two_factor_variance_uses_rows_where_all_three_kinds_are_defined():
    """Unclipped numbers (the clipping would hide a variance taken over the wrong rows)."""
    both = np.array([0.9, 1.9, 2.8, np.nan, 2.0])
    lis = np.array([0.9, 1.4, 1.1, 2.0, 1.2])
    snd = np.array([1.2, 1.6, 2.9, 9.0, 2.0])  # row 3 is defined here only: left out
    ok = [0, 1, 2, 4]
    vb, vl, vs = (np.var(v[ok], ddof=1) for v in (both, lis, snd))
    kl, ks = 5 / 4, 9 / 8
    ref = kl * vl + ks * vs - kl * ks * (vb - vl - vs)
    assert kl * vl < ref < vb and ks * vs < ref  # not clipped
    np.testing.assert_allclose(intervals.dual_variance_of(both, lis, snd, 5, 9)[0], ref, rtol=1e-12)
    np.testing.assert_allclose(intervals.dual_variance_of(snd, lis, both, 5, 9)[0],
                               intervals.dual_bootstrap_variance(*(np.var(v[ok], ddof=1) for v in (snd, lis, both)), 5, 9))


def test_rsa_statistics_shapes_and_types_when_statistics_are_off(rng):
    x, y = rdms(rng, n=9, layers=3)
    out = rsa_inference.rsa_statistics(x, y, "pearson", 0, 0, 0, 0, 0.95)
    assert out["p_value"].shape == (3,) and np.isnan(out["p_value"]).all()
    assert out["ci"].shape == (3, 2) and np.isnan(out["ci"]).all()
    assert out["cv_choice"].dtype.kind == "i" and out["cv_choice"].size == 0 and out["cv_scores"].size == 0
    assert out["bootstrap"].shape == (0, 3) and out["bootstrap_counts"].shape == (0, 9)
    assert out["bootstrap_counts"].dtype == np.int64
    np.testing.assert_allclose(out["score"], geometry.pearson_rows(x, y))
    # a layer whose RDM is not finite: NaN in every statistic, the others unchanged
    bad = x.copy()
    bad[1, 0] = np.nan
    out = rsa_inference.rsa_statistics(bad, y, "pearson", 0, 30, 20, 4, 0.95)
    ref = rsa_inference.rsa_statistics(x[[0, 2]], y, "pearson", 0, 30, 20, 4, 0.95)
    assert np.isnan(out["score"][1]) and np.isnan(out["p_value"][1]) and np.isnan(out["bootstrap"][:, 1]).all()
    assert np.isnan(out["ci"][1]).all()
    np.testing.assert_allclose(out["score"][[0, 2]], ref["score"])
    np.testing.assert_allclose(out["p_value"][[0, 2]], ref["p_value"])
    np.testing.assert_allclose(out["bootstrap"][:, [0, 2]], ref["bootstrap"], atol=1e-12)
    assert not np.any(out["cv_choice"] == 1)


def test_no_finite_layer(rng):
    x, y = rdms(rng, n=10, layers=2)
    out = rsa_inference.rsa_statistics(np.full_like(x, np.nan), y, "pearson", 0, 20, 15, 3, 0.95)
    for key, shape in (("score", (2,)), ("p_value", (2,)), ("ci", (2, 2)), ("bootstrap", (20, 2))):
        assert out[key].shape == shape and np.isnan(out[key]).all(), key
    assert out["cv_bootstrap"].shape == (20, 3) and np.isnan(out["cv_bootstrap"]).all()


def test_a_target_constant_on_the_drawn_sounds_gives_no_correlation():
    """Sounds 0-3 all differ in label: on them the 0/1 target is constant (all pairs differ), so r is
    undefined (NaN), not the -1e-9 that rounding left before."""
    labels = [0, 1, 2, 3, 0, 1, 2, 0, 1, 3]
    y = geometry.label_rdm(labels)
    x = np.random.default_rng(0).random((2, y.size))
    w = np.array([[1, 1, 1, 1, 0, 0, 0, 0, 0, 0]], dtype=float)
    assert np.isnan(pearson.weighted_pearson(x, y, w)).all()
    w_all = np.ones((1, 10))
    np.testing.assert_allclose(pearson.weighted_pearson(x, y, w_all)[0], [np.corrcoef(r, y)[0, 1] for r in x])
