"""Benchmark: one RSA's statistics in numpy (`backends.NUMPY`) against torch (`backend_torch`) on a device.

    python benchmarks/bench_gpu_stats.py --device cuda                  # 3,000 sounds x 13 layers
    python benchmarks/bench_gpu_stats.py --device cpu --sounds 300      # a quick check anywhere

Times, for both, the products `rsa_inference.rsa_statistics` makes for a Pearson RSA: the bootstrap over
sounds with split halves (`weighted_pearson_blocks`, n_bootstrap resamples), the Mantel
permutations (`permuted_pearson`), the cross-validation splits (`weighted_pearson_blocks` on 0/1
halves) and split-half ceiling comparisons (`paired_rows`), on the same draws (the bootstrap's sums on
the halves of each resample, `split_pearson`, stay in numpy: the whole statistic's
numpy and torch times include them); reports the largest absolute
difference of each and, where `rsa_statistics` takes a `backend` (`backend_torch.on(device)`), the whole statistics too. Prints
ONE JSON line. Data are random (not stimuli): this measures speed and agreement only.
"""

from __future__ import annotations

import argparse
import inspect
import json
import platform
import time

import numpy as np
from scipy.spatial.distance import pdist

from audioprobe.metrics import backend_torch, backends, resampling, rsa_inference


def synthetic(n: int, n_layers: int, dim: int, missing: float, seed: int):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 8))
    mix = rng.normal(size=(8, dim))
    x = np.stack([pdist(latent @ mix * (k / n_layers) + rng.normal(size=(n, dim))) for k in range(n_layers)])
    y = pdist(latent[:, :3])
    if missing:
        y[rng.random(y.size) < missing] = np.nan
    return x, y


def timed(fn, sync):
    sync()
    start = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - start, out


def max_diff(a, b) -> float | None:
    a = np.concatenate([np.ravel(v) for v in a]) if isinstance(a, list) else np.ravel(a)
    b = np.concatenate([np.ravel(v) for v in b]) if isinstance(b, list) else np.ravel(b)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return float("inf")
    d = np.abs(a - b)[~np.isnan(a)]
    return float(d.max()) if d.size else None


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="torch device: cpu, cuda, cuda:1")
    ap.add_argument("--sounds", type=int, default=3000)
    ap.add_argument("--layers", type=int, default=13)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--permutations", type=int, default=1000)
    ap.add_argument("--cv-splits", type=int, default=100)
    ap.add_argument("--target-rows", type=int, default=32, help="two-factor replicates (per-resample targets)")
    ap.add_argument("--ceiling-rows", type=int, default=20, help="split-half pairs of target RDMs compared")
    ap.add_argument("--missing", type=float, default=0.0, help="fraction of target pairs made missing (NaN)")
    ap.add_argument("--chunk-bytes", type=int, default=None, help=f"tile budget (default {backend_torch.CHUNK_BYTES})")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not backend_torch.available(args.device):
        raise SystemExit(f"torch cannot compute on {args.device!r} here")
    import torch

    cuda = args.device.startswith("cuda")
    sync = (lambda: torch.cuda.synchronize(args.device)) if cuda else (lambda: None)
    x, y = synthetic(args.sounds, args.layers, args.dim, args.missing, args.seed)
    present = np.isfinite(y)
    mask = None if present.all() else present
    n = args.sounds
    rng_boot, rng_perm, rng_cv, rng_ceil = resampling.streams(args.seed)
    counts = resampling.bootstrap_counts(rng_boot, n, args.bootstrap)
    halves = resampling.random_halves(rng_boot, n, args.bootstrap)
    perms = resampling.random_permutations(rng_perm, n, args.permutations)
    cv = resampling.random_halves(rng_cv, n, args.cv_splits)
    yc = np.where(present, y, np.nanmean(y))  # complete targets for the ceiling
    rows = args.target_rows
    ceil_a = yc + rng_ceil.normal(size=(args.ceiling_rows, y.size)) * np.nanstd(y)
    ceil_b = yc + rng_ceil.normal(size=(args.ceiling_rows, y.size)) * np.nanstd(y)

    impl = backend_torch.on(args.device, args.chunk_bytes)
    # first call on tiny data: CUDA context and kernels load outside the timings
    backend_torch.on(args.device).permuted_pearson(x[:, :45], np.arange(45.0), [np.arange(10), np.arange(10)[::-1]])
    parts = {
        "bootstrap": lambda s: s.weighted_pearson_blocks(x, y, [counts * halves, counts * ~halves], mask),
        "permutations": lambda s: s.permuted_pearson(x, y, perms, mask),
        "cv_splits": lambda s: s.weighted_pearson_blocks(x, y, [cv, ~cv], mask),
        "ceiling_spearman": lambda s: s.paired_rows(ceil_a, ceil_b, "spearman"),
    }
    if cuda:
        torch.cuda.reset_peak_memory_stats(args.device)
    numpy_s, torch_s, diff = {}, {}, {}
    for name, call in parts.items():
        numpy_s[name], ref = timed(lambda: call(backends.NUMPY), lambda: None)
        torch_s[name], got = timed(lambda: call(impl), sync)
        diff[name] = max_diff(ref, got)
    if "backend" in inspect.signature(rsa_inference.rsa_statistics).parameters:  # once it takes backend_torch.on(device)
        kw = dict(comparison="pearson", seed=args.seed, n_bootstrap=args.bootstrap, n_permutations=args.permutations,
                  cv_splits=args.cv_splits, level=0.95)
        numpy_s["rsa_statistics"], ref = timed(lambda: rsa_inference.rsa_statistics(x, y, **kw), lambda: None)
        torch_s["rsa_statistics"], got = timed(lambda: rsa_inference.rsa_statistics(x, y, backend=impl, **kw), sync)
        diff["rsa_statistics"] = max(max_diff(ref[k], got[k]) or 0.0 for k in ref
                                     if np.issubdtype(np.asarray(ref[k]).dtype, np.floating))
    report = {
        "sounds": n, "layers": args.layers, "bootstrap": args.bootstrap, "permutations": args.permutations,
        "cv_splits": args.cv_splits, "target_rows": rows, "ceiling_rows": args.ceiling_rows, "missing": args.missing,
        "device": args.device,
        "device_name": torch.cuda.get_device_name(args.device) if cuda else (platform.processor() or platform.machine()),
        "torch": torch.__version__, "chunk_bytes": args.chunk_bytes or backend_torch.CHUNK_BYTES,
        "numpy_s": {k: round(v, 4) for k, v in numpy_s.items()},
        "torch_s": {k: round(v, 4) for k, v in torch_s.items()},
        "speedup": {k: round(numpy_s[k] / torch_s[k], 2) for k in numpy_s if torch_s[k] > 0},
        "max_abs_diff": diff,
        "peak_gpu_bytes": int(torch.cuda.max_memory_allocated(args.device)) if cuda else None,
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
