"""How far the listeners agree with each other: what every score against their judgments is read against.

The noise ceiling of an RSA target (split-half reliability over random halves of the listeners,
Spearman-Brown corrected, and the leave-one-listener-out bounds, for response targets and for sets of
per-listener matrices), the reliability of a perceived label that a transfer or ABX task uses, and the
share of the attainable correlation a headline reaches. Shared by every task type; the arrays are
`metrics.ceiling`'s.
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired, TypedDict

import numpy as np

from audioprobe.metrics import backends, ceiling, geometry, pearson, resampling, targets
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes.common import dimensions_of, json_float

HUMAN_TARGETS = ("kl", "js", "modal")  # built from listener responses: a noise ceiling exists
#: random split halves of the listeners for a ceiling: the RSA tasks' default and the labels' reliability
CEILING_SPLITS = 100

#: A target is reliable when the lower end of its ceiling's interval over listener splits (the 2.5th
#: percentile of the Spearman-Brown corrected split-half correlations) reaches this. A judgment call,
#: documented in docs/metrics.md: below 0.1 the attainable correlation sqrt(reliability) is under 0.32
#: and moves by a third or more between splits, so a share of it, or any score against that target,
#: says more about the listeners' disagreement than about the model.
RELIABILITY_FLOOR = 0.1


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


def response_targets(stimset: StimulusSet, params: dict[str, Any], responses: dict[str, np.ndarray]):
    """weights `[m, n_listeners]` (how often each listener is drawn) -> `[m, n_pairs]`: the task's target
    rebuilt from those listeners' responses (`listener_responses`; `targets.rebuilt_targets`)."""
    return targets.rebuilt_targets(responses, _n_categories(stimset, params), params["target"], params["smoothing"])


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


#: `noise_ceiling`'s default for `responses`: read them from the set (`listener_responses`)
FROM_SET: Any = object()


def noise_ceiling(stimset: StimulusSet, params: dict[str, Any], rng: np.random.Generator, device: str = "cpu",
                  responses: dict[str, np.ndarray] | None = FROM_SET) -> dict:
    """Split-half reliability of the target over listeners, Spearman-Brown corrected (or why none),
    and the leave-one-listener-out lower and upper bounds. device cuda: comparisons of formed RDMs
    (Spearman, or targets without factors) on the GPU. responses: the task's `listener_responses`, where the
    caller has them already (an evaluation builds them once)."""
    kind, dims, n_splits = params["target"], dimensions_of(params), params["ceiling_splits"]
    if kind == "rdm":
        return rdm_noise_ceiling(stimset, params, rng)
    if kind not in HUMAN_TARGETS:
        return {"value": None, "reason": f"target {kind!r} is not built from listener responses"}
    responses = listener_responses(stimset, params) if responses is FROM_SET else responses
    if responses is None:
        return {"value": None, "reason": "the stimulus set has no per-listener responses (responses.csv)"}
    paired_rows = backends.for_device(device).paired_rows
    compare = lambda a, b: paired_rows(a, b, params["comparison"])  # noqa: E731
    n_categories = _n_categories(stimset, params)
    # Pearson on a low-rank target: the same correlations from the factors, without forming RDMs
    factored = params["comparison"] == "pearson" and kind in targets.FACTORED
    factors = (lambda counts: targets.factors(kind, counts, dims, params["smoothing"])) if factored else None

    counts_of = targets.drawn_counts(responses, n_categories)

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
        lambda: ceiling.leave_one_out_ceiling(response_targets(stimset, params, responses), responses[dims[0]].shape[0], compare,
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
    params = {"target": "modal", "dimensions": [dimension], "comparison": "pearson",
              "smoothing": targets.DEFAULT_SMOOTHING, "ceiling_splits": CEILING_SPLITS}
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
    rdms = np.stack([geometry.square_rdm(m) for m in stimset.listener_rdms.values()])
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
    own = geometry.square_rdm(stimset.rdm)
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
