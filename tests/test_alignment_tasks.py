"""The `cka` and `encode` task types against references written out here: CKA of the plain estimators and of
the resampled rows, Song et al.'s U-statistic over distinct sounds, scikit-learn's ridge pipeline fold by
fold with np.corrcoef per fold; the headline's cross-validated choice redone by hand; known answers (a
rotation of the target, a layer built from the listeners' true probabilities reaching the ceiling, noise
centred on 0); replicates on the same draws as RSA's (so compare pairs them)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audioprobe.metrics import cka, encoding, resampling
from audioprobe.results import check_typed
from audioprobe.tasktypes import TASK_TYPES, EvalContext
from tests.factories import make_set
from tests.test_cka import weighted_u_statistic_hsic

CATS = {"material": ["wood", "metal", "glass"], "extent": ["1D", "2D", "3D"]}


def params(type_name: str, **overrides) -> dict:
    p = {k: v.default for k, v in TASK_TYPES[type_name].params.items()}
    p.update(overrides)
    return p


def listener_set(rng, n: int = 60, listeners: int = 12, truth_probs: dict | None = None):
    """n sounds answered by a panel of listeners drawing categories from per-sound probabilities."""
    truth_probs = truth_probs or {d: rng.dirichlet(np.ones(3) * 0.7, size=n) for d in CATS}
    responses = {d: np.array([[rng.choice(3, p=p) for p in truth_probs[d]] for _ in range(listeners)])
                 for d in CATS}
    return make_set(CATS, responses=responses, labels={}, synthetic=False), truth_probs


def proportions(s, dims):
    return np.hstack([s.judgments[d] / s.judgments[d].sum(axis=1, keepdims=True) for d in dims])


def u_statistic_cka(x, y, c):
    """Debiased CKA of the rows weighted by c: the U-statistic over distinct quadruples written out
    (tests/test_cka.py's reference)."""
    k, l_ = x @ x.T, y @ y.T
    return weighted_u_statistic_hsic(k, l_, c) / np.sqrt(weighted_u_statistic_hsic(k, k, c)
                                                         * weighted_u_statistic_hsic(l_, l_, c))


# ---------------------------------------------------------------------------------------------
# cka


def test_cka_task_equals_the_plain_estimators_and_its_replicates_the_resampled_rows(rng):
    s, _ = listener_set(rng, n=40)
    p_target = proportions(s, ["material"])
    layers = {"a": p_target @ rng.normal(size=(3, 6)) + 0.3 * rng.normal(size=(40, 6)),
              "b": rng.normal(size=(40, 20))}
    for estimator in ("biased", "debiased"):
        ctx = EvalContext("t", 7, None)
        out = TASK_TYPES["cka"].evaluate({"mean": layers}, s, params("cka", dimensions="material", estimator=estimator,
                                                                      bootstrap=6, cv_splits=4), ctx)
        json.dumps(out, allow_nan=False)
        assert check_typed(out, TASK_TYPES["cka"].scores_schema, "scores") == []
        debiased = estimator == "debiased"
        for entry, x in zip(out["per_layer"], layers.values()):
            assert entry["score"] == pytest.approx(cka.linear_cka(x, p_target, debiased), abs=1e-10)
        counts = resampling.sound_draws(7, 40, 6)  # RSA's draws on the same sounds and seed
        reps = ctx.replicates["per_layer"]
        assert reps.shape == (6, 2)
        for b in range(2):  # the first resamples written out
            idx = np.repeat(np.arange(40), counts[b])
            for k, x in enumerate(layers.values()):
                if debiased:  # U-statistic over distinct sounds: on the 12 sounds of a smaller problem below
                    continue
                assert reps[b, k] == pytest.approx(cka.linear_cka(x[idx], p_target[idx]), abs=1e-10)
        # the permutation test written out: CKA with the target's rows permuted by the seed's permutations
        perms = resampling.random_permutations(resampling.ResamplePlan(7).permutations(), 40, 1000)
        for entry, x in zip(out["per_layer"], layers.values()):
            null = np.array([cka.linear_cka(x, p_target[pi], debiased) for pi in perms])
            assert entry["p_value"] == pytest.approx((1 + np.sum(null >= entry["score"] - 1e-12)) / 1001, abs=1e-12)
    assert out["per_layer"][0]["score"] > 0.5 and abs(out["per_layer"][1]["score"]) < 0.1


def test_cka_permutation_test_is_at_its_level_under_no_relation():
    """A layer unrelated to the listeners: over 300 studies of 20 sounds, p < 0.05 in about 5% (the
    permutation test is exact); a layer that is the target's rotation: p at its floor."""
    rng = np.random.default_rng(8)
    hits = 0
    for seed in range(300):
        s, _ = listener_set(rng, n=20, listeners=5)
        out = TASK_TYPES["cka"].evaluate({"mean": {"x": rng.normal(size=(20, 6))}}, s,
                                         params("cka", dimensions="material", bootstrap=0, permutations=199),
                                         EvalContext("t", seed, None))
        hits += out["per_layer"][0]["p_value"] < 0.05
    assert 0.02 <= hits / 300 <= 0.09
    target = proportions(s, ["material"])
    out = TASK_TYPES["cka"].evaluate({"mean": {"x": target @ rng.normal(size=(3, 3))}}, s,
                                     params("cka", dimensions="material", bootstrap=0, permutations=199),
                                     EvalContext("t", 0, None))
    assert out["per_layer"][0]["p_value"] == pytest.approx(1 / 200)


def test_cka_debiased_replicates_are_the_u_statistic_of_the_resample(rng):
    n = 9
    s, _ = listener_set(rng, n=n, listeners=6)
    p_target = proportions(s, ["material", "extent"])
    x = rng.normal(size=(n, 4))
    ctx = EvalContext("t", 3, None)
    TASK_TYPES["cka"].evaluate({"mean": {"only": x}}, s, params("cka", dimensions=["material", "extent"], bootstrap=3,
                                                               cv_splits=0), ctx)
    counts = resampling.sound_draws(3, n, 3)
    for b in range(3):
        xc = x - x.mean(axis=0)
        assert ctx.replicates["per_layer"][b, 0] == pytest.approx(u_statistic_cka(xc, p_target, counts[b]), abs=1e-10)


def test_cka_headline_is_the_layer_chosen_on_one_half_scored_on_the_other(rng):
    s, _ = listener_set(rng, n=30)
    target = proportions(s, ["material"])
    layers = {f"l{k}": target @ rng.normal(size=(3, 5)) + k * 0.4 * rng.normal(size=(30, 5)) for k in range(3)}
    ctx = EvalContext("t", 11, None)
    out = TASK_TYPES["cka"].evaluate({"mean": layers}, s, params("cka", dimensions="material", bootstrap=0,
                                                                  cv_splits=6), ctx)
    halves = resampling.random_halves(resampling.ResamplePlan(11).splits(), 30, 6)
    held = []
    for h in halves:
        for pick, judge in ((h, ~h), (~h, h)):
            on = [cka.linear_cka(x[pick], target[pick], True) for x in layers.values()]
            k = int(np.argmax(on))
            held.append(cka.linear_cka(list(layers.values())[k][judge], target[judge], True))
    assert out["headline"]["value"] == pytest.approx(np.mean(held), abs=1e-10)


def test_cka_known_answers_and_the_rdm_target(rng):
    """A rotation and scaling of the target proportions is the target's geometry: CKA 1. Against an rdm
    target of Euclidean distances, CKA is linear CKA of the representation that made them (classical
    scaling)."""
    from scipy.spatial.distance import pdist, squareform

    s, _ = listener_set(rng, n=30)
    target = proportions(s, ["material"])
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    out = TASK_TYPES["cka"].evaluate({"mean": {"rot": 5 * target @ q}}, s,
                                     params("cka", dimensions="material", bootstrap=0), EvalContext("t", 0, None))
    assert out["headline"]["value"] == pytest.approx(1.0, abs=1e-10)
    source = rng.normal(size=(30, 4))
    s.rdm = squareform(pdist(source))
    x = source @ rng.normal(size=(4, 8)) + rng.normal(size=(30, 8))
    out = TASK_TYPES["cka"].evaluate({"mean": {"x": x}}, s, params("cka", target="rdm", dimensions=[], bootstrap=0),
                                     EvalContext("t", 0, None))
    assert out["per_layer"][0]["score"] == pytest.approx(cka.linear_cka(x, source, True), abs=1e-10)


def test_alignment_tasks_share_rsas_resamples(rng):
    """CKA, encode and RSA on one set and seed draw the same bootstrap counts: the plans' hashes match, so
    audioprobe-compare pairs their replicates row by row."""
    s, _ = listener_set(rng, n=30)
    x = {"mean": {"only": rng.normal(size=(30, 5))}}
    plans = []
    for type_name, p in (("rsa", params("rsa", dimensions="material", bootstrap=20, permutations=0, ceiling_splits=0,
                                         resample="sounds")),
                         ("cka", params("cka", dimensions="material", bootstrap=20)),
                         ("encode", params("encode", dimensions="material", bootstrap=20, ceiling_splits=0))):
        ctx = EvalContext("t", 5, None)
        TASK_TYPES[type_name].evaluate(x, s, p, ctx)
        plans.append(ctx.resampling["sounds_plan_sha256"])
    assert len(set(plans)) == 1


# ---------------------------------------------------------------------------------------------
# encode


def reference_encoding(x, y, folds, dims_columns):
    """Per fold: scikit-learn's StandardScaler + RidgeCV(alpha_per_target) on the training rows; then per fold
    and column np.corrcoef on the fold's rows, the mean over folds, the mean over a dimension's varying
    columns, then over dimensions."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pred = np.empty_like(y)
    for f in np.unique(folds):
        test = folds == f
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=encoding.ALPHAS, alpha_per_target=True))
        pred[test] = model.fit(x[~test], y[~test]).predict(x[test])
    r = np.array([[np.corrcoef(pred[folds == f, c], y[folds == f, c])[0, 1] for c in range(y.shape[1])]
                  for f in np.unique(folds)]).mean(axis=0)
    return np.mean([r[cols].mean() for cols in dims_columns])


def test_encode_task_equals_scikit_learn_fold_by_fold(rng):
    s, _ = listener_set(rng, n=50)
    y = proportions(s, ["material", "extent"])
    layers = {"a": y @ rng.normal(size=(6, 8)) + 0.5 * rng.normal(size=(50, 8)), "b": rng.normal(size=(50, 30))}
    ctx = EvalContext("t", 2, None)
    out = TASK_TYPES["encode"].evaluate({"mean": layers}, s, params("encode", dimensions=["material", "extent"],
                                                                     bootstrap=20, cv_splits=4, ceiling_splits=20), ctx)
    json.dumps(out, allow_nan=False)
    assert check_typed(out, TASK_TYPES["encode"].scores_schema, "scores") == []
    folds = encoding.fold_ids(resampling.ResamplePlan(2).folds(), 50, 5)
    for entry, x in zip(out["per_layer"], layers.values()):
        assert entry["score"] == pytest.approx(reference_encoding(x, y, folds, [[0, 1, 2], [3, 4, 5]]), abs=1e-6)
    assert out["per_layer"][0]["score"] > 0.5 and out["per_layer"][0]["p_value"] < 0.05
    assert ctx.replicates["per_layer"].shape == (20, 2) and ctx.replicates["headline"].shape == (20, 4)


def test_encode_ceiling_is_the_split_half_reliability_of_the_proportions(rng):
    s, _ = listener_set(rng, n=40, listeners=10)
    out = TASK_TYPES["encode"].evaluate({"mean": {"x": rng.normal(size=(40, 3))}}, s,
                                        params("encode", dimensions="material", bootstrap=0, ceiling_splits=8),
                                        EvalContext("t", 4, None))
    halves = resampling.random_halves(resampling.ResamplePlan(4).ceiling(), 10, 8)
    resp = s.responses["material"]
    rs = []
    for h in halves:
        a, b = (np.stack([(resp[m] == c).sum(axis=0) for c in range(3)], axis=1) for m in (h, ~h))
        a, b = a / a.sum(axis=1, keepdims=True), b / b.sum(axis=1, keepdims=True)
        rs.append(np.mean([np.corrcoef(a[:, c], b[:, c])[0, 1] for c in range(3)]))
    r = np.mean(rs)
    assert out["noise_ceiling"]["value"] == pytest.approx(2 * r / (1 + r), abs=1e-12)


def test_encode_reaches_the_ceiling_with_the_true_probabilities_and_zero_with_noise():
    """Known answers: a layer that is a linear map of the listeners' true response probabilities predicts the
    observed proportions about as well as a perfect model can (the headline near sqrt(reliability): share of
    attainable near 1); a layer of noise scores about 0 (over 12 sets the mean within 3 standard errors)."""
    rng = np.random.default_rng(0)
    s, truth = listener_set(rng, n=240, listeners=16)
    layer = truth["material"] @ rng.normal(size=(3, 10))
    out = TASK_TYPES["encode"].evaluate({"mean": {"truth": layer}}, s,
                                        params("encode", dimensions="material", bootstrap=0), EvalContext("t", 0, None))
    assert 0.9 < out["headline_over_ceiling"]["ratio"] < 1.1
    noise = []
    for seed in range(12):
        s, _ = listener_set(np.random.default_rng(100 + seed), n=60, listeners=8)
        out = TASK_TYPES["encode"].evaluate({"mean": {"x": np.random.default_rng(seed).normal(size=(60, 8))}}, s,
                                            params("encode", dimensions="material", bootstrap=0, ceiling_splits=0),
                                            EvalContext("t", seed, None))
        noise.append(out["headline"]["value"])
    assert abs(np.mean(noise)) < 3 * np.std(noise) / np.sqrt(len(noise)) + 0.01


def test_encode_refuses_too_few_sounds_for_its_folds(rng):
    from audioprobe.errors import NotApplicableError

    s, _ = listener_set(rng, n=8, listeners=4)
    with pytest.raises(NotApplicableError, match="5 folds need at least 10 sounds"):
        TASK_TYPES["encode"].evaluate({"mean": {"x": rng.normal(size=(8, 2))}}, s, params("encode"),
                                      EvalContext("t", 0, None))


def test_encode_replicates_are_the_refitted_score_of_each_resample(rng):
    """Resample b written out in the primal: each fold's ridge (intercept unpenalised, scikit-learn's chosen
    penalties) refitted to first order on the resample's counts, theta + M^-1 Z^T diag(c - 1) r, its held-out
    predictions correlated with the observations on each fold's rows repeated by their counts (np.corrcoef),
    averaged over folds, categories and dimensions."""
    s, _ = listener_set(rng, n=30)
    y = proportions(s, ["material", "extent"])
    x = y @ rng.normal(size=(6, 5)) + rng.normal(size=(30, 5))
    ctx = EvalContext("t", 9, None)
    TASK_TYPES["encode"].evaluate({"mean": {"only": x}}, s, params("encode", dimensions=["material", "extent"],
                                                                    bootstrap=3, cv_splits=0, ceiling_splits=0), ctx)
    folds = encoding.fold_ids(resampling.ResamplePlan(9).folds(), 30, 5)
    _, alphas = encoding.cross_validated_predictions(x, y, folds)
    counts = resampling.sound_draws(9, 30, 3)
    for b, c in enumerate(counts):
        pred = np.empty_like(y)
        for f in range(5):
            test = folds == f
            z_fit, z_pred = encoding._standardise(x[~test], x[test])
            zf = np.hstack([np.ones((z_fit.shape[0], 1)), z_fit])
            zp = np.hstack([np.ones((z_pred.shape[0], 1)), z_pred])
            for col in range(y.shape[1]):
                m = zf.T @ zf + alphas[f, col] * np.diag([0.0] + [1.0] * z_fit.shape[1])
                theta = np.linalg.solve(m, zf.T @ y[~test, col])
                resid = y[~test, col] - zf @ theta
                theta = theta + np.linalg.solve(m, zf.T @ ((c[~test] - 1) * resid))
                pred[test, col] = zp @ theta
        per_dim = []
        for cols in ([0, 1, 2], [3, 4, 5]):
            per_col = []
            for col in cols:
                rs = []
                for f in range(5):
                    idx = np.flatnonzero(folds == f)
                    if np.count_nonzero(c[idx]) < 3:
                        continue
                    p_rep, o_rep = np.repeat(pred[idx, col], c[idx]), np.repeat(y[idx, col], c[idx])
                    rs.append(np.corrcoef(p_rep, o_rep)[0, 1] if np.ptp(p_rep) > 0 and np.ptp(o_rep) > 0 else 0.0)
                per_col.append(np.mean(rs))
            per_dim.append(np.mean(per_col))
        assert ctx.replicates["per_layer"][b, 0] == pytest.approx(np.mean(per_dim), abs=1e-8)
