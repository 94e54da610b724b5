"""The headline of a result: one number per (model, task) chosen among the layers without the optimism of
picking the best on the same sounds, its interval, and the replicates that carry it to paired comparisons.

With several layers, the cross-validated score over random half-splits of the sounds (the layer picked on
one half, scored on the other); with one, that layer's score; with cv_splits 0, the best layer (optimistic,
said so). Every task type calls `headline`; `pair_statistic_arrays` says which of its replicates are smooth
statistics of the sound pairs.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from audioprobe.tasktypes.common import interval, json_float


def _stack_kinds(reps) -> dict[str, np.ndarray]:
    """Replicates as {"": both or the only kind, "_sounds": ..., "_listeners": ...} (the suffixes of their names)."""
    if isinstance(reps, dict):
        return {"": reps["both"], "_sounds": reps["sounds"], "_listeners": reps["listeners"]}
    return {"": reps}


def _as_design(kinds: dict[str, np.ndarray], cv_splits: int | None, sound_counts: np.ndarray | None = None):
    """The `inference` design of stacked kinds: one factor or dual; split replicates when 2-D per score;
    a statistic over sound pairs (`inference.OverPairs`) when the sounds' counts are given."""
    from audioprobe.metrics.inference import OverPairs, Splits

    def wrap(a):
        return Splits(a, cv_splits) if a.ndim == 2 else a

    if len(kinds) == 1:
        design = wrap(kinds[""])
    else:
        design = {"both": wrap(kinds[""]), "sounds": wrap(kinds["_sounds"]), "listeners": wrap(kinds["_listeners"])}
    return design if sound_counts is None else OverPairs(design, sound_counts)


def _layer_scores(per_layer: list[dict]) -> np.ndarray:
    """Each layer's score, NaN where undefined."""
    return np.array([np.nan if e["score"] is None else e["score"] for e in per_layer], dtype=np.float64)


def pair_statistic_arrays(per_layer: list[dict]) -> list[str]:
    """The replicate arrays of a score over sound pairs (RSA) whose variance counts the pairs' own noise once
    (`inference.OverPairs`): every layer's score, and the headline only when it is the only layer's. A
    headline chosen among layers is not a smooth function of the pairs: the choice's noise is not linear
    in the counts either, and removing the residual made its intervals too narrow under a structured null
    (docs/metrics.md, "The pairs' own noise"); it keeps the bootstrap's variance (conservative)."""
    return ["per_layer", "headline"] if np.isfinite(_layer_scores(per_layer)).sum() == 1 else ["per_layer"]


def headline(per_layer: list[dict], names: list[str], params: dict[str, Any], *, cv_scores=None, cv_choice=None,
             layer_replicates=None, split_replicates=None, n_sounds: int | None = None, n_listeners: int | None = None,
             lower_is_better: bool = False, sound_counts: np.ndarray | None = None,
             proportion_n: float | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """The headline score, how its layer was chosen, its interval, and the replicates that carry it.

    - One layer with a score: no choice to make, the headline is that layer's score and its replicates
      are the layer's (cross-validating it would only add the noise of half-splits).
    - cv_splits > 0: the mean held-out score over the half-splits (cv_scores, cv_choice: per half of each
      split, `layer_selection.cross_validated_selection`); the layer picked most often, with its frequency. Its
      replicates are `split_replicates` `[n_resamples, K]` (the same statistic on K fixed splits of each
      resample; `inference.Splits`).
    - cv_splits 0: the best layer on all sounds (optimistic); its replicates are the best layer of each
      resample (the same statistic, the choice redone in every resample).

    layer_replicates `[n_resamples, n_layers]` (and split_replicates) are arrays, or dual mappings
    ("both", "sounds", "listeners") for a two-factor bootstrap. sound_counts `[n_resamples, n_sounds]`:
    the scores are statistics over sound pairs drawn with these counts; the interval of the only layer's
    headline then counts the pairs' noise once (`pair_statistic_arrays`). The interval is the t interval of
    `inference.contrast_statistics` on those replicates (n_sounds, n_listeners: the resampled units), the
    same computation audioprobe-compare makes, so a headline has one interval everywhere. proportion_n: the
    score is a weighted proportion (accuracy, balanced accuracy) of this effective size at most; its
    interval is then `headline_proportion_interval`'s (Wilson on the replicates' effective size), which
    audioprobe-compare applies too.

    Returns (the `headline` block, the replicates to keep: "headline" and, two-factor, "headline_sounds"
    and "headline_listeners"; empty without bootstrap).
    """
    scores = _layer_scores(per_layer)
    defined = np.flatnonzero(np.isfinite(scores))
    pairs = sound_counts if "headline" in pair_statistic_arrays(per_layer) else None
    way = "lowest-error" if lower_is_better else "best"
    kinds: dict[str, np.ndarray] = {}
    layers = _stack_kinds(layer_replicates) if layer_replicates is not None else {}
    cv = params["cv_splits"]
    if not defined.size:
        return {"value": None, "layer": None, "ci": None, "selection": "no layer has a finite score"}, {}
    if defined.size == 1:
        k = int(defined[0])
        head = {"value": json_float(scores[k]), "layer": names[k],
                "selection": "the only layer with a score: no layer is chosen"}
        kinds = {suffix: a[:, k] for suffix, a in layers.items()}
        cv = None
    elif cv > 0:
        ok = np.isfinite(cv_scores) & (cv_choice >= 0)
        if not ok.any():
            return {"value": None, "layer": None, "ci": None,
                    "selection": "cross-validated over sounds (no finite held-out score)"}, {}
        freq = np.bincount(cv_choice[ok], minlength=len(names)) / ok.sum()
        best = int(np.argmax(freq))
        head = {"value": json_float(np.mean(cv_scores[ok])), "layer": names[best], "layer_frequency": json_float(freq[best]),
                "selection": f"cross-validated over sounds: {way} layer picked on one half, scored on the other"}
        kinds = _stack_kinds(split_replicates) if split_replicates is not None else {}
    else:
        head, kinds = _best_on_all_sounds(scores, defined, names, layers, lower_is_better, way)
        cv = None
    head["ci"] = None
    if kinds and kinds[""].size:
        _add_interval(head, kinds, cv, pairs, sound_counts is not None, params["ci_level"], n_sounds, n_listeners,
                      proportion_n)
    return head, {"headline" + suffix: a for suffix, a in kinds.items()}


def headline_proportion_interval(value: float, se: float, dof: float | None, n_max: float, level: float) -> list:
    """The interval of a headline that is a proportion (`intervals.proportion_interval`): the one place the
    task's result and audioprobe-compare's tables compute it."""
    from audioprobe.metrics import intervals

    ci = intervals.proportion_interval(value, se ** 2, np.inf if dof is None else dof, n_max, level)
    return interval(ci)


def _best_on_all_sounds(scores: np.ndarray, defined: np.ndarray, names: list[str], layers: dict[str, np.ndarray],
                        lower_is_better: bool, way: str) -> tuple[dict, dict[str, np.ndarray]]:
    """The headline with cv_splits 0: the best layer on all sounds, and as its replicates the best layer of
    each resample (the choice redone in every resample, so that the interval carries its optimism)."""
    pick = int(defined[np.argmin(scores[defined]) if lower_is_better else np.argmax(scores[defined])])
    head = {"value": json_float(scores[pick]), "layer": names[pick],
            "selection": f"{way} layer on all sounds (not cross-validated: optimistic; its interval redoes the "
                         f"choice in every resample)"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample with no defined layer: NaN, left out
        kinds = {suffix: (np.nanmin if lower_is_better else np.nanmax)(a, axis=1) for suffix, a in layers.items()}
    return head, kinds


def _add_interval(head: dict, kinds: dict[str, np.ndarray], cv: int | None, pairs: np.ndarray | None,
                  over_pairs: bool, level: float, n_sounds: int | None, n_listeners: int | None,
                  proportion_n: float | None = None) -> None:
    """Add the headline's interval, se, dof and method, from its replicates (`kinds`, stacked by
    `_stack_kinds`) by `inference.contrast_statistics`: the computation audioprobe-compare makes.
    pairs: the sounds' counts when the pairs' noise is counted once; over_pairs: whether the scores are
    statistics over sound pairs at all; proportion_n: a proportion's largest effective size (its interval
    is then `headline_proportion_interval`'s, not the t interval)."""
    from audioprobe.metrics import inference

    st = inference.contrast_statistics(head["value"], _as_design(kinds, cv, pairs), n_sounds=n_sounds,
                                       n_listeners=n_listeners, level=level)
    head.update(ci=st["ci"] if None not in (st["ci"] or [None]) else None, se=st["se"], dof=st["dof"],
                ci_method=_headline_ci_method(len(kinds) > 1, kinds[""].ndim == 2,
                                              None if not over_pairs else pairs is not None,
                                              proportion=proportion_n is not None))
    if proportion_n is not None and st["se"] is not None:
        head["n_effective_max"] = json_float(proportion_n)
        head["ci"] = headline_proportion_interval(head["value"], st["se"], st["dof"], proportion_n, level)


def _headline_ci_method(dual: bool, splits: bool, pairs: bool | None = None, proportion: bool = False) -> str:
    """pairs: None for a statistic not over sound pairs; True / False: the pairs' noise counted once / left
    as the bootstrap counts it (a headline chosen among layers). proportion: Wilson's interval on the
    effective size in place of the t interval."""
    variance = ("the dual-bootstrap variance (Schütt et al. 2023) of its replicates, Satterthwaite dof" if dual else
                "the bootstrap variance of its replicates x n/(n-1), n - 1 dof")
    noise = ("; replicates on fixed half-splits of each resample, their split noise removed (two-way layout of "
             "resamples x splits)" if splits else "")
    pair_noise = ("; the sound pairs' own noise, which a bootstrap of sounds counts three times, counted once (the "
                  "replicates' residual on the resamples' counts, docs/metrics.md)" if pairs else
                  "; the sound pairs' own noise left as the bootstrap counts it (three times: conservative), as the "
                  "layer choice is not a smooth function of the pairs (docs/metrics.md)" if pairs is False else "")
    kind = ("Wilson interval on the effective sample size n_eff = p (1 - p) / se^2 (n_effective_max where p is 0 or "
            "1 or se is 0), t(dof) quantile" if proportion else "t interval: value -/+ t(dof) se")
    return f"{kind}, se from {variance}{noise}{pair_noise}"
