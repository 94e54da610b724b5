"""Does a bootstrap of listeners overstate the listener noise of an RSA score, as a bootstrap of sounds
overstates the pairs' noise? One JSON line.

    python benchmarks/bench_listener_variance.py                 # complete null: listeners at random
    python benchmarks/bench_listener_variance.py --rho 0.6       # listeners name a latent category

SIMULATED DATA. The sounds and the model RDM are fixed (n sounds, Gaussian features, cosine distances);
only the panel of listeners changes: each of `--listeners` answers one of K categories per sound, at
random or, with probability rho, the sound's latent category. The target is the symmetric KL of the
smoothed response distributions (as the harness's `kl` target, smoothing 0.5, written here on its own
so the check is independent of the harness). The truth is the variance of the Pearson RSA score over
`--panels` new panels; the bootstrap's is the mean, over the first `--boot-panels` of them, of the
variance over `--bootstrap` resamples of the panel's listeners. `corrected` applies the sounds' pair-
noise rule (the replicates' residual on the listener counts, removed twice) to listeners, to show
whether that rule would carry over (docs/metrics.md, "Calibration").
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sounds", type=int, default=120)
    ap.add_argument("--listeners", type=int, default=17)
    ap.add_argument("--categories", type=int, default=3)
    ap.add_argument("--rho", type=float, default=0.0)
    ap.add_argument("--panels", type=int, default=150)
    ap.add_argument("--boot-panels", type=int, default=60)
    ap.add_argument("--bootstrap", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    n, n_l, k = args.sounds, args.listeners, args.categories
    latent = rng.integers(0, k, n)
    feats = rng.standard_normal((n, 32)) + 1.5 * np.eye(k)[latent] @ rng.standard_normal((k, 32))
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    iu = np.triu_indices(n, 1)
    model = (1.0 - feats @ feats.T)[iu]

    def score(answers: np.ndarray, weights: np.ndarray) -> float:
        counts = np.zeros((n, k))
        for l in np.flatnonzero(weights):
            np.add.at(counts, (np.arange(n), answers[l]), weights[l])
        p = (counts + 0.5) / (counts.sum(axis=1, keepdims=True) + 0.5 * k)
        kl = (p[:, None, :] * (np.log(p)[:, None, :] - np.log(p)[None, :, :])).sum(-1)
        return float(np.corrcoef(model, (kl + kl.T)[iu])[0, 1])

    estimates, boot, corrected = [], [], []
    for panel in range(args.panels):
        answers = np.where(rng.random((n_l, n)) < args.rho, latent[None], rng.integers(0, k, (n_l, n)))
        estimates.append(score(answers, np.ones(n_l)))
        if panel < args.boot_panels:
            draws = rng.multinomial(n_l, np.full(n_l, 1.0 / n_l), size=args.bootstrap)
            reps = np.array([score(answers, w) for w in draws])
            beta, *_ = np.linalg.lstsq(draws, reps, rcond=None)  # the constant is in the span (rows sum to L)
            rank = np.linalg.matrix_rank(draws)
            noise = np.var(reps - draws @ beta, ddof=1) * (args.bootstrap - 1) / (args.bootstrap - rank)
            v = np.var(reps, ddof=1)
            boot.append(v)
            corrected.append(max(v - 2 * noise, v / 3))
    true = float(np.var(estimates, ddof=1))
    print(json.dumps({"benchmark": "listener_variance", "simulated": True, "sounds": n, "listeners": n_l,
                      "categories": k, "rho": args.rho, "panels": args.panels, "boot_panels": args.boot_panels,
                      "bootstrap": args.bootstrap, "mean_score": round(float(np.mean(estimates)), 4),
                      "true_variance": true, "bootstrap_over_true": round(float(np.mean(boot)) / true, 3),
                      "corrected_over_true": round(float(np.mean(corrected)) / true, 3),
                      "truth_relative_se": round(float(np.sqrt(2.0 / (args.panels - 1))), 3),
                      "elapsed_s": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
