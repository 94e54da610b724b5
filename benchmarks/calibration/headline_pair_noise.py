"""Offline analysis of a calibration work folder: would a pair-noise correction for headlines chosen among
layers hold its level? Prints one JSON line.

    python benchmarks/calibration/headline_pair_noise.py /tmp/audioprobe-calibration-<tag>/results/<design>

THE DATA ARE SIMULATED (the sets of `benchmarks/bench_calibration.py`); the numbers are about estimators.

For every RSA-family result table of every set (`cal-rsa-*`, `cal-partial-rsa-*`), every pair of models
where at least one headline is chosen among layers (pairs of one-layer models are corrected already), the
paired headline t-test (the dual-bootstrap variance of the split replicates, as audioprobe-compare
computes it) is made three ways:

- `plain`: the bootstrap's variance (what the harness does for these pairs);
- `own`: twice the pairs' noise removed, measured on the headline replicates' own residual on the
  resamples' counts (`intervals.pair_noise_variance`; the version withdrawn at 6c8e9b2);
- `layer`: twice the pairs' noise removed, measured on the per-layer replicates of the two headlines'
  layers (a smooth statistic: the hypothesis that the own residual failed because it also removes the
  layer choice's noise).

Rates of p < 0.05 per (condition, task): under the complete null every pair is a null; in the signal
design only `cal-rsa-hollowness` (a reliable target nobody aligns with) is.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats as st

from audioprobe.leaderboard.pairing import Entry, _pair_plan
from audioprobe.metrics import inference, intervals

WAYS = ("plain", "own", "layer")


def _kinds(entry: Entry, name: str) -> dict[str, np.ndarray]:
    reps = entry.replicates(name)
    if not isinstance(reps, dict):
        reps = {"both": reps}
    return {k: np.asarray(v.values if isinstance(v, inference.Splits) else v, dtype=np.float64)
            for k, v in reps.items()}


def _with_splits(a: np.ndarray, k: int) -> np.ndarray:
    return a if a.ndim == 2 else np.repeat(a[:, None], k, axis=1)


def paired_p(a: Entry, b: Entry, way: str) -> float:
    """Two-sided p of the headline difference a - b with the variance of `way` (module docstring)."""
    plan = a.resampling
    counts = _pair_plan(int(plan["seed"]), int(plan["n_items"]), int(plan["n_resamples"]),
                        plan.get("sounds_plan_sha256", ""))
    ha, hb = _kinds(a, "headline"), _kinds(b, "headline")
    k = max(x.shape[1] if x.ndim == 2 else 1 for x in (*ha.values(), *hb.values()))
    diff = {kind: _with_splits(ha[kind], k) - _with_splits(hb[kind], k) for kind in ha}
    layer_of = [[x["layer"] for x in e.result["scores"]["per_layer"]].index(e.result["scores"]["headline"]["layer"])
                for e in (a, b)]
    pa, pb = _kinds(a, "per_layer"), _kinds(b, "per_layer")
    source = {kind: (pa[kind][:, layer_of[0]] - pb[kind][:, layer_of[1]])[:, None] for kind in pa}
    valid = np.all(np.isfinite(np.stack(list(diff.values()))), axis=(0, 2))
    noise = None
    if way != "plain" and counts is not None:
        on = (diff if way == "own" else source).get("sounds", (diff if way == "own" else source)["both"])
        noise = intervals.pair_noise_variance(on, counts, valid)
    cv = a.result["scores"]["statistics"]["cv_splits"]
    n_s, n_l = plan["n_items"], plan.get("n_listeners")
    if "sounds" in diff:
        vb = intervals.split_variance(diff["both"], cv, valid, pair_noise=noise)
        vl = intervals.split_variance(diff["listeners"], cv, valid)
        vs = intervals.split_variance(diff["sounds"], cv, valid, pair_noise=noise)
        var, dof = intervals.dual_bootstrap_variance(vb, vl, vs, n_l, n_s), intervals.dual_dof(vb, vl, vs, n_l, n_s)
    else:
        var, dof = intervals.split_variance(diff["both"], cv, valid, pair_noise=noise) * n_s / (n_s - 1), n_s - 1.0
    value = a.result["scores"]["headline"]["value"] - b.result["scores"]["headline"]["value"]
    return float(2 * st.t.sf(abs(value) / np.sqrt(float(var)), float(dof)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", type=Path, help="a calibration results folder (results/<design tag>)")
    ap.add_argument("--alpha", type=float, default=0.05)
    args = ap.parse_args(argv)
    rejects: dict = collections.defaultdict(lambda: {w: [] for w in WAYS})
    for set_dir in sorted(args.results.glob("cal-*")):
        condition = "null" if set_dir.name.startswith("cal-null") else "signal"
        by_task = collections.defaultdict(list)
        for path in set_dir.glob("*/cal-*rsa*.json"):
            result = json.loads(path.read_text())
            if result["scores"]["headline"]["value"] is not None:
                by_task[result["task"]["name"]].append(Entry(path, result))
        for task, entries in by_task.items():
            for a, b in itertools.combinations(sorted(entries, key=lambda e: e.model), 2):
                layers = [sum(x["score"] is not None for x in e.result["scores"]["per_layer"]) for e in (a, b)]
                if max(layers) == 1:
                    continue
                for way in WAYS:
                    rejects[f"{condition}/{task}"][way].append(paired_p(a, b, way) < args.alpha)
    line = {"benchmark": "headline_pair_noise", "simulated": True, "results": str(args.results), "alpha": args.alpha,
            "reject_rate": {key: {w: round(float(np.mean(v)), 4) for w, v in ways.items()}
                            for key, ways in sorted(rejects.items())},
            "tests": {key: len(ways["plain"]) for key, ways in sorted(rejects.items())}}
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
