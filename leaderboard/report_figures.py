"""The report's figures for one set and experiment: the paper's profiles, the pairwise matrices and the
RDM heatmaps, each saved as PNG (and SVG with --svg) beside its JSON sidecar."""

from __future__ import annotations

import contextvars
import logging
import math
from pathlib import Path

from audioprobe.errors import AudioprobeError
from audioprobe.leaderboard import figures as F
from audioprobe.leaderboard.figure_kinds import FigureRequest
from audioprobe.leaderboard.report_tables import _controls_words, _f, _resampling_words
from audioprobe.results import result_label, safe_name
from audioprobe.studies import task_rank

log = logging.getLogger("audioprobe.leaderboard.report")  # the report's messages, under one name

#: Whether this report writes SVG copies of its figures (`audioprobe-report --svg`): set by write_report.
_SVG: contextvars.ContextVar[bool] = contextvars.ContextVar("audioprobe_report_svg", default=False)


def _save(figure: F.Figure, figure_dir: Path) -> None:
    figure.save(figure_dir, svg=_SVG.get())


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


def _profile_figures(stem: str, title: str, by_task: dict[str, list[dict]], styles, synthetic: bool,
                     extra: str = "") -> list[F.Figure]:
    """Per-task profiles, six panels a figure."""
    tasks = F.task_order(by_task)
    bands = _resampling_words([r for rs in by_task.values() for r in rs])
    caption = f"Per-layer scores at relative depth. Bands: {bands}. {extra}{_controls_words(styles)}"
    return [F.profiles_figure(f"{stem}-{i // 6 + 1}", title, {t: by_task[t] for t in tasks[i:i + 6]}, styles,
                              synthetic, caption) for i in range(0, len(tasks), 6)]


def _targets(by_task: dict[str, list[dict]], *kinds: str) -> dict[str, list[dict]]:
    return {t: rs for t, rs in by_task.items() if F.params(rs[0]).get("target") in kinds}


def _partial(request: FigureRequest) -> bool:
    return bool(request.words.get("control"))


def rsa_perceived_figures(request: FigureRequest) -> tuple[list[F.Figure], set[str]]:
    """RSA tasks against perceived (KL) targets, on one figure: the paper's figure 1A (A2 for partial RSA)."""
    kl = _targets(request.by_task, "kl")
    if not kl:
        return [], set()
    partial = _partial(request)
    name, title = request.name_and_title(
        "rsa-perceived", f"{request.experiment}-perceived",
        "Partial RSA ({control} RDM regressed out), perceived targets" if partial
        else "RSA against perceived targets (symmetric KL of responses)")
    regressed = f", after regressing the {request.words['control']} RDM out of each layer's RDM" if partial else ""
    caption = (f"Per-layer RSA of each model against each perceived target (symmetric KL divergence of listeners' "
               f"response distributions){regressed}, at relative depth (0 first layer, 1 last). Bands: "
               f"{_resampling_words([r for rs in kl.values() for r in rs])}. Dotted black: split-half noise "
               f"ceiling (Spearman-Brown){'' if partial else ', marked where the listeners do not agree'}. "
               f"{_controls_words(request.styles)}")
    return [F.profiles_figure(name, title, kl, request.styles, request.synthetic, caption)], set(kl)


def rsa_perceived_vs_physical_figures(request: FigureRequest) -> tuple[list[F.Figure], set[str]]:
    """RSA against modal responses and against physical labels, paired per dimension (figure 1B), with the
    per-layer marks of a contrast file that pairs them."""
    by_task = request.by_task
    zero_one: dict[tuple, dict[str, str]] = {}
    for t, rs in _targets(by_task, "modal", "physical").items():
        zero_one.setdefault(F.dimensions(rs[0]), {})[F.params(rs[0])["target"]] = t
    if not zero_one:
        return [], set()
    paired = {t for v in zero_one.values() for t in v.values()}
    pairs = [(" / ".join(dims) if len(dims) > 1 else (dims[0] if dims else "?"), v.get("modal"), v.get("physical"))
             for dims, v in sorted(zero_one.items(), key=lambda kv: task_rank(request.study, "", kv[0]))]
    name, title = request.name_and_title(
        "rsa-perceived-vs-physical", f"{request.experiment}-perceived-vs-physical",
        "Partial RSA ({control} regressed out), 0/1 targets: perceived vs physical" if _partial(request)
        else "Perceived (modal response) vs physical labels, 0/1 targets")
    tested = any((c.get("a"), c.get("b")) in {(p[1], p[2]) for p in pairs} for c in request.contrast_rows)
    marks = ("Triangles at the top: layers where the perceived-minus-physical contrast is significant (paired "
             "t-test on shared resamples, Benjamini-Hochberg over the experiment's per-layer tests; ▲ perceived higher, ▼ "
             "lower). "
             if tested else "No contrast file pairs these tasks: no per-layer test is marked. ")
    caption = (f"Per dimension, each model's RSA against the 0/1 distance of listeners' modal responses (solid) "
               f"and of the physical labels (dashed), per layer at relative depth. Bands: "
               f"{_resampling_words([r for t in paired for r in by_task[t]])}. {marks}{_controls_words(request.styles)}")
    return [F.perceived_physical_figure(name, title, pairs, by_task, request.styles, request.contrast_rows,
                                        request.synthetic, caption)], paired


def rsa_matrix_figures(request: FigureRequest) -> tuple[list[F.Figure], set[str]]:
    """RSA tasks against the set's own dissimilarity matrix (rdm.csv)."""
    matrix = _targets(request.by_task, "rdm")
    if not matrix:
        return [], set()
    name, title = request.name_and_title("rsa-matrix", f"{request.experiment}-matrix",
                                         "RSA against the stimulus set's dissimilarity matrix")
    return _profile_figures(name, title, matrix, request.styles, request.synthetic,
                            "Target: the set's own dissimilarity matrix (rdm.csv, ratings of pairs of sounds); a "
                            "noise ceiling only where the set has one matrix per rater. "), set(matrix)


def transfer_figures(request: FigureRequest) -> tuple[list[F.Figure], set[str]]:
    """Transfer probes with their no-transfer baselines and chance, one panel per split (figure 2)."""
    by_task = request.by_task
    results = [r for rs in by_task.values() for r in rs]
    name, title = request.name_and_title("transfer", "transfer", "Transfer across subsets of the sounds")
    caption = (f"Per split, accuracy of a linear probe trained on one subset and tested on the other (solid; "
               f"bands: {_resampling_words(results)}), its no-transfer baseline (dotted, where defined: the same "
               f"probe cross-validated inside the test subset) and chance (black, long dashes). Triangles at the "
               f"top: layers where the transfer probe and its baseline, trained on as many sounds, differ (paired t-test, "
               f"BH over the experiment's per-layer tests). "
               f"{_controls_words(request.styles)}")
    return [F.transfer_figure(name, title, by_task, request.styles, request.contrast_rows, request.synthetic,
                              caption)], set(by_task)


def profiles_figures(request: FigureRequest) -> tuple[list[F.Figure], set[str]]:
    """Per-task profiles of every task left, six panels a figure."""
    alone = request.kinds in ((), ("profiles",))
    name, title = request.name_and_title(
        "profiles", request.experiment if alone else f"{request.experiment}-other",
        f"{request.experiment} tasks" if alone else f"Other {request.experiment} tasks")
    return (_profile_figures(name, title, request.by_task, request.styles, request.synthetic, request.caption),
            set(request.by_task))


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
