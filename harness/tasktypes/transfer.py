"""`transfer`: a linear probe trained on one subset of sounds and tested on another.

Bost et al. (2024), experiment 2 (figure 2), with a no-transfer baseline and chance.
"""

from __future__ import annotations

import warnings
from typing import Annotated, Any, NotRequired, TypedDict

import numpy as np

from audioprobe.errors import AudioprobeError, NotApplicableError
from audioprobe.metrics import stats, transfer
from audioprobe.pooling import POOLINGS
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes.common import (LABEL_SOURCES, STAT_PARAMS, Interval, LayerScore, Scores, Activations, EvalContext, Param, TaskType,
                                         headline, interval, json_float, synthetic_caveat, register_task_type,
                                         sound_labels)


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
    "max_iter": Param(int, transfer.MAX_ITER, "Iteration cap of the solver (a cap only: each fit stops at the "
                      "converged optimum, gradient norm below 1e-8).", check=lambda v: None if v > 0 else "must be > 0"),
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
    per_layer, cv_a, cv_b, boot_a, boot_b, boot_score, boot_base = [], [], [], [], [], [], []
    fitted = transfer.all_layer_predictions(list(layers.values()), train, test, y_train, y_test, params["c_grid"],
                                            params["inner_folds"], params["baseline_folds"], ctx.seed,
                                            params["max_iter"])
    for name, (pred, best_c, base) in zip(names, fitted):
        correct = pred == y_test
        acc, bal = (float(v[0]) for v in transfer.accuracies(correct, y_test, np.ones((1, n_test))))
        entry = {"layer": name, "score": json_float(acc if which == 0 else bal), "ci": None,
                 "p_value": json_float(binomtest(int(correct.sum()), n_test, chance, alternative="greater").pvalue),
                 "accuracy": json_float(acc), "balanced_accuracy": json_float(bal), "C": best_c}
        base_correct = None if base is None else base == y_test
        if base_correct is not None:
            b_acc, b_bal = (float(v[0]) for v in transfer.accuracies(base_correct, y_test, np.ones((1, n_test))))
            entry.update(baseline_accuracy=json_float(b_acc), baseline_balanced_accuracy=json_float(b_bal))
        else:
            entry.update(baseline_accuracy=None, baseline_balanced_accuracy=None,
                         baseline_note="a test class has a single sound: no stratified baseline")
        if counts is not None:
            boot = transfer.accuracies(correct, y_test, counts)
            entry["accuracy_ci"] = interval(stats.percentile_interval(boot[0][:, None], params["ci_level"])[0])
            entry["balanced_accuracy_ci"] = interval(stats.percentile_interval(boot[1][:, None], params["ci_level"])[0])
            entry["ci"] = entry["accuracy_ci"] if which == 0 else entry["balanced_accuracy_ci"]
            boot_score.append(boot[which])
            boot_base.append(np.full(counts.shape[0], np.nan))
            if base_correct is not None:
                bb = transfer.accuracies(base_correct, y_test, counts)
                boot_base[-1] = bb[which]
                entry["baseline_accuracy_ci"] = interval(stats.percentile_interval(bb[0][:, None], params["ci_level"])[0])
                entry["baseline_balanced_accuracy_ci"] = interval(
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
    if counts is not None:
        ctx.keep_replicates(counts, "test sounds", per_layer=np.stack(boot_score, 1), baseline=np.stack(boot_base, 1),
                            **({"headline": out["cv_bootstrap"]} if out.get("cv_bootstrap", np.array([])).size else {}))
    return {
        "metric": f"{params['score'].replace('_', ' ')} of a multinomial logistic-regression probe predicting the "
                  f"{params['target_source']} {params['target_dimension']} of test sounds ({params['split_source']} "
                  f"{params['split_dimension']} in {', '.join(params['test_values'])}) after training on "
                  f"{', '.join(params['train_values'])}",
        "per_layer": per_layer,
        "headline": headline(per_layer, names, out, params),
        "chance": {"accuracy": chance, "balanced_accuracy": 1.0 / len(classes),
                   "method": "accuracy: share of the test subset's majority class; balanced: 1 / number of classes"},
        "n_train": int(train.size), "n_test": int(n_test), "n_excluded": excluded,
        "classes_test": {str(c): int(k) for c, k in zip(classes, class_counts)},
        "classes_train": {str(c): int(k) for c, k in zip(*np.unique(y_train, return_counts=True))},
        "statistics": {"seed": ctx.seed, "bootstrap": params["bootstrap"], "bootstrap_unit": "test sounds "
                       "(the fitted probe is kept)", "ci_level": params["ci_level"], "ci_method": "percentile",
                       "p_value": "one-sided binomial test of the number of correct test sounds against the "
                       "majority-class rate", "cv_splits": params["cv_splits"]},
        **synthetic_caveat(stimset),
    }


class TransferLayerScore(LayerScore):
    accuracy: Annotated[float | None, "share of test sounds predicted right"]
    balanced_accuracy: Annotated[float | None, "mean per-class recall on the test sounds"]
    baseline_accuracy: Annotated[float | None, "no-transfer baseline: the same probe cross-validated inside the "
                                               "test subset"]
    baseline_balanced_accuracy: Annotated[float | None, "the baseline's balanced accuracy"]
    baseline_note: NotRequired[Annotated[str, "why the baseline is null"]]
    C: Annotated[float, "inverse regularisation strength chosen inside the training sounds"]
    accuracy_ci: NotRequired[Annotated[Interval | None, "bootstrap interval over test sounds"]]
    balanced_accuracy_ci: NotRequired[Annotated[Interval | None, "bootstrap interval over test sounds"]]
    baseline_accuracy_ci: NotRequired[Annotated[Interval | None, "bootstrap interval over test sounds"]]
    baseline_balanced_accuracy_ci: NotRequired[Annotated[Interval | None, "bootstrap interval over test sounds"]]


class Chance(TypedDict):
    accuracy: Annotated[float, "the test subset's majority-class share"]
    balanced_accuracy: Annotated[float, "1 / number of test classes"]
    method: Annotated[str, "how chance is computed, in words"]


class TransferScores(Scores):
    per_layer: Annotated[list[TransferLayerScore], "one entry per layer, in layer order"]
    chance: Annotated[Chance, "chance levels of the test subset"]
    n_train: Annotated[int, "training sounds"]
    n_test: Annotated[int, "test sounds"]
    n_excluded: Annotated[int, "sounds left out for a tied modal response"]
    classes_train: Annotated[dict[str, int], "sounds per class in the training subset"]
    classes_test: Annotated[dict[str, int], "sounds per class in the test subset"]


register_task_type(TaskType("transfer", TRANSFER_PARAMS, evaluate_transfer, scores_schema=TransferScores,
                            check=_check_transfer))
