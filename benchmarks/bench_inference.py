"""Benchmark: calibration and power of the paired tests (metrics/inference.py), and their cost.

    python benchmarks/bench_inference.py                      # 2,000 null experiments per design
    python benchmarks/bench_inference.py --experiments 500    # a quick look

One-factor design: in each simulated experiment, n sounds carry a signal s; a target y = s + noise
and two "models" x = s + noise; a model's score is the Pearson r of x with y over the sounds;
replicates come from a bootstrap over the sounds, shared by both models. Under the null the two
models' noises have the same size; for power one model is much less noisy.

Two-factor design: L listeners rate the sounds, y_l = s + g1_l t1 + g2_l t2 + noise, with listener
weights g ~ N(0.5, 0.7^2) on two further features t1, t2 of the sounds; model a carries t1, model
b t2 (x_a = s + t1 + noise, x_b = s + t2 + noise); the score is the Pearson r with the mean
rating. Equal in the population of listeners, different in any finite sample of them: the
listeners must be resampled too (dual bootstrap: both, sounds only, listeners only).

Reports, per design: the false-positive rate of the t-test at alpha 0.05 with its Clopper-Pearson
95% interval, the rate of the bootstrap p-value (reported beside), and power at the stated effect
(the mean difference in r given); for two factors also the rates when only the sounds are
resampled and when both are resampled in one bootstrap with the one-factor variance (rsatoolbox's
eval_bootstrap). Then the time of one `pairwise_table` for 16 models x 1,000 replicates. Prints
ONE JSON line. The data are simulated: this measures the statistics, nothing about hearing.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy import stats as sstats

from audioprobe.metrics import inference, resampling

ALPHA = 0.05


def weighted_corr(w, x, y):
    """Pearson r of x `[m, n]` and y (`[m, n]` or `[m, b, n]`) weighted by w `[m, b, n]` -> `[m, b]`."""
    y = np.broadcast_to(y[:, None] if y.ndim == 2 else y, w.shape)
    sw = w.sum(-1)
    sx, sxx = np.einsum("mbn,mn->mb", w, x), np.einsum("mbn,mn->mb", w, x * x)
    wy = w * y
    sy, syy, sxy = wy.sum(-1), (wy * y).sum(-1), np.einsum("mbn,mn->mb", wy, x)
    return (sxy - sx * sy / sw) / np.sqrt((sxx - sx * sx / sw) * (syy - sy * sy / sw))


def one_factor(rng, m, n, b, noise_a, noise_b, noise_target):
    """Estimates and bootstrap replicates of r_a - r_b for m experiments: `[m]`, `[b, m]`."""
    s = rng.normal(size=(m, n))
    y = s + noise_target * rng.normal(size=(m, n))
    xa, xb = s + noise_a * rng.normal(size=(m, n)), s + noise_b * rng.normal(size=(m, n))
    counts = resampling.bootstrap_counts(rng, n, m * b).reshape(m, b, n).astype(float)
    ones = np.ones((m, 1, n))
    est = weighted_corr(ones, xa, y)[:, 0] - weighted_corr(ones, xb, y)[:, 0]
    return est, (weighted_corr(counts, xa, y) - weighted_corr(counts, xb, y)).T


def two_factor(rng, m, n, n_listeners, b, noise_a, noise_b):
    """Estimates `[m]` and dual-bootstrap replicates {"both", "sounds", "listeners"} `[b, m]`."""
    s, t1, t2 = (rng.normal(size=(m, n)) for _ in range(3))
    g1, g2 = (0.5 + 0.7 * rng.normal(size=(m, n_listeners, 1)) for _ in range(2))
    ratings = s[:, None] + g1 * t1[:, None] + g2 * t2[:, None] + rng.normal(size=(m, n_listeners, n))
    xa, xb = s + t1 + noise_a * rng.normal(size=(m, n)), s + t2 + noise_b * rng.normal(size=(m, n))
    c = resampling.bootstrap_counts(rng, n, m * b).reshape(m, b, n).astype(float)
    w = resampling.bootstrap_counts(rng, n_listeners, m * b).reshape(m, b, n_listeners).astype(float)
    target_w = np.einsum("mbl,mln->mbn", w, ratings) / n_listeners
    target = ratings.mean(axis=1)
    ones = np.ones((m, b, n))

    def diff(weights, y):
        return (weighted_corr(weights, xa, y) - weighted_corr(weights, xb, y)).T

    est = diff(ones[:, :1], target)[0]
    return est, {"both": diff(c, target_w), "sounds": diff(c, target), "listeners": diff(ones, target_w)}


def in_chunks(fn, rng, m, chunk, *args):
    """Run fn for m experiments in chunks (memory), concatenating estimates and replicates."""
    ests, reps = [], []
    for start in range(0, m, chunk):
        e, r = fn(rng, min(chunk, m - start), *args)
        ests.append(e)
        reps.append(r)
    if isinstance(reps[0], dict):
        return np.concatenate(ests), {k: np.concatenate([r[k] for r in reps], axis=1) for k in reps[0]}
    return np.concatenate(ests), np.concatenate(reps, axis=1)


def rate(out, key="p_value"):
    p = np.array([np.nan if v is None else v for v in out[key]], dtype=float)
    k, m = int(np.sum(p < ALPHA)), int(np.isfinite(p).sum())
    ci = sstats.binomtest(k, m).proportion_ci(0.95, method="exact")
    return {"rate": k / m, "ci95": [round(ci.low, 4), round(ci.high, 4)], "n": m}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--experiments", type=int, default=2000, help="simulated experiments per condition")
    ap.add_argument("--sounds", type=int, default=40)
    ap.add_argument("--listeners", type=int, default=10)
    ap.add_argument("--resamples", type=int, default=400, help="bootstrap replicates per experiment")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=250, help="experiments simulated at once (memory)")
    args = ap.parse_args()
    m, n, n_l, b = args.experiments, args.sounds, args.listeners, args.resamples
    rng_one, rng_two, rng_time = resampling.streams(args.seed, 3)
    line = {"experiments": m, "sounds": n, "listeners": n_l, "resamples": b, "alpha": ALPHA, "seed": args.seed}
    start = time.perf_counter()

    est, reps = in_chunks(one_factor, rng_one, m, args.chunk, n, b, 1.0, 1.0, 1.0)
    null = inference.contrast_statistics(est, reps, n_sounds=n)
    est_p, reps_p = in_chunks(one_factor, rng_one, m, args.chunk, n, b, 0.3, 2.0, 0.5)
    power = inference.contrast_statistics(est_p, reps_p, n_sounds=n)
    line["one_factor"] = {
        "null": "x_a = s + N(0,1), x_b = s + N(0,1), y = s + N(0,1); score r(x, y) over sounds",
        "false_positive_t": rate(null), "false_positive_bootstrap_p": rate(null, "p_bootstrap"),
        "effect": "x_a = s + N(0,0.3^2), x_b = s + N(0,2^2), y = s + N(0,0.5^2)",
        "effect_mean_difference_r": round(float(np.mean(est_p)), 4), "power_t": rate(power)["rate"],
        "power_bootstrap_p": rate(power, "p_bootstrap")["rate"],
    }

    est, reps = in_chunks(two_factor, rng_two, m, args.chunk, n, n_l, b, 0.5, 0.5)
    dual = inference.contrast_statistics(est, reps, n_sounds=n, n_listeners=n_l)
    sounds_only = inference.contrast_statistics(est, reps["sounds"], n_sounds=n)
    joint = inference.contrast_statistics(est, reps["both"], n_sounds=n, n_listeners=n_l)
    est_p, reps_p = in_chunks(two_factor, rng_two, m, args.chunk, n, n_l, b, 0.5, 2.0)
    power = inference.contrast_statistics(est_p, reps_p, n_sounds=n, n_listeners=n_l)
    line["two_factor"] = {
        "null": "listener weights g ~ N(0.5, 0.7^2) on t1, t2; x_a = s + t1 + N(0,0.5^2), x_b = s + t2 + N(0,0.5^2)",
        "false_positive_dual_t": rate(dual), "false_positive_dual_bootstrap_p": rate(dual, "p_bootstrap"),
        "false_positive_sounds_only_t": rate(sounds_only), "false_positive_joint_one_factor_t": rate(joint),
        "effect": "x_b noise N(0, 2^2) instead of N(0, 0.5^2)",
        "effect_mean_difference_r": round(float(np.mean(est_p)), 4), "power_dual_t": rate(power)["rate"],
    }
    line["simulation_seconds"] = round(time.perf_counter() - start, 2)

    k, n_rep = 16, 1000
    estimates = np.linspace(0.2, 0.4, k)
    replicates = estimates + rng_time.normal(scale=0.05, size=(n_rep, 1)) + rng_time.normal(scale=0.02,
                                                                                           size=(n_rep, k))
    dual_reps = {key: replicates + rng_time.normal(scale=0.01, size=(n_rep, k)) for key in inference.DUAL_KEYS}
    timings = {}
    for name, r, kw in (("one_factor", replicates, {"n_sounds": 246}),
                        ("dual", dual_reps, {"n_sounds": 246, "n_listeners": 20})):
        inference.pairwise_table(estimates, r, **kw)  # warm (scipy import)
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            inference.pairwise_table(estimates, r, **kw)
            times.append(time.perf_counter() - t0)
        timings[name] = round(float(np.median(times)), 4)
    line["pairwise_table_seconds"] = {"models": k, "replicates": n_rep, **timings}
    print(json.dumps(line))


if __name__ == "__main__":
    main()
