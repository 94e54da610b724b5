"""Agreement of measures (metrics/inference/agreement.py): Kendall's W against Friedman's statistic (scipy) and
against its definition written out here, pairwise Kendall tau against scipy, the replicate intervals, and the
intersection-union verdicts on claims (constructed cases, the level and the power by simulation)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from scipy import stats as sstats

from audioprobe.metrics.inference import agreement as ag

# ----------------------------------------------------------------------------------------------
# references written here


def average_ranks_best_first(values):
    """Ranks 1..n by sorting (1 = highest), ties sharing the mean of their positions."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    ranks = [0.0] * len(values)
    pos = 0
    while pos < len(order):
        end = pos
        while end + 1 < len(order) and values[order[end + 1]] == values[order[pos]]:
            end += 1
        for q in range(pos, end + 1):
            ranks[order[q]] = (pos + end) / 2.0 + 1.0
        pos = end + 1
    return ranks


def brute_w(rows):
    """Kendall's W from its definition: rank sums R_j, S = sum (R_j - mean R)^2, ties t^3 - t per judge."""
    k, n = len(rows), len(rows[0])
    ranks = [average_ranks_best_first(list(r)) for r in rows]
    sums = [sum(ranks[i][j] for i in range(k)) for j in range(n)]
    mean = sum(sums) / n
    s = sum((r - mean) ** 2 for r in sums)
    ties = sum(t ** 3 - t for r in rows for t in Counter(list(r)).values())
    return 12.0 * s / (k * k * (n ** 3 - n) - k * ties)


def friedman_w(x):
    """W = chi2 / (k (n - 1)) with Friedman's test taking the n models as treatments, the k measures as blocks:
    one sample per model, holding its k scores."""
    k, n = x.shape
    chi2 = sstats.friedmanchisquare(*[x[:, j] for j in range(n)]).statistic
    return chi2 / (k * (n - 1))


def as_float(x):
    a = np.array(x, dtype=object)
    return np.where(a == None, np.nan, a).astype(float)  # noqa: E711


def strict_json(x):
    return json.dumps(x, allow_nan=False)


# ----------------------------------------------------------------------------------------------
# Kendall's W


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("k,n", [(2, 3), (3, 5), (5, 8), (4, 12)])
def test_w_equals_friedman(k, n, ties):
    rng = np.random.default_rng(100 * k + n + ties)
    for _ in range(5):
        x = rng.normal(size=(k, n))
        if ties:
            x = np.round(x * 1.5)  # a few values: many ties
        if np.all(x == x[:, :1]):
            continue  # every measure ties every model: W undefined, Friedman divides by 0
        assert ag.kendalls_w(x) == pytest.approx(friedman_w(x), rel=1e-10, abs=1e-12)


def test_w_equals_its_definition():
    rows = [[0.9, 0.5, 0.5, 0.1, 0.3, 0.7],
            [0.8, 0.6, 0.2, 0.2, 0.2, 0.9],
            [0.4, 0.4, 0.1, 0.3, 0.0, 0.6]]
    assert ag.kendalls_w(rows) == pytest.approx(brute_w(rows), rel=1e-12)
    rng = np.random.default_rng(7)
    for _ in range(20):
        x = np.round(rng.normal(size=(rng.integers(2, 6), rng.integers(2, 9))), 0)
        expected = None if np.all(x == x[:, :1]) else brute_w(x.tolist())
        got = ag.kendalls_w(x)
        assert (got is None) if expected is None else got == pytest.approx(expected, rel=1e-12)


def test_w_known_values():
    base = np.array([0.1, 0.5, 0.3, 0.9, 0.7])
    assert ag.kendalls_w(np.stack([base, 2 * base + 1, base ** 3])) == 1.0  # identical rankings
    tied = np.array([1.0, 1.0, 2.0, 3.0, 3.0])
    assert ag.kendalls_w(np.stack([tied, tied + 5])) == 1.0  # identical rankings with ties
    for n in (2, 4, 5):
        r = np.arange(n, dtype=float)
        assert ag.kendalls_w(np.stack([r, -r])) == 0.0  # two judges in exact reverse order


def test_w_lower_is_better_flips():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 7))
    flags = [False, True, False]
    assert ag.kendalls_w(x, flags) == pytest.approx(ag.kendalls_w(x * np.array([1, -1, 1])[:, None]), rel=1e-12)
    err = np.stack([x[0], -x[0]])  # an error rate that orders the models as the score does
    assert ag.kendalls_w(err, [False, True]) == 1.0
    assert ag.kendalls_w(err) == 0.0
    assert ag.kendalls_w(x, True) == pytest.approx(ag.kendalls_w(x), rel=1e-12)  # all reversed: same W


def test_w_missing_and_undefined():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 6))
    with_nan = x.copy()
    with_nan[1, 2] = np.nan
    assert ag.kendalls_w(with_nan) == pytest.approx(ag.kendalls_w(np.delete(x, 2, axis=1)), rel=1e-12)
    listed = with_nan.tolist()
    listed[0][4] = None
    assert ag.kendalls_w(listed) == pytest.approx(ag.kendalls_w(np.delete(x, [2, 4], axis=1)), rel=1e-12)
    assert ag.kendalls_w(x[:1]) is None  # one measure
    assert ag.kendalls_w(x[:, :1]) is None  # one model
    assert ag.kendalls_w(np.ones((3, 4))) is None  # every measure ties every model
    assert ag.kendalls_w(np.stack([np.ones(4), np.arange(4.0)])) is not None  # one tied judge: defined
    with pytest.raises(ValueError):
        ag.kendalls_w(x[0])
    with pytest.raises(ValueError):
        ag.kendalls_w(x, [True, False])


# ----------------------------------------------------------------------------------------------
# pairwise tau


def test_pairwise_tau_equals_scipy():
    rng = np.random.default_rng(5)
    x = np.round(rng.normal(size=(4, 9)), 1)
    x[2, 3] = np.nan
    flags = [False, True, False, True]
    tau = as_float(ag.pairwise_rank_agreement(x, flags))
    sign = np.where(flags, -1.0, 1.0)
    for a in range(4):
        for b in range(4):
            both = np.isfinite(x[a]) & np.isfinite(x[b])
            expected = 1.0 if a == b else sign[a] * sign[b] * sstats.kendalltau(x[a, both], x[b, both]).statistic
            assert tau[a, b] == pytest.approx(expected, rel=1e-12)
    plain = as_float(ag.pairwise_rank_agreement(x))
    assert np.allclose(plain * np.outer(sign, sign), tau)


def test_pairwise_tau_meaning_and_undefined():
    r = np.arange(6.0)
    tau = ag.pairwise_rank_agreement(np.stack([r, -r, r ** 2, np.ones(6)]), [False, True, False, False])
    assert tau[0][1] == pytest.approx(1.0) and tau[0][2] == pytest.approx(1.0)  # same order best to worst
    assert tau[0][3] is None and tau[3][3] is None  # a measure tying every model
    assert ag.pairwise_rank_agreement(np.stack([r, -r]))[0][1] == pytest.approx(-1.0)
    assert ag.pairwise_rank_agreement([[1.0, np.nan], [2.0, 3.0]])[0][1] is None  # one shared model


def test_vectorised_tau_equals_scipy():
    rng = np.random.default_rng(6)
    xa, xb = np.round(rng.normal(size=(50, 7)), 0), np.round(rng.normal(size=(50, 7)), 0)
    got = ag._tau_b_rows(xa, xb, chunk_elements=40)  # several chunks
    for row in range(50):
        expected = sstats.kendalltau(xa[row], xb[row]).statistic
        assert (np.isnan(got[row]) and np.isnan(expected)) or got[row] == pytest.approx(expected, rel=1e-12)


# ----------------------------------------------------------------------------------------------
# concordance and its intervals


def test_concordance_without_replicates():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3, 6))
    out = ag.concordance(x)
    assert out["w"] == ag.kendalls_w(x)
    assert out["pairwise_tau"] == ag.pairwise_rank_agreement(x)
    assert out["w_ci"] is None and out["pairwise_tau_ci"] is None and out["n_resamples_used"] == 0
    assert out["n_models"] == 6 and out["n_measures"] == 3
    assert "percentile bootstrap" in out["method"]
    strict_json(out)


def test_concordance_replicates_equal_to_estimate_collapse():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(3, 7))
    flags = [False, False, True]
    out = ag.concordance(x, np.broadcast_to(x, (40, 3, 7)), flags)
    assert out["w_ci"] == [out["w"], out["w"]]
    assert out["n_resamples_used"] == 40
    for a in range(3):
        for b in range(3):
            assert out["pairwise_tau_ci"][a][b] == pytest.approx([out["pairwise_tau"][a][b]] * 2, rel=1e-12)
            assert out["pairwise_n_resamples"][a][b] == 40


def test_concordance_noise_interval_and_vectorisation():
    rng = np.random.default_rng(10)
    truth = np.linspace(0.0, 1.0, 8)
    x = truth + rng.normal(scale=0.15, size=(4, 8))  # measures that mostly agree
    reps = x + rng.normal(scale=0.05, size=(300, 4, 8))
    flags = [False, True, False, False]
    x[1], reps[:, 1] = -x[1], -reps[:, 1]  # measure 1 an error rate
    out = ag.concordance(x, reps, flags, level=0.9)
    lo, hi = out["w_ci"]
    assert lo <= out["w"] <= hi and lo < hi
    per_row = np.array([ag.kendalls_w(r, flags) for r in reps])  # the vectorised W, row by row
    assert [lo, hi] == pytest.approx(np.quantile(per_row, [0.05, 0.95]).tolist(), rel=1e-12)
    tau_rows = np.array([as_float(ag.pairwise_rank_agreement(r, flags))[0, 1] for r in reps])
    assert out["pairwise_tau_ci"][0][1] == pytest.approx(np.quantile(tau_rows, [0.05, 0.95]).tolist(), rel=1e-12)
    assert out["pairwise_tau"][0][1] > 0  # the error rate, flipped, agrees


def test_concordance_drops_undefined_resamples():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(3, 6))
    x[2, 5] = np.nan  # model 5 left out of W
    reps = x + rng.normal(scale=0.1, size=(50, 3, 6))
    reps[:, 2, 5] = np.nan  # where the estimate is missing: no effect on W's resamples
    reps[[3, 17, 40], 0, 1] = np.nan  # a used model missing: these resamples dropped
    reps[8, 1, 5] = np.nan  # model 5 under measure 1: dropped for tau(0, 1) and tau(1, 1) only
    out = ag.concordance(x, reps)
    assert out["n_models"] == 5
    assert out["n_resamples_used"] == 47
    good = np.setdiff1d(np.arange(50), [3, 17, 40])
    per_row = np.array([ag.kendalls_w(reps[b][:, :5]) for b in good])
    assert out["w_ci"] == pytest.approx(np.quantile(per_row, [0.025, 0.975]).tolist(), rel=1e-12)
    n_used = np.array(out["pairwise_n_resamples"])
    assert n_used[0, 1] == 50 - 4 and n_used[1, 1] == 49 and n_used[0, 2] == 47 and n_used[2, 2] == 50
    strict_json(out)
    nothing = reps.copy()
    nothing[:, 0, 0] = np.nan
    out = ag.concordance(x, nothing)
    assert out["w_ci"] is None and out["n_resamples_used"] == 0 and out["pairwise_tau_ci"][0][1] is None
    strict_json(out)
    with pytest.raises(ValueError):
        ag.concordance(x, reps[:, :2])


def test_json_friendly_everywhere():
    x = np.array([[1.0, np.nan, 2.0], [np.nan, np.nan, np.nan], [3.0, 3.0, 3.0]])
    reps = np.broadcast_to(x, (5, 3, 3)).copy()
    strict_json(ag.kendalls_w(x))
    strict_json(ag.pairwise_rank_agreement(x))
    out = ag.concordance(x, reps, [False, True, False])
    strict_json(out)
    assert out["w"] is None and out["w_ci"] is None
    p = np.full((2, 3, 3), np.nan)
    strict_json(ag.claims_across_measures(p, p))


# ----------------------------------------------------------------------------------------------
# claims across measures


def claims(p_list, d_list, **kwargs):
    """Verdicts for two models from each measure's p and difference of model 0 minus model 1."""
    p = np.array([[[np.nan, q], [q, np.nan]] for q in p_list], dtype=float)
    d = np.array([[[np.nan, v], [-v, np.nan]] for v in d_list], dtype=float)
    return ag.claims_across_measures(p, d, **kwargs)


def test_claims_each_verdict():
    every, depends, none = ag.VERDICTS
    out = claims([0.001, 0.02, 0.04], [0.3, 0.2, 0.1])  # every two-sided p below 0.05, every difference positive
    assert out[0][1] == every and out[1][0] == none and out[0][0] is None
    assert claims([0.001, 0.02, 0.12], [0.3, 0.2, 0.1])[0][1] == depends  # one not significant
    out = claims([0.001, 0.02, 0.001], [0.3, 0.2, -0.1])  # one the other way
    assert out[0][1] == depends and out[1][0] == depends
    assert claims([0.001, 0.02, None], [0.3, 0.2, 0.1])[0][1] == depends  # one undefined
    assert claims([0.001, 0.02, 0.01], [0.3, 0.2, np.nan])[0][1] == depends  # difference undefined
    assert claims([0.5, 0.9, 0.2], [0.3, 0.2, 0.1])[0][1] == none
    assert claims([0.001, 0.001], [0.0, 0.0])[0][1] == none  # no positive difference
    assert claims([None, None], [0.3, 0.2])[0][1] is None  # nothing tested
    assert claims([0.001, 0.02, 0.04], [0.3, 0.2, 0.1], alpha=0.01)[0][1] == depends
    assert claims([0.001, 0.02, 0.08], [0.3, 0.2, 0.1])[0][1] == depends  # the table's own decision: 0.08 is not


def test_claims_mirror_and_checks():
    p = np.full((2, 3, 3), np.nan)
    d = np.full((2, 3, 3), np.nan)
    p[:, 0, 1], d[:, 0, 1] = 0.001, 0.5  # given above the diagonal only
    p[:, 1, 2], d[:, 1, 2] = 0.001, -0.5
    out = ag.claims_across_measures(p, d)
    every, _, none = ag.VERDICTS
    assert out[0][1] == every and out[1][0] == none and out[2][1] == every and out[1][2] == none
    assert out[0][2] is None and out[2][0] is None
    bad = p.copy()
    bad[0, 1, 0] = 0.5
    with pytest.raises(ValueError):
        ag.claims_across_measures(bad, d)
    bad_d = d.copy()
    bad_d[0, 1, 0] = 0.5
    with pytest.raises(ValueError):
        ag.claims_across_measures(p, bad_d)
    with pytest.raises(ValueError):
        ag.claims_across_measures(p + 2.0, d)  # p above 1
    with pytest.raises(ValueError):
        ag.claims_across_measures(p[:, :2], d)


def test_claims_correct_pairs_is_bh_per_measure():
    n = 4
    iu = np.triu_indices(n, 1)
    rng = np.random.default_rng(12)
    p_pairs = np.array([[0.001, 0.04, 0.06, 0.08, 0.3, 0.09], [0.002, 0.011, 0.02, 0.05, 0.5, 0.07]])
    d_pairs = rng.uniform(0.1, 1.0, size=(2, iu[0].size))
    p, d = np.full((2, n, n), np.nan), np.full((2, n, n), np.nan)
    p[:, iu[0], iu[1]], d[:, iu[0], iu[1]] = p_pairs, d_pairs
    q = np.stack([sstats.false_discovery_control(row, method="bh") for row in p_pairs])
    supported = q < 0.05
    out = ag.claims_across_measures(p, d, correct_pairs=True)
    for pair, (i, j) in enumerate(zip(*iu)):
        count = supported[:, pair].sum()
        assert out[i][j] == ag.VERDICTS[0 if count == 2 else 1 if count == 1 else 2]
    plain = ag.claims_across_measures(p, d)
    assert plain[0][2] == ag.VERDICTS[0] and out[0][2] != ag.VERDICTS[0]  # the correction matters here
    one_pair = claims([0.08, 0.02], [0.3, 0.2], correct_pairs=True)  # one pair: nothing to correct
    assert one_pair == claims([0.08, 0.02], [0.3, 0.2])


def simulated_rate(means, draws=2000, seed=13):
    """Share of draws where "model 0 beats model 1 under every measure", each measure's test statistic normal
    with the given mean (0: no difference under that measure) and p its two-sided normal p-value."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(draws, len(means))) + np.asarray(means)
    hits = 0
    for row in z:
        hits += claims(2.0 * sstats.norm.sf(np.abs(row)), row)[0][1] == ag.VERDICTS[0]
    return hits / draws


def test_claims_intersection_union_level_and_power():
    alpha, draws = 0.05, 2000
    tolerance = 3.0 * np.sqrt(alpha * (1 - alpha) / draws)
    tolerance = 3.0 * np.sqrt(alpha / 2 * (1 - alpha / 2) / draws)
    rate = simulated_rate([0.0, 6.0, 6.0], draws)  # the claim is false under one measure
    # each measure's two-sided test at alpha claims a direction at alpha / 2: the IUT holds that level, no
    # correction over measures (and no lower: the boundary case is reached)
    assert alpha / 2 - tolerance <= rate <= alpha / 2 + tolerance
    assert simulated_rate([6.0, 6.0, 6.0], draws) > 0.95  # true under every measure: power near 1
