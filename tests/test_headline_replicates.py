"""The cross-validated headline's replicates carry the headline's own statistic.

Independent expectation: over many simulated studies (new sounds each time, drawn from one population),
the headline's standard error estimated from one study's replicates must match the spread of the headline
across studies, and the paired headline test must reject at alpha when two models are equal in the
population. One random split per resample (the earlier replicates) overstated the standard error about
twofold; those replicates are rebuilt here from the same engine to show that the check can fail.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sstats
from scipy.spatial.distance import pdist

from audioprobe.metrics import inference, pearson, resampling, rsa_inference, split_pearson


def study(rng, n=40, n_layers=4, noise=(1.0, 1.2, 1.5, 2.0), d=5):
    """One study: n sounds with latent features; the target RDM from noisy features, one model whose
    layers see the features through more or less noise."""
    latent = rng.normal(size=(n, d))
    target = pdist(latent + 1.0 * rng.normal(size=latent.shape))
    layers = np.stack([pdist(latent + s * rng.normal(size=latent.shape)) for s in noise[:n_layers]])
    return layers, target


def headline_and_se(layers, target, seed, n_bootstrap=200, cv_splits=20):
    out = rsa_inference.rsa_statistics(layers, target, "pearson", seed, n_bootstrap, 0, cv_splits, 0.95)
    ok = np.isfinite(out["cv_scores"])
    value = float(np.mean(out["cv_scores"][ok]))
    n = split_pearson.n_items(target.size)
    st = inference.contrast_statistics(value, inference.Splits(out["cv_bootstrap"], cv_splits), n_sounds=n)
    return value, st["se"], out


def test_headline_standard_error_matches_its_spread_over_studies():
    rng = np.random.default_rng(11)
    values, ses, one_split = [], [], []
    for k in range(150):
        layers, target = study(rng)
        value, se, out = headline_and_se(layers, target, seed=k)
        values.append(value)
        ses.append(se)
        # the earlier replicates: one random half-split per resample (the column of a single split)
        one_split.append(np.std(out["cv_bootstrap"][:, 0], ddof=1))
    spread = np.var(values, ddof=1)
    ratio = np.mean(np.square(ses)) / spread
    assert 0.75 < ratio < 1.33, ratio
    assert np.mean(np.square(one_split)) / spread > 1.8  # one split per resample: far too wide


@pytest.mark.slow
def test_paired_headline_test_is_calibrated_when_two_models_are_equal():
    """Two models with the same population alignment (their layers the same noise levels, independent noise):
    the paired test of their headlines on shared resamples rejects at about alpha."""
    rng = np.random.default_rng(5)
    m, n, b, cv = 300, 40, 200, 20
    p_values = []
    for k in range(m):
        latent = rng.normal(size=(n, 5))
        target = pdist(latent + rng.normal(size=latent.shape))
        models = [np.stack([pdist(latent + s * rng.normal(size=latent.shape)) for s in (1.0, 1.5, 2.0)])
                  for _ in range(2)]
        runs = [rsa_inference.rsa_statistics(x, target, "pearson", k, b, 0, cv, 0.95) for x in models]
        est = [float(np.nanmean(r["cv_scores"])) for r in runs]
        out = inference.paired_difference(est[0], est[1], *(inference.Splits(r["cv_bootstrap"], cv) for r in runs),
                                          n_sounds=n)
        p_values.append(out["p_value"])
    rate = np.mean(np.array(p_values) < 0.05)
    lo, hi = sstats.binom.interval(0.999, m, 0.05)
    assert lo / m <= rate <= hi / m, rate


def test_split_replicates_are_the_held_out_scores_of_fixed_splits():
    """Replicate (b, k): the layer picked on one half of split k of resample b, scored on the other, both ways,
    averaged; the K splits are the estimate's first K, the same in every resample (written out with explicit
    weights here)."""
    rng = np.random.default_rng(2)
    layers, target = study(rng, n=24, n_layers=3)
    out = rsa_inference.rsa_statistics(layers, target, "pearson", 4, 30, 0, 10, 0.95)
    halves = resampling.random_halves(resampling.streams(4)[2], 24, 10)[:resampling.HEADLINE_SPLITS]
    counts = out["bootstrap_counts"]
    assert out["cv_bootstrap"].shape == (30, resampling.HEADLINE_SPLITS)
    for b in (0, 7, 29):
        for k in range(resampling.HEADLINE_SPLITS):
            a = pearson.weighted_pearson(layers, target, [counts[b] * halves[k]])[0]
            z = pearson.weighted_pearson(layers, target, [counts[b] * ~halves[k]])[0]
            expected = 0.5 * (z[np.argmax(a)] + a[np.argmax(z)])
            assert out["cv_bootstrap"][b, k] == pytest.approx(expected, abs=1e-12)


def test_split_sums_equal_explicit_resampled_pairs():
    """split_pearson's parts (the whole resample, both halves of each split) against Pearson r of the explicitly
    expanded pairs, with a fixed target and with a target per resample (two-factor)."""
    rng = np.random.default_rng(1)
    n, n_layers, k, m = 22, 3, 3, 4
    x, y = rng.normal(size=(n_layers, n * (n - 1) // 2)), rng.normal(size=n * (n - 1) // 2)
    targets = rng.normal(size=(m, y.size))
    counts = resampling.bootstrap_counts(rng, n, m).astype(float)
    halves = resampling.random_halves(rng, n, k)
    xs = pearson.standardised(x)
    fixed = split_pearson.pearson_parts(split_pearson.split_sums(xs, pearson.standardised(y), counts, halves))
    sums = split_pearson.split_sums(xs, None, counts, halves)
    sums.update(split_pearson.target_split_sums(split_pearson.PairParts(xs, halves), pearson.standardised(targets),
                                                counts))
    per_row = split_pearson.pearson_parts(sums)
    i, j = np.triu_indices(n, 1)
    for b in range(m):
        parts = [counts[b]] + [counts[b] * h for half in halves for h in (half, ~half)]
        for p, w in enumerate(parts):
            reps = (w[i] * w[j]).astype(int)
            for layer in range(n_layers):
                xx = np.repeat(x[layer], reps)
                assert fixed[b, p, layer] == pytest.approx(np.corrcoef(xx, np.repeat(y, reps))[0, 1], abs=1e-12)
                assert per_row[b, p, layer] == pytest.approx(np.corrcoef(xx, np.repeat(targets[b], reps))[0, 1],
                                                             abs=1e-12)


def test_resampled_scores_with_missing_pairs_are_undefined_below_two_drawn_pairs():
    """A target with unrated pairs (NaN): each resample's score is Pearson r over the rated pairs of distinct
    drawn sounds (pair weight w_i w_j), and undefined (NaN) where the drawn sounds hold fewer than two rated
    pairs, however many distinct sounds were drawn. Written out pair by pair here."""
    rng = np.random.default_rng(8)
    n = 8
    layers, target = study(rng, n=n, n_layers=2)
    i, j = np.triu_indices(n, 1)
    rated = np.isin(i, [0, 2, 4, 6]) & (j == i + 1)  # four disjoint rated pairs, and three more
    rated |= ((i == 0) & (j == 2)) | ((i == 5) & (j == 7)) | ((i == 1) & (j == 6))
    target = np.where(rated, target, np.nan)
    out = rsa_inference.rsa_statistics(layers, target, "pearson", 3, 300, 0, 0, 0.95)
    counts = out["bootstrap_counts"]
    one_pair = 0
    for b in range(counts.shape[0]):
        w = (counts[b][i] * counts[b][j])[rated]
        drawn = np.count_nonzero(w)
        if drawn < 2:
            one_pair += drawn == 1 and np.count_nonzero(counts[b]) >= 3
            assert np.isnan(out["bootstrap"][b]).all(), b
            continue
        reps = w.astype(int)
        for layer in range(2):
            want = np.corrcoef(np.repeat(layers[layer][rated], reps), np.repeat(target[rated], reps))[0, 1]
            assert out["bootstrap"][b, layer] == pytest.approx(want, abs=1e-10)
    assert one_pair >= 5  # the case that matters occurs: three or more sounds, one rated pair among them
