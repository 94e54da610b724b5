"""Statistics and task types against computations written out here, independently of the code
under test (each of these tests was written for a bug that once passed the whole suite).

| planted bug | caught by |
|---|---|
| the task's configured KL smoothing ignored | test_rsa_score_uses_the_configured_smoothing |
| noise ceiling always compares with Spearman | test_noise_ceiling_from_the_same_listener_halves |
| statistics rank the data when Pearson is configured | test_rsa_statistics_against_explicit_resamples_and_permutations |
| permutation p = (1+k)/(2+N) | test_rsa_statistics_against_explicit_resamples_and_permutations, test_permutation_p_value_formula |
| bootstrap never draws the last sound | test_bootstrap_draws_every_sound_uniformly |
| noise ceiling without the Spearman-Brown step | test_noise_ceiling_from_the_same_listener_halves |
| transfer: test sounds standardised with their own statistics | test_transfer_on_a_shifted_imbalanced_test_subset |
| 90% interval reported as 95% | test_percentile_interval_is_np_quantile_at_half_alpha, test_percentile_interval_coverage_tells_90_from_95 |
| transfer chance = 1/k instead of the majority class | test_transfer_on_a_shifted_imbalanced_test_subset |

(The cache key and the CLAP block names: tests/test_extract.py and tests/test_clap.py.)
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from scipy.special import rel_entr
from scipy.stats import binomtest, chisquare, pearsonr, spearmanr

from audioprobe.metrics import ceiling, geometry, intervals, mantel, resampling, rsa_inference
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes import TASK_TYPES, EvalContext
from audioprobe.tasktypes.rsa.params import RSA_PARAMS
from audioprobe.tasktypes.transfer import TRANSFER_PARAMS
from audioprobe.tasktypes.transfer.evaluate import PER_LAYER_CI_METHOD
from tests.factories import make_set, wilson


def spawned(seed: int, k: int) -> np.random.Generator:
    """Stream k of a seed, as the harness documents its streams (bootstrap, permutations, splits,
    ceiling): numpy's SeedSequence children."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[k])


def kl_rdm(counts, smoothing):
    """Symmetric KL between smoothed response distributions, pair by pair with scipy."""
    p = (counts + smoothing) / (counts + smoothing).sum(axis=1, keepdims=True)
    return np.array([rel_entr(p[i], p[j]).sum() + rel_entr(p[j], p[i]).sum()
                     for i, j in itertools.combinations(range(len(p)), 2)])


def resampled_pairs(condensed, draws):
    """The pairs of an explicitly resampled RDM: every pair of drawn copies of two different sounds."""
    sq = squareform(condensed)[np.ix_(draws, draws)]
    i, j = np.triu_indices(draws.size, 1)
    keep = draws[i] != draws[j]
    return sq[i, j][keep]


# ---------------------------------------------------------------------------------------------
# metrics/resampling.py, pearson.py, mantel.py, ceiling.py, rsa_inference.py


def test_rsa_statistics_against_explicit_resamples_and_permutations():
    rng = np.random.default_rng(21)
    n, seed, n_boot, n_perm, level = 12, 5, 40, 99, 0.9
    y = pdist(rng.normal(size=(n, 3)))
    x = np.stack([y + 0.8 * pdist(rng.normal(size=(n, 3))), pdist(rng.normal(size=(n, 3))) ** 3])
    out = rsa_inference.rsa_statistics(x, y, "pearson", seed, n_boot, n_perm, 0, level)
    np.testing.assert_allclose(out["score"], [pearsonr(r, y)[0] for r in x], atol=1e-12)
    # bootstrap: Pearson r (not of ranks) on each explicitly resampled RDM
    counts = out["bootstrap_counts"]
    assert counts.shape == (n_boot, n) and np.all(counts.sum(axis=1) == n)
    for b in range(n_boot):
        draws = np.repeat(np.arange(n), counts[b])
        ref = [pearsonr(resampled_pairs(r, draws), resampled_pairs(y, draws))[0] for r in x]
        np.testing.assert_allclose(out["bootstrap"][b], ref, atol=1e-10)
    # interval: the (1 - level)/2 and 1 - (1 - level)/2 quantiles of the replicates
    for k in range(2):
        np.testing.assert_allclose(out["ci"][k], np.quantile(out["bootstrap"][:, k], [0.05, 0.95]), atol=1e-12)
    # Mantel test: Pearson r against the target with rows and columns permuted together, p written out
    perms = np.argsort(spawned(seed, 1).random((n_perm, n)), axis=1)
    null = np.array([[pearsonr(r, squareform(squareform(y)[np.ix_(p, p)]))[0] for r in x] for p in perms])
    exceed = (null >= out["score"] - 1e-9).sum(axis=0)
    np.testing.assert_allclose(out["p_value"], (1 + exceed) / (1 + n_perm), rtol=1e-12)
    assert out["p_value"][0] == pytest.approx(1 / 100)  # the related layer: no permutation beats it


def test_rsa_statistics_spearman_permutations_against_scipy():
    rng = np.random.default_rng(4)
    n, n_perm = 10, 49
    y = pdist(rng.normal(size=(n, 2)))
    x = (y + pdist(rng.normal(size=(n, 2))))[None] ** 2
    out = rsa_inference.rsa_statistics(x, y, "spearman", 8, 0, n_perm, 0, 0.95)
    assert out["score"][0] == pytest.approx(spearmanr(x[0], y)[0], abs=1e-12)
    perms = np.argsort(spawned(8, 1).random((n_perm, n)), axis=1)
    null = np.array([spearmanr(x[0], squareform(squareform(y)[np.ix_(p, p)]))[0] for p in perms])
    assert out["p_value"][0] == pytest.approx((1 + np.sum(null >= out["score"][0] - 1e-9)) / (1 + n_perm))


def test_permutation_p_value_formula():
    observed = np.array([0.5, 0.2, np.nan, 0.9])
    null = np.array([[0.1, 0.3, 0.0, 0.2], [0.6, 0.1, 0.0, 0.3], [0.5, 0.25, 0.0, 0.1], [0.7, 0.2, 0.0, 0.0]])
    # exceedances (ties count): 3 of 4, 3 of 4, -, 0 of 4
    np.testing.assert_allclose(mantel.permutation_p_value(observed, null), [4 / 5, 4 / 5, np.nan, 1 / 5])


def test_bootstrap_draws_every_sound_uniformly():
    rng = np.random.default_rng(0)
    n, m = 15, 400
    counts = resampling.bootstrap_counts(rng, n, m)
    assert counts.shape == (m, n) and np.all(counts.sum(axis=1) == n)
    totals = counts.sum(axis=0)
    assert totals.min() > 0
    assert chisquare(totals).pvalue > 1e-3  # every sound equally likely, the last one included
    # each resample draws with replacement: about (1 - 1/n)^n of the sounds are left out
    assert np.mean(counts == 0) == pytest.approx((1 - 1 / n) ** n, abs=0.02)
    # the resamples of rsa_statistics come from the same sampler
    y = pdist(rng.normal(size=(n, 2)))
    out = rsa_inference.rsa_statistics(y[None] + 0.1, y, "pearson", 3, 300, 0, 0, 0.95)
    assert chisquare(out["bootstrap_counts"].sum(axis=0)).pvalue > 1e-3


def test_percentile_interval_is_np_quantile_at_half_alpha():
    rng = np.random.default_rng(2)
    s = rng.normal(size=(501, 3))
    s[::7, 1] = np.nan  # undefined replicates are left out
    for level in (0.95, 0.9, 0.5):
        a = (1 - level) / 2
        got = intervals.percentile_interval(s, level)
        for k in range(3):
            col = s[:, k][np.isfinite(s[:, k])]
            np.testing.assert_allclose(got[k], np.quantile(col, [a, 1 - a]), rtol=1e-12)
    assert np.isnan(intervals.percentile_interval(np.full((5, 1), np.nan))).all()


def test_percentile_interval_coverage_tells_90_from_95():
    """Percentile bootstrap of a mean of 60 normal values: coverage close to nominal. 1,500
    replications give a standard error of 0.006, so 0.93 separates a 95% interval from a 90% one."""
    rng = np.random.default_rng(17)
    n, reps, boots = 60, 1500, 1000
    cover = {0.95: 0, 0.9: 0}
    for _ in range(reps):
        v = rng.normal(size=n)
        means = resampling.bootstrap_counts(rng, n, boots) @ v / n
        for level in cover:
            lo, hi = intervals.percentile_interval(means[:, None], level)[0]
            cover[level] += lo <= 0.0 <= hi
    assert 0.93 <= cover[0.95] / reps <= 0.97, cover
    assert 0.875 <= cover[0.9] / reps <= 0.92, cover


def test_spearman_brown_formula():
    r = np.array([-0.4, 0.0, 0.3, 0.6, 1.0])
    np.testing.assert_allclose(ceiling.spearman_brown(r), 2 * r / (1 + r))
    np.testing.assert_allclose(ceiling.spearman_brown(r, 3.0), 3 * r / (1 + 2 * r))


# ---------------------------------------------------------------------------------------------
# tasktypes/rsa/


def listener_set(seed=0, n=24, listeners=10):
    rng = np.random.default_rng(seed)
    cats = {"material": ["wood", "metal", "glass"], "extent": ["1D", "2D", "3D"]}
    truth = {d: rng.integers(0, 3, size=n) for d in cats}
    responses = {d: np.where(rng.random((listeners, n)) < 0.6, truth[d][None, :],
                             rng.integers(0, 3, size=(listeners, n))) for d in cats}
    s = make_set(cats, truth, responses=responses, name="listeners")
    return s, truth, rng


def rsa_params(**over):
    p = {k: v.default for k, v in RSA_PARAMS.items()}
    p.update(dimensions="material", bootstrap=0, permutations=0, cv_splits=0, ceiling_splits=0)
    p.update(over)
    return p


def run_rsa(s, acts, seed=0, **over):
    ctx = EvalContext(task="t", seed=seed, control=None)
    return TASK_TYPES["rsa"].evaluate(acts, s, rsa_params(**over), ctx)


def test_rsa_score_uses_the_configured_smoothing():
    s, truth, rng = listener_set(1)
    feats = np.eye(3)[truth["material"]] + 0.5 * rng.random((24, 3))
    counts = np.stack([np.bincount(s.responses["material"][:, i], minlength=3) for i in range(24)])
    for smoothing in (0.5, 3.0):
        out = run_rsa(s, {"mean": {"a": feats}}, smoothing=smoothing)
        ref = pearsonr(pdist(feats, "cosine"), kl_rdm(counts, smoothing))[0]
        assert out["per_layer"][0]["score"] == pytest.approx(ref, abs=1e-12)
    # two dimensions: the mean of their RDMs
    out = run_rsa(s, {"mean": {"a": feats}}, dimensions=["material", "extent"], smoothing=2.0)
    ext = np.stack([np.bincount(s.responses["extent"][:, i], minlength=3) for i in range(24)])
    ref = pearsonr(pdist(feats, "cosine"), (kl_rdm(counts, 2.0) + kl_rdm(ext, 2.0)) / 2)[0]
    assert out["per_layer"][0]["score"] == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("comparison", ["pearson", "spearman"])
def test_noise_ceiling_from_the_same_listener_halves(comparison):
    s, truth, rng = listener_set(2, listeners=9)
    seed, n_splits, smoothing = 3, 12, 1.5
    out = run_rsa(s, {"mean": {"a": rng.random((24, 4))}}, seed=seed, ceiling_splits=n_splits,
                  comparison=comparison, smoothing=smoothing)
    nc = out["noise_ceiling"]
    # the halves: stream 3 of the seed, a random floor(9/2) = 4 listeners per split
    order = np.argsort(spawned(seed, 3).random((n_splits, 9)), axis=1)
    resp = s.responses["material"]
    corr = {"pearson": pearsonr, "spearman": spearmanr}[comparison]
    # Spearman ranks the many tied distances of a small panel: the harness's own KL (checked against
    # scipy in test_rsa.py) keeps its rounding, hence its ties; Pearson takes scipy's KL
    target = (lambda c: kl_rdm(c, smoothing)) if comparison == "pearson" else (
        lambda c: geometry.symmetric_kl_rdm(c, smoothing))
    rs = []
    for row in order:
        half = np.zeros(9, dtype=bool)
        half[row[:4]] = True
        a, b = ([np.bincount(resp[members, i], minlength=3) for i in range(24)] for members in (half, ~half))
        rs.append(corr(target(np.stack(a)), target(np.stack(b)))[0])
    r = np.mean(rs)
    assert nc["split_half_r"] == pytest.approx(r, abs=1e-12)
    assert nc["split_half_r_sd"] == pytest.approx(np.std(rs), abs=1e-12)
    assert nc["value"] == pytest.approx(2 * r / (1 + r), abs=1e-12)
    assert nc["n_splits"] == n_splits and nc["n_listeners"] == 9


# ---------------------------------------------------------------------------------------------
# tasktypes/transfer/ and metrics/probing/


def shifted_set(seed=0):
    """Two materials; trained on extents 1D and 2D (20 wood, 20 metal), tested on 3D, where the
    classes are imbalanced (18 wood, 6 metal: majority 0.75, 1/k 0.5)."""
    rng = np.random.default_rng(seed)
    extent = np.repeat([0, 1, 2], [20, 20, 24])
    material = np.r_[np.tile([0, 1], 20), np.repeat([0, 1], [18, 6])]
    rng.shuffle(material[40:])
    cats = {"material": ["wood", "metal"], "extent": ["1D", "2D", "3D"]}
    truth = {"material": material, "extent": extent}
    s = make_set(cats, truth, name="shifted")
    return s, material, extent, rng


def transfer_params(**over):
    p = {k: v.default for k, v in TRANSFER_PARAMS.items() if v.default is not None}
    p.update(split_dimension="extent", train_values=["1D", "2D"], test_values=["3D"], bootstrap=200,
             cv_splits=0, c_grid=[0.1, 1.0, 10.0], inner_folds=3, baseline_folds=3)
    p.update(over)
    return p


def sklearn_transfer(x_train, y_train, x_test, c_grid, folds, seed):
    """The probe as scikit-learn's plain pipeline: scaler and C fitted on the training sounds only."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, tol=1e-8)),
                         {"logisticregression__C": list(c_grid)},
                         cv=StratifiedKFold(folds, shuffle=True, random_state=seed), scoring="accuracy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probe.fit(x_train, y_train)
    return probe.predict(x_test)


def test_transfer_on_a_shifted_imbalanced_test_subset():
    """Layer `shifted` moves every test sound by +3 along the material axis: a probe whose scaler
    was fitted on the training sounds calls them all metal (accuracy = the minority share, 0.25);
    standardising the test sounds with their own statistics would undo the shift (accuracy ~1).
    Layer `plain` transfers. Accuracy, chance and p-values against scikit-learn and scipy."""
    s, material, extent, rng = shifted_set()
    base = 3.0 * material + 0.3 * rng.normal(size=64)
    shifted = np.c_[base + 3.0 * (extent == 2), rng.normal(size=64)]
    plain = np.c_[base, rng.normal(size=64)]
    seed, params = 4, transfer_params()
    ctx = EvalContext(task="t", seed=seed, control=None)
    out = TASK_TYPES["transfer"].evaluate({"mean": {"shifted": shifted, "plain": plain}}, s, params, ctx)
    labels = np.array(["wood", "metal"])[material]
    train, test = np.nonzero(extent < 2)[0], np.nonzero(extent == 2)[0]
    majority = 18 / 24
    assert out["chance"]["accuracy"] == pytest.approx(majority)
    assert out["chance"]["balanced_accuracy"] == pytest.approx(0.5)
    assert out["classes_test"] == {"metal": 6, "wood": 18} and out["n_test"] == 24 and out["n_train"] == 40
    expected_acc = {}
    for entry, x in zip(out["per_layer"], (shifted, plain)):
        pred = sklearn_transfer(x[train], labels[train], x[test], params["c_grid"], 3, seed)
        correct = pred == labels[test]
        expected_acc[entry["layer"]] = correct.mean()
        assert entry["accuracy"] == pytest.approx(correct.mean(), abs=1e-12) and entry["score"] == entry["accuracy"]
        recall = [correct[labels[test] == c].mean() for c in ("metal", "wood")]
        assert entry["balanced_accuracy"] == pytest.approx(np.mean(recall), abs=1e-12)
        p = binomtest(int(correct.sum()), 24, majority, alternative="greater").pvalue
        assert entry["p_value"] == pytest.approx(p, rel=1e-9)
        # Wilson interval of the accuracy on the effective size of the bootstrap over test sounds resampled
        # with stream 0 of the seed (n/(n-1) x their variance, 23 dof; tests.factories.wilson)
        draws = spawned(seed, 0).integers(0, 24, size=(200, 24))
        boot = correct[draws].mean(axis=1)
        np.testing.assert_allclose(entry["ci"], wilson(correct.mean(), np.var(boot, ddof=1) * 24 / 23, 23, 24),
                                   atol=1e-12)
        np.testing.assert_allclose(ctx.replicates["per_layer"][:, out["per_layer"].index(entry)], boot, atol=1e-12)
    assert expected_acc == {"shifted": 0.25, "plain": 1.0}
    assert out["per_layer"][1]["p_value"] == pytest.approx(majority ** 24, rel=1e-9)


def test_transfer_headline_statistics_and_text_written_out():
    """Balanced accuracy as the score, the cross-validated headline and its bootstrap written out
    (best layer on one half of each resample, scored on the other), and the result's fixed fields."""
    from audioprobe.errors import AudioprobeError

    s, material, extent, rng = shifted_set(1)
    base = 3.0 * material + 0.3 * rng.normal(size=64)
    layers = {"shifted": np.c_[base + 3.0 * (extent == 2), rng.normal(size=64)],
              "plain": np.c_[base, rng.normal(size=64)]}
    seed, params = 2, transfer_params(score="balanced_accuracy", cv_splits=6, bootstrap=50)
    ctx = EvalContext(task="t", seed=seed, control=None)
    out = TASK_TYPES["transfer"].evaluate({"mean": layers}, s, params, ctx)
    labels = np.array(["wood", "metal"])[material]
    train, test = np.nonzero(extent < 2)[0], np.nonzero(extent == 2)[0]
    y = labels[test]
    correct = {}
    for entry in out["per_layer"]:
        x = layers[entry["layer"]]
        correct[entry["layer"]] = sklearn_transfer(x[train], labels[train], x[test], params["c_grid"], 3, seed) == y
        assert entry["score"] == entry["balanced_accuracy"]
    assert out["per_layer"][0]["balanced_accuracy"] == 0.5 and out["per_layer"][0]["accuracy"] == 0.25

    size = {c: int(np.sum(y == c)) for c in ("metal", "wood")}  # 6 metal, 18 wood: on the full test subset

    def balanced(ok, w):  # each sound weighted by 1 / its class's size on the full set (a half keeps the shares)
        cw = np.array([1.0 / size[c] for c in y])
        return np.sum(w * cw * ok) / np.sum(w * cw)

    draws = spawned(seed, 0).integers(0, 24, size=(50, 24))
    counts = np.stack([np.bincount(d, minlength=24) for d in draws])
    # the headline's replicates: the first K = 4 of the estimate's 6 half-splits (CV stream), in every resample
    halves = np.zeros((6, 24), dtype=bool)
    np.put_along_axis(halves, np.argsort(spawned(seed, 2).random((6, 24)), axis=1)[:, :12], True, axis=1)
    names = list(layers)
    for k, name in enumerate(names):
        boot = [balanced(correct[name], c) for c in counts]
        np.testing.assert_allclose(ctx.replicates["per_layer"][:, k], boot, atol=1e-12)
        np.testing.assert_allclose(out["per_layer"][k]["balanced_accuracy_ci"],
                                   wilson(balanced(correct[name], 1.0), np.var(boot, ddof=1) * 24 / 23, 23, 18),
                                   atol=1e-12)
    # the probe of `shifted` calls every test sound metal: balanced accuracy 0.5 whatever the sounds, yet its
    # replicates vary with the resamples' class shares (the fixed weights' conservative side, docs/metrics.md)
    assert out["per_layer"][0]["balanced_accuracy"] == 0.5 and np.std(ctx.replicates["per_layer"][:, 0]) > 0.05
    held = np.empty((50, 4))
    for b, c in enumerate(counts):
        for k, h in enumerate(halves[:4]):
            a = [balanced(correct[n], c * h) for n in names]
            z = [balanced(correct[n], c * ~h) for n in names]
            held[b, k] = (z[int(np.argmax(a))] + a[int(np.argmax(z))]) / 2
    np.testing.assert_allclose(ctx.replicates["headline"], held, atol=1e-12)
    # its interval: Wilson on the effective size from the variance of the resample means less the splits' own noise
    # (two-way layout, Searle et al. 1992), plus that noise over the 6 splits the estimate averages, times n / (n - 1),
    # and the Kish size of the class weights (18) where that is undefined
    row, col, grand = held.mean(axis=1), held.mean(axis=0), held.mean()
    ms_rows = 4 * np.var(row, ddof=1)
    ms_int = np.sum((held - row[:, None] - col[None] + grand) ** 2) / (49 * 3)
    variance = (max(0.0, (ms_rows - ms_int) / 4) + ms_int / 6) * 24 / 23
    value = out["headline"]["value"]
    assert out["headline"]["ci"] == pytest.approx(wilson(value, variance, 23, 18), abs=1e-12)
    assert out["headline"]["n_effective_max"] == pytest.approx(18)
    assert ctx.resampling["unit"] == "test sounds" and ctx.resampling["n_items"] == 24
    assert out["n_excluded"] == 0 and out["metric"] == (
        "balanced accuracy of a multinomial logistic-regression probe predicting the perceived material of test "
        "sounds (perceived extent in 3D) after training on 1D, 2D")
    assert out["statistics"] == {
        "seed": 2, "bootstrap": 50, "bootstrap_unit": "test sounds (the fitted probe is kept)", "ci_level": 0.95,
        "ci_method": PER_LAYER_CI_METHOD, "p_value": "one-sided binomial test of the number of correct test sounds "
        "against the majority-class rate", "cv_splits": 6}
    # no bootstrap: a cross-validated headline without an interval
    plain = TASK_TYPES["transfer"].evaluate({"mean": layers}, s, transfer_params(bootstrap=0, cv_splits=6),
                                            EvalContext(task="t", seed=seed, control=None))
    assert plain["headline"]["ci"] is None and plain["headline"]["value"] is not None
    for bad in ([], [0.0, 1.0], [True]):
        with pytest.raises(AudioprobeError, match="c_grid"):
            TASK_TYPES["transfer"].check_params("t.yaml", transfer_params(c_grid=bad))


def test_transfer_subsets_of_two_sounds_and_the_messages():
    from audioprobe.errors import NotApplicableError
    from audioprobe.tasktypes.transfer import transfer_subsets

    s, material, extent, _ = shifted_set()
    keep = np.r_[np.arange(40), np.nonzero(extent == 2)[0][[0, 18]]]  # a test subset of 2 sounds: allowed
    small = StimulusSet(name="small", sound_ids=[s.sound_ids[i] for i in keep], dimensions=s.dimensions,
                        labels={d: [v[i] for i in keep] for d, v in s.labels.items()},
                        judgments={d: v[keep] for d, v in s.judgments.items()}, load_audio=s.load_audio)
    train, test, target, excluded = transfer_subsets(small, transfer_params(), "t")
    assert list(test) == [40, 41] and len(train) == 40 and excluded == 0
    with pytest.raises(NotApplicableError, match=r"the test subset has 1 sound\(s\)"):
        transfer_subsets(small.head(41), transfer_params(), "t")
    with pytest.raises(NotApplicableError, match=r"the training subset has 0 sound\(s\)"):
        transfer_subsets(small, transfer_params(train_values=[]), "t")
