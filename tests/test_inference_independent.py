"""Inference outputs against formulas written out here: the simultaneous critical value
against an independent simulation, the best set and rank intervals counted from the pairwise t statistics,
the depth trend's change from numpy's least squares, the attainable ratio, the exact output of the
degenerate cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sstats

from audioprobe.metrics import inference
from audioprobe.metrics.inference import ranking


def problem(seed=0, k=4, m=400):
    rng = np.random.default_rng(seed)
    est = np.array([0.50, 0.47, 0.30, 0.45])[:k]
    reps = est + rng.normal(scale=0.05, size=(m, 1)) + rng.normal(scale=0.03, size=(m, k))
    return est, reps


def pair_t(est, reps):
    """Every pair's t = (est_i - est_j) / se, se the one-factor bootstrap SD of the replicate differences (ddof 1,
    no small-sample factor: no n given)."""
    k = est.size
    t = np.full((k, k), np.nan)
    for i in range(k):
        for j in range(k):
            if i != j:
                t[i, j] = (est[i] - est[j]) / np.std(reps[:, i] - reps[:, j], ddof=1)
    return t


def max_t_critical(reps, level, draws=200_000, seed=5):
    """The level quantile of max |Z| over all pairs, Z normal with the pair differences' correlation, by an
    independent simulation (numpy's multivariate_normal on the replicates' own covariance)."""
    k = reps.shape[1]
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    a = np.zeros((len(pairs), k))
    for p, (i, j) in enumerate(pairs):
        a[p, i], a[p, j] = 1, -1
    cov = a @ np.cov(reps.T) @ a.T
    sd = np.sqrt(np.diag(cov))
    z = np.random.default_rng(seed).multivariate_normal(np.zeros(len(pairs)), cov / np.outer(sd, sd), size=draws)
    return float(np.quantile(np.abs(z).max(axis=1), level))


@pytest.mark.parametrize("lower_is_better", [False, True])
def test_best_set_and_rank_intervals_against_written_out_max_t(lower_is_better):
    est, reps = problem(k=4)
    if lower_is_better:
        est, reps = 1 - est, 1 - reps
    sim = inference.simultaneous_pairs(est, reps, level=0.95)
    c = max_t_critical(reps, 0.95)
    assert sim["critical_value"] == pytest.approx(c, abs=0.03) and sim["dof"] is None
    t = pair_t(est, reps)
    np.testing.assert_allclose(np.array(sim["t"], dtype=float), t, rtol=1e-9, equal_nan=True)
    sign = -1.0 if lower_is_better else 1.0
    beats = sign * t > sim["critical_value"]  # [i][j]: i significantly better than j
    np.fill_diagonal(beats, False)
    out = inference.best_set(est, reps, alpha=0.05, lower_is_better=lower_is_better, simultaneous=sim)
    assert out["in_group"] == [not beats[:, j].any() for j in range(4)]
    assert out["best"] == int(np.argmax(sign * est)) == 0
    ranks = inference.rank_intervals(est, reps, lower_is_better=lower_is_better, simultaneous=sim)
    assert ranks["rank_interval"] == [[1 + beats[:, j].sum(), 4 - beats[j, :].sum()] for j in range(4)]
    assert ranks["rank"] == sstats.rankdata(-sign * est).tolist()
    # the adjusted p of a pair: the share of simulated max |Z| at or above its |t|
    iu = (0, 2)
    z_share = ranking._max_abs_t(np.eye(1), np.inf)  # shape check of the helper on one pair
    assert z_share.size == inference.SIMULTANEOUS_DRAWS and np.all(np.diff(z_share) >= 0)
    assert sim["p_adjusted"][iu[0]][iu[1]] <= 0.05 if abs(t[iu]) > sim["critical_value"] else True


def test_two_models_simultaneous_is_the_pairwise_t_test():
    est, reps = problem(k=2)
    sim = inference.simultaneous_pairs(est, reps, n_sounds=30)
    pw = inference.pairwise_table(est, reps, n_sounds=30)
    assert sim["critical_value"] == pytest.approx(sstats.t.ppf(0.975, 29), abs=0.03)
    assert sim["p_adjusted"][0][1] == pytest.approx(pw["p_value"][0][1], abs=0.005)


def test_best_set_with_nothing_defined():
    for reps in (np.ones((5, 3)), {"both": np.ones((5, 3)), "sounds": np.ones((5, 3)), "listeners": np.ones((5, 3))}):
        out = inference.best_set([None, None, None], reps, alpha=0.1, lower_is_better=True)
        assert out["best"] is None and out["members"] == [] and out["in_group"] == [False] * 3
        assert out["gap"] == [None] * 3 and out["beaten_by"] == [None] * 3 and out["alpha"] == 0.1


def test_attainable_ratio_and_depth_trend_written_out():
    out = inference.attainable_ratio([0.2, 0.3, None], [0.25, 0.0, 0.5])
    assert out == {"ratio": [0.4, None, None], "attainable": [0.5, None, pytest.approx(np.sqrt(0.5))]}
    rng = np.random.default_rng(3)
    scores = np.array([0.1, 0.3, 0.2, 0.5, 0.45])
    reps = scores + 0.1 * rng.normal(size=(300, 5))
    reps[0, 1] = np.nan  # a resample with an undefined layer is left out of the change's replicates
    out = inference.depth_trend(scores, reps, level=0.9)
    slope = np.polyfit(np.arange(5), scores, 1)[0]
    keep = np.all(np.isfinite(reps), axis=1)
    change_reps = np.array([np.polyfit(np.arange(5), r, 1)[0] * 4 for r in reps[keep]])
    se = np.std(change_reps, ddof=1)
    assert out["change"] == pytest.approx(4 * slope) and out["se"] == pytest.approx(se)
    assert out["p_value"] == pytest.approx(2 * sstats.norm.sf(abs(4 * slope / se)))
    assert out["ci"] == pytest.approx([4 * slope - sstats.norm.ppf(0.95) * se, 4 * slope + sstats.norm.ppf(0.95) * se])
    rho = [sstats.spearmanr(np.flatnonzero(np.isfinite(r)), r[np.isfinite(r)])[0] for r in reps]
    assert out["rho"] == pytest.approx(sstats.spearmanr(np.arange(5), scores)[0])
    assert out["rho_ci"] == pytest.approx(np.quantile(rho, [0.05, 0.95]).tolist())
    assert out["n_resamples"] == 299 and out["n_layers"] == 5


def test_errors_name_the_argument_at_fault():
    reps = np.ones((4, 2))
    dual = {"both": reps, "sounds": reps, "listeners": reps}
    with pytest.raises(ValueError, match=r"^estimates is missing$"):
        inference.rank_intervals(None, reps)
    with pytest.raises(ValueError, match=r"^replicates_a is missing$"):
        inference.paired_difference(0.1, 0.2, None, reps[:, 0])
    with pytest.raises(ValueError, match=r"^replicates_b is missing$"):
        inference.paired_difference(0.1, 0.2, reps[:, 0], None)
    with pytest.raises(ValueError, match=r"^replicates_a\['sounds'\] is missing$"):
        inference.paired_difference(0.1, 0.2, {**dual, "sounds": None}, dual)
    with pytest.raises(ValueError, match=r"^replicates_b: .*\(missing \[\], unknown \['extra'\]\)$"):
        inference.paired_difference(0.1, 0.2, dual, {**dual, "extra": reps})
    with pytest.raises(ValueError, match=r"^replicates: .*\(missing \['listeners'\], unknown \[\]\)$"):
        inference.contrast_statistics(0.1, {"both": reps, "sounds": reps})


def test_layer_contrast_and_pairwise_table_with_the_bootstrap_test():
    est, reps = problem(2)
    a, b = reps[:, :2], reps[:, 2:]
    out = inference.layer_contrast(est[:2], est[2:], a, b, test="bootstrap", alpha=0.1)
    assert out["test"] == "bootstrap" and out["alpha"] == 0.1 and out["headline"] is None
    d = a - b
    p = []
    for k in range(2):
        n = d.shape[0]
        prop = np.sum(d[:, k] < 0) / n
        p.append((n - 1) / n * 2 * min(prop, 1 - prop) + 1 / n)
    assert out["layers"]["p_bootstrap"] == pytest.approx(p)
    order = np.argsort(p)
    q = np.minimum.accumulate((np.array(p)[order] * 2 / np.arange(1, 3))[::-1])[::-1]
    assert [out["layers"]["q_value"][i] for i in order] == pytest.approx(np.minimum(q, 1).tolist())
    with pytest.raises(ValueError, match=r"^scores_a is missing$"):
        inference.layer_contrast(None, est[2:], a, b)
    table = inference.pairwise_table(est, reps, alpha=0.2, test="bootstrap")
    assert table["alpha"] == 0.2 and table["test"] == "bootstrap" and table["m"] == 6
