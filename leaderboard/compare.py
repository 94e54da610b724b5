"""Claims from result files: paired comparisons of models, and contrasts within a model.

Everything here reads result files and their replicates (`<task>.replicates.npz`) only, never a
model or an activation. Two results are compared row by row only when their resample plans are
the same draws (`replicates.resampling.plan_sha256`): same stimulus set, seed and resampled
factors. The statistics are `audioprobe.metrics.inference` (Schütt et al. 2023: paired t-tests
with bootstrap variances; the dual-bootstrap correction where listeners were resampled too;
Benjamini-Hochberg across the pairs of a task or the layers of a contrast).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np

from audioprobe.errors import AudioprobeError
from audioprobe.leaderboard.contrasts import Contrast
from audioprobe.metrics import inference, resampling
from audioprobe.results import (
    collect_files,
    experiment_of,
    interval_text,
    p_text,
    read_replicates,
    result_label,
    score_text,
    unreliable_labels,
)

log = logging.getLogger(__name__)

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


def compare_models(entries: list[Entry], alpha: float = 0.05, level: float = 0.95) -> dict[str, Any] | None:
    """Every pair of models on one task and set: differences of headlines, simultaneous ranks, the best set."""
    usable, left_out = _pairable(entries, "headline")
    usable = sorted(usable, key=lambda e: e.model)
    if len(usable) < 2:
        return None if not usable else {"models": [usable[0].model], "left_out": left_out, "pairwise": None}
    lower = bool(usable[0].result["scores"].get("lower_is_better", False))
    estimates = [e.result["scores"]["headline"]["value"] for e in usable]
    reps = over_pairs(_stack([e.replicates("headline") for e in usable]), "headline", *usable)
    n = usable[0].factors()
    common = dict(n_sounds=n["n_sounds"], n_listeners=n["n_listeners"])
    simultaneous = inference.simultaneous_pairs(estimates, reps, level=level, **common)
    best = simultaneous if abs((1 - alpha) - level) < 1e-12 else inference.simultaneous_pairs(
        estimates, reps, level=1 - alpha, **common)
    return {
        "models": [e.model for e in usable],
        "headline": estimates,
        "headline_layer": [e.result["scores"]["headline"]["layer"] for e in usable],
        "lower_is_better": lower,
        "resampling": usable[0].resampling,
        "pairwise": inference.pairwise_table(estimates, reps, alpha=alpha, level=level, **common),
        "simultaneous": simultaneous,
        "ranks": inference.rank_intervals(estimates, reps, lower_is_better=lower, level=level,
                                          simultaneous=simultaneous, **common),
        "best_group": inference.best_set(estimates, reps, alpha=alpha, lower_is_better=lower, simultaneous=best,
                                         **common),
        "left_out": left_out,
    }


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


def _layer_contrast(a: Entry, b: Entry | None, alpha: float, level: float) -> dict | str:
    """a - b per layer and for the headline, on shared resamples. b None: a transfer probe against its own
    no-transfer baseline, both trained on as many sounds (the `matched` and `matched_baseline` probes), with the
    cross-validated headline of that difference (`scores.baseline_contrast`: the layer picked by the transfer
    score on one half of the test sounds, the difference scored on the other)."""
    per_layer = a.result["scores"]["per_layer"]
    if b is None:
        score = a.result["task"]["config"]["params"].get("score", "accuracy")
        if "baseline_contrast" not in a.result["scores"]:
            return ("an older result without the matched-size probes (the baseline was trained on fewer sounds than "
                    "the transfer probe): re-run with --overwrite")
        scores_a = [e.get(f"matched_{score}") for e in per_layer]
        scores_b = [e.get(f"matched_baseline_{score}") for e in per_layer]
        paired = paired_replicates(a, a, "matched", "matched_baseline", scores_a, scores_b)
    else:
        scores_a = [e["score"] for e in per_layer]
        scores_b = [e["score"] for e in b.result["scores"]["per_layer"]]
        paired = paired_replicates(a, b, "per_layer", "per_layer", scores_a, scores_b)
    if isinstance(paired, str):
        return paired
    reps_a, reps_b, n = paired
    headlines, baseline_headline = {}, None
    if b is not None and min(a.result["schema_version"], b.result["schema_version"]) >= FIRST_SPLIT_SCHEMA:
        ha, hb = a.result["scores"]["headline"]["value"], b.result["scores"]["headline"]["value"]
        hp = paired_replicates(a, b, "headline", "headline", ha, hb)
        if None not in (ha, hb) and not isinstance(hp, str):
            headlines = dict(headline_a=ha, headline_b=hb, headline_replicates_a=hp[0], headline_replicates_b=hp[1])
    out = inference.layer_contrast(scores_a, scores_b, reps_a, reps_b, n_sounds=n["n_sounds"],
                                   n_listeners=n["n_listeners"], level=level, alpha=alpha, **headlines)
    if b is None:
        block = a.result["scores"]["baseline_contrast"]
        reps = a.replicates("baseline_contrast")
        if block.get("value") is not None and reps is not None:
            baseline_headline = inference.contrast_statistics(block["value"], reps, n_sounds=n["n_sounds"],
                                                              n_listeners=n["n_listeners"], level=level)
            baseline_headline["difference"] = baseline_headline.pop("estimate")
            baseline_headline["selection"] = block.get("selection")
        out["headline"] = baseline_headline
        out["headline_layer"] = block.get("layer")
    else:
        out["headline_layer"] = a.result["scores"]["headline"]["layer"]
    out["layer_names"] = [e["layer"] for e in per_layer]
    return out


def evaluate_contrast(contrast: Contrast, by_key: dict[tuple[str, str], Entry], alpha: float = 0.05,
                      level: float = 0.95) -> list[dict]:
    """The rows of one contrast on one stimulus set: one per (model, pair / task / control)."""
    models = sorted({m for m, _ in by_key})
    rows = []

    for model in models:
        if contrast.kind == "tasks":
            for ta, tb in contrast.pairs:
                a, b = by_key.get((model, ta)), by_key.get((model, tb))
                if a is None or b is None:
                    continue
                out = _layer_contrast(a, b, alpha, level)
                rows.append({"model": model, "a": ta, "b": tb,
                             **({"skipped": out} if isinstance(out, str) else {"result": out})})
        elif contrast.kind == "baseline":
            for task in contrast.tasks:
                a = by_key.get((model, task))
                if a is None:
                    continue
                out = _layer_contrast(a, None, alpha, level)
                rows.append({"model": model, "a": task, "b": "no-transfer baseline",
                             **({"skipped": out} if isinstance(out, str) else {"result": out})})
        elif contrast.kind == "depth":
            for task in contrast.tasks:
                a = by_key.get((model, task))
                if a is None or len(a.result["scores"]["per_layer"]) < 3:
                    continue
                if a.resampling is None:
                    rows.append({"model": model, "a": task, "skipped": "no bootstrap replicates"})
                    continue
                scores = [e["score"] for e in a.result["scores"]["per_layer"]]
                n = a.factors()
                rows.append({"model": model, "a": task,
                             "result": inference.depth_trend(scores, over_pairs(a.replicates("per_layer"), "per_layer", a),
                                                             n_sounds=n["n_sounds"],
                                                             n_listeners=n["n_listeners"], level=level)})
        elif contrast.kind == "control":
            for task in contrast.tasks:
                a = by_key.get((model, task))
                if a is None:
                    continue
                for pattern in contrast.controls:
                    control = pattern.replace("{model}", model)
                    b = by_key.get((control, task))
                    if b is None or control == model:
                        continue
                    ha, hb = a.result["scores"]["headline"]["value"], b.result["scores"]["headline"]["value"]
                    paired = ("no headline score" if None in (ha, hb) else
                              "an older result: its headline replicates hold one random split per resample (re-run "
                              "with --overwrite)" if min(a.result["schema_version"], b.result["schema_version"])
                              < FIRST_SPLIT_SCHEMA else paired_replicates(a, b, "headline", "headline", ha, hb))
                    if isinstance(paired, str):
                        rows.append({"model": model, "a": task, "b": control, "skipped": paired})
                        continue
                    reps_a, reps_b, n = paired
                    rows.append({"model": model, "a": task, "b": control, "result": {"headline": inference.paired_difference(
                        ha, hb, reps_a, reps_b, n_sounds=n["n_sounds"], n_listeners=n["n_listeners"], level=level)}})
    return rows


def row_test(row: dict, kind: str) -> dict | None:
    """The headline-level test of a contrast row (its p_value and where its q goes): the headline contrast, or
    the depth trend's change; None when the row has none."""
    res = row.get("result") or {}
    test = res if kind == "depth" else res.get("headline")
    return test if test and test.get("p_value") is not None else None


def verdict(test: dict | None, estimate_key: str, margin: float | None, reject: bool | None) -> str | None:
    """A contrast row's claim in words, from its family-corrected test and, with a margin, its interval
    (contrasts.py: an effect only when the test rejects and the whole interval lies beyond the margin;
    equivalence when the interval lies inside [-margin, margin])."""
    if test is None or test.get(estimate_key) is None:
        return None
    est, ci = test[estimate_key], test.get("ci") or [None, None]
    sign = "positive" if est > 0 else "negative"
    if margin is None:
        return f"{sign} effect" if reject else "not shown"
    lo, hi = ci
    if None in (lo, hi):
        return "not shown (no interval)"
    if reject and (lo > margin or hi < -margin):
        return f"{sign} effect beyond the margin {margin:g}"
    if -margin <= lo and hi <= margin:
        return f"no effect as large as the margin {margin:g} (equivalence)"
    if reject:
        return f"{sign} but not shown beyond the margin {margin:g}"
    return "inconclusive"


def judge_rows(contrasts: list[dict]) -> None:
    """Each contrast row with a test gets its `margin` and `verdict` (after the families' correction)."""
    for c in contrasts:
        for r in c["rows"]:
            test = row_test(r, c["kind"])
            if test is None:
                continue
            res = r["result"]
            r["margin"] = c.get("margin")
            r["verdict"] = verdict(test, "change" if c["kind"] == "depth" else "difference", c.get("margin"),
                                   res.get("row_reject"))


def correct_families(tables: list[dict], contrasts: list[dict], experiment_of_task: dict[str, str],
                     alpha: float) -> None:
    """Benjamini-Hochberg over the claims an experiment makes together (Benjamini & Hochberg 1995): per experiment
    of a stimulus set, one family holds every pairwise headline difference of its tasks and every contrast row's
    headline test (and depth trend) whose first task belongs to it; a second family holds the per-layer tests of
    its contrast rows. Each test's `q_value` and `reject` are replaced by the family's, and the family is named
    (`family`, `family_size`)."""
    headline: dict[str, list[tuple[Any, Any, float]]] = {}
    layers: dict[str, list[tuple[Any, int, float]]] = {}
    for t in tables:
        pw = t.get("pairwise")
        if not pw:
            continue
        family = experiment_of_task.get(t["task"], t["task"])
        k = len(t["models"])
        for i in range(k):
            for j in range(i + 1, k):
                if pw["p_value"][i][j] is not None:
                    headline.setdefault(family, []).append((pw, (i, j), pw["p_value"][i][j]))
    for c in contrasts:
        for r in c["rows"]:
            family = experiment_of_task.get(r["a"], r["a"])
            test = row_test(r, c["kind"])
            if test is not None:
                headline.setdefault(family, []).append((r["result"], None, test["p_value"]))
            lay = (r.get("result") or {}).get("layers")
            if lay:
                for k, p in enumerate(lay["p_value"]):
                    if p is not None:
                        layers.setdefault(family, []).append((lay, k, p))
    for family, tests in headline.items():
        bh = inference.benjamini_hochberg([p for _, _, p in tests], alpha=alpha)
        for (target, where, _), q, rej in zip(tests, bh["q_value"], bh["reject"]):
            if where is None:  # a contrast row
                target["row_q_value"], target["row_reject"] = q, rej
                target["family"], target["family_size"] = family, len(tests)
            else:
                i, j = where
                for a, b in ((i, j), (j, i)):
                    target["q_value"][a][b], target["reject"][a][b] = q, rej
                target["family"], target["family_size"] = family, len(tests)
    for family, tests in layers.items():
        bh = inference.benjamini_hochberg([p for _, _, p in tests], alpha=alpha)
        for (lay, k, _), q, rej in zip(tests, bh["q_value"], bh["reject"]):
            lay["q_value"][k], lay["reject"][k] = q, rej
            lay["family"], lay["family_size"] = family + " (per layer)", len(tests)


# ---------------------------------------------------------------------------------------------
# The report

def _tokens(spec: str) -> list[str]:
    """A comma-separated list, commas inside brackets kept: a model label such as "clap[a=1,b=2]" is one token."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(spec):
        depth += (ch == "[") - (ch == "]")
        if ch == "," and depth <= 0:
            out.append(spec[start:i])
            start = i + 1
    out.append(spec[start:])
    return [t.strip() for t in out if t.strip()]


def _matches(name: str, token: str) -> bool:
    """The name itself (a model label's brackets are not a glob's character class), or a glob."""
    return name == token or fnmatch.fnmatchcase(name, token)


def select(names: list[str], spec: str | None) -> list[str]:
    """Names matching a comma-separated list of names or globs (None: all)."""
    if not spec:
        return names
    tokens = _tokens(spec)
    chosen = [n for n in names if any(_matches(n, t) for t in tokens)]
    unknown = [t for t in tokens if not any(_matches(n, t) for n in names)]
    if unknown:
        raise AudioprobeError(f"{', '.join(map(repr, unknown))} matches no result here (known: "
                              f"{', '.join(sorted(names)[:12])}{' ...' if len(names) > 12 else ''}).")
    return chosen


def compare(results_dir: Path, contrasts: list[Contrast], tasks: str | None = None, models: str | None = None,
            alpha: float = 0.05, level: float = 0.95) -> dict[str, Any]:
    """The whole report, as JSON-ready data: per stimulus set, per task the model comparison, then contrasts."""
    entries = [e for e in collect_entries(results_dir) if e.result["schema_version"] >= 2]
    if not entries:
        raise AudioprobeError(f"{results_dir}: no result files of schema 2 here; run audioprobe-eval first.")
    task_names = select(sorted({e.task for e in entries}), tasks)
    model_names = select(sorted({e.model for e in entries}), models)
    sets: dict[str, list[Entry]] = {}
    for e in entries:
        if e.task in task_names and e.model in model_names:
            sets.setdefault(e.result["dataset"]["fingerprint"], []).append(e)
    if models:  # contrasts against controls read the controls' results even when not listed
        for e in entries:
            if e.result["dataset"]["fingerprint"] in sets and e not in sets[e.result["dataset"]["fingerprint"]]:
                sets[e.result["dataset"]["fingerprint"]].append(e)
    report = {"method": METHOD.format(design="dual-bootstrap variance where listeners were resampled", alpha=alpha),
              "alpha": alpha, "level": level, "sets": []}
    for fp, group in sorted(sets.items(), key=lambda kv: kv[1][0].result["dataset"]["name"]):
        ds = group[0].result["dataset"]
        by_task: dict[str, list[Entry]] = {}
        for e in group:
            if e.model in model_names and e.task in task_names:
                by_task.setdefault(e.task, []).append(e)
        by_key = {(e.model, e.task): e for e in group}
        shown_models = {e.model for e in group if e.model in model_names}
        tables = []
        for task, es in sorted(by_task.items()):
            table = compare_models(es, alpha, level)
            if table is not None:
                flags = unreliable_labels(es[0].result["scores"])  # the target and labels are the task's, not the model's
                tables.append({"task": task, "metric": es[0].result["scores"]["metric"], **table,
                               **({"unreliable": flags} if flags else {})})
        contrast_out = []
        for c in contrasts:
            # --models and --tasks filter the contrasts too: a row shows when its model is selected and every task
            # it reads is (a control model is not a task: kind control's b is its model, read even if unlisted)
            rows = [r for r in evaluate_contrast(c, by_key, alpha, level) if r["model"] in shown_models
                    and r["a"] in task_names and (c.kind != "tasks" or r.get("b") in task_names)]
            if rows:
                contrast_out.append({"contrast": c.name, "version": c.version, "kind": c.kind,
                                     "description": c.description, "margin": c.margin, "rows": rows})
        correct_families(tables, contrast_out, {e.task: experiment_of(e.result) for e in group}, alpha)
        judge_rows(contrast_out)
        report["sets"].append({"name": ds["name"], "fingerprint": fp, "n_sounds": ds["n_sounds"],
                               "synthetic": bool(ds.get("synthetic")), "partial": bool(ds.get("partial")),
                               "tasks": tables, "contrasts": contrast_out})
    from audioprobe.leaderboard.suites import compare_suites

    report["suites"] = compare_suites(results_dir, alpha, level)
    return report


_f, _ci, _p = score_text, interval_text, p_text


def dof_text(dofs) -> str:
    """Degrees of freedom of a table's t-tests in words: one value, a range, or the normal distribution."""
    flat = [d for d in np.ravel(np.array(dofs, dtype=object)) if d is not None]
    if not flat:
        return "normal distribution"
    lo, hi = min(flat), max(flat)
    return f"dof {lo:g}" if lo == hi else f"dof {lo:g} to {hi:g}"


def family_text(test: dict) -> str:
    """'q: BH over the N tests of <experiment>' for a test that carries its family."""
    family = test.get("family")
    return f"BH over the {test.get('family_size')} tests of experiment `{family}`" if family else "BH"


def render_markdown(report: dict[str, Any]) -> str:
    from tabulate import tabulate

    lines = ["# audioprobe comparisons", "", report["method"], ""]
    for s in report["sets"]:
        title = f"## Stimulus set `{s['name']}` ({s['n_sounds']} sounds, fingerprint `{s['fingerprint'][:12]}`)"
        lines += [title + (" — PARTIAL (--limit)" if s["partial"] else ""), ""]
        if s["synthetic"]:
            lines += ["> **Synthetic stimuli with simulated judgments.** These comparisons test the harness; "
                      "they are not findings about human perception.", ""]
        for t in s["tasks"]:
            lines += [f"### {t['task']}", "", t["metric"] + ("; lower is better" if t.get("lower_is_better") else ""),
                      ""]
            if t.get("unreliable"):
                lines += ["> ⚠ **Unreliable** (the listeners do not agree on it; a difference here says more about "
                          "their noise than about the models): " + "; ".join(t["unreliable"]) + ".", ""]
            if t["pairwise"] is None:
                lines += [f"Only {', '.join(t['models'])} has replicates here: nothing to compare.", ""]
                if t.get("left_out"):
                    lines += ["Left out: " + "; ".join(f"{x['model']} ({x['reason']})" for x in t["left_out"]), ""]
                continue
            models, pw, ranks, best, sim = t["models"], t["pairwise"], t["ranks"], t["best_group"], t["simultaneous"]
            rows = []
            for i, m in enumerate(models):
                sc = pw["score"]
                rows.append([m, _f(t["headline"][i]), _ci(sc["ci"][i]), t["headline_layer"][i] or "—",
                             f"{ranks['rank'][i]:g}", f"[{ranks['rank_interval'][i][0]:g}, {ranks['rank_interval'][i][1]:g}]",
                             "yes" if best["in_group"][i] else ""])
            lines += [tabulate(rows, headers=["model", "headline", "95% CI", "layer", "rank", "rank interval (simultaneous)",
                                              "best group"], tablefmt="github"), ""]
            pair_rows = []
            for i in range(len(models)):
                for j in range(i + 1, len(models)):
                    pair_rows.append([f"{models[i]} − {models[j]}", _f(pw["difference"][i][j]), _ci(pw["ci"][i][j]),
                                      _p(pw["p_value"][i][j]), _p(pw["q_value"][i][j]),
                                      "yes" if pw["reject"][i][j] else "no", _p(sim["p_adjusted"][i][j])])
            lines += [tabulate(pair_rows, headers=["difference", "estimate", "95% CI", "p", "q", f"q < {report['alpha']}",
                                                   "p (all pairs at once)"], tablefmt="github"), "",
                      f"Design: {pw.get('design', '')}; {ranks['n_resamples']} shared resamples; {dof_text(pw['dof'])}. "
                      f"q: {family_text(pw)}. p (all pairs at once): single-step max-t over the task's pairs (critical "
                      f"|t| {_f(sim['critical_value'])}), behind the simultaneous rank intervals and the best group "
                      f"(the models no other is significantly better than at that level: a confidence set for the "
                      f"best, not a proof of equality).", ""]
            if t["left_out"]:
                lines += ["Left out: " + "; ".join(f"{x['model']} ({x['reason']})" for x in t["left_out"]), ""]
        for c in s["contrasts"]:
            margin = (f" Margin (the smallest effect that counts): {c['margin']:g}." if c.get("margin") is not None
                      else " No margin: a verdict is the test alone.")
            lines += [f"### Contrast `{c['contrast']}` ({c['kind']})", "", c["description"] + "." * (
                not c["description"].endswith(".")) + margin, ""]
            rows = []
            for r in c["rows"]:
                label = f"{r['model']}: {r['a']}" + (f" − {r['b']}" if r.get("b") else "")
                if "skipped" in r:
                    rows.append([label, "—", "—", "—", "—", "—", r["skipped"]])
                    continue
                res = r["result"]
                if c["kind"] == "depth":
                    note = (f"fitted change from layer {res['span'][0]} to {res['span'][1]}; Spearman rho "
                            f"{_f(res['rho'])} over {res['n_layers']} layers" if res.get("span") else
                            "fewer than 3 defined layers")
                    rows.append([label + " (change over depth)", _f(res.get("change")), _ci(res.get("ci")),
                                 _p(res.get("p_value")), _p(res.get("row_q_value")), r.get("verdict") or "—", note])
                    continue
                h = res.get("headline")
                layers = res.get("layers")
                note = ""
                if layers is not None:
                    n_sig = sum(bool(x) for x in layers["reject"])
                    note = f"{n_sig}/{len(layers['reject'])} layers differ"
                if h is None:
                    rows.append([label, "—", "—", "—", "—", "—", note or "no headline"])
                    continue
                where = " (headline, cross-validated)" if c["kind"] == "baseline" else " (headline)"
                rows.append([label + where, _f(h["difference"]), _ci(h["ci"]), _p(h["p_value"]),
                             _p(res.get("row_q_value")), r.get("verdict") or "—", note])
            lines += [tabulate(rows, headers=["contrast", "estimate", "95% CI", "p", "q", "verdict", "note"],
                               tablefmt="github"), "",
                      "q: Benjamini-Hochberg over the experiment's headline tests (pairwise differences and contrast "
                      "rows together); 'layers differ': per-layer tests, BH over the experiment's per-layer tests. A "
                      "transfer row compares the probe with its no-transfer baseline trained on as many sounds; its "
                      "layer is picked by the transfer score on one half of the test sounds and scored on the other. "
                      "Verdict: with a margin, an effect only when q is below alpha and the whole interval lies beyond "
                      "the margin; equivalence when the interval lies inside [-margin, margin].",
                      ""]
    from audioprobe.leaderboard.suites import render_comparisons

    lines += render_comparisons(report.get("suites", []), report["alpha"])
    return "\n".join(lines).rstrip() + "\n"
