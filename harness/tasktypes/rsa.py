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
    ceiling,
    intervals,
    pearson,
    resampling,
    rsa,
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
    headline,
    interval,
    json_float,
    non_negative,
    pair_statistic_arrays,
    register_task_type,
    require_dimensions,
    synthetic_caveat,
)
from audioprobe.tasktypes.presentation import Experiment, Presentation, dimension_label

RSA_TARGETS = ("kl", "js", "modal", "physical", "rdm")
HUMAN_TARGETS = ("kl", "js", "modal")  # built from listener responses: a noise ceiling exists
RESAMPLE = ("auto", "sounds", "sounds+listeners")
#: listeners a two-factor bootstrap needs (fewer: the listener bootstrap has almost no distinct draws)
MIN_RESAMPLED_LISTENERS = 3
#: A target is reliable when the lower end of its ceiling's interval over listener splits (the 2.5th
#: percentile of the Spearman-Brown corrected split-half correlations) reaches this. A judgment call,
#: documented in docs/metrics.md: below 0.1 the attainable correlation sqrt(reliability) is under 0.32
#: and moves by a third or more between splits, so a share of it, or any score against that target,
#: says more about the listeners' disagreement than about the model.
RELIABILITY_FLOOR = 0.1

RSA_PARAMS = {
    "dimensions": Param((str, list), [], "Judged dimension(s) (physical: label columns); several: the mean of "
                                         "their RDMs. Empty for target 'rdm'."),
    "target": Param(str, "kl", "Target RDM: kl / js (symmetric KL or Jensen-Shannon of response distributions), "
                               "modal (0/1 between modal responses), physical (0/1 between labels), rdm (the "
                               "set's rdm.csv).", choices=RSA_TARGETS),
    "smoothing": Param(float, targets.DEFAULT_SMOOTHING, "Added to every category count before kl / js.",
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
    return targets.from_counts(kind, stimset.judgments, dims, params["smoothing"])


def listener_responses(stimset: StimulusSet, params: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """The per-listener responses the task's target is built from (dim -> `[n_listeners, n_sounds]`), or
    None: a physical or rdm target, or a set without responses.csv."""
    dims = dimensions_of(params)
    if params["target"] not in HUMAN_TARGETS or stimset.responses is None or any(d not in stimset.responses
                                                                                 for d in dims):
        return None
    return {d: stimset.responses[d] for d in dims}


def _n_categories(stimset: StimulusSet, params: dict[str, Any]) -> dict[str, int]:
    return {d: len(stimset.dimensions[d]) for d in dimensions_of(params)}


def response_targets(stimset: StimulusSet, params: dict[str, Any]):
    """weights `[m, n_listeners]` (how often each listener is drawn) -> `[m, n_pairs]`: the task's target
    rebuilt from those listeners' responses (`targets.rebuilt_targets`)."""
    return targets.rebuilt_targets(listener_responses(stimset, params), _n_categories(stimset, params),
                                   params["target"], params["smoothing"])


def drawn_counts(stimset: StimulusSet, params: dict[str, Any]):
    """weights `[n_listeners]` -> dim -> the drawn listeners' response counts (`targets.drawn_counts`)."""
    return targets.drawn_counts(listener_responses(stimset, params), _n_categories(stimset, params))


def resampled_factors(stimset: StimulusSet, params: dict[str, Any], task: str) -> list[str]:
    """What the bootstrap resamples: ["sounds"] or ["sounds", "listeners"] (`resample`), [] when off."""
    if params["bootstrap"] == 0:
        return []
    if params["resample"] == "sounds":
        return ["sounds"]
    responses = listener_responses(stimset, params)
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


def _ceiling(n_listeners: int, n_splits: int, split_half, split_method: str, no_split: str, bounds,
             bounds_method: str, some_undefined: str, none_defined: str) -> dict:
    """The noise-ceiling block shared by response and matrix targets: split-half reliability over random
    halves of the listeners, Spearman-Brown corrected (`split_half()` -> `[n_splits]` correlations), and the
    leave-one-listener-out bounds (`bounds()` -> per-listener lower and upper). The texts say how the targets
    were built (`split_method`, `bounds_method`) and why a value is missing."""
    if n_splits == 0:
        out = {"value": None, "reason": "ceiling_splits is 0"}
    elif n_listeners < 4:
        out = {"value": None, "reason": f"{n_listeners} listeners: a split half needs at least 4"}
    else:
        split_r = split_half()
        defined = split_r[np.isfinite(split_r)]
        mean_r = float(np.mean(defined)) if defined.size else float("nan")
        out = {
            "value": json_float(ceiling.spearman_brown(mean_r)),
            "split_half_r": json_float(mean_r),
            "split_half_r_sd": json_float(np.std(defined)) if defined.size else None,
            "n_splits": n_splits,
            "method": split_method,
        }
        if defined.size:
            lo, hi = ceiling.spearman_brown(np.percentile(defined, [2.5, 97.5]))
            out.update(interval=[json_float(lo), json_float(hi)], reliable=bool(lo >= RELIABILITY_FLOOR),
                       reliability_floor=RELIABILITY_FLOOR)
        else:
            out["reason"] = no_split
    out["n_listeners"] = n_listeners
    if n_listeners < 2:
        out.update(lower_bound=None, upper_bound=None, bounds_reason="1 listener: no other listener to compare with")
        return out
    lower, upper = bounds()
    ok = np.isfinite(lower) & np.isfinite(upper)  # a listener whose comparison is undefined is left out
    used = int(ok.sum())
    out.update(
        lower_bound=json_float(np.mean(lower[ok])) if used else None,
        upper_bound=json_float(np.mean(upper[ok])) if used else None,
        bounds_method=bounds_method.format(
            others="" if used == n_listeners else
            f" ({used} of {n_listeners} listeners: for the others the comparison is undefined, {some_undefined})"))
    if not used:
        out["bounds_reason"] = none_defined
    return out


def noise_ceiling(stimset: StimulusSet, params: dict[str, Any], rng: np.random.Generator, device: str = "cpu") -> dict:
    """Split-half reliability of the target over listeners, Spearman-Brown corrected (or why none),
    and the leave-one-listener-out lower and upper bounds. device cuda: comparisons of formed RDMs
    (Spearman, or targets without factors) on the GPU."""
    kind, dims, n_splits = params["target"], dimensions_of(params), params["ceiling_splits"]
    if kind == "rdm":
        return rdm_noise_ceiling(stimset, params, rng)
    if kind not in HUMAN_TARGETS:
        return {"value": None, "reason": f"target {kind!r} is not built from listener responses"}
    responses = listener_responses(stimset, params)
    if responses is None:
        return {"value": None, "reason": "the stimulus set has no per-listener responses (responses.csv)"}
    paired_rows = backends.for_device(device).paired_rows
    compare = lambda a, b: paired_rows(a, b, params["comparison"])  # noqa: E731
    n_categories = _n_categories(stimset, params)
    # Pearson on a low-rank target: the same correlations from the factors, without forming RDMs
    factored = params["comparison"] == "pearson" and kind in targets.FACTORED
    factors = (lambda counts: targets.factors(kind, counts, dims, params["smoothing"])) if factored else None

    counts_of = drawn_counts(stimset, params)

    def factors_of(weights):  # the factors of the target of the listeners drawn with these weights
        return factors(counts_of(weights))

    return _ceiling(
        responses[dims[0]].shape[0], n_splits,
        lambda: ceiling.split_half_reliability(
            responses, n_categories,
            lambda counts: targets.or_nan(kind, counts, dims, params["smoothing"]), compare, rng, n_splits,
            factors=factors),
        "mean split-half correlation of the target RDM over random halves of the listeners, Spearman-Brown "
        "corrected to the full panel",
        "no split of the listeners gave a defined correlation (a constant or undefined target)",
        lambda: ceiling.leave_one_out_ceiling(response_targets(stimset, params), responses[dims[0]].shape[0], compare,
                                            factors_of=factors_of if factored else None),
        "leave one listener out (Nili et al. 2014; rsatoolbox boot_noise_ceiling): the target built from one "
        "listener's responses alone, compared with the target of all listeners (upper bound) and of the other "
        "listeners (lower bound), averaged over listeners; targets pool the listeners' response counts{others}",
        "their own target being constant or undefined",
        "no listener's own target gives a defined comparison (constant or undefined targets)")


def dimension_reliability(stimset: StimulusSet, dimension: str, seed: int) -> dict:
    """How well the listeners agree on a perceived dimension: the noise-ceiling block of the modal target of
    that dimension (split-half reliability of the 0/1 distances of modal responses, its interval over
    listener splits and `reliable`), the same numbers an `rsa` task with target modal on that dimension
    reports for this seed. Other task types use it to flag labels the listeners do not agree on."""
    params = {name: p.default for name, p in RSA_PARAMS.items()}
    params.update(target="modal", dimensions=[dimension], comparison="pearson")
    out = noise_ceiling(stimset, params, resampling.ResamplePlan(seed).ceiling())
    out["dimension"] = dimension
    return out


def label_reliability(stimset: StimulusSet, roles: dict[str, tuple[str, str]], seed: int) -> dict[str, dict]:
    """`dimension_reliability` of each perceived label a task uses: roles maps a role ("target", "split",
    "labels", "strata") to (dimension, source); physical labels, and sets without per-listener responses,
    are left out (nothing to measure)."""
    out: dict[str, dict] = {}
    for role, (dim, source) in roles.items():
        if source == "perceived" and stimset.responses is not None and dim in stimset.responses:
            out[role] = dimension_reliability(stimset, dim, seed)
    return out


def rdm_noise_ceiling(stimset: StimulusSet, params: dict[str, Any], rng: np.random.Generator) -> dict:
    """`noise_ceiling` of an rdm target from per-listener matrices (folder `rdm/`): the same split-half
    reliability (Spearman-Brown corrected) and leave-one-listener-out bounds, a group's target being
    the cell-wise mean of its listeners' matrices over those who rated each pair (`ceiling.mean_of_rdms`)
    and every comparison made on the pairs present in both matrices compared."""
    if not stimset.listener_rdms:
        return {"value": None, "reason": "the stimulus set has no per-listener matrices (rdm/<listener>.csv)"}
    rdms = np.stack([rsa.square_rdm(m) for m in stimset.listener_rdms.values()])
    n_listeners, n_splits = rdms.shape[0], params["ceiling_splits"]
    compare = lambda a, b: pearson.paired_rows_present(a, b, params["comparison"])  # noqa: E731
    target_note = ("; the ceiling's target is the mean of the listeners' matrices (rdm/), which may differ from "
                   "rdm.csv" if _has_own_rdm(stimset, rdms) else "")
    return _ceiling(
        n_listeners, n_splits, lambda: ceiling.split_half_rdms(rdms, compare, rng, n_splits),
        "mean split-half correlation of the mean per-listener RDM (rdm/<listener>.csv; each pair averaged over the "
        "listeners of the half who rated it, compared on the pairs both halves have) over random halves of the "
        "listeners, Spearman-Brown corrected to the full panel" + target_note,
        "no split of the listeners gave a defined correlation (constant or too few shared pairs)",
        lambda: ceiling.leave_one_out_ceiling(lambda w: ceiling.mean_of_rdms(rdms, w), n_listeners, compare),
        "leave one listener out (Nili et al. 2014; rsatoolbox boot_noise_ceiling): each listener's own matrix "
        "compared with the mean matrix of all listeners (upper bound) and of the other listeners (lower bound), on "
        "the pairs both have, averaged over listeners{others}" + target_note.replace("{", "{{").replace("}", "}}"),
        "their matrix being constant or sharing fewer than 3 pairs",
        "no listener's matrix gives a defined comparison (constant, or too few shared pairs)")


def _has_own_rdm(stimset: StimulusSet, rdms: np.ndarray) -> bool:
    """Whether the set's rdm differs from the mean of its listeners' matrices (an rdm.csv of its own)."""
    mean = ceiling.mean_of_rdms(rdms, np.ones((1, rdms.shape[0])))[0]
    own = rsa.square_rdm(stimset.rdm)
    return not np.allclose(own, mean, rtol=1e-12, atol=1e-12, equal_nan=True)


def over_ceiling(value: float | None, ceiling: dict, partial: bool) -> dict:
    """The headline as a fraction of what a perfect model could reach against this target: value /
    sqrt(split-half reliability) (`inference.attainable_ratio`). Null, with a reason, where the reliability is
    missing or not positive, and for partial RSA (the ceiling is the raw target's; the residualised model RDM
    has no ceiling of its own)."""
    from audioprobe.metrics.inference import attainable_ratio

    reliability = ceiling.get("value")
    if partial:
        return {"ratio": None, "attainable": None,
                "reason": "partial RSA: the residualised model RDM has no ceiling of its own"}
    if value is None:
        return {"ratio": None, "attainable": None, "reason": "no headline"}
    if ceiling.get("reliable") is False:
        lo, hi = ceiling["interval"]
        return {"ratio": None, "attainable": None,
                "reason": f"unreliable target: the ceiling's interval over listener splits [{lo:.3f}, {hi:.3f}] does "
                          f"not reach {ceiling['reliability_floor']}"}
    if reliability is None or not reliability > 0:
        return {"ratio": None, "attainable": None, "reason": "no positive split-half reliability"}
    out = attainable_ratio(value, reliability)
    return {"ratio": out["ratio"], "attainable": out["attainable"]}


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
    present = np.isfinite(target)
    n_present = int(present.sum())
    mask = None if n_present == target.size else present  # None: a complete target, the original path
    if n_present < 3:
        raise NotApplicableError(f"task {ctx.task!r}: the target RDM of stimulus set {stimset.name!r} has "
                                 f"{n_present} pair(s) present (at least 3 needed for a correlation).")
    if np.ptp(target[present]) == 0:
        raise NotApplicableError(f"task {ctx.task!r}: the target RDM is constant on stimulus set {stimset.name!r} "
                              f"(every pair equally dissimilar); no correlation is defined.")
    layers = acts[params["pooling"]]
    names = list(layers)
    with pearson.small_problem_threads(len(stimset)):  # see rsa_inference.rsa_statistics
        model_rdms = np.stack([rsa.model_rdm(x, params["model_distance"]) for x in layers.values()])
    notes = {}
    control = None
    if params["control"] != "none":
        control_rdm, control_layer = _control_rdm(ctx, params)
        on = slice(None) if mask is None else present  # the regression and its check on the pairs compared
        centred = model_rdms[:, on] - model_rdms[:, on].mean(axis=1, keepdims=True)
        residual = rsa.residualise(model_rdms, control_rdm, mask)
        explained = np.linalg.norm(residual[:, on], axis=1) <= RESIDUAL_FLOOR * np.linalg.norm(centred, axis=1)
        residual[explained] = np.nan
        for k in np.nonzero(explained)[0]:
            notes[names[k]] = "the control RDM explains this layer's RDM entirely: no residual to compare"
        model_rdms = residual
        control = {"model": params["control"], "layer": control_layer,
                   "score_of_control": json_float(rsa.compare_rows(control_rdm[on], target[on],
                                                                   params["comparison"])[0])}
    for k, row in enumerate(model_rdms):
        if names[k] not in notes and not np.all(np.isfinite(row)):
            notes[names[k]] = "undefined distances (a sound's pooled activation is all zeros for this distance)"

    factors = resampled_factors(stimset, params, ctx.task)
    two_factor = "listeners" in factors
    n_listeners = next(iter(listener_responses(stimset, params).values())).shape[0] if two_factor else 0
    on_gpu = ctx.device.startswith("cuda") and rsa.COMPARISONS[params["comparison"]].linear
    out = rsa_inference.rsa_statistics(model_rdms, target, params["comparison"], ctx.seed, params["bootstrap"],
                               params["permutations"], params["cv_splits"], params["ci_level"],
                               listener_targets=response_targets(stimset, params) if two_factor else None,
                               n_listeners=n_listeners, backend=backends.for_device(ctx.device) if on_gpu else None)
    per_layer = []
    for k, name in enumerate(names):
        entry = {"layer": name, "score": json_float(out["score"][k]), "ci": interval(out["ci"][k]),
                 "p_value": json_float(out["p_value"][k])}
        if two_factor:
            entry["dof"] = json_float(np.round(out["dof"][k], 1))
        if name in notes:
            entry["note"] = notes[name]
        per_layer.append(entry)
    if two_factor:  # "per_layer" / "headline": both factors; the one-factor replicates beside them
        layer_reps = {"both": out["bootstrap"], "sounds": out["bootstrap_sounds"], "listeners": out["bootstrap_listeners"]}
        split_reps = {"both": out["cv_bootstrap"], "sounds": out["cv_bootstrap_sounds"],
                      "listeners": out["cv_bootstrap_listeners"]}
    else:
        layer_reps, split_reps = out["bootstrap"], out["cv_bootstrap"]
    head, head_reps = headline(per_layer, names, params, cv_scores=out["cv_scores"], cv_choice=out["cv_choice"],
                               layer_replicates=layer_reps if params["bootstrap"] else None,
                               split_replicates=split_reps if params["bootstrap"] else None,
                               n_sounds=len(stimset), n_listeners=n_listeners if two_factor else None,
                               sound_counts=out["bootstrap_counts"] if params["bootstrap"] else None)
    kept = {"per_layer": out["bootstrap"], **head_reps}
    if two_factor:
        kept.update(per_layer_sounds=out["bootstrap_sounds"], per_layer_listeners=out["bootstrap_listeners"])
    ctx.keep_replicates(out["bootstrap_counts"], "sounds", listeners=out.get("listener_counts"),
                        pair_statistic=pair_statistic_arrays(per_layer),
                        **kept)
    with pearson.small_problem_threads(len(stimset)):
        ceiling = noise_ceiling(stimset, params, ctx.plan.ceiling(), device=ctx.device)
    what = {"kl": "symmetric KL of response distributions", "js": "Jensen-Shannon divergence of response "
            "distributions", "modal": "0/1 distance of modal responses", "physical": "0/1 distance of physical "
            "labels", "rdm": "the stimulus set's dissimilarity matrix"}[params["target"]]
    dims = dimensions_of(params)
    metric = (f"{params['comparison']} correlation between the model RDM ({params['model_distance']} distance of "
              f"{params['pooling']}-pooled activations"
              f"{', residualised on the ' + params['control'] + ' RDM' if control else ''}) and the target RDM "
              f"({what}{' averaged over ' + ', '.join(dims) if len(dims) > 1 else ''})")
    rdms = keep_rdms(ctx, names, model_rdms, target, head["layer"], control)
    measures = (timbre_measures(params["measures"], names, model_rdms, target, out["bootstrap_counts"], head["layer"],
                                params["ci_level"]) if params["measures"] else None)
    statistics = {
        "seed": ctx.seed, "bootstrap": params["bootstrap"], "bootstrap_unit": "sounds (pairs of a sound with its "
        "own copy excluded)", "ci_level": params["ci_level"], "ci_method": "percentile",
        "permutations": params["permutations"], "p_value": "one-sided Mantel test (rows and columns of the "
        "target permuted together), (1 + #null >= observed) / (1 + permutations)",
        "cv_splits": params["cv_splits"], "resampled": factors,
    }
    if two_factor:
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
    return {
        "metric": metric,
        "per_layer": per_layer,
        "headline": head,
        **({"noise_ceiling": ceiling} if control is None else {
            "noise_ceiling": {"value": None, "reason": "partial RSA: the residualised model RDM has no ceiling of its "
                                                       "own; the raw target's reliability is in target_reliability"},
            "target_reliability": ceiling}),
        "headline_over_ceiling": over_ceiling(head["value"], ceiling, control is not None),
        "control": control,
        "rdms": rdms,
        **({"measures": measures} if measures else {}),
        "statistics": statistics,
        "n_sounds": len(stimset),
        "n_pairs": n_present,
        **({} if mask is None else {
            "n_pairs_missing": int(target.size - n_present),
            "missing_pairs": f"{target.size - n_present} of {target.size} pairs have no value in the target (cells "
                             f"not rated); every statistic (score, bootstrap, Mantel test, cross-validated headline, "
                             f"partial RSA) uses the {n_present} pairs present"}),
        **synthetic_caveat(stimset),
    }


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


class NoiseCeiling(TypedDict):
    value: Annotated[float | None, "split-half reliability of the target over listeners, Spearman-Brown "
                                   "corrected (null: none, see reason)"]
    reason: NotRequired[Annotated[str, "why there is no split-half ceiling"]]
    split_half_r: NotRequired[Annotated[float | None, "mean split-half correlation before correction"]]
    split_half_r_sd: NotRequired[Annotated[float | None, "its standard deviation over splits"]]
    n_splits: NotRequired[Annotated[int, "random splits of the listeners"]]
    method: NotRequired[Annotated[str, "the split-half method, in words"]]
    n_listeners: NotRequired[Annotated[int, "listeners whose responses build the target"]]
    lower_bound: NotRequired[Annotated[float | None, "leave-one-listener-out lower bound: mean over listeners of "
                                                     "the comparison of the listener's own target with the target of "
                                                     "the other listeners (Nili et al. 2014)"]]
    upper_bound: NotRequired[Annotated[float | None, "upper bound: the same with the target of all listeners, the "
                                                     "listener included"]]
    bounds_method: NotRequired[Annotated[str, "the bounds' method, in words"]]
    bounds_reason: NotRequired[Annotated[str, "why the bounds are null"]]
    interval: NotRequired[Annotated[list[float | None], "2.5th and 97.5th percentiles of the Spearman-Brown "
                                                        "corrected split-half correlations over the random splits"]]
    reliable: NotRequired[Annotated[bool, "the interval's lower end reaches reliability_floor: only then is a "
                                          "score read against this target's ceiling"]]
    reliability_floor: NotRequired[Annotated[float, "the floor (RELIABILITY_FLOOR; docs/metrics.md)"]]
    dimension: NotRequired[Annotated[str, "label_reliability: the perceived dimension measured (its modal target)"]]


class CeilingFractions(TypedDict):
    ratio: Annotated[float | None, "headline value / attainable: the headline as a fraction of the correlation a "
                                   "perfect model would reach against this noisy target (null: see reason)"]
    attainable: Annotated[float | None, "sqrt(noise_ceiling.value): the correlation expected between the target and "
                                        "its true (noise-free) values, the most any model can reach (classical test "
                                        "theory)"]
    reason: NotRequired[Annotated[str, "why ratio is null (no positive reliability; an unreliable target; partial RSA)"]]


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


def _result_params(result: dict) -> dict:
    return result["task"].get("config", {}).get("params", {})


def _is_partial(result: dict) -> bool:
    return _result_params(result).get("control", "none") not in ("none", "", None)


def _result_dimensions(result: dict) -> tuple[str, ...]:
    dims = _result_params(result).get("dimensions", ())
    return (dims,) if isinstance(dims, str) else tuple(dims)


def _y_label(result: dict) -> str:
    name = _result_params(result).get("comparison", "pearson")
    return f"RSA ({rsa.COMPARISONS[name].label if name in rsa.COMPARISONS else name})"


def _ceiling_value(result: dict) -> float | None:
    return (result["scores"].get("noise_ceiling") or {}).get("value")


def _tables_by_target(results: list[dict]) -> list[tuple[str, list[str]]]:
    """One table per kind of target, in `TARGET_HEADINGS` order; in each, single dimensions before averages."""
    by_target: dict[str, dict[str, dict]] = {}
    for r in results:
        by_target.setdefault(_result_params(r).get("target", "?"), {}).setdefault(r["task"]["name"], r)
    order = [t for t in TARGET_HEADINGS if t in by_target] + sorted(set(by_target) - set(TARGET_HEADINGS))
    return [(TARGET_HEADINGS.get(target, f"**Target** (`{target}`)"),
             sorted(by_target[target], key=lambda t: (len(_result_dimensions(by_target[target][t])) > 1, t)))
            for target in order]


PRESENTATION = Presentation(
    experiments=(
        Experiment("rsa", "RSA", "Representational similarity (RSA)",
                   description="How well the distances between sounds in a layer match the target's distances "
                               "(correlation of the two dissimilarity matrices).",
                   intro="How closely does each layer's representational geometry follow the target's? Read the "
                         "height of each profile against the noise ceiling, and where in depth it peaks.",
                   reference="ceiling", figures=("rsa-perceived", "rsa-perceived-vs-physical", "rsa-matrix",
                                                 "profiles"), order=10),
        Experiment("rsa-partial", "Partial RSA", "Partial RSA (a control model's RDM regressed out)",
                   description="RSA on what is left of a layer's distances once the control model's distances "
                               "({controls}) are regressed out (Bost et al. 2024, appendix B).",
                   intro="What is left of each layer's alignment once the control model's ({control}) geometry is "
                         "regressed out? A profile near zero says the control explains the alignment.",
                   reference="ceiling", figures=("rsa-perceived", "rsa-perceived-vs-physical", "rsa-matrix",
                                                 "profiles"), order=11),
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
