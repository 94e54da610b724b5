"""Benchmark: calibration of every claim family of audioprobe, by simulation through the real pipeline.

    # "before" (the code before the inference rewrite) and "after" (this checkout), full size:
    /tmp/audioprobe-before/.venv/bin/python benchmarks/bench_calibration.py --sets 40 --sounds 120 --condition both
    /work/main/.venv/bin/python benchmarks/bench_calibration.py --sets 40 --sounds 120 --condition both
    # a quick trial (for development only: bootstrap 200, cv_splits 20):
    python benchmarks/bench_calibration.py --sets 3 --sounds 60 --quick --condition both

THE DATA ARE SIMULATED: synthetic sounds judged by simulated listeners whose answers are drawn by
this script. The numbers measure the statistics of the harness (false-positive rates, coverage,
power), nothing about hearing.

What it does. For each condition and each of `--sets` stimulus sets, it draws a random subset of
`--sounds` of the 245 synthetic impact sounds of `audioprobe.stimuli.synthetic.impacts`, synthesised
with a set-specific seed (the same waveforms as `impacts.generate(seed)` for those sounds), replaces
the simulated panel with `--listeners` new simulated listeners (below), and writes the set as a
stimulus-set folder in the documented format (`export_folder`: dataset.yaml marked synthetic,
sounds/, labels.csv, judgments.csv, responses.csv). ONE `Runner` then evaluates every model on every
`cal-*` task (benchmarks/calibration/tasks) on every set, as `audioprobe-eval --data ...` would, and
`audioprobe.leaderboard.compare.compare` makes the claims of each set with the benchmark's contrasts
(benchmarks/calibration/contrasts). The script reads the result files and the compare report, and
prints ONE JSON line (also written to the work folder).

Designs (listeners answer independently per sound and per dimension):
- null: every listener answers every dimension uniformly at random over its categories. Every model
  then aligns equally (not at all) with every perceived target in the population of sounds and
  listeners: RSA 0, ABX error 0.5, balanced accuracy of a probe 1 / number of test classes, and every
  difference of models, of tasks, of a probe and its baseline, of layers, is 0.
- signal (planted effects): material = the sound's physical material with probability --rho-m
  (0.6) per response, else uniform, EXCEPT that for physically 3D sounds the material named is a fixed
  cyclic permutation of the physical one (a planted transfer cost: a probe trained on 1D and 2D
  sounds transfers badly to 3D); extent = the physical extent with probability 0.8, else uniform;
  hollowness carries no information about the sound: each sound gets a random latent "perceived
  hollowness" (hollow for 20% of the sounds, drawn within each expected perceived material, at
  least 3 per material, so that the no-transfer baseline, which needs 2 sounds per class, exists),
  and each listener names it with probability 0.8, else answers at random. RSA against hollowness
  is then 0 in the population (a null inside the signal design, with a reliable target), and the
  full -> hollow transfer is a null with learnable labels: the full and hollow subsets are
  exchangeable, but the transfer probe trains on about 4-6 times more sounds than the no-transfer
  baseline (cross-validated inside the small hollow subset).
  The benchmark-only model `cal-noisy-logmel` (registered in this process; 6 layers: logmel features
  plus Gaussian noise of SD 12, 9, 7, 5.5, 4.5, 3.5 times the features' SD, falling with depth;
  the noise is a fixed function of the waveform, seeded from its hash) plants a depth trend
  (alignment rising with depth) and a model below logmel (control contrast, and the pairwise
  logmel - cal-noisy-logmel difference); see NOISE_SD for why these levels and not 3 ... 0.5. The
  planted RSA effects are small (logmel's RSA with the perceived material is about 0.09 in this
  design), so their power at 120 sounds is moderate: that is what is measured, not a target.
  The benchmark-only models `cal-equal-a` and `cal-equal-b` (3 layers each: logmel plus independent
  noise of SD 5.5, 4.5, 3.5 x the features' SD) are equal in distribution: their difference is a null
  in both designs, and in the signal design a null between two models that DO align with the target
  (the complete null, where nobody aligns, is a degenerate case for RSA; docs/metrics.md).

Measures. Under null (truth known), each rate with its count, its 95% interval and
`within_tolerance` (alpha, or the nominal level, inside that interval; the interval is Clopper-Pearson,
`scipy.stats.binomtest(k, n).proportion_ci()`, for one test per set, and cluster-robust over sets where
several tests share a set, `clustered_rate`): pairwise headline differences (raw two-sided p < alpha per test, by
task; the rate of tables where Benjamini-Hochberg rejects anything); every contrast kind (the
row's headline test, where a row has none, as the old version's baseline rows, the per-layer test
at the row's `headline_layer`, as the report shows it; depth: `p_value`, or the old `p_bootstrap`)
and the per-layer tests of contrasts; coverage of the headline intervals and of the per-layer
intervals of the result files (truth: 0 for RSA, 0.5 for ABX, the result's 1 / number of classes for
transfer); the best group leaving a model out with all models equal; the simultaneous coverage of
the rank intervals with all models equal under two conventions (every interval holds rank 1, the
rank of tied models as 1 + the number strictly better, Mogstad et al. 2024; every interval holds the
mid-rank (k + 1) / 2). Under signal: per pair of models and task, and per contrast row, the mean
estimate across sets (the effect size) and the rejection rate (power, or the false-positive rate of
the nulls kept in the signal design) with its interval; coverage is not computable (truth unknown),
except that of RSA against hollowness (0 in both designs); the nulls the signal design keeps (the
equal models on every task, every pair against hollowness, full -> hollow transfer against its
baseline) are also pooled, clustered by set (`known_nulls_pooled`): the false-positive rate between
models that DO align, with a reliable target.
Rates pool tests that are dependent within a set (the pairs of a table, the layers of a row): one set
where a model scores high by chance rejects all its pairs, so their interval treats the sets, not the
tests, as the independent units (`ci_if_independent` keeps the binomial interval beside it).

Two things of the harness are worked around, and counted in the output: a seed of the impacts
synthesis can give a silent sound (NaN samples after peak normalisation; such sounds are skipped
when drawing a set: `skipped_silent` in each set's design file), and a task that raises (e.g. a
transfer task whose no-transfer baseline leaves one sound per class in an outer training fold, where
scikit-learn's inner StratifiedKFold raises) would end the whole Runner: the benchmark's Runner
subclass turns it into a "not applicable" row (`task_crashes` in the output).

Resuming: the sets, the activation cache and the results live in --workdir (default
/tmp/audioprobe-calibration-<version tag>, the tag from the package's checkout: before/after, git
commit and a hash of its source files, so that a changed package never reuses another's results).
An interrupted run re-uses the sets written and the results whose run key is equal (the Runner's
rule), so rerunning the same command continues where it stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import math
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CAL_DIR = HERE / "calibration"
TASKS_DIR = CAL_DIR / "tasks"
CONTRASTS_DIR = CAL_DIR / "contrasts"
TASK_SPEC = "cal-*"
CONTRAST_PREFIX = "cal-"
BEFORE_ROOT = Path("/tmp/audioprobe-before")

CONDITIONS = ("null", "signal")
COND_ID = {"null": 1, "signal": 2}
DEFAULT_MODELS = "logmel,mfcc,spectrogram,random-yamnet,cal-noisy-logmel,cal-equal-a,cal-equal-b"
ALPHA = 0.05
LEVEL = 0.95
QUICK = {"bootstrap": 200, "cv_splits": 20}

# Signal design (module docstring).
RHO_EXTENT = 0.8  # a listener names the physical extent with this probability, else answers at random
P_HOLLOW = 0.2  # share of sounds whose latent perceived hollowness is "hollow"
RHO_HOLLOW = 0.8  # a listener names the sound's latent hollowness with this probability, else at random
#: Hollow sounds per expected material, at least: the no-transfer baseline needs 2 sounds per test class,
#: and with exactly 2 per class its 2 outer folds leave 1 sound per class, where the inner folds crash.
MIN_HOLLOW_PER_MATERIAL = 3
#: Bump when the simulated sets change for the same arguments (it names their folder).
DESIGN_VERSION = 1

# The benchmark-only model: logmel plus noise falling with depth.
NOISY = "cal-noisy-logmel"
#: Noise SD of each layer, in multiples of FEATURE_SD, shallowest layer first. Chosen by a direct
#: simulation of the signal design (40 random 120-sound subsets of the embedded impacts sounds, cosine
#: RDMs, KL targets, no bootstrap): logmel's RSA with the perceived material is weak there, 0.089
#: (SD 0.028 across sets: cosine distances of log-mel spectra follow shape and size more than
#: material, and 3D sounds are named by a permuted material); these layers give 0.008, 0.015, 0.021,
#: 0.026, 0.039, 0.058 (Spearman rho with depth 0.74 on average; logmel minus the last layer 0.031,
#: SD 0.018). Noise of 3 to 0.5 x FEATURE_SD would leave every layer at 0.07 to 0.09 (128 dimensions
#: average the noise out of the cosine distances): nothing planted to detect.
NOISE_SD = (12.0, 9.0, 7.0, 5.5, 4.5, 3.5)
#: Two benchmark-only models equal in distribution: logmel plus independent noise of the same SDs (each
#: model's draws salted by its name). Over the simulated sets (new waveforms, so new noise, in each) they
#: align equally with every target: their pairwise difference is a null in both designs, and in the
#: signal design a null between two models that do align (RSA with the perceived material about 0.04
#: to 0.06), which the complete null (nobody aligns) cannot show.
EQUAL_A, EQUAL_B = "cal-equal-a", "cal-equal-b"
EQUAL_SD = (5.5, 4.5, 3.5)
#: name -> (noise SDs per layer, salt of the noise seed, description)
NOISY_MODELS = {NOISY: (NOISE_SD, "", "falling with depth"),
                EQUAL_A: (EQUAL_SD, EQUAL_A, f"equal in distribution to {EQUAL_B}"),
                EQUAL_B: (EQUAL_SD, EQUAL_B, f"equal in distribution to {EQUAL_A}")}
#: RMS over the 128 mel bins of the across-sound SD of mean-pooled logmel features on the embedded
#: impacts set (seed 0, 245 sounds): 10.0 (measured with the logmel wrapper; fixed here so that the
#: model is one fixed function of the sound).
FEATURE_SD = 10.0

log = logging.getLogger("bench_calibration")


# ---------------------------------------------------------------------------------------------
# Version of the package under test


def package_version() -> dict:
    """Where the audioprobe package under test lives, its git commit, and a hash of its sources."""
    import audioprobe

    pkg = Path(audioprobe.__file__).resolve().parent
    root = pkg.parent
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=30).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=30).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        rev, dirty = None, None
    h = hashlib.sha256()
    folders = [pkg]
    for sub in ("audioprobe.models", "audioprobe.leaderboard", "audioprobe.tasks"):
        try:
            mod = __import__(sub, fromlist=["_"])
            folders.append(Path(mod.__file__).resolve().parent)
        except ImportError:
            pass
    for folder in dict.fromkeys(folders):
        for f in sorted(list(folder.rglob("*.py")) + list(folder.rglob("*.yaml"))):
            if "__pycache__" in f.parts:
                continue
            h.update(str(f.relative_to(folder.parent)).encode() + b"\0" + f.read_bytes() + b"\0")
    before = root == BEFORE_ROOT.resolve() or BEFORE_ROOT.resolve() in root.parents
    source_sha = h.hexdigest()
    tag = f"{'before' if before else 'after'}-{(rev or 'nogit')[:8]}-{source_sha[:8]}"
    return {"package_dir": str(pkg), "git_rev": rev, "dirty": dirty, "is_before": before,
            "source_sha256": source_sha, "tag": tag, "version": getattr(audioprobe, "__version__", None),
            "python": sys.executable}


# ---------------------------------------------------------------------------------------------
# The benchmark-only model


def register_noisy_model(name: str = NOISY) -> None:
    """Register `name` (one of NOISY_MODELS) in this process (idempotent)."""
    from audioprobe.models.registry import model_names, register_model

    if name in model_names():
        return
    import torch

    from audioprobe.models.base import LayerActivations, ModelMeta
    from audioprobe.models.logmel import LogMel

    sds, salt, what = NOISY_MODELS[name]

    class CalNoisyLogMel(LogMel):
        """logmel's filter bank plus, in layer l, Gaussian noise of SD sds[l] * FEATURE_SD, one draw per
        sound and layer added to every frame (so mean pooling gives features + noise); the draw is
        seeded from the SHA-256 of the sound's waveform at the model's rate (and the model's salt): a
        fixed function of the sound, whatever the batch. SIMULATION ONLY (bench_calibration)."""

        meta = ModelMeta(name=name, family="calibration", sample_rate=16000, training="none", n_parameters=0,
                         description=f"Calibration benchmark only: logmel plus waveform-seeded Gaussian noise, {what} "
                                     f"({len(sds)} layers)")
        wrapper_version = "cal-1:" + ",".join(f"{s:g}" for s in sds) + f"x{FEATURE_SD:g}" + (f":{salt}" if salt else "")

        def layers(self) -> list[str]:
            return [f"noisy{l}" for l in range(len(sds))]

        def forward(self, waveforms, lengths):
            base = super().forward(waveforms, lengths)["fbank"]
            feats, n_frames = base.values, base.n_frames
            wav = waveforms.detach().to("cpu", torch.float32).numpy()
            lens = lengths.detach().cpu().numpy()
            b, dim = feats.shape[0], feats.shape[-1]
            noise = np.empty((len(sds), b, dim))
            for i in range(b):
                digest = hashlib.sha256(salt.encode() + np.ascontiguousarray(wav[i, : int(lens[i])], dtype="<f4")
                                        .tobytes()).digest()
                rng = np.random.default_rng(int.from_bytes(digest[:16], "little"))
                noise[:, i] = rng.standard_normal((len(sds), dim))
            out = {}
            for l, (layer, sd) in enumerate(zip(self.layers(), sds)):
                add = torch.as_tensor(noise[l] * (sd * FEATURE_SD), dtype=feats.dtype, device=feats.device)
                out[layer] = LayerActivations(feats + add[:, None, :], n_frames)
            return out

    register_model(name)(CalNoisyLogMel)


# ---------------------------------------------------------------------------------------------
# Stimulus sets


def set_name(condition: str, k: int) -> str:
    return f"cal-{condition}-{k:03d}"


def set_seed(base_seed: int, condition: str, k: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([base_seed, COND_ID[condition], k])


def simulate_responses(rng: np.random.Generator, condition: str, designs, n_listeners: int, rho_m: float):
    """Per-dimension responses `[listeners, sounds]` (category indices) and the latent hollowness (signal)."""
    from audioprobe.stimuli.synthetic import impacts

    dims = impacts.dimensions()
    n = len(designs)
    k_mat, k_ext, k_hol = (len(dims[d]) for d in ("material", "extent", "hollowness"))
    shape = (n_listeners, n)
    if condition == "null":
        return {"material": rng.integers(0, k_mat, shape), "extent": rng.integers(0, k_ext, shape),
                "hollowness": rng.integers(0, k_hol, shape)}, None
    phys = np.array([dims["material"].index(d.material) for d in designs])
    is_3d = np.array([d.extent == "3D" for d in designs])
    named = np.where(is_3d, (phys + 1) % k_mat, phys)  # 3D sounds: the next material, cyclically
    material = np.where(rng.random(shape) < rho_m, named[None], rng.integers(0, k_mat, shape))
    ext = np.array([dims["extent"].index(d.extent) for d in designs])
    extent = np.where(rng.random(shape) < RHO_EXTENT, ext[None], rng.integers(0, k_ext, shape))
    hollow = np.zeros(n, dtype=np.int64)  # latent: 0 full, 1 hollow; independent of the sound
    full_i, hollow_i = dims["hollowness"].index("full"), dims["hollowness"].index("hollow")
    hollow[:] = full_i
    for m in range(k_mat):
        idx = np.flatnonzero(named == m)
        want = int(math.floor(P_HOLLOW * idx.size + rng.random()))
        want = min(idx.size, max(MIN_HOLLOW_PER_MATERIAL, want))
        hollow[rng.choice(idx, want, replace=False)] = hollow_i
    hollowness = np.where(rng.random(shape) < RHO_HOLLOW, hollow[None], rng.integers(0, k_hol, shape))
    return {"material": material, "extent": extent, "hollowness": hollowness}, hollow


def make_set(folder: Path, condition: str, k: int, n_sounds: int, n_listeners: int, rho_m: float,
             base_seed: int) -> dict:
    """Write one simulated stimulus set as a folder (skipped when it exists); return its design."""
    design_path = folder.with_name(folder.name + ".design.json")
    if (folder / "dataset.yaml").is_file() and design_path.is_file():
        return json.loads(design_path.read_text())
    from threadpoolctl import threadpool_limits

    from audioprobe.metrics.responses import counts_from_responses
    from audioprobe.stimuli.folder import export_folder
    from audioprobe.stimuli.stimulus_set import StimulusSet
    from audioprobe.stimuli.synthetic import impact_design, impacts, rendering

    ss = set_seed(base_seed, condition, k)
    synth_seed = int(ss.generate_state(1)[0])
    rng = np.random.default_rng(ss)
    combos = [(m, e, h, v) for m in impact_design.MATERIAL_NAMES for e, h in impact_design.CELLS
              for v in range(impact_design.VARIANTS)]
    if not 2 <= n_sounds <= len(combos):
        raise SystemExit(f"--sounds must be between 2 and {len(combos)}")
    # A random subset, in the design's order. Some seeds give a design without any audible mode (a
    # small stiff block whose modes all lie above 16 kHz): rendering.render then divides by a peak of 0
    # and returns NaN samples (about 1 design in 1,400; never with seed 0, the embedded set). Such a
    # sound is skipped and the next one of the random order taken instead.
    order = rng.permutation(len(combos))
    chosen, skipped = {}, []
    with threadpool_limits(1), np.errstate(divide="ignore", invalid="ignore"):  # as impacts.generate
        for i in order:
            d = impact_design.design_one(*combos[i], synth_seed)
            wave = rendering.render(d) if len(d.freqs) else None
            if wave is None or not np.all(np.isfinite(wave)) or not np.any(wave):
                skipped.append(d.sound_id)
                continue
            chosen[int(i)] = (d, wave)
            if len(chosen) == n_sounds:
                break
    if len(chosen) < n_sounds:
        raise SystemExit(f"{set_name(condition, k)}: only {len(chosen)} audible sounds for --sounds {n_sounds}")
    pick = sorted(chosen)
    designs = [chosen[i][0] for i in pick]
    waves = [chosen[i][1] for i in pick]
    responses, latent = simulate_responses(rng, condition, designs, n_listeners, rho_m)
    dims = impacts.dimensions()
    responses = {d: np.ascontiguousarray(responses[d], dtype=np.int64) for d in dims}
    name = set_name(condition, k)
    stimset = StimulusSet(
        name=name,
        sound_ids=[d.sound_id for d in designs],
        dimensions=dims,
        labels={"material": [d.material for d in designs], "hollowness": [d.hollowness for d in designs],
                "extent": [d.extent for d in designs], "object": [d.object for d in designs]},
        judgments={d: counts_from_responses(responses[d], len(c)) for d, c in dims.items()},
        load_audio=lambda i: (waves[i], rendering.SAMPLE_RATE),
        description=(f"SIMULATED calibration set ({condition}): {n_sounds} synthetic impact sounds (impacts synthesis "
                     f"seed {synth_seed}) judged by {n_listeners} SIMULATED listeners drawn by "
                     f"benchmarks/bench_calibration.py. Not human data."),
        license="CC0-1.0",
        citation="audioprobe calibration benchmark (benchmarks/bench_calibration.py); simulated data.",
        synthetic=True,
        source=f"bench_calibration:{condition}:{k}",
        listeners=[f"cal{i:02d}" for i in range(n_listeners)],
        responses=responses,
    ).validate()
    export_folder(stimset, folder, overwrite=True)
    design = {"name": name, "condition": condition, "index": k, "synth_seed": synth_seed, "n_sounds": n_sounds,
              "n_listeners": n_listeners, "rho_m": rho_m if condition == "signal" else None,
              "sounds": [int(i) for i in pick], "skipped_silent": skipped,
              "latent_hollow": None if latent is None else [int(x) for x in latent]}
    design_path.write_text(json.dumps(design))
    return design


# ---------------------------------------------------------------------------------------------
# Small statistics helpers


def rate(count: int, n: int, target: float | None = ALPHA, direction: str = "equal") -> dict:
    """count / n with its Clopper-Pearson 95% interval; within_tolerance: target inside the interval
    (direction "equal"), or the interval reaching below ("at_most") / above ("at_least") the target."""
    out = {"count": int(count), "n": int(n), "rate": None, "ci": None}
    if n:
        from scipy.stats import binomtest

        ci = binomtest(int(count), int(n)).proportion_ci(confidence_level=0.95)
        out.update(rate=count / n, ci=[float(ci.low), float(ci.high)])
        if target is not None:
            lo, hi = ci.low, ci.high
            ok = {"equal": lo <= target <= hi, "at_most": lo <= target, "at_least": hi >= target}[direction]
            out["target"] = target
            out["within_tolerance"] = bool(ok)
    return out


def clustered_rate(per_set: dict[str, list[int]], target: float | None = ALPHA, direction: str = "equal") -> dict:
    """A rate pooled over tests that share a stimulus set (the pairs of a table, the layers of a row, the
    tasks of a set): count / n as `rate`, but its 95% interval from the sets as independent clusters, since
    tests on one set move together (one set where a model scores high by chance rejects all its pairs).
    per_set: set -> [hits, tests]. The ratio estimator's cluster-robust standard error (Cochran 1977,
    *Sampling Techniques*, 3rd ed., sec. 6.11; Cameron & Miller 2015, J. Human Resources 50:317, sec.
    II.C), with G - 1 dof, G the number of sets; the interval is clipped to [0, 1]. The Clopper-Pearson
    interval that would hold for independent tests is kept beside it (`ci_if_independent`). With one test
    per set the two agree in expectation, and `rate`'s exact interval is used."""
    from scipy.stats import t as t_dist

    hits = np.array([h for h, _ in per_set.values()], dtype=np.float64)
    ns = np.array([n for _, n in per_set.values()], dtype=np.float64)
    keep = ns > 0
    hits, ns = hits[keep], ns[keep]
    out = rate(int(hits.sum()), int(ns.sum()), target, direction)
    if ns.size < 2 or np.all(ns == 1):
        return out
    r = hits.sum() / ns.sum()
    g = ns.size
    resid = (hits - r * ns) / ns.mean()
    se = float(np.sqrt((resid ** 2).sum() / (g * (g - 1))))
    half = float(t_dist.ppf(0.975, g - 1)) * se
    lo, hi = max(0.0, r - half), min(1.0, r + half)
    out["ci_if_independent"] = out["ci"]
    out.update(ci=[lo, hi], interval="cluster-robust over sets", sets=int(g))
    if target is not None:
        out["within_tolerance"] = bool({"equal": lo <= target <= hi, "at_most": lo <= target,
                                        "at_least": hi >= target}[direction])
    return out


def num(x) -> float | None:
    """A finite float or None (JSON null, None, NaN, a non-number)."""
    if isinstance(x, bool) or x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def compact(obj):
    """Floats to 4 significant digits (the JSON line stays readable; no statistic here needs more)."""
    if isinstance(obj, dict):
        return {k: compact(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [compact(v) for v in obj]
    if isinstance(obj, float) and math.isfinite(obj):
        return float(f"{obj:.4g}")
    return obj


def describe(values: list[float]) -> dict:
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    if not v.size:
        return {"n": 0, "mean": None, "sd": None}
    return {"n": int(v.size), "mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else None}


class Tally:
    """Counts of p < alpha (or of any boolean) by key, and by stimulus set (`unit`, set by the Collector
    for the set being read) for intervals that respect the dependence within a set."""

    def __init__(self):
        self.hits: dict[str, int] = {}
        self.n: dict[str, int] = {}
        self.by_set: dict[str, dict[str, list[int]]] = {}
        self.unit = ""

    def add(self, key: str, hit: bool) -> None:
        self.hits[key] = self.hits.get(key, 0) + int(bool(hit))
        self.n[key] = self.n.get(key, 0) + 1
        cell = self.by_set.setdefault(key, {}).setdefault(self.unit, [0, 0])
        cell[0] += int(bool(hit))
        cell[1] += 1

    def add_p(self, key: str, p) -> None:
        p = num(p)
        if p is not None:
            self.add(key, p < ALPHA)

    def summary(self, key: str, target: float | None = ALPHA, direction: str = "equal") -> dict:
        return clustered_rate(self.by_set.get(key, {}), target, direction)

    def all(self, target: float | None = ALPHA, direction: str = "equal") -> dict:
        return {k: self.summary(k, target, direction) for k in sorted(self.n)}

    def pooled(self, target: float | None = ALPHA, direction: str = "equal", keys=None) -> dict:
        """Every key (or those given) together, clustered by set."""
        per_set: dict[str, list[int]] = {}
        for k in (self.by_set if keys is None else keys):
            for unit, (h, n) in self.by_set.get(k, {}).items():
                cell = per_set.setdefault(unit, [0, 0])
                cell[0] += h
                cell[1] += n
        return clustered_rate(per_set, target, direction)


# ---------------------------------------------------------------------------------------------
# Reading the compare report (defensively: the new version extends it)


def pair_p(pairwise: dict, i: int, j: int):
    try:
        return pairwise["p_value"][i][j]
    except (KeyError, IndexError, TypeError):
        return None


def cell(table, i, j):
    try:
        return table[i][j]
    except (KeyError, IndexError, TypeError):
        return None


def row_headline(kind: str, res: dict) -> tuple[float | None, float | None, str]:
    """(estimate, p, where from) of a contrast row's headline test, as the report shows it."""
    if kind == "depth":
        p = res.get("p_value")
        src = "p_value"
        if num(p) is None and "p_bootstrap" in res:
            p, src = res.get("p_bootstrap"), "p_bootstrap"
        est = res.get("rho")
        if est is None:
            est = res.get("change", res.get("estimate"))
        return num(est), num(p), src
    head = res.get("headline")
    if isinstance(head, dict) and (num(head.get("p_value")) is not None or num(head.get("difference")) is not None):
        est = head.get("difference", head.get("estimate"))
        return num(est), num(head.get("p_value")), "headline"
    layers = res.get("layers")
    if kind == "baseline" and isinstance(layers, dict):
        names = res.get("layer_names") or []
        at = res.get("headline_layer")
        if at in names:
            idx = names.index(at)
            diff = layers.get("difference") or layers.get("estimate") or []
            ps = layers.get("p_value") or []
            return (num(diff[idx]) if idx < len(diff) else None, num(ps[idx]) if idx < len(ps) else None,
                    "headline_layer")
    return None, None, "none"


def layer_ps(res: dict) -> list[float]:
    layers = res.get("layers")
    if not isinstance(layers, dict):
        return []
    return [p for p in (num(x) for x in layers.get("p_value") or []) if p is not None]


def rank_ok(intervals, k: int) -> tuple[bool, bool] | None:
    """(every interval holds rank 1, every interval holds the mid-rank (k+1)/2), or None if undefined."""
    ivs = [iv for iv in (intervals or []) if iv is not None]
    if not ivs or any(iv is None or None in iv for iv in ivs):
        return None
    mid = (k + 1) / 2.0
    return (all(iv[0] <= 1 <= iv[1] for iv in ivs), all(iv[0] <= mid <= iv[1] for iv in ivs))


# ---------------------------------------------------------------------------------------------
# Truth of a score under null, from its result file


def null_truth(result: dict) -> float | None:
    ttype = ((result.get("task") or {}).get("config") or {}).get("type") or result.get("task", {}).get("type")
    scores = result.get("scores") or {}
    if ttype == "rsa":
        return 0.0
    if ttype == "abx":
        return 0.5
    if ttype == "encode":
        return 0.0
    if ttype == "cka":
        params = ((result.get("task") or {}).get("config") or {}).get("params") or {}
        return 0.0 if params.get("estimator", "debiased") == "debiased" else None  # biased CKA is > 0 unrelated
    if ttype == "transfer":
        params = ((result.get("task") or {}).get("config") or {}).get("params") or {}
        if params.get("score") != "balanced_accuracy":
            return None
        return num((scores.get("chance") or {}).get("balanced_accuracy"))
    return None


def covers(ci, truth) -> bool | None:
    if truth is None or not isinstance(ci, (list, tuple)) or len(ci) != 2:
        return None
    lo, hi = num(ci[0]), num(ci[1])
    if lo is None or hi is None:
        return None
    return lo <= truth <= hi


# ---------------------------------------------------------------------------------------------
# What the signal design plants (None: not known, reported only)

#: Signal design, pairs of models: logmel - cal-noisy-logmel (the noisy model is logmel plus noise).
#: RSA and transfer scores: higher is better; ABX: an error (lower is better). Against hollowness
#: every model scores 0 in the population, so every pair there is a null.
PLANTED_PAIR = {"cal-rsa-material": "positive", "cal-abx-material": "negative",
                "cal-abx-material-by-extent": "negative", "cal-transfer-full-to-hollow": "positive",
                "cal-cka-material": "positive", "cal-encode-material": "positive"}
NULL_TASKS_UNDER_SIGNAL = ("cal-rsa-hollowness", "cal-cka-hollowness", "cal-encode-hollowness")


def planted_pair(task: str, pair: str) -> str | None:
    if task in NULL_TASKS_UNDER_SIGNAL:
        return "null"
    if pair == f"logmel - {NOISY}":
        return PLANTED_PAIR.get(task)
    if pair == f"{EQUAL_A} - {EQUAL_B}":
        return "null"
    return None


def planted_contrast(name: str, model: str, a: str) -> str | None:
    if name == "cal-material-vs-hollowness" and model in ("logmel", NOISY, EQUAL_A, EQUAL_B):
        return "positive"  # all align with the named material (0.09, 0.06, ...), nobody with hollowness
    if name == "cal-partial-vs-raw" and model in (NOISY, EQUAL_A, EQUAL_B):
        return "negative"  # regressing logmel's RDM out of logmel + noise leaves noise
    if name == "cal-transfer-vs-baseline" and a == "cal-transfer-1D2D-to-3D":
        return "negative"  # 3D sounds are named by a permuted material
    if name == "cal-transfer-vs-baseline" and a == "cal-transfer-full-to-hollow":
        return "null"
    if name == "cal-depth" and model in (NOISY, EQUAL_A, EQUAL_B):
        return "positive"  # noise falling with depth (the equal models' fall less: 5.5 to 3.5)
    if name == "cal-control" and model in (NOISY, EQUAL_A, EQUAL_B):
        return "negative"
    return None


# ---------------------------------------------------------------------------------------------
# Collecting one condition


class Collector:
    def __init__(self, condition: str, models: list[str]):
        self.condition = condition
        self.models = models
        self.pair_tests = Tally()  # by task
        self.table_bh = Tally()  # by task: tables where BH rejects anything
        self.best_out = Tally()  # by task: best group leaves a model out
        self.rank1 = Tally()  # by task: every interval holds rank 1
        self.rankmid = Tally()
        self.contrast_head = Tally()  # by contrast kind (and kind/contrast)
        self.contrast_layer = Tally()
        self.head_source: dict[str, dict[str, int]] = {}
        self.cover_head = Tally()  # by task
        self.cover_layer = Tally()
        self.signal_nulls = Tally()  # signal design: the nulls it keeps (equal models, hollowness), by family
        self.undefined: dict[str, int] = {}
        # signal: effect sizes and power
        self.pair_values: dict[str, dict[str, list]] = {}  # "task|a - b" -> {"d": [...], "p": [...]}
        self.contrast_values: dict[str, dict[str, list]] = {}  # "contrast|model|a - b" -> ...
        self.headlines: dict[str, list] = {}  # "task|model" -> [headline values]
        self.transfer_sizes: dict[str, dict[str, list]] = {}
        # claims across measures (compare's `measures`), by target
        self.measure_holds = Tally()  # null pairs: a claim "holds under every measure" (a false claim)
        self.measure_any = Tally()  # null pairs: some measure's table makes a claim (depends or holds)
        self.measure_power: dict[str, dict[str, list]] = {}  # "target|a > b" -> verdict per set
        self.measure_w: dict[str, list] = {}  # target -> W per set
        self.n_sets = 0
        self.sets_with_report = 0

    def start_set(self, name: str) -> None:
        """Tests from here on belong to stimulus set `name` (their cluster)."""
        self.n_sets += 1
        for t in vars(self).values():
            if isinstance(t, Tally):
                t.unit = name

    def bump(self, what: str) -> None:
        self.undefined[what] = self.undefined.get(what, 0) + 1

    # -- result files -------------------------------------------------------------------------
    def add_result(self, result: dict) -> None:
        task = result["task"]["name"]
        model = result["model"]["name"]
        scores = result.get("scores") or {}
        head = scores.get("headline") or {}
        self.headlines.setdefault(f"{task}|{model}", []).append(num(head.get("value")))
        if "n_train" in scores:
            sizes = self.transfer_sizes.setdefault(task, {"n_train": [], "n_test": [], "n_excluded": [],
                                                          "baseline_train": []})
            if model == self.models[0]:  # the subsets do not depend on the model: once per set
                sizes["n_train"].append(scores.get("n_train"))
                sizes["n_test"].append(scores.get("n_test"))
                sizes["n_excluded"].append(scores.get("n_excluded"))
                counts = list((scores.get("classes_test") or {}).values())
                if counts and min(counts) >= 2:
                    folds = max(2, min(5, min(counts)))
                    sizes["baseline_train"].append(scores["n_test"] * (folds - 1) / folds)
        if self.condition != "null" and task not in NULL_TASKS_UNDER_SIGNAL:
            return
        truth = null_truth(result)
        if truth is None:
            self.bump(f"coverage truth unknown: {task}")
            return
        c = covers(head.get("ci"), truth)
        if c is None:
            self.bump(f"headline interval undefined: {task}")
        else:
            self.cover_head.add(task, c)
        for entry in scores.get("per_layer") or []:
            c = covers(entry.get("ci"), truth)
            if c is None:
                self.bump(f"per-layer interval undefined: {task}")
            else:
                self.cover_layer.add(task, c)

    # -- compare report -----------------------------------------------------------------------
    def add_report(self, set_report: dict) -> None:
        self.sets_with_report += 1
        for table in set_report.get("tasks") or []:
            self.add_table(table)
        for contrast in set_report.get("contrasts") or []:
            if not str(contrast.get("contrast", "")).startswith(CONTRAST_PREFIX):
                continue
            for row in contrast.get("rows") or []:
                self.add_row(contrast["contrast"], contrast.get("kind"), row)
        for target in set_report.get("measures") or []:
            self.add_measures(target)

    def add_measures(self, target: dict) -> None:
        """Claims across measures of one target: under the complete null (every pair) and, in the signal design,
        for the pairs known to be equal (cal-equal-a, cal-equal-b; every pair against hollowness) the rate of a
        claim that "holds under every measure" (false) and of any claim; the planted pair's verdicts (power)."""
        name = target.get("target", "?")
        self.measure_w.setdefault(name, []).append(num((target.get("concordance") or {}).get("w")))
        claims = {(c["better"], c["worse"]): c["verdict"] for c in target.get("claims") or []}
        models = target.get("models") or []
        hollow = "hollowness" in name
        for i, a in enumerate(models):
            for b in models[i + 1:]:
                verdicts = [claims.get((a, b)), claims.get((b, a))]
                null_pair = self.condition == "null" or hollow or {a, b} == {EQUAL_A, EQUAL_B}
                if null_pair:
                    self.measure_holds.add(name, "holds under every measure" in verdicts)
                    self.measure_any.add(name, any(v is not None for v in verdicts))
                if self.condition != "null" and {a, b} == {"logmel", NOISY} and not hollow:
                    verdict = claims.get(("logmel", NOISY)) or (f"reversed: {claims[(NOISY, 'logmel')]}"
                                                                if (NOISY, "logmel") in claims else "no claim")
                    self.measure_power.setdefault(f"{name}|logmel > {NOISY}", []).append(verdict)

    def add_table(self, table: dict) -> None:
        task = table.get("task")
        names = table.get("models") or []
        pw = table.get("pairwise")
        if not isinstance(pw, dict) or len(names) < 2:
            self.bump(f"no pairwise table: {task}")
            return
        k = len(names)
        rejected_any = False
        for i in range(k):
            for j in range(i + 1, k):
                p = num(pair_p(pw, i, j))
                rej = cell(pw.get("reject"), i, j)
                rejected_any |= bool(rej)
                if self.condition == "null":
                    if p is None:
                        self.bump(f"pairwise p undefined: {task}")
                    else:
                        self.pair_tests.add(task, p < ALPHA)
                else:
                    if p is None:
                        self.bump(f"pairwise p undefined: {task}")
                    a, b = names[i], names[j]
                    d = num(cell(pw.get("difference"), i, j))
                    if (b, a) in (("logmel", NOISY), (EQUAL_A, EQUAL_B)):  # report as logmel - cal-noisy-logmel ...
                        a, b, d = b, a, (None if d is None else -d)
                    slot = self.pair_values.setdefault(f"{task}|{a} - {b}", {"d": [], "p": []})
                    slot["d"].append(d)
                    slot["p"].append(p)
                    if p is not None and planted_pair(task, f"{a} - {b}") == "null":
                        self.signal_nulls.add(f"pairwise|{task}", p < ALPHA)
        if self.condition == "null":
            self.table_bh.add(task, rejected_any)
            bg = table.get("best_group") or {}
            in_group = bg.get("in_group")
            if isinstance(in_group, list) and len(in_group) == k:
                self.best_out.add(task, not all(bool(x) for x in in_group))
            else:
                self.bump(f"best group undefined: {task}")
            ok = rank_ok((table.get("ranks") or {}).get("rank_interval"), k)
            if ok is None:
                self.bump(f"rank intervals undefined: {task}")
            else:
                self.rank1.add(task, ok[0])
                self.rankmid.add(task, ok[1])

    def add_row(self, name: str, kind: str, row: dict) -> None:
        label = f"{name}|{row.get('model')}|{row.get('a')} - {row.get('b', 'depth')}"
        res = row.get("result")
        if not isinstance(res, dict):
            self.bump(f"contrast row skipped: {name}: {row.get('skipped', 'no result')}"[:160])
            return
        est, p, src = row_headline(kind, res)
        self.head_source.setdefault(kind, {})
        self.head_source[kind][src] = self.head_source[kind].get(src, 0) + 1
        if self.condition == "null":
            if p is None:
                self.bump(f"contrast headline p undefined: {name}")
            else:
                self.contrast_head.add(kind, p < ALPHA)
                self.contrast_head.add(f"{kind}|{name}", p < ALPHA)
            for lp in layer_ps(res):
                self.contrast_layer.add(kind, lp < ALPHA)
                self.contrast_layer.add(f"{kind}|{name}", lp < ALPHA)
        else:
            if p is None:
                self.bump(f"contrast headline p undefined: {name}")
            if p is not None and planted_contrast(name, row.get("model"), row.get("a")) == "null":
                self.signal_nulls.add(f"contrast|{name}", p < ALPHA)
            slot = self.contrast_values.setdefault(label, {"d": [], "p": [], "layer_reject": [], "change": []})
            slot["d"].append(est)
            slot["p"].append(p)
            if kind == "depth" and num(res.get("change")) is not None:  # the new version tests the fitted change
                slot["change"].append(num(res.get("change")))
            lps = layer_ps(res)
            if lps:
                slot["layer_reject"].append(float(np.mean([x < ALPHA for x in lps])))

    # -- summaries ------------------------------------------------------------------------------
    def null_summary(self) -> dict:
        def pooled(t: Tally, target, direction="equal"):
            return {"all": t.pooled(target, direction), "by_task": t.all(target, direction)}

        def by_kind(t: Tally) -> dict:
            return {k: t.summary(k) for k in sorted(t.n)}

        return {
            "pairwise": {
                "raw_p_below_alpha_per_test": pooled(self.pair_tests, ALPHA),
                "bh_rejects_any_per_table": pooled(self.table_bh, ALPHA, "at_most"),
            },
            "contrasts": {
                "headline_raw_p_below_alpha": by_kind(self.contrast_head),
                "per_layer_raw_p_below_alpha": by_kind(self.contrast_layer),
                "headline_from": self.head_source,
            },
            "coverage": {
                "headline_ci": pooled(self.cover_head, LEVEL),
                "per_layer_ci": pooled(self.cover_layer, LEVEL),
            },
            "best_group_leaves_someone_out": pooled(self.best_out, ALPHA, "at_most"),
            "rank_intervals_simultaneous": {
                "contain_rank_1": pooled(self.rank1, LEVEL, "at_least"),
                "contain_mid_rank": pooled(self.rankmid, LEVEL, "at_least"),
            },
        }

    def signal_summary(self) -> dict:
        def power(slot: dict, planted: str | None) -> dict:
            """Effect size and rejection rate; planted "positive" / "negative": also the rate of rejections
            in that direction (power); "null": the rejection rate is a false-positive rate (target alpha)."""
            ps = [(d, p) for d, p in zip(slot["d"], slot["p"]) if p is not None]
            hits = sum(p < ALPHA for _, p in ps)
            out = {"estimate": describe(slot["d"]),
                   "reject_raw": rate(hits, len(ps), ALPHA if planted == "null" else None)}
            if planted is not None:
                out["planted"] = planted
            if planted in ("positive", "negative"):
                good = sum(p < ALPHA and d is not None and (d > 0 if planted == "positive" else d < 0) for d, p in ps)
                out["reject_in_planted_direction"] = rate(good, len(ps), None)
            if slot.get("change"):
                out["change"] = describe(slot["change"])
            if slot.get("layer_reject"):
                out["per_layer_reject_share_mean"] = float(np.mean(slot["layer_reject"]))
            return out

        pairs: dict[str, dict] = {}
        for key in sorted(self.pair_values):
            task, pair = key.split("|", 1)
            pairs.setdefault(task, {})[pair] = power(self.pair_values[key], planted_pair(task, pair))
        contrasts: dict[str, dict] = {}
        for key in sorted(self.contrast_values):
            name, model, what = key.split("|", 2)
            entry = power(self.contrast_values[key], planted_contrast(name, model, what.split(" - ")[0]))
            if name == "cal-transfer-vs-baseline" and what.startswith("cal-transfer-full-to-hollow"):
                entry["note"] = ("a null with learnable labels: the full and hollow subsets are exchangeable, but the "
                                 "transfer probe trains on several times more sounds than the no-transfer baseline; a "
                                 "contrast at matched training sizes rejects at alpha, an unmatched one more often")
            contrasts.setdefault(name, {})[f"{model}: {what}"] = entry
        heads = {}
        for key in sorted(self.headlines):
            task, model = key.split("|", 1)
            heads.setdefault(task, {})[model] = describe(self.headlines[key])
        return {"pairwise": pairs, "contrasts": contrasts, "headline_from": self.head_source,
                "coverage_of_known_nulls": {"note": "RSA against perceived hollowness: 0 in the population "
                                                    "(the hollowness latent is independent of the sound)",
                                            "headline_ci": self.cover_head.all(LEVEL),
                                            "per_layer_ci": self.cover_layer.all(LEVEL)},
                "headline_scores": heads,
                "known_nulls_pooled": {
                    "note": "the nulls kept in the signal design (cal-equal-a - cal-equal-b on every task, every pair "
                            "on RSA against hollowness, full -> hollow transfer vs baseline), pooled with intervals "
                            "clustered by set: the false-positive rate between models that align",
                    "pairwise": self.signal_nulls.pooled(ALPHA, keys=[k for k in self.signal_nulls.n
                                                                      if k.startswith("pairwise|")]),
                    "contrasts": self.signal_nulls.pooled(ALPHA, keys=[k for k in self.signal_nulls.n
                                                                       if k.startswith("contrast|")]),
                    "by_family": self.signal_nulls.all(ALPHA)}}

    def measures_summary(self) -> dict:
        return {
            "note": "claims across measures (RSA, CKA, encoding of one target); a null pair is every pair under the "
                    "complete null, and in the signal design cal-equal-a vs cal-equal-b and every pair against "
                    "hollowness; 'holds' is the intersection-union verdict, each measure deciding at its table's q "
                    "(two-sided alpha: alpha / 2 in a direction)",
            "null_pairs_holds_under_every_measure": {k: self.measure_holds.summary(k, ALPHA, "at_most")
                                                     for k in sorted(self.measure_holds.n)},
            "null_pairs_some_measure_claims": {k: self.measure_any.summary(k, None) for k in sorted(self.measure_any.n)},
            "planted_pair_verdicts": {k: {v: sum(x == v for x in vs) for v in sorted(set(vs))} | {"sets": len(vs)}
                                      for k, vs in sorted(self.measure_power.items())},
            "kendalls_w": {k: describe(v) for k, v in sorted(self.measure_w.items())},
        }

    def summary(self) -> dict:
        out = {"sets": self.n_sets, "sets_with_report": self.sets_with_report}
        out["measures_across"] = self.measures_summary()
        out.update(self.null_summary() if self.condition == "null" else self.signal_summary())
        out["transfer_subsets"] = {t: {k: describe(v) for k, v in s.items()} for t, s in self.transfer_sizes.items()}
        if self.condition == "null":
            heads = {}
            for key in sorted(self.headlines):
                task, model = key.split("|", 1)
                heads.setdefault(task, {})[model] = describe(self.headlines[key])
            out["headline_scores"] = heads
        out["undefined"] = dict(sorted(self.undefined.items()))
        return out


# ---------------------------------------------------------------------------------------------
# The run


@contextlib.contextmanager
def stdout_to_stderr():
    """Everything written to stdout (by this process or its workers) goes to stderr meanwhile, so
    that the JSON line is the only thing on stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def make_runner(options):
    """A Runner whose task evaluations that raise (a harness bug, e.g. a transfer probe on a tiny class)
    become "not applicable" rows through the Runner's own path, recorded in `crashes`, instead of
    ending the whole run. Nothing else differs from `Runner`."""
    from audioprobe.errors import NotApplicableError
    from audioprobe.runner import Runner

    class CalibrationRunner(Runner):
        crashes: list[dict] = []

        def evaluate(self, *args, **kwargs):
            try:
                return super().evaluate(*args, **kwargs)
            except NotApplicableError:
                raise
            except Exception as exc:  # noqa: BLE001 - recorded and reported: a finding, not a crash of the benchmark
                items = list(args) + list(kwargs.values())
                task = next((a for a in items if hasattr(a, "params") and hasattr(a, "type")), None)
                stimset = next((a for a in items if hasattr(a, "sound_ids")), None)
                model = args[0] if args and isinstance(args[0], str) else kwargs.get("name")
                what = f"{exc.__class__.__name__}: {exc}"[:300]
                self.crashes.append({"model": model, "task": getattr(task, "name", None),
                                     "set": getattr(stimset, "name", None), "error": what})
                log.warning("%s / %s / %s: the task raised %s", model, getattr(task, "name", None),
                            getattr(stimset, "name", None), what)
                raise NotApplicableError(f"the task raised {what}") from exc

    runner = CalibrationRunner(options)
    runner.crashes = []
    return runner


def load_tasks(quick: bool, spec: str = TASK_SPEC):
    import dataclasses

    from audioprobe.taskconfig import discover_tasks, select_tasks

    tasks = select_tasks(spec, discover_tasks([TASKS_DIR]))
    if quick:
        tasks = [dataclasses.replace(t, params={**t.params, **{k: v for k, v in QUICK.items() if k in t.params}})
                 for t in tasks]
    return tasks


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--condition", choices=("null", "signal", "both"), default="both")
    ap.add_argument("--sets", type=int, default=40, help="stimulus sets per condition (default 40)")
    ap.add_argument("--sounds", type=int, default=120, help="sounds per set, of the 245 (default 120)")
    ap.add_argument("--listeners", type=int, default=17, help="simulated listeners per set (default 17)")
    ap.add_argument("--models", default=DEFAULT_MODELS, help=f"comma-separated (default {DEFAULT_MODELS}; "
                    "random-beats may be added)")
    ap.add_argument("--rho-m", type=float, default=0.6, help="signal: P(a listener names the material) (0.6)")
    ap.add_argument("--seed", type=int, default=0, help="base seed of the simulated sets (default 0)")
    ap.add_argument("--quick", action="store_true", help="bootstrap 200, cv_splits 20 (trial runs only)")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="sets, cache and results (default /tmp/audioprobe-calibration-<version tag>)")
    ap.add_argument("--device", default="auto", help="Runner device: auto, cpu or cuda (default auto)")
    ap.add_argument("--tasks", default=TASK_SPEC, help=f"the benchmark's tasks to run (default {TASK_SPEC}: all; e.g. "
                    "cal-transfer-* while developing one task type; a line of a subset is not a full measurement)")
    ap.add_argument("-v", "--verbose", action="store_true", help="the Runner's progress on stderr")
    args = ap.parse_args(argv)
    if args.sets < 1:
        ap.error("--sets must be >= 1")
    if args.listeners < 3:
        ap.error("--listeners must be >= 3 (the two-factor bootstrap needs them)")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    warnings.simplefilter("ignore", category=FutureWarning)
    start = time.perf_counter()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    conditions = list(CONDITIONS) if args.condition == "both" else [args.condition]

    with stdout_to_stderr():
        version = package_version()
        workdir = args.workdir or Path(f"/tmp/audioprobe-calibration-{version['tag']}")
        design_tag = f"d{DESIGN_VERSION}-n{args.sounds}-l{args.listeners}-rho{args.rho_m:g}-s{args.seed}"
        sets_root = workdir / "sets" / design_tag
        results_dir = workdir / ("results-quick" if args.quick else "results") / design_tag
        print(f"bench_calibration: {version['tag']} ({version['package_dir']}), work folder {workdir}", file=sys.stderr)

        # 1. the stimulus sets
        t0 = time.perf_counter()
        folders: dict[str, Path] = {}
        designs: dict[str, dict] = {}
        for cond in conditions:
            for k in range(args.sets):
                name = set_name(cond, k)
                folder = sets_root / name
                designs[name] = make_set(folder, cond, k, args.sounds, args.listeners, args.rho_m, args.seed)
                folders[name] = folder
        generate_s = time.perf_counter() - t0
        print(f"bench_calibration: {len(folders)} sets ready ({generate_s:.1f} s)", file=sys.stderr)

        # 2. one Runner over every set and model
        from audioprobe.runner import RunOptions

        for name in NOISY_MODELS:
            if name in models:
                register_noisy_model(name)
        tasks = load_tasks(args.quick, args.tasks)
        t0 = time.perf_counter()
        runner = make_runner(RunOptions(output_dir=results_dir, device=args.device, seed=0, cache_dir=workdir / "cache",
                                   data=[str(f) for f in folders.values()], progress=args.verbose))
        results = runner.run([(m, {}) for m in models], tasks)
        run_s = time.perf_counter() - t0
        fingerprints: dict[str, str] = {}
        n_computed = n_reused = n_na = 0
        metric_s = 0.0
        metric_by_task: dict[str, float] = {}
        extract_by: dict[tuple[str, str], float] = {}  # one forward pass per (model, set), recorded in each result
        for r in results:
            if "not_applicable" in r:
                n_na += 1
                continue
            fingerprints[r["dataset"]["name"]] = r["dataset"]["fingerprint"]
            if r.get("_reused"):
                n_reused += 1
            else:
                n_computed += 1
                timing = r.get("timing") or {}
                m_s = num(timing.get("metric_s")) or 0.0
                metric_s += m_s
                metric_by_task[r["task"]["name"]] = metric_by_task.get(r["task"]["name"], 0.0) + m_s
                key = (r["model"]["name"], r["dataset"]["fingerprint"])
                extract_by[key] = max(extract_by.get(key, 0.0), num(timing.get("extract_s")) or 0.0)
        extract_s = sum(extract_by.values())
        crash_counts: dict[str, int] = {}
        for c in runner.crashes:
            crash_counts[str(c["task"])] = crash_counts.get(str(c["task"]), 0) + 1
        not_applicable = [f"{r['model']['name']} / {r['task']['name']} / {r['dataset']['name']}: {r['not_applicable']}"
                          for r in results if "not_applicable" in r]

        # 3. the claims of each set, and the result files
        from audioprobe.leaderboard.compare import compare
        from audioprobe.leaderboard.contrasts import discover_contrasts
        from audioprobe.results import set_folder

        contrasts = [c for c in discover_contrasts([CONTRASTS_DIR]) if c.name.startswith(CONTRAST_PREFIX)]
        t0 = time.perf_counter()
        collectors = {c: Collector(c, models) for c in conditions}
        compare_errors = []
        for name in folders:
            col = collectors[designs[name]["condition"]]
            col.start_set(name)
            fp = fingerprints.get(name)
            if fp is None:
                col.bump("set without any result")
                continue
            set_dir = results_dir / set_folder(name, fp)
            for f in sorted(set_dir.glob("*/cal-*.json")):
                if f.parent.name not in models:
                    continue
                try:
                    col.add_result(json.loads(f.read_text()))
                except (OSError, ValueError, KeyError) as exc:
                    col.bump(f"unreadable result: {exc.__class__.__name__}")
            here = [m for m in models if (set_dir / m).is_dir()]  # compare refuses a name without results
            if not here:
                col.bump("set without any result")
                continue
            try:
                report = compare(set_dir, contrasts, tasks=args.tasks, models=",".join(here), alpha=ALPHA, level=LEVEL)
            except Exception as exc:  # noqa: BLE001 - a broken compare is a finding, not a crash
                compare_errors.append(f"{name}: {exc.__class__.__name__}: {exc}"[:300])
                col.bump("compare failed")
                continue
            for s in report.get("sets") or []:
                if s.get("fingerprint") == fp or s.get("name") == name:
                    col.add_report(s)
        compare_s = time.perf_counter() - t0

    out = {
        "benchmark": "bench_calibration",
        "simulated": "synthetic sounds and simulated listeners: these numbers measure the harness's statistics, "
                     "not anything about human hearing",
        "code": {k: version[k] for k in ("tag", "package_dir", "git_rev", "dirty", "is_before", "source_sha256",
                                          "version", "python")},
        "conditions": conditions, "sets": args.sets, "sounds": args.sounds, "listeners": args.listeners,
        "models": models, "tasks": args.tasks, "rho_m": args.rho_m, "seed": args.seed, "quick": args.quick,
        "statistics": {k: v for k, v in tasks[0].params.items() if k in ("bootstrap", "cv_splits")},
        "alpha": ALPHA, "noise_sd": list(NOISE_SD), "feature_sd": FEATURE_SD,
        "workdir": str(workdir),
        "results": {"computed": n_computed, "reused": n_reused, "not_applicable": n_na,
                    "not_applicable_examples": not_applicable[:10], "metric_s": round(metric_s, 1),
                    "metric_s_by_task": {k: round(v, 1) for k, v in sorted(metric_by_task.items())},
                    "extract_s": round(extract_s, 1)},
        "task_crashes": {"n": len(runner.crashes), "by_task": crash_counts, "examples": runner.crashes[:10]},
        "compare_errors": compare_errors[:10], "n_compare_errors": len(compare_errors),
        **{c: collectors[c].summary() for c in conditions},
        "elapsed_s": {"total": round(time.perf_counter() - start, 1), "generate": round(generate_s, 1),
                      "run": round(run_s, 1), "compare": round(compare_s, 1)},
    }
    line = json.dumps(compact(out), separators=(",", ":"))
    workdir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (workdir / f"calibration-{args.condition}-{design_tag}{'-quick' if args.quick else ''}-sets{args.sets}-{stamp}.json"
     ).write_text(line + "\n")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
