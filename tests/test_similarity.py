"""Measures of the timbre literature (metrics/similarity.py) against brute-force implementations
written here with plain loops (scipy.stats and sklearn.metrics.ndcg_score as references), with
missing cells, ties and a non-zero diagonal; plus properties (hypothesis, small seeded runs)."""

from __future__ import annotations

import itertools
import math
import time
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from scipy.spatial.distance import pdist, squareform
from sklearn.metrics import ndcg_score

from audioprobe.metrics import resampling
from audioprobe.metrics import similarity as sim

FAST = settings(max_examples=30, deadline=None, derandomize=True)
seeds = st.integers(0, 2 ** 32 - 1)


# ---------------------------------------------------------------------------------------------
# Data: symmetric matrices with a non-zero diagonal, optional missing cells and ties


def pair(rng, n, missing=0.0, ties=False, noise=1.0):
    """(model, human) symmetric [n, n]; humans' cells rounded to a few levels when `ties`."""
    x = rng.normal(size=(n, 3))
    human = squareform(pdist(x))
    model = squareform(pdist(x + noise * rng.normal(size=x.shape)))
    if ties:
        human = np.round(human * 2) / 2
        model = np.round(model * 2) / 2
    for a in (model, human):
        np.fill_diagonal(a, rng.uniform(0.5, 2.0, size=n))  # must be ignored
    if missing:
        for a in (model, human):
            gone = np.triu(rng.random((n, n)) < missing, 1)
            gone = gone | gone.T
            a[gone] = np.nan
    return model, human


def present_others(model, human, i):
    n = len(model)
    return [j for j in range(n) if j != i and not math.isnan(model[i][j]) and not math.isnan(human[i][j])]


def tau_b_loop(x, y):
    """Kendall's tau-b from its definition: (C - D) / sqrt((P - T_x)(P - T_y))."""
    c = d = tx = ty = p = 0
    for a, b in itertools.combinations(range(len(x)), 2):
        p += 1
        sx = int(x[a] > x[b]) - int(x[a] < x[b])
        sy = int(y[a] > y[b]) - int(y[a] < y[b])
        tx += sx == 0
        ty += sy == 0
        c += sx * sy > 0
        d += sx * sy < 0
    den = math.sqrt((p - tx) * (p - ty))
    return (c - d) / den if den else float("nan")


def is_constant(v):
    return len(set(v)) <= 1


def brute_rowwise(model, human, method):
    values = []
    for i in range(len(model)):
        js = present_others(model, human, i)
        x = [model[i][j] for j in js]
        y = [human[i][j] for j in js]
        if len(js) < 3 or is_constant(x) or is_constant(y):
            continue
        values.append(sps.spearmanr(x, y).statistic if method == "spearman" else tau_b_loop(x, y))
    return float(np.mean(values)) if values else float("nan")


def brute_triplets(model, human, margin=0.0):
    score = kept = 0
    for i in range(len(model)):
        js = present_others(model, human, i)
        for j, k in itertools.combinations(js, 2):
            dh = human[i][j] - human[i][k]
            if abs(dh) <= margin:
                continue
            dm = model[i][j] - model[i][k]
            kept += 1
            score += 0.5 if dm == 0 else float((dm > 0) == (dh > 0))
    return score / kept if kept else float("nan")


def brute_ndcg(model, human, k=None):
    values = []
    for i in range(len(model)):
        js = present_others(model, human, i)
        h = np.array([human[i][j] for j in js])
        if len(js) < 2 or h.min() == h.max():
            continue
        relevance = 1 - (h - h.min()) / (h.max() - h.min())
        scores = -np.array([model[i][j] for j in js])  # sklearn ranks by descending score
        values.append(ndcg_score([relevance], [scores], k=k))
    return float(np.mean(values)) if values else float("nan")


def upper_pairs(model, human):
    n = len(model)
    cells = [(model[i][j], human[i][j]) for i in range(n) for j in range(i + 1, n)]
    cells = [(a, b) for a, b in cells if not (math.isnan(a) or math.isnan(b))]
    return [a for a, _ in cells], [b for _, b in cells]


def brute_tau_b(model, human):
    x, y = upper_pairs(model, human)
    if len(x) < 3 or is_constant(x) or is_constant(y):
        return float("nan")
    return tau_b_loop(x, y)


def brute_mae(model, human):
    x, y = upper_pairs(model, human)
    if len(x) < 2 or is_constant(x) or is_constant(y):
        return float("nan")
    xn = [(a - min(x)) / (max(x) - min(x)) for a in x]
    yn = [(b - min(y)) / (max(y) - min(y)) for b in y]
    return sum(abs(a - b) for a, b in zip(xn, yn)) / len(x)


BRUTE = {
    "rowwise_spearman": lambda m, h: brute_rowwise(m, h, "spearman"),
    "rowwise_kendall": lambda m, h: brute_rowwise(m, h, "kendall"),
    "triplet_agreement": brute_triplets,
    "ndcg": brute_ndcg,
    "kendall_tau_b": brute_tau_b,
    "normalised_mae": brute_mae,
}


def measure(name, model, human):
    func, kwargs = sim.MEASURES[name][:2]
    return func(model, human, **kwargs)


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Against brute force


def test_measures_are_named():
    assert set(sim.MEASURES) == set(BRUTE) | {"cka", "cka_biased"}  # CKA: tested on its own below
    assert [name for name, m in sim.MEASURES.items() if m.lower_is_better] == ["normalised_mae"]


def test_rdm_cka_is_linear_cka_of_the_representations_behind_euclidean_distances():
    """Classical scaling: CKA of two Euclidean RDMs equals linear CKA of the representations that made them; a
    missing pair leaves it undefined; under bootstrap counts the biased form is CKA of the resampled rows (a
    copy at distance 0 from its sound), the debiased form `cka.weighted_cka` of the double-centred matrices."""
    from scipy.spatial.distance import pdist, squareform

    from audioprobe.metrics import cka

    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(15, 4)), rng.normal(size=(15, 3))
    y[:, 0] += x[:, 0]
    dx, dy = squareform(pdist(x)), squareform(pdist(y))
    for name, debiased in (("cka", True), ("cka_biased", False)):
        assert measure(name, dx, dy) == pytest.approx(cka.linear_cka(x, y, debiased), abs=1e-12)
        holed = dx.copy()
        holed[0, 1] = holed[1, 0] = np.nan
        assert math.isnan(measure(name, holed, dy))
        counts = rng.integers(0, 3, size=(4, 15))
        got = sim.MEASURES[name].under_weights(dx, dy, counts, debiased=debiased)
        for b, c in enumerate(counts):
            idx = np.repeat(np.arange(15), c)
            want = (cka.weighted_cka([cka.gram_from_rdm(dx)], cka.gram_from_rdm(dy), c[None], True)[0, 0] if debiased
                    else cka.linear_cka(x[idx], y[idx]))
            assert got[b] == pytest.approx(want, abs=1e-10)


@pytest.mark.parametrize("name", sorted(BRUTE))
@pytest.mark.parametrize("missing, ties", [(0.0, False), (0.0, True), (0.25, False), (0.3, True)])
def test_measure_equals_brute_force(name, missing, ties):
    rng = np.random.default_rng(7)
    for n in (3, 5, 12):
        model, human = pair(rng, n, missing=missing, ties=ties)
        got, want = measure(name, model, human), BRUTE[name](model.tolist(), human.tolist())
        assert same(got, want), (name, n, got, want)


@pytest.mark.parametrize("vector_max", [0, 1000])  # one scipy call per anchor; all pairs at once
def test_rowwise_kendall_is_scipys_tau_b(vector_max, monkeypatch):
    monkeypatch.setattr(sim, "KENDALL_VECTOR_MAX", vector_max)
    rng = np.random.default_rng(3)
    model, human = pair(rng, 10, missing=0.2, ties=True)
    per_row = sim.rowwise_rank_correlations(model, human, "kendall")
    for i, value in enumerate(per_row):
        if np.isfinite(value):
            js = present_others(model, human, i)
            assert value == pytest.approx(sps.kendalltau(model[i, js], human[i, js]).statistic, abs=1e-12)
    assert np.isfinite(per_row).sum() >= 5
    assert same(np.nanmean(per_row), brute_rowwise(model.tolist(), human.tolist(), "kendall"))


@pytest.mark.parametrize("margin", [0.0, 0.3, 1.0, 10.0])
def test_triplet_margin_equals_brute_force(margin):
    rng = np.random.default_rng(11)
    model, human = pair(rng, 9, missing=0.2, ties=True)
    assert same(sim.triplet_agreement(model, human, margin), brute_triplets(model, human, margin))


def test_triplet_chunks_do_not_change_the_result(monkeypatch):
    model, human = pair(np.random.default_rng(5), 14, missing=0.1, ties=True)
    whole = sim.triplet_agreement(model, human, 0.2)
    monkeypatch.setattr(sim, "TRIPLET_CHUNK_BYTES", 1)  # one anchor at a time
    assert sim.triplet_agreement(model, human, 0.2) == pytest.approx(whole, abs=1e-15)


@pytest.mark.parametrize("k", [None, 1, 3, 5, 50])
@pytest.mark.parametrize("ties", [False, True])
def test_ndcg_equals_sklearn_per_anchor(k, ties):
    rng = np.random.default_rng(13)
    model, human = pair(rng, 11, missing=0.15, ties=ties)
    if ties:
        model = np.round(model)  # coarse: many tied model dissimilarities per row
    assert same(sim.retrieval_ndcg(model, human, k), brute_ndcg(model, human, k))


def test_ndcg_ties_are_averaged_over_orderings():
    # anchor 0: sounds 1, 2 tied for the model, humans find 1 closest (relevance 1) and 2 farthest (0)
    human = np.array([[0, 1, 3, 2], [1, 0, 1, 1], [3, 1, 0, 1], [2, 1, 1, 0]], dtype=float)
    model = human.copy()
    model[0, 1:] = model[1:, 0] = [1, 1, 2]
    per_anchor = sim.retrieval_ndcgs(model, human)
    d = 1 / np.log2([2, 3, 4])
    dcg = 0.5 * (d[0] + d[1]) + 0.5 * d[2]  # tie group {1, 2} of mean relevance 1/2, then sound 3
    assert per_anchor[0] == pytest.approx(dcg / (d[0] + 0.5 * d[1]))
    assert np.isnan(per_anchor[1])  # a constant human row: relevance undefined
    assert np.isfinite(per_anchor[2:]).all()


def test_bootstrap_equals_explicit_resamples():
    rng = np.random.default_rng(17)
    model, human = pair(rng, 9, missing=0.1, ties=True)
    counts = resampling.bootstrap_counts(rng, 9, 12)
    for name, (func, kwargs, _, _) in ((k, m) for k, m in sim.MEASURES.items() if k in BRUTE):
        got = sim.bootstrap_measure(func, model, human, counts, **kwargs)
        assert got.shape == (12,)
        for b in range(12):
            idx = [s for s in range(9) for _ in range(counts[b, s])]
            rm = [[math.nan if idx[a] == idx[c] else model[idx[a], idx[c]] for c in range(len(idx))]
                  for a in range(len(idx))]
            rh = [[math.nan if idx[a] == idx[c] else human[idx[a], idx[c]] for c in range(len(idx))]
                  for a in range(len(idx))]
            want = func(np.array(rm), np.array(rh), **kwargs)
            assert same(got[b], want), (name, b)
            assert same(got[b], BRUTE[name](rm, rh)), (name, b)


def test_bootstrap_with_each_sound_once_is_the_measure():
    model, human = pair(np.random.default_rng(19), 8, missing=0.1)
    ones = np.ones((2, 8), dtype=np.int64)
    for func, kwargs, *_ in sim.MEASURES.values():
        assert np.allclose(sim.bootstrap_measure(func, model, human, ones, **kwargs),
                           func(model, human, **kwargs), rtol=0, atol=1e-14, equal_nan=True)


# ---------------------------------------------------------------------------------------------
# Edge cases and errors


def test_undefined_cases_are_nan_without_warnings():
    nan = np.full((4, 4), np.nan)
    const = np.ones((4, 4))
    model, human = pair(np.random.default_rng(0), 4)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        for func, kwargs, *_ in sim.MEASURES.values():
            assert np.isnan(func(nan, nan, **kwargs))
            assert np.isnan(func(model, const, **kwargs))
            assert np.isnan(func(np.zeros((0, 0)), np.zeros((0, 0)), **kwargs))
            assert np.isnan(func(model[:2, :2], human[:2, :2], **kwargs))
        counts = np.array([[4, 0, 0, 0]])  # one sound drawn four times: every cell excluded
        assert np.isnan(sim.bootstrap_measure(sim.triplet_agreement, model, human, counts)).all()


@pytest.mark.parametrize("bad", [np.zeros((3, 4)), np.zeros(3), np.zeros((4, 4))])
def test_shape_errors(bad):
    with pytest.raises(ValueError):
        sim.kendall_tau_b(np.zeros((3, 3)), bad)


def test_argument_errors():
    model, human = pair(np.random.default_rng(1), 5)
    with pytest.raises(ValueError, match="unknown rank correlation"):
        sim.rowwise_rank_correlation(model, human, "pearson")
    with pytest.raises(ValueError, match="margin"):
        sim.triplet_agreement(model, human, -0.1)
    with pytest.raises(ValueError, match="k must"):
        sim.retrieval_ndcg(model, human, 0)
    with pytest.raises(ValueError, match="columns"):
        sim.bootstrap_measure(sim.kendall_tau_b, model, human, np.ones((2, 4), dtype=int))


def test_inputs_are_not_modified():
    model, human = pair(np.random.default_rng(2), 6, missing=0.2)
    before = model.copy(), human.copy()
    for func, kwargs, *_ in sim.MEASURES.values():
        func(model, human, **kwargs)
    np.testing.assert_array_equal(model, before[0])
    np.testing.assert_array_equal(human, before[1])


def test_fast_at_250_sounds():
    model, human = pair(np.random.default_rng(23), 250, missing=0.05)
    start = time.perf_counter()
    sim.triplet_agreement(model, human)
    assert time.perf_counter() - start < 3.0  # about 0.3 s on 2 cores; generous under load


# ---------------------------------------------------------------------------------------------
# Properties

ORDINAL = ("rowwise_spearman", "rowwise_kendall", "triplet_agreement", "ndcg", "kendall_tau_b")


@FAST
@given(seed=seeds, n=st.integers(3, 9), missing=st.sampled_from([0.0, 0.2]), ties=st.booleans())
def test_property_brute_force(seed, n, missing, ties):
    model, human = pair(np.random.default_rng(seed), n, missing=missing, ties=ties)
    for name in BRUTE:
        assert same(measure(name, model, human), BRUTE[name](model.tolist(), human.tolist())), name


@FAST
@given(seed=seeds, n=st.integers(3, 10), missing=st.sampled_from([0.0, 0.2]), ties=st.booleans())
def test_property_monotone_and_relabelling_invariance(seed, n, missing, ties):
    rng = np.random.default_rng(seed)
    model, human = pair(rng, n, missing=missing, ties=ties)
    perm = rng.permutation(n)
    for name in BRUTE:
        base = measure(name, model, human)
        assert same(measure(name, model[np.ix_(perm, perm)], human[np.ix_(perm, perm)]), base), name
        if name in ORDINAL:  # a strictly increasing map of the model's dissimilarities
            assert same(measure(name, np.exp(model) + 3, human), base), name
        else:  # min-max: a positive affine map of either matrix
            assert same(measure(name, 2.5 * model - 1, 0.5 * human + 7), base), name


@FAST
@given(seed=seeds, n=st.integers(4, 10), ties=st.booleans())
def test_property_perfect_and_reversed_models(seed, n, ties):
    _, human = pair(np.random.default_rng(seed), n, ties=ties)
    perfect = {name: measure(name, human, human) for name in BRUTE}
    for name in ("rowwise_spearman", "rowwise_kendall", "triplet_agreement", "ndcg", "kendall_tau_b"):
        assert np.isnan(perfect[name]) or perfect[name] == pytest.approx(1.0), name
    assert perfect["normalised_mae"] == pytest.approx(0.0)
    reversed_ = -human
    assert np.isnan(b := sim.triplet_agreement(reversed_, human)) or b == pytest.approx(0.0)
    for method in ("spearman", "kendall"):
        r = sim.rowwise_rank_correlation(reversed_, human, method)
        assert np.isnan(r) or r == pytest.approx(-1.0)
    assert sim.normalised_mae(human, human.max() - human) <= 1.0


@FAST
@given(seed=seeds, n=st.integers(3, 9), k=st.integers(1, 10), margin=st.floats(0.0, 1.0))
def test_property_ranges(seed, n, k, margin):
    model, human = pair(np.random.default_rng(seed), n, missing=0.15, ties=True)
    values = {
        "rowwise": sim.rowwise_rank_correlation(model, human, "kendall"),
        "triplet": sim.triplet_agreement(model, human, margin),
        "ndcg": sim.retrieval_ndcg(model, human, k),
        "mae": sim.normalised_mae(model, human),
    }
    lows = {"rowwise": -1.0, "triplet": 0.0, "ndcg": 0.0, "mae": 0.0}
    for key, value in values.items():
        assert np.isnan(value) or lows[key] - 1e-12 <= value <= 1.0 + 1e-12, key
    assert same(values["ndcg"], brute_ndcg(model, human, k))
    assert same(values["triplet"], brute_triplets(model, human, margin))


@settings(max_examples=20, deadline=None, derandomize=True)
@given(seed=seeds, n=st.integers(3, 7), m=st.integers(1, 4))
def test_property_bootstrap_replicates_are_the_measure_on_resamples(seed, n, m):
    rng = np.random.default_rng(seed)
    model, human = pair(rng, n, missing=0.1, ties=True)
    counts = resampling.bootstrap_counts(rng, n, m)
    got = sim.bootstrap_measure(sim.rowwise_rank_correlation, model, human, counts, method="kendall")
    for b in range(m):
        want = brute_rowwise(sim.resample_matrix(model, counts[b]).tolist(),
                             sim.resample_matrix(human, counts[b]).tolist(), "kendall")
        assert same(got[b], want)
