"""The report's tables, from result files: headlines with their intervals, the measures of the timbre
literature, and the contrasts with their verdicts; how each result was resampled and controlled, in words."""

from __future__ import annotations

import dataclasses

from audioprobe.leaderboard import figures as F
from audioprobe.results import interval_text, p_text, result_label, score_text, unreliable_labels

# ---------------------------------------------------------------------------------------------
# The report as data: sets, sections, figures and tables (rendered to HTML and markdown)

@dataclasses.dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""


_f, _ci, _p = score_text, interval_text, p_text


def _by_task(results: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in results:
        out.setdefault(r["task"]["name"], []).append(r)
    return out


def _resampling_words(results: list[dict]) -> str:
    """What the interval bands are, from the results' statistics (targets built from listeners resample
    them too; physical targets and transfer resample sounds only)."""
    stats = [r["scores"].get("statistics", {}) for r in results]
    if not any(st.get("bootstrap") for st in stats):
        return "none (bootstrap off)"
    level = next(st.get("ci_level", 0.95) for st in stats if st.get("bootstrap"))
    two = any("listeners" in (st.get("resampled") or []) for st in stats)
    one = any(st.get("bootstrap") and "listeners" not in (st.get("resampled") or []) for st in stats)
    unit = next((st.get("bootstrap_unit", "sounds").split(":")[0] for st in stats
                 if st.get("bootstrap") and "listeners" not in (st.get("resampled") or [])), "sounds")
    parts = []
    if two:
        parts.append("bootstrap over sounds and listeners, t intervals from the dual-bootstrap variance"
                     + (" (targets built from listeners' responses)" if one else ""))
    if one:
        parts.append(f"bootstrap over {unit}" + (" (the other targets)" if two else ""))
    return f"{100 * level:.0f}% intervals, {'; '.join(parts)}"


def _controls_words(styles: dict) -> str:
    """How the figures draw controls and one-layer models, for captions."""
    trained = any(not st.control for st in styles.values())
    controls = ("Controls (random-weights twins, spectrogram baselines) are "
                + ("grey, dashed, with hollow markers" if trained
                   else "dashed with hollow markers (no trained model here, so in colour)"))
    return (f"{controls}. A one-layer model is a level line across the depth axis ending at its point, in the shaded "
            f"margin right of depth 1, with its interval as an error bar. A gap is an undefined (null) score; a "
            f"missing result is not drawn.")


def _headline_table(title: str, tasks: list[str], by_task: dict[str, list[dict]], tables: dict[str, dict],
                    styles: dict) -> Table:
    """Per task and model: headline [CI] at its layer, share of the attainable correlation, simultaneous rank
    [interval], best group."""
    rows = []
    has_ceiling = False
    flagged: dict[str, list[str]] = {}
    for task in tasks:
        cmp = tables.get(task) or {}
        flags = unreliable_labels(by_task[task][0]["scores"]) if by_task[task] else []
        if flags:
            flagged[task] = flags
        names = cmp.get("models") or []
        for model in F.model_order({result_label(r): styles[result_label(r)] for r in by_task[task]}):
            r = next(x for x in by_task[task] if result_label(x) == model)
            h = r["scores"]["headline"]
            share = (r["scores"].get("headline_over_ceiling") or {}).get("ratio")
            has_ceiling |= share is not None
            rank, group = "—", ""
            if model in names and cmp.get("pairwise") is not None:
                k = names.index(model)
                ri = cmp["ranks"]["rank_interval"][k]
                rank = f"{cmp['ranks']['rank'][k]:g} [{ri[0]:g}, {ri[1]:g}]"
                group = "yes" if cmp["best_group"]["in_group"][k] else ""
            rows.append([task + (" ⚠" if task in flagged else ""), model + (" (control)" if styles[model].control else ""),
                         _f(h.get("value")) + (" ↓" if r["scores"].get("lower_is_better") else ""), _ci(h.get("ci")),
                         h.get("layer") or "—",
                         f"{100 * share:.0f}%" if share is not None and (h.get("value") or 0) > 0 else "—",
                         rank, group])
    headers = ["task", "model", "headline", "95% CI", "layer", "of attainable", "rank [simultaneous 95%]",
               "best group"]
    note = ("Headline: with several layers, the layer picked on one half of the sounds and scored on the other "
            "(cross-validated); with one layer, its score. Rank intervals hold for all models at once and the best "
            "group is a confidence set for the best model (paired tests on shared resamples, all pairs at once: "
            "audioprobe-compare); ↓: lower is better.")
    if has_ceiling:
        note += (" 'of attainable': headline over the square root of the split-half noise ceiling, the correlation "
                 "a perfect model would reach against this noisy target (descriptive; given only where the target is "
                 "reliable).")
    if flagged:
        note += (" ⚠ Unreliable: the listeners do not agree on what the task is read against, so its scores say more "
                 "about their noise than about the models (the 2.5th percentile of the split-half reliability over "
                 "random halves of the listeners is below the floor; docs/metrics.md): "
                 + " ".join(f"{task}: {'; '.join(f)}." for task, f in flagged.items()))
    return Table(title, headers, rows, note)


def _measures_table(tasks: list[str], by_task: dict[str, list[dict]], styles) -> Table | None:
    """The timbre literature's measures that a task computes beside its RSA (`measures:`), at the RSA's headline
    layer, with their bootstrap intervals; None when no task computes any."""
    names = sorted({m for t in tasks for r in by_task[t] for m in (r["scores"].get("measures") or {})})
    if not names:
        return None
    lower = {}
    rows = []
    for task in tasks:
        for model in F.model_order({result_label(r): styles[result_label(r)] for r in by_task[task]}):
            r = next(x for x in by_task[task] if result_label(x) == model)
            ms = r["scores"].get("measures") or {}
            if not ms:
                continue
            row = [task, model, r["scores"]["headline"].get("layer") or "—"]
            for name in names:
                at = (ms.get(name) or {}).get("at_headline_layer") or {}
                lower[name] = bool((ms.get(name) or {}).get("lower_is_better", lower.get(name, False)))
                row.append(f"{_f(at.get('value'))} {_ci(at.get('ci'))}" if at else "—")
            rows.append(row)
    directions = "; ".join(f"{n}: {'lower' if lower.get(n) else 'higher'} is better" for n in names)
    return Table("Measures of the timbre literature at the headline layer", ["task", "model", "layer", *names], rows,
                 f"Each measure between the layer's RDM and the target at the layer the RSA chose (no second "
                 f"selection), with its percentile interval over the RSA's bootstrap resamples of the sounds "
                 f"(docs/metrics.md, 'Measures of the timbre literature'); {directions}.")


def _contrast_tables(contrasts: list[dict], tasks: set[str]) -> list[Table]:
    out = []
    for c in contrasts:
        rows = []
        for r in c["rows"]:
            if r.get("a") not in tasks:
                continue
            label = f"{r['model']}: {r['a']}" + (f" − {r['b']}" if r.get("b") else "")
            if "skipped" in r:
                rows.append([label, "—", "—", "—", "—", r["skipped"]])
                continue
            res = r["result"]
            if c["kind"] == "depth":
                rows.append([label + " (change over depth)", _f(res.get("change")), _ci(res.get("ci")),
                             _p(res.get("row_q_value")), r.get("verdict") or "—",
                             f"least-squares change from the first to the last layer; Spearman ρ {_f(res.get('rho'))} "
                             f"over {res['n_layers']} layers"])
                continue
            h, layers = res.get("headline"), res.get("layers")
            note = ""
            if layers is not None:
                n_sig = sum(bool(x) for x in layers["reject"])
                note = f"{n_sig}/{len(layers['reject'])} layers differ"
            if h is None:
                rows.append([label, "—", "—", "—", "—", note or "no headline"])
            else:
                where = " (headline, cross-validated)" if c["kind"] == "baseline" else " (headline)"
                rows.append([label + where, _f(h["difference"]), _ci(h["ci"]), _p(res.get("row_q_value")),
                             r.get("verdict") or "—", note])
        if rows:
            note = c["description"] + (" Transfer and baseline are compared at matched training sizes (each "
                                       "baseline fold against a transfer probe trained on as many sounds)."
                                       if c["kind"] == "baseline" else "")
            margin = (f" Verdict: an effect only when q is below alpha and the whole interval lies beyond the "
                      f"margin {c['margin']:g} (the smallest effect that counts, from the contrast file); equivalence "
                      f"when it lies inside ±{c['margin']:g}." if c.get("margin") is not None else
                      " Verdict: the test alone (no margin in the contrast file).")
            out.append(Table(f"Contrast {c['contrast']} ({c['kind']})", ["contrast", "estimate", "95% CI", "q",
                                                                         "verdict", "note"], rows,
                             note + " q: Benjamini-Hochberg over the experiment's headline tests; layers: over its "
                                    "per-layer tests." + margin))
    return out
