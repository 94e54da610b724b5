"""ABX: known answers on constructed data and agreement with a brute-force triple loop.

The brute force here is the definition written out independently of `metrics/discrimination.py`: the cells
are decided on the full set (stratum (g, a) with >= min_a sounds, (g, b) with >= min_b), every
kept cell is a weighted mean over its triplets, one triplet at a time, and an undefined kept cell
makes the score NaN (no cell is dropped and nothing is reweighted).
"""

from __future__ import annotations

import hashlib
import itertools
import json

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from audioprobe.metrics import discrimination, inference, resampling
from audioprobe.results import check_typed
from audioprobe.tasktypes import TASK_TYPES, EvalContext
from audioprobe.tasktypes.abx import ABX_PARAMS
from tests.factories import make_set


def kept_cells(labels, by=None, min_a=discrimination.MIN_A_SOUNDS, min_b=discrimination.MIN_B_SOUNDS):
    """{(g, a, b)} of the cells the full set keeps, from stratum sizes counted one sound at a time."""
    n = len(labels)
    by = np.zeros(n, int) if by is None else by
    size = {}
    for i in range(n):
        if labels[i] >= 0 and by[i] >= 0:
            size[by[i], labels[i]] = size.get((by[i], labels[i]), 0) + 1
    return {(g, a, b) for (g, a) in size for (h, b) in size
            if h == g and b != a and size[g, a] >= min_a and size[g, b] >= min_b}


def brute_force(d, labels, by=None, w=None, min_a=discrimination.MIN_A_SOUNDS, min_b=discrimination.MIN_B_SOUNDS):
    """The definition, one triplet at a time, on the cells the full set keeps (X never its own A)."""
    n = len(labels)
    by = np.zeros(n, int) if by is None else by
    w = np.ones(n) if w is None else w
    cells = kept_cells(labels, by, min_a, min_b)
    groups = {}
    for g in sorted({c[0] for c in cells}):
        cats = sorted({c[1] for c in cells if c[0] == g} | {c[2] for c in cells if c[0] == g})
        pair_scores = []
        for a, b in itertools.combinations(cats, 2):
            sym = []
            for ca, cb in ((a, b), (b, a)):
                if (g, ca, cb) not in cells:
                    continue
                ia = [i for i in range(n) if labels[i] == ca and by[i] == g]
                ib = [i for i in range(n) if labels[i] == cb and by[i] == g]
                num = den = 0.0
                for x in ia:
                    for a_ in ia:
                        if a_ == x:
                            continue
                        for b_ in ib:
                            weight = w[x] * w[a_] * w[b_]
                            e = 1.0 if d[a_, x] > d[b_, x] else 0.5 if d[a_, x] == d[b_, x] else 0.0
                            num += weight * e
                            den += weight
                sym.append(num / den if den > 0 else np.nan)
            if sym:
                pair_scores.append(np.mean(sym))
        groups[g] = np.mean(pair_scores)
    return np.mean(list(groups.values())) if groups else np.nan


def test_known_answers():
    labels = np.array([0, 0, 0, 1, 1, 1])
    separated = np.array([[0.0], [0.1], [0.2], [10.0], [10.1], [10.2]])
    # the definition's own minimum (2 sounds for A and X, 1 for B)
    assert discrimination.abx_error(squareform(pdist(separated)), labels, min_a=2, min_b=1)[0] == 0.0
    assert discrimination.abx_error(np.ones((6, 6)) - np.eye(6), labels, min_a=2, min_b=1)[0] == 0.5  # ties count half
    # same-category sounds far apart, other category close: every triplet is an error
    d = np.full((6, 6), 1.0)
    for i, j in itertools.product(range(6), repeat=2):
        if labels[i] == labels[j] and i != j:
            d[i, j] = 5.0
    np.fill_diagonal(d, 0)
    assert discrimination.abx_error(d, labels, min_a=2, min_b=1)[0] == 1.0
    # the task's minimum (8 sounds for A and X): 3 sounds per category leave no cell
    assert np.isnan(discrimination.abx_error(d, labels)[0])
    assert discrimination.abx_structure(labels).cells == () and len(discrimination.abx_structure(labels).excluded) == 2


def test_against_brute_force_with_ties_by_and_weights(rng):
    n = 48
    d = squareform(np.round(pdist(rng.normal(size=(n, 2))), 1))  # rounding makes ties
    labels = rng.choice(3, size=n, p=[0.5, 0.35, 0.15])  # strata of unequal sizes, some below the minimum
    labels[0] = -1  # left out
    by = rng.integers(0, 2, size=n)
    assert kept_cells(labels, by)  # the task's minimum keeps some cells ...
    assert kept_cells(labels, by) != kept_cells(labels, by, 2, 1)  # ... and some only the definition keeps
    for min_a, min_b in ((discrimination.MIN_A_SOUNDS, discrimination.MIN_B_SOUNDS), (2, 1)):
        assert discrimination.abx_error(d, labels, min_a=min_a, min_b=min_b)[0] == pytest.approx(
            brute_force(d, labels, min_a=min_a, min_b=min_b), abs=1e-12)
        assert discrimination.abx_error(d, labels, by, min_a=min_a, min_b=min_b)[0] == pytest.approx(
            brute_force(d, labels, by, min_a=min_a, min_b=min_b), abs=1e-12)
    w = rng.random((3, n)) + 0.1
    w[1] = rng.integers(1, 3, size=n)
    got = discrimination.abx_error(d, labels, by, w)
    for k in range(3):
        assert got[k] == pytest.approx(brute_force(d, labels, by, w[k]), abs=1e-12)


def test_an_undefined_cell_makes_the_whole_score_undefined(rng):
    """No cell drops out under a weight vector: one cell with no triplet of positive weight -> NaN
    (the old nanmean averaged the other cells and changed the estimand)."""
    n = 24
    d = squareform(pdist(rng.normal(size=(n, 2))))
    labels = np.repeat([0, 1, 2], 8)
    w = np.ones((2, n))
    w[1, labels == 2] = 0.0  # category 2 absent: its cells (as A/X and as B) undefined
    got = discrimination.abx_error(d, labels, None, w)
    assert np.isfinite(got[0]) and np.isnan(got[1])
    assert np.isnan(brute_force(d, labels, w=w[1]))


def test_abx_task_type(rng, make_set):
    n = 72
    cats = {"material": ["wood", "metal", "glass"], "extent": ["1D", "2D", "3D"]}
    truth = {"material": np.repeat([0, 1, 2], 24), "extent": np.tile([0, 1, 2], 24)}
    counts = {d: np.eye(3, dtype=np.int64)[truth[d]] * 5 for d in cats}
    s = make_set(cats, truth, judgments=counts, synthetic=False)
    acts = {"mean": {"material": np.eye(3)[truth["material"]] + 0.05 * rng.random((n, 3)),
                     "extent": np.eye(3)[truth["extent"]] + 0.05 * rng.random((n, 3))}}
    p = {k: v.default for k, v in ABX_PARAMS.items()}
    p.update(bootstrap=50, cv_splits=10)
    ctx = EvalContext("t", 0, None)
    out = TASK_TYPES["abx"].evaluate(acts, s, p, ctx)
    json.dumps(out, allow_nan=False)
    assert check_typed(out, TASK_TYPES["abx"].scores_schema, "scores") == []
    mat, ext = out["per_layer"]
    assert mat["score"] == 0.0 and mat["p_value"] < 0.05
    assert ext["score"] > 0.3
    assert out["headline"]["layer"] == "material" and out["lower_is_better"]
    assert out["n_cells"] == 6 and out["cells_excluded"] == []
    by = TASK_TYPES["abx"].evaluate(acts, s, {**p, "by": "extent"}, ctx)
    assert check_typed(by, TASK_TYPES["abx"].scores_schema, "scores") == []
    # within one extent, the extent layer holds only noise about material: chance
    assert by["per_layer"][1]["score"] == pytest.approx(0.5, abs=0.05)
    assert by["by_values"] == ["1D", "2D", "3D"] and by["n_cells"] == 18  # 8 sounds per stratum: all kept


def test_blocks_of_x_sounds_give_the_same_answer(rng, monkeypatch):
    """Blocking over parts, A sounds and X rows (BLOCK_BYTES) changes nothing, weighted or counted."""
    n = 30
    d = squareform(np.round(pdist(rng.normal(size=(n, 2))), 1))
    labels, w = rng.integers(0, 3, size=n), rng.random((4, n)) + 0.1
    st = discrimination.abx_structure(labels)
    parts = discrimination.stratified_halves(np.random.default_rng(0), st.strata, 3)
    parts = np.concatenate([parts, ~parts & (st.strata >= 0)])
    whole = discrimination.structure_errors(d, st, w, parts)
    counted = discrimination.structure_errors(d, st, None, parts)
    monkeypatch.setattr(discrimination, "BLOCK_BYTES", 1)  # one part, one A sound and one X sound per block
    np.testing.assert_allclose(discrimination.structure_errors(d, st, w, parts), whole, atol=1e-14)
    np.testing.assert_allclose(discrimination.structure_errors(d, st, None, parts), counted, atol=1e-14)
    # counted (weights None) equals weights of ones
    np.testing.assert_allclose(counted, discrimination.structure_errors(d, st, np.ones((1, n)), parts), atol=1e-14)


def _tiny_set(n=24):
    cats = {"material": ["wood", "metal", "glass"], "extent": ["1D", "2D", "3D"]}
    truth = {"material": np.repeat([0, 1, 2], n // 3), "extent": np.tile([0, 1, 2], n // 3)}
    counts = {d: np.eye(3, dtype=np.int64)[truth[d]] * 5 for d in cats}
    counts["material"][:4] = [0, 5, 0]  # perceived metal, physically wood
    s = make_set(cats, truth, judgments=counts, synthetic=False)
    return s, truth


def test_abx_task_statistics_written_out(rng):
    """Scores, per-layer intervals and the cross-validated headline (lowest error on one half of the
    sounds, scored on the other) against brute force; the resamples are the Bayesian bootstrap weights
    of stream 0 (the plan's hash says so) and the halves stratified splits of stream 2; exact result
    fields; physical labels are used when asked; the same seed gives the same result."""
    from audioprobe.errors import AudioprobeError, NotApplicableError

    n = 36
    s, truth = _tiny_set(n)
    layers = {"a": np.eye(3)[truth["material"]] + 0.6 * rng.random((n, 3)), "b": rng.random((n, 4))}
    p = {k: v.default for k, v in ABX_PARAMS.items()}
    B, S = 40, 6
    p.update(bootstrap=B, cv_splits=S, label_source="physical")
    ctx = EvalContext("t", 3, None)
    out = TASK_TYPES["abx"].evaluate({"mean": layers}, s, p, ctx)
    again = TASK_TYPES["abx"].evaluate({"mean": layers}, s, p, EvalContext("t", 3, None))
    assert again == out
    labels = truth["material"]
    d = {k: squareform(pdist(v, "cosine")) for k, v in layers.items()}
    # the resamples: n x Dirichlet((n-1)/n) from stream 0 of the seed, hashed as float64
    weights = n * np.random.default_rng(np.random.SeedSequence(3).spawn(4)[0]).dirichlet(np.full(n, (n - 1) / n), B)
    assert ctx.resampling["plan_sha256"] == hashlib.sha256(weights.astype(np.float64).tobytes()).hexdigest()
    assert ctx.resampling["n_items"] == n and ctx.resampling["unit"].startswith("sounds (Bayesian bootstrap")
    for k, entry in enumerate(out["per_layer"]):
        assert entry["score"] == pytest.approx(brute_force(d[entry["layer"]], labels), abs=1e-12)
        reps = ctx.replicates["per_layer"][:, k]
        for b in (0, B - 1):
            assert reps[b] == pytest.approx(brute_force(d[entry["layer"]], labels, w=weights[b]), abs=1e-12)
        assert entry["ci"] == pytest.approx(np.quantile(reps, [0.025, 0.975]).tolist(), abs=1e-12)
        assert entry["p_value"] == pytest.approx((1 + np.sum(reps >= 0.5)) / (1 + B))
    # the headline: cross-validated over stratified halves (stream 2 of the seed)
    halves = discrimination.stratified_halves(np.random.default_rng(np.random.SeedSequence(3).spawn(4)[2]), labels, S)
    held = []
    for h in halves:
        err = {side: [brute_force(d[name], labels, w=w.astype(float)) for name in layers]
               for side, w in (("a", h), ("b", ~h))}
        held += [err["b"][int(np.argmin(err["a"]))], err["a"][int(np.argmin(err["b"]))]]
    head = out["headline"]
    assert head["value"] == pytest.approx(np.mean(held), abs=1e-12) and 0 <= head["value"] <= 0.5
    assert head["layer"] == "a" and "lowest-error" in head["selection"]
    # its replicates: the same statistic on the first K splits of every resample (weights w h, w (1 - h))
    K = min(resampling.HEADLINE_SPLITS, S)
    reps = ctx.replicates["headline"]
    assert reps.shape == (B, K) and np.all((reps >= 0) & (reps <= 1))
    for b in (0, 7):
        for k in range(K):
            err = {side: [brute_force(d[name], labels, w=weights[b] * w) for name in layers]
                   for side, w in (("a", halves[k]), ("b", ~halves[k]))}
            want = np.mean([err["b"][int(np.argmin(err["a"]))], err["a"][int(np.argmin(err["b"]))]])
            assert reps[b, k] == pytest.approx(want, abs=1e-12)
    st = inference.contrast_statistics(head["value"], inference.Splits(reps, S), n_sounds=n, level=p["ci_level"])
    assert head["ci"] == pytest.approx(st["ci"], abs=1e-12) and head["se"] == pytest.approx(st["se"])
    assert set(ctx.replicates) == {"per_layer", "headline"}
    assert out["n_sounds_used"] == n and out["n_cells"] == 6 and out["cells_excluded"] == []
    assert out["n_triplets"] == 6 * 12 * 11 * 12
    assert out["metric"].startswith("ABX error between physical material categories (cosine ")
    assert out["statistics"]["cv_splits"] == S and out["statistics"]["bootstrap"] == B
    assert "Dirichlet" in out["statistics"]["bootstrap_unit"] and "stratum" in out["statistics"]["halves"]
    # the method text states what was done: the number of sounds weighed, the strata of the halves
    assert f"weighs the {n} sounds of the scored cells" in out["statistics"]["bootstrap_unit"]
    assert out["statistics"]["halves"].startswith("drawn within each (category) stratum, ")
    assert check_typed(out, TASK_TYPES["abx"].scores_schema, "scores") == []
    # within each extent: 4 sounds per (extent, material) stratum are too few for any cell ...
    with pytest.raises(NotApplicableError, match=f"at least {discrimination.MIN_A_SOUNDS} sounds"):
        TASK_TYPES["abx"].evaluate({"mean": layers}, s, {**p, "by": "extent"}, ctx)
    # ... 8 are enough, and every sound is used (extent code 0 included)
    s2, truth2 = _tiny_set(2 * n)
    layers2 = {"a": np.eye(3)[truth2["material"]] + 0.6 * rng.random((2 * n, 3)), "b": rng.random((2 * n, 4))}
    by = TASK_TYPES["abx"].evaluate({"mean": layers2}, s2, {**p, "by": "extent"}, ctx)
    assert by["n_sounds_used"] == 2 * n and by["metric"].startswith(
        "ABX error between physical material categories within each extent value (cosine ")
    assert by["statistics"]["halves"].startswith("drawn within each (extent value, category) stratum, ")
    assert f"weighs the {2 * n} sounds of the scored cells" in by["statistics"]["bootstrap_unit"]
    assert by["n_cells"] == len(kept_cells(truth2["material"], truth2["extent"])) == 18
    for entry in by["per_layer"]:
        ref = brute_force(squareform(pdist(layers2[entry["layer"]], "cosine")), truth2["material"], by=truth2["extent"])
        assert entry["score"] == pytest.approx(ref, abs=1e-12)
    perceived = TASK_TYPES["abx"].evaluate({"mean": layers}, s, {**p, "label_source": "perceived"}, ctx)
    assert perceived["per_layer"][0]["score"] != out["per_layer"][0]["score"]
    with pytest.raises(AudioprobeError, match="'by' must name another dimension"):
        TASK_TYPES["abx"].check_params("t.yaml", {**p, "by": "material"})
    TASK_TYPES["abx"].check_params("t.yaml", {**p, "by": "extent"})


def test_without_cross_validation_or_bootstrap(rng):
    """cv_splits 0: the lowest-error layer on all sounds, its interval from that choice redone in every
    resample; bootstrap 0: no replicates, no intervals, the cross-validated headline unchanged."""
    n = 24
    s, truth = _tiny_set(n)
    layers = {"a": np.eye(3)[truth["material"]] + 0.6 * rng.random((n, 3)), "b": rng.random((n, 4))}
    p = {k: v.default for k, v in ABX_PARAMS.items()}
    p.update(bootstrap=30, cv_splits=5, label_source="physical")
    ctx = EvalContext("t", 3, None)
    nocv = TASK_TYPES["abx"].evaluate({"mean": layers}, s, {**p, "cv_splits": 0}, ctx)
    head = nocv["headline"]
    assert head["layer"] == "a" and head["value"] == nocv["per_layer"][0]["score"]
    assert "lowest-error layer on all sounds" in head["selection"] and "layer_frequency" not in head
    best = ctx.replicates["per_layer"].min(axis=1)
    np.testing.assert_array_equal(ctx.replicates["headline"], best)
    st = inference.contrast_statistics(head["value"], best, n_sounds=n, level=p["ci_level"])
    assert head["ci"] == pytest.approx(st["ci"], abs=1e-12)
    assert check_typed(nocv, TASK_TYPES["abx"].scores_schema, "scores") == []
    ctx0 = EvalContext("t", 3, None)
    noboot = TASK_TYPES["abx"].evaluate({"mean": layers}, s, {**p, "bootstrap": 0}, ctx0)
    assert ctx0.replicates == {} and ctx0.resampling == {}
    assert all(e["ci"] is None and e["p_value"] is None for e in noboot["per_layer"])
    assert noboot["headline"]["ci"] is None and noboot["headline"]["layer"] == "a"
    with_boot = TASK_TYPES["abx"].evaluate({"mean": layers}, s, p, EvalContext("t", 3, None))
    assert noboot["headline"]["value"] == with_boot["headline"]["value"]  # the same splits either way
    assert [e["score"] for e in noboot["per_layer"]] == [e["score"] for e in with_boot["per_layer"]]
    both_off = TASK_TYPES["abx"].evaluate({"mean": layers}, s, {**p, "bootstrap": 0, "cv_splits": 0},
                                          EvalContext("t", 3, None))
    assert both_off["headline"]["value"] == nocv["headline"]["value"] and both_off["headline"]["ci"] is None


def test_a_one_layer_model_has_no_layer_to_choose(rng):
    """One layer: its score is the headline (no halves drawn for a choice), with the per-layer interval."""
    n = 36
    s, truth = _tiny_set(n)
    p = {k: v.default for k, v in ABX_PARAMS.items()}
    p.update(bootstrap=30, cv_splits=6, label_source="physical")
    out = TASK_TYPES["abx"].evaluate({"mean": {"only": np.eye(3)[truth["material"]] + 0.6 * rng.random((n, 3))}},
                                     s, p, EvalContext("t", 3, None))
    (layer,) = out["per_layer"]
    assert out["headline"]["value"] == layer["score"] and out["headline"]["layer"] == "only"
    assert out["headline"]["ci"] == layer["ci"] and layer["ci"] is not None
