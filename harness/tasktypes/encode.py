"""`encode`: a behavioural encoding model, how well each layer predicts how the listeners split over categories.

For each sound, the listeners' response proportions over a dimension's categories are predicted from a
layer's pooled activations by ridge regression, cross-validated over sounds (`metrics.encoding`: folds drawn
from the seed, the penalty of each category chosen by leave-one-out inside the training folds only).
Score: per fold, Pearson r between the held-out predictions and the observed proportions of each category
over the fold's sounds, averaged over the folds and the categories (then over dimensions): centred on 0 when
the layer carries nothing (`encoding.fold_correlations`). Read against the noise ceiling of the proportions
(split halves of the listeners, Spearman-Brown: `proportions.proportion_ceiling`); a perfect model reaches
about its square root. Linear predictivity in the sense of Brain-Score (Schrimpf et al. 2018), with the
listeners' responses in place of neural ones; docs/metrics.md, "Encoding".

A bootstrap resample (RSA's draws of the sounds, so audioprobe-compare pairs these scores with RSA and CKA)
reweighs the sounds whose held-out predictions are scored and refits every fold on its counts, to first
order (`encoding.refit_predictions`: a fixed-fit bootstrap misses how the fits move with the sounds and
underestimates the variance of a cross-validated score); the half-splits of the headline reweigh the
scored sounds of the estimate's fits, or of the resample's.
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired, TypedDict

import numpy as np

from audioprobe.errors import AudioprobeError, NotApplicableError
from audioprobe.metrics import encoding
from audioprobe.pooling import POOLINGS
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes.common import (
    STAT_PARAMS,
    Activations,
    EvalContext,
    Param,
    Scores,
    Statistics,
    TaskType,
    json_float,
    non_negative,
    register_task_type,
    synthetic_caveat,
)
from audioprobe.tasktypes.presentation import (
    Experiment,
    Presentation,
    dimension_label,
    dimensions_param,
    perceived_target,
)
from audioprobe.tasktypes.proportions import Columns, ProportionCeiling, proportion_ceiling, response_target
from audioprobe.tasktypes.reliability import CEILING_SPLITS, CeilingFractions, over_ceiling
from audioprobe.tasktypes.weighted import statistics_block, weighted_statistics

ENCODE_PARAMS = {
    "dimensions": Param((str, list), "material", "Judged dimension(s) whose response proportions are predicted "
                                                 "(several: the score is the mean over dimensions)."),
    "folds": Param(int, 5, "Folds of the sounds for the held-out predictions (drawn from the seed).",
                   check=lambda v: None if 2 <= v <= 100 else "must be in [2, 100]"),
    "pooling": Param(str, "mean", "Pooling over frames.", choices=POOLINGS),
    "ceiling_splits": Param(int, CEILING_SPLITS, "Random split halves of the listeners for the noise ceiling "
                                                 "(0: off).", check=non_negative),
    **STAT_PARAMS,
}

REPLICATE_UNIT = ("sounds (bootstrap counts: each held-out prediction weighted by how often its sound was drawn, "
                  "every fold's fit redone on the counts to first order)")


def _check_encode(where: str, params: dict[str, Any]) -> None:
    dims = params["dimensions"]
    if not dims or (isinstance(dims, list) and not all(isinstance(d, str) and d for d in dims)):
        raise AudioprobeError(f"{where}: key 'dimensions' must be a dimension name or a non-empty list of names.")


def evaluate_encode(acts: Activations, stimset: StimulusSet, params: dict[str, Any], ctx: EvalContext) -> dict:
    props, columns = response_target(stimset, params, ctx.task)
    n = props[0].shape[0]
    if n < 2 * params["folds"]:
        raise NotApplicableError(
            f"task {ctx.task!r}: {params['folds']} folds need at least {2 * params['folds']} sounds (2 per fold); "
            f"stimulus set {stimset.name!r} has {n}. Lower 'folds' in the task file.")
    scored = [np.asarray(c["scored"]) for c in columns]
    if not any(s.any() for s in scored):
        raise NotApplicableError(f"task {ctx.task!r}: every category's proportions are constant over the sounds of "
                                 f"stimulus set {stimset.name!r}: nothing to predict.")
    y = np.hstack(props)
    bounds = np.cumsum([0] + [p.shape[1] for p in props])
    folds = encoding.fold_ids(ctx.plan.folds(), n, params["folds"])
    layers = acts[params["pooling"]]
    names = list(layers)
    fits = [encoding.fold_fits(np.asarray(x, dtype=np.float64).reshape(n, -1), y, folds) for x in layers.values()]
    alphas = [np.array([f.alphas for f in layer_fits]) for layer_fits in fits]

    def score(fit_weights: np.ndarray, row_weights: np.ndarray) -> np.ndarray:
        """Every layer's score `[L, F, R]`: each fit of fit_weights made (to first order) and scored under its
        rows of row_weights."""
        out = np.empty((len(names),) + row_weights.shape[:2])
        for k, layer_fits in enumerate(fits):
            r = encoding.refit_fold_correlations(layer_fits, y, fit_weights, row_weights)  # [F, R, q]
            per_dim = np.stack([encoding.category_score(r[..., a:b], s)
                                for a, b, s in zip(bounds[:-1], bounds[1:], scored)], axis=-1)
            finite = np.isfinite(per_dim)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[k] = np.where(finite.any(axis=-1),
                                  np.where(finite, per_dim, 0.0).sum(axis=-1) / finite.sum(axis=-1), np.nan)
        return out

    per_layer, head = weighted_statistics(
        names, score, n, params, ctx, REPLICATE_UNIT, null_value=0.0,
        undefined_note="no category's held-out correlation is defined (constant predictions or observations)",
        refit=True)
    for entry, chosen in zip(per_layer, alphas):
        entry["median_alpha"] = json_float(np.median(chosen))
    ceiling = proportion_ceiling(stimset, params, scored, ctx.plan.ceiling())
    return {
        "metric": f"behavioural encoding: Pearson r between ridge predictions from {params['pooling']}-pooled activations "
                  f"and the listeners' response proportions of each category, held out in {params['folds']} folds "
                  f"over sounds, averaged over folds and categories{' then dimensions' if len(props) > 1 else ''}; 0: "
                  f"no prediction",
        "per_layer": per_layer,
        "headline": head,
        "target_columns": columns,
        "n_sounds": int(n),
        "noise_ceiling": ceiling,
        "headline_over_ceiling": over_ceiling(head.get("value"), ceiling, partial=False),
        "statistics": {**statistics_block(params, ctx.seed, n, "bootstrap test of no prediction: (1 + #resamples with "
                                                               "r <= 0) / (1 + resamples), one-sided"),
                       "folds": params["folds"],
                       "model": "per fold: features standardised on the training sounds, ridge with an intercept, each "
                                f"category's penalty chosen among {len(encoding.ALPHAS)} values from "
                                f"{encoding.ALPHAS[0]:g} to {encoding.ALPHAS[-1]:g} by leave-one-out on the training "
                                "sounds (scikit-learn RidgeCV); a resample reweighs the held-out predictions and refits "
                                "every fold on its counts, to first order (the infinitesimal jackknife; penalties and "
                                "standardisation kept)"},
        **synthetic_caveat(stimset),
    }


class EncodeLayerScore(TypedDict):
    layer: Annotated[str, "layer name, in the model's layer order"]
    score: Annotated[float | None, "the encoding score of this layer (null where undefined: see note)"]
    ci: Annotated[list[float] | None, "percentile bootstrap interval of the score (null: off or undefined)"]
    p_value: Annotated[float | None, "bootstrap test of no prediction (statistics.p_value)"]
    median_alpha: Annotated[float | None, "the median ridge penalty chosen over folds and categories"]
    note: NotRequired[Annotated[str, "why a value is null"]]


class EncodeStatistics(Statistics):
    folds: Annotated[int, "folds of the sounds for the held-out predictions"]
    model: Annotated[str, "the encoding model, in words"]


class EncodeScores(Scores):
    per_layer: Annotated[list[EncodeLayerScore], "one entry per layer, in layer order"]
    statistics: Annotated[EncodeStatistics, "the uncertainty settings and methods"]
    target_columns: Annotated[list[Columns], "the dimensions and categories predicted"]
    n_sounds: Annotated[int, "sounds predicted"]
    noise_ceiling: Annotated[ProportionCeiling, "how well the proportions agree with themselves across listeners"]
    headline_over_ceiling: Annotated[CeilingFractions, "the headline as a fraction of what a perfect model reaches"]


def _ceiling_value(result: dict) -> float | None:
    return (result["scores"].get("noise_ceiling") or {}).get("value")


PRESENTATION = Presentation(
    experiments=(Experiment(
        "encode", "Encoding", "Behavioural encoding models: predicting the listeners' responses",
        description="How well ridge predictions from a layer, held out over sounds, correlate with the share of "
                    "listeners choosing each category (0: no prediction), beside the noise ceiling (the "
                    "proportions' split-half reliability over listeners; a perfect model reaches about its square root, "
                    "the cells' share of attainable).",
        intro="Can each layer predict how the listeners split over the categories, sound by sound? Read the height "
              "of each profile against the noise ceiling: a perfect model's expected correlation is about its square "
              "root.",
        reference="ceiling", figures=("profiles",), order=16),),
    dimension_params=("dimensions",),
    dimensions=dimensions_param,
    y_label=lambda result: "encoding r (held out)",
    panel_title=lambda result: f"{dimension_label(result)}\n({result['task']['name']})",
    reference=_ceiling_value,
    alignment_target=lambda result: perceived_target(dimensions_param(result)),
)

register_task_type(TaskType("encode", ENCODE_PARAMS, evaluate_encode, scores_schema=EncodeScores,
                            check=_check_encode, presentation=PRESENTATION))
