"""`rsa`: representational similarity of each layer with a human (or physical) RDM.

Bost et al. (2024), experiment 1 (figure 1) and appendix B (partial RSA, a control model's RDM
regressed out).
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired, TypedDict

import numpy as np

from audioprobe.errors import AudioprobeError, NotApplicableError
from audioprobe.metrics import (
    backends,
    geometry,
    intervals,
    pearson,
    rsa_inference,
    similarity,
    split_pearson,
    targets,
)
from audioprobe.pooling import POOLINGS
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes.common import (
    STAT_PARAMS,
    Activations,
    EvalContext,
    Interval,
    LayerScore,
    Param,
    Scores,
    Statistics,
    TaskType,
    dimensions_of,
    interval,
    json_float,
    non_negative,
    register_task_type,
    require_dimensions,
    synthetic_caveat,
)
from audioprobe.tasktypes.headline import headline, pair_statistic_arrays
from audioprobe.tasktypes.presentation import Experiment, Presentation, dimension_label, result_params
from audioprobe.tasktypes.reliability import (
    CEILING_SPLITS,
    HUMAN_TARGETS,
    CeilingFractions,
    NoiseCeiling,
    listener_responses,
    noise_ceiling,
    over_ceiling,
    response_targets,
)

RSA_TARGETS = ("kl", "js", "modal", "physical", "rdm")
RESAMPLE = ("auto", "sounds", "sounds+listeners")
#: listeners a two-factor bootstrap needs (fewer: the listener bootstrap has almost no distinct draws)
MIN_RESAMPLED_LISTENERS = 3

RSA_PARAMS = {
    "dimensions": Param((str, list), [], "Judged dimension(s) (physical: label columns); several: the mean of "
                                         "their RDMs. Empty for target 'rdm'."),
    "target": Param(str, "kl", "Target RDM: kl / js (symmetric KL or Jensen-Shannon of response distributions), "
                               "modal (0/1 between modal responses), physical (0/1 between labels), rdm (the "
                               "set's rdm.csv).", choices=RSA_TARGETS),
    "smoothing": Param(float, targets.DEFAULT_SMOOTHING, "Added to every category count before kl / js.",
                       check=lambda v: None if v >= 0 else "must be >= 0"),
    "model_distance": Param(str, "cosine", "Distance between pooled activations.", choices=geometry.MODEL_DISTANCES),
    "comparison": Param(str, "pearson", "Correlation of the upper triangles.", choices=geometry.COMPARISONS),
    "pooling": Param(str, "mean", "Pooling over frames.", choices=POOLINGS),
    "permutations": Param(int, 1000, "Mantel permutations for p-values (0: off).", check=non_negative),
    "ceiling_splits": Param(int, CEILING_SPLITS, "Random split halves of the listeners for the noise ceiling (0: off).",
                            check=non_negative),
    "control": Param(str, "none", "Partial RSA: a model (e.g. logmel) whose RDM is regressed out of each "
                                  "layer's RDM; none: plain RSA."),
    "control_layer": Param(str, "", "Layer of the control model (empty: its only layer)."),
    "measures": Param(list, [], "Measures of the timbre literature computed beside the RSA per layer, each with a "
                                "bootstrap interval over the same resamples of the sounds (docs/metrics.md). "
                                "Costly on large sets.",
                      choices=similarity.MEASURES, hashed_at_default=False),
    "resample": Param(str, "auto", "What the bootstrap resamples: sounds, or sounds+listeners (two-factor: the "
                                   "target rebuilt from resampled listeners; t intervals from the dual-bootstrap "
                                   "variance of Schütt et al. 2023). auto: sounds+listeners where the target is built "
                                   f"from per-listener responses of at least {MIN_RESAMPLED_LISTENERS} listeners "
                                   "(kl, js, modal with responses.csv), else sounds.", choices=RESAMPLE),
    **STAT_PARAMS,
}


def target_rdm(stimset: StimulusSet, params: dict[str, Any], task: str) -> np.ndarray:
    """The task's human (or physical) RDM, condensed; several dimensions: their mean. Target rdm: the
    set's matrix, NaN on the pairs nobody rated (every statistic then uses the pairs present)."""
    kind, dims = params["target"], dimensions_of(params)
    if kind == "rdm":
        if stimset.rdm is None:
            raise NotApplicableError(f"task {task!r} compares with the stimulus set's dissimilarity matrix, but set "
                                  f"{stimset.name!r} has no rdm.csv. Add one or choose another target.")
        return geometry.square_rdm(stimset.rdm)
    if kind == "physical":
        for d in dims:
            if d not in stimset.labels:
                raise NotApplicableError(
                    f"task {task!r} needs the physical label column {d!r}, but stimulus set {stimset.name!r} has "
                    f"{', '.join(stimset.labels) or 'no labels.csv'}. Add the column or choose another target.")
        return np.mean([geometry.label_rdm(stimset.labels[d]) for d in dims], axis=0)
    require_dimensions(stimset, dims, task)
    if kind == "kl" and params["smoothing"] <= 0:
        raise AudioprobeError(f"task {task!r}: target 'kl' needs smoothing > 0 (KL is infinite for empty categories).")
    return targets.from_counts(kind, stimset.judgments, dims, params["smoothing"])


def resampled_factors(stimset: StimulusSet, params: dict[str, Any], task: str,
                      responses: dict[str, np.ndarray] | None) -> list[str]:
    """What the bootstrap resamples: ["sounds"] or ["sounds", "listeners"] (`resample`), [] when off.
    responses: the task's `listener_responses`."""
    if params["bootstrap"] == 0:
        return []
    if params["resample"] == "sounds":
        return ["sounds"]
    n_listeners = 0 if responses is None else next(iter(responses.values())).shape[0]
    if n_listeners >= MIN_RESAMPLED_LISTENERS:
        return ["sounds", "listeners"]
    if params["resample"] == "auto":
        return ["sounds"]
    why = (f"the stimulus set {stimset.name!r} has no per-listener responses (responses.csv) for "
           f"{', '.join(dimensions_of(params))}" if responses is None else
           f"the stimulus set {stimset.name!r} has {n_listeners} listeners (at least {MIN_RESAMPLED_LISTENERS} needed)")
    raise NotApplicableError(f"task {task!r} resamples listeners (resample: sounds+listeners), but {why}. Use "
                             f"resample: auto or sounds.")


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
    return geometry.model_rdm(layers[name], params["model_distance"]), name


#: a residual RDM smaller than this fraction of the layer's RDM (norms) is the control itself
RESIDUAL_FLOOR = 1e-8  # well above float64 rounding of a regression on ~1e4 pairs (~1e-13)


def evaluate_rsa(acts: Activations, stimset: StimulusSet, params: dict[str, Any], ctx: EvalContext) -> dict:
    target, mask = _checked_target(stimset, params, ctx.task)
    n_present = int(np.isfinite(target).sum())
    names = list(acts[params["pooling"]])
    model_rdms, control, notes = _layer_rdms(acts[params["pooling"]], stimset, params, ctx, target, mask)
    responses = listener_responses(stimset, params)  # built once: the bootstrap's targets and the ceiling
    factors = resampled_factors(stimset, params, ctx.task, responses)
    two_factor = "listeners" in factors
    n_listeners = next(iter(responses.values())).shape[0] if two_factor else 0
    on_gpu = ctx.device.startswith("cuda") and geometry.COMPARISONS[params["comparison"]].linear
    out = rsa_inference.rsa_statistics(model_rdms, target, params["comparison"], ctx.seed, params["bootstrap"],
                               params["permutations"], params["cv_splits"], params["ci_level"],
                               listener_targets=response_targets(stimset, params, responses) if two_factor else None,
                               n_listeners=n_listeners, backend=backends.for_device(ctx.device) if on_gpu else None)
    per_layer = _per_layer(names, out, notes, two_factor)
    head = _headline_kept(per_layer, names, params, out, ctx, len(stimset), n_listeners if two_factor else None)
    with pearson.small_problem_threads(len(stimset)):
        ceiling = noise_ceiling(stimset, params, ctx.plan.ceiling(), device=ctx.device, responses=responses)
    measures = (timbre_measures(params["measures"], names, model_rdms, target, out["bootstrap_counts"], head["layer"],
                                params["ci_level"]) if params["measures"] else None)
    return {
        "metric": _metric_text(params, control is not None),
        "per_layer": per_layer,
        "headline": head,
        **({"noise_ceiling": ceiling} if control is None else {
            "noise_ceiling": {"value": None, "reason": "partial RSA: the residualised model RDM has no ceiling of its "
                                                       "own; the raw target's reliability is in target_reliability"},
            "target_reliability": ceiling}),
        "headline_over_ceiling": over_ceiling(head["value"], ceiling, control is not None),
        "control": control,
        "rdms": keep_rdms(ctx, names, model_rdms, target, head["layer"], control),
        **({"measures": measures} if measures else {}),
        "statistics": _statistics_block(params, ctx.seed, factors, n_listeners if two_factor else None),
        "n_sounds": len(stimset),
        "n_pairs": n_present,
        **({} if mask is None else {
            "n_pairs_missing": int(target.size - n_present),
            "missing_pairs": f"{target.size - n_present} of {target.size} pairs have no value in the target (cells "
                             f"not rated); every statistic (score, bootstrap, Mantel test, cross-validated headline, "
                             f"partial RSA) uses the {n_present} pairs present"}),
        **synthetic_caveat(stimset),
    }


def _checked_target(stimset: StimulusSet, params: dict[str, Any], task: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The target RDM and the mask of its present pairs (None: complete, the original path); not applicable
    when fewer than 3 pairs are present or it is constant."""
    target = target_rdm(stimset, params, task)
    present = np.isfinite(target)
    n_present = int(present.sum())
    if n_present < 3:
        raise NotApplicableError(f"task {task!r}: the target RDM of stimulus set {stimset.name!r} has "
                                 f"{n_present} pair(s) present (at least 3 needed for a correlation).")
    if np.ptp(target[present]) == 0:
        raise NotApplicableError(f"task {task!r}: the target RDM is constant on stimulus set {stimset.name!r} "
                              f"(every pair equally dissimilar); no correlation is defined.")
    return target, None if n_present == target.size else present


def _layer_rdms(layers: dict[str, np.ndarray], stimset: StimulusSet, params: dict[str, Any], ctx: EvalContext,
                target: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, dict | None, dict[str, str]]:
    """Each layer's RDM (partial RSA: its residual after the control's RDM), the control's block (None: plain
    RSA), and a note for each layer whose RDM is undefined."""
    names = list(layers)
    with pearson.small_problem_threads(len(stimset)):  # see rsa_inference.rsa_statistics
        model_rdms = np.stack([geometry.model_rdm(x, params["model_distance"]) for x in layers.values()])
    notes, control = {}, None
    if params["control"] != "none":
        control_rdm, control_layer = _control_rdm(ctx, params)
        on = slice(None) if mask is None else mask  # the regression and its check on the pairs compared
        centred = model_rdms[:, on] - model_rdms[:, on].mean(axis=1, keepdims=True)
        residual = geometry.residualise(model_rdms, control_rdm, mask)
        explained = np.linalg.norm(residual[:, on], axis=1) <= RESIDUAL_FLOOR * np.linalg.norm(centred, axis=1)
        residual[explained] = np.nan
        for k in np.nonzero(explained)[0]:
            notes[names[k]] = "the control RDM explains this layer's RDM entirely: no residual to compare"
        model_rdms = residual
        control = {"model": params["control"], "layer": control_layer,
                   "score_of_control": json_float(geometry.compare_rows(control_rdm[on], target[on],
                                                                   params["comparison"])[0])}
    for k, row in enumerate(model_rdms):
        if names[k] not in notes and not np.all(np.isfinite(row)):
            notes[names[k]] = "undefined distances (a sound's pooled activation is all zeros for this distance)"
    return model_rdms, control, notes


def _per_layer(names: list[str], out: dict, notes: dict[str, str], two_factor: bool) -> list[dict]:
    per_layer = []
    for k, name in enumerate(names):
        entry = {"layer": name, "score": json_float(out["score"][k]), "ci": interval(out["ci"][k]),
                 "p_value": json_float(out["p_value"][k])}
        if two_factor:
            entry["dof"] = json_float(np.round(out["dof"][k], 1))
        if name in notes:
            entry["note"] = notes[name]
        per_layer.append(entry)
    return per_layer


def _headline_kept(per_layer: list[dict], names: list[str], params: dict[str, Any], out: dict, ctx: EvalContext,
                   n_sounds: int, n_listeners: int | None) -> dict:
    """The headline (`headline.headline`), its replicates and the layers' kept beside the result (two-factor:
    both factors, with the one-factor replicates beside them)."""
    two_factor = n_listeners is not None
    if two_factor:  # "per_layer" / "headline": both factors; the one-factor replicates beside them
        layer_reps = {"both": out["bootstrap"], "sounds": out["bootstrap_sounds"], "listeners": out["bootstrap_listeners"]}
        split_reps = {"both": out["cv_bootstrap"], "sounds": out["cv_bootstrap_sounds"],
                      "listeners": out["cv_bootstrap_listeners"]}
    else:
        layer_reps, split_reps = out["bootstrap"], out["cv_bootstrap"]
    head, head_reps = headline(per_layer, names, params, cv_scores=out["cv_scores"], cv_choice=out["cv_choice"],
                               layer_replicates=layer_reps if params["bootstrap"] else None,
                               split_replicates=split_reps if params["bootstrap"] else None,
                               n_sounds=n_sounds, n_listeners=n_listeners,
                               sound_counts=out["bootstrap_counts"] if params["bootstrap"] else None)
    kept = {"per_layer": out["bootstrap"], **head_reps}
    if two_factor:
        kept.update(per_layer_sounds=out["bootstrap_sounds"], per_layer_listeners=out["bootstrap_listeners"])
    ctx.keep_replicates(out["bootstrap_counts"], "sounds", listeners=out.get("listener_counts"),
                        pair_statistic=pair_statistic_arrays(per_layer),
                        **kept)
    return head


#: what each kind of target's distances are, in words
TARGET_WORDS = {"kl": "symmetric KL of response distributions", "js": "Jensen-Shannon divergence of response "
                "distributions", "modal": "0/1 distance of modal responses", "physical": "0/1 distance of physical "
                "labels", "rdm": "the stimulus set's dissimilarity matrix"}


def _metric_text(params: dict[str, Any], partial: bool) -> str:
    dims = dimensions_of(params)
    return (f"{params['comparison']} correlation between the model RDM ({params['model_distance']} distance of "
            f"{params['pooling']}-pooled activations"
            f"{', residualised on the ' + params['control'] + ' RDM' if partial else ''}) and the target RDM "
            f"({TARGET_WORDS[params['target']]}{' averaged over ' + ', '.join(dims) if len(dims) > 1 else ''})")


def _statistics_block(params: dict[str, Any], seed: int, factors: list[str], n_listeners: int | None) -> dict:
    """The result's `statistics`: what was resampled and how the intervals and p-values are made."""
    statistics = {
        "seed": seed, "bootstrap": params["bootstrap"], "bootstrap_unit": "sounds (pairs of a sound with its "
        "own copy excluded)", "ci_level": params["ci_level"], "ci_method": "percentile",
        "permutations": params["permutations"], "p_value": "one-sided Mantel test (rows and columns of the "
        "target permuted together), (1 + #null >= observed) / (1 + permutations)",
        "cv_splits": params["cv_splits"], "resampled": factors,
    }
    if n_listeners is not None:
        statistics.update(
            bootstrap_unit="sounds and listeners: resample b draws the sounds (pairs of a sound with its own copy "
                           "excluded) and the listeners (the target rebuilt from the drawn listeners' responses) "
                           "with replacement; the same draws also give the sounds-only and listeners-only "
                           "resamples",
            ci_method="t: score -/+ t(dof) sqrt(V), V the dual-bootstrap variance (Schütt et al. 2023, eLife "
                      "12:e82566; small-sample form as rsatoolbox's eval_dual_bootstrap) from the bootstraps over "
                      "both factors, over listeners and over sounds; dof per layer by Satterthwaite (1946) from "
                      "the three variances",
            n_listeners=n_listeners)
    return statistics


def timbre_measures(wanted: list[str], names: list[str], model_rdms: np.ndarray, target: np.ndarray,
                    counts: np.ndarray, head_layer: str | None, level: float) -> dict:
    """Each requested measure (metrics/similarity.py) per layer, with a percentile interval over the RSA's own
    bootstrap resamples of the sounds (the target fixed), and at the RSA's headline layer (chosen by the RSA,
    not by the measure: no second selection)."""
    from scipy.spatial.distance import squareform

    human = squareform(target, checks=False)
    out = {}
    for name in wanted:
        func, kwargs, lower = similarity.MEASURES[name]
        rows = []
        for k, layer in enumerate(names):
            model = squareform(model_rdms[k], checks=False)
            value = func(model, human, **kwargs)
            reps = similarity.bootstrap_measure(func, model, human, counts, **kwargs) if counts.size else np.empty(0)
            rows.append({"layer": layer, "value": json_float(value),
                         "ci": interval(intervals.percentile_interval(reps[:, None], level)[0]) if reps.size else None})
        at_head = next((dict(r) for r in rows if r["layer"] == head_layer), None)
        out[name] = {"lower_is_better": lower, "per_layer": rows, "at_headline_layer": at_head,
                     "method": f"{func.__name__}({', '.join(f'{k}={v}' for k, v in kwargs.items())}), "
                               f"{'lower' if lower else 'higher'} is better; interval: percentile bootstrap over sounds"}
    return out


#: above this many sounds no RDM is kept for the report (2,000 sounds: 2 million pairs, 8 MB a file)
RDM_MAX_SOUNDS = 2000


def keep_rdms(ctx: EvalContext, names: list[str], model_rdms: np.ndarray, target: np.ndarray, layer: str | None,
              control: dict | None) -> dict:
    """References to the headline layer's RDM (the residual one in partial RSA) and the target, kept for the
    report's heatmaps; or why none are kept."""
    n_sounds = split_pearson.n_items(target.size)
    if layer is None:
        return {"layer": None, "reason": "no headline layer (no finite score)"}
    if n_sounds > RDM_MAX_SOUNDS:
        return {"layer": layer, "reason": f"{n_sounds} sounds: RDMs are kept for sets of at most {RDM_MAX_SOUNDS}"}
    model_sha, target_sha = ctx.keep_rdm(model_rdms[names.index(layer)]), ctx.keep_rdm(target)
    if model_sha is None or target_sha is None:
        return {"layer": layer, "reason": "this run kept no RDMs"}
    what = ("residual RDM of the headline layer after regressing out the control RDM" if control else
            "RDM of the headline layer")
    return {"layer": layer, "model_sha256": model_sha, "target_sha256": target_sha, "what": what}


def _check_rsa(where: str, params: dict[str, Any]) -> None:
    if len(set(params["measures"])) != len(params["measures"]):
        raise AudioprobeError(f"{where}: key 'measures' lists a measure twice.")
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
    if params["resample"] == "sounds+listeners" and params["target"] not in HUMAN_TARGETS:
        raise AudioprobeError(f"{where}: key 'resample': sounds+listeners needs a target built from listener "
                              f"responses ({', '.join(HUMAN_TARGETS)}); target {params['target']!r} has no listeners "
                              f"to resample. Use resample: sounds or auto.")


class Control(TypedDict):
    model: Annotated[str, "the control model whose RDM was regressed out"]
    layer: Annotated[str, "its layer"]
    score_of_control: Annotated[float | None, "the control RDM's own correlation with the target"]


class RDMRefs(TypedDict):
    layer: Annotated[str | None, "the headline layer"]
    model_sha256: NotRequired[Annotated[str, "its condensed RDM (float32, upper triangle row by row): "
                                             "<set folder>/rdms/<sha256>.npy"]]
    target_sha256: NotRequired[Annotated[str, "the target RDM, stored the same way"]]
    what: NotRequired[Annotated[str, "what the model RDM is (partial RSA: the residual after the control)"]]
    reason: NotRequired[Annotated[str, "why no RDMs were kept"]]


class MeasureLayer(TypedDict):
    layer: Annotated[str, "layer name"]
    value: Annotated[float | None, "the measure on this layer (null: undefined)"]
    ci: Annotated[Interval | None, "percentile bootstrap interval over sounds (null: off or undefined)"]


class MeasureScores(TypedDict):
    lower_is_better: Annotated[bool, "normalised_mae: lower is better; the others: higher"]
    per_layer: Annotated[list[MeasureLayer], "the measure per layer, in the model's layer order"]
    at_headline_layer: Annotated[MeasureLayer | None, "at the layer the RSA headline chose (null: none)"]
    method: Annotated[str, "the function, its settings and the interval's method"]


class RSAStatistics(Statistics):
    permutations: Annotated[int, "Mantel permutations (0: off)"]
    resampled: NotRequired[Annotated[list[str], "the factors the bootstrap resampled: [sounds] (percentile "
                                                "intervals) or [sounds, listeners] (two-factor: t intervals from "
                                                "the dual-bootstrap variance); [] when bootstrap is 0"]]
    n_listeners: NotRequired[Annotated[int, "listeners resampled (two-factor)"]]


class RSALayerScore(LayerScore):
    dof: NotRequired[Annotated[float | None, "degrees of freedom of the layer's t interval (two-factor: Satterthwaite "
                                             "from the three bootstrap variances, between min(listeners, sounds) - 1 "
                                             "and about listeners x sounds)"]]


class RSAScores(Scores):
    per_layer: Annotated[list[RSALayerScore], "one entry per layer, in layer order"]
    statistics: Annotated[RSAStatistics, "the uncertainty settings and methods"]
    noise_ceiling: Annotated[NoiseCeiling, "how well the target agrees with itself across listeners (partial "
                                           "RSA: value null, the raw target's block is target_reliability)"]
    target_reliability: NotRequired[Annotated[NoiseCeiling, "partial RSA: the raw target's split-half "
                                                            "reliability, to flag an unreliable target"]]
    headline_over_ceiling: NotRequired[Annotated[CeilingFractions, "the headline as a fraction of the attainable "
                                                                        "correlation"]]
    control: Annotated[Control | None, "partial RSA: the regressed-out control (null: plain RSA)"]
    rdms: NotRequired[Annotated[RDMRefs, "the headline layer's RDM and the target, kept for the report's heatmaps"]]
    measures: NotRequired[Annotated[dict[str, MeasureScores], "measures of the timbre literature (param measures), "
                                                              "by name"]]
    n_sounds: Annotated[int, "sounds compared"]
    n_pairs: Annotated[int, "pairs of sounds compared: upper-triangle entries present in the target"]
    n_pairs_missing: NotRequired[Annotated[int, "pairs with no value in the target (cells of rdm.csv not rated), "
                                                "left out of every statistic"]]
    missing_pairs: NotRequired[Annotated[str, "a note saying that some pairs are missing and which pairs were used"]]


# ---------------------------------------------------------------------------------------------
# How RSA results are shown (`presentation.Presentation`): read from result files downstream

#: targets in the leaderboard's order, each with what its distances compare
TARGET_HEADINGS = {
    "kl": "**Perceived** (symmetric KL divergence between the listeners' response distributions)",
    "js": "**Perceived** (Jensen-Shannon divergence between the listeners' response distributions)",
    "modal": "**Modal response** (0/1: whether the answers most listeners gave differ)",
    "physical": "**Physical label** (0/1: whether the physical labels differ)",
    "rdm": "**Human dissimilarities** (given with the stimulus set)",
}


def _is_partial(result: dict) -> bool:
    return result_params(result).get("control", "none") not in ("none", "", None)


def _result_dimensions(result: dict) -> tuple[str, ...]:
    dims = result_params(result).get("dimensions", ())
    return (dims,) if isinstance(dims, str) else tuple(dims)


def _y_label(result: dict) -> str:
    name = result_params(result).get("comparison", "pearson")
    return f"RSA ({geometry.COMPARISONS[name].label if name in geometry.COMPARISONS else name})"


def _ceiling_value(result: dict) -> float | None:
    return (result["scores"].get("noise_ceiling") or {}).get("value")


def _tables_by_target(results: list[dict]) -> list[tuple[str, list[str]]]:
    """One table per kind of target, in `TARGET_HEADINGS` order; in each, single dimensions before averages."""
    by_target: dict[str, dict[str, dict]] = {}
    for r in results:
        by_target.setdefault(result_params(r).get("target", "?"), {}).setdefault(r["task"]["name"], r)
    order = [t for t in TARGET_HEADINGS if t in by_target] + sorted(set(by_target) - set(TARGET_HEADINGS))
    return [(TARGET_HEADINGS.get(target, f"**Target** (`{target}`)"),
             sorted(by_target[target], key=lambda t: (len(_result_dimensions(by_target[target][t])) > 1, t)))
            for target in order]


#: the figure kinds that draw RSA results, plain or partial, in order (leaderboard/figure_kinds.py)
FIGURES = ("rsa-perceived", "rsa-perceived-vs-physical", "rsa-matrix", "profiles")

PRESENTATION = Presentation(
    experiments=(
        Experiment("rsa", "RSA", "Representational similarity (RSA)",
                   description="How well the distances between sounds in a layer match the target's distances "
                               "(correlation of the two dissimilarity matrices).",
                   intro="How closely does each layer's representational geometry follow the target's? Read the "
                         "height of each profile against the noise ceiling, and where in depth it peaks.",
                   reference="ceiling", figures=FIGURES, order=10),
        Experiment("rsa-partial", "Partial RSA", "Partial RSA (a control model's RDM regressed out)",
                   description="RSA on what is left of a layer's distances once the control model's distances "
                               "({controls}) are regressed out (Bost et al. 2024, appendix B).",
                   intro="What is left of each layer's alignment once the control model's ({control}) geometry is "
                         "regressed out? A profile near zero says the control explains the alignment.",
                   reference="ceiling", figures=FIGURES, order=11),
    ),
    experiment_of=lambda result: "rsa-partial" if _is_partial(result) else "rsa",
    dimension_params=("dimensions",),
    dimensions=_result_dimensions,
    y_label=_y_label,
    panel_title=lambda result: f"{dimension_label(result)}\n({result['task']['name']})",
    reference=_ceiling_value,
    table_groups=_tables_by_target,
)


register_task_type(TaskType("rsa", RSA_PARAMS, evaluate_rsa, scores_schema=RSAScores, check=_check_rsa,
                            controls=lambda params: [] if params["control"] == "none" else [params["control"]],
                            presentation=PRESENTATION))
