"""`abx`: ABX discriminability of a dimension's categories (Schatz et al. 2013)."""

from __future__ import annotations

import warnings
from typing import Annotated, Any

import numpy as np

from audioprobe.errors import AudioprobeError, NotApplicableError
from audioprobe.metrics import abx, rsa, stats
from audioprobe.pooling import POOLINGS
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes.common import (LABEL_SOURCES, STAT_PARAMS, Scores, Activations, EvalContext, Param, TaskType,
                                         category_codes, headline, interval, json_float, synthetic_caveat, register_task_type,
                                         sound_labels)


ABX_PARAMS = {
    "dimension": Param(str, "material", "Dimension whose categories are discriminated."),
    "by": Param(str, "", "Dimension whose value A, B and X share (empty: none)."),
    "label_source": Param(str, "perceived", "perceived: modal listener response (tied sounds left out); "
                                            "physical: label column.", choices=LABEL_SOURCES),
    "model_distance": Param(str, "cosine", "Distance between pooled activations.", choices=rsa.MODEL_DISTANCES),
    "pooling": Param(str, "mean", "Pooling over frames.", choices=POOLINGS),
    **STAT_PARAMS,
}


def _check_abx(where: str, params: dict[str, Any]) -> None:
    if params["by"] and params["by"] == params["dimension"]:
        raise AudioprobeError(f"{where}: key 'by' must name another dimension than {params['dimension']!r}.")


def evaluate_abx(acts: Activations, stimset: StimulusSet, params: dict[str, Any], ctx: EvalContext) -> dict:
    from scipy.spatial.distance import squareform

    labels, cats = category_codes(sound_labels(stimset, params["dimension"], params["label_source"], ctx.task))
    by, by_values = (None, [])
    if params["by"]:
        by, by_values = category_codes(sound_labels(stimset, params["by"], params["label_source"], ctx.task))
        labels = np.where(by >= 0, labels, -1)
    cells = abx.abx_cells(labels, by)
    if not cells:
        raise NotApplicableError(f"task {ctx.task!r}: no two categories of {params['dimension']!r} with enough sounds "
                              f"(2 of one, 1 of the other{' within a value of ' + params['by'] if by is not None else ''})"
                              f" on stimulus set {stimset.name!r}.")
    n = len(stimset)
    rng_boot, _, rng_cv, _ = stats.streams(ctx.seed)
    blocks = [np.ones((1, n))]
    if params["bootstrap"]:
        counts = stats.bootstrap_counts(rng_boot, n, params["bootstrap"])
        halves = stats.random_halves(rng_boot, n, params["bootstrap"])
        blocks += [counts, counts * halves, counts * ~halves]
    if params["cv_splits"]:
        cv_halves = stats.random_halves(rng_cv, n, params["cv_splits"])
        blocks += [cv_halves, ~cv_halves]
    weights = np.concatenate(blocks).astype(np.float64)
    layers = acts[params["pooling"]]
    names = list(layers)
    scores = []
    for x in layers.values():
        d = squareform(rsa.model_rdm(x, params["model_distance"]), checks=False)
        scores.append(abx.combine(cells, np.stack([abx.cell_errors(d, c, weights)
                                                   for c in cells])))
    scores = np.stack(scores, axis=1)  # [weights, layers]
    point, rest = scores[0], scores[1:]
    B = params["bootstrap"]
    out = {}
    per_layer = []
    for k, name in enumerate(names):
        entry = {"layer": name, "score": json_float(point[k]), "ci": None, "p_value": None}
        if B:
            boot = rest[:B, k]
            entry["ci"] = interval(stats.percentile_interval(boot[:, None], params["ci_level"])[0])
            ok = boot[np.isfinite(boot)]
            entry["p_value"] = json_float((1 + np.sum(ok >= 0.5)) / (1 + ok.size)) if ok.size else None
        per_layer.append(entry)
    if params["cv_splits"]:
        s = params["cv_splits"]
        cv = rest[3 * B:]
        # lower error is better: select on the negated error, report the error
        held, out["cv_choice"] = stats.cross_validated_selection(-cv[:s], -cv[s:])
        out["cv_scores"] = -held
        out["cv_bootstrap"] = np.array([])
        if B:
            held_b, _ = stats.cross_validated_selection(-rest[B:2 * B], -rest[2 * B:3 * B])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out["cv_bootstrap"] = -np.nanmean(held_b.reshape(2, -1), axis=0)
    if B:
        ctx.keep_replicates(counts, "sounds", per_layer=rest[:B],
                            **({"headline": out["cv_bootstrap"]} if out.get("cv_bootstrap", np.array([])).size else {}))
    return {
        "metric": f"ABX error between {params['label_source']} {params['dimension']} categories"
                  f"{' within each ' + params['by'] + ' value' if by is not None else ''} ({params['model_distance']} "
                  f"distance of {params['pooling']}-pooled activations; ties count half; chance 0.5, lower is better)",
        "lower_is_better": True,
        "chance": 0.5,
        "per_layer": per_layer,
        "headline": headline(per_layer, names, out, params, lower_is_better=True),
        "categories": cats,
        "by_values": by_values,
        "n_sounds_used": int((labels >= 0).sum()),
        "n_triplets": int(sum(c.idx_a.size * (c.idx_a.size - 1) * c.idx_b.size for c in cells)),
        "statistics": {"seed": ctx.seed, "bootstrap": B, "bootstrap_unit": "sounds (X paired with its own copy "
                       "as A excluded)", "ci_level": params["ci_level"], "ci_method": "percentile",
                       "p_value": "bootstrap test against chance: (1 + #resamples with error >= 0.5) / (1 + "
                       "resamples), one-sided", "cv_splits": params["cv_splits"]},
        **synthetic_caveat(stimset),
    }


class ABXScores(Scores):
    lower_is_better: Annotated[bool, "true: the score is an error rate"]
    chance: Annotated[float, "the error of a model that cannot tell the categories apart (0.5)"]
    categories: Annotated[list[str], "categories of the discriminated dimension"]
    by_values: Annotated[list[str], "values of the `by` dimension that A, B and X share (empty: none)"]
    n_sounds_used: Annotated[int, "sounds with a label"]
    n_triplets: Annotated[int, "(A, B, X) triplets scored"]


register_task_type(TaskType("abx", ABX_PARAMS, evaluate_abx, scores_schema=ABXScores, check=_check_abx))
