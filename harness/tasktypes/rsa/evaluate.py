"""`rsa`'s evaluation: a task's statistics per layer and its headline, assembled into `scores`.

`evaluate_rsa` reads the two RDMs (`rdms.py`), decides what the bootstrap resamples (sounds, or
sounds and listeners: `resampled_factors`), computes every statistic in one call
(`rsa_inference.rsa_statistics`), chooses the headline (`headline.headline`) and keeps its
replicates, and adds the noise ceiling, the optional measures and the words saying how each number
was made (`_metric_text`, `_statistics_block`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audioprobe.errors import NotApplicableError
from audioprobe.metrics import backends, geometry, pearson, rsa_inference
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes.common import (
    Activations,
    EvalContext,
    dimensions_of,
    interval,
    json_float,
    synthetic_caveat,
)
from audioprobe.tasktypes.headline import headline, pair_statistic_arrays
from audioprobe.tasktypes.reliability import listener_responses, noise_ceiling, over_ceiling, response_targets
from audioprobe.tasktypes.rsa.measures import timbre_measures
from audioprobe.tasktypes.rsa.params import MIN_RESAMPLED_LISTENERS
from audioprobe.tasktypes.rsa.rdms import checked_target, keep_rdms, layer_rdms


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


def evaluate_rsa(acts: Activations, stimset: StimulusSet, params: dict[str, Any], ctx: EvalContext) -> dict:
    """The `scores` of an `rsa` task on one model's activations (`schema.RSAScores`)."""
    target, mask = checked_target(stimset, params, ctx.task)
    n_present = int(np.isfinite(target).sum())
    names = list(acts[params["pooling"]])
    model_rdms, control, notes = layer_rdms(acts[params["pooling"]], stimset, params, ctx, target, mask)
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


def _per_layer(names: list[str], out: dict, notes: dict[str, str], two_factor: bool) -> list[dict]:
    """Each layer's entry of `per_layer`: score, interval, p-value (two-factor: the t interval's dof), note."""
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
