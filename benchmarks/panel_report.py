"""Report on the embedded `impacts` set: generation time and how the simulated panel hears it.

Prints the cold generation time (synthesis + cue measurement + panel, no disk cache), the warm
load time (disk cache), and for each dimension how often the panel's modal response equals the
physical label (with chance = the largest category's share), per-trial agreement, Cohen's kappa
of the modal responses, and the material confusion matrix (rows: physical, columns: modal
response). SIMULATED listeners: these figures describe the simulation, not human perception.

    python benchmarks/panel_report.py [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def kappa(truth: np.ndarray, pred: np.ndarray, k: int) -> float:
    """Cohen's kappa: agreement beyond what the two marginals give by chance."""
    m = np.zeros((k, k))
    np.add.at(m, (truth, pred), 1)
    m /= m.sum()
    expected = m.sum(1) @ m.sum(0)
    return float((np.trace(m) - expected) / (1 - expected))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ["AUDIOPROBE_CACHE"] = os.path.join(tempfile.mkdtemp(), "activations")  # cold: empty cache

    t0 = time.perf_counter()
    from audioprobe.stimuli.synthetic import impacts  # noqa: E402  (import time counted: it is part of a cold run)

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    stimset = impacts.load_impacts(args.seed)
    cold = time.perf_counter() - t0
    impacts._arrays.cache_clear()
    t0 = time.perf_counter()
    impacts.load_impacts(args.seed)
    warm = time.perf_counter() - t0
    print(f"impacts {stimset.source}: {len(stimset)} sounds, {len(stimset.listeners)} simulated listeners")
    print(f"generation (cold, no disk cache): {cold:.2f} s   load from disk cache: {warm:.2f} s   "
          f"(import {t_import:.2f} s; load average {os.getloadavg()[0]:.2f})")
    print("SIMULATED listeners: not a finding about human perception.\n")

    print(f"{'dimension':<11} {'modal = physical':>16} {'chance':>7} {'per trial':>9} {'kappa (modal)':>13}")
    for dim, cats in stimset.dimensions.items():
        truth = np.array([cats.index(x) for x in stimset.labels[dim]])
        counts = stimset.judgments[dim]
        modal = counts.argmax(axis=1)  # ties: the first category in declared order
        resp = stimset.responses[dim]
        chance = np.bincount(truth, minlength=len(cats)).max() / len(truth)
        print(f"{dim:<11} {np.mean(modal == truth):>16.3f} {chance:>7.3f} {np.mean(resp == truth[None]):>9.3f} "
              f"{kappa(truth, modal, len(cats)):>13.3f}")
        if dim == "material":
            conf = np.zeros((len(cats), len(cats)), int)
            np.add.at(conf, (truth, modal), 1)
            material_conf = (cats, conf)
    cats, conf = material_conf
    print("\nmaterial confusion matrix (rows: physical material, columns: panel's modal response)")
    width = max(len(c) for c in cats) + 1
    print(" " * width + "".join(f"{c[:6]:>7}" for c in cats))
    for c, row in zip(cats, conf):
        print(f"{c:<{width}}" + "".join(f"{v:>7d}" for v in row))


if __name__ == "__main__":
    main()
