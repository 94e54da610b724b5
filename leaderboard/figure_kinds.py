"""Figure kinds: the report's figures of an experiment, by name, as a registry a plugin can add to.

A task type's `Experiment.figures` names the kinds that draw its results, in order; each kind draws
the tasks it knows how to draw (RSA's perceived targets, the pairs of 0/1 targets, ...) and leaves
the rest to the next, and `profiles` draws whatever is left. A study names each figure and titles it
(`study.yaml`, `figures:`); without a study a kind falls back to its own name and title.

A kind is a function `(FigureRequest) -> (figures, tasks drawn)`. Plugins add kinds through the
entry-point group `audioprobe.figure_kinds` (NAME = "module:function").
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from audioprobe.registry import Registry
from audioprobe.studies import Study
from audioprobe.tasktypes import presentation


@dataclasses.dataclass(frozen=True)
class FigureRequest:
    """What a figure kind draws from: one experiment's results on one stimulus set, still undrawn."""

    stem: str  # the set's figure-file prefix: "<set>-<fp8>"
    experiment: str
    by_task: dict[str, list[dict]]  # task -> its results (one per model)
    styles: Any  # the set's model styles (figures.styles_for)
    synthetic: bool
    contrast_rows: list[dict]  # audioprobe-compare's contrast rows on this set (per-layer marks)
    study: Study | None  # the study all these tasks belong to, if one
    #: the experiment's text placeholders as its task type fills them (`Presentation.words`; partial RSA's
    #: `control`), for figure names, titles and captions
    words: dict[str, str] = dataclasses.field(default_factory=dict)
    caption: str = ""  # what the experiment adds to its figures' captions (`Experiment.caption`)
    kinds: tuple[str, ...] = ()  # the experiment's figure kinds (`Experiment.figures`)

    def name_and_title(self, kind: str, name: str, title: str) -> tuple[str, str]:
        """The figure's file name (after the stem) and title: the study's where it names this kind, else
        the defaults given. Placeholders in either (`{control}`: partial RSA's control model) take `words`; one
        that nothing fills reads as nothing."""
        spec = self.study.figure(self.experiment, kind) if self.study else None
        name, title = (spec.name, spec.title) if spec else (name, title)
        words = presentation.Words(self.words)
        return f"{self.stem}__{name.format_map(words)}", title.format_map(words)


FigureKind = Callable[[FigureRequest], "tuple[list[Any], set[str]]"]


def _check_kind(name: str, obj: Any) -> str:
    return "" if callable(obj) else f"{obj!r} is not a function (FigureRequest) -> (figures, tasks drawn)"


#: figure kind -> function; the built-in kinds, then plugins (entry-point group `audioprobe.figure_kinds`)
FIGURE_KINDS: Registry[FigureKind] = Registry("figure kind", "audioprobe.figure_kinds", check=_check_kind)
for _name, _doc in {
    "rsa-perceived": "RSA profiles against perceived (KL) targets: the paper's figure 1A (A2 for partial RSA)",
    "rsa-perceived-vs-physical": "RSA against modal responses and physical labels, paired per dimension "
                                 "(figure 1B), with the per-layer contrast marks",
    "rsa-matrix": "RSA profiles against the set's own dissimilarity matrix",
    "transfer": "transfer profiles with their no-transfer baselines and chance (figure 2)",
    "profiles": "per-task profiles of whatever is left, six panels a figure",
}.items():
    FIGURE_KINDS.add(_name, f"audioprobe.leaderboard.report_figures:{_name.replace('-', '_')}_figures", _doc)


def draw(request: FigureRequest, kinds: tuple[str, ...]) -> list:
    """Every figure of an experiment: each kind in turn on the tasks the earlier ones left."""
    out, left = [], dict(request.by_task)
    for kind in kinds:
        if not left:
            break
        figures, drawn = FIGURE_KINDS[kind](dataclasses.replace(request, by_task=left, kinds=kinds))
        out += figures
        left = {t: rs for t, rs in left.items() if t not in drawn}
    return out
