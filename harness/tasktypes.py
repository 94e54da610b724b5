"""Task types: each turns pooled activations and a stimulus set into per-layer scores.

A type declares the parameters its YAML files may set (with defaults and allowed values) and an
`evaluate` that reads the stimulus set's labels or judgments, calls metric functions on arrays
(`rsa.py`, ...) and returns the `scores` block of a result. Metrics never see a model; this
module never sees one either, only activation arrays.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Callable

import numpy as np

from audioprobe import abx, rsa, stats, transfer
from audioprobe.errors import AudioprobeError, NotApplicableError
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
            raise NotApplicableError(
                f"task {task!r} needs judgments on dimension {d!r}, but stimulus set {stimset.name!r} "
                f"has {', '.join(stimset.dimensions) or 'none'}. Choose a task for this set or another set."
            )


def _json_float(value) -> float | None:
    """A float for the result file, or None where undefined (the writer forbids NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def _interval(pair) -> list | None:
    lo, hi = (_json_float(v) for v in pair)
    return None if lo is None or hi is None else [lo, hi]


def _positive_int(v):
    return None if v >= 0 else "must be >= 0 (0 turns this statistic off)"


def _level(v):
    return None if 0.5 <= v < 1 else "must be in [0.5, 1), e.g. 0.95"


#: statistics keys shared by every task type that resamples sounds
STAT_PARAMS = {
    "bootstrap": Param(int, 1000, "Bootstrap resamples of the sounds for intervals (0: off).", check=_positive_int),
    "ci_level": Param(float, 0.95, "Coverage of the percentile bootstrap intervals.", check=_level),
    "cv_splits": Param(int, 100, "Random half splits of the sounds for the cross-validated headline (0: best "
                                 "layer, optimistic).", check=_positive_int),
}


def cv_headline(names: list[str], cv_scores: np.ndarray, cv_choice: np.ndarray, cv_bootstrap: np.ndarray,
                level: float, lower_is_better: bool = False) -> dict:
    """The headline: the cross-validated score, the most often chosen layer and its interval."""
    ok = np.isfinite(cv_scores) & (cv_choice >= 0)
    if not ok.any():
        return {"value": None, "layer": None, "ci": None,
                "selection": "cross-validated over sounds (no finite score)"}
    freq = np.bincount(cv_choice[ok], minlength=len(names)) / ok.sum()
    best = int(np.argmax(freq))
    ci = _interval(stats.percentile_interval(cv_bootstrap[:, None], level)[0]) if cv_bootstrap.size else None
    way = "lowest-error" if lower_is_better else "best"
    return {
        "value": _json_float(np.mean(cv_scores[ok])),
        "layer": names[best],
        "layer_frequency": _json_float(freq[best]),
        "ci": ci,
        "selection": f"cross-validated over sounds: {way} layer picked on one half, scored on the other",
    }


def _headline(per_layer, names, stats_out, params, lower_is_better=False) -> dict:
    if params["cv_splits"] > 0:
        return cv_headline(names, stats_out["cv_scores"], stats_out["cv_choice"], stats_out["cv_bootstrap"],
                           params["ci_level"], lower_is_better)
    valid = [e for e in per_layer if e["score"] is not None]
    if not valid:
        return {"value": None, "layer": None, "ci": None, "selection": "best layer (no finite score)"}
    pick = (min if lower_is_better else max)(valid, key=lambda e: e["score"])
    return {"value": pick["score"], "layer": pick["layer"], "ci": pick.get("ci"),
            "selection": "best layer on all sounds (not cross-validated: optimistic)"}


def _synthetic_caveat(stimset: StimulusSet) -> dict:
    if not stimset.synthetic:
        return {}
    return {"caveat": "synthetic stimulus set with simulated listeners: these numbers test the harness, "
                      "they are not findings about human perception"}


# ---------------------------------------------------------------------------------------------
# rsa: Bost et al. (2024), experiment 1 (figure 1) and appendix B

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
    "permutations": Param(int, 1000, "Mantel permutations for p-values (0: off).", check=_positive_int),
    "ceiling_splits": Param(int, 100, "Random split halves of the listeners for the noise ceiling (0: off).",
                            check=_positive_int),
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
    kind, dims = params["target"], _dimensions(params)
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
    _require_dimensions(stimset, dims, task)
    if kind == "kl" and params["smoothing"] <= 0:
        raise AudioprobeError(f"task {task!r}: target 'kl' needs smoothing > 0 (KL is infinite for empty categories).")
    return _target_from_counts(kind, stimset.judgments, dims, params["smoothing"])


def noise_ceiling(stimset: StimulusSet, params: dict[str, Any], rng: np.random.Generator) -> dict:
    """Split-half reliability of the target over listeners, Spearman-Brown corrected (or why none)."""
    kind, dims, n_splits = params["target"], _dimensions(params), params["ceiling_splits"]
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
        "value": _json_float(stats.spearman_brown(mean_r)),
        "split_half_r": _json_float(mean_r),
        "split_half_r_sd": _json_float(np.nanstd(split_r)),
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
                   "score_of_control": _json_float(rsa.compare_rows(control_rdm, target, params["comparison"])[0])}
    for k, row in enumerate(model_rdms):
        if names[k] not in notes and not np.all(np.isfinite(row)):
            notes[names[k]] = "undefined distances (a sound's pooled activation is all zeros for this distance)"

    out = stats.rsa_statistics(model_rdms, target, params["comparison"], ctx.seed, params["bootstrap"],
                               params["permutations"], params["cv_splits"], params["ci_level"])
    per_layer = []
    for k, name in enumerate(names):
        entry = {"layer": name, "score": _json_float(out["score"][k]), "ci": _interval(out["ci"][k]),
                 "p_value": _json_float(out["p_value"][k])}
        if name in notes:
            entry["note"] = notes[name]
        per_layer.append(entry)
    with stats.small_problem_threads(len(stimset)):
        ceiling = noise_ceiling(stimset, params, stats.streams(ctx.seed)[3])
    what = {"kl": "symmetric KL of response distributions", "js": "Jensen-Shannon divergence of response "
            "distributions", "modal": "0/1 distance of modal responses", "physical": "0/1 distance of physical "
            "labels", "rdm": "the stimulus set's dissimilarity matrix"}[params["target"]]
    dims = _dimensions(params)
    metric = (f"{params['comparison']} correlation between the model RDM ({params['model_distance']} distance of "
              f"{params['pooling']}-pooled activations"
              f"{', residualised on the ' + params['control'] + ' RDM' if control else ''}) and the target RDM "
              f"({what}{' averaged over ' + ', '.join(dims) if len(dims) > 1 else ''})")
    return {
        "metric": metric,
        "per_layer": per_layer,
        "headline": _headline(per_layer, names, out, params),
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
        **_synthetic_caveat(stimset),
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


# ---------------------------------------------------------------------------------------------
# Labels shared by transfer and abx: perceived (modal response) or physical

LABEL_SOURCES = ("perceived", "physical")


def sound_labels(stimset: StimulusSet, dimension: str, source: str, task: str) -> list[str | None]:
    """Per-sound category: the modal response (None where tied) or the physical label column."""
    if source == "perceived":
        _require_dimensions(stimset, [dimension], task)
        return transfer.modal_labels(stimset.judgments[dimension], stimset.dimensions[dimension])
    if dimension not in stimset.labels:
        raise NotApplicableError(
            f"task {task!r} needs the physical label column {dimension!r}, but stimulus set {stimset.name!r} has "
            f"{', '.join(stimset.labels) or 'no labels.csv'}.")
    return [v if v != "" else None for v in stimset.labels[dimension]]


def _codes(values: list[str | None]) -> tuple[np.ndarray, list[str]]:
    names = sorted({v for v in values if v is not None})
    return np.array([names.index(v) if v is not None else -1 for v in values], dtype=np.int64), names


# ---------------------------------------------------------------------------------------------
# transfer: Bost et al. (2024), experiment 2 (figure 2)

TRANSFER_PARAMS = {
    "target_dimension": Param(str, "material", "Dimension whose category the probe predicts."),
    "target_source": Param(str, "perceived", "perceived: modal listener response; physical: label column.",
                           choices=LABEL_SOURCES),
    "split_dimension": Param(str, doc="Dimension whose categories define the train and test subsets."),
    "split_source": Param(str, "perceived", "Labels the subsets are defined on.", choices=LABEL_SOURCES),
    "train_values": Param(list, doc="Categories of split_dimension in the training subset."),
    "test_values": Param(list, doc="Categories of split_dimension in the test subset (disjoint from train)."),
    "score": Param(str, "accuracy", "Per-layer score and headline.", choices=("accuracy", "balanced_accuracy")),
    "c_grid": Param(list, list(transfer.C_GRID), "Inverse regularisation strengths C tried by inner CV."),
    "inner_folds": Param(int, 5, "Stratified folds inside the training sounds to choose C.",
                         check=lambda v: None if v >= 2 else "must be >= 2"),
    "baseline_folds": Param(int, 5, "Stratified folds of the no-transfer baseline inside the test subset.",
                            check=lambda v: None if v >= 2 else "must be >= 2"),
    "max_iter": Param(int, 1000, "Iterations of the lbfgs solver.", check=lambda v: None if v > 0 else "must be > 0"),
    "pooling": Param(str, "mean", "Pooling over frames.", choices=POOLINGS),
    **STAT_PARAMS,
}


def _check_transfer(where: str, params: dict[str, Any]) -> None:
    for key in ("train_values", "test_values"):
        if not params[key] or not all(isinstance(v, str) and v for v in params[key]):
            raise AudioprobeError(f"{where}: key {key!r} must be a non-empty list of category names.")
    both = sorted(set(params["train_values"]) & set(params["test_values"]))
    if both:
        raise AudioprobeError(f"{where}: {', '.join(both)} in both train_values and test_values; a sound may not "
                              f"be in both subsets.")
    if not params["c_grid"] or not all(isinstance(c, (int, float)) and not isinstance(c, bool) and c > 0
                                       for c in params["c_grid"]):
        raise AudioprobeError(f"{where}: key 'c_grid' must be a non-empty list of positive numbers.")


def transfer_subsets(stimset: StimulusSet, params: dict[str, Any], task: str):
    """(train indices, test indices, target labels, excluded count): disjoint by construction."""
    split = sound_labels(stimset, params["split_dimension"], params["split_source"], task)
    target = sound_labels(stimset, params["target_dimension"], params["target_source"], task)
    if params["split_source"] == "perceived":
        known = stimset.dimensions[params["split_dimension"]]
    else:
        known = sorted({v for v in split if v is not None})
    for key in ("train_values", "test_values"):
        bad = [v for v in params[key] if v not in known]
        if bad:
            raise NotApplicableError(f"task {task!r}: {key} {', '.join(bad)} not among the categories of "
                                  f"{params['split_dimension']!r} ({', '.join(known)}).")
    usable = np.array([s is not None and t is not None for s, t in zip(split, target)])
    train = np.array([u and s in params["train_values"] for u, s in zip(usable, split)])
    test = np.array([u and s in params["test_values"] for u, s in zip(usable, split)])
    assert not np.any(train & test)  # disjoint values imply disjoint sounds
    for name, mask in (("training", train), ("test", test)):
        if mask.sum() < 2:
            raise NotApplicableError(f"task {task!r}: the {name} subset has {int(mask.sum())} sound(s) on stimulus set "
                                  f"{stimset.name!r}; it needs at least 2.")
    return np.nonzero(train)[0], np.nonzero(test)[0], np.array([t if t else "" for t in target]), int((~usable).sum())


def evaluate_transfer(acts: Activations, stimset: StimulusSet, params: dict[str, Any], ctx: EvalContext) -> dict:
    from scipy.stats import binomtest

    train, test, target, excluded = transfer_subsets(stimset, params, ctx.task)
    y_train, y_test = target[train], target[test]
    if len(np.unique(y_train)) < 2:
        raise NotApplicableError(f"task {ctx.task!r}: every training sound has the same {params['target_dimension']!r} "
                              f"category ({y_train[0]}); nothing to learn.")
    classes, class_counts = np.unique(y_test, return_counts=True)
    chance = float(class_counts.max() / class_counts.sum())
    rng_boot, _, rng_cv, _ = stats.streams(ctx.seed)
    n_test = test.size
    counts = stats.bootstrap_counts(rng_boot, n_test, params["bootstrap"]) if params["bootstrap"] else None
    boot_halves = stats.random_halves(rng_boot, n_test, params["bootstrap"]) if params["bootstrap"] else None
    cv_halves = stats.random_halves(rng_cv, n_test, params["cv_splits"]) if params["cv_splits"] else None
    which = 0 if params["score"] == "accuracy" else 1
    layers = acts[params["pooling"]]
    names = list(layers)
    per_layer, cv_a, cv_b, boot_a, boot_b = [], [], [], [], []
    fitted = transfer.all_layer_predictions(list(layers.values()), train, test, y_train, y_test, params["c_grid"],
                                            params["inner_folds"], params["baseline_folds"], ctx.seed,
                                            params["max_iter"])
    for name, (pred, best_c, base) in zip(names, fitted):
        correct = pred == y_test
        acc, bal = (float(v[0]) for v in transfer.accuracies(correct, y_test, np.ones((1, n_test))))
        entry = {"layer": name, "score": _json_float(acc if which == 0 else bal), "ci": None,
                 "p_value": _json_float(binomtest(int(correct.sum()), n_test, chance, alternative="greater").pvalue),
                 "accuracy": _json_float(acc), "balanced_accuracy": _json_float(bal), "C": best_c}
        base_correct = None if base is None else base == y_test
        if base_correct is not None:
            b_acc, b_bal = (float(v[0]) for v in transfer.accuracies(base_correct, y_test, np.ones((1, n_test))))
            entry.update(baseline_accuracy=_json_float(b_acc), baseline_balanced_accuracy=_json_float(b_bal))
        else:
            entry.update(baseline_accuracy=None, baseline_balanced_accuracy=None,
                         baseline_note="a test class has a single sound: no stratified baseline")
        if counts is not None:
            boot = transfer.accuracies(correct, y_test, counts)
            entry["accuracy_ci"] = _interval(stats.percentile_interval(boot[0][:, None], params["ci_level"])[0])
            entry["balanced_accuracy_ci"] = _interval(stats.percentile_interval(boot[1][:, None], params["ci_level"])[0])
            entry["ci"] = entry["accuracy_ci"] if which == 0 else entry["balanced_accuracy_ci"]
            if base_correct is not None:
                bb = transfer.accuracies(base_correct, y_test, counts)
                entry["baseline_accuracy_ci"] = _interval(stats.percentile_interval(bb[0][:, None], params["ci_level"])[0])
                entry["baseline_balanced_accuracy_ci"] = _interval(
                    stats.percentile_interval(bb[1][:, None], params["ci_level"])[0])
            boot_a.append(transfer.accuracies(correct, y_test, counts * boot_halves)[which])
            boot_b.append(transfer.accuracies(correct, y_test, counts * ~boot_halves)[which])
        if cv_halves is not None:
            cv_a.append(transfer.accuracies(correct, y_test, cv_halves)[which])
            cv_b.append(transfer.accuracies(correct, y_test, ~cv_halves)[which])
        per_layer.append(entry)
    out = {}
    if cv_halves is not None:
        out["cv_scores"], out["cv_choice"] = stats.cross_validated_selection(np.stack(cv_a, 1), np.stack(cv_b, 1))
        out["cv_bootstrap"] = np.array([])
        if counts is not None:
            held, _ = stats.cross_validated_selection(np.stack(boot_a, 1), np.stack(boot_b, 1))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out["cv_bootstrap"] = np.nanmean(held.reshape(2, -1), axis=0)
    return {
        "metric": f"{params['score'].replace('_', ' ')} of a multinomial logistic-regression probe predicting the "
                  f"{params['target_source']} {params['target_dimension']} of test sounds ({params['split_source']} "
                  f"{params['split_dimension']} in {', '.join(params['test_values'])}) after training on "
                  f"{', '.join(params['train_values'])}",
        "per_layer": per_layer,
        "headline": _headline(per_layer, names, out, params),
        "chance": {"accuracy": chance, "balanced_accuracy": 1.0 / len(classes),
                   "method": "accuracy: share of the test subset's majority class; balanced: 1 / number of classes"},
        "n_train": int(train.size), "n_test": int(n_test), "n_excluded": excluded,
        "classes_test": {str(c): int(k) for c, k in zip(classes, class_counts)},
        "classes_train": {str(c): int(k) for c, k in zip(*np.unique(y_train, return_counts=True))},
        "statistics": {"seed": ctx.seed, "bootstrap": params["bootstrap"], "bootstrap_unit": "test sounds "
                       "(the fitted probe is kept)", "ci_level": params["ci_level"], "ci_method": "percentile",
                       "p_value": "one-sided binomial test of the number of correct test sounds against the "
                       "majority-class rate", "cv_splits": params["cv_splits"]},
        **_synthetic_caveat(stimset),
    }


# ---------------------------------------------------------------------------------------------
# abx: discriminability of a dimension's categories (Schatz et al. 2013)

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

    labels, cats = _codes(sound_labels(stimset, params["dimension"], params["label_source"], ctx.task))
    by, by_values = (None, [])
    if params["by"]:
        by, by_values = _codes(sound_labels(stimset, params["by"], params["label_source"], ctx.task))
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
        entry = {"layer": name, "score": _json_float(point[k]), "ci": None, "p_value": None}
        if B:
            boot = rest[:B, k]
            entry["ci"] = _interval(stats.percentile_interval(boot[:, None], params["ci_level"])[0])
            ok = boot[np.isfinite(boot)]
            entry["p_value"] = _json_float((1 + np.sum(ok >= 0.5)) / (1 + ok.size)) if ok.size else None
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
    return {
        "metric": f"ABX error between {params['label_source']} {params['dimension']} categories"
                  f"{' within each ' + params['by'] + ' value' if by is not None else ''} ({params['model_distance']} "
                  f"distance of {params['pooling']}-pooled activations; ties count half; chance 0.5, lower is better)",
        "lower_is_better": True,
        "chance": 0.5,
        "per_layer": per_layer,
        "headline": _headline(per_layer, names, out, params, lower_is_better=True),
        "categories": cats,
        "by_values": by_values,
        "n_sounds_used": int((labels >= 0).sum()),
        "n_triplets": int(sum(c.idx_a.size * (c.idx_a.size - 1) * c.idx_b.size for c in cells)),
        "statistics": {"seed": ctx.seed, "bootstrap": B, "bootstrap_unit": "sounds (X paired with its own copy "
                       "as A excluded)", "ci_level": params["ci_level"], "ci_method": "percentile",
                       "p_value": "bootstrap test against chance: (1 + #resamples with error >= 0.5) / (1 + "
                       "resamples), one-sided", "cv_splits": params["cv_splits"]},
        **_synthetic_caveat(stimset),
    }


TASK_TYPES: dict[str, TaskType] = {
    "rsa": TaskType("rsa", RSA_PARAMS, evaluate_rsa, check=_check_rsa),
    "transfer": TaskType("transfer", TRANSFER_PARAMS, evaluate_transfer, check=_check_transfer),
    "abx": TaskType("abx", ABX_PARAMS, evaluate_abx, check=_check_abx),
}
