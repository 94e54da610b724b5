"""The shared parts of every task type with exact expectations (issue 16): the interval level
check, the cross-validated and best-layer headlines, intervals, registration, replicate plans."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from audioprobe.tasktypes import TASK_TYPES, EvalContext
from audioprobe.tasktypes.common import STAT_PARAMS, cv_headline, headline, interval, register_task_type


def test_ci_level_bounds():
    check = STAT_PARAMS["ci_level"].check
    assert check(0.5) is None and check(0.99) is None
    assert check(1.0) == check(0.49) == "must be in [0.5, 1), e.g. 0.95"


def test_headlines_written_out():
    names = ["a", "b", "c"]
    scores = np.array([0.2, np.nan, 0.4, 0.3, 0.5, 0.1])
    choice = np.array([1, 0, 1, 2, 1, -1])
    boot = np.linspace(0, 1, 41)
    h = cv_headline(names, scores, choice, boot, 0.9)
    ok = [0, 2, 3, 4]  # finite score and a chosen layer
    assert h == {"value": pytest.approx(np.mean(scores[ok])), "layer": "b", "layer_frequency": 0.75,
                 "ci": pytest.approx(np.quantile(boot, [0.05, 0.95]).tolist()),
                 "selection": "cross-validated over sounds: best layer picked on one half, scored on the other"}
    per_layer = [{"layer": n, "score": s, "ci": [0, 1]} for n, s in zip(names, (0.1, None, 0.3))]
    params = {"cv_splits": 0, "ci_level": 0.95}
    assert headline(per_layer, names, {}, params) == {
        "value": 0.3, "layer": "c", "ci": [0, 1], "selection": "best layer on all sounds (not cross-validated: "
                                                                "optimistic)"}
    none = [{"layer": n, "score": None, "ci": None} for n in names]
    assert headline(none, names, {}, params) == {"value": None, "layer": None, "ci": None,
                                                 "selection": "best layer (no finite score)"}


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
    ctx = EvalContext("t", 5, None, None)
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
