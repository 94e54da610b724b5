"""`cka`: centred kernel alignment of each layer with the listeners' responses (or a set's RDM).

RSA compares a layer's distances with a target's; CKA (Kornblith et al. 2019) compares Gram matrices: the
layer's linear kernel X X^T of its pooled activations against the target's, here the sounds x categories
matrix of the listeners' response proportions (P P^T; several dimensions: their columns side by side) or,
with `target: rdm`, the double-centred form of the set's dissimilarity matrix (`cka.gram_from_rdm`).
`estimator: debiased` (the default) uses the unbiased HSIC of Song et al. (2012), centred on 0 for unrelated
representations; `biased` is Kornblith et al.'s estimator, inflated with few sounds and many features
(docs/metrics.md, "CKA"). Every statistic is the score under weights of the sounds (`weighted`): the
bootstrap resamples are RSA's, so audioprobe-compare pairs CKA with RSA results on the same sounds.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np

from audioprobe.errors import AudioprobeError, NotApplicableError
from audioprobe.metrics import cka, geometry, resampling
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
    dimensions_of,
    json_float,
    non_negative,
    register_task_type,
    synthetic_caveat,
)
from audioprobe.tasktypes.presentation import (
    HUMAN_DISSIMILARITIES,
    Experiment,
    Presentation,
    dimension_label,
    dimensions_param,
    perceived_target,
    result_params,
)
from audioprobe.tasktypes.proportions import Columns, response_target
from audioprobe.tasktypes.reliability import NoiseCeiling, label_reliability
from audioprobe.tasktypes.weighted import statistics_block, weighted_statistics

CKA_TARGETS = ("proportions", "rdm")
ESTIMATORS = ("debiased", "biased")

CKA_PARAMS = {
    "dimensions": Param((str, list), [], "Judged dimension(s) whose response proportions are the target (several: "
                                         "their columns side by side). Empty for target 'rdm'."),
    "target": Param(str, "proportions", "proportions: the sounds x categories shares of the listeners' answers; rdm: "
                                        "the set's rdm.csv, double-centred (complete matrices only).",
                    choices=CKA_TARGETS),
    "estimator": Param(str, "debiased", "debiased: Song et al.'s unbiased HSIC (centred on 0 for unrelated "
                                        "representations); biased: Kornblith et al.'s (inflated with many features).",
                       choices=ESTIMATORS),
    "pooling": Param(str, "mean", "Pooling over frames.", choices=POOLINGS),
    "permutations": Param(int, 1000, "Permutations of the sounds for each layer's test of no alignment (0: off).",
                          check=non_negative),
    **STAT_PARAMS,
}

REPLICATE_UNIT = "sounds (bootstrap counts: each sound weighted by how often it was drawn)"


def _check_cka(where: str, params: dict[str, Any]) -> None:
    dims = params["dimensions"]
    if isinstance(dims, list) and not all(isinstance(d, str) and d for d in dims):
        raise AudioprobeError(f"{where}: key 'dimensions' must be a dimension name or a list of names.")
    if params["target"] == "rdm" and dims:
        raise AudioprobeError(f"{where}: target 'rdm' uses the set's rdm.csv; remove key 'dimensions'.")
    if params["target"] == "proportions" and not dims:
        raise AudioprobeError(f"{where}: key 'dimensions' is required for target 'proportions'.")


def _target_gram(stimset: StimulusSet, params: dict[str, Any], task: str
                 ) -> tuple[np.ndarray, np.ndarray | None, list[dict]]:
    """The target's Gram matrix, its factor (the proportions, whose product it is; None for an rdm target) and
    its columns."""
    if params["target"] == "rdm":
        if stimset.rdm is None:
            raise NotApplicableError(f"task {task!r} needs a dissimilarity matrix (rdm.csv), but stimulus set "
                                     f"{stimset.name!r} has none.")
        from scipy.spatial.distance import squareform

        condensed = geometry.square_rdm(stimset.rdm)
        if not np.all(np.isfinite(condensed)):
            raise NotApplicableError(f"task {task!r}: the dissimilarity matrix of stimulus set {stimset.name!r} has "
                                     f"pairs not rated; CKA needs a complete matrix (use an rsa task, which leaves "
                                     f"missing pairs out).")
        return cka.gram_from_rdm(squareform(condensed, checks=False)), None, []
    props, columns = response_target(stimset, params, task)
    p = np.hstack(props)
    return p @ p.T, p, columns


def _layer_gram(x: np.ndarray) -> np.ndarray:
    """X_c X_c^T of the activations centred over the sounds (CKA ignores a shift; centring first keeps the
    U-statistic's sums from cancelling large numbers)."""
    x = np.asarray(x, dtype=np.float64)
    x = x.reshape(x.shape[0], -1) - x.reshape(x.shape[0], -1).mean(axis=0)
    return x @ x.T


def evaluate_cka(acts: Activations, stimset: StimulusSet, params: dict[str, Any], ctx: EvalContext) -> dict:
    target, factor, columns = _target_gram(stimset, params, ctx.task)
    layers = acts[params["pooling"]]
    names = list(layers)
    grams = [_layer_gram(x) for x in layers.values()]
    n = target.shape[0]
    debiased = params["estimator"] == "debiased"
    if n < 4:
        raise NotApplicableError(f"task {ctx.task!r}: CKA needs at least 4 sounds; stimulus set {stimset.name!r} "
                                 f"has {n}.")

    def score(weights: np.ndarray) -> np.ndarray:
        return cka.weighted_cka(grams, target, weights, debiased)

    per_layer, head = weighted_statistics(
        names, score, n, params, ctx, REPLICATE_UNIT,
        undefined_note="a side is constant on these sounds (e.g. an all-zero layer)")
    if params["permutations"]:
        perms = resampling.random_permutations(ctx.plan.permutations(), n, params["permutations"])
        null = cka.permuted_cka(grams, target, perms, debiased, factor=factor)  # [L, m]
        for entry, values in zip(per_layer, null):
            if entry["score"] is not None:
                entry["p_value"] = json_float((1 + np.sum(values >= entry["score"] - 1e-12)) / (1 + values.size))
    what = ("the listeners' response proportions" if params["target"] == "proportions"
            else "the set's dissimilarity matrix, double-centred")
    dims = dimensions_of(params) if params["target"] == "proportions" else []
    roles = {("target" if len(dims) == 1 else f"target {d}"): (d, "perceived") for d in dims}
    return {
        "metric": f"{params['estimator']} linear CKA between each layer's {params['pooling']}-pooled activations and "
                  f"{what}{' (' + ', '.join(dims) + ')' if dims else ''}; 1: the same geometry up to rotation and "
                  f"scale{', 0: unrelated' if debiased else ''}",
        "per_layer": per_layer,
        "headline": head,
        "estimator": params["estimator"],
        "target_columns": columns,
        "n_sounds": int(n),
        "label_reliability": label_reliability(stimset, roles, ctx.seed),
        "statistics": {**statistics_block(
            params, ctx.seed, n,
            "permutation test of no alignment (the target's sounds permuted, the seed's permutation stream as the "
            "Mantel test's): (1 + #permutations with CKA >= observed) / (1 + permutations), one-sided; exact under "
            "independence, for either estimator" if params["permutations"] else "off (permutations: 0)"),
            "permutations": params["permutations"]},
        **synthetic_caveat(stimset),
    }


class CKAStatistics(Statistics):
    permutations: Annotated[int, "permutations of each layer's test of no alignment (0: off)"]


class CKAScores(Scores):
    statistics: Annotated[CKAStatistics, "the uncertainty settings and methods"]
    estimator: Annotated[str, "debiased (Song et al. 2012's unbiased HSIC) or biased (Kornblith et al. 2019)"]
    target_columns: Annotated[list[Columns], "target proportions: the dimensions and categories of its columns "
                                             "(empty for an rdm target)"]
    n_sounds: Annotated[int, "sounds compared"]
    label_reliability: Annotated[dict[str, NoiseCeiling], "per judged dimension: how well the listeners agree on it "
                                                         "(reliability.dimension_reliability), to flag an unreliable "
                                                         "target"]


PRESENTATION = Presentation(
    experiments=(Experiment(
        "cka", "CKA", "Centred kernel alignment (CKA) with the listeners' responses",
        description="How alike a layer's representation and the listeners' response proportions are as wholes "
                    "(linear CKA: 1 the same geometry up to rotation and scale; debiased: 0 unrelated).",
        intro="Does each layer's representation, as a whole, share the geometry of the listeners' responses? CKA "
              "compares inner products where RSA compares distances; read it beside RSA (the measures' agreement "
              "table says where they rank models alike).",
        reference=None, figures=("profiles",), order=15),),
    dimension_params=("dimensions",),
    dimensions=dimensions_param,
    y_label=lambda result: f"CKA ({result['scores'].get('estimator', '')})",
    panel_title=lambda result: f"{dimension_label(result)}\n({result['task']['name']})",
    alignment_target=lambda result: (HUMAN_DISSIMILARITIES if result_params(result).get("target") == "rdm"
                                     else perceived_target(dimensions_param(result))),
)

register_task_type(TaskType("cka", CKA_PARAMS, evaluate_cka, scores_schema=CKAScores, check=_check_cka,
                            presentation=PRESENTATION))
