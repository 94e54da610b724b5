"""Inference outputs against formulas written out here (issue 16): the one-factor paired t-test of
the gap to the best with scipy, the bootstrap p, BH over k - 1, rank intervals from the ranks of
each replicate, and the exact output of the degenerate cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sstats

from audioprobe.metrics import inference


def problem(seed=0, k=4, m=400):
    rng = np.random.default_rng(seed)
    est = np.array([0.50, 0.47, 0.30, 0.45])[:k]
    reps = est + rng.normal(scale=0.05, size=(m, 1)) + rng.normal(scale=0.03, size=(m, k))
    return est, reps


def gap_tests(est, reps, best, sign=1.0):
    """Paired gap best - i: one-factor variance of the replicate differences (ddof 1), two-sided t
    with the normal distribution (no dof given), and the bootstrap p of rsatoolbox's formula."""
    out = {}
    for i in range(est.size):
        if i == best:
            continue
        d = sign * (reps[:, best] - reps[:, i])
        gap = sign * (est[best] - est[i])
        se = np.std(d, ddof=1)
        n = d.size
        prop = np.sum(d < 0) / (n - np.sum(d == 0))
        p_boot = (n - 1) / n * 2 * min(prop, 1 - prop) + 1 / n
        out[i] = {"gap": gap, "p_t": 2 * sstats.norm.sf(abs(gap / se)), "p_boot": p_boot,
                  "ci": [gap - sstats.norm.ppf(0.975) * se, gap + sstats.norm.ppf(0.975) * se]}
    return out


@pytest.mark.parametrize("test", ["t", "bootstrap"])
@pytest.mark.parametrize("lower_is_better", [False, True])
def test_indistinguishable_from_best_against_written_out_tests(test, lower_is_better):
    est, reps = problem()
    if lower_is_better:
        est, reps = 1 - est, 1 - reps
    out = inference.indistinguishable_from_best(est, reps, alpha=0.05, test=test, lower_is_better=lower_is_better)
    sign = -1.0 if lower_is_better else 1.0
    best = int(np.argmax(sign * est))
    assert out["best"] == best == 0
    ref = gap_tests(est, reps, best, sign)
    p = {i: r["p_t" if test == "t" else "p_boot"] for i, r in ref.items()}
    ranked = sorted(p, key=p.get)
    q = {}
    for rank, i in enumerate(ranked, start=1):  # BH over the k - 1 comparisons
        q[i] = min(1.0, min(3 * p[j] / r for r, j in enumerate(ranked, start=1) if r >= rank))
    for i, r in ref.items():
        assert out["gap"][i] == pytest.approx(r["gap"], abs=1e-12)
        assert out["gap_ci"][i] == pytest.approx(r["ci"], abs=1e-9)
        assert out["p_value"][i] == pytest.approx(p[i], rel=1e-9, abs=1e-15)
        assert out["q_value"][i] == pytest.approx(q[i], rel=1e-9, abs=1e-15)
        assert out["in_group"][i] == (q[i] > 0.05)
    assert out["gap"][best] == 0 and out["p_value"][best] is None and out["q_value"][best] is None
    assert out["in_group"][best] is True
    members = [best] + sorted((i for i in ref if q[i] > 0.05), key=lambda i: -sign * est[i])
    assert out["members"] == members and 1 in members and 2 not in members
    assert {k: out[k] for k in ("alpha", "test", "lower_is_better", "dof", "design")} == {
        "alpha": 0.05, "test": test, "lower_is_better": lower_is_better, "dof": None, "design": "one-factor"}


def test_indistinguishable_from_best_with_nothing_defined():
    for reps, design in ((np.ones((5, 3)), "one-factor"),
                         ({"both": np.ones((5, 3)), "sounds": np.ones((5, 3)), "listeners": np.ones((5, 3))}, "dual")):
        out = inference.indistinguishable_from_best([None, None, None], reps, alpha=0.1, test="bootstrap",
                                                    lower_is_better=True)
        assert out == {"best": None, "members": [], "in_group": [False] * 3, "gap": [None] * 3,
                       "gap_ci": [[None, None]] * 3, "p_value": [None] * 3, "q_value": [None] * 3, "alpha": 0.1,
                       "test": "bootstrap", "lower_is_better": True, "dof": None, "design": design}


@pytest.mark.parametrize("lower_is_better", [False, True])
def test_rank_intervals_from_the_ranks_of_each_replicate(lower_is_better):
    est, reps = problem(1)
    reps[3, 2] = np.nan  # a resample where a ranked model is undefined is dropped
    out = inference.rank_intervals([*est, None], np.c_[reps, reps[:, :1]], lower_is_better=lower_is_better,
                                   level=0.8)
    sgn = 1 if lower_is_better else -1
    rank = sstats.rankdata(sgn * est)
    keep = np.all(np.isfinite(reps), axis=1)
    r = sstats.rankdata(sgn * reps[keep], axis=1)
    assert out["rank"] == [*rank.tolist(), None]
    for i in range(4):
        assert out["rank_interval"][i] == [np.quantile(r[:, i], 0.1, method="lower"),
                                           np.quantile(r[:, i], 0.9, method="higher")]
        best = reps[keep].min(axis=1) if lower_is_better else reps[keep].max(axis=1)
        assert out["share_best"][i] == pytest.approx(np.mean(reps[keep][:, i] == best))
    assert out["rank_interval"][4] == [None, None] and out["share_best"][4] is None
    assert out["n_resamples"] == int(keep.sum()) == 399
    assert out["lower_is_better"] is lower_is_better and out["level"] == 0.8


def test_ceiling_normalised_and_depth_trend_written_out():
    out = inference.ceiling_normalised([0.2, 0.3, None], [0.4, 0.0, 0.5], None)
    assert out == {"of_lower": [0.5, None, None], "of_upper": [None, None, None]}
    rng = np.random.default_rng(3)
    scores = np.array([0.1, 0.3, 0.2, 0.5, 0.45])
    reps = scores + 0.1 * rng.normal(size=(300, 5))
    reps[0, 1] = np.nan  # rho over the defined layers
    out = inference.depth_trend(scores, reps, level=0.9)
    rho = [sstats.spearmanr(np.flatnonzero(np.isfinite(r)), r[np.isfinite(r)])[0] for r in reps]
    assert out["rho"] == pytest.approx(sstats.spearmanr(np.arange(5), scores)[0])
    assert out["ci"] == pytest.approx(np.quantile(rho, [0.05, 0.95]).tolist())
    n = len(rho)
    prop = np.sum(np.array(rho) < 0) / n
    assert out["p_bootstrap"] == pytest.approx((n - 1) / n * 2 * min(prop, 1 - prop) + 1 / n)
    assert out["n_resamples"] == 300 and out["n_layers"] == 5


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
