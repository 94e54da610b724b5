"""Contrasts tested: a contrast file's claim (tasks, a baseline, depth, a control) evaluated on the entries'
shared replicates, each row's test and verdict against its margin, and the families corrected together."""

from __future__ import annotations

from typing import Any

from audioprobe.leaderboard.contrasts import Contrast
from audioprobe.leaderboard.pairing import FIRST_SPLIT_SCHEMA, Entry, over_pairs, paired_replicates
from audioprobe.metrics import inference


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
