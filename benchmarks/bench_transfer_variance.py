"""Benchmark: the variance of a transfer task's balanced accuracy under its resampling plan against the
true sampling variance, for the class-stratified plan the harness uses (`transfer.class_stratified_donors`)
and the sounds bootstrap it replaced (docs/metrics.md, transfer section, "How the test sounds are
resampled").

    python benchmarks/bench_transfer_variance.py            # 4 regimes x 1,000 simulated studies
    python benchmarks/bench_transfer_variance.py --quick    # 150 studies each

THE DATA ARE SIMULATED (random labels and probes); the numbers are about estimators.

Each study draws a test subset of n sounds with random labels over k classes (every class present; at
n = 42 and k = 7, as the 3D test subset, classes of 1 to 3 sounds are common), and a model of 3 layers
whose probes answer from class-independent rates (Dirichlet(0.7) over the classes, so a probe favours a
few; the layers share 60% of their answers), each answer replaced by the true class with probability
rho (rho = 0: the probes ignore the class, the balanced accuracy's truth is 1 / k; rho = 0.4: every
layer's truth is rho + (1 - rho) / k). A second, independent model of the same design gives the paired
null. The harness's own functions compute everything the task computes: the per-layer balanced
accuracy (`transfer.accuracies`), the cross-validated headline over 100 half-splits
(`stats.cross_validated_selection`), its replicates on the first HEADLINE_SPLITS splits of every resample
(`stats.split_held_out`) and their variance with the split noise removed (`intervals.split_variance`),
the t interval on n - 1 dof, and the paired headline test of the two models.

Printed per regime and plan: the replicates' variance over the true variance (mean over studies of each;
the truth is the variance of the estimate around its truth over studies), the coverage of the headline's
t interval and of the first layer's percentile interval, and the paired headline test's rejection rate
(two equal models). One JSON line per regime.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from scipy import stats as st

from audioprobe.metrics import intervals, stats, transfer

PLANS = ("class_stratified", "sounds_bootstrap")
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
        donors = transfer.class_stratified_donors(rng, labels, n_boot)
        flat = correct.reshape(-1, n)
        values = np.stack([transfer.class_stratified_values(c, labels, donors) for c in flat])
        return values.reshape(correct.shape[:-1] + (n_boot, n)), np.ones((1, n))
    return correct[..., None, :], stats.bootstrap_counts(rng, n, n_boot).astype(np.float64)


def one_study(rng, n: int, k: int, rho: float, n_boot: int, n_cv: int, n_layers: int = 3) -> dict:
    """Each plan's headline variance, interval coverage and paired test, and the estimates, in one study."""
    labels, correct = simulate_study(rng, n, k, n_layers, rho)
    truth = rho + (1 - rho) / k
    halves = stats.random_halves(rng, n, n_cv)
    sides = np.stack([halves, ~halves])  # [2, S, n]
    _, on_halves = transfer.accuracies(correct[:, :, None, None, :], labels, sides)  # [M, L, 2, S]
    estimate = np.array([np.mean(stats.cross_validated_selection(h[:, 0].T, h[:, 1].T)[0]) for h in on_halves])
    _, layer0 = transfer.accuracies(correct[:, 0], labels, np.ones((1, n)))  # [M]
    first = sides[:, : stats.HEADLINE_SPLITS]  # [2, K, n]
    t = st.t.ppf(0.975, n - 1)
    out = {"estimate": estimate, "layer0": layer0, "truth": truth}
    for plan in PLANS:
        values, weights = resampled_values(plan, rng, labels, correct, n_boot)  # [M, L, B|1, n], [B|1, n]
        _, half = transfer.accuracies(values[:, :, None, :, None, :], labels,
                                      weights[None, :, None, :] * first[:, None])  # [M, L, 2, B, K]
        reps = np.stack([stats.split_held_out(np.moveaxis(h[:, 0], 0, -1), np.moveaxis(h[:, 1], 0, -1))
                         for h in half])  # [M, B, K]
        var = np.array([intervals.split_variance(r, n_cv) for r in reps]) * n / (n - 1)
        var_diff = intervals.split_variance(reps[0] - reps[1], n_cv) * n / (n - 1)
        _, per_layer = transfer.accuracies(values[:, 0], labels, weights)  # [M, B]
        lo, hi = np.quantile(per_layer, [0.025, 0.975], axis=-1)
        out[plan] = {"var": var, "covers": np.abs(estimate - truth) <= t * np.sqrt(var),
                     "layer_var": np.var(per_layer, axis=-1, ddof=1), "layer_covers": (lo <= truth) & (truth <= hi),
                     "rejects": abs(estimate[0] - estimate[1]) > t * np.sqrt(var_diff)}
    return out


def run_regime(seed: int, n: int, rho: float, studies: int, n_boot: int = 1000, n_cv: int = 100, k: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    runs = [one_study(rng, n, k, rho, n_boot, n_cv) for _ in range(studies)]
    err = np.array([r["estimate"] - r["truth"] for r in runs])
    err_layer = np.array([r["layer0"] - r["truth"] for r in runs])
    out = {}
    for plan in PLANS:
        def mean(key):
            return float(np.mean([r[plan][key] for r in runs]))
        out[plan] = {"headline_var_over_true": round(mean("var") / float(np.mean(err ** 2)), 3),
                     "headline_coverage": round(mean("covers"), 4),
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
                "studies": studies, "resamples": 1000, "cv_splits": 100, "headline_splits": stats.HEADLINE_SPLITS,
                "simulated": True, **run_regime(args.seed + i, n, rho, studies),
                "seconds": round(time.perf_counter() - start, 1)}
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
