"""What every task type shares: the parameter schema (`Param`), the `TaskType` record and its
registry (`register_task_type`), the evaluation context, the statistics keys, the headline and the
per-sound labels (perceived or physical).

A task type turns pooled activations and a stimulus set into per-layer scores. It declares the
parameters its YAML files may set (with defaults and allowed values) and an `evaluate` that reads
the stimulus set's labels or judgments, calls metric functions on arrays (`audioprobe.metrics`) and
returns the `scores` block of a result. Metrics never see a model; task types never see one either,
only activation arrays.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Callable, NotRequired, TypedDict

import numpy as np

from audioprobe.errors import AudioprobeError, NotApplicableError
from audioprobe.metrics import probing, resampling
from audioprobe.registry import Registry
from audioprobe.stimuli import StimulusSet

if TYPE_CHECKING:
    from audioprobe.tasktypes.presentation import Presentation

REQUIRED = object()


@dataclasses.dataclass(frozen=True)
class Param:
    """One key of a task file: its type, default (REQUIRED if none), allowed values and meaning."""

    kind: type | tuple[type, ...]
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple | None = None
    check: Callable[[Any], str | None] | None = None  # returns a message when the value is bad
    #: False for an optional feature added later whose default means "off": at its default it is left out
    #: of the task's config hash, so adding it leaves existing run keys (and results) valid
    hashed_at_default: bool = True

    def validate(self, where: str, key: str, value: Any) -> Any:
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise AudioprobeError(f"{where}: key {key!r} must be a {names}, got {value!r}. {self.doc}".rstrip())
        if self.choices is not None:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if item not in self.choices:
                    raise AudioprobeError(
                        f"{where}: key {key!r} has value {item!r}; allowed: {', '.join(map(str, self.choices))}."
                    )
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise AudioprobeError(f"{where}: key {key!r}: {problem}")
        return value


#: layer -> `[n_sounds, dim]` for each pooling the task asked for
Activations = dict[str, dict[str, np.ndarray]]


@dataclasses.dataclass
class EvalContext:
    """What a task's evaluation may use besides the activations and the stimulus set."""

    task: str  # task name, for error messages
    seed: int
    #: (model name, pooling) -> layer -> `[n_sounds, dim]` of a control model on the same sounds
    #: (e.g. `logmel` for partial RSA), extracted through the same cache.
    control: Callable[[str, str], dict[str, np.ndarray]] | None = None
    #: Bootstrap replicates a task keeps for paired comparisons (`keep_replicates`), written beside
    #: the result file, and the resampling they come from.
    replicates: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    resampling: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: Keep a condensed RDM for the report's heatmaps; returns its reference (the SHA-256 of its
    #: stored file, see audioprobe.summaries), or None where nothing is stored (the runner passes
    #: the store; a context made without one keeps nothing).
    keep_rdm: Callable[[np.ndarray], str | None] = lambda condensed: None
    #: Where the statistics may compute: the runner's resolved `--device` ("cpu", "cuda", "cuda:1").
    #: On cuda the RSA statistics' products run through torch (`metrics/backend_torch.py`), equal to
    #: the CPU ones within float rounding: like the forward pass's device, not part of the run key.
    device: str = "cpu"

    @property
    def plan(self) -> resampling.ResamplePlan:
        """The seed's draws by name (`plan.bootstrap()`, `plan.splits()`, ...): the same for every model."""
        return resampling.ResamplePlan(self.seed)

    def keep_replicates(self, counts: np.ndarray, unit: str, listeners: np.ndarray | None = None,
                        pair_statistic: Sequence[str] = (), **arrays: np.ndarray) -> None:
        """Keep replicates `[n_resamples, ...]` drawn with the bootstrap `counts` `[n_resamples, n]`
        (and, for a two-factor bootstrap, the listener draws `listeners` `[n_resamples, n_listeners]`).
        counts may be real-valued weights (a weighted bootstrap, e.g. Dirichlet weights): those are
        hashed as float64; whole-number counts as int64, whatever their dtype.

        Comparisons pair two results row by row only when their resamples are the same draws:
        the plan's SHA-256 (of the draws) says so without the draws being stored.
        pair_statistic: the names of the arrays that are smooth statistics over pairs of sounds drawn by
        `resampling.sound_draws` (RSA: `pair_statistic_arrays`): comparisons of those draw the counts again and
        remove the pairs' noise from their variances.
        """
        counts = np.asarray(counts)
        whole = counts.dtype.kind in "iub" or bool(np.all(counts == np.round(counts)))
        counts = np.ascontiguousarray(counts, dtype=np.int64 if whole else np.float64)
        if not counts.size:
            return
        for name, values in arrays.items():
            values = np.asarray(values, dtype=np.float64)
            if values.shape[0] != counts.shape[0]:
                raise ValueError(f"replicates {name!r}: {values.shape[0]} rows for {counts.shape[0]} resamples")
            self.replicates[name] = values
        plan = hashlib.sha256(counts.tobytes())
        self.resampling = {"factors": ["sounds"], "unit": unit, "n_items": int(counts.shape[1]),
                           "n_resamples": int(counts.shape[0]), "seed": self.seed,
                           "sounds_plan_sha256": plan.hexdigest()}
        if pair_statistic:
            self.resampling["pair_statistic"] = sorted(set(pair_statistic))
        if listeners is not None:
            listeners = np.ascontiguousarray(listeners, dtype=np.int64)
            plan.update(listeners.tobytes())
            self.resampling.update(factors=["sounds", "listeners"], n_listeners=int(listeners.shape[1]))
        self.resampling["plan_sha256"] = plan.hexdigest()


# ---------------------------------------------------------------------------------------------
# The `scores` block every task type returns (typed; `audioprobe.results` validates and documents
# it). A task type extends these with its own fields by subclassing them.

Interval = tuple[float, float]


class LayerScore(TypedDict):
    layer: Annotated[str, "layer name, in the model's layer order"]
    score: Annotated[float | None, "the task's score for this layer (null where undefined: see note)"]
    ci: Annotated[Interval | None, "interval of the score at ci_level, by statistics.ci_method (null: off or "
                                   "undefined)"]
    p_value: Annotated[float | None, "p-value of the test named in statistics.p_value (null: off or undefined)"]
    note: NotRequired[Annotated[str, "why a value is null"]]


class Headline(TypedDict):
    value: Annotated[float | None, "the headline: with several layers, the cross-validated score (mean held-out score "
                                   "of the layer picked on one half of the sounds and scored on the other, over "
                                   "cv_splits random halves; the best layer's score when cv_splits is 0); with one "
                                   "layer with a score, that layer's score (selection says which)"]
    layer: Annotated[str | None, "the layer picked most often (the only layer, when there is one)"]
    ci: Annotated[Interval | None, "interval of value, by ci_method (null: no bootstrap, or undefined)"]
    selection: Annotated[str, "how the layer was chosen, in words"]
    layer_frequency: NotRequired[Annotated[float | None, "share of the splits that picked `layer`"]]
    se: NotRequired[Annotated[float | None, "standard error of value, from its bootstrap replicates"]]
    dof: NotRequired[Annotated[float | None, "degrees of freedom of the interval's t quantile (null: normal)"]]
    ci_method: NotRequired[Annotated[str, "how the interval is made, in words"]]
    n_effective_max: NotRequired[Annotated[float | None, "a proportion's interval (transfer): the Kish effective "
                                           "number of test sounds, its effective sample size where p is 0 or 1"]]


class Statistics(TypedDict):
    seed: Annotated[int, "seed of every resampling"]
    bootstrap: Annotated[int, "bootstrap resamples (0: off)"]
    bootstrap_unit: Annotated[str, "what the bootstrap resamples"]
    ci_level: Annotated[float, "coverage of the intervals"]
    ci_method: Annotated[str, "how intervals are computed"]
    p_value: Annotated[str, "the test behind per_layer p_value, in words"]
    cv_splits: Annotated[int, "random half splits for the headline (0: best layer, optimistic)"]


class Scores(TypedDict):
    metric: Annotated[str, "one sentence saying what `score` is"]
    per_layer: Annotated[list[LayerScore], "one entry per layer, in layer order"]
    headline: Annotated[Headline, "the headline score and how its layer was chosen"]
    statistics: Annotated[Statistics, "the uncertainty settings and methods"]
    caveat: NotRequired[Annotated[str, "present when the stimulus set is synthetic"]]
    lower_is_better: NotRequired[Annotated[bool, "true when smaller scores are better (an error rate)"]]


@dataclasses.dataclass(frozen=True)
class TaskType:
    name: str
    params: dict[str, Param]
    #: (activations by pooling, stimulus set, params, context) -> the result's `scores` block
    evaluate: Callable[[Activations, StimulusSet, dict[str, Any], EvalContext], dict]
    #: the TypedDict of that block (a subclass of `Scores`): results are validated against it and
    #: docs/results.md documents it
    scores_schema: type = Scores
    #: poolings of the model's activations the task reads
    poolings: Callable[[dict[str, Any]], list[str]] = lambda params: [params.get("pooling", "mean")]
    #: control models the task reads through `EvalContext.control` (part of the run identity)
    controls: Callable[[dict[str, Any]], list[str]] = lambda params: []
    check: Callable[[str, dict[str, Any]], None] | None = None
    #: how its results are shown (`presentation.Presentation`); None: generically, under its name
    presentation: Presentation | None = None

    def check_params(self, where: str, params: dict[str, Any]) -> None:
        if self.check is not None:
            self.check(where, params)


def dimensions_of(params: dict[str, Any]) -> list[str]:
    dims = params["dimensions"]
    return [dims] if isinstance(dims, str) else list(dims)


def require_dimensions(stimset: StimulusSet, dims: list[str], task: str) -> None:
    for d in dims:
        if d not in stimset.dimensions:
            raise NotApplicableError(
                f"task {task!r} needs judgments on dimension {d!r}, but stimulus set {stimset.name!r} "
                f"has {', '.join(stimset.dimensions) or 'none'}. Choose a task for this set or another set."
            )


def json_float(value) -> float | None:
    """A float for the result file, or None where undefined (the writer forbids NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def interval(pair) -> list | None:
    lo, hi = (json_float(v) for v in pair)
    return None if lo is None or hi is None else [lo, hi]


#: The largest number of resamples, permutations or splits a task file may ask for: far above any use (the
#: defaults are 100 to 1,000), and below what would exhaust memory before the first result.
MAX_DRAWS = 1_000_000


def non_negative(v):
    if v < 0:
        return "must be >= 0 (0 turns this statistic off)"
    return None if v <= MAX_DRAWS else f"must be at most {MAX_DRAWS:,} (the defaults are 100 to 1,000)"


def _level(v):
    return None if 0.5 <= v < 1 else "must be in [0.5, 1), e.g. 0.95"


#: statistics keys shared by every task type that resamples sounds
STAT_PARAMS = {
    "bootstrap": Param(int, 1000, "Bootstrap resamples of the sounds for intervals (0: off).", check=non_negative),
    "ci_level": Param(float, 0.95, "Coverage of the bootstrap intervals (statistics.ci_method says how they are "
                                   "made).", check=_level),
    "cv_splits": Param(int, 100, "Random half splits of the sounds for the cross-validated headline (0: best "
                                 "layer, optimistic).", check=non_negative),
}


def synthetic_caveat(stimset: StimulusSet) -> dict:
    """The caveat of a result on a synthetic set, naming what was simulated: listeners where the set has them,
    else the judgments it carries (a dissimilarity matrix)."""
    if not stimset.synthetic:
        return {}
    who = "simulated listeners" if stimset.responses is not None or stimset.listeners else "simulated judgments"
    return {"caveat": f"synthetic stimulus set with {who}: these numbers test the harness, "
                      "they are not findings about human perception"}


# Labels shared by transfer and abx: perceived (modal response) or physical

LABEL_SOURCES = ("perceived", "physical")


def sound_labels(stimset: StimulusSet, dimension: str, source: str, task: str) -> list[str | None]:
    """Per-sound category: the modal response (None where tied) or the physical label column."""
    if source == "perceived":
        require_dimensions(stimset, [dimension], task)
        return probing.modal_labels(stimset.judgments[dimension], stimset.dimensions[dimension])
    if dimension not in stimset.labels:
        raise NotApplicableError(
            f"task {task!r} needs the physical label column {dimension!r}, but stimulus set {stimset.name!r} has "
            f"{', '.join(stimset.labels) or 'no labels.csv'}.")
    return [v if v != "" else None for v in stimset.labels[dimension]]


def category_codes(values: list[str | None]) -> tuple[np.ndarray, list[str]]:
    names = sorted({v for v in values if v is not None})
    return np.array([names.index(v) if v is not None else -1 for v in values], dtype=np.int64), names


def _check_task_type(name: str, obj: Any) -> str:
    if not isinstance(obj, TaskType):
        return f"{obj!r} is not a TaskType (harness/tasktypes/common.py)"
    return "" if obj.name == name else f"the TaskType is named {obj.name!r}; its entry point must be named so too"


#: task type name -> TaskType; filled by `register_task_type` (the built-in types register on import
#: of `audioprobe.tasktypes`) and by plugins (entry-point group `audioprobe.task_types`: NAME =
#: "module:TASK_TYPE_OBJECT"; harness/registry.py).
TASK_TYPES: Registry[TaskType] = Registry("task type", "audioprobe.task_types", check=_check_task_type)


def register_task_type(ttype: TaskType) -> TaskType:
    """Make a task type available to task files (`type: NAME`); a name can be registered once."""
    TASK_TYPES.add(ttype.name, ttype)
    return ttype
