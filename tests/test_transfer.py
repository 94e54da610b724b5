"""Transfer probes: no leakage from test sounds, disjoint subsets, accuracies against scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from audioprobe.errors import AudioprobeError
from audioprobe.metrics import probing, resampling
from audioprobe.tasktypes import TASK_TYPES, EvalContext
from audioprobe.tasktypes.transfer import TRANSFER_PARAMS, check_transfer, transfer_subsets
from tests.factories import make_set


def test_standardisation_fitted_on_training_sounds_only(rng):
    """Train: class a near 0, class b near 1. Test: every sound is b, far out at 10. With the
    scaler fitted on the training sounds the probe says b everywhere; a scaler fitted on (or
    with) the test sounds would centre them and call about half of them a."""
    x_train = np.r_[rng.normal(0, 0.1, 20), rng.normal(1, 0.1, 20)][:, None]
    y_train = np.array(["a"] * 20 + ["b"] * 20)
    x_test = rng.normal(10, 0.5, 30)[:, None]
    pred, _ = probing.transfer_predictions(x_train, y_train, x_test)
    assert np.all(pred == "b")


def test_predictions_do_not_depend_on_other_test_sounds(rng):
    x_train, y_train = rng.normal(size=(40, 5)), np.repeat(["a", "b"], 20)
    x_train[y_train == "b"] += 1.0
    x_test = rng.normal(size=(15, 5)) + 0.5
    alone, c1 = probing.transfer_predictions(x_train, y_train, x_test)
    extra = np.r_[x_test, rng.normal(50, 1, size=(15, 5))]
    together, c2 = probing.transfer_predictions(x_train, y_train, extra)
    assert c1 == c2 and np.array_equal(alone, together[:15])


def test_accuracies_against_sklearn(rng):
    labels = rng.choice(["a", "b", "c"], size=25)
    pred = np.where(rng.random(25) < 0.6, labels, "a")
    correct = pred == labels
    acc, bal = probing.accuracies(correct, labels, np.ones((1, 25)))
    assert acc[0] == pytest.approx(accuracy_score(labels, pred))
    assert bal[0] == pytest.approx(balanced_accuracy_score(labels, pred))
    counts = rng.integers(0, 3, size=(4, 25))
    acc, bal = probing.accuracies(correct, labels, counts)
    for k in range(4):
        rep = np.repeat(np.arange(25), counts[k])
        assert acc[k] == pytest.approx(accuracy_score(labels[rep], pred[rep]))
        assert bal[k] == pytest.approx(balanced_accuracy_score(labels[rep], pred[rep]))



def test_balanced_accuracy_with_class_weights_fixed_on_the_full_set(rng):
    """Fixed class weights: on the full set the balanced accuracy of scikit-learn; under a resample, the
    accuracy of the resampled sounds each weighted by 1 / its class's size on the FULL set (scikit-learn's
    accuracy_score with those sample weights), defined even where a class is absent from the resample."""
    labels = np.array(list("aaaaabbbbbbbbbbc"))  # c: one sound
    pred = np.where(rng.random(labels.size) < 0.5, labels, "b")
    correct = pred == labels
    fixed = probing.class_weights(labels)
    np.testing.assert_allclose(fixed, [1 / 5] * 5 + [1 / 10] * 10 + [1.0])
    _, bal = probing.accuracies(correct, labels, np.ones((1, labels.size)), fixed)
    assert bal[0] == pytest.approx(balanced_accuracy_score(labels, pred))
    counts = rng.integers(0, 3, size=(6, labels.size))
    counts[0, -1] = 0  # class c absent from this resample: still defined, its share gone with it
    _, bal = probing.accuracies(correct, labels, counts, fixed)
    for k in range(6):
        rep = np.repeat(np.arange(labels.size), counts[k])
        assert bal[k] == pytest.approx(accuracy_score(labels[rep], pred[rep], sample_weight=fixed[rep]))
    # class weights on a subset (the sounds with matched predictions): 0 elsewhere, sizes counted on it
    on = np.arange(labels.size) % 2 == 0
    np.testing.assert_allclose(probing.class_weights(labels, on)[on], 1 / np.unique(labels[on], return_inverse=True,
                                                                                    return_counts=True)[2][
        np.unique(labels[on], return_inverse=True)[1]])
    assert not probing.class_weights(labels, on)[~on].any()
    # a probe answering one class everywhere (balanced accuracy 1/3 on the full set): averaged over halves, the
    # fixed-weight form (a ratio estimator, biased by the one-sound class's weight) sits nearer 1/3 than the
    # per-half balanced accuracy, which drops class c from the halves without it (0.38 against 0.42)
    one_class = labels == "b"
    halves = resampling.random_halves(np.random.default_rng(0), labels.size, 4000)
    sides = np.concatenate([halves, ~halves])
    _, fixed_bal = probing.accuracies(one_class, labels, sides, fixed)
    _, dropped = probing.accuracies(one_class, labels, sides)
    assert abs(np.mean(fixed_bal) - 1 / 3) < 0.05 < abs(np.mean(dropped) - 1 / 3)

def tiny_set(rng, n=72):
    cats = {"material": ["wood", "metal", "glass"], "extent": ["1D", "2D", "3D"]}
    truth = {"material": np.tile([0, 1, 2], n // 3), "extent": np.repeat([0, 1, 2], n // 3)}
    counts = {d: np.eye(3, dtype=np.int64)[truth[d]] * 4 for d in cats}
    counts["material"][0] = [2, 2, 0]  # a tied modal response: left out
    s = make_set(cats, truth, judgments=counts)
    return s, truth


def params(**over):
    p = {k: v.default for k, v in TRANSFER_PARAMS.items() if v.default is not None}
    p.update(split_dimension="extent", train_values=["1D", "2D"], test_values=["3D"], bootstrap=100,
             cv_splits=10, c_grid=[0.1, 1.0, 10.0], inner_folds=3, baseline_folds=3)
    p.update(over)
    return p


def test_subsets_are_disjoint_and_overlap_is_refused(rng):
    s, _ = tiny_set(rng)
    train, test, target, excluded = transfer_subsets(s, params(), "t")
    assert not set(train) & set(test) and excluded == 1 and 0 not in train
    assert len(test) == 24 and len(train) == 47
    with pytest.raises(AudioprobeError, match="train_values and test_values"):
        check_transfer("f.yaml", params(test_values=["3D", "2D"]))
    with pytest.raises(AudioprobeError, match="4D"):
        transfer_subsets(s, params(test_values=["4D"]), "t")


def test_a_perceived_split_follows_the_listeners_answers():
    """split_source perceived: the subsets follow the listeners' modal answers, not the physical labels,
    and a category of the dimension that nobody answers is a known category with an empty subset (not an
    unknown value)."""
    n = 48
    cats = {"material": ["wood", "metal", "glass"], "extent": ["1D", "2D", "3D"]}
    truth = {"material": np.tile([0, 1, 2], n // 3), "extent": np.repeat([0, 1, 2], n // 3)}
    heard = np.minimum(truth["extent"], 1)  # 3D sounds are heard as 2D; nobody answers 3D
    counts = {"material": np.eye(3, dtype=np.int64)[truth["material"]] * 4,
              "extent": np.eye(3, dtype=np.int64)[heard] * 4}
    s = make_set(cats, truth, judgments=counts)
    train, test, _, excluded = transfer_subsets(s, params(split_source="perceived", train_values=["1D"],
                                                          test_values=["2D"]), "t")
    assert list(train) == list(np.flatnonzero(heard == 0)) and list(test) == list(np.flatnonzero(heard == 1))
    assert excluded == 0 and len(test) == 2 * n // 3  # physical 2D and 3D
    physical = transfer_subsets(s, params(split_source="physical", train_values=["1D"], test_values=["2D"]), "t")[1]
    assert list(physical) == list(np.flatnonzero(truth["extent"] == 1))
    with pytest.raises(AudioprobeError, match="the test subset has 0 sound"):
        transfer_subsets(s, params(split_source="perceived", train_values=["1D"], test_values=["3D"]), "t")
    # through the task type, the message names the task
    with pytest.raises(AudioprobeError, match="^task 'my-transfer': the test subset has 0 sound"):
        TASK_TYPES["transfer"].evaluate({"mean": {"x": np.zeros((n, 2))}}, s, params(
            split_source="perceived", train_values=["1D"], test_values=["3D"]), EvalContext("my-transfer", 0, None))


def test_transfer_task_end_to_end(rng):
    s, truth = tiny_set(rng)
    n = len(s)
    good = np.eye(3)[truth["material"]] + 0.3 * rng.normal(size=(n, 3))
    acts = {"mean": {"good": good, "noise": rng.normal(size=(n, 3))}}
    ctx = EvalContext("t", 0, None)
    out = TASK_TYPES["transfer"].evaluate(acts, s, params(), ctx)
    json.dumps(out, allow_nan=False)
    g, z = out["per_layer"]
    assert g["accuracy"] > 0.8 and g["p_value"] < 1e-3 and g["baseline_accuracy"] > 0.7
    assert g["ci"][0] <= g["accuracy"] <= g["ci"][1]
    assert z["accuracy"] < 0.7
    assert out["chance"]["accuracy"] == pytest.approx(1 / 3)
    assert out["headline"]["layer"] == "good"
    assert out["baseline_contrast"]["layer"] == "good" and out["baseline_contrast"]["ci"] is not None
    # inner_folds 3 with training classes of 15 or more: 3 folds, nothing left out, and the note says only that
    assert out["probe_design"] == {"inner_folds": 3, "left_out_of_choosing_c": [],
                                   "note": "C chosen by stratified cross-validation inside the training sounds"}
    assert g["matched_accuracy"] > 0.8 and g["matched_baseline_accuracy"] > 0.7
    from audioprobe.results import check_typed
    from audioprobe.tasktypes.transfer import TransferScores

    assert check_typed(out, TransferScores, "scores") == []


def test_row_space_rotation_changes_nothing_but_speed(rng):
    """The probe's PCA step is exact: same C and predictions as the plain scaler + logistic pipeline."""
    import warnings

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = rng.normal(size=(45, 120))  # more features than sounds, as with real layers
    y = np.repeat(["a", "b", "c"], 15)
    x[y == "b", :5] += 0.8
    x[y == "c", 5:10] += 0.8
    x_test = rng.normal(size=(20, 120)) + 0.3
    pred, c = probing.transfer_predictions(x, y, x_test, c_grid=(0.01, 0.1, 1.0), inner_folds=3, seed=0)
    plain = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, tol=1e-8)),
                         {"logisticregression__C": [0.01, 0.1, 1.0]},
                         cv=StratifiedKFold(3, shuffle=True, random_state=0), scoring="accuracy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain.fit(x, y)
    assert c == plain.best_params_["logisticregression__C"]
    assert np.array_equal(pred, plain.predict(x_test))


def test_parallel_layers_equal_serial(rng):
    x = [rng.normal(size=(40, 8)) + (k * 0.2) for k in range(3)]
    y = np.repeat(["a", "b"], 20)
    for xi in x:
        xi[y == "b", 0] += 1.5
    train, test = np.arange(0, 40, 2), np.arange(1, 40, 2)
    args = (train, test, y[train], y[test], (0.1, 1.0), 3, 3, 0, 1000)
    serial = probing.all_layer_predictions(x, *args, n_jobs=1)
    parallel = probing.all_layer_predictions(x, *args, n_jobs=2)
    for (p1, c1, b1, m1), (p2, c2, b2, m2) in zip(serial, parallel):
        assert c1 == c2 and np.array_equal(p1, p2) and np.array_equal(b1, b2)
        assert m1.defined.all() and all(np.array_equal(a, b) for a, b in zip(m1, m2))


def _labelled_set(materials_by_extent: dict[str, list[str]]):
    """A set whose sounds have exactly these (extent, material) labels: counts chosen by the test."""
    cats = {"material": ["wood", "metal", "glass"], "extent": ["1D", "2D", "3D"]}
    labels = [(e, m) for e, ms in materials_by_extent.items() for m in ms]
    truth = {"material": [cats["material"].index(m) for _, m in labels], "extent": [cats["extent"].index(e) for e, _ in labels]}
    return make_set(cats, truth, votes=4, name="counts")


def _evaluate(s, rng, **over):
    acts = {"mean": {"x": rng.normal(size=(len(s), 4))}}
    return TASK_TYPES["transfer"].evaluate(acts, s, params(**over), EvalContext("t", 0, None))


@pytest.mark.parametrize("train, why", [
    (["wood", "metal", "glass"], "wood 1, metal 1, glass 1"),  # every class a single sound (sklearn: n_splits > members)
    (["wood"] * 10 + ["metal"], "metal 1, wood 10"),  # a fold's fitting part would hold only wood
])
def test_a_training_subset_that_cannot_choose_c_is_not_applicable_with_its_counts(rng, train, why):
    from audioprobe.errors import NotApplicableError

    s = _labelled_set({"1D": train, "3D": ["wood"] * 3 + ["metal"] * 3})
    with pytest.raises(NotApplicableError) as err:
        _evaluate(s, rng, train_values=["1D"], test_values=["3D"])
    message = str(err.value)
    assert "task 't'" in message and "fewer than 2 classes" in message
    assert all(part in message for part in why.split(", ")), message


def test_a_smaller_cv_design_is_used_and_recorded_where_it_is_sound(rng):
    """Classes of 2, 2 and 1 training sounds with 3 inner folds: scikit-learn's 3 folds do not exist (no class
    has 3 sounds); C is chosen in 2 folds on the two classes of 2 sounds, the single sound still in the fit,
    and the result says so."""
    from audioprobe.metrics.probing import inner_folds_of

    y = np.array(["wood", "wood", "metal", "metal", "glass"])
    folds, left_out = inner_folds_of(y, 3, 0)
    assert left_out == ["glass"] and len(folds) == 2
    for fit, val in folds:
        assert set(y[fit]) == {"wood", "metal"} and "glass" not in set(y[val])
    # through the task, 3 folds are first cut to what the smallest class allows (2), where scikit-learn's
    # stratified folds exist with the single sound in them: recorded as 2 folds, nothing left out
    s = _labelled_set({"1D": ["wood"] * 2 + ["metal"] * 2 + ["glass"], "3D": ["wood"] * 4 + ["metal"] * 4})
    out = _evaluate(s, rng, train_values=["1D"], test_values=["3D"], inner_folds=3)
    assert out["probe_design"]["inner_folds"] == 2 and out["probe_design"]["left_out_of_choosing_c"] == []
    assert out["headline"]["value"] is not None


def test_a_baseline_fold_that_cannot_choose_c_gives_no_baseline_and_says_why(rng):
    """Two test classes of 2 sounds: the baseline's 2 outer folds leave 1 sound per class in each training part,
    where no stratified inner fold exists (this crashed scikit-learn before); the task is scored, without a
    baseline, and the note names the counts."""
    s = _labelled_set({"1D": ["wood"] * 5 + ["metal"] * 5, "3D": ["wood"] * 2 + ["metal"] * 2})
    out = _evaluate(s, rng, train_values=["1D"], test_values=["3D"])
    entry = out["per_layer"][0]
    assert entry["score"] is not None and entry["baseline_accuracy"] is None
    assert "outer fold's training part (metal 1, wood 1)" in entry["baseline_note"]
    assert "so no matched probes" in out["matched"]["note"]


@pytest.mark.parametrize("values", [[], [""], ["1D", 3]])
def test_a_subset_must_name_categories(values):
    with pytest.raises(AudioprobeError, match="key 'train_values' must be a non-empty list of category names"):
        check_transfer("f.yaml", params(train_values=values))
    check_transfer("f.yaml", params(train_values=["1D"]))  # one category is a subset
