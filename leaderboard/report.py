"""`audioprobe-report RESULTS_DIR -o REPORT_DIR`: the paper's figures and tables as one HTML page.

Reads result files and their replicates only (through `audioprobe-compare`'s report), never a model
or an activation. Writes into REPORT_DIR:

- `index.html`: self-contained (figures inline as PNG data URIs, inline CSS, no script, no font, no
  network request); opens from disk and prints;
- `report.md`: the same text, figures as relative links to `figures/*.png`;
- `figures/<set>-<fp8>__<figure>.{png,svg,json}`: every figure as PNG and SVG, and a JSON sidecar of
  what it plots (read back from the drawn artists).

One section per stimulus set, inside it one per experiment (`rsa`, `rsa-partial`, `transfer`, `abx`)
with the HTML anchor `anchor(set, fingerprint, experiment)`, which the leaderboard links to.
Not drawn: figure A1 (correlations between the target RDMs) and RDM heatmaps need the RDMs, which
result files do not hold.
"""

from __future__ import annotations

import contextvars
import dataclasses
import html
import json
import logging
import math
import shlex
import time
from pathlib import Path
from typing import Any

import click

from audioprobe.errors import AudioprobeError
from audioprobe.files import atomic_write_bytes
from audioprobe.leaderboard import figures as F
from audioprobe.leaderboard.build import anchor
from audioprobe.results import (
    collect_files,
    experiment_of,
    interval_text,
    now_utc,
    p_text,
    result_label,
    safe_name,
    score_text,
    set_folder,
    unreliable_labels,
)

log = logging.getLogger(__name__)

#: experiments in page order: anchor suffix -> heading
EXPERIMENTS = {
    "rsa": "Experiment 1: representational similarity (figures 1A, 1B)",
    "rsa-partial": "Appendix B: partial RSA (control model's RDM regressed out)",
    "transfer": "Experiment 2: transfer of perceived material across subsets (figure 2)",
    "abx": "ABX discrimination of perceived categories",
}


# ---------------------------------------------------------------------------------------------
# The report as data: sets, sections, figures and tables (rendered to HTML and markdown)

@dataclasses.dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclasses.dataclass
class Section:
    experiment: str
    title: str
    anchor: str
    intro: str
    figures: list[F.Figure] = dataclasses.field(default_factory=list)
    tables: list[Table] = dataclasses.field(default_factory=list)
    pairwise: list[F.Figure] = dataclasses.field(default_factory=list)
    rdms: list[F.Figure] = dataclasses.field(default_factory=list)
    note: str = ""


@dataclasses.dataclass
class SetReport:
    name: str
    fingerprint: str
    n_sounds: int
    synthetic: bool
    partial: bool
    models: list[str]
    controls: list[str]
    sections: list[Section]
    claims: list[str] = dataclasses.field(default_factory=list)

    @property
    def anchor(self) -> str:
        return set_folder(self.name, self.fingerprint).lower()


_f, _ci, _p = score_text, interval_text, p_text

#: Whether this report writes SVG copies of its figures (`audioprobe-report --svg`): set by write_report.
_SVG: contextvars.ContextVar[bool] = contextvars.ContextVar("audioprobe_report_svg", default=False)


def _save(figure: F.Figure, figure_dir: Path) -> None:
    figure.save(figure_dir, svg=_SVG.get())


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


def _pairwise_figures(stem: str, tasks: list[str], tables: dict[str, dict], synthetic: bool,
                      figure_dir: Path) -> list[F.Figure]:
    out = []
    # one colour range for the experiment's matrices (its tasks share a score's units): a matrix of tiny
    # differences is then painted pale, not as strongly as the largest
    spans = [abs(v) for task in tasks if (tables.get(task) or {}).get("pairwise") is not None
             for row in tables[task]["pairwise"]["difference"] for v in row if v is not None]
    vmax = max(spans) if spans and max(spans) > 0 else None
    for task in tasks:
        t = tables.get(task)
        if not t or t.get("pairwise") is None:
            continue
        pw = t["pairwise"]
        caption = (f"Headline of the row model minus that of the column model"
                   f"{' (an error: lower is better)' if t.get('lower_is_better') else ''}; paired t-tests on "
                   f"{t['ranks']['n_resamples']} shared bootstrap resamples ({pw.get('design')} design), "
                   f"Benjamini-Hochberg over the {pw.get('family_size') or pw.get('m')} headline tests of the experiment; "
                   f"outlined with * : q ≤ {pw.get('alpha')}; pale cells are not significant. Each pair once, the "
                   f"models best first; one colour range for the experiment's tasks (±{_f(vmax)}), so small "
                   f"differences stay pale.")
        figure = F.pairwise_figure(f"{stem}__pairwise__{safe_name(task)}", t, synthetic, caption, vmax=vmax)
        _save(figure, figure_dir)  # now: a report can hold many, each closed once written
        out.append(figure)
    return out


def _rsa_figures(stem: str, experiment: str, by_task: dict[str, list[dict]], styles, synthetic: bool,
                 contrast_rows: list[dict]) -> list[F.Figure]:
    """Figures of RSA tasks: KL targets as figure 1A (A2 for partial RSA), modal and physical targets paired
    per dimension as figure 1B, any other target as per-task profiles."""
    partial = experiment == "rsa-partial"
    kl = {t: rs for t, rs in by_task.items() if F.params(rs[0]).get("target") == "kl"}
    zero_one: dict[tuple, dict[str, str]] = {}
    for t, rs in by_task.items():
        if F.params(rs[0]).get("target") in ("modal", "physical"):
            zero_one.setdefault(F.dimensions(rs[0]), {})[F.params(rs[0])["target"]] = t
    paired = {t for v in zero_one.values() for t in v.values()}
    rest = {t: rs for t, rs in by_task.items() if t not in kl and t not in paired}
    control = F.params(next(iter(by_task.values()))[0]).get("control", "")
    drawn = _controls_words(styles)
    out = []
    if kl:
        name, title = (("figA2", f"Figure A2: partial RSA ({control} RDM regressed out), perceived targets") if partial
                       else ("fig1a", "Figure 1A: RSA against perceived targets (symmetric KL of responses)"))
        regressed = f", after regressing the {control} RDM out of each layer's RDM" if partial else ""
        caption = (f"Per-layer RSA of each model against each perceived target (symmetric KL divergence of listeners' "
                   f"response distributions){regressed}, at relative depth (0 first layer, 1 last). Bands: "
                   f"{_resampling_words([r for rs in kl.values() for r in rs])}. Dotted black: split-half noise "
                   f"ceiling (Spearman-Brown){'' if partial else ', marked where the listeners do not agree'}. "
                   f"{drawn}")
        out.append(F.profiles_figure(f"{stem}__{name}", title, kl, styles, synthetic, caption))
    if zero_one:
        pairs = [(" / ".join(dims) if len(dims) > 1 else (dims[0] if dims else "?"), v.get("modal"), v.get("physical"))
                 for dims, v in sorted(zero_one.items(), key=lambda kv: F._dim_key(kv[0]))]
        name, title = (("figA2-01", f"Partial RSA ({control} regressed out), 0/1 targets: perceived vs physical")
                       if partial else
                       ("fig1b", "Figure 1B: perceived (modal response) vs physical labels, 0/1 targets"))
        tested = any((c.get("a"), c.get("b")) in {(p[1], p[2]) for p in pairs} for c in contrast_rows)
        marks = ("Triangles at the top: layers where the perceived-minus-physical contrast is significant (paired "
                 "t-test on shared resamples, Benjamini-Hochberg over the experiment's per-layer tests; ▲ perceived higher, ▼ "
                 "lower). "
                 if tested else "No contrast file pairs these tasks: no per-layer test is marked. ")
        caption = (f"Per dimension, each model's RSA against the 0/1 distance of listeners' modal responses (solid) "
                   f"and of the physical labels (dashed), per layer at relative depth. Bands: "
                   f"{_resampling_words([r for t in paired for r in by_task[t]])}. {marks}{drawn}")
        out.append(F.perceived_physical_figure(f"{stem}__{name}", title, pairs, by_task, styles, contrast_rows,
                                               synthetic, caption))
    matrix = {t: rs for t, rs in rest.items() if F.params(rs[0]).get("target") == "rdm"}
    rest = {t: rs for t, rs in rest.items() if t not in matrix}
    if matrix:
        out += _profile_figures(f"{stem}__{experiment}-matrix", "RSA against the stimulus set's dissimilarity matrix",
                                matrix, styles, synthetic, "Target: the set's own dissimilarity matrix (rdm.csv, "
                                "ratings of pairs of sounds); a noise ceiling only where the set has one matrix per "
                                "rater. ")
    out += _profile_figures(f"{stem}__{experiment}-other", f"Other {experiment} tasks", rest, styles, synthetic)
    return out


def _profile_figures(stem: str, title: str, by_task: dict[str, list[dict]], styles, synthetic: bool,
                     extra: str = "") -> list[F.Figure]:
    """Per-task profiles, six panels a figure."""
    tasks = F.task_order(by_task)
    bands = _resampling_words([r for rs in by_task.values() for r in rs])
    caption = f"Per-layer scores at relative depth. Bands: {bands}. {extra}{_controls_words(styles)}"
    return [F.profiles_figure(f"{stem}-{i // 6 + 1}", title, {t: by_task[t] for t in tasks[i:i + 6]}, styles,
                              synthetic, caption) for i in range(0, len(tasks), 6)]


RDM_HEADING = "RDMs of the headline layers beside the target, per task"
RDM_PANELS = 7  # models beside the target in one RDM figure (two rows of four panels)


def _grouping(result: dict, summary: dict) -> tuple[str, list[list[str]], str]:
    """How to order a task's sounds: by the physical labels of a physical target, by the modal responses of a
    perceived one (its dimensions in turn); a target without dimensions, by the first label column."""
    dims = list(F.dimensions(result))
    if F.params(result).get("target") == "physical":
        source, words, unknown = summary["labels"], "physical label", "missing"
    else:
        source, words, unknown = summary["modal"], "modal response", "tied"
    dims = [d for d in dims if d in source]
    if not dims and summary["labels"]:
        source, words, unknown, dims = summary["labels"], "physical label", "missing", [next(iter(summary["labels"]))]
    if not dims:
        n = len(summary["sound_ids"])
        return "the set's order", [[""] * n], "all"
    return f"{words} ({', then '.join(dims)})", [source[d] for d in dims], unknown


def _rdm_figures(stem: str, tasks: list[str], by_task: dict[str, list[dict]], styles, synthetic: bool,
                 set_dir: Path | None, summary: dict | None, figure_dir: Path) -> list[F.Figure]:
    """Per RSA task: the target RDM beside the headline-layer RDM of each model (the best RDM_PANELS by headline)."""
    from audioprobe.summaries import load_rdm

    if summary is None or set_dir is None:
        return []
    out = []
    order_of = {m: i for i, m in enumerate(F.model_order(styles))}
    for task in tasks:
        kept = [r for r in by_task[task] if "model_sha256" in (r["scores"].get("rdms") or {})]
        if not kept:
            continue
        kept.sort(key=lambda r: -(r["scores"]["headline"]["value"] if r["scores"]["headline"]["value"] is not None
                                  else -math.inf))
        shown = sorted(kept[:RDM_PANELS], key=lambda r: order_of.get(result_label(r), len(order_of)))
        params = F.params(shown[0])
        grouping, groups, unknown = _grouping(shown[0], summary)
        order, blocks = F.category_order(groups)
        try:
            target = load_rdm(set_dir, shown[0]["scores"]["rdms"]["target_sha256"])
            panels = []
            for r in shown:
                refs = r["scores"]["rdms"]
                score = next((e["score"] for e in r["scores"]["per_layer"] if e["layer"] == refs["layer"]), None)
                label = f"{r['model']['name']}\n{refs['layer']}, r = {_f(score, 2)}"
                panels.append((label, load_rdm(set_dir, refs["model_sha256"])))
        except AudioprobeError as exc:
            log.warning("%s: RDM heatmaps of %s left out: %s", set_dir, task, exc)
            continue
        partial = shown[0]["scores"].get("control") is not None
        what = (f"the residual RDM of each model's headline layer after regressing out the "
                f"{shown[0]['scores']['control']['model']} RDM" if partial else "the RDM of each model's headline layer")
        more = (f" The {len(shown)} models with the highest headline of {len(kept)} are shown." if len(kept) > len(shown)
                else "")
        caption = (f"The target RDM ({F.dimension_label(shown[0])}, target {params.get('target')}) beside {what} "
                   f"(the layer the cross-validation picks most often; r: its score on all sounds), sounds ordered by "
                   f"{grouping}, white lines between categories. Each RDM is drawn as the percentile ranks of its own "
                   f"dissimilarities, so RDMs of different scales share one colour scale (Kriegeskorte et al. 2008); "
                   f"grey: undefined.{more}")
        title = f"RDMs of {task}: target and headline layers"
        figure = F.rdm_figure(f"{stem}__rdms__{safe_name(task)}", title, ("target", target), panels, order, blocks,
                              grouping, synthetic, caption, unknown)
        _save(figure, figure_dir)
        out.append(figure)
    return out


INTROS = {
    "rsa": "How closely does each layer's representational geometry follow listeners' judgments? Read the height of "
           "each profile against the noise ceiling, and where in depth it peaks; then whether it follows what "
           "listeners perceive more than the physical truth (figure 1B).",
    "rsa-partial": "What is left of each layer's alignment once the geometry of the control model ({control}: "
                   "spectrogram distances) is regressed out? A profile near zero says the alignment was spectral.",
    "transfer": "Does a probe of perceived material learned on some sounds work on others (another shape, another "
                "hollowness)? Transfer near its no-transfer baseline means the layer's notion of material "
                "generalises; near chance, that it does not.",
    "abx": "How well does each layer discriminate the perceived categories (A, B, X triplets)? An error rate: lower "
           "is better, chance is 0.5.",
}


MATRIX_TITLE = "Representational similarity to the set's dissimilarity matrix"
MATRIX_INTRO = ("How closely does each layer's representational geometry follow the pairwise dissimilarities of the "
                "stimulus set (rdm.csv)? Read the height of each profile, and where in depth it peaks; against the "
                "noise ceiling where the set has one matrix per rater.")


def _section(stem: str, ds: dict, fp: str, exp: str, results: list[dict], styles, synthetic: bool, cmp: dict,
             figure_dir: Path, set_dir: Path | None = None, summary: dict | None = None) -> Section:
    """One experiment on one stimulus set: its figures (written now), headline table, contrasts, pairwise matrices.
    Results with no score at any layer (partial RSA of a model that is its own control) are said once in the
    section's note, not drawn as blank panels or tables of dashes."""
    control = F.params(results[0]).get("control", "")
    title = EXPERIMENTS.get(exp, f"Tasks of type {results[0]['task']['type']}")
    intro = INTROS.get(exp, "").format(control=control)
    if exp == "rsa" and all(F.params(r).get("target") == "rdm" for r in results):  # a similarity study: no listeners
        title, intro = MATRIX_TITLE, MATRIX_INTRO
    empty = [r for r in results if r["scores"]["headline"].get("value") is None
             and all(e.get("score") is None for e in r["scores"].get("per_layer", []))]
    note = _undefined_note(empty)
    results = [r for r in results if r not in empty]
    if not results:
        return Section(exp, title, anchor(ds["name"], fp, exp), intro, note=note)
    by_task = _by_task(results)
    tasks = F.task_order(by_task)
    tables = {t["task"]: t for t in cmp["tasks"]}
    contrast_rows = [row for c in cmp["contrasts"] for row in c["rows"]]
    if exp in ("rsa", "rsa-partial"):
        figs = _rsa_figures(stem, exp, by_task, styles, synthetic, contrast_rows)
    elif exp == "transfer":
        caption = (f"Per split, accuracy of a linear probe trained on one subset and tested on the other (solid; "
                   f"bands: {_resampling_words(results)}), its no-transfer baseline (dotted, where defined: the same "
                   f"probe cross-validated inside the test subset) and chance (black, long dashes). Triangles at the "
                   f"top: layers where the transfer probe and its baseline, trained on as many sounds, differ (paired t-test, "
                   f"BH over the experiment's per-layer tests). "
                   f"{_controls_words(styles)}")
        figs = [F.transfer_figure(f"{stem}__fig2", "Figure 2: transfer of perceived material across subsets",
                                  by_task, styles, contrast_rows, synthetic, caption)]
    elif exp == "abx":
        figs = _profile_figures(f"{stem}__abx", "ABX error per layer", by_task, styles, synthetic,
                                "Black long dashes: chance (0.5); lower is better. ")
    else:
        figs = _profile_figures(f"{stem}__{exp}", f"{exp} tasks", by_task, styles, synthetic)
    for f in figs:
        _save(f, figure_dir)
    section = Section(exp, title, anchor(ds["name"], fp, exp), intro, figs, note=note)
    section.tables.append(_headline_table("Headline scores", tasks, by_task, tables, styles))
    measures = _measures_table(tasks, by_task, styles)
    if measures:
        section.tables.append(measures)
    section.tables += _contrast_tables(cmp["contrasts"], set(tasks))
    section.pairwise = _pairwise_figures(stem, tasks, tables, synthetic, figure_dir)
    if exp in ("rsa", "rsa-partial"):
        section.rdms = _rdm_figures(stem, tasks, by_task, styles, synthetic, set_dir, summary, figure_dir)
    return section


#: How the report's summary names each kind of contrast's claim.
CLAIM_KINDS = {"tasks": "task contrast", "baseline": "transfer against its baseline", "depth": "change over depth",
               "control": "above a control"}


def _q(q) -> str:
    """'q = 0.012' or 'q < 0.001'."""
    text = _p(q)
    return f"q {text[0]} {text[1:]}" if text.startswith("<") else f"q = {text}"


def _claims(cmp: dict, flagged: set[str]) -> list[str]:
    """The claims the compare results support, one sentence each: the pairwise differences that pass the
    experiment's Benjamini-Hochberg correction (per task), then every contrast row whose verdict is an effect
    (beyond its margin where the contrast file states one). Tasks read against an unreliable target or label
    are marked ⚠."""
    out = []
    for t in cmp.get("tasks", []):
        pw = t.get("pairwise")
        if not pw:
            continue
        models, lower = t["models"], bool(t.get("lower_is_better"))
        said = []
        for i in range(len(models)):
            for j in range(i + 1, len(models)):
                if not pw["reject"][i][j] or pw["difference"][i][j] is None:
                    continue
                d = pw["difference"][i][j]
                lo, hi = pw["ci"][i][j]
                better, worse = (i, j) if (d > 0) != lower else (j, i)
                mag, (a, b) = abs(d), sorted((abs(lo), abs(hi)))
                said.append(f"{models[better]} {'<' if lower else '>'} {models[worse]} (by {_f(mag)}, 95% CI "
                            f"[{_f(a) if (lo > 0) == (hi > 0) else '0'}, {_f(b)}], {_q(pw['q_value'][i][j])})")
        if said:
            out.append(f"{t['task']}{' ⚠' if t['task'] in flagged else ''}: " + "; ".join(said) + ".")
    for c in cmp.get("contrasts", []):
        for r in c["rows"]:
            v = r.get("verdict") or ""
            if "effect" not in v or v.startswith("no effect"):
                continue
            res = r["result"]
            test = res if c["kind"] == "depth" else res.get("headline") or {}
            est = test.get("change" if c["kind"] == "depth" else "difference")
            what = f"{r['a']} − {r['b']}" if r.get("b") else f"{r['a']}, change from the first to the last layer"
            out.append(f"{c['contrast']} ({CLAIM_KINDS.get(c['kind'], c['kind'])}){' ⚠' if r['a'] in flagged else ''}: "
                       f"{r['model']}, {what} = {_f(est)} {_ci(test.get('ci'))}, {_q(res.get('row_q_value'))}: {v}.")
    return out


def _undefined_note(empty: list[dict]) -> str:
    """One sentence per reason for the results of a section that have no score at any layer."""
    if not empty:
        return ""
    why: dict[str, list[str]] = {}
    for r in empty:
        reason = next((e.get("note") for e in r["scores"].get("per_layer", []) if e.get("note")), None)
        why.setdefault(reason or r["scores"]["headline"].get("selection") or "no layer has a score", []).append(
            f"{r['model']['name']} on {r['task']['name']}")
    return " ".join(f"Undefined, so not drawn ({len(w)}: {', '.join(w)}): {reason}." for reason, w in why.items())


def _dataset_section(stem: str, ds: dict, fp: str, summary: dict, synthetic: bool, figure_dir: Path) -> Section:
    """Appendix A of the paper: how the set's targets relate (figure A1)."""
    corr = summary["correlations"]
    caption = (f"Pearson correlation between the upper triangles ({corr['n_pairs']} pairs of sounds) of the set's "
               f"standard target RDMs: per judged dimension the symmetric KL divergence of listeners' response "
               f"distributions (smoothing 0.5) and the 0/1 distance of modal responses, per label column the 0/1 "
               f"distance of the physical labels. Spearman correlations are in the figure's JSON file. High "
               f"correlations between targets mean their RSA scores cannot be told apart by the data.")
    figure = F.target_correlation_figure(f"{stem}__figA1", corr, synthetic, caption)
    _save(figure, figure_dir)
    intro = ("Which targets does the stimulus set let one tell apart? Read how strongly perceived and physical "
             "targets of one dimension agree, and whether dimensions are confounded with each other.")
    return Section("dataset", "The stimulus set's targets (figure A1, appendix A)", anchor(ds["name"], fp, "dataset"),
                   intro, [figure])


def build_sets(files: list[tuple[Path, dict]], comparison: dict[str, Any], figure_dir: Path) -> list[SetReport]:
    """Every stimulus set's sections and figures (written into figure_dir as they are drawn), from result
    files and the comparison report; full sets first, then --limit cuts."""
    from audioprobe.summaries import read_summary

    by_set: dict[str, list[dict]] = {}
    set_dirs: dict[str, Path] = {}
    for path, r in files:
        if r["schema_version"] >= 2:
            by_set.setdefault(r["dataset"]["fingerprint"], []).append(r)
            set_dirs.setdefault(r["dataset"]["fingerprint"], path.parent.parent)  # DIR/<set>-<fp8>/<model>/<task>.json
    cmp_sets = {s["fingerprint"]: s for s in comparison.get("sets", [])}
    out = []
    for fp, rs in sorted(by_set.items(), key=lambda kv: (kv[1][0]["dataset"].get("partial", False),
                                                         kv[1][0]["dataset"]["name"], kv[0])):
        ds = rs[0]["dataset"]
        synthetic = any(r["dataset"].get("synthetic") for r in rs)
        stem = set_folder(ds["name"], fp)
        styles = F.styles_for(rs)
        by_exp: dict[str, list[dict]] = {}
        for r in rs:
            by_exp.setdefault(experiment_of(r), []).append(r)
        cmp = cmp_sets.get(fp, {"tasks": [], "contrasts": []})
        try:
            summary = read_summary(set_dirs[fp])
        except AudioprobeError as exc:
            log.warning("%s; figure A1 and the RDM heatmaps of this set are left out", exc)
            summary = None
        # figure A1 compares the set's targets with each other: only where there are at least two
        sections = ([_dataset_section(stem, ds, fp, summary, synthetic, figure_dir)]
                    if summary and len(summary["correlations"]["targets"]) >= 2 else [])
        sections += [_section(stem, ds, fp, exp, by_exp[exp], styles, synthetic, cmp, figure_dir, set_dirs[fp], summary)
                     for exp in [*EXPERIMENTS, *sorted(set(by_exp) - set(EXPERIMENTS))] if exp in by_exp]
        order = F.model_order(styles)
        flagged = {r["task"]["name"] for r in rs if unreliable_labels(r["scores"])}
        out.append(SetReport(ds["name"], fp, ds["n_sounds"], synthetic, bool(ds.get("partial")),
                             [m for m in order if not styles[m].control], [m for m in order if styles[m].control],
                             sections, _claims(cmp, flagged)))
    return out


@dataclasses.dataclass
class SuiteReport:
    """A suite (many stimulus sets, e.g. similarity studies) and one of its tasks: per-set scores, means over sets,
    the paired comparisons over sets, and the timbre measures of each set where the task computes them."""
    suite: str
    task: str
    anchor: str
    synthetic: bool
    tables: list[Table]


def build_suites(results_dir: Path, files: list[tuple[Path, dict]], comparison: dict[str, Any]) -> list[SuiteReport]:
    """The report's suite sections, from the suite results (`audioprobe.suites`) and the per-set result files."""
    from audioprobe.leaderboard.suites import group, suite_table

    compared = {(c["suite"], c["task"]): c for c in comparison.get("suites", [])}
    per_set = {(r["dataset"]["fingerprint"], result_label(r), r["task"]["name"]): r for _, r in files}
    out = []
    for (suite, task), results in group(results_dir).items():
        sets = results[0]["sets"]
        header, rows = suite_table(results)
        tables = [Table("Scores per set and over sets", header, rows,
                        "Each set's own headline (its layer chosen on that set), their mean, and the leave-one-set-out "
                        "mean (each set scored at the layer that is best on the other sets: the suite's headline). "
                        f"Intervals: t over the {len(sets)} sets ({len(sets) - 1} degrees of freedom); none from one "
                        "set.")]
        c = compared.get((suite, task))
        if c and c.get("pairwise"):
            pw, models = c["pairwise"], c["models"]
            pair_rows = [[f"{models[i]} − {models[j]}", _f(pw["difference"][i][j]), _ci(pw["ci"][i][j]),
                          _p(pw["q_value"][i][j]), "yes" if pw["reject"][i][j] else ""]
                         for i in range(len(models)) for j in range(i + 1, len(models))]
            tables.append(Table("Paired differences over sets", ["difference", "estimate", "95% CI", "q", "supported"],
                                pair_rows, "Leave-one-set-out means; the sets resampled with the same draws for every "
                                           "model (paired set by set); t-tests with sets - 1 degrees of freedom; "
                                           "Benjamini-Hochberg over the pairs."))
        measures: dict[str, list[list[str]]] = {}
        lower: dict[str, bool] = {}
        for r in results:
            values: dict[str, list] = {}
            for sset in sets:
                res = per_set.get((sset["fingerprint"], result_label(r), task))
                for name, m in ((res or {}).get("scores", {}).get("measures") or {}).items():
                    at = m.get("at_headline_layer") or {}
                    values.setdefault(name, []).append(at.get("value"))
                    lower[name] = bool(m.get("lower_is_better"))
            for name, vals in values.items():
                defined = [v for v in vals if v is not None]
                measures.setdefault(name, []).append(
                    [result_label(r), *map(_f, vals), _f(sum(defined) / len(defined)) if defined else "—"])
        for name, mrows in sorted(measures.items()):
            tables.append(Table(f"Timbre measure `{name}` at the headline layer", ["model", *(x["set"] for x in sets),
                                                                                   "mean"], mrows,
                                f"{'Lower' if lower[name] else 'Higher'} is better; each set at the layer its RSA chose "
                                f"(no second selection; docs/metrics.md)."))
        out.append(SuiteReport(suite, task, f"suite-{safe_name(suite)}-{safe_name(task)}".lower(),
                               any(r.get("synthetic") for r in results), tables))
    return out


SUITES_INTRO = ("A suite pools many stimulus sets (for instance published dissimilarity studies, each with its own "
                "sounds and ratings): the studies are the unit of replication.")


# ---------------------------------------------------------------------------------------------
# Rendering

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1a1a1a;
       max-width: 1080px; margin: 0 auto; padding: 1em 1.5em 4em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 2.2em; border-bottom: 2px solid #333; }
h3 { margin-top: 1.8em; border-bottom: 1px solid #bbb; } h4 { margin: 1.2em 0 .4em; }
.banner { background: #fde0dd; border: 2px solid #7a0000; color: #7a0000; font-weight: bold; padding: .5em .8em;
          margin: .8em 0; }
.note { background: #f4f4f4; border-left: 4px solid #999; padding: .4em .8em; }
figure { margin: 1.2em 0; page-break-inside: avoid; break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .88em; color: #333; margin-top: .3em; }
.pairwise { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: .5em 1.2em; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: .2em .6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { caption-side: bottom; text-align: left; font-size: .85em; color: #444; padding-top: .3em; }
nav ul { margin: .2em 0; } code { font-size: .92em; }
@media print { body { max-width: none; font-size: 11pt; } h2 { page-break-before: always; } a { color: inherit; } }
"""


NO_CLAIMS = "No pairwise difference or contrast is supported at this false discovery rate."
SUMMARY_NOTE = ("Each line is a claim the comparisons support: a pairwise headline difference that passes the "
                "Benjamini-Hochberg correction over its experiment (q), or a contrast whose verdict is an effect "
                "(beyond the contrast file's margin where it states one). ⚠: the task is read against a target or "
                "label the listeners do not agree on. Everything else is not shown, which is not the same as equal.")


def _summary_heading(s: SetReport) -> str:
    return "What the data support" + (" (synthetic set: claims about the harness, not about hearing)"
                                      if s.synthetic else "")


def _h(x) -> str:
    return html.escape(str(x), quote=True)


def _html_table(t: Table) -> str:
    head = "".join(f"<th>{_h(h)}</th>" for h in t.headers)
    body = "".join("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>" for row in t.rows)
    caption = f"<caption>{_h(t.note)}</caption>" if t.note else ""
    return f"<h4>{_h(t.title)}</h4>\n<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_figure(f: F.Figure) -> str:
    """A figure on the page: the PNG linked from figures/ (stored once; the page opens from disk, no network),
    shown at half its pixels (it is drawn at 2x for sharp screens)."""
    w, h = f.data["size_px"]
    files = ", ".join(["png", *(["svg"] if "svg" in f.paths else []), "json"])
    return (f'<figure id="fig-{_h(f.name)}"><img src="figures/{_h(f.name)}.png" width="{w}" height="{h}" '
            f'loading="lazy" alt="{_h(f.alt or f.title)}"><figcaption><b>{_h(f.title)}.</b> {_h(f.caption)} '
            f'<span class="files">(figures/{_h(f.name)}: {files})</span></figcaption></figure>')


def _set_heading(s: SetReport) -> str:
    return (f"Stimulus set {s.name} ({s.n_sounds} sounds, fingerprint {s.fingerprint[:12]})"
            + (" — PARTIAL (--limit)" if s.partial else ""))


def _models_line(s: SetReport) -> str:
    return (f"Models: {', '.join(s.models) or 'none'}; controls (random weights, spectrogram baselines): "
            f"{', '.join(s.controls) or 'none'}.")


def render_html(sets: list[SetReport], meta: dict[str, Any], suites: list[SuiteReport] = ()) -> str:
    out = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<title>audioprobe report</title>', f'<style>{CSS}</style></head><body>',
           '<h1>audioprobe report</h1>',
           f'<p>From {meta["n_results"]} result files under <code>{_h(meta["results_dir"])}</code> and their bootstrap '
           f'replicates (no model, no activation), comparisons at false discovery rate α = {meta["alpha"]}. '
           'Method of Bost et al. (2024), <i>Principled probing of foundation models in the auditory '
           'modality</i>.</p>',
           f'<p class="provenance">Made by <code>{_h(meta["command"])}</code> with audioprobe {_h(meta["version"])} on '
           f'{_h(meta["created"])}.</p>']
    if any(s.synthetic for s in sets):
        out.append(f'<div class="banner synthetic-banner">{_h(F.SYNTHETIC_BANNER)}.</div>')
    out.append('<nav><b>Contents</b><ul>')
    for s in sets:
        out.append(f'<li><a href="#{_h(s.anchor)}">{_h(_set_heading(s))}</a>'
                   + (' <b>(synthetic)</b>' if s.synthetic else '') + '<ul>'
                   + "".join(f'<li><a href="#{_h(sec.anchor)}">{_h(sec.title)}</a></li>' for sec in s.sections)
                   + '</ul></li>')
    if suites:
        out.append('<li><a href="#suites">Suites</a><ul>' + "".join(
            f'<li><a href="#{_h(su.anchor)}">{_h(su.suite)}: {_h(su.task)}</a></li>' for su in suites) + '</ul></li>')
    out.append('</ul></nav>')
    for s in sets:
        out.append(f'<section id="{_h(s.anchor)}"><h2>{_h(_set_heading(s))}</h2>')
        if s.synthetic:
            out.append(f'<div class="banner synthetic-banner">{_h(F.SYNTHETIC_BANNER)}.</div>')
        out.append(f'<p>{_h(_models_line(s))}</p>')
        out.append(f'<div class="summary" id="{_h(s.anchor)}-summary"><h4>{_h(_summary_heading(s))}</h4>')
        out.append('<ul>' + "".join(f'<li>{_h(c)}</li>' for c in s.claims) + '</ul>' if s.claims else
                   f'<p>{_h(NO_CLAIMS)}</p>')
        out.append(f'<p class="note">{_h(SUMMARY_NOTE)}</p></div>')
        for sec in s.sections:
            out.append(f'<section id="{_h(sec.anchor)}"><h3>{_h(sec.title)}</h3>')
            if sec.intro:
                out.append(f'<p>{_h(sec.intro)}</p>')
            if sec.note:
                out.append(f'<p class="note">{_h(sec.note)}</p>')
            out += [_html_figure(f) for f in sec.figures]
            out += [_html_table(t) for t in sec.tables]
            if sec.pairwise:
                out.append('<h4>Pairwise comparisons of the models, per task</h4><div class="pairwise">')
                out += [_html_figure(f) for f in sec.pairwise]
                out.append('</div>')
            if sec.rdms:
                out.append(f'<h4>{_h(RDM_HEADING)}</h4>')
                out += [_html_figure(f) for f in sec.rdms]
            out.append('</section>')
        out.append('</section>')
    if suites:
        out.append('<section id="suites"><h2>Suites</h2>')
        out.append(f'<p>{_h(SUITES_INTRO)}</p>')
        for su in suites:
            out.append(f'<section id="{_h(su.anchor)}"><h3>Suite {_h(su.suite)}, task {_h(su.task)}</h3>')
            if su.synthetic:
                out.append(f'<div class="banner synthetic-banner">{_h(F.SYNTHETIC_BANNER)}.</div>')
            out += [_html_table(t) for t in su.tables]
            out.append('</section>')
        out.append('</section>')
    out.append(f'<footer><p>Generated by audioprobe-report {_h(meta["version"])}.</p></footer></body></html>')
    return "\n".join(out) + "\n"


def _md_cell(x) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> list[str]:
    lines = [f"#### {t.title}", "", "| " + " | ".join(map(_md_cell, t.headers)) + " |",
             "|" + "---|" * len(t.headers)]
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in t.rows]
    return lines + ([""] + [t.note] if t.note else []) + [""]


def _md_figure(f: F.Figure) -> list[str]:
    svg = f" ([SVG](figures/{f.name}.svg))" if "svg" in f.paths else ""
    return [f"![{f.alt or f.title}](figures/{f.name}.png)", "", f"**{f.title}.** {f.caption}{svg}", ""]


def render_markdown(sets: list[SetReport], meta: dict[str, Any], suites: list[SuiteReport] = ()) -> str:
    banner = f"> **{F.SYNTHETIC_BANNER}.**"
    lines = ["# audioprobe report", "",
             f"From {meta['n_results']} result files under `{meta['results_dir']}` and their bootstrap replicates "
             f"(no model, no activation); comparisons at false discovery rate α = {meta['alpha']}.", "",
             f"Made by `{meta['command']}` with audioprobe {meta['version']} on {meta['created']}.", ""]
    if any(s.synthetic for s in sets):
        lines += [banner, ""]
    for s in sets:
        lines += [f'<a id="{s.anchor}"></a>', "", f"## {_set_heading(s)}", ""]
        if s.synthetic:
            lines += [banner, ""]
        lines += [_models_line(s), "", f"#### {_summary_heading(s)}", ""]
        lines += ([f"- {c}" for c in s.claims] if s.claims else [NO_CLAIMS]) + ["", f"*{SUMMARY_NOTE}*", ""]
        for sec in s.sections:
            lines += [f'<a id="{sec.anchor}"></a>', "", f"### {sec.title}", ""]
            if sec.intro:
                lines += [sec.intro, ""]
            if sec.note:
                lines += [f"> {sec.note}", ""]
            for f in sec.figures:
                lines += _md_figure(f)
            for t in sec.tables:
                lines += _md_table(t)
            if sec.pairwise:
                lines += ["#### Pairwise comparisons of the models, per task", ""]
                for f in sec.pairwise:
                    lines += _md_figure(f)
            if sec.rdms:
                lines += [f"#### {RDM_HEADING}", ""]
                for f in sec.rdms:
                    lines += _md_figure(f)
    if suites:
        lines += ['<a id="suites"></a>', "", "## Suites", "", SUITES_INTRO, ""]
        for su in suites:
            lines += [f'<a id="{su.anchor}"></a>', "", f"### Suite `{su.suite}`, task `{su.task}`", ""]
            if su.synthetic:
                lines += [banner, ""]
            for t in su.tables:
                lines += _md_table(t)
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------
# Writing

#: The figures a report wrote into REPORT_DIR/figures (a JSON list of names): the next report removes those it
#: no longer draws, and nothing else.
FIGURE_MANIFEST = ".audioprobe-figures.json"


def write_report(results_dir: Path, output_dir: Path, contrast_paths=(), alpha: float = 0.05,
                 command: str | None = None, svg: bool = False) -> dict[str, Any]:
    """Write index.html, report.md and figures/ into output_dir; return what was written and how long it took."""
    from audioprobe import __version__
    from audioprobe.leaderboard.compare import compare
    from audioprobe.leaderboard.contrasts import discover_contrasts

    start = time.perf_counter()
    results_dir, output_dir = Path(results_dir), Path(output_dir)
    files = collect_files(results_dir)
    if not any(r["schema_version"] >= 2 for _, r in files):
        raise AudioprobeError(f"{results_dir}: no result files of schema 2 here; run audioprobe-eval first.")
    comparison = compare(results_dir, discover_contrasts(contrast_paths), alpha=alpha)
    t_compare = time.perf_counter() - start
    figure_dir = output_dir / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    token = _SVG.set(svg)
    try:
        sets = build_sets(files, comparison, figure_dir)
    finally:
        _SVG.reset(token)
    all_figures = [f for s in sets for sec in s.sections for f in (*sec.figures, *sec.pairwise, *sec.rdms)]
    written = {p for f in all_figures for p in f.paths.values()}
    # figures of an earlier report that this one no longer has: only those a report wrote (its manifest), never
    # a file of the user's that happens to sit in the folder
    manifest = figure_dir / FIGURE_MANIFEST
    try:
        earlier = set(json.loads(manifest.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        earlier = set()
    for name in earlier - {p.name for p in written}:
        stale = figure_dir / Path(name).name  # a bare name: nothing outside the folder
        if stale.is_file() and not stale.is_symlink():
            stale.unlink()
    atomic_write_bytes(manifest, lambda fh: fh.write(json.dumps(sorted(p.name for p in written)).encode("utf-8")))
    meta = {"n_results": sum(r["schema_version"] >= 2 for _, r in files), "results_dir": str(results_dir),
            "alpha": alpha, "version": __version__, "created": now_utc(),
            "command": command or " ".join(shlex.quote(str(x)) for x in [
                "audioprobe-report", results_dir, "-o", output_dir,
                *(a for c in contrast_paths for a in ("--contrasts", c)), *(["--alpha", alpha] if alpha != 0.05 else []),
                *(["--svg"] if svg else [])])}
    suites = build_suites(results_dir, files, comparison)
    page = render_html(sets, meta, suites).encode("utf-8")
    markdown = render_markdown(sets, meta, suites).encode("utf-8")
    atomic_write_bytes(output_dir / "index.html", lambda fh: fh.write(page))
    atomic_write_bytes(output_dir / "report.md", lambda fh: fh.write(markdown))
    return {"index": output_dir / "index.html", "markdown": output_dir / "report.md", "figures": len(all_figures),
            "sets": [s.anchor for s in sets], "anchors": [sec.anchor for s in sets for sec in s.sections],
            "seconds": time.perf_counter() - start, "compare_seconds": t_compare}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("results_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output-dir", "output_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for index.html, report.md and figures/ (created if needed).")
@click.option("--contrasts", "contrast_paths", multiple=True, type=click.Path(path_type=Path),
              help="Extra contrast YAML file or folder (repeatable); the built-in ones are always read.")
@click.option("--alpha", default=0.05, type=click.FloatRange(0, 1, min_open=True, max_open=True), show_default=True,
              help="False discovery rate of the Benjamini-Hochberg corrections.")
@click.option("--svg", is_flag=True, help="Also write every figure as SVG (vector, for papers; larger files).")
def report_cmd(results_dir, output_dir, contrast_paths, alpha, svg):
    """An HTML report (and markdown) of the result files under RESULTS_DIR: the paper's figures per stimulus
    set and experiment, headline tables, contrasts and pairwise comparisons. index.html links the figures in
    figures/ (PNG; SVG too with --svg): keep the folder together."""
    done = write_report(results_dir, output_dir, contrast_paths, alpha, svg=svg)
    click.echo(f"Wrote {done['index']}, {done['markdown'].name} and {done['figures']} figure(s) as PNG"
               f"{' and SVG' if svg else ''} in {output_dir / 'figures'} ({done['seconds']:.1f} s).")
