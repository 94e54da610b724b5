"""Statistics over stimulus sets, against loops written here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audioprobe.metrics.over_sets import leave_one_set_out, mean_with_interval, set_resamples, weighted_means


def loso_by_hand(x: np.ndarray, lower: bool):
    k, n_layers = x.shape
    choice, score = [], []
    for s in range(k):
        means = []
        for layer in range(n_layers):
            vals = [x[t, layer] for t in range(k) if t != s and np.isfinite(x[t, layer])]
            means.append(sum(vals) / len(vals) if vals else None)
        defined = [(m, layer) for layer, m in enumerate(means) if m is not None]
        if not defined:
            choice.append(-1)
            score.append(np.nan)
            continue
        best = min(defined, key=lambda t: (t[0], t[1])) if lower else min(defined, key=lambda t: (-t[0], t[1]))
        choice.append(best[1])
        score.append(x[s, best[1]])
    return np.array(choice), np.array(score)


def test_leave_one_set_out_known_answer():
    """Layer 1 is best on sets 0 and 1, layer 0 on set 2: set 2 is scored at layer 1 (chosen on 0 and 1),
    sets 0 and 1 at the layer that wins on the other two."""
    x = np.array([[0.1, 0.5, 0.2],
                  [0.2, 0.6, 0.1],
                  [0.9, 0.3, 0.0]])
    choice, score = leave_one_set_out(x)
    # set 0: others (1, 2) mean by layer = [0.55, 0.45, 0.05] -> layer 0, score 0.1
    # set 1: others (0, 2) = [0.5, 0.4, 0.1] -> layer 0, score 0.2;  set 2: others (0, 1) = [0.15, 0.55, 0.15] -> layer 1
    assert choice.tolist() == [0, 0, 1]
    np.testing.assert_allclose(score, [0.1, 0.2, 0.3])
    choice, score = leave_one_set_out(x, lower_is_better=True)
    assert choice.tolist() == [2, 2, 0]  # set 2: others = [0.15, 0.55, 0.15]: a tie, the first layer
    np.testing.assert_allclose(score, [0.2, 0.1, 0.9])


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**31 - 1), st.booleans())
def test_leave_one_set_out_equals_the_loop(k, n_layers, seed, lower):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(k, n_layers)).round(1)  # rounded: ties happen
    x[rng.random(x.shape) < 0.2] = np.nan
    choice, score = leave_one_set_out(x, lower)
    if k < 2:
        assert (choice == -1).all() and np.isnan(score).all()
        return
    want_choice, want_score = loso_by_hand(x, lower)
    assert choice.tolist() == want_choice.tolist()
    np.testing.assert_array_equal(score, want_score)


def test_weighted_means_are_means_of_explicit_resamples():
    values = np.array([0.3, np.nan, 0.1, 0.7, 0.2])
    counts = set_resamples(3, len(values), 200)
    got = weighted_means(values, counts)
    for b in range(200):
        drawn = np.repeat(values, counts[b])
        drawn = drawn[np.isfinite(drawn)]
        assert got[b] == pytest.approx(drawn.mean()) if drawn.size else np.isnan(got[b])
    mean, ci, reps = mean_with_interval(values, counts, 0.9)
    assert mean == pytest.approx(np.mean([0.3, 0.1, 0.7, 0.2]))
    np.testing.assert_array_equal(reps, got)
    # the t interval over the 4 defined sets, as scipy states it
    from scipy import stats as st

    want = st.t.interval(0.9, 3, loc=np.mean([0.3, 0.1, 0.7, 0.2]), scale=st.sem([0.3, 0.1, 0.7, 0.2]))
    np.testing.assert_allclose(ci, want)
    assert np.isnan(mean_with_interval(np.array([0.3, np.nan]), set_resamples(0, 2, 10))[1]).all()  # 1 set


def test_set_resamples_are_shared_and_uniform():
    a, b = set_resamples(0, 7, 4000), set_resamples(0, 7, 4000)
    np.testing.assert_array_equal(a, b)  # every model of a suite gets these draws: pairs set by set
    assert (a.sum(axis=1) == 7).all()
    assert not np.array_equal(a, set_resamples(1, 7, 4000))
    from scipy.stats import chisquare

    assert chisquare(a.sum(axis=0)).pvalue > 1e-3  # each set drawn equally often


def test_interval_of_the_mean_covers_at_its_level_even_with_three_sets():
    """Sets drawn from a normal population: the 90% interval of the mean covers the population mean at its
    level with 3 sets and with 30 (binomial tolerance of 400 trials); a percentile bootstrap over 3 sets, about
    their min and max, would cover about 75% (checked here too, so the test fails if it comes back)."""
    from scipy.stats import binomtest

    rng = np.random.default_rng(5)
    trials = 400
    for k in (3, 30):
        counts = set_resamples(0, k, 2000)
        hits = boot_hits = 0
        for _ in range(trials):
            values = rng.normal(0.4, 0.2, size=k)
            _, ci, reps = mean_with_interval(values, counts, 0.9)
            hits += ci[0] <= 0.4 <= ci[1]
            lo, hi = np.quantile(reps, [0.05, 0.95])
            boot_hits += lo <= 0.4 <= hi
        ci_rate = binomtest(hits, trials).proportion_ci(0.99)
        assert ci_rate.low <= 0.9 <= ci_rate.high, (k, hits / trials)
        if k == 3:
            assert boot_hits / trials < 0.82, boot_hits / trials
