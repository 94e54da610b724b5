"""RSA on arrays: every RDM and comparison against an independent reference on the same arrays
(scipy, rsatoolbox, brute force), and the rsa task type end to end on a tiny constructed set."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon, pdist
from scipy.special import rel_entr
from scipy.stats import kendalltau, pearsonr, spearmanr

from audioprobe.metrics import rsa
from audioprobe.errors import AudioprobeError
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes import TASK_TYPES, EvalContext
from audioprobe.tasktypes.rsa import RSA_PARAMS


@pytest.fixture
def feats(rng):
    # a shared offset makes raw cosine differ from centred cosine
    return rng.normal(size=(23, 9)) + 3.0 * rng.normal(size=9)


def test_model_rdms_match_pdist(feats):
    np.testing.assert_allclose(rsa.cosine_rdm(feats), pdist(feats, "cosine"), atol=1e-12)
    np.testing.assert_allclose(rsa.correlation_rdm(feats), pdist(feats, "correlation"), atol=1e-12)
    np.testing.assert_allclose(rsa.euclidean_rdm(feats), pdist(feats, "euclidean"), atol=1e-10)
    centred = feats - feats.mean(axis=0)
    np.testing.assert_allclose(rsa.centred_cosine_rdm(feats), pdist(centred, "cosine"), atol=1e-12)
    assert np.abs(rsa.centred_cosine_rdm(feats) - rsa.cosine_rdm(feats)).max() > 0.1
    for name in rsa.MODEL_DISTANCES:
        assert rsa.model_rdm(feats, name).shape == (23 * 22 // 2,)


def test_divergence_rdms_against_scipy(rng):
    counts = rng.integers(0, 6, size=(11, 4))
    counts[0] = [0, 0, 7, 0]  # empty categories: smoothing must carry KL
    p = rsa.response_distributions(counts, 0.5)
    kl = [rel_entr(p[i], p[j]).sum() + rel_entr(p[j], p[i]).sum() for i, j in itertools.combinations(range(11), 2)]
    np.testing.assert_allclose(rsa.symmetric_kl_rdm(counts, 0.5), kl, rtol=1e-12)
    js = [jensenshannon(p[i], p[j]) ** 2 for i, j in itertools.combinations(range(11), 2)]
    np.testing.assert_allclose(rsa.jensen_shannon_rdm(counts, 0.5), js, atol=1e-12)
    counts[1] = [0, 3, 0, 0]  # JS is defined without smoothing
    q = counts / counts.sum(axis=1, keepdims=True)
    js0 = [jensenshannon(q[i], q[j]) ** 2 for i, j in itertools.combinations(range(11), 2)]
    np.testing.assert_allclose(rsa.jensen_shannon_rdm(counts, 0.0), js0, atol=1e-12)
    assert rsa.jensen_shannon_rdm(counts, 0.0).max() <= np.log(2) + 1e-12


def test_modal_and_label_rdms_known_answers():
    counts = np.array([[5, 1, 0], [4, 0, 2], [0, 6, 1], [3, 3, 0]])
    # modes: 0, 0, 1, {0,1} tied -> distance to a mode-0 sound is 1 - 1/2
    expected = [0.0, 1.0, 0.5, 1.0, 0.5, 0.5]
    np.testing.assert_allclose(rsa.modal_rdm(counts), expected)
    labels = ["a", "b", "a", "c"]
    codes = np.array([[0], [1], [0], [2]])
    np.testing.assert_allclose(rsa.label_rdm(labels), pdist(codes, lambda u, v: float(u[0] != v[0])))
    m = np.arange(16.0).reshape(4, 4)
    np.testing.assert_allclose(rsa.square_rdm(m), rsa.upper_triangle((m + m.T) / 2))


def _tau_a_brute(x, y):
    s = 0.0
    for i, j in itertools.combinations(range(len(x)), 2):
        s += np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
    return s / (len(x) * (len(x) - 1) / 2)


def test_comparisons_against_scipy_and_brute_force(rng):
    x = rng.normal(size=(3, 40))
    y = rng.normal(size=40) + x[1]
    np.testing.assert_allclose(rsa.compare_rows(x, y, "pearson"), [pearsonr(r, y)[0] for r in x], atol=1e-12)
    np.testing.assert_allclose(rsa.compare_rows(x, y, "spearman"), [spearmanr(r, y)[0] for r in x], atol=1e-12)
    # a 0/1 target with many ties: tau-a and tau-b differ, and tau-a is what we must return
    y01 = (y > 0.3).astype(float)
    xt = np.round(x, 1)  # ties in x as well
    tau_a = rsa.compare_rows(xt, y01, "kendall_tau_a")
    brute = [_tau_a_brute(r, y01) for r in xt]
    np.testing.assert_allclose(tau_a, brute, atol=1e-12)
    tau_b = [kendalltau(r, y01).statistic for r in xt]
    assert np.all(np.abs(np.array(tau_b) - brute) > 1e-3)
    assert rsa.kendall_tau_a(np.ones(5), np.arange(5.0)) == 0.0


def test_comparisons_against_rsatoolbox(rng):
    from rsatoolbox.rdm import RDMs, compare

    x = np.round(rng.random((2, 45)), 2)
    y = (rng.random(45) > 0.5).astype(float)
    ref = {"pearson": "corr", "spearman": "spearman", "kendall_tau_a": "tau-a"}
    for ours, theirs in ref.items():
        expected = compare(RDMs(x), RDMs(y[None, :]), method=theirs)[:, 0]
        np.testing.assert_allclose(rsa.compare_rows(x, y, ours), expected, atol=1e-12, err_msg=ours)


def test_residualise_matches_least_squares(rng):
    control = rng.random(30)
    x = np.stack([2 * control + rng.normal(size=30) * 0.1, rng.random(30)])
    res = rsa.residualise(x, control)
    design = np.column_stack([np.ones(30), control])
    for row, r in zip(x, res):
        coef = np.linalg.lstsq(design, row, rcond=None)[0]
        np.testing.assert_allclose(r, row - design @ coef, atol=1e-12)
    assert np.abs(res @ (control - control.mean())).max() < 1e-10


# ---------------------------------------------------------------------------------------------
# the task type on a tiny constructed stimulus set


def tiny_set(rng, n=30, listeners=8):
    cats = {"material": ["wood", "metal", "glass"], "extent": ["1D", "2D", "3D"]}
    truth = {d: rng.integers(0, len(c), size=n) for d, c in cats.items()}
    responses = {d: np.where(rng.random((listeners, n)) < 0.7, truth[d][None, :],
                             rng.integers(0, len(cats[d]), size=(listeners, n))) for d in cats}
    s = StimulusSet(name="tiny", sound_ids=[f"s{i}" for i in range(n)], dimensions=cats,
                    labels={d: [cats[d][k] for k in truth[d]] for d in cats}, judgments={},
                    load_audio=lambda i: (np.zeros(400, np.float32), 16000), listeners=[f"l{i}" for i in range(listeners)],
                    responses=responses, synthetic=True)
    s.judgments = s.counts_from_responses()
    return s, truth


def params(**over):
    p = {k: v.default for k, v in RSA_PARAMS.items()}
    p.update(dimensions="material", bootstrap=200, permutations=200, cv_splits=20, ceiling_splits=20)
    p.update(over)
    return p


def ctx(seed=0, control=None):
    return EvalContext(task="t", seed=seed, rng=np.random.default_rng(seed), control=control)


def test_rsa_task_end_to_end(rng):
    s, truth = tiny_set(rng)
    onehot = np.eye(3)[truth["material"]]
    acts = {"mean": {"good": onehot + 0.3 * rng.random((30, 3)), "noise": rng.random((30, 5))}}
    out = TASK_TYPES["rsa"].evaluate(acts, s, params(), ctx())
    json.dumps(out, allow_nan=False)
    good, noise = out["per_layer"]
    assert good["score"] > 0.3 and good["p_value"] < 0.05
    assert good["ci"][0] <= good["score"] <= good["ci"][1]
    assert out["headline"]["layer"] == "good" and out["headline"]["ci"] is not None
    assert 0 < out["noise_ceiling"]["value"] <= 1
    again = TASK_TYPES["rsa"].evaluate(acts, s, params(), ctx())
    assert again == out  # deterministic for a seed
    assert TASK_TYPES["rsa"].evaluate(acts, s, params(), ctx(seed=1))["per_layer"][0]["ci"] != good["ci"]
    for target in ("js", "modal", "physical"):
        for comparison in ("pearson", "spearman"):
            o = TASK_TYPES["rsa"].evaluate(acts, s, params(target=target, comparison=comparison), ctx())
            json.dumps(o, allow_nan=False)
            assert o["per_layer"][0]["score"] > 0.2, (target, comparison)
    phys = TASK_TYPES["rsa"].evaluate(acts, s, params(target="physical"), ctx())
    assert phys["noise_ceiling"]["value"] is None and "listener" in phys["noise_ceiling"]["reason"]


def test_rsa_partial_and_errors(rng):
    s, truth = tiny_set(rng)
    feats = np.eye(3)[truth["material"]] + 0.3 * rng.random((30, 3))
    acts = {"mean": {"same": feats, "other": rng.random((30, 4))}}
    out = TASK_TYPES["rsa"].evaluate(acts, s, params(control="logmel"), ctx(control=lambda m, p: {"fbank": feats}))
    json.dumps(out, allow_nan=False)
    assert out["per_layer"][0]["score"] is None and "control" in out["per_layer"][0]["note"]
    assert out["per_layer"][1]["score"] is not None and out["control"]["layer"] == "fbank"
    with pytest.raises(AudioprobeError, match="rdm.csv"):
        TASK_TYPES["rsa"].evaluate(acts, s, params(target="rdm", dimensions=[]), ctx())
    with pytest.raises(AudioprobeError, match="hollowness"):
        TASK_TYPES["rsa"].evaluate(acts, s, params(dimensions="hollowness"), ctx())
