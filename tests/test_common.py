"""The shared parts of every task type with exact expectations: the interval level
check, the cross-validated and best-layer headlines, intervals, registration, replicate plans."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from audioprobe.tasktypes import TASK_TYPES, EvalContext
from audioprobe.tasktypes.common import STAT_PARAMS, interval, register_task_type
from audioprobe.tasktypes.headline import headline


def test_ci_level_bounds():
    check = STAT_PARAMS["ci_level"].check
    assert check(0.5) is None and check(0.99) is None
    assert check(1.0) == check(0.49) == "must be in [0.5, 1), e.g. 0.95"


def test_headlines_written_out():
    """The three headlines of common.headline with their replicates and intervals, against the rules written out:
    cross-validated (split replicates), best layer on all sounds (its choice redone per resample), one layer."""
    from audioprobe.metrics import inference

    rng = np.random.default_rng(0)
    names = ["a", "b", "c"]
    per_layer = [{"layer": n, "score": s, "ci": [0, 1]} for n, s in zip(names, (0.1, 0.2, 0.3))]
    cv_scores = np.array([0.2, np.nan, 0.4, 0.3, 0.5, 0.1])
    cv_choice = np.array([1, 0, 1, 2, 1, -1])
    layer_reps = 0.2 + 0.05 * rng.normal(size=(300, 3))
    split_reps = 0.3 + 0.05 * rng.normal(size=(300, 4))
    params = {"cv_splits": 6, "ci_level": 0.9}
    h, kept = headline(per_layer, names, params, cv_scores=cv_scores, cv_choice=cv_choice,
                       layer_replicates=layer_reps, split_replicates=split_reps, n_sounds=40)
    ok = [0, 2, 3, 4]  # finite score and a chosen layer
    ref = inference.contrast_statistics(np.mean(cv_scores[ok]), inference.Splits(split_reps, 6), n_sounds=40, level=0.9)
    assert h == {"value": pytest.approx(np.mean(cv_scores[ok])), "layer": "b", "layer_frequency": 0.75,
                 "ci": pytest.approx(ref["ci"]), "se": pytest.approx(ref["se"]), "dof": 39.0,
                 "ci_method": pytest.approx(h["ci_method"]),
                 "selection": "cross-validated over sounds: best layer picked on one half, scored on the other"}
    assert "split noise removed" in h["ci_method"] and kept == {"headline": split_reps}
    # cv_splits 0: the best layer on all sounds; its replicates redo the choice in every resample
    h0, kept0 = headline(per_layer, names, {"cv_splits": 0, "ci_level": 0.95}, layer_replicates=layer_reps,
                         n_sounds=40)
    assert h0["value"] == 0.3 and h0["layer"] == "c" and "optimistic" in h0["selection"]
    np.testing.assert_array_equal(kept0["headline"], layer_reps.max(axis=1))
    assert h0["ci"] == pytest.approx(inference.contrast_statistics(0.3, layer_reps.max(axis=1), n_sounds=40)["ci"])
    # one layer with a score: that layer's score and replicates, no selection
    one = [{"layer": "a", "score": None}, {"layer": "b", "score": 0.25}, {"layer": "c", "score": None}]
    h1, kept1 = headline(one, names, params, cv_scores=cv_scores, cv_choice=cv_choice, layer_replicates=layer_reps,
                         split_replicates=split_reps, n_sounds=40)
    assert h1["value"] == 0.25 and h1["layer"] == "b" and h1["selection"].startswith("the only layer")
    np.testing.assert_array_equal(kept1["headline"], layer_reps[:, 1])
    # nothing defined; no bootstrap
    none = [{"layer": n, "score": None, "ci": None} for n in names]
    assert headline(none, names, params)[0] == {"value": None, "layer": None, "ci": None,
                                                "selection": "no layer has a finite score"}
    hb, keptb = headline(per_layer, names, params, cv_scores=cv_scores, cv_choice=cv_choice)
    assert hb["ci"] is None and keptb == {}
    # dual replicates: the three kinds are kept, the interval is the dual one
    dual = {k: split_reps + 0.01 * rng.normal(size=split_reps.shape) for k in ("both", "sounds", "listeners")}
    hd, keptd = headline(per_layer, names, params, cv_scores=cv_scores, cv_choice=cv_choice,
                         layer_replicates={k: layer_reps for k in dual}, split_replicates=dual, n_sounds=40,
                         n_listeners=9)
    assert set(keptd) == {"headline", "headline_sounds", "headline_listeners"}
    refd = inference.contrast_statistics(hd["value"], {k: inference.Splits(v, 6) for k, v in dual.items()},
                                         n_sounds=40, n_listeners=9, level=0.9)
    assert hd["ci"] == pytest.approx(refd["ci"]) and hd["dof"] == refd["dof"]


def test_headline_of_errors_and_of_sound_pairs_written_out():
    """A lower-is-better score (ABX error) with cv_splits 0 heads with its lowest-error layer, wherever it is, and
    its replicates take the lowest layer of each resample; an RSA score (a statistic over sound pairs, with the
    resamples' counts) counts the pairs' noise once for its only layer's headline, not for a headline chosen
    among layers; and each method text says which variance it used."""
    from audioprobe.metrics import inference, resampling

    rng = np.random.default_rng(3)
    names, n = ["a", "b", "c"], 30
    counts = resampling.bootstrap_counts(rng, n, 400)
    layer_reps = 0.2 + 0.01 * (counts[:, :3] - 1) + 0.02 * rng.normal(size=(400, 3))  # partly linear in the counts
    errors = [{"layer": k, "score": s} for k, s in zip(names, (0.3, 0.1, 0.2))]
    h, kept = headline(errors, names, {"cv_splits": 0, "ci_level": 0.95}, layer_replicates=layer_reps, n_sounds=n,
                       lower_is_better=True)
    assert h["layer"] == "b" and h["value"] == 0.1 and h["selection"].startswith("lowest-error layer on all sounds")
    np.testing.assert_array_equal(kept["headline"], layer_reps.min(axis=1))
    # the only layer's RSA headline: the pairs' noise counted once (inference.OverPairs), as compare does
    one = [{"layer": "a", "score": None}, {"layer": "b", "score": 0.25}, {"layer": "c", "score": None}]
    params = {"cv_splits": 0, "ci_level": 0.95}
    h1, _ = headline(one, names, params, layer_replicates=layer_reps, n_sounds=n, sound_counts=counts)
    want = inference.contrast_statistics(0.25, inference.OverPairs(layer_reps[:, 1], counts), n_sounds=n)
    plain = inference.contrast_statistics(0.25, layer_reps[:, 1], n_sounds=n)
    assert h1["se"] == pytest.approx(want["se"]) and h1["ci"] == pytest.approx(want["ci"])
    assert abs(want["se"] - plain["se"]) > 0.01 * plain["se"]  # the data tell the two apart
    assert h1["ci_method"] == ("t interval: value -/+ t(dof) se, se from the bootstrap variance of its replicates x "
                               "n/(n-1), n - 1 dof; the sound pairs' own noise, which a bootstrap of sounds counts "
                               "three times, counted once (the replicates' residual on the resamples' counts, "
                               "docs/metrics.md)")
    # chosen among layers: the bootstrap's variance as it is
    scores = [{"layer": k, "score": s} for k, s in zip(names, (0.1, 0.3, 0.2))]
    h3, _ = headline(scores, names, params, layer_replicates=layer_reps, n_sounds=n, sound_counts=counts)
    assert h3["se"] == pytest.approx(inference.contrast_statistics(0.3, layer_reps.max(axis=1), n_sounds=n)["se"])
    assert h3["ci_method"].endswith("; the sound pairs' own noise left as the bootstrap counts it (three times: "
                                    "conservative), as the layer choice is not a smooth function of the pairs "
                                    "(docs/metrics.md)")
    dual = {k: layer_reps + 0.01 * rng.normal(size=layer_reps.shape) for k in ("both", "sounds", "listeners")}
    hd, _ = headline(scores, names, params, layer_replicates=dual, n_sounds=n, n_listeners=9)
    assert hd["ci_method"] == ("t interval: value -/+ t(dof) se, se from the dual-bootstrap variance (Schütt et al. "
                               "2023) of its replicates, Satterthwaite dof")


def test_interval_needs_both_bounds():
    assert interval([0.1, np.nan]) is None and interval([None, 0.2]) is None
    assert interval([np.float64(0.1), 0.2]) == [0.1, 0.2]


def test_register_a_name_once():
    rsa = TASK_TYPES["rsa"]
    assert register_task_type(rsa) is rsa
    with pytest.raises(ValueError, match="already registered"):
        register_task_type(dataclasses.replace(rsa))
    assert TASK_TYPES["rsa"] is rsa


def test_replicate_plan_hashes_int64_draws():
    ctx = EvalContext("t", 5, None)
    counts = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])  # floats: hashed as the int64 counts
    listeners = np.array([[2.0, 0.0], [1.0, 1.0]])
    ctx.keep_replicates(counts, "sounds", per_layer=np.zeros((2, 1)))
    plan = hashlib.sha256(counts.astype(np.int64).tobytes())
    assert ctx.resampling == {"factors": ["sounds"], "unit": "sounds", "n_items": 3, "n_resamples": 2, "seed": 5,
                              "sounds_plan_sha256": plan.hexdigest(), "plan_sha256": plan.hexdigest()}
    ctx.keep_replicates(counts, "sounds", listeners=listeners, per_layer=np.zeros((2, 1)))
    both = hashlib.sha256(counts.astype(np.int64).tobytes())
    both.update(listeners.astype(np.int64).tobytes())
    assert ctx.resampling["plan_sha256"] == both.hexdigest() and ctx.resampling["n_listeners"] == 2
    assert ctx.resampling["factors"] == ["sounds", "listeners"]

    # real-valued weights (a weighted bootstrap) are hashed as float64
    weights = np.array([[0.5, 1.25, 1.25], [1.0, 1.0, 1.0]])
    ctx.keep_replicates(weights, "sounds", per_layer=np.zeros((2, 1)))
    assert ctx.resampling["plan_sha256"] == hashlib.sha256(weights.tobytes()).hexdigest()
