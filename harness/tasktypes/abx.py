"""`abx`: ABX discriminability of a dimension's categories (Schatz et al. 2013).

Every statistic of a task scores one estimand: the cells (by-value, category of A and X, category
of B) are fixed on the full set (`metrics.discrimination.abx_structure`: a stratum needs 8 sounds to serve as
A/X and 4 as B) and used unchanged for the estimate, every bootstrap resample and every half-split.

- Resampling: a weighted (Bayesian) bootstrap of the n sounds in a scored cell, each resample's
  weights n x Dirichlet((n-1)/n) (`metrics.discrimination.bayesian_bootstrap_weights`; Rubin 1981): every sound
  keeps a positive weight, so no cell is ever undefined, and the weights have the multinomial counts'
  mean, variance and covariance. Drawn from the seed's bootstrap stream: every model on the same set,
  task and seed gets the same weights (paired comparisons).
- Half-splits: drawn within each (by-value, category) stratum (`metrics.discrimination.stratified_halves`) from
  the seed's CV stream; the estimate's cross-validated headline uses cv_splits of them, its replicates
  the first K = `resampling.HEADLINE_SPLITS` in every resample (weights w h and w (1 - h)).
- Headline: `headline.headline`, lowest error.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

import numpy as np

from audioprobe.errors import AudioprobeError, NotApplicableError
from audioprobe.metrics import discrimination, geometry, intervals, layer_selection, pearson, resampling
from audioprobe.pooling import POOLINGS
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes.common import (
    LABEL_SOURCES,
    STAT_PARAMS,
    Activations,
    EvalContext,
    Param,
    Scores,
    Statistics,
    TaskType,
    category_codes,
    interval,
    json_float,
    register_task_type,
    sound_labels,
    synthetic_caveat,
)
from audioprobe.tasktypes.headline import headline
from audioprobe.tasktypes.presentation import Experiment, Presentation, result_params
from audioprobe.tasktypes.reliability import NoiseCeiling, label_reliability

ABX_PARAMS = {
    "dimension": Param(str, "material", "Dimension whose categories are discriminated."),
    "by": Param(str, "", "Dimension whose value A, B and X share (empty: none)."),
    "label_source": Param(str, "perceived", "perceived: modal listener response (tied sounds left out); "
                                            "physical: label column.", choices=LABEL_SOURCES),
    "model_distance": Param(str, "cosine", "Distance between pooled activations.", choices=geometry.MODEL_DISTANCES),
    "pooling": Param(str, "mean", "Pooling over frames.", choices=POOLINGS),
    **STAT_PARAMS,
}

#: What the kept replicates resample (`EvalContext.keep_replicates`).
REPLICATE_UNIT = "sounds (Bayesian bootstrap weights, Dirichlet(alpha=(n-1)/n) x n)"


def _check_abx(where: str, params: dict[str, Any]) -> None:
    if params["by"] and params["by"] == params["dimension"]:
        raise AudioprobeError(f"{where}: key 'by' must name another dimension than {params['dimension']!r}.")


def evaluate_abx(acts: Activations, stimset: StimulusSet, params: dict[str, Any], ctx: EvalContext) -> dict:
    labels, cats = category_codes(sound_labels(stimset, params["dimension"], params["label_source"], ctx.task))
    by, by_values = (None, [])
    if params["by"]:
        by, by_values = category_codes(sound_labels(stimset, params["by"], params["label_source"], ctx.task))
        labels = np.where(by >= 0, labels, -1)
    full = discrimination.abx_structure(labels, by)
    within = f" within one value of {params['by']!r}" if by is not None else ""
    if not full.cells:
        raise NotApplicableError(
            f"task {ctx.task!r}: no ABX cell on stimulus set {stimset.name!r}: it needs two categories of "
            f"{params['dimension']!r}{within} with at least {discrimination.MIN_A_SOUNDS} sounds of one (A and X: "
            f"{discrimination.MIN_A_SOUNDS // 2} in each half of a split) and {discrimination.MIN_B_SOUNDS} of the other (B: "
            f"{discrimination.MIN_B_SOUNDS // 2} in each half).")
    structure = full.on_used()  # the same cells over the sounds they use, renumbered 0..n-1
    n, B = full.used.size, params["bootstrap"]
    names = list(acts[params["pooling"]])
    errors = _layer_errors(acts[params["pooling"]], full.used, structure, params, ctx)
    per_layer = _per_layer(names, errors, params)
    cv = {}
    if len(names) > 1 and params["cv_splits"]:
        # lower error is better: select on the negated error, report the error
        held, cv["cv_choice"] = layer_selection.cross_validated_selection(-errors["cv_a"], -errors["cv_b"])
        cv["cv_scores"] = -held
    split_reps = (layer_selection.split_held_out(errors["rep_a"], errors["rep_b"], lower_is_better=True)
                  if B and errors["K"] else None)  # [B, K]
    head, head_reps = headline(per_layer, names, params, **cv, layer_replicates=errors["boot"] if B else None,
                               split_replicates=split_reps, n_sounds=n, lower_is_better=True)
    if B:
        ctx.keep_replicates(errors["weights"], REPLICATE_UNIT, per_layer=errors["boot"], **head_reps)
    excluded = [{"by": by_values[c["group"]] if by is not None else None, "a": cats[c["a"]], "b": cats[c["b"]],
                 "n_a": c["n_a"], "n_b": c["n_b"], "reason": c["reason"]} for c in full.excluded]
    return {
        "metric": f"ABX error between {params['label_source']} {params['dimension']} categories"
                  f"{' within each ' + params['by'] + ' value' if by is not None else ''} ({params['model_distance']} "
                  f"distance of {params['pooling']}-pooled activations; ties count half; chance 0.5, lower is better)",
        "lower_is_better": True,
        "chance": 0.5,
        "per_layer": per_layer,
        "headline": head,
        "categories": cats,
        "by_values": by_values,
        "n_sounds_used": int(n),
        "n_triplets": structure.n_triplets,
        "n_cells": len(structure.cells),
        "cells_excluded": excluded,
        "label_reliability": label_reliability(stimset, {
            "labels": (params["dimension"], params["label_source"]),
            **({"strata": (params["by"], params["label_source"])} if params["by"] else {})}, ctx.seed),
        "statistics": _statistics_block(params, ctx.seed, n, by is not None),
        **synthetic_caveat(stimset),
    }


def _layer_errors(layers: dict[str, np.ndarray], used: np.ndarray, structure, params: dict[str, Any],
                  ctx: EvalContext) -> dict:
    """Every layer's ABX error at once (one matrix product per cell for all layers): the whole cells under
    weights 1 (the estimate: `point` `[L]`), each resample's weights (`boot` `[B, L]`) and the estimate's
    halves (0/1 weights, exact counts: `cv_a`, `cv_b` `[S, L]`); then the first K splits' halves inside every
    resample, each half scored on its own sounds only (`rep_a`, `rep_b` `[B, K, L]`)."""
    from scipy.spatial.distance import squareform

    n, B, S = used.size, params["bootstrap"], params["cv_splits"]
    choose = len(layers) > 1  # a layer to choose: the cross-validated headline and its split replicates
    weights = discrimination.bayesian_bootstrap_weights(ctx.plan.bootstrap(), n, B)  # [B, n]
    splits = discrimination.stratified_halves(ctx.plan.splits(), structure.strata, S) if choose else np.zeros((0, n), dtype=bool)
    K = min(resampling.HEADLINE_SPLITS, splits.shape[0]) if B else 0
    with pearson.small_problem_threads(n):
        dist = np.stack([squareform(geometry.model_rdm(x, params["model_distance"]), checks=False)[np.ix_(used, used)]
                         for x in layers.values()])  # [L, n, n]
    main_w = np.vstack([np.ones((1, n)), weights, resampling.with_complements(splits).astype(np.float64)])
    main = discrimination.structure_errors(dist, structure, main_w)[:, 0]  # [L, 1 + B + 2S]
    out = {"weights": weights, "K": K, "point": main[:, 0], "boot": main[:, 1:1 + B].T,
           "cv_a": main[:, 1 + B::2].T, "cv_b": main[:, 2 + B::2].T,
           "rep_a": np.full((B, K, len(layers)), np.nan), "rep_b": np.full((B, K, len(layers)), np.nan)}
    if K:
        halves = discrimination.structure_errors(dist, structure, weights, resampling.with_complements(splits[:K]), whole=False)  # [L, 2K, B]
        out["rep_a"], out["rep_b"] = halves[:, 0::2].transpose(2, 1, 0), halves[:, 1::2].transpose(2, 1, 0)
    return out


def _per_layer(names: list[str], errors: dict, params: dict[str, Any]) -> list[dict]:
    point, boot = errors["point"], errors["boot"]
    per_layer = []
    for k, name in enumerate(names):
        entry = {"layer": name, "score": json_float(point[k]), "ci": None, "p_value": None}
        if params["bootstrap"]:
            entry["ci"] = interval(intervals.percentile_interval(boot[:, k:k + 1], params["ci_level"])[0])
            ok = boot[np.isfinite(boot[:, k]), k]
            entry["p_value"] = json_float((1 + np.sum(ok >= 0.5)) / (1 + ok.size)) if ok.size else None
        if entry["score"] is None:
            entry["note"] = ("a distance between sounds of a scored cell is undefined (e.g. an all-zero activation "
                             "under cosine distance)")
        per_layer.append(entry)
    return per_layer


def _statistics_block(params: dict[str, Any], seed: int, n: int, stratified_by: bool) -> dict:
    """The result's `statistics`: the weighted bootstrap, the test against chance, how the halves are drawn."""
    return {
        "seed": seed, "bootstrap": params["bootstrap"],
        "bootstrap_unit": f"sounds, weighted (Bayesian) bootstrap (Rubin 1981): each resample weighs the {n} "
                          f"sounds of the scored cells by n x Dirichlet(alpha = (n-1)/n) (mean 1, variance "
                          f"(n-1)/n, covariance -1/n: the multinomial counts' moments), triplet (X, A, B) by "
                          f"w_X w_A w_B, X never its own A; the cells are fixed on the full set",
        "ci_level": params["ci_level"],
        "ci_method": "per layer: percentile interval of the weighted-bootstrap replicates; headline: its "
                     "ci_method",
        "p_value": "bootstrap test against chance: (1 + #resamples with error >= 0.5) / (1 + resamples), "
                   "one-sided",
        "cv_splits": params["cv_splits"],
        "halves": f"drawn within each ({params['by'] + ' value, ' if stratified_by else ''}category) stratum, "
                  f"floor/ceil, the odd sound's half at random; the headline's replicates score the first "
                  f"K = min({resampling.HEADLINE_SPLITS}, cv_splits) of the cv_splits halves in every resample "
                  f"(weights w h and w (1 - h)); a half is scored on the cells restricted to its sounds",
    }


class ExcludedCell(TypedDict):
    by: Annotated[str | None, "the value of the `by` dimension (null: no `by`)"]
    a: Annotated[str, "the category of A and X"]
    b: Annotated[str, "the category of B"]
    n_a: Annotated[int, "sounds of category a with this by-value"]
    n_b: Annotated[int, "sounds of category b with this by-value"]
    reason: Annotated[str, "why the cell is left out (too few sounds for A/X or for B)"]


class ABXStatistics(Statistics):
    halves: Annotated[str, "how the half-splits of the cross-validated headline and its replicates are drawn"]


class ABXScores(Scores):
    statistics: Annotated[ABXStatistics, "the uncertainty settings and methods"]
    lower_is_better: Annotated[bool, "true: the score is an error rate"]
    chance: Annotated[float, "the error of a model that cannot tell the categories apart (0.5)"]
    categories: Annotated[list[str], "categories of the discriminated dimension"]
    by_values: Annotated[list[str], "values of the `by` dimension that A, B and X share (empty: none)"]
    n_sounds_used: Annotated[int, "sounds in at least one scored cell (the sounds the bootstrap weighs)"]
    n_triplets: Annotated[int, "(A, B, X) triplets scored, over the scored cells"]
    n_cells: Annotated[int, "ordered pairs of categories (a for A and X, b for B) scored, per by-value; fixed on "
                            "the full set for every resample and half"]
    cells_excluded: Annotated[list[ExcludedCell], "ordered pairs of categories present together but left out "
                                                  "(fewer than 8 sounds for A and X or 4 for B), for every "
                                                  "statistic"]
    label_reliability: Annotated[dict[str, NoiseCeiling], "for each perceived label the task uses (labels, and the "
                                                         "strata of `by`): how well the listeners agree on it "
                                                         "(reliability.label_reliability)"]


def _panel_title(result: dict) -> str:
    p = result_params(result)
    within = f", within {p['by']}" if p.get("by") else ""
    return f"{p.get('dimension', '')}{within}\n({result['task']['name']})"


#: how ABX results are shown (`presentation.Presentation`): read from result files downstream
PRESENTATION = Presentation(
    experiments=(Experiment(
        "abx", "ABX", "ABX discrimination",
        description="How often X is judged closer to the sound of the other category than to its own (an error "
                    "rate: lower is better).",
        intro="How well does each layer discriminate the perceived categories (A, B, X triplets)? An error rate: "
              "lower is better, chance is 0.5.",
        reference="chance", figures=("profiles",), caption="Black long dashes: chance (0.5); lower is better. ",
        order=30),),
    dimension_params=("dimension", "by"),
    y_label=lambda result: "ABX error (lower is better)",
    panel_title=_panel_title,
    reference=lambda result: result["scores"].get("chance"),
)


register_task_type(TaskType("abx", ABX_PARAMS, evaluate_abx, scores_schema=ABXScores, check=_check_abx,
                            presentation=PRESENTATION))
