"""Aggregate result files into a markdown leaderboard.

Reads result JSON files only. Per stimulus set (by fingerprint; a --limit cut apart), one table per
experiment (RSA, partial RSA, transfer, ABX; RSA split by the kind of target), each cell the
headline score of one model on one task, with its interval.

Layout: tasks as rows and models as columns while every table of the set fits `MAX_WIDTH`
characters (a few models); beyond that, models as rows, the task columns cut into tables that fit.
Each table carries its reference level beside the scores (RSA: the noise ceiling; transfer and
ABX: chance), and a transfer cell its no-transfer baseline. A missing result (no file) and an
undefined one (a file whose headline is null) are marked differently; neither is averaged over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from audioprobe.errors import AudioprobeError
from audioprobe.results import (
    collect_files,
    experiment_of,
    format_score,
    reliability_blocks,
    result_label,
    set_folder,
    unreliable_labels,
    unreliable_roles,
)
from audioprobe.tasktypes import presentation

#: Widest table line written (markdown characters): about what a GitHub page shows on a laptop
#: screen without scrolling sideways. A table that would be wider is turned or cut (module docstring).
MAX_WIDTH = 200
MISSING = "—"  # no result file for this model and task
UNDEFINED = "*undefined*"  # a result file whose headline score is null (italic: not a number)

def collect(results_dir: Path) -> list[dict]:
    """Every result under `results_dir` (see `audioprobe.results.collect_files`)."""
    return [r for _, r in collect_files(results_dir)]


def anchor(set_name: str, fingerprint: str, experiment: str) -> str:
    """The report's section id of one experiment on one stimulus set: `<set>-<fingerprint[:8]>-<experiment>`,
    lowercase, the set part spelled as its result folder (`audioprobe.results.set_folder`: safe in a URL).
    The report imports this rule, so the leaderboard's links and the report's sections agree."""
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", experiment):
        raise ValueError(f"experiment {experiment!r}: expected a lowercase name such as rsa or rsa-partial")
    return f"{set_folder(set_name, fingerprint)}-{experiment}".lower()


# ---------------------------------------------------------------------------------------------
# Cells

def _interval(ci) -> str:
    return f" [{format_score(ci[0], 3)}, {format_score(ci[1], 3)}]" if ci is not None and None not in ci else ""


def _extra_values_text(result: dict) -> str:
    """What the result's task type adds to a cell (`Presentation.cell_values`, e.g. a transfer's baseline)."""
    return "".join(f"; {name} {format_score(value, 3)}" if value is not None else f"; no {name}"
                   for name, value in presentation.of(result).cell_values(result).items())


def _ceiling_share_text(scores: dict) -> str:
    ratio = (scores.get("headline_over_ceiling") or {}).get("ratio")
    if ratio is None or scores["headline"]["value"] <= 0:  # a share of the attainable means nothing below 0
        return ""
    return f" = {100 * ratio:.0f}% of attainable"


def _reliability_text(scores: dict) -> str:
    """A short flag on a cell whose target or label the listeners do not agree on (`unreliable_roles`): the
    roles ("target", "split", "labels", "strata"); the legend names the dimensions and their reliability,
    the table's reference row the ceiling."""
    roles = unreliable_roles(scores)
    return f" ⚠ {', '.join(roles)}" if roles else ""


def score_cell(result: dict, best: bool = False, show_layer: bool = True) -> str:
    """One model on one task: the headline in bold when in the best group, ↓ for an error rate, its
    interval, its layer (unless the model has one), the transfer baseline, the share of the ceiling, and
    a flag where the target or a label is unreliable."""
    scores = result["scores"]
    h = scores["headline"]
    if h.get("value") is None:
        return UNDEFINED
    value = format_score(h["value"], 3)
    text = (f"**{value}**" if best else value) + (" ↓" if scores.get("lower_is_better") else "")
    text += _interval(h.get("ci"))
    if show_layer and h.get("layer"):
        text += f" ({h['layer']})"
    return text + _extra_values_text(result) + _ceiling_share_text(scores) + _reliability_text(scores)


def _reference(result: dict) -> float | None:
    """The level a task's scores are read against, as its type says (RSA its noise ceiling, transfer and ABX
    chance)."""
    return presentation.of(result).reference(result)


def _reference_text(results: list[dict]) -> str:
    values = sorted({format_score(v, 3) for v in map(_reference, results) if v is not None})
    text = " / ".join(values) if values else "none"
    unreliable = any((r["scores"].get("noise_ceiling") or {}).get("reliable") is False for r in results)
    return f"{text} (unreliable)" if values and unreliable else text


# ---------------------------------------------------------------------------------------------
# One stimulus set

@dataclass
class SetView:
    """The results of one stimulus set, indexed for rendering."""

    name: str
    fingerprint: str
    partial: bool
    n_sounds: int
    results: list[dict]

    @property
    def models(self) -> list[str]:
        return sorted({result_label(r) for r in self.results})

    @property
    def cells(self) -> dict[tuple[str, str], dict]:
        return {(result_label(r), r["task"]["name"]): r for r in self.results}

    def of(self, experiment: str) -> list[dict]:
        return [r for r in self.results if experiment_of(r) == experiment]


@dataclass
class SubTable:
    """Some tasks of one experiment shown together, with their reference column (or none)."""

    label: str
    tasks: list[str]
    reference: str | None  # "ceiling", "chance" or None


def group_by_set(results: list[dict]) -> list[SetView]:
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        ds = r["dataset"]
        groups.setdefault((ds["name"], ds["fingerprint"], bool(ds.get("partial", False)), ds["n_sounds"]), []).append(r)
    views = [SetView(*key, rs) for key, rs in groups.items()]
    return sorted(views, key=lambda v: (v.partial, v.name, v.fingerprint))


def experiments_in(view: SetView) -> list[str]:
    return presentation.experiment_order(experiment_of(r) for r in view.results)


def one_layer_models(view: SetView) -> dict[str, str]:
    """model -> its layer, for the models with the same single layer in every result of the set."""
    layers: dict[str, set[tuple[str, ...]]] = {}
    for r in view.results:
        layers.setdefault(result_label(r), set()).add(tuple(e["layer"] for e in r["scores"]["per_layer"]))
    return {m: next(iter(ls))[0] for m, ls in layers.items() if len(ls) == 1 and len(next(iter(ls))) == 1}


def sub_tables(view: SetView, experiment: str) -> list[SubTable]:
    """An experiment's tasks cut into readable tables, as its task type groups them (RSA: by kind of target),
    in its study's order; each with the experiment's reference column where a task has a reference level."""
    results = view.of(experiment)
    reference = presentation.experiment(experiment, results).reference
    groups = presentation.of(results[0]).table_groups
    out = []
    for label, tasks in groups(results) if groups else [("", sorted({r["task"]["name"] for r in results}))]:
        present = any(_reference(r) is not None for r in results if r["task"]["name"] in tasks)
        out.append(SubTable(label, tasks, reference if present else None))
    return out


# ---------------------------------------------------------------------------------------------
# Tables: a grid with tasks as rows, turned or cut when too wide

def task_rows(view: SetView, sub: SubTable, best: dict, shown_layers: set[str]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) with one row per task: the task, its reference level, one cell per model."""
    cells = view.cells
    header = ["task", *([sub.reference] if sub.reference else []), *view.models]
    rows = []
    for task in sub.tasks:
        row = [task]
        if sub.reference:
            row.append(_reference_text([r for (_, t), r in cells.items() if t == task]))
        for m in view.models:
            r = cells.get((m, task))
            row.append(MISSING if r is None else
                       score_cell(r, m in best.get((view.fingerprint, task), ()), m in shown_layers))
        rows.append(row)
    return header, rows


def transpose(header: list[str], rows: list[list[str]], reference: str | None) -> tuple[list[str], list[list[str]]]:
    """Models as rows, tasks as columns; the reference column (if any) becomes an italic first row."""
    columns = list(zip(header, *rows))
    labels = [f"*{name}*" if reference and i == 0 else name for i, (name, *_) in enumerate(columns[1:])]
    return ["model", *columns[0][1:]], [[label, *values] for label, (_, *values) in zip(labels, columns[1:])]


def pipe_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return tabulate(rows, headers=header, tablefmt="github", disable_numparse=True).splitlines()


def width(lines: list[str]) -> int:
    return max(len(line) for line in lines)


def cut_columns(header: list[str], rows: list[list[str]], limit: int = MAX_WIDTH) -> list[list[str]]:
    """Tables of the same rows, the columns after the first cut so each table fits `limit` (a single
    column wider than that stays whole)."""
    tables, start = [], 1
    while start < len(header):
        stop = start + 1
        while stop < len(header) and width(_columns(header, rows, start, stop + 1)) <= limit:
            stop += 1
        tables.append(_columns(header, rows, start, stop))
        start = stop
    return tables


def _columns(header, rows, start, stop) -> list[str]:
    return pipe_table([header[0], *header[start:stop]], [[r[0], *r[start:stop]] for r in rows])


def set_tables(view: SetView, best: dict) -> dict[str, list[tuple[SubTable, list[list[str]]]]]:
    """experiment -> its sub-tables, each rendered as one or more tables of lines: tasks as rows when
    every table of the set fits MAX_WIDTH, else models as rows, cut to fit."""
    shown_layers = set(view.models) - set(one_layer_models(view))
    grids = {e: [(sub, task_rows(view, sub, best, shown_layers)) for sub in sub_tables(view, e)]
             for e in experiments_in(view)}
    if all(width(pipe_table(*grid)) <= MAX_WIDTH for subs in grids.values() for _, grid in subs):
        return {e: [(sub, [pipe_table(*grid)]) for sub, grid in subs] for e, subs in grids.items()}
    return {e: [(sub, cut_columns(*transpose(*grid, sub.reference))) for sub, grid in subs]
            for e, subs in grids.items()}


# ---------------------------------------------------------------------------------------------
# Text around the tables

def set_heading(view: SetView) -> list[str]:
    title = f"## Stimulus set `{view.name}` ({view.n_sounds} sounds, fingerprint `{view.fingerprint[:12]}`)"
    lines = [title + (" — PARTIAL (--limit)" if view.partial else ""), ""]
    if any(r["dataset"].get("synthetic") for r in view.results):
        lines += ["> **Synthetic stimuli with simulated judgments.** These scores test the harness and the "
                  "models on a physically grounded stand-in; they are not findings about human perception.", ""]
    return lines + [models_line(view), ""]


def models_line(view: SetView) -> str:
    """The models, each one-layer model with its layer (said here once, never in its cells)."""
    single = one_layer_models(view)
    n_layers: dict[str, int] = {}
    for r in view.results:
        n_layers[result_label(r)] = max(n_layers.get(result_label(r), 0), len(r["scores"]["per_layer"]))
    parts = [f"{m} (one layer, `{single[m]}`)" if m in single else f"{m} ({n_layers[m]} layers)"
             for m in view.models]
    text = "Models: " + ", ".join(parts) + "."
    if single:
        text += " A one-layer model's layer is named here only."
    if len(single) < len(view.models):
        text += " A cell of a model with several layers names its headline layer in parentheses."
    return text


def experiment_heading(view: SetView, experiment: str, report_url: str | None) -> list[str]:
    shown = presentation.experiment(experiment, view.of(experiment))
    title = shown.name
    if report_url:
        title = f"[{title}]({report_url}#{anchor(view.name, view.fingerprint, experiment)})"
    controls = sorted({(r["scores"].get("control") or {}).get("model") or presentation.result_params(r).get("control", "")
                       for r in view.of(experiment)})
    description = shown.description.format(controls=", ".join(c for c in controls if c))
    return [f"### {title}", ""] + ([description, ""] if description else [])


def selection_sentences(results: list[dict]) -> list[str]:
    """One sentence per way the headline layer was chosen among `results` (those with a score: a null
    headline chose no layer)."""
    scored = [r for r in results if r["scores"]["headline"].get("value") is not None]
    splits = {_cv_splits(r) for r in scored}
    cv = sorted(n for n in splits if n > 0)
    both = bool(cv) and 0 in splits
    sentences = []
    if cv:
        lowest = " (the lowest error where ↓)" if any(r["scores"].get("lower_is_better") for r in scored) else ""
        halves = " or ".join(str(n) for n in cv) if all(n > 1 for n in cv) else "several"
        sentences.append(f"{'On tasks with cv_splits > 0, the' if both else 'The'} headline layer is cross-validated "
                         f"over sounds: on each of {halves} random halves of the sounds, the best layer{lowest} is "
                         f"picked on one half and scored on the other, and a cell gives the mean held-out score.")
    if 0 in splits:
        sentences.append(f"{'On tasks with cv_splits 0, the' if both else 'The'} headline layer is the best layer "
                         f"on all sounds, not cross-validated and so optimistic.")
    return sentences


def _cv_splits(result: dict) -> int:
    """The random half splits behind a headline (0: the best layer on all sounds)."""
    splits = result["scores"].get("statistics", {}).get("cv_splits")
    if splits is None:  # an older result: its selection says it in words
        return 1 if result["scores"]["headline"].get("selection", "").startswith("cross-validated") else 0
    return splits


def undefined_reasons(results: list[dict]) -> list[str]:
    """'model (n tasks): why' for every result whose headline is null, grouped by model and reason."""
    counts: dict[tuple[str, str], int] = {}
    for r in results:
        if r["scores"]["headline"].get("value") is None:
            notes = sorted({e["note"] for e in r["scores"]["per_layer"] if e.get("note")})
            if (r["scores"].get("control") or {}).get("model") == r["model"]["name"]:
                notes.append(f"{r['model']['name']} is its own control")
            key = (result_label(r), "; ".join(notes) or "no layer has a finite score")
            counts[key] = counts.get(key, 0) + 1
    return [f"{m} ({n} task{'s' if n > 1 else ''}): {why}" for (m, why), n in sorted(counts.items())]


def legend(view: SetView, best: dict, alpha: float) -> list[str]:
    """The bullets under a set's tables: how to read each mark present."""
    rs, fp = view.results, view.fingerprint
    items = []
    sentences = selection_sentences(rs)
    if sentences:
        items.append(" ".join(sentences))
    levels = sorted({r["scores"].get("statistics", {}).get("ci_level") for r in rs} - {None})
    if levels:
        items.append(f"[a, b]: the headline's {' or '.join(f'{100 * x:g}%' for x in levels)} bootstrap interval "
                     f"(each result's `statistics` says what was resampled).")
    compared = sorted(t for f, t in best if f == fp)
    if compared:
        tied = [t for t in compared if not best[(fp, t)]]
        items.append(f"**Bold**: the best group of a task, a confidence set for the best model: the models that no "
                     f"other model beats significantly when all pairs are tested at once (paired t-tests of headline "
                     f"differences on shared bootstrap resamples, with the dual-bootstrap variance where listeners "
                     f"were resampled, Schütt et al. 2023; single-step max-t over the task's pairs, family-wise level "
                     f"{alpha}; Mogstad et al. 2024). With probability {1 - alpha:g} it holds every truly best model; "
                     f"it is not a proof that its members are equal. `audioprobe-compare` gives every difference."
                     + (f" No model is separated from the best on: {', '.join(tied)}." if tied else ""))
    if any((r["scores"].get("headline_over_ceiling") or {}).get("ratio") is not None for r in rs):
        items.append("*ceiling*: the split-half noise ceiling of the target (its reliability: listeners against "
                     "listeners, Spearman-Brown corrected); x% of attainable: the headline over the square root of the "
                     "ceiling, the correlation a perfect model would reach against this noisy target (classical test "
                     "theory; a descriptive ratio), given only where the target is reliable (below). None for "
                     "partial RSA, whose residualised RDM has no ceiling.")
    flagged: dict[str, list[str]] = {}
    for r in rs:
        for flag in unreliable_labels(r["scores"]):
            flagged.setdefault(r["task"]["name"], [])
            if flag not in flagged[r["task"]["name"]]:
                flagged[r["task"]["name"]].append(flag)
    if flagged:
        floors = sorted({b.get("reliability_floor") for r in rs
                         for b in reliability_blocks(r["scores"]).values()} - {None})
        items.append("⚠ *unreliable* (target, split, labels, strata): the listeners do not agree on the target (RSA) "
                     "or on a perceived label a transfer or ABX task uses (its target, its train/test split, its "
                     "labels, its strata): the 2.5th percentile of the label's split-half reliability over random "
                     "halves of the listeners (Spearman-Brown corrected) is below "
                     f"{' / '.join(f'{x:g}' for x in floors) or 'the floor'}. A score there says more about the "
                     "listeners' noise than about the model, and no share of the ceiling is given (docs/metrics.md). "
                     + " ".join(f"{task}: {'; '.join(flags)}." for task, flags in sorted(flagged.items())))
    if any(r["scores"].get("lower_is_better") for r in rs):
        items.append("↓ marks an error rate (ABX): lower is better; *chance* is the error of a model that cannot "
                     "tell the categories apart.")
    for experiment in experiments_in(view):
        results = view.of(experiment)
        legend_of = presentation.of(results[0]).legend
        if legend_of is not None:
            items.append(legend_of(results))
    items.append(missing_and_undefined(view))
    versions = sorted({f"{r['task']['name']} v{r['task']['version']}" for r in rs})
    items.append(f"Task versions: {', '.join(versions)}.")
    return [f"- {item}" for item in items] + [""]


def missing_and_undefined(view: SetView) -> str:
    """The legend of the two empty kinds of cell, with why each undefined score is undefined."""
    text = f"{MISSING} means no result file for this model and task (not run, or not applicable)"
    reasons = undefined_reasons(view.results)
    if reasons:
        text += (f"; {UNDEFINED} means the result file exists but its score is undefined, here for "
                 + "; ".join(reasons))
    return text + ". Nothing is averaged over either."


def render_set(view: SetView, best: dict, alpha: float, report_url: str | None) -> list[str]:
    lines = set_heading(view)
    for experiment, subs in set_tables(view, best).items():
        lines += experiment_heading(view, experiment, report_url)
        for sub, tables in subs:
            lines += [sub.label, ""] if sub.label else []
            for table in tables:
                lines += table + [""]
    return lines + legend(view, best, alpha)


def render_markdown(results: list[dict], best: dict[tuple[str, str], set[str]] | None = None,
                    alpha: float = 0.05, report_url: str | None = None) -> str:
    """The leaderboard; `best` (from `best_groups`) puts the best group of each task in bold;
    `report_url` (e.g. "report/index.html") links each experiment's heading to its report section."""
    intro = ("Headline score of each model on each task, with its interval. "
             f"{MISSING} marks a missing result (no result file), {UNDEFINED} a result whose score is undefined; "
             "nothing is averaged over either.")
    if report_url:
        intro += f" Each experiment's heading links to its section of the [report]({report_url})."
    lines = ["# audioprobe leaderboard", "", intro, ""]
    for view in group_by_set(results):
        lines += render_set(view, best or {}, alpha, report_url)
    return "\n".join(lines).rstrip() + "\n"


def best_groups(files: list[tuple[Path, dict]], alpha: float = 0.05) -> dict[tuple[str, str], set[str]]:
    """(set fingerprint, task) -> the models the data do not separate from the best (at least two
    models compared on shared resamples; see audioprobe-compare)."""
    from audioprobe.leaderboard.compare import compare_models
    from audioprobe.leaderboard.pairing import Entry

    by_task: dict[tuple[str, str], list] = {}
    for path, r in files:
        if r["schema_version"] >= 2:
            by_task.setdefault((r["dataset"]["fingerprint"], r["task"]["name"]), []).append(Entry(path, r))
    out = {}
    for key, entries in by_task.items():
        table = compare_models(entries, alpha=alpha)
        if table is not None and table.get("pairwise") is not None:
            out[key] = {m for m, keep in zip(table["models"], table["best_group"]["in_group"]) if keep}
            out[key] = out[key] if len(out[key]) < len(table["models"]) else set()  # all tied: none stands out
    return out


def build(results_dir: Path, output: Path | None = None, report_url: str | None = None) -> str:
    """The leaderboard of the result files under `results_dir`, written to `output` when given."""
    files = collect_files(results_dir)  # unreadable files are skipped with a warning naming each
    if not files:
        raise AudioprobeError(f"{results_dir}: no readable result files here (searched every *.json below it); "
                              f"run audioprobe-eval first, or give the folder it wrote (--output-dir).")
    from audioprobe.leaderboard.suites import render_markdown as suite_section

    text = render_markdown([r for _, r in files], best_groups(files), report_url=report_url)
    suites = suite_section(results_dir)
    if suites:
        text += "\n" + "\n".join(suites).rstrip() + "\n"
    if output is not None:
        from audioprobe.files import atomic_write_bytes

        atomic_write_bytes(Path(output), lambda fh: fh.write(text.encode("utf-8")))
    return text
