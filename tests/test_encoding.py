"""The encoding model's arrays against references written out here: scikit-learn's own StandardScaler +
RidgeCV pipeline fold by fold, np.corrcoef on rows repeated by their bootstrap counts, and known answers
(an exact linear map; pure noise, whose pooled held-out r is biased below 0 by the folds' intercepts)."""

from __future__ import annotations

import numpy as np
import pytest

from audioprobe.metrics import encoding
from audioprobe.tasktypes.proportions import scored_columns


def reference_predictions(x, y, folds, alphas):
    """Per fold: make_pipeline(StandardScaler(), RidgeCV(alpha_per_target=True)) on the training rows."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pred = np.full(y.shape, np.nan)
    chosen = []
    for f in np.unique(folds):
        test = folds == f
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=alphas, alpha_per_target=True))
        model.fit(x[~test], y[~test])
        pred[test] = model.predict(x[test]).reshape(-1, y.shape[1])
        chosen.append(np.ravel(model[-1].alpha_))
    return pred, np.array(chosen)


def repeated_corrcoef(pred, obs, counts):
    """np.corrcoef of each column on the rows repeated by their integer counts; NaN where undefined."""
    p, o = np.repeat(pred, counts, axis=0), np.repeat(obs, counts, axis=0)
    out = np.full(pred.shape[1], np.nan)
    if np.count_nonzero(counts) < 3:
        return out
    for j in range(pred.shape[1]):
        if np.ptp(p[:, j]) > 0 and np.ptp(o[:, j]) > 0:
            out[j] = np.corrcoef(p[:, j], o[:, j])[0, 1]
    return out


@pytest.mark.parametrize("n, p, q", [(50, 8, 4), (40, 300, 3)])
def test_predictions_equal_sklearn_pipeline_fold_by_fold(rng, n, p, q):
    x = rng.normal(size=(n, p)) * rng.uniform(0.1, 10, size=p) + rng.normal(size=p)
    x[:, 1] = 3.5  # a constant feature
    y = rng.dirichlet(np.ones(q), size=n) + 0.3 * (x[:, :1] > 0)
    folds = encoding.fold_ids(rng, n, 5)
    pred, chosen = encoding.cross_validated_predictions(x, y, folds)
    ref_pred, ref_chosen = reference_predictions(x, y, folds, encoding.ALPHAS)
    assert pred.shape == (n, q) and pred.dtype == np.float64 and chosen.shape == (5, q)
    np.testing.assert_allclose(pred, ref_pred, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(chosen, ref_chosen)


def test_one_feature_as_a_vector_and_one_column(rng):
    x, y = rng.normal(size=30), rng.normal(size=(30, 1))
    folds = encoding.fold_ids(rng, 30, 3)
    pred, chosen = encoding.cross_validated_predictions(x, y, folds)
    ref_pred, ref_chosen = reference_predictions(x[:, None], y, folds, encoding.ALPHAS)
    np.testing.assert_allclose(pred, ref_pred, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(chosen, ref_chosen)
    assert chosen.shape == (3, 1)


def test_bad_shapes_raise(rng):
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    folds = encoding.fold_ids(rng, 20, 4)
    with pytest.raises(ValueError):
        encoding.cross_validated_predictions(x[:-1], y, folds)
    with pytest.raises(ValueError):
        encoding.cross_validated_predictions(x, y, folds[:-1])
    with pytest.raises(ValueError):
        encoding.cross_validated_predictions(x, y, np.zeros(20, dtype=int))  # one fold
    with pytest.raises(ValueError):
        encoding.cross_validated_predictions(x, y, np.where(folds == 1, 5, folds))  # folds 1..4 unused


def test_exact_linear_map_is_recovered(rng):
    n = 60
    x = rng.normal(size=(n, 5))
    y = x @ rng.normal(size=(5, 3)) + np.array([1.0, -2.0, 0.5])
    pred, _ = encoding.cross_validated_predictions(x, y, encoding.fold_ids(rng, n, 5))
    for j in range(3):
        assert np.corrcoef(pred[:, j], y[:, j])[0, 1] > 0.999


def test_noise_is_unpredictable_within_folds_and_biased_below_zero_pooled(rng):
    """Pure noise: within each fold the held-out predictions do not correlate with the observations (they
    depend on the other folds only); pooled over folds they anti-correlate, because each fold's intercept
    is the mean of the other folds (encoding's module docstring): towards -sqrt((K-1)/(n-1)) ~ -0.26 as the
    chosen penalties grow (-0.19 measured here)."""
    n, k = 60, 5
    within, pooled, grouped = [], [], []
    for _ in range(200):
        x, y = rng.normal(size=(n, 5)), rng.normal(size=(n, 1))
        folds = encoding.fold_ids(rng, n, k)
        pred, _ = encoding.cross_validated_predictions(x, y, folds)
        masks = (folds[None, :] == np.arange(k)[:, None]).astype(float)
        within.append(encoding.weighted_correlations(pred, y, masks)[:, 0])
        pooled.append(encoding.weighted_correlations(pred, y, np.ones(n))[0])
        grouped.append(encoding.fold_correlations(pred, y, np.ones(n), folds)[0, 0])
    within, pooled, grouped = np.concatenate(within), np.array(pooled), np.array(grouped)
    assert abs(np.nanmean(within)) < 0.05
    assert -0.3 < np.nanmean(pooled) < -0.05
    # the mean of the folds' r (the encode task's score): centred on 0, within 3 standard errors
    assert abs(grouped.mean()) < 3 * grouped.std() / np.sqrt(grouped.size)


def test_intercept_only_predictions_give_minus_the_between_fold_share(rng):
    """With an overwhelming penalty the prediction is the other folds' mean, and the pooled r is exactly
    -sqrt(SS_between / SS_total) of the folds (the bias the test above bounds)."""
    n, k = 40, 4
    x, y = rng.normal(size=(n, 3)), rng.normal(size=(n, 1))
    folds = encoding.fold_ids(rng, n, k)
    pred, _ = encoding.cross_validated_predictions(x, y, folds, alphas=np.array([1e14]))
    fold_means = np.array([y[folds == f, 0].mean() for f in range(k)])
    ss_between = np.sum(np.bincount(folds) * (fold_means - y.mean()) ** 2)
    ss_total = np.sum((y - y.mean()) ** 2)
    r = np.corrcoef(pred[:, 0], y[:, 0])[0, 1]
    assert r == pytest.approx(-np.sqrt(ss_between / ss_total), abs=1e-6)


def test_fold_correlations_are_the_mean_of_each_folds_r(rng):
    """Each fold's r on its own rows repeated by their counts (np.corrcoef), averaged over the folds where it
    is defined."""
    n, q = 30, 3
    pred, obs = rng.normal(size=(n, q)), rng.normal(size=(n, q))
    obs[:, 0] += pred[:, 0]
    folds = np.arange(n) % 3
    counts = rng.integers(0, 3, size=(5, n))
    counts[0, folds == 1] = 0  # fold 1 absent from the first resample: left out of its mean
    got = encoding.fold_correlations(pred, obs, counts, folds)
    for b, c in enumerate(counts):
        per_fold = np.array([repeated_corrcoef(pred[folds == f], obs[folds == f], c[folds == f]) for f in range(3)])
        np.testing.assert_allclose(got[b], np.nanmean(per_fold, axis=0), atol=1e-12)


def test_no_leakage_from_the_held_out_sounds(rng):
    n = 45
    x, y = rng.normal(size=(n, 200)), rng.normal(size=(n, 3))
    folds = encoding.fold_ids(rng, n, 5)
    pred, chosen = encoding.cross_validated_predictions(x, y, folds)
    for f in range(5):
        changed = y.copy()
        changed[folds == f] = rng.normal(size=(np.count_nonzero(folds == f), 3)) * 100 + 7
        pred_f, chosen_f = encoding.cross_validated_predictions(x, changed, folds)
        np.testing.assert_array_equal(pred_f[folds == f], pred[folds == f])
        np.testing.assert_array_equal(chosen_f[f], chosen[f])
        assert not np.allclose(pred_f[folds != f], pred[folds != f])


def test_fold_ids():
    for n, k in [(10, 3), (245, 5), (7, 7), (12, 2)]:
        folds = encoding.fold_ids(np.random.default_rng(0), n, k)
        assert folds.dtype == np.int64 and folds.shape == (n,)
        sizes = np.bincount(folds, minlength=k)
        assert sizes.size == k and sizes.sum() == n and sizes.max() - sizes.min() <= 1
    a = encoding.fold_ids(np.random.default_rng(5), 100, 5)
    np.testing.assert_array_equal(a, encoding.fold_ids(np.random.default_rng(5), 100, 5))
    assert not np.array_equal(a, encoding.fold_ids(np.random.default_rng(6), 100, 5))
    for k in (1, 11):
        with pytest.raises(ValueError):
            encoding.fold_ids(np.random.default_rng(0), 10, k)


def test_weighted_correlations_equal_corrcoef_on_repeated_rows(rng):
    n, q, m = 30, 4, 25
    pred, obs = rng.normal(size=(n, q)) + 5, rng.normal(size=(n, q)) * 0.1 + 0.3
    obs[:, 1] += 0.5 * pred[:, 1]
    counts = rng.multinomial(n, np.ones(n) / n, size=m)  # bootstrap counts, with zeros
    counts[0, :] = 0
    counts[0, :2] = 4  # only 2 sounds carry weight
    got = encoding.weighted_correlations(pred, obs, counts)
    assert got.shape == (m, q)
    want = np.array([repeated_corrcoef(pred, obs, c) for c in counts])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert np.all(np.isnan(got[0]))
    np.testing.assert_allclose(encoding.weighted_correlations(pred, obs, counts[3]), want[3], rtol=1e-10)


def test_weighted_correlations_on_masks_equal_the_subset(rng):
    n, q = 40, 3
    pred, obs = rng.normal(size=(n, q)), rng.normal(size=(n, q))
    masks = rng.random((6, n)) < 0.5
    got = encoding.weighted_correlations(pred, obs, masks)
    for mask, row in zip(masks, got):
        for j in range(q):
            assert row[j] == pytest.approx(np.corrcoef(pred[mask, j], obs[mask, j])[0, 1], abs=1e-12)


def test_weighted_correlations_nan_where_undefined(rng):
    n = 20
    pred, obs = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    obs[:, 0] = 0.1 + 0.2  # constant (rounding aside)
    pred[:10, 2] = 0.7  # constant on the first 10 sounds only
    w = np.ones((2, n))
    w[1, 10:] = 0
    w[1, :2] = 3
    with np.errstate(all="raise"):
        got = encoding.weighted_correlations(pred, obs, w)
    assert np.isnan(got[0, 0]) and np.isnan(got[1, 0])
    assert np.isfinite(got[0, 2]) and np.isnan(got[1, 2])
    assert np.all(np.isfinite(got[:, 1]))
    three = np.zeros(n)
    three[[1, 14, 19]] = [1, 2, 1]  # one resample (a vector of weights) -> [q]
    assert np.all(np.isfinite(encoding.weighted_correlations(pred, obs, three)[1:]))
    three[19] = 0
    assert np.all(np.isnan(encoding.weighted_correlations(pred, obs, three)))
    with pytest.raises(ValueError):
        encoding.weighted_correlations(pred, obs, -w)


def test_weighted_correlations_chunked_equals_unchunked(rng, monkeypatch):
    n, q = 25, 3
    pred, obs = rng.normal(size=(n, q)), rng.normal(size=(n, q))
    counts = rng.multinomial(n, np.ones(n) / n, size=17)
    whole = encoding.weighted_correlations(pred, obs, counts)
    for size in (1, 8 * (n + 12 * q) * 3):  # one resample per chunk; three per chunk (17 = 5*3 + 2)
        monkeypatch.setattr(encoding, "CHUNK_BYTES", size)
        # equal up to BLAS's summation order, which may differ with the number of rows in a product
        np.testing.assert_allclose(encoding.weighted_correlations(pred, obs, counts), whole, rtol=1e-12, atol=1e-14)


def test_category_score_and_scored_columns():
    r = np.array([[0.2, np.nan, 0.4, 0.9],
                  [np.nan, np.nan, 0.1, 0.9],
                  [np.nan, np.nan, np.nan, 0.9]])
    scored = np.array([True, True, True, False])
    got = encoding.category_score(r, scored)
    np.testing.assert_allclose(got[:2], [0.3, 0.1])
    assert np.isnan(got[2]) and got.shape == (3,)
    assert encoding.category_score(r[0], scored) == pytest.approx(0.3)
    assert encoding.category_score(r[None], scored).shape == (1, 3)
    obs = np.array([[0.0, 0.5, 1.0, 0.3], [0.0, 0.25, 1.0, 0.1 + 0.2], [0.0, 0.25, 1.0, 0.3]])
    np.testing.assert_array_equal(scored_columns(obs), [False, True, False, False])  # the one rule, the task's
    with pytest.raises(ValueError):
        encoding.category_score(r, scored[:3])


@pytest.mark.parametrize("n, p", [(60, 8), (60, 300), (245, 768), (100, 3)])
def test_fold_fits_choose_ridgecvs_penalties_and_make_its_predictions(n, p):
    """One eigendecomposition per fold gives scikit-learn RidgeCV's leave-one-out choice of each category's
    penalty (its Gram mode, the intercept unpenalised) and its held-out predictions, a constant feature
    included."""
    rng = np.random.default_rng(n + p)
    x, y = rng.normal(size=(n, p)), rng.dirichlet(np.ones(4), size=n)
    y[:, 0] += 0.1 * x[:, 0]
    x[:, 1] = 3.0
    folds = encoding.fold_ids(rng, n, 5)
    pred, alphas = encoding.cross_validated_predictions(x, y, folds)
    fits = encoding.fold_fits(x, y, folds)
    np.testing.assert_array_equal(np.array([f.alphas for f in fits]), alphas)
    np.testing.assert_allclose(encoding.refit_predictions(fits, np.ones(n))[0], pred, atol=1e-10)


def test_refit_predictions_are_the_first_order_change_of_an_exact_weighted_refit(rng):
    """Against scikit-learn's Ridge fitted with sample weights on the fold's standardised features (penalty and
    standardisation those of the fit): at weights 1 the same predictions; for weights 1 + eps d the change of
    the exact refit divided by eps tends to that of `refit_predictions` (first order: error O(eps))."""
    from sklearn.linear_model import Ridge

    n, p, q = 40, 12, 3
    x, y = rng.normal(size=(n, p)), rng.dirichlet(np.ones(q), size=n)
    y[:, 0] += 0.3 * x[:, 0]
    folds = encoding.fold_ids(rng, n, 4)
    pred, alphas = encoding.cross_validated_predictions(x, y, folds)
    fits = encoding.fold_fits(x, y, folds)
    np.testing.assert_allclose(encoding.refit_predictions(fits, np.ones(n))[0], pred, atol=1e-8)
    d = rng.normal(size=n)
    for eps in (1e-3, 1e-5):
        w = 1 + eps * d
        exact = np.empty_like(pred)
        for f in range(4):
            test = folds == f
            z_fit, z_pred = encoding._standardise(x[~test], x[test])
            for c in range(q):
                model = Ridge(alpha=alphas[f, c]).fit(z_fit, y[~test, c], sample_weight=w[~test])
                exact[test, c] = model.predict(z_pred)
        linear = encoding.refit_predictions(fits, w[None])[0]
        change = np.abs((exact - pred) / eps)
        assert np.max(np.abs((linear - pred) / eps - (exact - pred) / eps)) < 50 * eps * max(change.max(), 1)


def test_the_refitted_bootstrap_covers_a_null_score_where_fixed_fits_do_not():
    """No relation between a layer and the proportions: over 120 simulated studies, the 95% percentile
    interval of the bootstrap with every fold refitted (to first order) covers 0 in about 95% of them; with
    the fits fixed, in about 81% (the folds share training sounds: their scores co-vary)."""
    from audioprobe.metrics import resampling

    rng = np.random.default_rng(5)
    n, q, studies = 60, 3, 120
    refit_cover = fixed_cover = 0
    for _ in range(studies):
        x, y = rng.normal(size=(n, 8)), rng.dirichlet(np.ones(q), size=n)
        folds = encoding.fold_ids(rng, n, 5)
        pred, alphas = encoding.cross_validated_predictions(x, y, folds)
        fits = encoding.fold_fits(x, y, folds)
        counts = resampling.bootstrap_counts(rng, n, 300).astype(float)
        refit = encoding.fold_correlations_of_rows(encoding.refit_predictions(fits, counts), y, counts, folds).mean(1)
        fixed = encoding.fold_correlations(pred, y, counts, folds).mean(1)
        for reps, name in ((refit, "refit"), (fixed, "fixed")):
            lo, hi = np.nanquantile(reps, [0.025, 0.975])
            if lo <= 0 <= hi:
                if name == "refit":
                    refit_cover += 1
                else:
                    fixed_cover += 1
    assert refit_cover / studies > 0.9 and fixed_cover / studies < 0.88


def test_a_fold_that_predicts_a_constant_scores_zero_and_the_score_stays_centred():
    """Which folds end with constant predictions (the largest penalty) depends on the other folds'
    observations: leaving them out of the mean biased it (-0.05 at 60 sounds, proportions of 3 categories);
    scored 0 they keep it centred on 0 (300 studies, within 3 standard errors). A fold with fewer than 3
    weighted sounds is left out."""
    rng = np.random.default_rng(3)
    pred = np.tile(np.array([[0.2, 0.3, 0.5]]), (12, 1))
    pred[6:, 0] += np.linspace(0, 1, 6)  # fold 1 varies in column 0 only
    obs = rng.dirichlet(np.ones(3), size=12)
    folds = np.repeat([0, 1], 6)
    r = encoding.fold_correlations(pred, obs, np.ones(12), folds)[0]
    assert r[0] == pytest.approx(np.corrcoef(pred[6:, 0], obs[6:, 0])[0, 1] / 2) and r[1] == r[2] == 0.0
    few = np.ones(12)
    few[:4] = 0  # fold 0 keeps 2 sounds: left out
    assert encoding.fold_correlations(pred, obs, few, folds)[0, 0] == pytest.approx(
        np.corrcoef(pred[6:, 0], obs[6:, 0])[0, 1])
    scores = []
    for _ in range(300):
        x, y = rng.normal(size=(60, 8)), rng.dirichlet(np.ones(3), size=60)
        folds = encoding.fold_ids(rng, 60, 5)
        p, _ = encoding.cross_validated_predictions(x, y, folds)
        scores.append(encoding.fold_correlations(p, y, np.ones(60), folds)[0].mean())
    assert abs(np.mean(scores)) < 3 * np.std(scores) / np.sqrt(len(scores))
