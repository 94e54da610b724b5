"""ABX: known answers on constructed data and agreement with a brute-force triple loop."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from audioprobe.metrics import abx
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes import TASK_TYPES, EvalContext
from audioprobe.tasktypes.abx import ABX_PARAMS


def brute_force(d, labels, by=None, w=None):
    """The definition, one triplet at a time (weights: copies of the same sound as X and A excluded)."""
    n = len(labels)
    by = np.zeros(n, int) if by is None else by
    w = np.ones(n) if w is None else w
    groups = {}
    for g in sorted(set(by[by >= 0])):
        cats = sorted(set(labels[(by == g) & (labels >= 0)]))
        pair_scores = []
        for a, b in itertools.combinations(cats, 2):
            sym = []
            for ca, cb in ((a, b), (b, a)):
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
                if den > 0:
                    sym.append(num / den)
            if sym:
                pair_scores.append(np.mean(sym))
        if pair_scores:
            groups[g] = np.mean(pair_scores)
    return np.mean(list(groups.values()))


def test_known_answers():
    labels = np.array([0, 0, 0, 1, 1, 1])
    separated = np.array([[0.0], [0.1], [0.2], [10.0], [10.1], [10.2]])
    assert abx.abx_error(squareform(pdist(separated)), labels)[0] == 0.0
    assert abx.abx_error(np.ones((6, 6)) - np.eye(6), labels)[0] == 0.5  # all ties count half
    # same-category sounds far apart, other category close: every triplet is an error
    d = np.full((6, 6), 1.0)
    for i, j in itertools.product(range(6), repeat=2):
        if labels[i] == labels[j] and i != j:
            d[i, j] = 5.0
    np.fill_diagonal(d, 0)
    assert abx.abx_error(d, labels)[0] == 1.0


def test_against_brute_force_with_ties_by_and_weights(rng):
    n = 16
    d = squareform(np.round(pdist(rng.normal(size=(n, 2))), 1))  # rounding makes ties
    labels = rng.integers(0, 3, size=n)
    labels[0] = -1  # left out
    by = rng.integers(0, 2, size=n)
    assert abx.abx_error(d, labels)[0] == pytest.approx(brute_force(d, labels), abs=1e-12)
    assert abx.abx_error(d, labels, by)[0] == pytest.approx(brute_force(d, labels, by), abs=1e-12)
    w = rng.integers(0, 3, size=(3, n)).astype(float)
    got = abx.abx_error(d, labels, by, w)
    for k in range(3):
        assert got[k] == pytest.approx(brute_force(d, labels, by, w[k]), abs=1e-12)


def test_abx_task_type(rng):
    n = 36
    cats = {"material": ["wood", "metal", "glass"], "extent": ["1D", "2D", "3D"]}
    truth = {"material": np.repeat([0, 1, 2], 12), "extent": np.tile([0, 1, 2], 12)}
    counts = {d: np.eye(3, dtype=np.int64)[truth[d]] * 5 for d in cats}
    s = StimulusSet(name="tiny", sound_ids=[f"s{i}" for i in range(n)], dimensions=cats,
                    labels={d: [cats[d][k] for k in truth[d]] for d in cats}, judgments=counts,
                    load_audio=lambda i: (np.zeros(400, np.float32), 16000))
    acts = {"mean": {"material": np.eye(3)[truth["material"]] + 0.05 * rng.random((n, 3)),
                     "extent": np.eye(3)[truth["extent"]] + 0.05 * rng.random((n, 3))}}
    p = {k: v.default for k, v in ABX_PARAMS.items()}
    p.update(bootstrap=50, cv_splits=10)
    ctx = EvalContext("t", 0, np.random.default_rng(0), None)
    out = TASK_TYPES["abx"].evaluate(acts, s, p, ctx)
    json.dumps(out, allow_nan=False)
    mat, ext = out["per_layer"]
    assert mat["score"] == 0.0 and mat["p_value"] < 0.05
    assert ext["score"] > 0.3
    assert out["headline"]["layer"] == "material" and out["lower_is_better"]
    by = TASK_TYPES["abx"].evaluate(acts, s, {**p, "by": "extent"}, ctx)
    # within one extent, the extent layer holds only noise about material: chance
    assert by["per_layer"][1]["score"] == pytest.approx(0.5, abs=0.05)
    assert by["by_values"] == ["1D", "2D", "3D"]


def test_blocks_of_x_sounds_give_the_same_answer(rng, monkeypatch):
    n = 20
    d = squareform(np.round(pdist(rng.normal(size=(n, 2))), 1))
    labels, w = rng.integers(0, 3, size=n), rng.integers(0, 3, size=(4, n)).astype(float)
    whole = abx.abx_error(d, labels, None, w)
    monkeypatch.setattr(abx, "BLOCK_BYTES", 1)  # one X sound per block
    np.testing.assert_allclose(abx.abx_error(d, labels, None, w), whole, atol=1e-15)


def test_abx_task_statistics_written_out(rng):
    """The per-layer intervals and the cross-validated headline (lowest error on one half of the
    sounds, scored on the other) against brute force on the subsets; exact result fields; physical
    labels are used when asked; the same seed gives the same result."""
    from audioprobe.errors import AudioprobeError

    n = 24
    cats = {"material": ["wood", "metal", "glass"], "extent": ["1D", "2D", "3D"]}
    truth = {"material": np.repeat([0, 1, 2], 8), "extent": np.tile([0, 1, 2], 8)}
    counts = {d: np.eye(3, dtype=np.int64)[truth[d]] * 5 for d in cats}
    counts["material"][:4] = [0, 5, 0]  # perceived metal, physically wood
    s = StimulusSet(name="tiny", sound_ids=[f"s{i}" for i in range(n)], dimensions=cats,
                    labels={d: [cats[d][k] for k in truth[d]] for d in cats}, judgments=counts,
                    load_audio=lambda i: (np.zeros(400, np.float32), 16000))
    layers = {"a": np.eye(3)[truth["material"]] + 0.6 * rng.random((n, 3)), "b": rng.random((n, 4))}
    p = {k: v.default for k, v in ABX_PARAMS.items()}
    p.update(bootstrap=40, cv_splits=6, label_source="physical")
    ctx = EvalContext("t", 3, np.random.default_rng(0), None)
    out = TASK_TYPES["abx"].evaluate({"mean": layers}, s, p, ctx)
    again = TASK_TYPES["abx"].evaluate({"mean": layers}, s, p, EvalContext("t", 3, np.random.default_rng(9), None))
    assert again == out
    labels = truth["material"]
    d = {k: squareform(pdist(v, "cosine")) for k, v in layers.items()}
    for k, entry in enumerate(out["per_layer"]):
        assert entry["score"] == pytest.approx(brute_force(d[entry["layer"]], labels), abs=1e-12)
        reps = ctx.replicates["per_layer"][:, k]
        assert entry["ci"] == pytest.approx(np.quantile(reps, [0.025, 0.975]).tolist(), abs=1e-12)
    # the headline: cross-validated over random halves of the sounds (stream 2 of the seed)
    cv_rng = np.random.default_rng(np.random.SeedSequence(3).spawn(4)[2])
    halves = np.zeros((6, n), dtype=bool)
    np.put_along_axis(halves, np.argsort(cv_rng.random((6, n)), axis=1)[:, : n // 2], True, axis=1)
    held = []
    for h in halves:
        err = {side: [brute_force(d[name], labels, w=w.astype(float)) for name in layers]
               for side, w in (("a", h), ("b", ~h))}
        held += [err["b"][int(np.argmin(err["a"]))], err["a"][int(np.argmin(err["b"]))]]
    head = out["headline"]
    assert head["value"] == pytest.approx(np.mean(held), abs=1e-12) and 0 <= head["value"] <= 0.5
    assert head["layer"] == "a" and "lowest-error" in head["selection"]
    assert head["ci"] == pytest.approx(np.quantile(ctx.replicates["headline"], [0.025, 0.975]).tolist(), abs=1e-12)
    assert np.all((ctx.replicates["headline"] >= 0) & (ctx.replicates["headline"] <= 1))
    assert set(ctx.replicates) == {"per_layer", "headline"} and ctx.resampling["unit"] == "sounds"
    assert out["n_sounds_used"] == n
    assert out["metric"].startswith("ABX error between physical material categories (cosine ")
    assert out["statistics"]["cv_splits"] == 6 and out["statistics"]["bootstrap"] == 40
    assert out["statistics"]["bootstrap_unit"].startswith("sounds (X paired with its own copy ")
    # within each extent: every sound is used (extent code 0 included)
    by = TASK_TYPES["abx"].evaluate({"mean": layers}, s, {**p, "by": "extent"}, ctx)
    assert by["n_sounds_used"] == n and by["metric"].startswith(
        "ABX error between physical material categories within each extent value (cosine ")
    for entry in by["per_layer"]:
        ref = brute_force(d[entry["layer"]], labels, by=truth["extent"])
        assert entry["score"] == pytest.approx(ref, abs=1e-12)
    # a bootstrap without the cross-validated headline
    nocv = TASK_TYPES["abx"].evaluate({"mean": layers}, s, {**p, "cv_splits": 0}, EvalContext("t", 3, None, None))
    assert nocv["headline"]["layer"] == "a" and nocv["headline"]["value"] == out["per_layer"][0]["score"]
    perceived = TASK_TYPES["abx"].evaluate({"mean": layers}, s, {**p, "label_source": "perceived"}, ctx)
    assert perceived["per_layer"][0]["score"] != out["per_layer"][0]["score"]
    with pytest.raises(AudioprobeError, match="'by' must name another dimension"):
        TASK_TYPES["abx"].check_params("t.yaml", {**p, "by": "material"})
    TASK_TYPES["abx"].check_params("t.yaml", {**p, "by": "extent"})
