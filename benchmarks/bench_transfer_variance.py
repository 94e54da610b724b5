"""Benchmark: the variance of a transfer task's balanced accuracy under three resampling plans against the
true sampling variance: the harness's (`fixed_class_weights`: the sounds bootstrap, every balanced accuracy
under a half or resample weighting each sound by 1 / its class's size on the full set, transfer version 6),
the one before it (`per_resample_classes`: each half or resample's balanced accuracy over the classes it
holds), and a class-stratified plan that was tried and WITHDRAWN (its functions live here, not in the
harness; docs/metrics.md, "Calibration", says why).

    python benchmarks/bench_transfer_variance.py            # 4 regimes x 1,000 simulated studies
    python benchmarks/bench_transfer_variance.py --quick    # 150 studies each

THE DATA ARE SIMULATED (random labels and probes); the numbers are about estimators.

The class-stratified plan (`class_stratified_donors`, `class_stratified_values`): every test class keeps
its size and each slot takes a donor from its own class or, with one pseudo-sound's weight, from the
pool of classes with 2 or more sounds; values are the class mean plus the donor's rescaled within-class
residual. Through the real pipeline (`bench_calibration.py`, line
`calibration/measured/after-d3d56d0-class-stratified-withdrawn.jsonl`) it made table-level claims far
worse: conditional on the classes' sizes, a probe that answers one class everywhere has a balanced
accuracy that is exactly known (variance 0), while its cross-validated headline is biased low (classes
absent from a half are left out of that half's balanced accuracy), so two such headlines differ by a
bias with no variance and compare calls the difference significant.

Each study draws a test subset of n sounds with random labels over k classes (every class present; at
n = 42 and k = 7, classes of 1 to 3 sounds are common), and a model of 3 layers whose probes answer from
class-independent rates (Dirichlet(0.7) over the classes, so a probe favours a few; the layers share
60% of their answers), each answer replaced by the true class with probability rho (rho = 0: the
probes ignore the class, the balanced accuracy's truth is 1 / k; rho = 0.4: every layer's truth is
rho + (1 - rho) / k). A second, independent model of the same design gives the paired null. The
harness's own functions compute what the task computes: the per-layer balanced accuracy
(`probing.accuracies`), the cross-validated headline over 100 half-splits
(`layer_selection.cross_validated_selection`), its replicates on the first HEADLINE_SPLITS splits of every resample
(`layer_selection.split_held_out`) and their variance with the split noise removed (`intervals.split_variance`),
the t interval on n - 1 dof and the Wilson interval on the effective size (`intervals.proportion_interval`,
the harness's headline interval since transfer version 6), and the paired headline test of the two models.

Printed per regime and plan: the replicates' variance over the true variance (mean over studies of each;
the truth is the variance of the estimate around its truth over studies), the coverage of the headline's
t and Wilson intervals and of the first layer's percentile interval, and the paired headline test's
rejection rate (two equal models). One JSON line per regime.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from scipy import stats as st

from audioprobe.metrics import intervals, layer_selection, probing, resampling

#: Weight, in pseudo-sounds, of the pooled within-class variance in each test class's variance
#: (`class_stratified_donors`): one, the least that gives a class of one sound a variance (Jeffreys'
#: prior also weighs one observation).
POOLED_PSEUDO_SOUNDS = 1.0


def class_stratified_donors(rng: np.random.Generator, labels, n_resamples: int,
                            prior: float = POOLED_PSEUDO_SOUNDS) -> np.ndarray | None:
    """The resampling plan of a balanced accuracy: `[n_resamples, n]` donor sounds, one per test sound
    (slot) and resample, or None where no class has 2 sounds (no within-class variance to estimate).

    Why not the sounds bootstrap: a balanced accuracy is a mean of per-class recalls, and with test
    classes of 1-3 sounds (a 3D test subset of about 40 sounds in 7 materials; a half of it in the
    cross-validated headline) a resample of the sounds only switches a small class in and out: it never
    sees the class's own variance (the recall of a class of one sound is 0 or 1 whenever present), so
    intervals of balanced accuracies under-cover (about 0.9 in the calibration benchmark) and paired
    tests over-reject. Here each class keeps its size (inference conditional on the test classes' sizes,
    as for a post-stratified mean: Holt & Smith 1979) and each slot of class c gets a donor: with
    probability (n_c - 1) / (n_c - 1 + prior) a uniform draw among class c's sounds, else a uniform
    draw among the sounds of every class with 2 or more sounds (the pool). `class_stratified_values`
    turns donors into values whose variance per slot is the class's unbiased variance moderated by the
    pooled one, ((n_c - 1) S_c^2 + prior S_pool^2) / (n_c - 1 + prior) (a prior of `prior` degrees
    of freedom, as Smyth 2004 moderates a variance; a class of one sound has the pooled variance:
    Cochran 1977, sec. 5A.12, collapsed strata). Donors depend on the labels and the generator only, so
    every model (and every layer and probe) gets the same plan: comparisons stay paired.
    """
    labels = np.asarray(labels)
    n = labels.size
    _, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    pool = np.flatnonzero(counts[codes] >= 2)
    if not pool.size:
        return None
    donors = np.empty((int(n_resamples), n), dtype=np.int64)
    for c, size in enumerate(counts):
        members = np.flatnonzero(codes == c)
        own = rng.random((int(n_resamples), size)) < (size - 1) / (size - 1 + prior)
        donors[:, members] = np.where(own, members[rng.integers(0, size, (int(n_resamples), size))],
                                      pool[rng.integers(0, pool.size, (int(n_resamples), size))])
    return donors


def class_stratified_values(values, labels, donors: np.ndarray, defined=None) -> np.ndarray:
    """Resampled pseudo-values `[n_resamples, n]` of one array of per-sound values (a probe's correctness)
    on the plan `donors` (`class_stratified_donors`).

    Slot i of class c takes its class mean plus the donor's rescaled within-class residual:
    m_c + sqrt(n_j / (n_j - 1)) (v_j - m_j), j its donor, m and n the donor class's mean and size. The
    rescaling makes a class's mean square of residuals its unbiased variance, so the balanced accuracy's
    replicates have variance sum_c var_c / (k^2 n_c) with the moderated var_c of the plan, and mean its
    estimate (every class's residuals sum to 0): percentile intervals stay centred. Residuals of two
    arrays on the same donors keep their within-class covariance (paired comparisons). defined `[n]`
    bool: the sounds that have a value (matched probes): means and residuals over those, an undefined
    donor adds no residual (its slot takes its class mean), and undefined slots are to be weighed 0.
    """
    v = np.asarray(values, dtype=np.float64)
    labels = np.asarray(labels)
    ok = np.ones(v.shape, dtype=bool) if defined is None else np.asarray(defined, dtype=bool)
    _, codes, _ = np.unique(labels, return_inverse=True, return_counts=True)
    k = codes.max() + 1
    size = np.bincount(codes, weights=ok.astype(np.float64), minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(codes, weights=np.where(ok, v, 0.0), minlength=k) / size
        scale = np.sqrt(np.where(size >= 2, size / (size - 1), 0.0))
    mean = np.where(size > 0, mean, 0.0)
    residual = np.where(ok, scale[codes] * (np.where(ok, v, 0.0) - mean[codes]), 0.0)
    return mean[codes][None, :] + residual[donors]


#: the harness's plan (fixed_class_weights: the sounds bootstrap, every balanced accuracy with its classes'
#: weights fixed on the full set, Wilson headline intervals), the one before it (per_resample_classes: each
#: half or resample's balanced accuracy over the classes it holds), and the withdrawn class-stratified plan
PLANS = ("fixed_class_weights", "per_resample_classes", "class_stratified")
REGIMES = {"null-42": (42, 0.0), "signal-42": (42, 0.4), "null-24": (24, 0.0), "signal-24": (24, 0.4)}


def simulate_study(rng: np.random.Generator, n: int, k: int, n_layers: int, rho: float, n_models: int = 2):
    """(labels `[n]`, correctness `[n_models, n_layers, n]`): every class present; see the module docstring."""
    while True:
        labels = rng.integers(0, k, n)
        if np.unique(labels).size == k:
            break
    correct = np.empty((n_models, n_layers, n))
    for m in range(n_models):
        base = rng.choice(k, n, p=rng.dirichlet(np.full(k, 0.7)))
        for layer in range(n_layers):
            own = rng.choice(k, n, p=rng.dirichlet(np.full(k, 0.7)))
            pred = np.where(rng.random(n) < 0.6, base, own) if layer else base
            pred = np.where(rng.random(n) < rho, labels, pred)
            correct[m, layer] = pred == labels
    return labels, correct


def resampled_values(plan: str, rng: np.random.Generator, labels: np.ndarray, correct: np.ndarray, n_boot: int):
    """(values, weights) of every array of correctness `[..., n]` on one plan: `[..., B, n]` and `[B, n]`."""
    n = labels.size
    if plan == "class_stratified":
        donors = class_stratified_donors(rng, labels, n_boot)
        flat = correct.reshape(-1, n)
        values = np.stack([class_stratified_values(c, labels, donors) for c in flat])
        return values.reshape(correct.shape[:-1] + (n_boot, n)), np.ones((1, n))
    return correct[..., None, :], resampling.bootstrap_counts(rng, n, n_boot).astype(np.float64)


def one_study(rng, n: int, k: int, rho: float, n_boot: int, n_cv: int, n_layers: int = 3) -> dict:
    """Each plan's headline variance, interval coverage and paired test, and the estimates, in one study."""
    labels, correct = simulate_study(rng, n, k, n_layers, rho)
    truth = rho + (1 - rho) / k
    halves = resampling.random_halves(rng, n, n_cv)
    sides = np.stack([halves, ~halves])  # [2, S, n]
    fixed = probing.class_weights(labels)
    first = sides[:, : resampling.HEADLINE_SPLITS]  # [2, K, n]
    t = st.t.ppf(0.975, n - 1)
    out = {"truth": truth}
    for plan in PLANS:
        cw = fixed if plan == "fixed_class_weights" else None
        _, on_halves = probing.accuracies(correct[:, :, None, None, :], labels, sides, cw)  # [M, L, 2, S]
        estimate = np.array([np.mean(layer_selection.cross_validated_selection(h[:, 0].T, h[:, 1].T)[0])
                             for h in on_halves])
        _, layer0 = probing.accuracies(correct[:, 0], labels, np.ones((1, n)), cw)  # [M]
        values, weights = resampled_values(plan, rng, labels, correct, n_boot)  # [M, L, B|1, n], [B|1, n]
        _, half = probing.accuracies(values[:, :, None, :, None, :], labels,
                                      weights[None, :, None, :] * first[:, None], cw)  # [M, L, 2, B, K]
        reps = np.stack([layer_selection.split_held_out(np.moveaxis(h[:, 0], 0, -1), np.moveaxis(h[:, 1], 0, -1))
                         for h in half])  # [M, B, K]
        var = np.array([intervals.split_variance(r, n_cv) for r in reps]) * n / (n - 1)
        var_diff = intervals.split_variance(reps[0] - reps[1], n_cv) * n / (n - 1)
        _, per_layer = probing.accuracies(values[:, 0], labels, weights, cw)  # [M, B]
        lo, hi = np.quantile(per_layer, [0.025, 0.975], axis=-1)
        wilson = intervals.proportion_interval(estimate, var, n - 1, intervals.kish_size(fixed))
        out[plan] = {"estimate": estimate, "layer0": layer0, "var": var,
                     "covers": np.abs(estimate - truth) <= t * np.sqrt(var),
                     "wilson_covers": (wilson[:, 0] <= truth) & (truth <= wilson[:, 1]),
                     "layer_var": np.var(per_layer, axis=-1, ddof=1), "layer_covers": (lo <= truth) & (truth <= hi),
                     "rejects": abs(estimate[0] - estimate[1]) > t * np.sqrt(var_diff)}
    return out


def run_regime(seed: int, n: int, rho: float, studies: int, n_boot: int = 1000, n_cv: int = 100, k: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    runs = [one_study(rng, n, k, rho, n_boot, n_cv) for _ in range(studies)]
    out = {}
    for plan in PLANS:
        err = np.array([r[plan]["estimate"] - r["truth"] for r in runs])
        err_layer = np.array([r[plan]["layer0"] - r["truth"] for r in runs])

        def mean(key):
            return float(np.mean([r[plan][key] for r in runs]))
        out[plan] = {"headline_var_over_true": round(mean("var") / float(np.mean(err ** 2)), 3),
                     "headline_coverage": round(mean("covers"), 4),
                     "headline_wilson_coverage": round(mean("wilson_covers"), 4),
                     "layer_var_over_true": round(mean("layer_var") / float(np.mean(err_layer ** 2)), 3),
                     "layer_coverage": round(mean("layer_covers"), 4),
                     "paired_headline_rejects": round(mean("rejects"), 4)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--studies", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="150 studies per regime")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    studies = 150 if args.quick else args.studies
    for i, (name, (n, rho)) in enumerate(REGIMES.items()):
        start = time.perf_counter()
        line = {"benchmark": "transfer_variance", "regime": name, "n_test": n, "classes": 7, "rho": rho,
                "studies": studies, "resamples": 1000, "cv_splits": 100, "headline_splits": resampling.HEADLINE_SPLITS,
                "simulated": True, **run_regime(args.seed + i, n, rho, studies),
                "seconds": round(time.perf_counter() - start, 1)}
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
