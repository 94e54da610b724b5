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

from audioprobe.errors import AudioprobeError
from audioprobe.metrics import geometry
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes import TASK_TYPES, EvalContext
from audioprobe.tasktypes.rsa.params import RSA_PARAMS
from tests.factories import make_set


@pytest.fixture
def feats(rng):
    # a shared offset makes raw cosine differ from centred cosine
    return rng.normal(size=(23, 9)) + 3.0 * rng.normal(size=9)


def test_model_rdms_match_pdist(feats):
    np.testing.assert_allclose(geometry.cosine_rdm(feats), pdist(feats, "cosine"), atol=1e-12)
    np.testing.assert_allclose(geometry.correlation_rdm(feats), pdist(feats, "correlation"), atol=1e-12)
    np.testing.assert_allclose(geometry.euclidean_rdm(feats), pdist(feats, "euclidean"), atol=1e-10)
    centred = feats - feats.mean(axis=0)
    np.testing.assert_allclose(geometry.centred_cosine_rdm(feats), pdist(centred, "cosine"), atol=1e-12)
    assert np.abs(geometry.centred_cosine_rdm(feats) - geometry.cosine_rdm(feats)).max() > 0.1
    for name in geometry.MODEL_DISTANCES:
        assert geometry.model_rdm(feats, name).shape == (23 * 22 // 2,)


def test_divergence_rdms_against_scipy(rng):
    counts = rng.integers(0, 6, size=(11, 4))
    counts[0] = [0, 0, 7, 0]  # empty categories: smoothing must carry KL
    p = geometry.response_distributions(counts, 0.5)
    kl = [rel_entr(p[i], p[j]).sum() + rel_entr(p[j], p[i]).sum() for i, j in itertools.combinations(range(11), 2)]
    np.testing.assert_allclose(geometry.symmetric_kl_rdm(counts, 0.5), kl, rtol=1e-12)
    js = [jensenshannon(p[i], p[j]) ** 2 for i, j in itertools.combinations(range(11), 2)]
    np.testing.assert_allclose(geometry.jensen_shannon_rdm(counts, 0.5), js, atol=1e-12)
    counts[1] = [0, 3, 0, 0]  # JS is defined without smoothing
    q = counts / counts.sum(axis=1, keepdims=True)
    js0 = [jensenshannon(q[i], q[j]) ** 2 for i, j in itertools.combinations(range(11), 2)]
    np.testing.assert_allclose(geometry.jensen_shannon_rdm(counts, 0.0), js0, atol=1e-12)
    assert geometry.jensen_shannon_rdm(counts, 0.0).max() <= np.log(2) + 1e-12


def test_modal_and_label_rdms_known_answers():
    counts = np.array([[5, 1, 0], [4, 0, 2], [0, 6, 1], [3, 3, 0]])
    # modes: 0, 0, 1, {0,1} tied -> distance to a mode-0 sound is 1 - 1/2
    expected = [0.0, 1.0, 0.5, 1.0, 0.5, 0.5]
    np.testing.assert_allclose(geometry.modal_rdm(counts), expected)
    labels = ["a", "b", "a", "c"]
    codes = np.array([[0], [1], [0], [2]])
    np.testing.assert_allclose(geometry.label_rdm(labels), pdist(codes, lambda u, v: float(u[0] != v[0])))
    m = np.arange(16.0).reshape(4, 4)
    np.testing.assert_allclose(geometry.square_rdm(m), geometry.upper_triangle((m + m.T) / 2))


def _tau_a_brute(x, y):
    s = 0.0
    for i, j in itertools.combinations(range(len(x)), 2):
        s += np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
    return s / (len(x) * (len(x) - 1) / 2)


def test_comparisons_against_scipy_and_brute_force(rng):
    x = rng.normal(size=(3, 40))
    y = rng.normal(size=40) + x[1]
    np.testing.assert_allclose(geometry.compare_rows(x, y, "pearson"), [pearsonr(r, y)[0] for r in x], atol=1e-12)
    np.testing.assert_allclose(geometry.compare_rows(x, y, "spearman"), [spearmanr(r, y)[0] for r in x], atol=1e-12)
    # a 0/1 target with many ties: tau-a and tau-b differ, and tau-a is what we must return
    y01 = (y > 0.3).astype(float)
    xt = np.round(x, 1)  # ties in x as well
    tau_a = geometry.compare_rows(xt, y01, "kendall_tau_a")
    brute = [_tau_a_brute(r, y01) for r in xt]
    np.testing.assert_allclose(tau_a, brute, atol=1e-12)
    tau_b = [kendalltau(r, y01).statistic for r in xt]
    assert np.all(np.abs(np.array(tau_b) - brute) > 1e-3)
    assert geometry.kendall_tau_a(np.ones(5), np.arange(5.0)) == 0.0


def test_comparisons_against_rsatoolbox(rng):
    from rsatoolbox.rdm import RDMs, compare

    x = np.round(rng.random((2, 45)), 2)
    y = (rng.random(45) > 0.5).astype(float)
    ref = {"pearson": "corr", "spearman": "spearman", "kendall_tau_a": "tau-a"}
    for ours, theirs in ref.items():
        expected = compare(RDMs(x), RDMs(y[None, :]), method=theirs)[:, 0]
        np.testing.assert_allclose(geometry.compare_rows(x, y, ours), expected, atol=1e-12, err_msg=ours)


def test_residualise_matches_least_squares(rng):
    control = rng.random(30)
    x = np.stack([2 * control + rng.normal(size=30) * 0.1, rng.random(30)])
    res = geometry.residualise(x, control)
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
    s = make_set(cats, truth, responses=responses)
    return s, truth


def params(**over):
    p = {k: v.default for k, v in RSA_PARAMS.items()}
    p.update(dimensions="material", bootstrap=200, permutations=200, cv_splits=20, ceiling_splits=20)
    p.update(over)
    return p


def ctx(seed=0, control=None):
    return EvalContext(task="t", seed=seed, control=control)


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


# ---------------------------------------------------------------------------------------------
# resampling listeners as well as sounds; leave-one-listener-out ceiling bounds


def _run(s, acts, **over):
    c = ctx()
    return TASK_TYPES["rsa"].evaluate(acts, s, params(**over), c), c


def test_two_factor_sound_draws_are_the_sounds_only_draws(rng):
    from audioprobe.metrics import intervals, resampling

    s, truth = tiny_set(rng)
    acts = {"mean": {"good": np.eye(3)[truth["material"]] + 0.3 * rng.random((30, 3)), "noise": rng.random((30, 5))}}
    both, c2 = _run(s, acts)  # auto: kl from 8 listeners' responses -> sounds and listeners
    one, c1 = _run(s, acts, resample="sounds")
    assert both["statistics"]["resampled"] == ["sounds", "listeners"] and one["statistics"]["resampled"] == ["sounds"]
    assert set(c2.replicates) == {"per_layer", "headline", "per_layer_sounds", "per_layer_listeners",
                                  "headline_sounds", "headline_listeners"}
    assert set(c1.replicates) == {"per_layer", "headline"}
    # same plan rows: the sounds-only replicates of the two-factor run are the sounds-only run's
    np.testing.assert_array_equal(c2.replicates["per_layer_sounds"], c1.replicates["per_layer"])
    np.testing.assert_array_equal(c2.replicates["headline_sounds"], c1.replicates["headline"])
    assert not np.array_equal(c2.replicates["per_layer"], c1.replicates["per_layer"])
    assert c2.resampling["factors"] == ["sounds", "listeners"] and c2.resampling["n_listeners"] == 8
    assert c1.resampling["factors"] == ["sounds"] and c2.resampling["plan_sha256"] != c1.resampling["plan_sha256"]
    # everything but the intervals is unchanged
    for key in ("score", "p_value"):
        assert [e[key] for e in both["per_layer"]] == [e[key] for e in one["per_layer"]]
    assert both["headline"]["value"] == one["headline"]["value"]
    assert both["noise_ceiling"] == one["noise_ceiling"]
    # the intervals: score -/+ t(dof) sqrt(dual-bootstrap variance), recomputable from the replicates; dof per
    # layer by Satterthwaite from the three variances; the headline's from its split replicates (cv_splits of them)
    st = both["statistics"]
    assert st["n_listeners"] == 8 and "dual-bootstrap" in st["ci_method"] and "Satterthwaite" in st["ci_method"]
    assert one["statistics"]["ci_method"] == "percentile" and "n_listeners" not in one["statistics"]
    r = c2.replicates
    layers = both["per_layer"]
    # statistics over sound pairs: the variances count the pairs' noise once (from the sounds' draws)
    counts = resampling.sound_draws(0, 30, r["per_layer"].shape[0])
    # (a layer's score; not the headline chosen among layers, which keeps the bootstrap's variance)
    assert c2.resampling["pair_statistic"] == ["per_layer"]
    var, dof = intervals.dual_variance_of(r["per_layer"], r["per_layer_listeners"], r["per_layer_sounds"], 8, 30,
                                          sound_counts=counts)
    np.testing.assert_allclose(intervals.t_interval([e["score"] for e in layers], var, dof, 0.95),
                               [e["ci"] for e in layers], atol=1e-12)
    assert [e["dof"] for e in layers] == pytest.approx(np.round(dof, 1).tolist()) and np.all(dof >= 7)
    assert r["headline"].shape == (r["per_layer"].shape[0], resampling.HEADLINE_SPLITS)
    var, dof = intervals.dual_variance_of(r["headline"], r["headline_listeners"], r["headline_sounds"], 8, 30,
                                          cv_splits=20, split_axis=True)
    np.testing.assert_allclose(intervals.t_interval(both["headline"]["value"], var, dof, 0.95), both["headline"]["ci"],
                               atol=1e-12)
    assert "left as the bootstrap counts it" in both["headline"]["ci_method"]
    percentile = intervals.percentile_interval(c1.replicates["per_layer"])[0]
    assert one["per_layer"][0]["ci"] == [pytest.approx(v) for v in percentile]


def test_two_factor_replicate_rebuilds_the_target_from_the_drawn_listeners(rng):
    from audioprobe.metrics import resampling, rsa_inference
    from audioprobe.metrics.responses import counts_from_responses

    s, truth = tiny_set(rng, listeners=6)
    acts = {"mean": {"a": np.eye(3)[truth["material"]] + 0.5 * rng.random((30, 3)), "b": rng.random((30, 4))}}
    for target in ("kl", "js", "modal"):
        out, c = _run(s, acts, target=target, bootstrap=50)
        listeners = resampling.listener_draws(0, 6, 50)
        counts = resampling.bootstrap_counts(resampling.streams(0)[0], 30, 50)
        model = np.stack([geometry.cosine_rdm(v) for v in acts["mean"].values()])
        for b in (0, 17):
            drawn = s.responses["material"][np.repeat(np.arange(6), listeners[b])]
            t = {"kl": lambda k: geometry.symmetric_kl_rdm(k, 0.5), "js": lambda k: geometry.jensen_shannon_rdm(k, 0.5),
                 "modal": geometry.modal_rdm}[target](counts_from_responses(drawn, 3))
            for name, weights in (("per_layer", counts[b]), ("per_layer_listeners", np.ones(30, dtype=np.int64))):
                direct = rsa_inference.resampled_scores_loop(model, t, weights[None],
                                                     lambda p, q: geometry.compare_rows(p, q, "pearson")[0])[0]
                np.testing.assert_allclose(c.replicates[name][b], direct, atol=1e-12, err_msg=(target, name))


def test_resample_parameter_choices_and_errors(rng):
    from audioprobe.errors import NotApplicableError

    s, truth = tiny_set(rng)
    acts = {"mean": {"good": np.eye(3)[truth["material"]] + 0.3 * rng.random((30, 3))}}
    rsa_type = TASK_TYPES["rsa"]
    with pytest.raises(AudioprobeError, match="resample.*sounds\\+listeners.*physical"):
        rsa_type.check_params("t.yaml", params(target="physical", resample="sounds+listeners"))
    with pytest.raises(AudioprobeError, match="allowed: auto, sounds, sounds\\+listeners"):
        RSA_PARAMS["resample"].validate("t.yaml", "resample", "listeners")
    # physical targets: sounds only, today's percentile intervals, whatever `auto` says
    phys, _ = _run(s, acts, target="physical")
    phys_sounds, _ = _run(s, acts, target="physical", resample="sounds")
    assert phys == phys_sounds and phys["statistics"]["resampled"] == ["sounds"]
    assert phys["statistics"]["ci_method"] == "percentile"
    assert phys["headline_over_ceiling"] == {"ratio": None, "attainable": None,
                                             "reason": "no positive split-half reliability"}
    # a set without per-listener responses: auto falls back to sounds; asking for listeners is not applicable
    bare = StimulusSet(name="bare", sound_ids=s.sound_ids, dimensions=s.dimensions, labels=s.labels,
                       judgments=s.judgments, load_audio=s.load_audio, synthetic=True)
    out, c = _run(bare, acts)
    assert out["statistics"]["resampled"] == ["sounds"] and "lower_bound" not in out["noise_ceiling"]
    with pytest.raises(NotApplicableError, match="responses.csv"):
        _run(bare, acts, resample="sounds+listeners")
    few, _ = tiny_set(np.random.default_rng(3), listeners=2)
    out, _ = _run(few, acts, ceiling_splits=0)
    assert out["statistics"]["resampled"] == ["sounds"]
    with pytest.raises(NotApplicableError, match="2 listeners"):
        _run(few, acts, resample="sounds+listeners")
    assert _run(s, acts, bootstrap=0)[0]["statistics"]["resampled"] == []


def test_leave_one_listener_out_bounds_brute_force(rng):
    s, truth = tiny_set(rng, listeners=5)
    acts = {"mean": {"good": np.eye(3)[truth["material"]] + 0.3 * rng.random((30, 3))}}
    for target, comparison in (("kl", "pearson"), ("modal", "spearman")):
        out, _ = _run(s, acts, target=target, comparison=comparison)
        nc = out["noise_ceiling"]
        build = {"kl": lambda k: geometry.symmetric_kl_rdm(k, 0.5), "modal": geometry.modal_rdm}[target]
        resp = s.responses["material"]
        everyone = build(np.stack([np.bincount(resp[:, i], minlength=3) for i in range(30)]))
        upper, lower = [], []
        for listener in range(5):
            alone = build(np.eye(3, dtype=int)[resp[listener]])
            others = np.delete(resp, listener, axis=0)
            rest = build(np.stack([np.bincount(others[:, i], minlength=3) for i in range(30)]))
            upper.append(geometry.compare_rows(alone, everyone, comparison)[0])
            lower.append(geometry.compare_rows(alone, rest, comparison)[0])
        assert nc["upper_bound"] == pytest.approx(np.mean(upper), abs=1e-12)
        assert nc["lower_bound"] == pytest.approx(np.mean(lower), abs=1e-12)
        assert nc["lower_bound"] < nc["upper_bound"] and nc["n_listeners"] == 5 and "Nili" in nc["bounds_method"]
        frac = out["headline_over_ceiling"]
        assert frac["attainable"] == pytest.approx(np.sqrt(nc["value"]))
        assert frac["ratio"] == pytest.approx(out["headline"]["value"] / np.sqrt(nc["value"]))


def _panel_set(rng, n_sounds, n_listeners, school_share):
    """Sounds of 3 materials. A share of the listeners (a "school") sorts the sounds by another,
    hidden attribute; the others answer the material. Share 0: every listener answers alike."""
    cats = {"material": ["wood", "metal", "glass"]}
    truth, other = rng.integers(0, 3, size=n_sounds), rng.integers(0, 3, size=n_sounds)
    school = (np.arange(n_listeners) < school_share * n_listeners)[:, None]
    responses = np.ascontiguousarray(np.where(school, other[None, :], truth[None, :]).astype(np.int64))
    s = make_set(cats, {"material": truth}, responses={"material": responses}, name="panel")
    return s, truth


def test_two_factor_interval_widens_only_when_listeners_disagree():
    """Listeners who all answer alike leave nothing to resample: the two-factor interval is the
    sounds-only one (up to t(dof) against the percentile, and the pairs' noise, which the t interval counts once
    and the percentile interval three times: measured 0.90 at 40 sounds). When half the panel judges something else,
    the target depends on who was asked: the two-factor interval is much wider (measured 1.5 to 2x)."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        widths = {}
        for share in (0.0, 0.5):
            s, truth = _panel_set(rng, 40, 30, share)
            acts = {"mean": {"layer": np.eye(3)[truth] + 0.8 * rng.random((40, 3))}}
            for resample in ("sounds", "sounds+listeners"):
                out, _ = _run(s, acts, resample=resample, bootstrap=500, permutations=0, cv_splits=0,
                              ceiling_splits=0)
                lo, hi = out["per_layer"][0]["ci"]
                widths[share, resample] = hi - lo
        assert 0.8 < widths[0.0, "sounds+listeners"] / widths[0.0, "sounds"] < 1.2, widths
        assert widths[0.5, "sounds+listeners"] / widths[0.5, "sounds"] > 1.35, widths


def test_undefined_targets_of_some_draws_are_left_out(rng):
    """js without smoothing is undefined for a sound that no drawn listener judged: those draws (and
    splits, and listeners alone) are left out, not the task."""
    s, truth = tiny_set(rng, listeners=5)
    for d in s.responses:
        s.responses[d][1:, 0] = -1  # sound 0 judged by listener 0 only
    s.judgments = s.counts_from_responses()
    acts = {"mean": {"a": np.eye(3)[truth["material"]] + 0.3 * rng.random((30, 3)), "b": rng.random((30, 4))}}
    out, c = _run(s, acts, target="js", smoothing=0.0)
    json.dumps(out, allow_nan=False)
    assert all(e["ci"] is not None for e in out["per_layer"]) and out["headline"]["ci"] is not None
    missing = np.isnan(c.replicates["per_layer_listeners"][:, 0])
    assert 0 < missing.mean() < 1  # the draws without listener 0
    assert out["noise_ceiling"]["value"] is None and "undefined" in out["noise_ceiling"]["reason"]
    assert out["noise_ceiling"]["lower_bound"] is None and "undefined" in out["noise_ceiling"]["bounds_reason"]


def test_model_rdms_computed_in_float64_from_float32_activations(rng):
    """Activations arrive as float32 (the cache's dtype); every distance is computed in float64:
    equal to scipy on the float64 values far below float32 rounding."""
    x = (rng.normal(size=(30, 64)) + 5.0).astype(np.float32)
    x64 = x.astype(np.float64)
    for name, ref in (("cosine", pdist(x64, "cosine")), ("correlation", pdist(x64, "correlation")),
                      ("euclidean", pdist(x64, "euclidean")),
                      ("centred_cosine", pdist(x64 - x64.mean(axis=0), "cosine"))):
        got = geometry.model_rdm(x, name)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12, err_msg=name)


def test_rsa_task_edges_against_written_out_expectations(rng):
    s, truth = tiny_set(rng)
    feats = np.eye(3)[truth["material"]] + 0.3 * rng.random((30, 3))
    # target rdm needs no dimensions; any other target does
    TASK_TYPES["rsa"].check_params("t.yaml", params(target="rdm", dimensions=[]))
    with pytest.raises(AudioprobeError, match="'dimensions' is required"):
        TASK_TYPES["rsa"].check_params("t.yaml", params(target="modal", dimensions=[]))
    # kl without smoothing is refused before any divergence is computed
    with pytest.raises(AudioprobeError, match="needs smoothing > 0"):
        TASK_TYPES["rsa"].evaluate({"mean": {"a": feats}}, s, params(smoothing=0.0), ctx())
    # one dimension: the metric names no average; two: it does
    one = TASK_TYPES["rsa"].evaluate({"mean": {"a": feats}}, s, params(bootstrap=0, permutations=0), ctx())
    assert one["metric"] == ("pearson correlation between the model RDM (cosine distance of mean-pooled "
                             "activations) and the target RDM (symmetric KL of response distributions)")
    two = TASK_TYPES["rsa"].evaluate({"mean": {"a": feats}}, s, params(bootstrap=0, permutations=0,
                                                                       dimensions=["material", "extent"]), ctx())
    assert two["metric"].endswith("(symmetric KL of response distributions averaged over material, extent)")
    # fewer than 4 listeners: no split half, but the leave-one-out bounds
    few, _ = tiny_set(np.random.default_rng(5), listeners=3)
    nc = TASK_TYPES["rsa"].evaluate({"mean": {"a": feats}}, few, params(bootstrap=0, permutations=0), ctx())
    nc = nc["noise_ceiling"]
    assert nc["value"] is None and nc["reason"] == "3 listeners: a split half needs at least 4"
    assert nc["n_listeners"] == 3 and nc["lower_bound"] is not None


def test_partial_rsa_control_layer_and_a_constant_layer(rng):
    s, truth = tiny_set(rng)
    feats = np.eye(3)[truth["material"]] + 0.3 * rng.random((30, 3))
    other = rng.random((30, 4))
    acts = {"mean": {"flat": np.ones((30, 3)), "other": other}}
    control = {"first": rng.random((30, 5)), "second": feats}
    out = TASK_TYPES["rsa"].evaluate(acts, s, params(control="logmel", control_layer="second", bootstrap=0,
                                                     permutations=0),
                                     ctx(control=lambda m, p: control))
    assert out["control"]["layer"] == "second"
    target = geometry.symmetric_kl_rdm(s.judgments["material"], 0.5)
    assert out["control"]["score_of_control"] == pytest.approx(pearsonr(pdist(feats, "cosine"), target)[0])
    c = pdist(feats, "cosine")
    design = np.column_stack([np.ones_like(c), c])
    m = pdist(other, "cosine")
    resid = m - design @ np.linalg.lstsq(design, m, rcond=None)[0]
    assert out["per_layer"][1]["score"] == pytest.approx(pearsonr(resid, target)[0], abs=1e-9)
    # a layer whose RDM is constant (every distance 0): nothing left once the control is removed
    assert out["per_layer"][0]["score"] is None and "explains" in out["per_layer"][0]["note"]
    with pytest.raises(AudioprobeError, match="set control_layer"):
        TASK_TYPES["rsa"].evaluate(acts, s, params(control="logmel"), ctx(control=lambda m, p: control))


def test_residualise_small_and_constant_controls(rng):
    x = rng.normal(size=(2, 40))
    for control in (0.05 * rng.random(40), 0.05 * rng.random(40) + 3.0):  # tiny variance: still regressed out
        design = np.column_stack([np.ones(40), control])
        for present in (None, rng.random(40) < 0.7):
            keep = np.ones(40, bool) if present is None else present
            res = geometry.residualise(x, control, present)
            for row, r in zip(x, res):  # fitted on the present pairs, applied to every pair
                coef = np.linalg.lstsq(design[keep], row[keep], rcond=None)[0]
                np.testing.assert_allclose(r, row - design @ coef, atol=1e-9)
    # a constant control explains nothing: the centred rows come back
    for present in (None, rng.random(40) < 0.5):
        keep = np.ones(40, bool) if present is None else present
        res = geometry.residualise(x, np.full(40, 2.0), present)
        np.testing.assert_allclose(res, x - x[:, keep].mean(axis=1, keepdims=True), atol=1e-12)


def test_rsa_statistics_block_and_ceiling_edges(rng):
    """The method text a result file carries, exactly; one ceiling split; a single listener."""
    s, truth = tiny_set(rng)
    acts = {"mean": {"a": np.eye(3)[truth["material"]] + 0.3 * rng.random((30, 3))}}
    one, _ = _run(s, acts, resample="sounds", ceiling_splits=1)
    assert one["statistics"] == {
        "seed": 0, "bootstrap": 200, "bootstrap_unit": "sounds (pairs of a sound with its own copy excluded)",
        "ci_level": 0.95, "ci_method": "percentile", "permutations": 200,
        "p_value": "one-sided Mantel test (rows and columns of the target permuted together), (1 + #null >= "
                   "observed) / (1 + permutations)", "cv_splits": 20, "resampled": ["sounds"]}
    assert one["noise_ceiling"]["n_splits"] == 1 and one["noise_ceiling"]["value"] is not None
    both, _ = _run(s, acts)
    st = both["statistics"]
    assert st["bootstrap_unit"] == (
        "sounds and listeners: resample b draws the sounds (pairs of a sound with its own copy excluded) and the "
        "listeners (the target rebuilt from the drawn listeners' responses) with replacement; the same draws also "
        "give the sounds-only and listeners-only resamples")
    assert st["ci_method"] == (
        "t: score -/+ t(dof) sqrt(V), V the dual-bootstrap variance (Schütt et al. 2023, eLife 12:e82566; "
        "small-sample form as rsatoolbox's eval_dual_bootstrap) from the bootstraps over both factors, over "
        "listeners and over sounds; dof per layer by Satterthwaite (1946) from the three variances")
    single, _ = tiny_set(np.random.default_rng(1), listeners=1)
    nc = _run(single, acts, resample="sounds")[0]["noise_ceiling"]
    assert nc["lower_bound"] is None and nc["upper_bound"] is None
    assert nc["bounds_reason"] == "1 listener: no other listener to compare with"


def _agreeing_set(rng, n, listeners, p_named):
    """Sounds of 3 materials; each listener names the true material with probability p_named, else answers
    at random (p_named 0: the listeners agree only by chance)."""
    cats = {"material": ["wood", "metal", "glass"]}
    truth = rng.integers(0, 3, size=n)
    resp = np.where(rng.random((listeners, n)) < p_named, truth[None, :], rng.integers(0, 3, size=(listeners, n)))
    s = make_set(cats, {"material": truth}, responses={"material": resp}, name="agree")
    return s, truth


def test_a_ceiling_is_reliable_when_its_split_interval_clears_the_floor_and_only_then_gives_a_share(rng):
    """Independent expectations: listeners at random give a ceiling near 0 whose interval over listener splits
    does not clear the floor (no share of the attainable, the reason says why); listeners who agree give a
    reliable ceiling, whose interval is the Spearman-Brown corrected percentiles of the split-half r computed
    here by brute force on the same halves."""
    from audioprobe.metrics import ceiling, resampling
    from audioprobe.tasktypes.reliability import RELIABILITY_FLOOR, noise_ceiling

    acts = lambda truth: {"mean": {"good": np.eye(3)[truth] + 0.3 * rng.random((truth.size, 3))}}  # noqa: E731
    noisy, truth = _agreeing_set(rng, 60, 12, 0.0)
    out, _ = _run(noisy, acts(truth), target="modal", ceiling_splits=40)
    nc = out["noise_ceiling"]
    assert nc["reliable"] is False and nc["interval"][0] < RELIABILITY_FLOOR == nc["reliability_floor"]
    assert out["headline_over_ceiling"]["ratio"] is None and "unreliable target" in out["headline_over_ceiling"]["reason"]

    agree, truth = _agreeing_set(rng, 60, 12, 0.8)
    p = params(target="modal", ceiling_splits=40)
    out, _ = _run(agree, acts(truth), target="modal", ceiling_splits=40)
    nc = out["noise_ceiling"]
    assert nc["reliable"] is True and nc["interval"][0] >= RELIABILITY_FLOOR
    assert out["headline_over_ceiling"]["ratio"] == pytest.approx(out["headline"]["value"] / np.sqrt(nc["value"]))
    # brute force on the halves the task draws (the ceiling stream of seed 0, as ctx() uses)
    resp = agree.responses["material"]
    rs = []
    for half in resampling.random_halves(resampling.streams(0)[3], 12, 40):
        ca = np.stack([np.bincount(resp[half][:, i], minlength=3) for i in range(60)])
        cb = np.stack([np.bincount(resp[~half][:, i], minlength=3) for i in range(60)])
        rs.append(pearsonr(geometry.modal_rdm(ca), geometry.modal_rdm(cb))[0])
    lo, hi = ceiling.spearman_brown(np.percentile(rs, [2.5, 97.5]))
    assert nc["interval"] == pytest.approx([lo, hi], abs=1e-9)
    assert noise_ceiling(agree, p, resampling.streams(0)[3])["interval"] == nc["interval"]


def test_a_ceiling_of_0_02_prints_no_ratio():
    """The committed example's rsa-modal-extent: a split-half ceiling of 0.020 whose interval over listener
    splits does not reach the floor gives no share of the attainable (it printed "210% of ceiling" before);
    the same value with a reliable interval would give 0.041 / sqrt(0.020)."""
    from audioprobe.tasktypes.reliability import over_ceiling

    unreliable = {"value": 0.020, "interval": [-0.016, 0.054], "reliable": False, "reliability_floor": 0.1}
    out = over_ceiling(0.041, unreliable, partial=False)
    assert out["ratio"] is None and out["attainable"] is None and "unreliable target" in out["reason"]
    reliable = {**unreliable, "interval": [0.12, 0.3], "reliable": True}
    assert over_ceiling(0.041, reliable, partial=False)["ratio"] == pytest.approx(0.041 / np.sqrt(0.020))
    assert over_ceiling(0.041, reliable, partial=True)["ratio"] is None  # partial RSA: no ceiling of its own


def test_a_registered_comparison_runs_through_every_statistic_and_pearson_pair_by_pair_equals_the_engine():
    """COMPARISONS is a registry: a comparison with no product form (`pair`) is computed resample by resample
    and permutation by permutation; Pearson given that way must equal the closed-form engine on every
    statistic (the same draws, the same weights), which checks both paths against each other."""
    from audioprobe.metrics import rsa_inference

    rng = np.random.default_rng(0)
    x = rng.normal(size=(14, 6))
    model = np.stack([geometry.cosine_rdm(x + rng.normal(size=x.shape) * s) for s in (0.1, 1.0, 3.0)])
    target = geometry.cosine_rdm(x[:, :3] + rng.normal(size=(14, 3)))
    geometry.COMPARISONS.add("pearson-pair-by-pair", geometry.Comparison("Pearson", pair=lambda a, b: float(np.corrcoef(a, b)[0, 1])))
    try:
        closed = rsa_inference.rsa_statistics(model, target, "pearson", 3, 50, 60, 10, 0.95)
        loop = rsa_inference.rsa_statistics(model, target, "pearson-pair-by-pair", 3, 50, 60, 10, 0.95)
    finally:
        del geometry.COMPARISONS["pearson-pair-by-pair"]
    for key in ("score", "p_value", "cv_scores", "cv_choice", "bootstrap", "cv_bootstrap", "ci"):
        np.testing.assert_allclose(loop[key], closed[key], atol=1e-12, err_msg=key)
    with pytest.raises(AudioprobeError, match="unknown comparison 'pearsn'. Did you mean 'pearson'"):
        geometry.compare_rows(model, target, "pearsn")


#: a comparison whose pair is not a function (a plugin's mistake), for the test below
BROKEN_COMPARISON = geometry.Comparison("broken", pair="not a function")


@pytest.mark.parametrize("target, problem", [
    ("audioprobe.metrics.geometry:COMPARISONS", "is not a Comparison"),
    ("tests.test_rsa:BROKEN_COMPARISON", "its pair is not a function"),
])
def test_a_comparison_that_is_not_one_is_refused_by_name(target, problem):
    """A comparison registered lazily (as a plugin's entry point is) is checked when first used."""
    geometry.COMPARISONS.add("broken", target)
    try:
        with pytest.raises(AudioprobeError, match=f"comparison 'broken'.*{problem}"):
            geometry.COMPARISONS["broken"]
    finally:
        del geometry.COMPARISONS["broken"]
    assert "broken" not in geometry.COMPARISONS and geometry.COMPARISONS["pearson"].linear


#: a valid comparison, registered lazily by the test below
KENDALL_AGAIN = geometry.Comparison("Kendall's tau-a", pair=geometry.kendall_tau_a)


def test_kendall_tau_a_of_fewer_than_two_pairs_is_undefined_and_a_lazy_valid_comparison_loads():
    assert np.isnan(geometry.kendall_tau_a(np.array([1.0]), np.array([2.0])))
    geometry.COMPARISONS.add("kendall-again", "tests.test_rsa:KENDALL_AGAIN")  # as a plugin's entry point
    try:
        assert geometry.COMPARISONS["kendall-again"] is KENDALL_AGAIN
    finally:
        del geometry.COMPARISONS["kendall-again"]


@pytest.mark.parametrize("comparison", ["pearson", "kendall_tau_a"])
def test_a_two_factor_bootstrap_with_every_layer_undefined_is_undefined_everywhere(comparison):
    """Partial RSA whose control explains every layer: no layer has a score, and the two-factor statistics are
    NaN throughout (nothing computed, the draws still made), not an error."""
    from audioprobe.metrics import rsa_inference

    rng = np.random.default_rng(1)
    target = rng.random(45)
    model = np.full((2, 45), np.nan)

    def targets(weights):
        return target[None, :] + 0.01 * np.asarray(weights, dtype=float).sum(axis=1, keepdims=True)

    out = rsa_inference.rsa_statistics(model, target, comparison, 0, 8, 10, 4, 0.95, listener_targets=targets,
                                       n_listeners=5)
    for key in ("score", "ci", "p_value", "bootstrap", "bootstrap_listeners", "cv_bootstrap"):
        assert np.isnan(out[key]).all(), key
    assert out["listener_counts"].shape == (8, 5)


def test_a_labels_reliability_is_the_rsa_modal_targets_ceiling_and_four_listeners_make_a_split():
    """reliability.dimension_reliability (what transfer and ABX flag labels with) equals the noise ceiling an
    `rsa` task with target modal on that dimension reports for the seed; 4 listeners are the fewest that split
    into two halves of two (fewer: no value, and the reason)."""
    from audioprobe.metrics.resampling import ResamplePlan
    from audioprobe.tasktypes.reliability import dimension_reliability, noise_ceiling
    from tests.factories import make_set

    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 24)
    for n_listeners in (4, 3):
        noisy = np.where(rng.random((n_listeners, 24)) < 0.25, rng.integers(0, 3, (n_listeners, 24)), truth)
        s = make_set({"material": ["a", "b", "c"]}, responses={"material": noisy}, audio=False)
        params = {name: p.default for name, p in RSA_PARAMS.items()}
        params.update(target="modal", dimensions=["material"], comparison="pearson")
        expected = noise_ceiling(s, params, ResamplePlan(7).ceiling())
        got = dimension_reliability(s, "material", 7)
        assert got == {**expected, "dimension": "material"}
        if n_listeners == 4:
            assert got["value"] is not None and got["n_splits"] == 100
        else:
            assert got["value"] is None and "a split half needs at least 4" in got["reason"]


def test_a_layer_with_undefined_distances_says_so_and_a_complete_target_has_no_missing_pairs(rng):
    s, truth = tiny_set(rng)
    zero = rng.random((30, 3))
    zero[4] = 0.0  # a sound whose activation is all zeros: its cosine distances are undefined
    acts = {"mean": {"good": np.eye(3)[truth["material"]] + 0.3 * rng.random((30, 3)), "zero": zero}}
    out = TASK_TYPES["rsa"].evaluate(acts, s, params(bootstrap=20, permutations=20, cv_splits=4), ctx())
    good, undefined = out["per_layer"]
    assert "note" not in good and good["score"] is not None
    assert undefined["score"] is None and undefined["note"].startswith("undefined distances")
    assert "n_pairs_missing" not in out and "missing_pairs" not in out and out["n_pairs"] == 30 * 29 // 2


def test_partial_rsa_on_a_target_with_missing_pairs_regresses_on_the_pairs_present(rng):
    """Partial RSA against a matrix with unrated pairs: the control is regressed out on the pairs the target
    has, the control's own score is on those pairs, and the score equals that computed by hand."""
    from scipy.spatial.distance import squareform

    n = 20
    x = rng.normal(size=(n, 4))
    control_x = x[:, :2] + 0.5 * rng.normal(size=(n, 2))
    target = pdist(x[:, :3] + 0.3 * rng.normal(size=(n, 3)))
    target[rng.random(target.size) < 0.2] = np.nan
    s = make_set({"material": ["a", "b"]}, {"material": rng.integers(0, 2, n)}, audio=False)
    square = squareform(np.nan_to_num(target))
    square[squareform(np.isnan(target).astype(float)) > 0] = np.nan
    np.fill_diagonal(square, 0.0)
    s.rdm = square
    acts = {"mean": {"layer": x}}
    out = TASK_TYPES["rsa"].evaluate(acts, s, params(target="rdm", dimensions=[], control="logmel", bootstrap=0,
                                                     permutations=0, cv_splits=0, ceiling_splits=0),
                                     ctx(control=lambda model, pooling: {"only": control_x}))
    present = np.isfinite(target)
    model, control = pdist(x, "cosine"), pdist(control_x, "cosine")
    design = np.column_stack([np.ones(present.sum()), control[present]])
    fit = np.linalg.lstsq(design, model[present], rcond=None)[0]
    residual = model[present] - design @ fit
    assert out["per_layer"][0]["score"] == pytest.approx(np.corrcoef(residual, target[present])[0, 1], abs=1e-10)
    assert out["control"]["score_of_control"] == pytest.approx(np.corrcoef(control[present], target[present])[0, 1],
                                                               abs=1e-10)
    assert out["n_pairs"] == int(present.sum()) and out["n_pairs_missing"] == int((~present).sum())
    # what the result says it did: the control named in the metric; no listeners' matrices, no ceiling
    assert ", residualised on the logmel RDM) and the target RDM" in out["metric"]
    assert out["target_reliability"]["value"] is None
    assert out["target_reliability"]["reason"] == "the stimulus set has no per-listener matrices (rdm/<listener>.csv)"


def test_a_layer_is_explained_by_the_control_only_when_its_own_variation_is(rng):
    """Partial RSA leaves out a layer whose RDM the control's explains (an affine function of it): the check
    compares the residual with the layer's own variation about its own mean, so an offset (of this layer, or of
    another layer far from it) decides nothing. Written out with numpy's least squares."""
    from audioprobe.tasktypes.rsa.rdms import explained_by_control

    control = rng.random(300)
    layers = np.stack([
        3.0 * control + 0.5,                                    # the control, rescaled and shifted: explained
        control + 1e-5 * rng.normal(size=300),                  # a little of its own: not explained
        1e4 + control + 1e-5 * rng.normal(size=300),            # the same, far from the others: not explained
        1e4 + rng.random(300),                                  # unrelated: not explained
    ])
    design = np.column_stack([np.ones(300), control])
    residuals = layers - (design @ np.linalg.lstsq(design, layers.T, rcond=None)[0]).T
    assert list(explained_by_control(layers, residuals)) == [True, False, False, False]
    assert list(explained_by_control(layers[:2], residuals[:2])) == [True, False]


def test_kept_rdms_say_what_they_are_or_why_none_is_kept(rng):
    """The references the report's heatmaps read: the headline layer's RDM (the residual one under a control) and
    the target, by their stored files' hashes; or, with no store or too many sounds, the layer and the reason."""
    from audioprobe.tasktypes.rsa import rdms

    n = 12
    layers, target = rng.random((2, n * (n - 1) // 2)), rng.random(n * (n - 1) // 2)
    kept = []
    store = EvalContext("t", 0, None, keep_rdm=lambda condensed: kept.append(condensed) or f"sha{len(kept)}")
    assert rdms.keep_rdms(store, ["a", "b"], layers, target, "b", {"model": "logmel"}) == {
        "layer": "b", "model_sha256": "sha1", "target_sha256": "sha2",
        "what": "residual RDM of the headline layer after regressing out the control RDM"}
    np.testing.assert_array_equal(kept[0], layers[1])
    assert rdms.keep_rdms(store, ["a", "b"], layers, target, "a", None)["what"] == "RDM of the headline layer"
    assert rdms.keep_rdms(EvalContext("t", 0, None), ["a", "b"], layers, target, "a", None) == {
        "layer": "a", "reason": "this run kept no RDMs"}
    big = rng.random((rdms.RDM_MAX_SOUNDS + 1) * rdms.RDM_MAX_SOUNDS // 2)
    assert rdms.keep_rdms(store, ["a"], big[None], big, "a", None) == {
        "layer": "a", "reason": f"{rdms.RDM_MAX_SOUNDS + 1} sounds: RDMs are kept for sets of at most "
                                f"{rdms.RDM_MAX_SOUNDS}"}
