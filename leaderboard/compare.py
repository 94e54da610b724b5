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
from pathlib import Path
from typing import Any

import numpy as np

from audioprobe.errors import AudioprobeError
from audioprobe.leaderboard.contrasts import Contrast
from audioprobe.metrics import inference
from audioprobe.results import collect_files, interval_text, p_text, read_replicates, score_text

METHOD = ("Paired comparisons on shared bootstrap resamples (Schütt et al. 2023, eLife): a two-sided t-test of "
          "each difference with its bootstrap variance ({design}), 95% t intervals; Benjamini-Hochberg FDR at "
          "q = {alpha} across the pairs of a task (across layers within a contrast). 'Best group': the best model "
          "and those the data do not separate from it (not a proof of equality).")


@dataclasses.dataclass
class Entry:
    """One result file, its replicates loaded on demand."""

    path: Path
    result: dict[str, Any]
    _arrays: dict[str, np.ndarray] | None = None

    @property
    def model(self) -> str:
        return self.result["model"]["name"]

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
        """`name` replicates (`per_layer`, `headline`, `baseline`): an array, or the dual-bootstrap dict."""
        arrays = self.arrays()
        if name not in arrays:
            return None
        if f"{name}_sounds" in arrays and f"{name}_listeners" in arrays:
            return {"both": arrays[name], "sounds": arrays[f"{name}_sounds"],
                    "listeners": arrays[f"{name}_listeners"]}
        return arrays[name]

    def factors(self) -> dict[str, int | None]:
        r = self.resampling or {}
        return {"n_sounds": r.get("n_items"), "n_listeners": r.get("n_listeners")}


def collect_entries(results_dir: Path) -> list[Entry]:
    """Every result (schema 2, one per set, model and task) under `results_dir`."""
    return [Entry(path, result) for path, result in collect_files(results_dir)]


def _stack(reps: list) -> Any:
    """Per-model replicates `[B]` (or dual dicts of them) -> `[B, k]` (or a dual dict of those)."""
    if isinstance(reps[0], dict):
        return {key: np.stack([r[key] for r in reps], axis=1) for key in ("both", "sounds", "listeners")}
    return np.stack(reps, axis=1)


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
    """Every pair of models on one task and set: differences of headlines, ranks, the best group."""
    usable, left_out = _pairable(entries, "headline")
    usable = sorted(usable, key=lambda e: e.model)
    if len(usable) < 2:
        return None if not usable else {"models": [usable[0].model], "left_out": left_out, "pairwise": None}
    lower = bool(usable[0].result["scores"].get("lower_is_better", False))
    estimates = [e.result["scores"]["headline"]["value"] for e in usable]
    reps = _stack([e.replicates("headline") for e in usable])
    n = usable[0].factors()
    common = dict(n_sounds=n["n_sounds"], n_listeners=n["n_listeners"], level=level)
    return {
        "models": [e.model for e in usable],
        "headline": estimates,
        "headline_layer": [e.result["scores"]["headline"]["layer"] for e in usable],
        "lower_is_better": lower,
        "resampling": usable[0].resampling,
        "pairwise": inference.pairwise_table(estimates, reps, alpha=alpha, **common),
        "ranks": inference.rank_intervals(estimates, reps, lower_is_better=lower, level=level),
        "best_group": inference.indistinguishable_from_best(estimates, reps, alpha=alpha, lower_is_better=lower,
                                                            **common),
        "left_out": left_out,
    }


# ---------------------------------------------------------------------------------------------
# Contrasts within a model

def _as_dual(reps: np.ndarray, point) -> dict[str, np.ndarray]:
    """One-factor (sounds) replicates of a score that does not depend on listeners (a physical target,
    a fixed dissimilarity matrix) in the dual-bootstrap form: resampling listeners leaves it at its
    point estimate."""
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
    if ra_["plan_sha256"] == rb_["plan_sha256"]:
        return reps_a, reps_b, a.factors()
    if ra_.get("sounds_plan_sha256") and ra_.get("sounds_plan_sha256") == rb_.get("sounds_plan_sha256"):
        if isinstance(reps_a, dict) and not isinstance(reps_b, dict):
            return reps_a, _as_dual(reps_b, point_b), a.factors()
        if isinstance(reps_b, dict) and not isinstance(reps_a, dict):
            return _as_dual(reps_a, point_a), reps_b, b.factors()
    return "the two results were not drawn on the same resamples (seed, set or resampled factors differ)"


def _layer_contrast(a: Entry, b: Entry | None, alpha: float, level: float) -> dict | str:
    """a - b per layer (and for the headline when both have one), on shared resamples; b None: a
    transfer probe against its own no-transfer baseline."""
    scores_a = [e["score"] for e in a.result["scores"]["per_layer"]]
    if b is None:
        key = "baseline_" + a.result["task"]["config"]["params"].get("score", "accuracy")
        scores_b = [e.get(key) for e in a.result["scores"]["per_layer"]]
        paired = paired_replicates(a, a, "per_layer", "baseline", scores_a, scores_b)
    else:
        scores_b = [e["score"] for e in b.result["scores"]["per_layer"]]
        paired = paired_replicates(a, b, "per_layer", "per_layer", scores_a, scores_b)
    if isinstance(paired, str):
        return paired
    reps_a, reps_b, n = paired
    headlines = {}
    if b is not None:
        ha, hb = a.result["scores"]["headline"]["value"], b.result["scores"]["headline"]["value"]
        hp = paired_replicates(a, b, "headline", "headline", ha, hb)
        if None not in (ha, hb) and not isinstance(hp, str):
            headlines = dict(headline_a=ha, headline_b=hb, headline_replicates_a=hp[0], headline_replicates_b=hp[1])
    out = inference.layer_contrast(scores_a, scores_b, reps_a, reps_b, n_sounds=n["n_sounds"],
                                   n_listeners=n["n_listeners"], level=level, alpha=alpha, **headlines)
    out["layer_names"] = [e["layer"] for e in a.result["scores"]["per_layer"]]
    out["headline_layer"] = a.result["scores"]["headline"]["layer"]
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
                rows.append({"model": model, "a": task,
                             "result": inference.depth_trend(scores, a.replicates("per_layer"), level=level)})
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
                              paired_replicates(a, b, "headline", "headline", ha, hb))
                    if isinstance(paired, str):
                        rows.append({"model": model, "a": task, "b": control, "skipped": paired})
                        continue
                    reps_a, reps_b, n = paired
                    rows.append({"model": model, "a": task, "b": control, "result": {"headline": inference.paired_difference(
                        ha, hb, reps_a, reps_b, n_sounds=n["n_sounds"], n_listeners=n["n_listeners"], level=level)}})
    return rows


def _correct_rows(rows: list[dict], kind: str, alpha: float) -> None:
    """Benjamini-Hochberg across the rows of one contrast (models x pairs or tasks): each row's headline
    test (depth: its bootstrap p) gets a `q_value` and `reject`. Per-layer tests are corrected across
    layers inside their row already."""
    tests = []
    for r in rows:
        res = r.get("result") or {}
        p = res.get("p_bootstrap") if kind == "depth" else (res.get("headline") or {}).get("p_value")
        if p is not None:
            tests.append((r, p))
    if not tests:
        return
    bh = inference.benjamini_hochberg([p for _, p in tests], alpha=alpha)
    for (r, _), q, rej in zip(tests, bh["q_value"], bh["reject"]):
        r["result"]["row_q_value"], r["result"]["row_reject"] = q, rej


# ---------------------------------------------------------------------------------------------
# The report

def select(names: list[str], spec: str | None) -> list[str]:
    """Names matching a comma-separated list of names or globs (None: all)."""
    if not spec:
        return names
    tokens = [t.strip() for t in spec.split(",") if t.strip()]
    chosen = [n for n in names if any(fnmatch.fnmatchcase(n, t) for t in tokens)]
    unknown = [t for t in tokens if not any(fnmatch.fnmatchcase(n, t) for n in names)]
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
                tables.append({"task": task, "metric": es[0].result["scores"]["metric"], **table})
        contrast_out = []
        for c in contrasts:
            rows = [r for r in evaluate_contrast(c, by_key, alpha, level) if r["model"] in shown_models]
            _correct_rows(rows, c.kind, alpha)
            if rows:
                contrast_out.append({"contrast": c.name, "version": c.version, "kind": c.kind,
                                     "description": c.description, "rows": rows})
        report["sets"].append({"name": ds["name"], "fingerprint": fp, "n_sounds": ds["n_sounds"],
                               "synthetic": bool(ds.get("synthetic")), "partial": bool(ds.get("partial")),
                               "tasks": tables, "contrasts": contrast_out})
    from audioprobe.leaderboard.suites import compare_suites

    report["suites"] = compare_suites(results_dir, alpha, level)
    return report


_f, _ci, _p = score_text, interval_text, p_text


def render_markdown(report: dict[str, Any]) -> str:
    from tabulate import tabulate

    lines = ["# audioprobe comparisons", "", report["method"], ""]
    for s in report["sets"]:
        title = f"## Stimulus set `{s['name']}` ({s['n_sounds']} sounds, fingerprint `{s['fingerprint'][:12]}`)"
        lines += [title + (" — PARTIAL (--limit)" if s["partial"] else ""), ""]
        if s["synthetic"]:
            lines += ["> **Synthetic stimuli judged by simulated listeners.** These comparisons test the harness; "
                      "they are not findings about human perception.", ""]
        for t in s["tasks"]:
            lines += [f"### {t['task']}", "", t["metric"] + ("; lower is better" if t.get("lower_is_better") else ""),
                      ""]
            if t["pairwise"] is None:
                lines += [f"Only {', '.join(t['models'])} has replicates here: nothing to compare.", ""]
                continue
            models, pw, ranks, best = t["models"], t["pairwise"], t["ranks"], t["best_group"]
            design = pw.get("design", "")
            rows = []
            for i, m in enumerate(models):
                sc = pw["score"]
                rows.append([m, _f(t["headline"][i]), _ci(sc["ci"][i]), t["headline_layer"][i] or "—",
                             f"{ranks['rank'][i]:g}", f"[{ranks['rank_interval'][i][0]:g}, {ranks['rank_interval'][i][1]:g}]",
                             "yes" if best["in_group"][i] else ""])
            lines += [tabulate(rows, headers=["model", "headline", "95% CI", "layer", "rank", "rank interval",
                                              "best group"], tablefmt="github"), ""]
            pair_rows = []
            for i in range(len(models)):
                for j in range(i + 1, len(models)):
                    pair_rows.append([f"{models[i]} − {models[j]}", _f(pw["difference"][i][j]), _ci(pw["ci"][i][j]),
                                      _p(pw["p_value"][i][j]), _p(pw["q_value"][i][j]),
                                      "yes" if pw["reject"][i][j] else "no"])
            lines += [tabulate(pair_rows, headers=["difference", "estimate", "95% CI", "p", "q (BH)",
                                                   f"q < {report['alpha']}"], tablefmt="github"), "",
                      f"Design: {design}; {ranks['n_resamples']} shared resamples"
                      f"{'; dof ' + str(pw['dof']) if pw.get('dof') else ''}.", ""]
            if t["left_out"]:
                lines += ["Left out: " + "; ".join(f"{x['model']} ({x['reason']})" for x in t["left_out"]), ""]
        for c in s["contrasts"]:
            lines += [f"### Contrast `{c['contrast']}` ({c['kind']})", "", c["description"], ""]
            rows = []
            for r in c["rows"]:
                label = f"{r['model']}: {r['a']}" + (f" − {r['b']}" if r.get("b") else "")
                if "skipped" in r:
                    rows.append([label, "—", "—", "—", "—", r["skipped"]])
                    continue
                res = r["result"]
                if c["kind"] == "depth":
                    rows.append([label, _f(res["rho"]), _ci(res["ci"]), _p(res["p_bootstrap"]),
                                 _p(res.get("row_q_value")), f"Spearman rho over {res['n_layers']} layers"])
                    continue
                h = res.get("headline")
                layers = res.get("layers")
                note = ""
                if layers is not None:
                    n_sig = sum(bool(x) for x in layers["reject"])
                    note = f"{n_sig}/{len(layers['reject'])} layers differ (BH)"
                if h is None and layers is not None:  # baseline: the headline layer's row
                    k = res["layer_names"].index(res["headline_layer"]) if res["headline_layer"] in res["layer_names"] else None
                    if k is not None:
                        rows.append([label + f" (layer {res['headline_layer']})", _f(layers["difference"][k]),
                                     _ci(layers["ci"][k]), _p(layers["p_value"][k]), _p(layers["q_value"][k]), note])
                        continue
                if h is None:
                    rows.append([label, "—", "—", "—", "—", note or "no headline"])
                    continue
                rows.append([label + " (headline)", _f(h["difference"]), _ci(h["ci"]), _p(h["p_value"]),
                             _p(res.get("row_q_value")), note])
            lines += [tabulate(rows, headers=["contrast", "estimate", "95% CI", "p", "q (BH)", "note"],
                               tablefmt="github"), "",
                      "q (BH): headlines corrected across this contrast's rows; a layer row (transfer) is corrected "
                      "across the layers of its task; 'layers differ': per-layer tests, BH across layers.", ""]
    from audioprobe.leaderboard.suites import render_comparisons

    lines += render_comparisons(report.get("suites", []), report["alpha"])
    return "\n".join(lines).rstrip() + "\n"
