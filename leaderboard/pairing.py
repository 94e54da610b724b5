"""Results as entries of a comparison, and which of them pair: a result's replicates, its resample plan and
its sound draws (`Entry`), the arrays two entries share row by row (`paired_replicates`), in the design the
statistics take (one factor, split replicates, the dual bootstrap; statistics over pairs of sounds)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np

from audioprobe.errors import AudioprobeError
from audioprobe.metrics import inference, resampling
from audioprobe.results import collect_files, read_replicates, result_label

log = logging.getLogger("audioprobe.leaderboard.compare")  # the comparison's messages, under one name

METHOD = ("Paired comparisons on shared bootstrap resamples (Schütt et al. 2023, eLife): a two-sided t-test of "
          "each difference with its bootstrap variance ({design}; a cross-validated headline's split noise removed), "
          "95% t intervals; Benjamini-Hochberg FDR at q = {alpha} across the tests of one experiment (its pairwise "
          "headline differences and contrast rows together; per-layer contrast tests as a second family). Rank "
          "intervals and the best group are simultaneous over all pairs of a task (single-step max-t; Mogstad et "
          "al. 2024): the best group is a confidence set for the best model, not a proof that its members are "
          "equal.")


#: replicates of a cross-validated statistic: `[n_resamples, K]`, K fixed half-splits per resample
SPLIT_REPLICATES = ("headline", "baseline_contrast")


#: results older than this hold one random split per resample in their headline replicates: not paired
FIRST_SPLIT_SCHEMA = 3


@dataclasses.dataclass
class Entry:
    """One result file, its replicates loaded on demand."""

    path: Path
    result: dict[str, Any]
    _arrays: dict[str, np.ndarray] | None = None

    @property
    def model(self) -> str:
        return result_label(self.result)

    @property
    def task(self) -> str:
        return self.result["task"]["name"]

    @property
    def resampling(self) -> dict[str, Any] | None:
        return (self.result.get("replicates") or {}).get("resampling")

    def arrays(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            self._arrays = read_replicates(self.path, self.result)
        return self._arrays

    def replicates(self, name: str):
        """`name` replicates (`per_layer`, `headline`, `baseline`, ...): an array, `inference.Splits` for the
        replicates of a cross-validated statistic (`[n_resamples, K]`), or the dual-bootstrap dict of those."""
        arrays = self.arrays()
        if name not in arrays:
            return None

        def wrap(a):
            if name in SPLIT_REPLICATES and a.ndim == 2:
                return inference.Splits(a, self.result["scores"].get("statistics", {}).get("cv_splits"))
            return a

        if f"{name}_sounds" in arrays and f"{name}_listeners" in arrays:
            return {"both": wrap(arrays[name]), "sounds": wrap(arrays[f"{name}_sounds"]),
                    "listeners": wrap(arrays[f"{name}_listeners"])}
        return wrap(arrays[name])

    def sound_counts(self, name: str) -> np.ndarray | None:
        """The sound counts of the resamples of replicates `name` when they are a smooth statistic over sound
        pairs (RSA's per_layer; its headline when it is the only layer's), drawn again from the seed and
        checked against the result's plan; None for other statistics or a plan that does not match."""
        r = self.resampling or {}
        if name not in (r.get("pair_statistic") or ()):
            return None
        return _pair_plan(int(r["seed"]), int(r["n_items"]), int(r["n_resamples"]), r.get("sounds_plan_sha256", ""))

    def factors(self) -> dict[str, int | None]:
        r = self.resampling or {}
        return {"n_sounds": r.get("n_items"), "n_listeners": r.get("n_listeners")}


@functools.lru_cache(maxsize=8)
def _pair_plan(seed: int, n: int, n_resamples: int, sha256: str) -> np.ndarray | None:
    counts = resampling.sound_draws(seed, n, n_resamples)
    if hashlib.sha256(np.ascontiguousarray(counts, dtype=np.int64).tobytes()).hexdigest() != sha256:
        log.warning("a result's sound draws (seed %d, %d sounds) do not match its plan: its comparisons keep the "
                    "bootstrap's variance, without the pair-noise correction", seed, n)
        return None
    return counts


def over_pairs(reps, name: str, *entries: "Entry"):
    """reps (the entries' replicates `name`, one column per entry when several) as `inference.OverPairs`
    for those entries whose replicates are a smooth statistic over sound pairs on the same draws (their
    variances then count the pairs' noise once, docs/metrics.md); unchanged when none is. When only some
    are, each of their own scores is corrected and no difference between scores (`OverPairs.columns`)."""
    counts = [e.sound_counts(name) for e in entries]
    known = [c for c in counts if c is not None]
    if reps is None or not known or any(c is not known[0] for c in known[1:]):
        return reps
    if len(known) == len(counts):
        return inference.OverPairs(reps, known[0])
    return inference.OverPairs(reps, known[0], columns=np.array([c is not None for c in counts]))


def collect_entries(results_dir: Path) -> list[Entry]:
    """Every result (schema 2, one per set, model and task) under `results_dir` whose replicates can be read; a
    result with a damaged or missing replicates file is skipped with a warning naming it (one bad file never
    stops the comparisons of the others)."""
    out = []
    for path, result in collect_files(results_dir):
        entry = Entry(path, result)
        if result.get("replicates"):
            try:
                entry.arrays()
            except AudioprobeError as exc:
                log.warning("skipped %s", exc)
                continue
        out.append(entry)
    return out


def _stack(reps: list) -> Any:
    """Per-model replicates `[B]` or `Splits` `[B, K]` (or dual dicts of them) -> `[B, k]`, `Splits` `[B, K, k]`
    (plain ones repeated over the splits), or a dual dict of those."""
    if isinstance(reps[0], dict):
        return {key: _stack([r[key] for r in reps]) for key in ("both", "sounds", "listeners")}
    splits = [r for r in reps if isinstance(r, inference.Splits)]
    if not splits:
        return np.stack(reps, axis=1)
    k = max(r.values.shape[1] for r in splits)
    columns = [r.values if isinstance(r, inference.Splits) else np.repeat(np.asarray(r)[:, None], k, axis=1)
               for r in reps]
    return inference.Splits(np.stack(columns, axis=2), min(r.cv_splits or 0 for r in splits) or None)


def _pairable(entries: list[Entry], what: str) -> tuple[list[Entry], list[dict]]:
    """The entries sharing the most common resample plan, and why each other one is left out."""
    left_out = []
    with_reps = []
    for e in entries:
        if e.resampling is None:
            left_out.append({"model": e.model, "task": e.task, "reason": "no bootstrap replicates (bootstrap 0 or an "
                             "older result: re-run with --overwrite)"})
        elif e.result["scores"]["headline"]["value"] is None and what == "headline":
            left_out.append({"model": e.model, "task": e.task, "reason": "no headline score"})
        elif what == "headline" and e.result["schema_version"] < FIRST_SPLIT_SCHEMA:
            left_out.append({"model": e.model, "task": e.task, "reason": "an older result: its headline replicates "
                             "hold one random split per resample (re-run with --overwrite)"})
        else:
            with_reps.append(e)
    plans: dict[str, list[Entry]] = {}
    for e in with_reps:
        plans.setdefault(e.resampling["plan_sha256"], []).append(e)
    if not plans:
        return [], left_out
    best = max(plans.values(), key=len)
    for e in with_reps:
        if e not in best:
            left_out.append({"model": e.model, "task": e.task, "reason": "other resamples (another seed or "
                             "resampling): not paired with the rest"})
    return best, left_out


# ---------------------------------------------------------------------------------------------
# Contrasts within a model

def _as_dual(reps, point) -> dict:
    """One-factor (sounds) replicates of a score that does not depend on listeners (a physical target,
    a fixed dissimilarity matrix) in the dual-bootstrap form: resampling listeners leaves it at its
    point estimate. reps: an array `[B, ...]` or `inference.Splits`."""
    if isinstance(reps, inference.Splits):
        values = reps.values
        constant = np.full(values.shape, np.nan if point is None else float(point))
        return {"both": reps, "sounds": reps, "listeners": inference.Splits(constant, reps.cv_splits)}
    point = np.broadcast_to(np.array([np.nan if v is None else v for v in np.atleast_1d(point)], dtype=np.float64)
                            .reshape(reps.shape[1:]), reps.shape)
    return {"both": reps, "sounds": reps, "listeners": point.copy()}


def paired_replicates(a: Entry, b: Entry, name_a: str, name_b: str, point_a, point_b):
    """Replicates of a and b on the same resamples, with the factors to correct for, or why none.

    Equal plans pair row by row. A two-factor result pairs with a sounds-only one drawn on the
    same sounds: the latter is put in dual form (constant over listeners).
    """
    ra_, rb_ = a.resampling, b.resampling
    if ra_ is None or rb_ is None:
        return "no bootstrap replicates (bootstrap 0 or an older result: re-run with --overwrite)"
    reps_a, reps_b = a.replicates(name_a), b.replicates(name_b)
    if reps_a is None or reps_b is None:
        return f"no {name_a if reps_a is None else name_b} replicates"
    # The pair-noise correction holds for the contrast only when both sides are pair statistics on the same
    # draws (`inference.OverPairs`): each side is wrapped alone, and the contrast keeps it only then.
    if ra_["plan_sha256"] == rb_["plan_sha256"]:
        return over_pairs(reps_a, name_a, a), over_pairs(reps_b, name_b, b), a.factors()
    if ra_.get("sounds_plan_sha256") and ra_.get("sounds_plan_sha256") == rb_.get("sounds_plan_sha256"):
        if isinstance(reps_a, dict) and not isinstance(reps_b, dict):
            return over_pairs(reps_a, name_a, a), over_pairs(_as_dual(reps_b, point_b), name_b, b), a.factors()
        if isinstance(reps_b, dict) and not isinstance(reps_a, dict):
            return over_pairs(_as_dual(reps_a, point_a), name_a, a), over_pairs(reps_b, name_b, b), b.factors()
    return "the two results were not drawn on the same resamples (seed, set or resampled factors differ)"
