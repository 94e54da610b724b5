"""The leaderboard's score tables: one stimulus set's results indexed (`SetView`), each cell's text, and the
grid of an experiment laid out to fit a page.

Each cell is the headline score of one model on one task, with its interval. Layout: tasks as rows and models as
columns while every table of the set fits `MAX_WIDTH` characters (a few models); beyond that, models as rows, the
task columns cut into tables that fit. Each table carries its reference level beside the scores (RSA: the noise
ceiling; transfer and ABX: chance), and a transfer cell its no-transfer baseline. A missing result (no file) and an
undefined one (a file whose headline is null) are marked differently; neither is averaged over. Split from
`build` (which assembles the page) so the table layout can be read on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from tabulate import tabulate

from audioprobe.results import experiment_of, format_score, result_label, unreliable_roles
from audioprobe.tasktypes import presentation

#: Widest table line written (markdown characters): about what a GitHub page shows on a laptop
#: screen without scrolling sideways. A table that would be wider is turned or cut (module docstring).
MAX_WIDTH = 200
MISSING = "—"  # no result file for this model and task
UNDEFINED = "*undefined*"  # a result file whose headline score is null (italic: not a number)


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
