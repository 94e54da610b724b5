"""The calibration benchmark's own statistics: a pooled rate of dependent tests gets an interval over
sets (clusters), not over tests; checked against known answers."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_calibration.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_calibration_under_test", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_equal_cluster_sizes_give_the_t_interval_of_the_per_set_rates(bench):
    # with n tests in every set, the ratio estimator is the mean of the per-set rates and its
    # cluster-robust interval is the one-sample t interval of those rates
    rng = np.random.default_rng(3)
    hits = rng.integers(0, 6, size=25)
    per_set = {f"s{i}": [int(h), 20] for i, h in enumerate(hits)}
    out = bench.clustered_rate(per_set, 0.05)
    props = hits / 20
    half = stats.t.ppf(0.975, len(props) - 1) * props.std(ddof=1) / np.sqrt(len(props))
    assert out["rate"] == pytest.approx(props.mean())
    assert out["ci"] == pytest.approx([max(0.0, props.mean() - half), props.mean() + half])
    assert out["interval"] == "cluster-robust over sets" and out["sets"] == 25
    assert out["within_tolerance"] == (out["ci"][0] <= 0.05 <= out["ci"][1])
    assert out["ci_if_independent"] != out["ci"]


def test_one_test_per_set_keeps_the_exact_binomial_interval(bench):
    per_set = {f"s{i}": [int(i < 3), 1] for i in range(40)}
    out = bench.clustered_rate(per_set, 0.05)
    ci = stats.binomtest(3, 40).proportion_ci(confidence_level=0.95)
    assert out["ci"] == pytest.approx([ci.low, ci.high])
    assert "interval" not in out


def test_tests_that_move_together_get_a_wider_interval(bench):
    # 40 sets of 21 tests: the same total of hits concentrated in a few sets (dependent tests) is
    # less information than spread evenly, so its interval is wider; spread evenly it is narrower
    # than the binomial one (the per-set counts vary less than binomially)
    clumped = {f"s{i}": [20 if i < 2 else 0, 21] for i in range(40)}
    spread = {f"s{i}": [1, 21] for i in range(40)}
    wide, narrow = bench.clustered_rate(clumped, 0.05), bench.clustered_rate(spread, 0.05)
    assert wide["rate"] == pytest.approx(narrow["rate"])
    assert wide["ci"][1] - wide["ci"][0] > wide["ci_if_independent"][1] - wide["ci_if_independent"][0]
    assert narrow["ci"][1] - narrow["ci"][0] < narrow["ci_if_independent"][1] - narrow["ci_if_independent"][0]


def test_tally_pools_keys_within_each_set(bench):
    t = bench.Tally()
    for unit, hits in (("a", (1, 0, 0)), ("b", (0, 0, 0)), ("c", (1, 1, 0))):
        t.unit = unit
        for k, h in zip(("x", "y", "x"), hits):
            t.add(k, bool(h))
    assert t.by_set["x"] == {"a": [1, 2], "b": [0, 2], "c": [1, 2]}
    pooled = t.pooled(0.05)
    assert (pooled["count"], pooled["n"]) == (3, 9)
    direct = bench.clustered_rate({"a": [1, 3], "b": [0, 3], "c": [2, 3]}, 0.05)
    assert pooled["ci"] == pytest.approx(direct["ci"])


def _load(name):
    path = BENCH.parent / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_u_statistic_variance_of_an_additive_kernel_is_the_influence_variance():
    # h(i, j) = a_i + a_j: no pair-specific part, so both estimates are 4 var(a) / n exactly
    bv = _load("bench_rsa_variance")
    n = 30
    iu = bv.pair_index(n)
    a = np.random.default_rng(0).normal(size=n)
    v_inf, v_u = bv.u_variances(a[iu[0]] + a[iu[1]], n, iu)
    # the rescaled row means recover a_i - mean(a) exactly, and the residual is 0
    expected = 4.0 * np.var(a, ddof=1) / n
    assert v_inf == pytest.approx(expected)
    assert v_u == pytest.approx(expected)


def test_u_statistic_variance_of_a_pure_pair_kernel_matches_brute_force():
    # h(i, j) = z_ij, independent over pairs: Var(mean over pairs) = 1 / P exactly; the bootstrap of
    # sounds triples it, the U-statistic estimate does not
    bv = _load("bench_rsa_variance")
    n, studies = 40, 300
    iu = bv.pair_index(n)
    p = iu[0].size
    rng = np.random.default_rng(5)
    v_u, v_boot = [], []
    for _ in range(studies):
        z = rng.normal(size=p)
        v_u.append(bv.u_variances(z, n, iu)[1])
        c = rng.multinomial(n, np.full(n, 1.0 / n), size=200).astype(float)
        w = c[:, iu[0]] * c[:, iu[1]]
        v_boot.append(np.var(w @ z / w.sum(1), ddof=1))
    assert np.mean(v_u) == pytest.approx(1.0 / p, rel=0.1)
    assert 2.4 < np.mean(v_boot) * p < 3.6


def test_u_statistic_variance_from_two_results_equals_the_direct_one():
    # compare would combine two results' kept parts (h1_hat, residual); with the exact cross-product it
    # must equal the estimate on the difference itself, and the CountSketch's cross-product is unbiased
    bv = _load("bench_rsa_variance")
    n = 25
    iu = bv.pair_index(n)
    p = iu[0].size
    rng = np.random.default_rng(2)
    g = rng.normal(size=n)
    ha = g[iu[0]] + g[iu[1]] + rng.normal(size=p)
    hb = 0.5 * (g[iu[0]] + g[iu[1]]) + 0.7 * (ha - g[iu[0]] - g[iu[1]]) + rng.normal(size=p)
    (h1a, ra), (h1b, rb) = bv.decompose(ha, n, iu), bv.decompose(hb, n, iu)
    direct = bv.u_variances(ha - hb, n, iu)[1]
    assert bv.u_variance_from_parts(h1a - h1b, float((ra - rb) @ (ra - rb)), n, p) == pytest.approx(direct)
    crosses = []
    for s in range(400):
        r = np.random.default_rng(s)
        buckets, signs = r.integers(0, 64, size=p), r.choice([-1.0, 1.0], size=p)
        crosses.append(bv.count_sketch(ra, buckets, signs, 64) @ bv.count_sketch(rb, buckets, signs, 64))
    exact = float(ra @ rb)
    se = np.std(crosses, ddof=1) / np.sqrt(len(crosses))
    assert abs(np.mean(crosses) - exact) < 4 * se


def test_compare_lines_reads_every_rate_of_two_measured_lines(capsys):
    """benchmarks/calibration/compare_lines.py: every rate object (a `rate` with a count) by its path, the
    before value beside the after one; on the committed lines, the numbers docs/metrics.md quotes."""
    spec = importlib.util.spec_from_file_location("compare_lines_under_test", BENCH.parent / "calibration" /
                                                  "compare_lines.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    line = {"a": {"rate": 0.5, "n": 4, "ci": [0.1, 0.9]}, "b": {"c": {"rate": 0.0, "count": 0, "n": 3}, "x": 1},
            "d": {"rate": 0.2}}  # no count: not a rate
    assert set(mod.rates(line)) == {"a", "b.c"}
    rows = {r["name"]: r for r in mod.compare({"a": {"rate": 0.25, "n": 4}}, line)}
    assert rows["a"]["before"] == 0.25 and rows["a"]["after"] == 0.5 and rows["b.c"]["before"] is None
    measured = BENCH.parent / "calibration" / "measured"
    before, after = (mod.read_line(measured / f) for f in ("after-304b97a.jsonl", "after-04f1111.jsonl"))
    rows = {r["name"]: r for r in mod.compare(before, after)}
    depth = rows["null.contrasts.headline_raw_p_below_alpha.depth"]
    assert depth["before"] == 0.0 and depth["after"] == pytest.approx(2 / 160)
    assert after["code"]["git_rev"].startswith("04f1111")
    assert mod.main([str(measured / "after-304b97a.jsonl"), str(measured / "after-04f1111.jsonl"), "--changed",
                     "--match", "depth"]) == 0
    out = capsys.readouterr().out
    assert "null.contrasts.headline_raw_p_below_alpha.depth" in out and "0.0000 ->  0.0125" in out
