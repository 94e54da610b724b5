"""The listeners' response proportions as a target: each sound's share of answers per category, sounds x
categories, and how far the listeners agree on them (a split-half ceiling for scores that correlate with them).

Used by the task types that compare a layer with the responses themselves rather than with an RDM built
from them: `encode` (an encoding model predicts each sound's proportions) and `cka` (the layer's Gram
matrix against the proportions'). Several dimensions: their columns side by side.
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired, TypedDict

import numpy as np

from audioprobe.metrics import ceiling, resampling, targets
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes.common import dimensions_of, json_float, require_dimensions
from audioprobe.tasktypes.reliability import RELIABILITY_FLOOR


class Columns(TypedDict):
    dimension: Annotated[str, "the judged dimension"]
    categories: Annotated[list[str], "its categories, in the order of the target's columns"]
    scored: Annotated[list[bool], "per category: whether its proportions vary over the sounds (a category nobody "
                                  "or everybody chose is constant: left out of correlations)"]


def proportions_of(counts: dict[str, np.ndarray], dims: list[str]) -> list[np.ndarray]:
    """Per dimension, `[n_sounds, n_categories]` shares of the answers (NaN for a sound nobody answered)."""
    out = []
    for d in dims:
        c = np.asarray(counts[d], dtype=np.float64)
        total = c.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(total > 0, c / np.where(total > 0, total, 1.0), np.nan))
    return out


def scored_columns(props: np.ndarray) -> np.ndarray:
    """`[q]` bool: columns not constant over the sounds (within rounding)."""
    p = np.asarray(props, dtype=np.float64)
    return np.nanmax(p, axis=0) - np.nanmin(p, axis=0) > 1e-12


def response_target(stimset: StimulusSet, params: dict[str, Any], task: str) -> tuple[list[np.ndarray], list[dict]]:
    """The task's dimensions' proportions (`proportions_of` on the set's judgments) and their `Columns`."""
    dims = dimensions_of(params)
    require_dimensions(stimset, dims, task)
    props = proportions_of(stimset.judgments, dims)
    columns = [{"dimension": d, "categories": list(stimset.dimensions[d]), "scored": scored_columns(p).tolist()}
               for d, p in zip(dims, props)]
    return props, columns


def mean_column_correlation(a: list[np.ndarray], b: list[np.ndarray], scored: list[np.ndarray]) -> float:
    """The mean over dimensions of the mean over scored categories of Pearson r over sounds between two sets
    of proportions (sounds with a NaN on either side left out of that category's r): the encoding score's
    form, for the listeners' halves."""
    per_dim = []
    for x, y, keep in zip(a, b, scored):
        rs = []
        for c in np.flatnonzero(keep):
            ok = np.isfinite(x[:, c]) & np.isfinite(y[:, c])
            u, v = x[ok, c], y[ok, c]
            if u.size >= 3 and np.ptp(u) > 0 and np.ptp(v) > 0:
                rs.append(np.corrcoef(u, v)[0, 1])
        if rs:
            per_dim.append(np.mean(rs))
    return float(np.mean(per_dim)) if per_dim else float("nan")


def proportion_ceiling(stimset: StimulusSet, params: dict[str, Any], scored: list[np.ndarray],
                       rng: np.random.Generator) -> dict:
    """Split-half reliability of the proportions over random halves of the listeners, Spearman-Brown corrected
    (the `NoiseCeiling` block, as RSA targets have; `reliability.RELIABILITY_FLOOR` flags an unreliable one):
    per split, `mean_column_correlation` between the two halves' proportions. A perfect model's expected
    correlation with the observed proportions is about sqrt(reliability) (classical test theory), which the
    headline's ratio uses. Leave-one-listener-out bounds: one listener's answers (0/1 per category) against
    the proportions of all listeners (upper) and of the others (lower), averaged over listeners."""
    dims, n_splits = dimensions_of(params), params["ceiling_splits"]
    if stimset.responses is None or any(d not in stimset.responses for d in dims):
        return {"value": None, "reason": "the stimulus set has no per-listener responses (responses.csv)"}
    resp = {d: stimset.responses[d] for d in dims}
    n_cat = {d: len(stimset.dimensions[d]) for d in dims}
    n_listeners = resp[dims[0]].shape[0]
    out: dict[str, Any] = {"n_listeners": n_listeners}
    if n_splits == 0:
        return {"value": None, "reason": "ceiling_splits is 0", **out}
    if n_listeners < 4:
        return {"value": None, "reason": f"{n_listeners} listeners: a split half needs at least 4", **out}
    counts_of = targets.drawn_counts(resp, n_cat)

    def props(weights):
        return proportions_of(counts_of(weights), dims)

    halves = resampling.random_halves(rng, n_listeners, n_splits).astype(np.int64)
    split_r = np.array([mean_column_correlation(props(h), props(1 - h), scored) for h in halves])
    defined = split_r[np.isfinite(split_r)]
    if not defined.size:
        return {"value": None, "reason": "no split of the listeners gave a defined correlation", **out}
    mean_r = float(np.mean(defined))
    lo, hi = ceiling.spearman_brown(np.percentile(defined, [2.5, 97.5]))
    out.update(value=json_float(ceiling.spearman_brown(mean_r)), split_half_r=json_float(mean_r),
               split_half_r_sd=json_float(np.std(defined)), n_splits=n_splits,
               method="mean split-half correlation of the response proportions (per category over sounds, averaged "
                      "over categories, then dimensions) over random halves of the listeners, Spearman-Brown "
                      "corrected to the full panel",
               interval=[json_float(lo), json_float(hi)], reliable=bool(lo >= RELIABILITY_FLOOR),
               reliability_floor=RELIABILITY_FLOOR)
    everyone = props(np.ones(n_listeners, dtype=np.int64))
    lower, upper = [], []
    for listener in range(n_listeners):
        alone = np.zeros(n_listeners, dtype=np.int64)
        alone[listener] = 1
        own = props(alone)
        lower.append(mean_column_correlation(own, props(1 - alone), scored))
        upper.append(mean_column_correlation(own, everyone, scored))
    lower_a, upper_a = np.array(lower), np.array(upper)
    ok = np.isfinite(lower_a) & np.isfinite(upper_a)
    out.update(lower_bound=json_float(lower_a[ok].mean()) if ok.any() else None,
               upper_bound=json_float(upper_a[ok].mean()) if ok.any() else None,
               bounds_method="leave one listener out (Nili et al. 2014): a listener's own answers (0/1 per category) "
                             "correlated with the proportions of all listeners (upper bound) and of the other "
                             f"listeners (lower bound), averaged over the {int(ok.sum())} listeners for whom both "
                             f"are defined")
    return out


class ProportionCeiling(TypedDict):
    value: Annotated[float | None, "split-half reliability of the proportions over listeners, Spearman-Brown "
                                   "corrected (null: none, see reason)"]
    reason: NotRequired[Annotated[str, "why there is none"]]
    n_listeners: NotRequired[Annotated[int, "listeners"]]
    split_half_r: NotRequired[Annotated[float | None, "mean split-half correlation before correction"]]
    split_half_r_sd: NotRequired[Annotated[float | None, "its standard deviation over splits"]]
    n_splits: NotRequired[Annotated[int, "random splits of the listeners"]]
    method: NotRequired[Annotated[str, "the split-half method, in words"]]
    interval: NotRequired[Annotated[list[float | None], "2.5th and 97.5th percentiles of the corrected split-half "
                                                        "correlations over the splits"]]
    reliable: NotRequired[Annotated[bool, "the interval's lower end reaches reliability_floor"]]
    reliability_floor: NotRequired[Annotated[float, "RELIABILITY_FLOOR (docs/metrics.md)"]]
    lower_bound: NotRequired[Annotated[float | None, "leave-one-listener-out lower bound"]]
    upper_bound: NotRequired[Annotated[float | None, "leave-one-listener-out upper bound"]]
    bounds_method: NotRequired[Annotated[str, "the bounds' method, in words"]]

