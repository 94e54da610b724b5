"""`rsa`: representational similarity of each layer with a human (or physical) RDM.

Bost et al. (2024), experiment 1 (figure 1) and appendix B (partial RSA, a control model's RDM
regressed out).
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired, TypedDict

import numpy as np

from audioprobe.errors import AudioprobeError, NotApplicableError
from audioprobe.metrics import rsa, stats
from audioprobe.pooling import POOLINGS
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes.common import (STAT_PARAMS, Scores, Statistics, Activations, EvalContext, Param, TaskType, dimensions_of,
                                         headline, interval, json_float, non_negative, require_dimensions,
                                         synthetic_caveat, register_task_type)


RSA_TARGETS = ("kl", "js", "modal", "physical", "rdm")
HUMAN_TARGETS = ("kl", "js", "modal")  # built from listener responses: a noise ceiling exists

RSA_PARAMS = {
    "dimensions": Param((str, list), [], "Judged dimension(s) (physical: label columns); several: the mean of "
                                         "their RDMs. Empty for target 'rdm'."),
    "target": Param(str, "kl", "Target RDM: kl / js (symmetric KL or Jensen-Shannon of response distributions), "
                               "modal (0/1 between modal responses), physical (0/1 between labels), rdm (the "
                               "set's rdm.csv).", choices=RSA_TARGETS),
    "smoothing": Param(float, 0.5, "Added to every category count before kl / js.",
                       check=lambda v: None if v >= 0 else "must be >= 0"),
    "model_distance": Param(str, "cosine", "Distance between pooled activations.", choices=rsa.MODEL_DISTANCES),
    "comparison": Param(str, "pearson", "Correlation of the upper triangles.", choices=rsa.COMPARISONS),
    "pooling": Param(str, "mean", "Pooling over frames.", choices=POOLINGS),
    "permutations": Param(int, 1000, "Mantel permutations for p-values (0: off).", check=non_negative),
    "ceiling_splits": Param(int, 100, "Random split halves of the listeners for the noise ceiling (0: off).",
                            check=non_negative),
    "control": Param(str, "none", "Partial RSA: a model (e.g. logmel) whose RDM is regressed out of each "
                                  "layer's RDM; none: plain RSA."),
    "control_layer": Param(str, "", "Layer of the control model (empty: its only layer)."),
    **STAT_PARAMS,
}


def _target_from_counts(kind: str, counts: dict[str, np.ndarray], dims: list[str], smoothing: float) -> np.ndarray:
    funcs = {"kl": lambda c: rsa.symmetric_kl_rdm(c, smoothing),
             "js": lambda c: rsa.jensen_shannon_rdm(c, smoothing),
             "modal": rsa.modal_rdm}
    return np.mean([funcs[kind](counts[d]) for d in dims], axis=0)


def target_rdm(stimset: StimulusSet, params: dict[str, Any], task: str) -> np.ndarray:
    """The task's human (or physical) RDM, condensed; several dimensions: their mean."""
    kind, dims = params["target"], dimensions_of(params)
    if kind == "rdm":
        if stimset.rdm is None:
            raise NotApplicableError(f"task {task!r} compares with the stimulus set's dissimilarity matrix, but set "
                                  f"{stimset.name!r} has no rdm.csv. Add one or choose another target.")
        if not np.all(np.isfinite(stimset.rdm)):
            raise AudioprobeError(f"stimulus set {stimset.name!r}: rdm.csv has missing or non-finite entries.")
        return rsa.square_rdm(stimset.rdm)
    if kind == "physical":
        for d in dims:
            if d not in stimset.labels:
                raise NotApplicableError(
                    f"task {task!r} needs the physical label column {d!r}, but stimulus set {stimset.name!r} has "
                    f"{', '.join(stimset.labels) or 'no labels.csv'}. Add the column or choose another target.")
        return np.mean([rsa.label_rdm(stimset.labels[d]) for d in dims], axis=0)
    require_dimensions(stimset, dims, task)
    if kind == "kl" and params["smoothing"] <= 0:
        raise AudioprobeError(f"task {task!r}: target 'kl' needs smoothing > 0 (KL is infinite for empty categories).")
    return _target_from_counts(kind, stimset.judgments, dims, params["smoothing"])


def noise_ceiling(stimset: StimulusSet, params: dict[str, Any], rng: np.random.Generator) -> dict:
    """Split-half reliability of the target over listeners, Spearman-Brown corrected (or why none)."""
    kind, dims, n_splits = params["target"], dimensions_of(params), params["ceiling_splits"]
    if kind not in HUMAN_TARGETS:
        return {"value": None, "reason": f"target {kind!r} is not built from listener responses"}
    if n_splits == 0:
        return {"value": None, "reason": "ceiling_splits is 0"}
    if stimset.responses is None or any(d not in stimset.responses for d in dims):
        return {"value": None, "reason": "the stimulus set has no per-listener responses (responses.csv)"}
    n_listeners = stimset.responses[dims[0]].shape[0]
    if n_listeners < 4:
        return {"value": None, "reason": f"{n_listeners} listeners: a split half needs at least 4"}
    split_r = stats.split_half_reliability(
        {d: stimset.responses[d] for d in dims}, {d: len(stimset.dimensions[d]) for d in dims},
        lambda counts: _target_from_counts(kind, counts, dims, params["smoothing"]),
        lambda a, b: stats.paired_rows(a, b, params["comparison"]), rng, n_splits)
    mean_r = float(np.nanmean(split_r))
    return {
        "value": json_float(stats.spearman_brown(mean_r)),
        "split_half_r": json_float(mean_r),
        "split_half_r_sd": json_float(np.nanstd(split_r)),
        "n_splits": n_splits,
        "method": "mean split-half correlation of the target RDM over random halves of the listeners, "
                  "Spearman-Brown corrected to the full panel",
    }


def _control_rdm(ctx: EvalContext, params: dict[str, Any]) -> tuple[np.ndarray, str]:
    layers = ctx.control(params["control"], params["pooling"])
    name = params["control_layer"]
    if not name:
        if len(layers) != 1:
            raise AudioprobeError(f"task {ctx.task!r}: control model {params['control']!r} has layers "
                                  f"{', '.join(layers)}; set control_layer to one of them.")
        name = next(iter(layers))
    if name not in layers:
        raise AudioprobeError(f"task {ctx.task!r}: control_layer {name!r} is not a layer of "
                              f"{params['control']!r} ({', '.join(layers)}).")
    return rsa.model_rdm(layers[name], params["model_distance"]), name


#: a residual RDM smaller than this fraction of the layer's RDM (norms) is the control itself
RESIDUAL_FLOOR = 1e-8  # well above float64 rounding of a regression on ~1e4 pairs (~1e-13)


def evaluate_rsa(acts: Activations, stimset: StimulusSet, params: dict[str, Any], ctx: EvalContext) -> dict:
    target = target_rdm(stimset, params, ctx.task)
    if np.ptp(target) == 0:
        raise NotApplicableError(f"task {ctx.task!r}: the target RDM is constant on stimulus set {stimset.name!r} "
                              f"(every pair equally dissimilar); no correlation is defined.")
    layers = acts[params["pooling"]]
    names = list(layers)
    with stats.small_problem_threads(len(stimset)):  # see stats.rsa_statistics
        model_rdms = np.stack([rsa.model_rdm(x, params["model_distance"]) for x in layers.values()])
    notes = {}
    control = None
    if params["control"] != "none":
        control_rdm, control_layer = _control_rdm(ctx, params)
        centred = model_rdms - model_rdms.mean(axis=1, keepdims=True)
        residual = rsa.residualise(model_rdms, control_rdm)
        explained = np.linalg.norm(residual, axis=1) <= RESIDUAL_FLOOR * np.linalg.norm(centred, axis=1)
        residual[explained] = np.nan
        for k in np.nonzero(explained)[0]:
            notes[names[k]] = "the control RDM explains this layer's RDM entirely: no residual to compare"
        model_rdms = residual
        control = {"model": params["control"], "layer": control_layer,
                   "score_of_control": json_float(rsa.compare_rows(control_rdm, target, params["comparison"])[0])}
    for k, row in enumerate(model_rdms):
        if names[k] not in notes and not np.all(np.isfinite(row)):
            notes[names[k]] = "undefined distances (a sound's pooled activation is all zeros for this distance)"

    out = stats.rsa_statistics(model_rdms, target, params["comparison"], ctx.seed, params["bootstrap"],
                               params["permutations"], params["cv_splits"], params["ci_level"])
    ctx.keep_replicates(out["bootstrap_counts"], "sounds", per_layer=out["bootstrap"],
                        **({"headline": out["cv_bootstrap"]} if out["cv_bootstrap"].size else {}))
    per_layer = []
    for k, name in enumerate(names):
        entry = {"layer": name, "score": json_float(out["score"][k]), "ci": interval(out["ci"][k]),
                 "p_value": json_float(out["p_value"][k])}
        if name in notes:
            entry["note"] = notes[name]
        per_layer.append(entry)
    with stats.small_problem_threads(len(stimset)):
        ceiling = noise_ceiling(stimset, params, stats.streams(ctx.seed)[3])
    what = {"kl": "symmetric KL of response distributions", "js": "Jensen-Shannon divergence of response "
            "distributions", "modal": "0/1 distance of modal responses", "physical": "0/1 distance of physical "
            "labels", "rdm": "the stimulus set's dissimilarity matrix"}[params["target"]]
    dims = dimensions_of(params)
    metric = (f"{params['comparison']} correlation between the model RDM ({params['model_distance']} distance of "
              f"{params['pooling']}-pooled activations"
              f"{', residualised on the ' + params['control'] + ' RDM' if control else ''}) and the target RDM "
              f"({what}{' averaged over ' + ', '.join(dims) if len(dims) > 1 else ''})")
    return {
        "metric": metric,
        "per_layer": per_layer,
        "headline": headline(per_layer, names, out, params),
        "noise_ceiling": ceiling,
        "control": control,
        "statistics": {
            "seed": ctx.seed, "bootstrap": params["bootstrap"], "bootstrap_unit": "sounds (pairs of a sound with its "
            "own copy excluded)", "ci_level": params["ci_level"], "ci_method": "percentile",
            "permutations": params["permutations"], "p_value": "one-sided Mantel test (rows and columns of the "
            "target permuted together), (1 + #null >= observed) / (1 + permutations)",
            "cv_splits": params["cv_splits"],
        },
        "n_sounds": len(stimset),
        "n_pairs": int(target.size),
        **synthetic_caveat(stimset),
    }


def _check_rsa(where: str, params: dict[str, Any]) -> None:
    dims = params["dimensions"]
    if isinstance(dims, list) and not all(isinstance(d, str) and d for d in dims):
        raise AudioprobeError(f"{where}: key 'dimensions' must be a dimension name or a list of names.")
    if params["target"] == "rdm" and dims:
        raise AudioprobeError(f"{where}: target 'rdm' uses the set's rdm.csv; remove key 'dimensions'.")
    if params["target"] != "rdm" and not dims:
        raise AudioprobeError(f"{where}: key 'dimensions' is required for target {params['target']!r}.")
    if params["target"] == "kl" and params["smoothing"] <= 0:
        raise AudioprobeError(f"{where}: key 'smoothing' must be > 0 for target 'kl' (KL is infinite for empty "
                              f"categories).")


class NoiseCeiling(TypedDict):
    value: Annotated[float | None, "split-half reliability of the target over listeners, Spearman-Brown "
                                   "corrected (null: none, see reason)"]
    reason: NotRequired[Annotated[str, "why there is no ceiling"]]
    split_half_r: NotRequired[Annotated[float | None, "mean split-half correlation before correction"]]
    split_half_r_sd: NotRequired[Annotated[float | None, "its standard deviation over splits"]]
    n_splits: NotRequired[Annotated[int, "random splits of the listeners"]]
    method: NotRequired[Annotated[str, "the method, in words"]]


class Control(TypedDict):
    model: Annotated[str, "the control model whose RDM was regressed out"]
    layer: Annotated[str, "its layer"]
    score_of_control: Annotated[float | None, "the control RDM's own correlation with the target"]


class RSAStatistics(Statistics):
    permutations: Annotated[int, "Mantel permutations (0: off)"]


class RSAScores(Scores):
    statistics: Annotated[RSAStatistics, "the uncertainty settings and methods"]
    noise_ceiling: Annotated[NoiseCeiling, "how well the target agrees with itself across listeners"]
    control: Annotated[Control | None, "partial RSA: the regressed-out control (null: plain RSA)"]
    n_sounds: Annotated[int, "sounds compared"]
    n_pairs: Annotated[int, "pairs of sounds (upper-triangle entries)"]


register_task_type(TaskType("rsa", RSA_PARAMS, evaluate_rsa, scores_schema=RSAScores, check=_check_rsa,
                            controls=lambda params: [] if params["control"] == "none" else [params["control"]]))
