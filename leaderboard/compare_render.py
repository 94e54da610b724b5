"""`audioprobe-compare`'s report as markdown: the pairwise tables, the contrasts and their verdicts, with
their corrections and degrees of freedom in words."""

from __future__ import annotations

from typing import Any

import numpy as np
from tabulate import tabulate

from audioprobe.results import interval_text, p_text, score_text

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
    lines = ["# audioprobe comparisons", "", report["method"], ""]
    for s in report["sets"]:
        title = f"## Stimulus set `{s['name']}` ({s['n_sounds']} sounds, fingerprint `{s['fingerprint'][:12]}`)"
        lines += [title + (" — PARTIAL (--limit)" if s["partial"] else ""), ""]
        if s["synthetic"]:
            lines += ["> **Synthetic stimuli with simulated judgments.** These comparisons test the harness; "
                      "they are not findings about human perception.", ""]
        for t in s["tasks"]:
            lines += _task_lines(t, report["alpha"])
        for c in s["contrasts"]:
            lines += _contrast_lines(c)
        for m in s.get("measures", []):
            lines += measures_lines(m, report["alpha"])
        if s.get("measures"):
            lines += [measures_note(report["alpha"]), ""]
    from audioprobe.leaderboard.suite_tables import render_comparisons

    lines += render_comparisons(report.get("suites", []), report["alpha"])
    return "\n".join(lines).rstrip() + "\n"


def _task_lines(t: dict, alpha: float) -> list[str]:
    """One task's section: its metric and reliability warning, then its models' table and its pairwise
    differences (or why there is nothing to compare), with the models left out."""
    lines = [f"### {t['task']}", "", t["metric"] + ("; lower is better" if t.get("lower_is_better") else ""), ""]
    if t.get("unreliable"):
        lines += ["> ⚠ **Unreliable** (the listeners do not agree on it; a difference here says more about "
                  "their noise than about the models): " + "; ".join(t["unreliable"]) + ".", ""]
    if t["pairwise"] is None:
        lines += [f"Only {', '.join(t['models'])} has replicates here: nothing to compare.", ""]
        if t.get("left_out"):
            lines += ["Left out: " + "; ".join(f"{x['model']} ({x['reason']})" for x in t["left_out"]), ""]
        return lines
    pw, ranks, sim = t["pairwise"], t["ranks"], t["simultaneous"]
    lines += [tabulate(_model_rows(t), headers=["model", "headline", "95% CI", "layer", "rank",
                                                "rank interval (simultaneous)", "best group"], tablefmt="github"), ""]
    lines += [tabulate(_pair_rows(t), headers=["difference", "estimate", "95% CI", "p", "q", f"q < {alpha}",
                                               "p (all pairs at once)"], tablefmt="github"), "",
              f"Design: {pw.get('design', '')}; {ranks['n_resamples']} shared resamples; {dof_text(pw['dof'])}. "
              f"q: {family_text(pw)}. p (all pairs at once): single-step max-t over the task's pairs (critical "
              f"|t| {_f(sim['critical_value'])}), behind the simultaneous rank intervals and the best group "
              f"(the models no other is significantly better than at that level: a confidence set for the "
              f"best, not a proof of equality).", ""]
    if t["left_out"]:
        lines += ["Left out: " + "; ".join(f"{x['model']} ({x['reason']})" for x in t["left_out"]), ""]
    return lines


def _model_rows(t: dict) -> list[list[str]]:
    """A task's models table: each model's headline, interval, layer, rank and simultaneous rank interval, and
    whether it is in the best group."""
    models, pw, ranks, best = t["models"], t["pairwise"], t["ranks"], t["best_group"]
    rows = []
    for i, m in enumerate(models):
        sc = pw["score"]
        rows.append([m, _f(t["headline"][i]), _ci(sc["ci"][i]), t["headline_layer"][i] or "—",
                     f"{ranks['rank'][i]:g}", f"[{ranks['rank_interval'][i][0]:g}, {ranks['rank_interval'][i][1]:g}]",
                     "yes" if best["in_group"][i] else ""])
    return rows


def _pair_rows(t: dict) -> list[list[str]]:
    """A task's pairwise table: each pair once, its difference, interval, p, q, verdict and simultaneous p."""
    models, pw, sim = t["models"], t["pairwise"], t["simultaneous"]
    pair_rows = []
    for i in range(len(models)):
        for j in range(i + 1, len(models)):
            pair_rows.append([f"{models[i]} − {models[j]}", _f(pw["difference"][i][j]), _ci(pw["ci"][i][j]),
                              _p(pw["p_value"][i][j]), _p(pw["q_value"][i][j]),
                              "yes" if pw["reject"][i][j] else "no", _p(sim["p_adjusted"][i][j])])
    return pair_rows


def measures_lines(m: dict, alpha: float, heading: str = "###") -> list[str]:
    """One target's claims across measures: each model's score and rank under each measure, the measures'
    agreement (Kendall's W and tau with their intervals), and each claim some measure makes with its verdict."""
    conc = m["concordance"]
    rows = [[model] + [f"{_f(m['scores'][k][i])} (rank {m['ranks'][k][i]:g})" if m["ranks"][k][i] is not None
                       else "—" for k in range(len(m["measures"]))]
            for i, model in enumerate(m["models"])]
    w = (f"Kendall's W = {_f(conc['w'])}{' ' + _ci(conc['w_ci']) if conc.get('w_ci') else ''} over "
         f"{conc['n_models']} models and {conc['n_measures']} measures (1: the same ranking under every measure; "
         f"0: no agreement)" if conc.get("w") is not None else "Kendall's W undefined (tied rankings)")
    taus = [f"{a} / {b}: {_f(conc['pairwise_tau'][i][j])}"
            + (f" {_ci(conc['pairwise_tau_ci'][i][j])}" if conc.get("pairwise_tau_ci") and conc["pairwise_tau_ci"][i][j]
               else "")
            for i, a in enumerate(m["measures"]) for j, b in enumerate(m["measures"]) if i < j]
    flag = ([f"> ⚠ **Unreliable** under {', '.join(m['unreliable'])}: the listeners do not agree on this target; a "
             "ranking here says more about their noise than about the models.", ""] if m.get("unreliable") else [])
    lines = [f"{heading} Claims across measures: {m['target']}", "", *flag,
             tabulate(rows, headers=["model"] + [f"{t}{' ↓' if low else ''}" for t, low in
                                                 zip(m["measures"], m["lower_is_better"])], tablefmt="github"), "",
             f"{w}; Kendall's tau between measures: {'; '.join(taus)}. {m['resamples'].capitalize()}.", ""]
    if m["claims"]:
        lines += [tabulate([[f"{c['better']} > {c['worse']}", c["verdict"], ", ".join(c["supported_by"]),
                             ", ".join(c["reversed_by"]) or "—"] for c in m["claims"]],
                           headers=["claim", "verdict", "measures that make it", "measures that reverse it"],
                           tablefmt="github"), ""]
    else:
        lines += [f"No measure's table separates any two of these models (q < {alpha}).", ""]
    return lines


def measures_note(alpha: float) -> str:
    """How the claims across measures are read (once per set)."""
    return (f"Claims across measures: a claim is a difference a measure's table finds significant (its q < {alpha}), "
            "read in its direction; \"holds under every measure\" when every measure's table makes it (an "
            "intersection-union test, Berger 1982: no correction over measures is needed), \"depends on the "
            "measure\" when some do not. Kendall's W and tau: the agreement of the measures' rankings, with "
            "percentile intervals over the shared resamples of the sounds (docs/metrics.md, \"Claims across "
            "measures\").")


def _contrast_lines(c: dict) -> list[str]:
    """One contrast's section: its description and margin, one row per model (or pair), and how to read it."""
    margin = (f" Margin (the smallest effect that counts): {c['margin']:g}." if c.get("margin") is not None
              else " No margin: a verdict is the test alone.")
    lines = [f"### Contrast `{c['contrast']}` ({c['kind']})", "", c["description"] + "." * (
        not c["description"].endswith(".")) + margin, ""]
    rows = [_contrast_row(c, r) for r in c["rows"]]
    return lines + [tabulate(rows, headers=["contrast", "estimate", "95% CI", "p", "q", "verdict", "note"],
                             tablefmt="github"), "",
                    "q: Benjamini-Hochberg over the experiment's headline tests (pairwise differences and contrast "
                    "rows together); 'layers differ': per-layer tests, BH over the experiment's per-layer tests. A "
                    "transfer row compares the probe with its no-transfer baseline trained on as many sounds; its "
                    "layer is picked by the transfer score on one half of the test sounds and scored on the other. "
                    "Verdict: with a margin, an effect only when q is below alpha and the whole interval lies beyond "
                    "the margin; equivalence when the interval lies inside [-margin, margin].",
                    ""]


def _contrast_row(c: dict, r: dict) -> list[str]:
    """One row of a contrast's table: a skipped row, a change over depth, or a headline difference with how
    many layers differ."""
    label = f"{r['model']}: {r['a']}" + (f" − {r['b']}" if r.get("b") else "")
    if "skipped" in r:
        return [label, "—", "—", "—", "—", "—", r["skipped"]]
    res = r["result"]
    if c["kind"] == "depth":
        note = (f"fitted change from layer {res['span'][0]} to {res['span'][1]}; Spearman rho "
                f"{_f(res['rho'])} over {res['n_layers']} layers" if res.get("span") else
                "fewer than 3 defined layers")
        return [label + " (change over depth)", _f(res.get("change")), _ci(res.get("ci")),
                _p(res.get("p_value")), _p(res.get("row_q_value")), r.get("verdict") or "—", note]
    h = res.get("headline")
    layers = res.get("layers")
    note = ""
    if layers is not None:
        n_sig = sum(bool(x) for x in layers["reject"])
        note = f"{n_sig}/{len(layers['reject'])} layers differ"
    if h is None:
        return [label, "—", "—", "—", "—", "—", note or "no headline"]
    where = " (headline, cross-validated)" if c["kind"] == "baseline" else " (headline)"
    return [label + where, _f(h["difference"]), _ci(h["ci"]), _p(h["p_value"]),
            _p(res.get("row_q_value")), r.get("verdict") or "—", note]
