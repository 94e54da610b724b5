"""How a task type's results are shown: declared by the task type, asked by everything downstream.

The leaderboard, the figures, the report and audioprobe-compare never branch on a task type's name:
they ask its `Presentation` (on its `TaskType`) which experiment a result belongs to, what a table
compares its scores with, how a panel is titled, which figure kinds draw it. What belongs to a study
(the paper's section titles, figure names, panel order) is not here: it is declared in the study's
folder (`audioprobe.studies`).

A result whose task type is not installed (a plugin's result read elsewhere) is shown generically
(`generic`): its experiment is its type's name.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable


@dataclasses.dataclass(frozen=True)
class Experiment:
    """The results of one kind that are tabled, drawn and corrected for multiple comparisons together."""

    #: a lowercase slug: it ends the report's section anchors and names compare's correction families
    key: str
    #: the leaderboard's table heading
    name: str
    #: the report's section heading where no study names the section
    title: str
    #: the leaderboard's sentence under the heading; its placeholders are filled by `Presentation.words`
    description: str = ""
    #: the report's reading guide where no study gives one; placeholders as in `description`
    intro: str = ""
    #: what the leaderboard shows beside the scores: "ceiling", "chance" or None
    reference: str | None = None
    #: the figure kinds that draw it (`audioprobe.leaderboard.figure_kinds.FIGURE_KINDS`), in order: each
    #: draws the tasks it knows how to draw and leaves the rest to the next
    figures: tuple[str, ...] = ("profiles",)
    #: added to the caption of its figures (e.g. what a chance line is)
    caption: str = ""
    #: where it comes on a page: lower first, then by key
    order: int = 100


def _task_name(result: dict) -> str:
    return result["task"]["name"]


def _no_values(result: dict) -> dict:
    return {}


def _none(result: dict) -> None:
    return None


def _no_dimensions(result: dict) -> tuple[str, ...]:
    return ()


def _score(result: dict) -> str:
    return "score"


def _no_words(results: list[dict]) -> dict[str, str]:
    return {}


@dataclasses.dataclass(frozen=True)
class Presentation:
    """What a task type says about showing its results. Every callable reads one result dict (or a list)."""

    experiments: tuple[Experiment, ...]
    #: result -> the key of its experiment (one of `experiments`); None: always the first
    experiment_of: Callable[[dict], str] | None = None
    #: task parameters that name a judged dimension or a label column of the set (checked against the set)
    dimension_params: tuple[str, ...] = ()
    #: result -> the judged dimensions its score is about (panel order within a study)
    dimensions: Callable[[dict], tuple[str, ...]] = _no_dimensions
    #: result -> the y axis label of its profile panels
    y_label: Callable[[dict], str] = _score
    #: result -> the title of its panel
    panel_title: Callable[[dict], str] = _task_name
    #: result -> the level the leaderboard shows beside its scores (its `Experiment.reference`), or None
    reference: Callable[[dict], float | None] = _none
    #: the results of one set and experiment -> [(sub-table heading, task names)]; None: one table, no heading
    table_groups: Callable[[list[dict]], list[tuple[str, list[str]]]] | None = None
    #: result -> values the leaderboard adds to its cell by name (e.g. {"baseline": 0.61}; None: "no baseline")
    cell_values: Callable[[dict], dict[str, float | None]] = _no_values
    #: the results of one set and experiment -> a legend item of the leaderboard, or ""
    legend: Callable[[list[dict]], str] | None = None
    #: the results of one set and experiment -> the words its texts' placeholders take (e.g. partial RSA's
    #: {"control": ..., "controls": ...}); a placeholder a type does not fill is left empty
    words: Callable[[list[dict]], dict[str, str]] = _no_words
    #: result -> what its score measures alignment with, named alike by every type that measures it (e.g.
    #: "perceived material", `perceived_target`); results of different tasks with one such target are the
    #: measures audioprobe-compare ranks models under side by side ("Claims across measures"); None: not a
    #: measure of alignment with the listeners (transfer, ABX, partial RSA, physical labels)
    alignment_target: Callable[[dict], str | None] = _none

    def experiment_key(self, result: dict) -> str:
        return self.experiment_of(result) if self.experiment_of else self.experiments[0].key


def result_params(result: dict) -> dict:
    """The parameters a result's task ran with (its resolved config; {} for a result without one)."""
    return result["task"].get("config", {}).get("params", {})


def dimensions_param(result: dict) -> tuple[str, ...]:
    """The dimensions a result's `dimensions` parameter names (a name or a list), for the types that have one."""
    dims = result_params(result).get("dimensions", ())
    return (dims,) if isinstance(dims, str) else tuple(dims)


def perceived_target(dimensions: tuple[str, ...]) -> str:
    """The name of a target built from the listeners' judgments on these dimensions, one for every type."""
    return "perceived " + " + ".join(dimensions)


#: the alignment target of a set's own dissimilarity matrix (rdm.csv)
HUMAN_DISSIMILARITIES = "human dissimilarities (the set's matrix)"


def headline_entry(result: dict) -> dict:
    """The per-layer entry of a result's headline layer ({} when none)."""
    layer = result["scores"]["headline"].get("layer")
    return next((e for e in result["scores"]["per_layer"] if e["layer"] == layer), {})


def dimension_label(result: dict) -> str:
    """What a result's score is about: its dimension, "average of N dimensions", or its task's name."""
    dims = of(result).dimensions(result)
    if len(dims) > 1:
        return f"average of {len(dims)} dimensions"
    return dims[0] if dims else result["task"]["name"]


def slug(name: str) -> str:
    """A type's name as an experiment key (it becomes an anchor)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "other"


def generic(type_name: str) -> Presentation:
    """How the results of a task type that declares no presentation (or is not installed) are shown."""
    key = slug(type_name)
    return Presentation((Experiment(key, type_name, f"Tasks of type {type_name}",
                                    figures=("profiles",)),))


def presentation(type_name: str) -> Presentation:
    """The presentation of a task type by name: its own, or `generic` (no declaration, or not installed)."""
    from audioprobe.tasktypes.common import TASK_TYPES

    if type_name in TASK_TYPES and TASK_TYPES[type_name].presentation is not None:
        return TASK_TYPES[type_name].presentation
    return generic(type_name)


def of(result: dict) -> Presentation:
    """The presentation of a result's task type."""
    return presentation(result["task"].get("type", "other"))


def experiment_of(result: dict) -> str:
    """The key of the experiment a result belongs to: the leaderboard's tables, the report's sections and
    the families over which audioprobe-compare corrects for multiple comparisons."""
    return of(result).experiment_key(result)


def experiment(key: str, results: list[dict] = ()) -> Experiment:
    """The experiment of a key: declared by an installed task type, else generic (from its results' type)."""
    from audioprobe.tasktypes.common import TASK_TYPES

    for name in TASK_TYPES:
        for e in presentation(name).experiments:
            if e.key == key:
                return e
    type_name = results[0]["task"].get("type", key) if results else key
    return generic(type_name).experiments[0]


class Words(dict):
    """Placeholder values; a placeholder with no value reads as nothing (a study's text may name one that the
    results' task type does not fill)."""

    def __missing__(self, key: str) -> str:
        return ""


def fill(text: str, results: list[dict]) -> str:
    """An experiment's text (description, reading guide) with its placeholders filled from its results' words."""
    return text.format_map(Words(of(results[0]).words(results) if results else {}))


def experiment_order(keys) -> list[str]:
    """Experiment keys in page order (`Experiment.order`, then key)."""
    return sorted(set(keys), key=lambda k: (experiment(k).order, k))
