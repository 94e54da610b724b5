"""Task types: each turns pooled activations and a stimulus set into per-layer scores.

A type declares the parameters its YAML files may set (with defaults and allowed values) and an
`evaluate` that reads the stimulus set's labels or judgments, calls metric functions on arrays
(`rsa.py`, ...) and returns the `scores` block of a result. Metrics never see a model; this
module never sees one either, only activation arrays.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from audioprobe import rsa
from audioprobe.errors import AudioprobeError
from audioprobe.extract import POOLINGS
from audioprobe.stimuli import StimulusSet
from audioprobe.taskconfig import Param

#: layer -> `[n_sounds, dim]` for each pooling the task asked for
Activations = dict[str, dict[str, np.ndarray]]


@dataclasses.dataclass
class EvalContext:
    """What a task's evaluation may use besides the activations and the stimulus set."""

    task: str  # task name, for error messages
    seed: int
    rng: np.random.Generator
    #: (model name, pooling) -> layer -> `[n_sounds, dim]` of a control model on the same sounds
    #: (e.g. `logmel` for partial RSA), extracted through the same cache.
    control: Callable[[str, str], dict[str, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class TaskType:
    name: str
    params: dict[str, Param]
    #: (activations by pooling, stimulus set, params, context) -> the result's `scores` block
    evaluate: Callable[[Activations, StimulusSet, dict[str, Any], EvalContext], dict]
    #: poolings of the model's activations the task reads
    poolings: Callable[[dict[str, Any]], list[str]] = lambda params: [params.get("pooling", "mean")]
    check: Callable[[str, dict[str, Any]], None] | None = None

    def check_params(self, where: str, params: dict[str, Any]) -> None:
        if self.check is not None:
            self.check(where, params)


def _dimensions(params: dict[str, Any]) -> list[str]:
    dims = params["dimensions"]
    return [dims] if isinstance(dims, str) else list(dims)


def _require_dimensions(stimset: StimulusSet, dims: list[str], task: str) -> None:
    for d in dims:
        if d not in stimset.dimensions:
            raise AudioprobeError(
                f"task {task!r} needs judgments on dimension {d!r}, but stimulus set {stimset.name!r} "
                f"has {', '.join(stimset.dimensions) or 'none'}. Choose a task for this set or another set."
            )


def headline_max(per_layer: list[dict]) -> dict:
    """The best layer's score. Optimistic: the same data choose and score the layer."""
    valid = [e for e in per_layer if e["score"] is not None and np.isfinite(e["score"])]
    if not valid:
        return {"value": None, "layer": None, "selection": "max over layers (no finite score)"}
    best = max(valid, key=lambda e: e["score"])
    return {"value": best["score"], "layer": best["layer"],
            "selection": "max over layers (not cross-validated: optimistic)"}


# ---------------------------------------------------------------------------------------------
# rsa: Bost et al. (2024), experiment 1


RSA_PARAMS = {
    "dimensions": Param((str, list), doc="Judged dimension(s); several: their RDMs are averaged."),
    "target": Param(str, "kl", "Target RDM from human responses.", choices=("kl",)),
    "smoothing": Param(float, 0.5, "Added to every category count before KL.",
                       check=lambda v: None if v > 0 else "must be > 0 (KL is undefined for empty categories)"),
    "model_distance": Param(str, "cosine", "Distance between pooled activations.", choices=("cosine",)),
    "comparison": Param(str, "pearson", "Correlation of the upper triangles.", choices=("pearson",)),
    "pooling": Param(str, "mean", "Pooling over frames.", choices=POOLINGS),
}


def target_rdm(stimset: StimulusSet, params: dict[str, Any], task: str) -> np.ndarray:
    """The human RDM of a task: symmetric KL per dimension, averaged over dimensions."""
    dims = _dimensions(params)
    _require_dimensions(stimset, dims, task)
    rdms = [rsa.symmetric_kl_rdm(stimset.judgments[d], params["smoothing"]) for d in dims]
    return np.mean(rdms, axis=0)


def evaluate_rsa(acts: Activations, stimset: StimulusSet, params: dict[str, Any], ctx: EvalContext) -> dict:
    target = target_rdm(stimset, params, ctx.task)
    layers = acts[params["pooling"]]
    model_rdms = np.stack([rsa.cosine_rdm(x) for x in layers.values()])
    scores = rsa.pearson_rows(model_rdms, target)
    per_layer = [{"layer": name, "score": None if not np.isfinite(s) else float(s)}
                 for name, s in zip(layers, scores)]
    return {
        "metric": "pearson r between the upper triangles of the model RDM (cosine) and the human RDM "
                  "(symmetric KL of smoothed response distributions)",
        "per_layer": per_layer,
        "headline": headline_max(per_layer),
        "n_pairs": int(target.size),
    }


def _check_rsa(where: str, params: dict[str, Any]) -> None:
    dims = params["dimensions"]
    if isinstance(dims, list) and (not dims or not all(isinstance(d, str) for d in dims)):
        raise AudioprobeError(f"{where}: key 'dimensions' must be a dimension name or a non-empty list of names.")


TASK_TYPES: dict[str, TaskType] = {
    "rsa": TaskType("rsa", RSA_PARAMS, evaluate_rsa, check=_check_rsa),
}
