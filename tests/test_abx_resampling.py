"""ABX resampling: one estimand for the estimate, every resample and every half.

The cells are fixed on the full set (a stratum needs 4 sounds for A and X, 2 for B), the resamples
are Bayesian bootstrap weights n x Dirichlet((n-1)/n) (Rubin 1981), which never leave a cell empty,
and the half-splits are drawn within strata. Each test states an expectation computed here, not by
the code under test: brute force over triplets (tests/test_abx.py), the Dirichlet's moments, Efron's
bootstrap variance of a mean, hashes of regenerated draws.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from audioprobe.errors import NotApplicableError
from audioprobe.metrics import discrimination, resampling
from audioprobe.results import check_typed
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes import TASK_TYPES, EvalContext
from audioprobe.tasktypes.abx import ABX_PARAMS
from tests.factories import make_set
from tests.test_abx import brute_force, kept_cells

CATS = ["glass", "metal", "wood"]  # in code order (the task sorts category names)
SHAPES = ["1D", "2D", "3D"]


def labelled_set(sizes: dict[tuple[int, int], int], name: str = "strata") -> tuple[StimulusSet, np.ndarray, np.ndarray]:
    """A set with `sizes[(shape, material)]` sounds per stratum, physical labels for both."""
    material = np.concatenate([[c] * k for (g, c), k in sizes.items()]).astype(int)
    shape = np.concatenate([[g] * k for (g, c), k in sizes.items()]).astype(int)
    s = make_set({"material": CATS}, {"material": material}, name=name, synthetic=False,
                 labels={"material": [CATS[k] for k in material], "extent": [SHAPES[k] for k in shape]})
    return s, material, shape


def params(**kw) -> dict:
    p = {k: v.default for k, v in ABX_PARAMS.items()}
    p.update(label_source="physical", **kw)
    return p


def dirichlet_weights(seed: int, n: int, n_resamples: int) -> np.ndarray:
    """The documented draws, regenerated: n x Dirichlet((n-1)/n) from stream 0 of the seed."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[0])
    return n * rng.dirichlet(np.full(n, (n - 1) / n), size=n_resamples)


#: (extent, material) -> sounds. Extent 0: wood (6 sounds) is B only; extent 1: metal (4) is B only and
#: wood (2) is nothing; extent 2: no stratum reaches 8, no cell at all.
SMALL_STRATA = {(0, 0): 12, (0, 1): 10, (0, 2): 6, (1, 0): 8, (1, 1): 4, (1, 2): 2, (2, 0): 6, (2, 1): 6}


def test_the_estimate_every_resample_and_every_half_score_the_same_cells(rng):
    s, material, shape = labelled_set(SMALL_STRATA)
    n = material.size
    layers = {"a": np.eye(3)[material] * 0.7 + rng.normal(size=(n, 3)), "b": rng.normal(size=(n, 3))}
    B, S = 30, 4
    ctx = EvalContext("t", 5, None)
    out = TASK_TYPES["abx"].evaluate({"mean": layers}, s, params(by="extent", bootstrap=B, cv_splits=S), ctx)
    assert check_typed(out, TASK_TYPES["abx"].scores_schema, "scores") == []
    # the cells, counted here: 1D: glass->metal, glass->wood, metal->glass, metal->wood; 2D: glass->metal
    assert kept_cells(material, shape) == {(0, 0, 1), (0, 0, 2), (0, 1, 0), (0, 1, 2), (1, 0, 1)}
    assert out["n_cells"] == 5
    excluded = {(c["by"], c["a"], c["b"]): c for c in out["cells_excluded"]}
    assert set(excluded) == {("1D", "wood", "glass"), ("1D", "wood", "metal"), ("2D", "glass", "wood"),
                             ("2D", "metal", "glass"), ("2D", "metal", "wood"), ("2D", "wood", "glass"),
                             ("2D", "wood", "metal"), ("3D", "glass", "metal"), ("3D", "metal", "glass")}
    few_a, few_b = excluded[("1D", "wood", "glass")], excluded[("2D", "glass", "wood")]
    assert few_a["n_a"] == 6 and f"A and X need >= {discrimination.MIN_A_SOUNDS}" in few_a["reason"]
    assert few_b["n_b"] == 2 and f"B needs >= {discrimination.MIN_B_SOUNDS}" in few_b["reason"]
    # sounds in a cell: every one but the two 2D wood and the 3D sounds
    used = np.flatnonzero(~((shape == 1) & (material == 2)) & (shape != 2))
    assert out["n_sounds_used"] == used.size == ctx.resampling["n_items"]
    d = {k: squareform(pdist(v, "cosine")) for k, v in layers.items()}
    w_used = dirichlet_weights(5, used.size, B)
    assert ctx.resampling["plan_sha256"] == hashlib.sha256(w_used.tobytes()).hexdigest()
    weights = np.zeros((B, n))
    weights[:, used] = w_used
    for k, name in enumerate(layers):
        assert out["per_layer"][k]["score"] == pytest.approx(brute_force(d[name], material, shape), abs=1e-12)
        for b in (0, 1, B - 1):
            assert ctx.replicates["per_layer"][b, k] == pytest.approx(
                brute_force(d[name], material, shape, weights[b]), abs=1e-12)
    # the halves: stratified within (extent, material) over the sounds used, on the same cells
    strata = np.full(n, -1)
    strata[used] = discrimination.abx_structure(material, shape).strata[used]
    halves_used = discrimination.stratified_halves(np.random.default_rng(np.random.SeedSequence(5).spawn(4)[2]),
                                        strata[used], S)
    halves = np.zeros((S, n), dtype=bool)
    halves[:, used] = halves_used
    for k in range(resampling.HEADLINE_SPLITS):
        want = []
        for name in layers:
            err = [brute_force(d[name], material, shape, weights[0] * w) for w in (halves[k], ~halves[k])]
            assert np.all(np.isfinite(err))
            want.append(err)
        (a0, b0), (a1, b1) = want
        held = np.mean([(b0, b1)[int(np.argmin([a0, a1]))], (a0, a1)[int(np.argmin([b0, b1]))]])
        assert ctx.replicates["headline"][0, k] == pytest.approx(held, abs=1e-12)


def test_no_resample_or_half_is_undefined_with_the_smallest_strata():
    """Strata of exactly 8 (A/X) and 4 (B) sounds: every Bayesian-bootstrap resample and every
    stratified half defines every cell. (Multinomial counts can leave cells empty.)"""
    assert (discrimination.MIN_A_SOUNDS, discrimination.MIN_B_SOUNDS) == (8, 4)
    sizes = {(0, 0): 8, (0, 1): 4, (1, 0): 4, (1, 1): 8, (1, 2): 8}
    s, material, shape = labelled_set(sizes)
    n = material.size
    rng = np.random.default_rng(2)
    d = squareform(pdist(rng.normal(size=(n, 3))))
    st = discrimination.abx_structure(material, shape)
    assert len(st.cells) == 1 + 4 and st.used.size == n
    weights = discrimination.bayesian_bootstrap_weights(np.random.default_rng(0), n, 300)
    halves = discrimination.stratified_halves(np.random.default_rng(1), st.strata, 100)
    parts = np.concatenate([halves, ~halves])
    for h in halves:  # 4 of each 8-stratum, 2 of each 4-stratum in each half
        for code in np.unique(st.strata):
            assert h[st.strata == code].sum() == (st.strata == code).sum() // 2
    cells = np.stack([discrimination.cell_errors(d, c, weights, parts) for c in st.cells])  # [cells, 1 + parts, resamples]
    assert np.isfinite(cells).all()
    assert np.isfinite(discrimination.structure_errors(d, st, None, parts)).all()
    counts = resampling.bootstrap_counts(np.random.default_rng(0), n, 300).astype(float)
    assert np.isnan(discrimination.structure_errors(d, st, counts)[0]).any()  # why counts were replaced
    layers = {"a": rng.normal(size=(n, 3)), "b": rng.normal(size=(n, 3))}
    ctx = EvalContext("t", 0, None)
    TASK_TYPES["abx"].evaluate({"mean": layers}, s, params(by="extent", bootstrap=300, cv_splits=50), ctx)
    assert np.isfinite(ctx.replicates["per_layer"]).all() and np.isfinite(ctx.replicates["headline"]).all()


def test_dirichlet_weights_have_the_multinomial_counts_moments():
    n, draws = 6, 400_000
    w = discrimination.bayesian_bootstrap_weights(np.random.default_rng(0), n, draws)
    assert np.all(w > 0) and np.allclose(w.sum(axis=1), n)
    cov = np.cov(w, rowvar=False)
    np.testing.assert_allclose(w.mean(axis=0), 1.0, atol=0.006)
    np.testing.assert_allclose(np.diag(cov), (n - 1) / n, rtol=0.02)
    np.testing.assert_allclose(cov[~np.eye(n, dtype=bool)], -1 / n, atol=0.01)
    # the multinomial bootstrap counts of the same n: the same moments
    c = resampling.bootstrap_counts(np.random.default_rng(1), n, draws)
    np.testing.assert_allclose(np.cov(c, rowvar=False), cov, atol=0.015)


def test_a_linear_statistic_has_efrons_bootstrap_variance():
    """For the mean of per-sound values, Var over the weights = (1/n) * mean((v - mean v)^2), Efron's
    bootstrap variance of a mean, exactly (Monte-Carlo error only)."""
    n, draws = 12, 200_000
    v = np.random.default_rng(3).gamma(2.0, size=n)
    efron = np.mean((v - v.mean()) ** 2) / n
    w = discrimination.bayesian_bootstrap_weights(np.random.default_rng(4), n, draws)
    means = w @ v / n
    assert means.var() == pytest.approx(efron, rel=0.015)
    assert means.mean() == pytest.approx(v.mean(), abs=3 * np.sqrt(efron / draws))
    counts = resampling.bootstrap_counts(np.random.default_rng(5), n, draws)
    assert (counts @ v / n).var() == pytest.approx(efron, rel=0.015)


def test_bootstrap_replicates_centre_on_the_estimate():
    """No systematic shift: the replicates' mean is within 0.1 SD of the estimate on a by-set with small
    strata (the old multinomial counts with nanmean sat 0.15 to 0.6 SD off on sets like it)."""
    sizes = {(0, 0): 12, (0, 1): 10, (0, 2): 3, (1, 0): 8, (1, 1): 5, (1, 2): 9, (2, 0): 4, (2, 1): 2, (2, 2): 6}
    s, material, shape = labelled_set(sizes)
    n = material.size
    rng = np.random.default_rng(5)
    layers = {"a": np.eye(3)[material] * 0.7 + rng.normal(size=(n, 3)),
              "b": np.eye(3)[material] * 0.3 + rng.normal(size=(n, 3))}
    ctx = EvalContext("t", 1, None)
    out = TASK_TYPES["abx"].evaluate({"mean": layers}, s, params(by="extent", bootstrap=2000, cv_splits=0), ctx)
    for k, entry in enumerate(out["per_layer"]):
        reps = ctx.replicates["per_layer"][:, k]
        assert np.isfinite(reps).all()
        assert abs(reps.mean() - entry["score"]) < 0.1 * reps.std()


def test_headline_replicates_carry_the_cross_validated_statistic():
    """[B, K] split replicates; with one layer far ahead (picked on every half), the headline's interval is
    about as wide as that layer's own interval, not ~2x (one random split per resample)."""
    n = 48
    truth = np.repeat([0, 1, 2], 16)
    s, material, _ = labelled_set({(0, 0): 16, (0, 1): 16, (0, 2): 16})
    rng = np.random.default_rng(0)
    layers = {"good": np.eye(3)[truth] * 1.6 + rng.normal(size=(n, 3)),
              "noise1": rng.normal(size=(n, 3)), "noise2": rng.normal(size=(n, 3))}
    B, S = 400, 20
    ctx = EvalContext("t", 0, None)
    out = TASK_TYPES["abx"].evaluate({"mean": layers}, s, params(bootstrap=B, cv_splits=S, model_distance="euclidean"),
                                     ctx)
    head, good = out["headline"], out["per_layer"][0]
    assert ctx.replicates["headline"].shape == (B, resampling.HEADLINE_SPLITS)
    assert head["layer"] == "good" and head["layer_frequency"] == 1.0
    assert head["value"] == pytest.approx(good["score"], abs=0.02)
    ratio = (head["ci"][1] - head["ci"][0]) / (good["ci"][1] - good["ci"][0])
    assert 0.75 < ratio < 1.3, ratio


def test_models_on_the_same_set_and_seed_share_their_resamples(rng):
    """Paired comparisons: the plan (hash of the weights) depends on the set, task and seed, not the model."""
    s, material, shape = labelled_set(SMALL_STRATA)
    n = material.size
    plans = []
    for seed, x in ((7, rng.normal(size=(n, 4))), (7, rng.normal(size=(n, 9))), (8, rng.normal(size=(n, 4)))):
        ctx = EvalContext("t", seed, None)
        TASK_TYPES["abx"].evaluate({"mean": {"l0": x, "l1": x ** 2}}, s, params(by="extent", bootstrap=20, cv_splits=5),
                                   ctx)
        plans.append(ctx.resampling["plan_sha256"])
    assert plans[0] == plans[1] != plans[2]


def test_stratified_halves_split_every_stratum_floor_ceil():
    strata = np.array([0] * 5 + [1] * 4 + [2] * 2 + [3] * 3 + [-1] * 2)
    halves = discrimination.stratified_halves(np.random.default_rng(0), strata, 400)
    again = discrimination.stratified_halves(np.random.default_rng(0), strata, 400)
    np.testing.assert_array_equal(halves, again)
    assert not halves[:, strata < 0].any()
    for code, size in ((0, 5), (1, 4), (2, 2), (3, 3)):
        k = halves[:, strata == code].sum(axis=1)
        assert set(k) == ({size // 2, size - size // 2})
        if size % 2:  # the odd sound goes to either half, about equally often
            assert 0.4 < np.mean(k == size // 2) < 0.6
        # every sound of the stratum is in the half about half of the time
        np.testing.assert_allclose(halves[:, strata == code].mean(axis=0), 0.5, atol=0.1)


def test_no_cell_is_not_applicable():
    s, _, _ = labelled_set({(0, 0): 3, (0, 1): 3, (1, 2): 9, (2, 1): 5, (2, 0): 1}, name="thin")
    with pytest.raises(NotApplicableError, match=r"task 'thin-abx'.*'thin'.*at least 8 sounds"):
        TASK_TYPES["abx"].evaluate({"mean": {"l": np.ones((len(s), 2))}}, s, params(by="extent"),
                                   EvalContext("thin-abx", 0, None))


def test_an_undefined_distance_leaves_the_layer_without_a_score(rng):
    """A zero activation has no cosine distance: its cells are undefined in the estimate, the resamples and
    the halves alike (not counted as correct triplets); the other layer is the headline."""
    s, material, shape = labelled_set({(0, 0): 8, (0, 1): 8, (0, 2): 8})
    n = material.size
    zero = np.eye(3)[material] + 0.1 * rng.normal(size=(n, 3))
    zero[4] = 0.0
    layers = {"zero": zero, "ok": np.eye(3)[material] * 0.5 + rng.normal(size=(n, 3))}
    ctx = EvalContext("t", 0, None)
    out = TASK_TYPES["abx"].evaluate({"mean": layers}, s, params(bootstrap=20, cv_splits=6), ctx)
    assert out["per_layer"][0]["score"] is None and "undefined" in out["per_layer"][0]["note"]
    assert np.isnan(ctx.replicates["per_layer"][:, 0]).all() and np.isfinite(ctx.replicates["per_layer"][:, 1]).all()
    assert out["headline"]["layer"] == "ok" and out["headline"]["value"] == out["per_layer"][1]["score"]
    assert check_typed(out, TASK_TYPES["abx"].scores_schema, "scores") == []
