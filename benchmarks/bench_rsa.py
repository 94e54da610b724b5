"""Benchmark: one RSA task with full statistics against rsatoolbox's bootstrap on the same data.

    python benchmarks/bench_rsa.py                 # 13 layers x 246 sounds, with rsatoolbox
    python benchmarks/bench_rsa.py --sounds 3000 --no-rsatoolbox --resample sounds --reference

--reference evaluates the task a second time with the large-set paths switched off (the
noise ceiling from formed RDMs, the Mantel test in numpy, the CV splits in their own pass) and
reports the ratio and the largest difference of any number in the two results.

Times (1) the whole `rsa` task evaluation (model RDMs, 1,000 bootstrap resamples of the sounds,
1,000 Mantel permutations, 100 cross-validation splits, 100 split-half ceiling splits) and (2)
our bootstrap alone, on the very resamples that rsatoolbox's `eval_bootstrap_pattern` draws
(captured by wrapping its `bootstrap_sample_pattern`), then times rsatoolbox on them and checks
that both give the same per-resample scores and the same percentile interval. Prints ONE JSON
line. Data are random (not stimuli): this measures speed and agreement, nothing about hearing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import time

import numpy as np

from audioprobe.metrics import geometry, intervals, pearson, resampling, targets
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes import TASK_TYPES, EvalContext
from audioprobe.tasktypes.rsa.params import RSA_PARAMS
from audioprobe.tasktypes.rsa.rdms import target_rdm


def synthetic(n_sounds: int, n_layers: int, dim: int, n_listeners: int, n_categories: int, seed: int):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n_sounds, 8))
    responses = {"material": np.argmax(latent[None, :, :n_categories] + rng.normal(size=(n_listeners, n_sounds,
                                                                                    n_categories)), axis=2)}
    cats = {"material": [f"c{k}" for k in range(n_categories)]}
    s = StimulusSet(name="bench", sound_ids=[f"s{i}" for i in range(n_sounds)], dimensions=cats,
                    labels={}, judgments={}, load_audio=lambda i: (np.zeros(16, np.float32), 16000),
                    listeners=[f"l{i}" for i in range(n_listeners)], responses=responses, synthetic=True)
    s.judgments = s.counts_from_responses()
    mix = rng.normal(size=(8, dim))
    acts = {f"layer{k:02d}": (latent @ mix * (k / n_layers) + rng.normal(size=(n_sounds, dim))).astype(np.float32)
            for k in range(n_layers)}
    return s, {"mean": acts}


def run_task(s, acts, seed, resample="auto"):
    params = {k: v.default for k, v in RSA_PARAMS.items()}
    params["dimensions"] = "material"  # target kl, cosine, pearson; 1000 / 1000 / 100 / 100 by default
    params["resample"] = resample  # auto: sounds+listeners here (17 simulated listeners)
    ctx = EvalContext("bench", seed, None)
    start = time.perf_counter()
    out = TASK_TYPES["rsa"].evaluate(acts, s, params, ctx)
    return time.perf_counter() - start, out, params


@contextlib.contextmanager
def reference_paths():
    """The task as before the large-set paths: every one switched off (their results must agree)."""
    from audioprobe.metrics import kernels

    saved = kernels.MIN_SOUNDS, pearson.SMALL_PROBLEM_SOUNDS, targets.FACTORED, kernels.available
    kernels.MIN_SOUNDS, targets.FACTORED = 10 ** 9, {}
    kernels.available = lambda: False  # the two-factor bootstrap's sums in numpy too
    pearson.SMALL_PROBLEM_SOUNDS = 10 ** 9  # also keeps the CV splits out of the bootstrap's pass
    try:
        yield
    finally:
        kernels.MIN_SOUNDS, pearson.SMALL_PROBLEM_SOUNDS, targets.FACTORED, kernels.available = saved


def largest_difference(a, b) -> float:
    """The largest absolute difference between the numbers of two results (timing and RDM references aside)."""
    if isinstance(a, dict):
        return max([largest_difference(a[k], b[k]) for k in a if k not in ("timing", "rdms")] or [0.0])
    if isinstance(a, (list, tuple)):
        return max([largest_difference(u, v) for u, v in zip(a, b)] or [0.0])
    if isinstance(a, float) and isinstance(b, float):
        return 0.0 if (np.isnan(a) and np.isnan(b)) else abs(a - b)
    return 0.0 if a == b else float("inf")


def rsatoolbox_bootstrap(model_rdms, target, n_boot, seed):
    """rsatoolbox's eval_bootstrap_pattern ('corr' = Pearson), recording the resampled patterns."""
    import rsatoolbox.inference.evaluate as ev
    from rsatoolbox.model import ModelFixed
    from rsatoolbox.rdm import RDMs

    drawn = []
    original = ev.bootstrap_sample_pattern

    def recording(rdms, pattern_descriptor="index"):
        sample, idx = original(rdms, pattern_descriptor)
        drawn.append(np.array(idx))
        return sample, idx

    models = [ModelFixed(f"layer{k}", row) for k, row in enumerate(model_rdms)]
    data = RDMs(target[None, :])
    np.random.seed(seed)
    ev.bootstrap_sample_pattern = recording
    try:
        start = time.perf_counter()
        result = ev.eval_bootstrap_pattern(models, data, method="corr", N=n_boot, boot_noise_ceil=False)
        elapsed = time.perf_counter() - start
    finally:
        ev.bootstrap_sample_pattern = original
    return elapsed, result.evaluations.reshape(n_boot, -1), np.stack(drawn)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sounds", type=int, default=246)
    ap.add_argument("--layers", type=int, default=13)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-rsatoolbox", action="store_true")
    ap.add_argument("--reference", action="store_true", help="also run with the large-set paths off; ratio, difference")
    ap.add_argument("--resample", choices=("auto", "sounds", "sounds+listeners"), default="auto",
                    help="what the bootstrap resamples (auto: sounds and listeners on these data)")
    args = ap.parse_args()
    s, acts = synthetic(args.sounds, args.layers, args.dim, 17, 7, args.seed)
    run_task(s, {"mean": dict(list(acts["mean"].items())[:1])}, args.seed, args.resample)  # warm-up
    task_s, out, params = run_task(s, acts, args.seed, args.resample)
    line = {
        "sounds": args.sounds, "layers": args.layers, "dim": args.dim, "bootstrap": params["bootstrap"],
        "permutations": params["permutations"], "cv_splits": params["cv_splits"],
        "ceiling_splits": params["ceiling_splits"], "resampled": out["statistics"]["resampled"],
        "task_s": round(task_s, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_avg_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
    }
    if args.reference:
        with reference_paths():
            reference_s, reference_out, _ = run_task(s, acts, args.seed, args.resample)
        line.update(reference_task_s=round(reference_s, 4), ratio_vs_reference=round(reference_s / task_s, 2),
                    max_abs_diff_vs_reference=largest_difference(reference_out, out))
    if not args.no_rsatoolbox:
        target = target_rdm(s, params, "bench")
        model_rdms = np.stack([geometry.model_rdm(x, "cosine") for x in acts["mean"].values()])
        toolbox_s, toolbox_evals, drawn = rsatoolbox_bootstrap(model_rdms, target, params["bootstrap"], args.seed)
        start = time.perf_counter()
        ours = pearson.weighted_pearson(model_rdms, target, resampling.counts_from_draws(drawn, args.sounds))
        ours_s = time.perf_counter() - start
        ours_ci = intervals.percentile_interval(ours, params["ci_level"])
        toolbox_ci = intervals.percentile_interval(toolbox_evals, params["ci_level"])
        line.update({
            "ours_bootstrap_s": round(ours_s, 4), "rsatoolbox_bootstrap_s": round(toolbox_s, 3),
            "ratio_bootstrap": round(toolbox_s / ours_s, 1), "ratio_vs_whole_task": round(toolbox_s / task_s, 1),
            "max_abs_diff_scores": float(np.nanmax(np.abs(ours - toolbox_evals))),
            "max_abs_diff_ci": float(np.nanmax(np.abs(ours_ci - toolbox_ci))),
        })
    line["load_avg_1min_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(line))


if __name__ == "__main__":
    main()
