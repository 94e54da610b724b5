"""Transfer against the no-transfer baseline at matched training sizes, and the headlines' replicates.

Independent expectations: the folds and the sizes m_f are recomputed here with scikit-learn's
StratifiedKFold; the probes' training sets are read from the calls the task makes; the matched
contrast is checked on a learning curve built so that transfer costs nothing (the unmatched
contrast then only measures training-set size); the cross-validated headlines and their
replicates are recomputed by brute force from the per-sound predictions, the halves and the
resamples drawn from the seed's documented streams.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold

from audioprobe.metrics import probing
from audioprobe.metrics.probing import layers as probe_jobs
from audioprobe.results import check_typed
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes import TASK_TYPES, EvalContext
from audioprobe.tasktypes.transfer import TRANSFER_PARAMS, TransferScores
from tests.factories import make_set, wilson


def labelled_set(material, extent, materials="abc", extents=("big", "small")) -> StimulusSet:
    """Every listener gives each sound its true material and extent (the modal labels are the truth)."""
    cats = {"material": list(materials), "extent": list(extents)}
    truth = {"material": np.asarray(material), "extent": np.asarray(extent)}
    return make_set(cats, truth, votes=4, name="matched")


def params(**over):
    p = {k: v.default for k, v in TRANSFER_PARAMS.items() if v.default is not None}
    p.update(split_dimension="extent", train_values=["big"], test_values=["small"], bootstrap=30, cv_splits=6,
             c_grid=[0.1, 1.0, 10.0], inner_folds=3, baseline_folds=3)
    p.update(over)
    return p


def spawned(seed: int, k: int) -> np.random.Generator:
    """Stream k of a seed (0 bootstrap, 2 half-splits): numpy's SeedSequence children."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[k])


def halves_of(rng, n: int, n_splits: int) -> np.ndarray:
    """A random half (floor(n/2) sounds) per split, in the order of the random keys."""
    order = np.argsort(rng.random((n_splits, n)), axis=1)
    out = np.zeros((n_splits, n), dtype=bool)
    for s in range(n_splits):
        out[s, order[s, : n // 2]] = True
    return out


def resample_counts(seed: int, n: int, n_resamples: int) -> np.ndarray:
    draws = spawned(seed, 0).integers(0, n, size=(n_resamples, n))
    return np.stack([np.bincount(d, minlength=n) for d in draws])


def weighted_accuracy(correct, w) -> float:
    w = np.asarray(w, dtype=np.float64)
    return float(np.sum(w * correct) / np.sum(w)) if np.sum(w) > 0 else np.nan


def evaluate(acts, stimset, p, seed, monkeypatch):
    """Run the task; also return what `all_layer_predictions` gave it (per layer: predictions,
    C, baseline, matched) and the context (replicates)."""
    seen = {}
    inner = probing.all_layer_predictions

    def record(*args, **kwargs):
        seen["out"] = inner(*args, **kwargs)
        return seen["out"]

    monkeypatch.setattr(probing, "all_layer_predictions", record)
    ctx = EvalContext("t", seed, None)
    out = TASK_TYPES["transfer"].evaluate({"mean": acts}, stimset, p, ctx)
    json.dumps(out, allow_nan=False)
    assert check_typed(out, TransferScores, "scores") == []
    return out, seen["out"], ctx


def layered_data(seed, n_train=60, n_test=40, signals=(1.5, 1.0, 0.6, 0.0), d=4):
    """Three materials, train on `big` sounds, test on `small`; one layer per signal strength."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    material = rng.permutation(np.tile(np.arange(3), n // 3 + 1)[:n])
    extent = np.r_[np.zeros(n_train, int), np.ones(n_test, int)]
    acts = {f"layer{k}": s * np.eye(3, d)[material] + rng.normal(size=(n, d)) for k, s in enumerate(signals)}
    return labelled_set(material, extent), acts, np.array(list("abc"))[material], extent


# ---------------------------------------------------------------------------------------------
# The matched probes: sizes, subsamples


@pytest.mark.parametrize("n_train,n_test", [(60, 30), (12, 45)])
def test_both_matched_probes_are_trained_on_m_f_sounds(monkeypatch, n_train, n_test):
    """m_f = min(n_train, sounds in baseline fold f's training part), recomputed with StratifiedKFold.
    (60, 30): the transfer side is subsampled (m_f = 20 < 60) and the fold's baseline probe is the
    matched baseline; (12, 45): the matched transfer probe is the transfer probe (m_f = 12 = n_train)
    and the baseline side is subsampled to 12 of the fold's 30 sounds."""
    rng = np.random.default_rng(7)
    n = n_train + n_test
    y = np.array(list("abc"))[np.tile(np.arange(3), n // 3 + 1)[:n]]
    x = rng.normal(size=(n, 4)) + 2.0 * (y[:, None] == np.array(list("abcd"))[None, :])
    row_of = {x[i].tobytes(): i for i in range(n)}
    train, test = np.arange(n_train), np.arange(n_train, n)
    calls = []
    fit = probing.fit_probe

    def recorded(x_fit, y_fit, x_pred, *args):
        out = fit(x_fit, y_fit, x_pred, *args)
        calls.append(({row_of[r.tobytes()] for r in x_fit}, [row_of[r.tobytes()] for r in x_pred], out[0]))
        return out

    monkeypatch.setattr(probe_jobs, "fit_probe", recorded)  # where the jobs call it
    seed = 5
    ((pred, _, base, matched),) = probing.all_layer_predictions([x], train, test, y[train], y[test], (0.1, 1.0), 3, 3,
                                                                 seed, probing.MAX_ITER, n_jobs=1)
    assert matched.defined.all()
    y_test = y[test]
    k = max(2, min(3, int(np.min(np.unique(y_test, return_counts=True)[1]))))
    folds = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros((n_test, 1)), y_test))
    sizes = []
    for fit_part, held in folds:
        m = min(n_train, fit_part.size)
        sizes.append(m)
        on_fold = [c for c in calls if sorted(c[1]) == sorted(test[held])]
        transfer_side = [c for c in on_fold if c[0] <= set(train)]
        baseline_side = [c for c in on_fold if c[0] <= set(test)]
        assert len(transfer_side) + len(baseline_side) == len(on_fold)
        # the fold's own baseline probe: all of the fold's training part
        assert [len(c[0]) for c in baseline_side if c[0] == set(test[fit_part])] == [fit_part.size]
        if m < n_train:  # a matched transfer probe on m training sounds
            (probe,) = transfer_side
            assert len(probe[0]) == m
            got = dict(zip(probe[1], probe[2]))
            assert np.array_equal(matched.transfer[held], [got[i] for i in test[held]])
        else:  # the transfer probe, trained on all n_train = m sounds
            assert not transfer_side and np.array_equal(matched.transfer[held], pred[held])
            (whole,) = [c for c in calls if len(c[1]) == n_test]
            assert len(whole[0]) == m
        if m < fit_part.size:  # a matched baseline probe on m sounds of the fold's training part
            (probe,) = [c for c in baseline_side if c[0] != set(test[fit_part])]
            assert len(probe[0]) == m and probe[0] < set(test[fit_part])
            got = dict(zip(probe[1], probe[2]))
            assert np.array_equal(matched.baseline[held], [got[i] for i in test[held]])
        else:
            assert len(baseline_side) == 1 and np.array_equal(matched.baseline[held], base[held])
    plan = probing.matched_plan(y[train], y_test, 3, 3, seed)
    assert [f.size for f in plan] == sizes
    assert all(np.array_equal(np.sort(f.held), np.sort(h)) for f, (_, h) in zip(plan, folds))


def test_subsamples_are_class_stratified_and_drawn_by_seed_and_fold():
    labels = np.random.default_rng(0).permutation(np.array(["a"] * 40 + ["b"] * 20 + ["c"] * 10 + ["d"]))
    n = labels.size
    share = {c: m_c / n for c, m_c in zip(*np.unique(labels, return_counts=True))}
    for m in (4, 6, 17, 30, 70):
        idx = probing.stratified_subsample(np.random.default_rng(1), labels, m)
        assert idx.size == m and np.unique(idx).size == m and np.array_equal(idx, np.sort(idx))
        got = dict(zip(*np.unique(labels[idx], return_counts=True)))
        assert "d" not in got  # a class of one sound is left out
        assert all(v >= 2 for v in got.values())
        if m == 4:
            assert got == {"a": 2, "b": 2}  # room for two classes: the largest
        elif m == 6:
            assert got == {"a": 2, "b": 2, "c": 2}  # every class keeps 2
        else:
            assert all(abs(got[c] - m * share[c]) < 1 for c in "abc"), (m, got)  # proportional
    assert probing.stratified_subsample(np.random.default_rng(1), labels, 3) is None  # one class fits
    # two classes of 2 cannot fill 6: the classes of one sound fill the rest
    few = np.array(["a", "a", "b", "b", "c", "d", "e"])
    got = few[probing.stratified_subsample(np.random.default_rng(1), few, 6)]
    assert sorted(got[:4]) == ["a", "a", "b", "b"] and len(set(got[4:]) & {"c", "d", "e"}) == 2
    assert np.array_equal(probing.stratified_subsample(np.random.default_rng(1), labels, n), np.arange(n))
    # within a class, every sound equally likely
    hits = np.zeros(n)
    for r in range(1500):
        hits[probing.stratified_subsample(np.random.default_rng(100 + r), labels, 30)] += 1
    a = labels == "a"
    np.testing.assert_allclose(hits[a] / 1500, 17 / 40, atol=0.06)
    # the generators: seed and fold only (the same for every model), different folds different draws
    y_train, y_test = labels, np.random.default_rng(2).permutation(np.repeat(list("abc"), 8))
    one, two = (probing.matched_plan(y_train, y_test, 3, 3, seed=4) for _ in range(2))
    assert all(np.array_equal(f.transfer, g.transfer) and np.array_equal(f.baseline, g.baseline)
               for f, g in zip(one, two))
    assert not np.array_equal(one[0].transfer, one[1].transfer)
    other = probing.matched_plan(y_train, y_test, 3, 3, seed=5)
    assert any(not np.array_equal(f.transfer, g.transfer) for f, g in zip(one, other))


def test_matched_contrast_is_near_zero_where_transfer_costs_nothing(monkeypatch):
    """A learning curve, no shift: the material is drawn the same way in both subsets (4 informative
    features among 100), so transfer costs nothing, but a probe trained on 300 sounds beats one trained
    on 48. Transfer minus the full-size baseline (48 sounds per fold) is then positive, transfer
    minus baseline at matched sizes about 0."""
    unmatched, matched = [], []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        n_train, n_test, d = 300, 60, 100
        n = n_train + n_test
        material = rng.permutation(np.tile(np.arange(3), n // 3))
        extent = np.r_[np.zeros(n_train, int), np.ones(n_test, int)]
        means = np.zeros((3, d))
        means[:, :4] = 1.2 * rng.normal(size=(3, 4))
        x = means[material] + rng.normal(size=(n, d))
        p = params(bootstrap=0, cv_splits=0, c_grid=[0.01, 0.1, 1.0, 10.0], baseline_folds=5)
        out, _, _ = evaluate({"x": x}, labelled_set(material, extent), p, seed, monkeypatch)
        (e,) = out["per_layer"]
        assert out["n_train_matched"] == [48] * 5
        assert out["baseline_contrast"]["value"] == pytest.approx(e["matched_accuracy"] - e["matched_baseline_accuracy"])
        assert e["matched_baseline_accuracy"] == e["baseline_accuracy"]  # m_f = the folds' size: the baseline
        unmatched.append(e["accuracy"] - e["baseline_accuracy"])
        matched.append(out["baseline_contrast"]["value"])
    assert min(unmatched) > 0.1 and np.mean(unmatched) > 0.15
    assert abs(np.mean(matched)) < 0.08 and np.mean(unmatched) - np.mean(matched) > 0.1


# ---------------------------------------------------------------------------------------------
# The headlines, by brute force



def per_sound(probes, y_test):
    """Per layer: correct (transfer), correct (matched transfer), correct (matched baseline); defined."""
    ok = [pred == y_test for pred, _, _, _ in probes]
    m_ok = [m.transfer == y_test for _, _, _, m in probes]
    mb_ok = [m.baseline == y_test for _, _, _, m in probes]
    return ok, m_ok, mb_ok, probes[0][3].defined


def brute_contrast_halves(ok, m_ok, mb_ok, defined, pick_w, judge_w) -> float:
    """The layer with the best transfer accuracy on pick_w, its matched contrast on judge_w (defined sounds)."""
    best = int(np.argmax([weighted_accuracy(c, pick_w) for c in ok]))
    w = judge_w * defined
    return weighted_accuracy(m_ok[best], w) - weighted_accuracy(mb_ok[best], w)


def test_contrast_headline_never_scores_a_layer_on_the_half_that_picked_it(monkeypatch):
    """Layers of close transfer scores (the pick varies from half to half) and different contrasts."""
    seed, cv_splits, n_boot = 3, 8, 25
    s, acts, labels, extent = layered_data(1, signals=(0.9, 0.8, 0.7, 0.6))
    out, probes, ctx = evaluate(acts, s, params(cv_splits=cv_splits, bootstrap=n_boot), seed, monkeypatch)
    y_test = labels[extent == 1]
    n = y_test.size
    ok, m_ok, mb_ok, defined = per_sound(probes, y_test)
    assert defined.all()
    halves = halves_of(spawned(seed, 2), n, cv_splits)
    held, leaky = [], []
    for h in halves:
        for a, b in ((h, ~h), (~h, h)):
            held.append(brute_contrast_halves(ok, m_ok, mb_ok, defined, a, b))
            leaky.append(brute_contrast_halves(ok, m_ok, mb_ok, defined, a, a))  # picked and scored on one half
    block = out["baseline_contrast"]
    assert block["value"] == pytest.approx(np.mean(held), abs=1e-12)
    assert abs(np.mean(leaky) - np.mean(held)) > 1e-3  # the data tell the two apart
    assert "cross-validated" in block["selection"] and block["layer"] in acts and block["layer_frequency"] < 1
    assert block["ci_method"].endswith("; replicates on fixed half-splits of each resample, their split noise removed")
    # replicates: the same statistic on the first K splits of every resample
    counts = resample_counts(seed, n, n_boot)
    k_splits = min(4, cv_splits)
    reps = ctx.replicates["baseline_contrast"]
    head = ctx.replicates["headline"]
    assert reps.shape == (n_boot, k_splits) and head.shape == (n_boot, k_splits)
    for b in range(n_boot):
        for k in range(k_splits):
            h = halves[k]
            want = [brute_contrast_halves(ok, m_ok, mb_ok, defined, counts[b] * x, counts[b] * y)
                    for x, y in ((h, ~h), (~h, h))]
            assert reps[b, k] == pytest.approx(np.mean(want), abs=1e-12)
            pick = [(int(np.argmax([weighted_accuracy(c, counts[b] * x) for c in ok])), y) for x, y in ((h, ~h), (~h, h))]
            assert head[b, k] == pytest.approx(np.mean([weighted_accuracy(ok[i], counts[b] * y) for i, y in pick]),
                                               abs=1e-12)
    assert block["ci"][0] < block["value"] < block["ci"][1]
    # the headline's point estimate: transfer accuracy, layer picked on the other half
    head_held = []
    for h in halves:
        for a, b in ((h, ~h), (~h, h)):
            head_held.append(weighted_accuracy(ok[int(np.argmax([weighted_accuracy(c, a) for c in ok]))], b))
    assert out["headline"]["value"] == pytest.approx(np.mean(head_held), abs=1e-12)
    # per-layer replicates of the matched probes: accuracy of each resample
    for name, key, correct in (("matched", "matched_accuracy", m_ok), ("matched_baseline", "matched_baseline_accuracy",
                                                                       mb_ok)):
        assert ctx.replicates[name].shape == (n_boot, len(acts))
        for layer in range(len(acts)):
            want = [weighted_accuracy(correct[layer], c) for c in counts]
            np.testing.assert_allclose(ctx.replicates[name][:, layer], want, atol=1e-12)
            assert out["per_layer"][layer][key] == pytest.approx(correct[layer].mean())
            n_def = int(defined.sum())  # a proportion's interval: Wilson on the replicates' effective size
            assert out["per_layer"][layer][key + "_ci"] == pytest.approx(
                wilson(correct[layer][defined].mean(), np.var(want, ddof=1) * n_def / (n_def - 1), n_def - 1, n_def),
                abs=1e-12)
    assert ctx.replicates["per_layer"].shape == ctx.replicates["baseline"].shape == (n_boot, len(acts))


def test_balanced_accuracy_contrast(monkeypatch):
    """score: balanced_accuracy: the contrast and its replicates in balanced accuracy, each sound weighted by
    1 / its class's size on the full set (on the sounds with matched predictions for the matched scores),
    so that a half or a resample keeps every class's share; written out sound by sound."""
    seed = 2
    s, acts, labels, extent = layered_data(4, n_test=33)
    out, probes, ctx = evaluate(acts, s, params(score="balanced_accuracy", cv_splits=5, bootstrap=10), seed,
                                monkeypatch)
    y_test = labels[extent == 1]
    ok, m_ok, mb_ok, defined = per_sound(probes, y_test)

    def bal(correct, w, on):
        size = {c: sum(1 for i in range(y_test.size) if on[i] and y_test[i] == c) for c in "abc"}
        cw = [1.0 / size[y_test[i]] if on[i] else 0.0 for i in range(y_test.size)]
        return sum(w[i] * cw[i] * correct[i] for i in range(y_test.size)) / sum(w[i] * cw[i]
                                                                              for i in range(y_test.size))

    every = np.ones(y_test.size, dtype=bool)
    held = []
    for h in halves_of(spawned(seed, 2), y_test.size, 5):
        for a, b in ((h, ~h), (~h, h)):
            best = int(np.argmax([bal(c, a, every) for c in ok]))
            held.append(bal(m_ok[best], b, defined) - bal(mb_ok[best], b, defined))
    assert out["baseline_contrast"]["value"] == pytest.approx(np.mean(held), abs=1e-12)
    counts = resample_counts(seed, y_test.size, 10)
    for layer in range(len(acts)):
        np.testing.assert_allclose(ctx.replicates["matched"][:, layer], [bal(m_ok[layer], c, defined) for c in counts],
                                   atol=1e-12)
        np.testing.assert_allclose(ctx.replicates["per_layer"][:, layer], [bal(ok[layer], c, every) for c in counts],
                                   atol=1e-12)
        assert out["per_layer"][layer]["balanced_accuracy"] == pytest.approx(
            balanced_accuracy_score(y_test, probes[layer][0]), abs=1e-12)


def test_without_cross_validation_without_bootstrap_and_with_one_layer(monkeypatch):
    seed, n_boot = 1, 20
    s, acts, labels, extent = layered_data(5)
    y_test = labels[extent == 1]
    # cv_splits 0: the best transfer layer on all test sounds; replicates redo the choice per resample
    out, probes, ctx = evaluate(acts, s, params(cv_splits=0, bootstrap=n_boot), seed, monkeypatch)
    ok, m_ok, mb_ok, defined = per_sound(probes, y_test)
    ones = np.ones(y_test.size)
    assert out["baseline_contrast"]["value"] == pytest.approx(brute_contrast_halves(ok, m_ok, mb_ok, defined, ones,
                                                                                   ones))
    assert "not cross-validated" in out["baseline_contrast"]["selection"]
    assert out["baseline_contrast"]["ci_method"].endswith("n - 1 dof")  # one value per resample: no splits
    counts = resample_counts(seed, y_test.size, n_boot)
    want = [brute_contrast_halves(ok, m_ok, mb_ok, defined, c, c) for c in counts]
    assert ctx.replicates["baseline_contrast"].shape == (n_boot,) == ctx.replicates["headline"].shape
    np.testing.assert_allclose(ctx.replicates["baseline_contrast"], want, atol=1e-12)
    # no bootstrap: values, no intervals, no replicates
    for cv in (0, 6):
        ctx_none = EvalContext("t", seed, None)
        plain = TASK_TYPES["transfer"].evaluate({"mean": acts}, s, params(cv_splits=cv, bootstrap=0), ctx_none)
        json.dumps(plain, allow_nan=False)
        assert plain["baseline_contrast"]["value"] is not None and plain["baseline_contrast"]["ci"] is None
        assert plain["headline"]["ci"] is None and ctx_none.replicates == {}
        assert "matched_accuracy_ci" not in plain["per_layer"][0]
    # one layer: its contrast on all test sounds, replicates [B] (no choice to make)
    one = {"layer0": acts["layer0"]}
    out1, probes1, ctx1 = evaluate(one, s, params(cv_splits=6, bootstrap=n_boot), seed, monkeypatch)
    (e,) = out1["per_layer"]
    block = out1["baseline_contrast"]
    assert block["value"] == pytest.approx(e["matched_accuracy"] - e["matched_baseline_accuracy"])
    assert block["layer"] == "layer0" and "only layer" in block["selection"]
    ok1, m1, mb1, d1 = per_sound(probes1, y_test)
    assert ctx1.replicates["baseline_contrast"].shape == (n_boot,)
    np.testing.assert_allclose(ctx1.replicates["baseline_contrast"],
                               [weighted_accuracy(m1[0], c) - weighted_accuracy(mb1[0], c) for c in counts], atol=1e-12)


def test_contrast_block_when_no_layer_or_one_layer_has_a_transfer_score():
    """The contrast block written out: with no layer defined, no value and replicates of NaN (one per resample);
    with one, that layer's contrast, its replicates, and the t interval of inference.contrast_statistics over
    the n test sounds (n - 1 dof), as audioprobe-compare computes it."""
    from audioprobe.metrics import inference
    from audioprobe.tasktypes.transfer.contrast import CONTRAST_WHAT, baseline_contrast

    rng = np.random.default_rng(4)
    n_boot, n_test = 50, 20
    boot = (rng.random((n_boot, 2)), rng.normal(0.1, 0.05, (n_boot, 2)))  # transfer scores, contrasts per resample
    p = params(cv_splits=0)
    block, reps = baseline_contrast(np.full(2, np.nan), np.full(2, np.nan), ["a", "b"], p, cv=None, boot=boot,
                                    n_test=n_test)
    assert block == {"value": None, "layer": None, "selection": "no layer has a transfer score", "what": CONTRAST_WHAT,
                     "ci": None}
    assert reps.shape == (n_boot,) and np.isnan(reps).all()
    block, reps = baseline_contrast(np.array([np.nan, 0.6]), np.array([np.nan, 0.12]), ["a", "b"], p, cv=None,
                                    boot=boot, n_test=n_test)
    want = inference.contrast_statistics(0.12, boot[1][:, 1], n_sounds=n_test, level=p["ci_level"])
    assert block["layer"] == "b" and block["selection"] == "the only layer with a transfer score: no layer is chosen"
    assert block["se"] == pytest.approx(want["se"]) and block["ci"] == pytest.approx(want["ci"])
    assert block["dof"] == want["dof"] == n_test - 1
    np.testing.assert_array_equal(reps, boot[1][:, 1])


# ---------------------------------------------------------------------------------------------
# Small and awkward sets


def test_a_45_sound_set_and_a_set_of_3_test_classes_of_7_do_not_crash(monkeypatch):
    rng = np.random.default_rng(0)
    # 45 sounds: 30 to train, 15 to test
    material = rng.permutation(np.tile(np.arange(3), 15))
    extent = np.r_[np.zeros(30, int), np.ones(15, int)]
    x = np.eye(3)[material] + 0.8 * rng.normal(size=(45, 3))
    out, _, ctx = evaluate({"x": x, "noise": rng.normal(size=(45, 3))}, labelled_set(material, extent),
                           params(bootstrap=20, cv_splits=4), 0, monkeypatch)
    assert out["n_test"] == 15 and out["matched"]["n_test"] == 15 and out["n_train_matched"] == [10, 10, 10]
    assert ctx.replicates["baseline_contrast"].shape == (20, 4)
    # 7 materials in training (two of them with 1 and 2 sounds), 3 in the test subset
    train_mat = np.r_[np.repeat(np.arange(5), 8), [5], [6, 6]]
    test_mat = np.repeat([0, 1, 2], [4, 3, 5])
    material = np.r_[train_mat, test_mat]
    extent = np.r_[np.zeros(train_mat.size, int), np.ones(test_mat.size, int)]
    x = np.eye(7)[material] + 0.5 * rng.normal(size=(material.size, 7))
    out, probes, ctx = evaluate({"x": x, "y": x[:, ::-1].copy()}, labelled_set(material, extent, "abcdefg"),
                                params(bootstrap=15, cv_splits=3), 1, monkeypatch)
    assert out["n_train_matched"] == [8, 8, 8] and out["matched"]["n_test"] == 12
    assert all(e["matched_accuracy"] is not None for e in out["per_layer"])
    plan = probing.matched_plan(np.array(list("abcdefg"))[train_mat], np.array(list("abcdefg"))[test_mat], 3, 3, 1)
    for f in plan:  # 8 of 43 training sounds: the 7-class set keeps 4 classes of 2
        kept = np.unique(np.array(list("abcdefg"))[train_mat][f.transfer], return_counts=True)[1]
        assert kept.tolist() == [2, 2, 2, 2]


def test_a_subsample_with_one_class_gives_no_matched_predictions_and_no_error(monkeypatch):
    rng = np.random.default_rng(3)
    # training: 10 of a, one each of b, c, d (a subsample smaller than 13 keeps a only); test: 3 of a, b, c
    material = np.r_[np.zeros(10, int), [1, 2, 3], np.repeat([0, 1, 2], 3)]
    extent = np.r_[np.zeros(13, int), np.ones(9, int)]
    x = np.eye(4)[material] + 0.3 * rng.normal(size=(22, 4))
    out, _, ctx = evaluate({"x": x, "z": rng.normal(size=(22, 4))}, labelled_set(material, extent, "abcd"),
                           params(bootstrap=12, cv_splits=3), 0, monkeypatch)
    assert out["n_train_matched"] == [6, 6, 6] and out["matched"]["n_test"] == 0 and "note" in out["matched"]
    assert all(e["matched_accuracy"] is None and e["matched_baseline_accuracy"] is None for e in out["per_layer"])
    assert out["baseline_contrast"]["value"] is None and out["baseline_contrast"]["ci"] is None
    assert out["baseline_contrast"]["layer"] is None and out["baseline_contrast"]["selection"].endswith(
        "both ways round (no value: no matched predictions, see matched.note)")
    assert out["per_layer"][0]["baseline_accuracy"] is not None  # the full-size baseline is unaffected
    assert ctx.replicates["matched"].shape == (12, 2) and np.all(np.isnan(ctx.replicates["matched"]))
    assert ctx.replicates["baseline_contrast"].shape == (12, 3)
    # 4 training sounds; test 6 a, 3 b, 2 c in 2 folds, one of whose training parts has a single class
    # of 2 sounds or more (its subsample of 4 keeps one class: no matched probes), the other two
    material = np.r_[[0, 0, 1, 1], np.repeat([0, 1, 2], [6, 3, 2])]
    extent = np.r_[np.zeros(4, int), np.ones(11, int)]
    x = np.eye(3)[material] + 0.3 * rng.normal(size=(15, 3))
    out, probes, _ = evaluate({"x": x}, labelled_set(material, extent), params(bootstrap=5, cv_splits=2), 0,
                              monkeypatch)
    assert out["n_train_matched"] == [4, 4]
    defined = probes[0][3].defined
    assert 0 < out["matched"]["n_test"] == defined.sum() < 11 and "fold" in out["matched"]["note"]
    assert out["per_layer"][0]["matched_accuracy"] is not None


def test_no_baseline_means_no_matched_probes(monkeypatch):
    """A test class of one sound: no stratified baseline, so nothing is matched either (nulls, NaN rows)."""
    rng = np.random.default_rng(2)
    material = np.r_[np.tile([0, 1, 2], 8), [0, 0, 0, 1, 1, 1, 2]]
    extent = np.r_[np.zeros(24, int), np.ones(7, int)]
    x = np.eye(3)[material] + 0.3 * rng.normal(size=(31, 3))
    out, probes, ctx = evaluate({"x": x, "z": rng.normal(size=(31, 3))}, labelled_set(material, extent),
                                params(bootstrap=8, cv_splits=2), 0, monkeypatch)
    assert probes[0][3] is None and out["n_train_matched"] is None and "note" in out["matched"]
    assert out["baseline_contrast"]["value"] is None and out["baseline_contrast"]["layer"] is None
    assert ctx.replicates["matched_baseline"].shape == (8, 2) and ctx.replicates["baseline_contrast"].shape == (8, 2)
