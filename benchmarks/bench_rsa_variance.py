"""Benchmark: how far the sounds bootstrap's variance of an RSA score is from the true sampling variance,
and the harness's correction (`intervals.pair_noise_variance`, used by every RSA-family interval and
comparison) and a U-statistic variance estimator beside it (docs/metrics.md, RSA section).

    python benchmarks/bench_rsa_variance.py              # 5 regimes x 200 simulated studies, 120 sounds
    python benchmarks/bench_rsa_variance.py --quick      # 60 studies each

THE DATA ARE SIMULATED (Gaussian features and simulated listeners); the numbers are about estimators.

Why. A correlation over the pairs of n sounds is (to first order) a U-statistic of order 2 in the sounds
(Hoeffding 1948): with h the influence of a pair on r, h1(i) its mean over the partners of sound i and
h2 the rest, Var(r) ~ 4 s1^2 / n + 2 s2^2 / n^2 (s1^2 = Var h1, s2^2 = Var h2). A bootstrap of sounds
weights pair (i, j) by c_i c_j (c ~ multinomial counts), and Var(c_i c_j) = 3 where Var(c_i) = 1: it
reproduces the first term and triples the second. Where the second term matters (no per-sound
structure in the target; the difference of two layers of one model, whose per-sound terms mostly
cancel) the bootstrap overstates the variance and its tests lose level and power.

Regimes (each study draws new sounds; the truth is the variance of the estimate over studies):
- null-unreliable: features and target unrelated, the target from 17 listeners answering at random
  over 7 categories (symmetric KL of their answer distributions): the benchmark's complete null;
- null-reliable: features unrelated to a target that listeners agree on (each sound's category named
  with probability 0.8);
- aligned: the features carry the category (RSA about 0.1 to 0.2);
- layer-difference: layer B minus layer A of one model (the same features plus independent noise of
  SD 3 and 1.5 per dimension), against the reliable aligned target: a depth-type contrast;
- equal-models: two models equal in distribution (the same features plus independent noise of SD 1.5
  each), their difference against the aligned target (truth 0).

For the two differences, the U-statistic estimate is also formed as compare would have to form it from
two result files: each result keeps h1_hat, the residual's sum of squares and a CountSketch of the
residual over the pairs (the same buckets and signs for every result on a set), and the residuals'
cross-product comes from the sketches (`u_statistic_sketch<m>`).

Estimators of Var(r): the bootstrap over sounds (B resamples, pair weights c_i c_j, the harness's
convention, times n / (n - 1)); the harness's corrected bootstrap variance (`pair_corrected`: the same
replicates through `inference.contrast_statistics` with `inference.OverPairs`, i.e. twice the replicates'
residual variance on the resamples' counts removed, `intervals.pair_noise_variance`); the influence (jackknife-type) estimate 4 var(h1_hat) / n; and the
U-statistic estimate 4 (var(h1_hat) - s2_hat^2 / (n - 2)) / n + s2_hat^2 / P (`u_variances`), which
removes the pairs' own noise from h1_hat's variance (h1_hat, from means over n - 1 partners, carries
s2^2 / (n - 2) of it) and counts it once. Printed:
each estimator's mean over studies divided by the true variance, and the coverage of the 95% normal
interval around the estimate (of the mean over studies). One JSON line per regime.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib

import numpy as np


def pair_index(n: int):
    return np.triu_indices(n, 1)


def cosine_rdm(f: np.ndarray, iu) -> np.ndarray:
    g = f / np.linalg.norm(f, axis=1, keepdims=True)
    return (1.0 - g @ g.T)[iu]


def kl_rdm(p: np.ndarray, iu) -> np.ndarray:
    p = np.clip(p, 1e-3, None)
    p = p / p.sum(1, keepdims=True)
    lp = np.log(p)
    ent = (p * lp).sum(1)
    d = ent[:, None] + ent[None] - p @ lp.T - lp @ p.T  # symmetric KL
    return d[iu]


def weighted_r(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pearson r over pairs with pair weights w `[B, P]` -> `[B]`."""
    s = w.sum(1)
    mx, my = w @ x / s, w @ y / s
    cxy = w @ (x * y) / s - mx * my
    cxx = w @ (x * x) / s - mx ** 2
    cyy = w @ (y * y) / s - my ** 2
    return cxy / np.sqrt(cxx * cyy)


def influence(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each pair's influence on Pearson r over the pairs (r - r0 ~ mean of it)."""
    xs, ys = (x - x.mean()) / x.std(), (y - y.mean()) / y.std()
    r = np.mean(xs * ys)
    return xs * ys - r * (xs ** 2 + ys ** 2) / 2.0


def u_variances(h: np.ndarray, n: int, iu) -> tuple[float, float]:
    """(influence estimate, U-statistic estimate) of Var(mean of h over the pairs), from the pair values h.

    With h(i, j) = mu + g(i) + g(j) + e(i, j) (Hoeffding's decomposition; Var g = s1^2, Var e = s2^2), the
    mean over the P = n (n - 1) / 2 pairs has variance 4 s1^2 / n + s2^2 / P. The sample's row means,
    rescaled, h1_hat(i) = (n - 1) / (n - 2) (mean_j h(i, j) - mean h), have E var(h1_hat) = s1^2 +
    s2^2 / (n - 2); the residual of the additive fit has P - n degrees of freedom and estimates s2^2.
    Influence estimate: 4 var(h1_hat) / n (the jackknife-type one, the pairs' noise counted twice);
    U-statistic estimate: 4 (var(h1_hat) - s2_hat^2 / (n - 2)) / n + s2_hat^2 / P.
    """
    m = np.zeros((n, n))
    m[iu] = h
    m = m + m.T
    grand = float(h.mean())
    h1 = (n - 1) / (n - 2) * (m.sum(1) / (n - 1) - grand)
    resid = h - grand - h1[iu[0]] - h1[iu[1]]
    p = h.size
    s2 = float((resid ** 2).sum() / (p - n))
    var1 = float(np.var(h1, ddof=1))
    return 4.0 * var1 / n, 4.0 * (var1 - s2 / (n - 2)) / n + s2 / p


def decompose(h: np.ndarray, n: int, iu) -> tuple[np.ndarray, np.ndarray]:
    """(h1_hat `[n]`, residual `[P]`) of `u_variances`: what one result would keep to be combined with
    another result's on the same sounds (both are linear in h)."""
    m = np.zeros((n, n))
    m[iu] = h
    m = m + m.T
    grand = float(h.mean())
    h1 = (n - 1) / (n - 2) * (m.sum(1) / (n - 1) - grand)
    return h1, h - grand - h1[iu[0]] - h1[iu[1]]


def u_variance_from_parts(h1: np.ndarray, resid_sq: float, n: int, p: int) -> float:
    """The U-statistic estimate from h1_hat and the residual's sum of squares."""
    s2 = resid_sq / (p - n)
    return 4.0 * (float(np.var(h1, ddof=1)) - s2 / (n - 2)) / n + s2 / p


def count_sketch(x: np.ndarray, buckets: np.ndarray, signs: np.ndarray, m: int) -> np.ndarray:
    """CountSketch of a vector over the pairs (Charikar, Chen & Farach-Colton 2004): with the same
    buckets and signs, <sketch(a), sketch(b)> is an unbiased estimate of <a, b>."""
    return np.bincount(buckets, weights=signs * x, minlength=m)


def listeners_target(rng, cats, n_listeners, k, p_named):
    n = cats.size
    named = rng.random((n, n_listeners)) < p_named
    answers = np.where(named, cats[:, None], rng.integers(0, k, size=(n, n_listeners)))
    return np.stack([np.bincount(a, minlength=k) for a in answers]).astype(float) / n_listeners


def study(rng, regime: str, n: int, dim: int, k: int, iu, centres):
    """One study: n new sounds from the regime's population (the category centres are the population's,
    fixed across studies, so the spread over studies is the sampling variance of one population)."""
    cats = rng.integers(0, k, size=n)
    base = rng.normal(size=(n, dim))
    if regime == "null-unreliable":
        f = base
        p = listeners_target(rng, cats, 17, k, 0.0)
    elif regime == "null-reliable":
        f = base
        p = listeners_target(rng, cats, 17, k, 0.8)
    else:
        f = base + 0.6 * centres[cats]
        p = listeners_target(rng, cats, 17, k, 0.8)
    y = kl_rdm(p, iu)
    if regime == "layer-difference":
        xa = cosine_rdm(f + 3.0 * rng.normal(size=f.shape), iu)
        xb = cosine_rdm(f + 1.5 * rng.normal(size=f.shape), iu)
        return [(xb, y), (xa, y)]
    if regime == "equal-models":
        xa = cosine_rdm(f + 1.5 * rng.normal(size=f.shape), iu)
        xb = cosine_rdm(f + 1.5 * rng.normal(size=f.shape), iu)
        return [(xa, y), (xb, y)]
    return [(cosine_rdm(f, iu), y)]


def run(regime: str, n: int, studies: int, boot: int, dim: int, k: int, seed: int, sketch: int = 1024) -> dict:
    rng = np.random.default_rng([seed, zlib.crc32(regime.encode())])
    iu = pair_index(n)
    centres = np.random.default_rng([seed, 7]).normal(size=(k, dim))
    from audioprobe.metrics import inference

    est, v_boot, v_inf, v_u, v_sk, v_pc = [], [], [], [], [], []
    p = iu[0].size
    sk_rng = np.random.default_rng([seed, 11])  # one sketch for every result on a set
    buckets, signs = sk_rng.integers(0, sketch, size=p), sk_rng.choice([-1.0, 1.0], size=p)
    for _ in range(studies):
        parts = study(rng, regime, n, dim, k, iu, centres)
        c = rng.multinomial(n, np.full(n, 1.0 / n), size=boot)
        w = (c[:, iu[0]] * c[:, iu[1]]).astype(float)
        ones = np.ones((1, iu[0].size))
        sign = [1.0, -1.0]
        e = sum(s * weighted_r(x, y, ones)[0] for s, (x, y) in zip(sign, parts))
        reps = sum(s * weighted_r(x, y, w) for s, (x, y) in zip(sign, parts))
        h = sum(s * influence(x, y) for s, (x, y) in zip(sign, parts))
        vi, vu = u_variances(h, n, iu)
        est.append(e)
        v_boot.append(float(np.var(reps, ddof=1)) * n / (n - 1))
        v_pc.append(float(inference.contrast_statistics(e, inference.OverPairs(reps, c), n_sounds=n)["variance"]))
        v_inf.append(vi)
        v_u.append(max(vu, 0.0))
        if len(parts) == 2:
            # what compare would do with two results: each keeps h1_hat, |residual|^2 and a sketch of
            # the residual; the cross-product of the residuals comes from the sketches
            (h1a, ra), (h1b, rb) = (decompose(influence(x, y), n, iu) for x, y in parts)
            cross = float(count_sketch(ra, buckets, signs, sketch) @ count_sketch(rb, buckets, signs, sketch))
            v_sk.append(max(u_variance_from_parts(h1a - h1b, float(ra @ ra + rb @ rb) - 2.0 * cross, n, p), 0.0))
    est = np.array(est)
    true = float(est.var(ddof=1))
    centre = float(est.mean())
    out = {"benchmark": "bench_rsa_variance", "simulated": True, "regime": regime, "sounds": n,
           "studies": studies, "bootstrap": boot, "mean_estimate": centre, "true_variance": true}
    named = [("bootstrap", v_boot), ("pair_corrected", v_pc), ("influence", v_inf), ("u_statistic", v_u)]
    if v_sk:
        named.append((f"u_statistic_sketch{sketch}", v_sk))
    for name, v in named:
        v = np.array(v)
        out[f"{name}_over_true"] = float(v.mean() / true)
        out[f"{name}_coverage"] = float(np.mean(np.abs(est - centre) <= 1.959964 * np.sqrt(v)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sounds", type=int, default=120)
    ap.add_argument("--studies", type=int, default=200)
    ap.add_argument("--bootstrap", type=int, default=1000, help="resamples (the harness default, 1000)")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--categories", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="60 studies per regime")
    ap.add_argument("--regimes", default="null-unreliable,null-reliable,aligned,layer-difference,equal-models")
    ap.add_argument("--sketch", type=int, default=1024, help="buckets of the residuals' CountSketch")
    args = ap.parse_args(argv)
    studies = 60 if args.quick else args.studies
    for regime in args.regimes.split(","):
        t0 = time.perf_counter()
        out = run(regime, args.sounds, studies, args.bootstrap, args.dim, args.categories, args.seed, args.sketch)
        out["seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
