"""The two RDMs an RSA compares, and the ones a result keeps.

The target (`target_rdm`: listeners' responses, physical labels or the set's own matrix; checked by
`checked_target`: enough pairs present, not constant), each layer's RDM (`layer_rdms`; partial RSA:
its residual after a control model's RDM, with a note where the control explains it entirely), and
references to the headline layer's RDM and the target stored for the report's heatmaps (`keep_rdms`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audioprobe.errors import AudioprobeError, NotApplicableError
from audioprobe.metrics import geometry, pearson, split_pearson, targets
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes.common import EvalContext, dimensions_of, json_float, require_dimensions


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


def checked_target(stimset: StimulusSet, params: dict[str, Any], task: str) -> tuple[np.ndarray, np.ndarray | None]:
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


#: a residual RDM smaller than this fraction of the layer's RDM (norms) is the control itself
RESIDUAL_FLOOR = 1e-8  # well above float64 rounding of a regression on ~1e4 pairs (~1e-13)


def explained_by_control(model_rdms: np.ndarray, residuals: np.ndarray) -> np.ndarray:
    """`[n_layers]` True where a layer's residual after the control (`[n_layers, n_pairs]`, on the pairs compared) is
    below RESIDUAL_FLOOR of the layer's own variation: its RDM minus its own mean (the regression has an intercept,
    so an offset of one layer, or of another, never decides it)."""
    centred = model_rdms - model_rdms.mean(axis=1, keepdims=True)
    return np.linalg.norm(residuals, axis=1) <= RESIDUAL_FLOOR * np.linalg.norm(centred, axis=1)


def layer_rdms(layers: dict[str, np.ndarray], stimset: StimulusSet, params: dict[str, Any], ctx: EvalContext,
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
        residual = geometry.residualise(model_rdms, control_rdm, mask)
        explained = explained_by_control(model_rdms[:, on], residual[:, on])
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


def _control_rdm(ctx: EvalContext, params: dict[str, Any]) -> tuple[np.ndarray, str]:
    """The control model's RDM (partial RSA) and its layer's name: `control_layer`, or its only layer."""
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
