"""`transfer`: a linear probe trained on one subset of sounds and tested on another.

Bost et al. (2024), experiment 2 (figure 2), with a no-transfer baseline and chance.

Per layer: the transfer score, the no-transfer baseline (the probe cross-validated inside the test
subset, at its own training size: the figure's comparison), and both again at matched training sizes
(`probing.matched_plan`: per baseline fold, two probes trained on the same number of sounds, paired
sound by sound), so that "transfer beats baseline" does not measure training-set size. Two
headlines, both cross-validated over half-splits of the test sounds: the transfer score
(`headline.headline`) and the matched contrast, matched transfer minus matched baseline at the layer
the transfer score picks on the other half (`baseline_contrast`).
"""

from __future__ import annotations

import warnings
from typing import Annotated, Any, NotRequired, TypedDict

import numpy as np

from audioprobe.errors import AudioprobeError, NotApplicableError
from audioprobe.metrics import intervals, layer_selection, probing, resampling
from audioprobe.pooling import POOLINGS
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes.common import (
    LABEL_SOURCES,
    STAT_PARAMS,
    Activations,
    EvalContext,
    Interval,
    LayerScore,
    Param,
    Scores,
    TaskType,
    interval,
    json_float,
    register_task_type,
    sound_labels,
    synthetic_caveat,
)
from audioprobe.tasktypes.headline import headline
from audioprobe.tasktypes.presentation import Experiment, Presentation, headline_entry, result_params
from audioprobe.tasktypes.reliability import NoiseCeiling, label_reliability

TRANSFER_PARAMS = {
    "target_dimension": Param(str, "material", "Dimension whose category the probe predicts."),
    "target_source": Param(str, "perceived", "perceived: modal listener response; physical: label column.",
                           choices=LABEL_SOURCES),
    "split_dimension": Param(str, doc="Dimension whose categories define the train and test subsets."),
    "split_source": Param(str, "perceived", "Labels the subsets are defined on.", choices=LABEL_SOURCES),
    "train_values": Param(list, doc="Categories of split_dimension in the training subset."),
    "test_values": Param(list, doc="Categories of split_dimension in the test subset (disjoint from train)."),
    "score": Param(str, "accuracy", "Per-layer score and headline.", choices=("accuracy", "balanced_accuracy")),
    "c_grid": Param(list, list(probing.C_GRID), "Inverse regularisation strengths C tried by inner CV."),
    "inner_folds": Param(int, 5, "Stratified folds inside the training sounds to choose C.",
                         check=lambda v: None if v >= 2 else "must be >= 2"),
    "baseline_folds": Param(int, 5, "Stratified folds of the no-transfer baseline inside the test subset.",
                            check=lambda v: None if v >= 2 else "must be >= 2"),
    "max_iter": Param(int, probing.MAX_ITER, "Iteration cap of the solver (a cap only: each fit stops at the "
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


def _scores(correct: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`[2, ...]`: accuracy and balanced accuracy for weights `[..., n]` (`probing.accuracies`)."""
    w = np.asarray(weights, dtype=np.float64)
    acc, bal = probing.accuracies(correct, labels, w.reshape(-1, w.shape[-1]))
    return np.stack([acc, bal]).reshape((2,) + w.shape[:-1])


def held_out_contrast(pick_a: np.ndarray, pick_b: np.ndarray, diff_a: np.ndarray, diff_b: np.ndarray):
    """The contrast of the layer with the best transfer score, picked on one half and scored on the other.

    pick_a, pick_b `[..., n_layers]`: each layer's transfer score on the two halves of each split;
    diff_a, diff_b: its contrast (matched transfer minus matched baseline) on the same halves. Both ways
    round: the layer picked on half a (highest pick_a, the first on ties, as the headline picks it)
    scored by diff_b, and the other way. -> (held-out contrasts `[2, ...]`, chosen layers `[2, ...]`;
    NaN and -1 where no layer has a transfer score on the picking half). The picking half's contrast is
    never read.
    """
    held, chosen = [], []
    for pick, judge in ((pick_a, diff_b), (pick_b, diff_a)):
        idx = _nan_pick(np.asarray(pick, dtype=np.float64))
        val = np.take_along_axis(np.asarray(judge, dtype=np.float64), np.maximum(idx, 0)[..., None], -1)[..., 0]
        held.append(np.where(idx >= 0, val, np.nan))
        chosen.append(idx)
    return np.stack(held), np.stack(chosen)


def _nanmean(a: np.ndarray, axis=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN slice: NaN, left out later
        return np.nanmean(a, axis=axis)


def _nan_pick(scores: np.ndarray) -> np.ndarray:
    """Index of the highest finite score along the last axis (first on ties), -1 where none is finite."""
    finite = np.isfinite(scores)
    return np.where(finite.any(axis=-1), np.argmax(np.where(finite, scores, -np.inf), axis=-1), -1)


CONTRAST_WHAT = ("matched transfer minus matched baseline: the task's score of probes trained on the same number of "
                 "sounds (m_f of baseline fold f: the transfer probe on a class-stratified subsample of the training "
                 "subset, the baseline on the fold's training part), on the same test sounds, paired sound by sound")


def baseline_contrast(transfer_score: np.ndarray, contrast: np.ndarray, names: list[str], params: dict[str, Any], *,
                      cv: tuple | None, boot: tuple | None, n_test: int) -> tuple[dict, np.ndarray | None]:
    """The headline of the transfer-vs-baseline contrast at matched sizes, and its replicates.

    transfer_score, contrast `[n_layers]` on all test sounds (contrast: matched transfer minus matched
    baseline, the task's score). cv: (pick_a, pick_b, diff_a, diff_b), each `[cv_splits, n_layers]` on
    the estimate's half-splits; boot: (transfer `[B, L]`, contrast `[B, L]`, and, with cv_splits > 0, the
    four half arrays `[B, K, L]` on the first K splits of each resample), or None without bootstrap.

    - One layer with a transfer score: its contrast on all test sounds, replicates `[B]` (no choice).
    - cv_splits > 0: the layer with the best transfer score is picked on one half of the test sounds
      (as the headline picks it) and its contrast scored on the other, both ways round; the value is
      the mean over the splits, `layer` the one picked most often; replicates `[B, K]`, the same on the
      first K splits of each resample (`inference.Splits`).
    - cv_splits 0: the contrast of the layer with the best transfer score on all test sounds
      (optimistic), replicates `[B]` redoing that choice in every resample.
    """
    from audioprobe.metrics import inference

    defined = np.flatnonzero(np.isfinite(transfer_score))
    block: dict[str, Any] = {"value": None, "layer": None, "ci": None, "selection": "", "what": CONTRAST_WHAT}
    reps = None
    splits = None
    if not defined.size:
        block["selection"] = "no layer has a transfer score"
        if boot is not None:
            reps = np.full(boot[0].shape[0], np.nan)
    elif defined.size == 1:
        k = int(defined[0])
        block.update(value=json_float(contrast[k]), layer=names[k],
                     selection="the only layer with a transfer score: no layer is chosen")
        if boot is not None:
            reps = boot[1][:, k]
    elif params["cv_splits"] > 0:
        held, chosen = held_out_contrast(*cv)
        ok = np.isfinite(held) & (chosen >= 0)
        block["selection"] = ("cross-validated over test sounds: the layer with the best transfer score picked on one "
                              "half, its contrast scored on the other, both ways round")
        if ok.any():
            freq = np.bincount(chosen[ok], minlength=len(names)) / ok.sum()
            best = int(np.argmax(freq))
            block.update(value=json_float(np.mean(held[ok])), layer=names[best], layer_frequency=json_float(freq[best]))
        if boot is not None:
            reps = _nanmean(held_out_contrast(*boot[2:])[0], axis=0)  # [B, K]
            splits = params["cv_splits"]
    else:
        pick = int(defined[np.argmax(transfer_score[defined])])
        block.update(value=json_float(contrast[pick]), layer=names[pick],
                     selection="the layer with the best transfer score on all test sounds (not cross-validated: "
                               "optimistic; its interval redoes the choice in every resample)")
        if boot is not None:
            idx = _nan_pick(boot[0])
            reps = np.where(idx >= 0, np.take_along_axis(boot[1], np.maximum(idx, 0)[:, None], 1)[:, 0], np.nan)
    if block["value"] is None and defined.size:
        block["layer"] = None
        block.pop("layer_frequency", None)
        block["selection"] += " (no value: no matched predictions, see matched.note)"
    if reps is not None and block["value"] is not None and np.isfinite(reps).any():
        st = inference.contrast_statistics(block["value"], inference.Splits(reps, splits) if reps.ndim == 2 else reps,
                                           n_sounds=n_test, level=params["ci_level"])
        block.update(ci=st["ci"] if None not in (st["ci"] or [None]) else None, se=st["se"], dof=st["dof"],
                     ci_method="t interval: value -/+ t(dof) se, se from the bootstrap variance of its replicates x "
                               "n/(n-1), n - 1 dof" + ("; replicates on fixed half-splits of each resample, their "
                                                      "split noise removed" if reps.ndim == 2 else ""))
    order = ("value", "layer", "layer_frequency", "selection", "what", "ci", "se", "dof", "ci_method")
    return {key: block[key] for key in order if key in block}, reps


MATCHED_METHOD = ("Matched training sizes: for each baseline outer fold f, m_f = min(n_train, sounds in fold f's "
                  "training part); a matched transfer probe is trained on a class-stratified random subsample of m_f "
                  "training-subset sounds and a matched baseline probe on m_f sounds of the fold's training part (the "
                  "fold's own baseline probe where that part has m_f sounds; the transfer probe itself where m_f = "
                  "n_train), both predicting fold f's held-out test sounds. Subsamples keep 2 sounds of every class "
                  "that has 2 (while m_f allows), the rest in proportion to the class sizes, drawn with a generator "
                  "seeded by the seed and the fold (the same sounds for every model). A fold whose subsample keeps "
                  "fewer than 2 classes gives no matched predictions.")


def evaluate_transfer(acts: Activations, stimset: StimulusSet, params: dict[str, Any], ctx: EvalContext) -> dict:
    """Per layer: the transfer probe's score, the no-transfer baseline (full size: figure 2 of the paper),
    and both at matched training sizes (`probing.matched_plan`); the cross-validated headline of the
    transfer score (`headline.headline`) and of the matched contrast (`baseline_contrast`).

    Resampling: bootstrap over test sounds (the fitted probes kept), one plan for every array kept.
    Headline replicates: in resample b, the cross-validated score on the first K = min(HEADLINE_SPLITS,
    cv_splits) of the estimate's half-splits h_k (weights counts_b h_k and counts_b (1 - h_k);
    `layer_selection.split_held_out`), `[B, K]`.
    """
    data = _Subsets(stimset, params, ctx)
    layers = acts[params["pooling"]]
    names = list(layers)
    fitted = probing.all_layer_predictions(list(layers.values()), data.train, data.test, data.y_train, data.y_test,
                                            params["c_grid"], params["inner_folds"], params["baseline_folds"],
                                            ctx.seed, params["max_iter"])
    plan = probing.matched_plan(data.y_train, data.y_test, params["baseline_folds"], params["inner_folds"], ctx.seed)
    # the test sounds with matched predictions (the same for every layer: the plan depends on labels only)
    pairs0 = fitted[0][3] if fitted else None
    defined = np.zeros(data.n_test, dtype=bool) if pairs0 is None else np.asarray(pairs0.defined, dtype=bool)
    weights = _Weights(ctx, data.n_test, params, defined)
    scores = _LayerScores(params, data, weights)
    for name, (pred, best_c, base, pairs) in zip(names, fitted):
        scores.add(name, pred, best_c, base, pairs)
    head, contrast = _headline_and_contrast(scores, names, params, weights, data.n_test, ctx)
    return {
        "metric": f"{params['score'].replace('_', ' ')} of a multinomial logistic-regression probe predicting the "
                  f"{params['target_source']} {params['target_dimension']} of test sounds ({params['split_source']} "
                  f"{params['split_dimension']} in {', '.join(params['test_values'])}) after training on "
                  f"{', '.join(params['train_values'])}",
        "per_layer": scores.per_layer,
        "headline": head,
        "baseline_contrast": contrast,
        "chance": {"accuracy": data.chance, "balanced_accuracy": 1.0 / len(data.classes),
                   "method": "accuracy: share of the test subset's majority class; balanced: 1 / number of classes"},
        "n_train": int(data.train.size), "n_test": int(data.n_test), "n_excluded": data.excluded,
        "n_train_matched": None if plan is None else [mf.size for mf in plan],
        "probe_design": {"inner_folds": len(data.design[0]), "left_out_of_choosing_c": data.design[1],
                         "note": ("C chosen by stratified cross-validation inside the training sounds"
                                  + (f"; the classes of a single training sound ({', '.join(data.design[1])}) were "
                                     f"left out of that choice (still in the probe's fit): probing.inner_folds_of"
                                     if data.design[1] else ""))},
        "matched": _matched_block(plan, defined, data.absent),
        "classes_test": {str(c): int(k) for c, k in zip(data.classes, data.class_counts)},
        "classes_train": {str(c): int(k) for c, k in zip(*np.unique(data.y_train, return_counts=True))},
        "label_reliability": label_reliability(stimset, {
            "target": (params["target_dimension"], params["target_source"]),
            "split": (params["split_dimension"], params["split_source"])}, ctx.seed),
        "statistics": {"seed": ctx.seed, "bootstrap": params["bootstrap"], "bootstrap_unit": "test sounds "
                       "(the fitted probe is kept)", "ci_level": params["ci_level"], "ci_method": "percentile",
                       "p_value": "one-sided binomial test of the number of correct test sounds against the "
                       "majority-class rate", "cv_splits": params["cv_splits"]},
        **synthetic_caveat(stimset),
    }


class _Subsets:
    """The training and test sounds and their labels, checked: two classes to learn, folds to choose C in."""

    def __init__(self, stimset: StimulusSet, params: dict[str, Any], ctx: EvalContext):
        self.train, self.test, target, self.excluded = transfer_subsets(stimset, params, ctx.task)
        self.y_train, self.y_test = target[self.train], target[self.test]
        if len(np.unique(self.y_train)) < 2:
            raise NotApplicableError(f"task {ctx.task!r}: every training sound has the same "
                                     f"{params['target_dimension']!r} category ({self.y_train[0]}); nothing to learn.")
        self.design = probing.inner_folds_of(self.y_train, probing._folds(self.y_train, params["inner_folds"]),
                                              ctx.seed)
        if self.design is None:
            raise NotApplicableError(
                f"task {ctx.task!r}: the training subset ({probing.class_counts_text(self.y_train)}) has fewer than 2 "
                f"classes of {params['target_dimension']!r} with 2 or more sounds; the probe's C is chosen by "
                f"stratified cross-validation inside the training sounds, which needs them.")
        self.absent = probing.baseline_absence(self.y_test, params["baseline_folds"], params["inner_folds"], ctx.seed)
        self.classes, self.class_counts = np.unique(self.y_test, return_counts=True)
        self.chance = float(self.class_counts.max() / self.class_counts.sum())
        self.n_test = self.test.size


class _Weights:
    """The test sounds' weights every score is computed under: all sounds once, the bootstrap resamples, the
    estimate's random halves and the first K halves within each resample; and the same on the sounds with
    matched predictions only (formed once for every layer)."""

    def __init__(self, ctx: EvalContext, n_test: int, params: dict[str, Any], defined: np.ndarray):
        n_boot, n_cv = params["bootstrap"], params["cv_splits"]
        self.counts = resampling.bootstrap_counts(ctx.plan.bootstrap(), n_test, n_boot) if n_boot else None
        cv_halves = resampling.random_halves(ctx.plan.splits(), n_test, n_cv) if n_cv else None
        self.ones = np.ones((1, n_test))
        self.split = None
        if self.counts is not None and cv_halves is not None:
            halves = cv_halves[: resampling.HEADLINE_SPLITS]
            self.split = np.stack([self.counts[:, None, :] * halves[None],
                                   self.counts[:, None, :] * ~halves[None]])  # [2, B, K, n]
        self.cv = np.stack([cv_halves, ~cv_halves]) if cv_halves is not None else None  # [2, S, n]
        self.defined = defined
        self.on_defined = {key: w * defined for key, w in (("all", self.ones), ("boot", self.counts), ("cv", self.cv),
                                                            ("split", self.split)) if w is not None}


class _LayerScores:
    """Each layer's entry of `per_layer`, and the arrays its headlines are made from, layer by layer."""

    def __init__(self, params: dict[str, Any], data: _Subsets, weights: _Weights):
        self.params, self.data, self.w = params, data, weights
        self.which = 0 if params["score"] == "accuracy" else 1
        self.per_layer: list[dict] = []
        self.full = {"transfer": [], "contrast": []}
        self.boot = {"transfer": [], "baseline": [], "matched": [], "matched_baseline": []}
        self.cv_parts = {"transfer": [], "contrast": []}
        self.split_parts = {"transfer": [], "contrast": []}
        self.nan_b = np.full(params["bootstrap"], np.nan)

    def _ci(self, boot_row):
        return interval(intervals.percentile_interval(boot_row[:, None], self.params["ci_level"])[0])

    def add(self, name: str, pred, best_c, base, pairs) -> None:
        from scipy.stats import binomtest

        y_test, ones, which, data = self.data.y_test, self.w.ones, self.which, self.data
        correct = pred == y_test
        acc, bal = _scores(correct, y_test, ones)[:, 0]
        entry = {"layer": name, "score": json_float(acc if which == 0 else bal), "ci": None,
                 "p_value": json_float(binomtest(int(correct.sum()), data.n_test, data.chance,
                                                 alternative="greater").pvalue),
                 "accuracy": json_float(acc), "balanced_accuracy": json_float(bal), "C": best_c}
        base_correct = None if base is None else base == y_test
        if base_correct is not None:
            b_acc, b_bal = _scores(base_correct, y_test, ones)[:, 0]
            entry.update(baseline_accuracy=json_float(b_acc), baseline_balanced_accuracy=json_float(b_bal))
        else:
            entry.update(baseline_accuracy=None, baseline_balanced_accuracy=None,
                         baseline_note=data.absent or "no baseline")
        # matched sizes: both probes' correctness on the sounds whose fold has them (weights x defined)
        if pairs is not None and self.w.defined.any():
            m_ok, mb_ok = pairs.transfer == y_test, pairs.baseline == y_test
            m_full = _scores(m_ok, y_test, self.w.on_defined["all"])[:, 0]
            mb_full = _scores(mb_ok, y_test, self.w.on_defined["all"])[:, 0]
        else:
            m_ok = mb_ok = None
            m_full = mb_full = np.full(2, np.nan)
        entry.update(matched_accuracy=json_float(m_full[0]), matched_balanced_accuracy=json_float(m_full[1]),
                     matched_baseline_accuracy=json_float(mb_full[0]),
                     matched_baseline_balanced_accuracy=json_float(mb_full[1]))
        self.full["transfer"].append((acc, bal)[which])
        self.full["contrast"].append(m_full[which] - mb_full[which])
        if self.w.counts is not None:
            self._add_bootstrap(entry, correct, base_correct, m_ok, mb_ok)
        for parts, key, w in ((self.cv_parts, "cv", self.w.cv), (self.split_parts, "split", self.w.split)):
            if w is None:
                continue
            parts["transfer"].append(_scores(correct, y_test, w)[which])
            if m_ok is not None:
                parts["contrast"].append(_scores(m_ok, y_test, self.w.on_defined[key])[which] -
                                         _scores(mb_ok, y_test, self.w.on_defined[key])[which])
            else:
                parts["contrast"].append(np.full(w.shape[:-1], np.nan))
        self.per_layer.append(entry)

    def _add_bootstrap(self, entry: dict, correct, base_correct, m_ok, mb_ok) -> None:
        y_test, counts, which, ci = self.data.y_test, self.w.counts, self.which, self._ci
        sb = _scores(correct, y_test, counts)
        entry["accuracy_ci"], entry["balanced_accuracy_ci"] = ci(sb[0]), ci(sb[1])
        entry["ci"] = entry["accuracy_ci"] if which == 0 else entry["balanced_accuracy_ci"]
        self.boot["transfer"].append(sb[which])
        self.boot["baseline"].append(self.nan_b)
        if base_correct is not None:
            bb = _scores(base_correct, y_test, counts)
            self.boot["baseline"][-1] = bb[which]
            entry["baseline_accuracy_ci"], entry["baseline_balanced_accuracy_ci"] = ci(bb[0]), ci(bb[1])
        if m_ok is not None:
            mb, mbb = _scores(m_ok, y_test, self.w.on_defined["boot"]), _scores(mb_ok, y_test, self.w.on_defined["boot"])
            entry["matched_accuracy_ci"], entry["matched_balanced_accuracy_ci"] = ci(mb[0]), ci(mb[1])
            entry["matched_baseline_accuracy_ci"] = ci(mbb[0])
            entry["matched_baseline_balanced_accuracy_ci"] = ci(mbb[1])
            self.boot["matched"].append(mb[which])
            self.boot["matched_baseline"].append(mbb[which])
        else:
            self.boot["matched"].append(self.nan_b)
            self.boot["matched_baseline"].append(self.nan_b)


def _layers_last(arrays):
    """per layer `[...]` -> `[..., n_layers]`."""
    return np.stack(arrays, axis=-1)


def _headline_and_contrast(scores: _LayerScores, names: list[str], params: dict[str, Any], weights: _Weights,
                           n_test: int, ctx: EvalContext) -> tuple[dict, dict]:
    """The cross-validated headline of the transfer score and of the matched contrast, their replicates kept."""
    counts = weights.counts
    boot_arrays = {k: _layers_last(v) for k, v in scores.boot.items()} if counts is not None else None
    cv_scores = cv_choice = None
    cv_pairs = split_pairs = None
    if weights.cv is not None:
        tr, co = _layers_last(scores.cv_parts["transfer"]), _layers_last(scores.cv_parts["contrast"])  # [2, S, L]
        cv_scores, cv_choice = layer_selection.cross_validated_selection(tr[0], tr[1])
        cv_pairs = (tr[0], tr[1], co[0], co[1])
    if weights.split is not None:
        tr, co = _layers_last(scores.split_parts["transfer"]), _layers_last(scores.split_parts["contrast"])  # [2,B,K,L]
        split_pairs = (tr[0], tr[1], co[0], co[1])
    head, head_reps = headline(scores.per_layer, names, params, cv_scores=cv_scores, cv_choice=cv_choice,
                               layer_replicates=boot_arrays["transfer"] if counts is not None else None,
                               split_replicates=layer_selection.split_held_out(split_pairs[0], split_pairs[1])
                               if split_pairs is not None else None, n_sounds=int(n_test))
    contrast_boot = None
    if counts is not None:
        contrast_boot = (boot_arrays["transfer"], boot_arrays["matched"] - boot_arrays["matched_baseline"],
                         *(split_pairs or ()))
    contrast, contrast_reps = baseline_contrast(np.array(scores.full["transfer"], dtype=np.float64),
                                                np.array(scores.full["contrast"], dtype=np.float64), names, params,
                                                cv=cv_pairs, boot=contrast_boot, n_test=int(n_test))
    if counts is not None:
        ctx.keep_replicates(counts, "test sounds", per_layer=boot_arrays["transfer"], baseline=boot_arrays["baseline"],
                            matched=boot_arrays["matched"], matched_baseline=boot_arrays["matched_baseline"],
                            baseline_contrast=contrast_reps, **head_reps)
    return head, contrast


def _matched_block(plan, defined: np.ndarray, absent: str | None) -> dict:
    """How the matched-size probes were made, and which test sounds have none."""
    matched = {"method": MATCHED_METHOD, "n_test": int(defined.sum())}
    if plan is None:
        matched["note"] = f"{absent or 'no baseline'}, so no matched probes"
    elif not defined.all():
        lost = [f for f, mf in enumerate(plan) if not mf.fitted]
        matched["note"] = (f"baseline fold(s) {', '.join(map(str, lost))}: a subsample of m_f sounds keeps fewer "
                           f"than 2 classes; their {int((~defined).sum())} test sound(s) have no matched predictions")
    return matched


class TransferLayerScore(LayerScore):
    accuracy: Annotated[float | None, "share of test sounds predicted right"]
    balanced_accuracy: Annotated[float | None, "mean per-class recall on the test sounds"]
    baseline_accuracy: Annotated[float | None, "no-transfer baseline: the same probe cross-validated inside the "
                                               "test subset"]
    baseline_balanced_accuracy: Annotated[float | None, "the baseline's balanced accuracy"]
    baseline_note: NotRequired[Annotated[str, "why the baseline is null"]]
    C: Annotated[float, "inverse regularisation strength chosen inside the training sounds"]
    matched_accuracy: Annotated[float | None, "accuracy of the matched transfer probes (per baseline fold, trained on "
                                              "m_f training-subset sounds; null: no matched probes, see matched.note)"]
    matched_balanced_accuracy: Annotated[float | None, "the matched transfer probes' balanced accuracy"]
    matched_baseline_accuracy: Annotated[float | None, "accuracy of the matched baseline probes (per fold, trained on "
                                                       "m_f sounds of the fold's training part)"]
    matched_baseline_balanced_accuracy: Annotated[float | None, "the matched baseline probes' balanced accuracy"]
    accuracy_ci: NotRequired[Annotated[Interval | None, "bootstrap interval over test sounds"]]
    balanced_accuracy_ci: NotRequired[Annotated[Interval | None, "bootstrap interval over test sounds"]]
    baseline_accuracy_ci: NotRequired[Annotated[Interval | None, "bootstrap interval over test sounds"]]
    baseline_balanced_accuracy_ci: NotRequired[Annotated[Interval | None, "bootstrap interval over test sounds"]]
    matched_accuracy_ci: NotRequired[Annotated[Interval | None, "bootstrap interval over test sounds"]]
    matched_balanced_accuracy_ci: NotRequired[Annotated[Interval | None, "bootstrap interval over test sounds"]]
    matched_baseline_accuracy_ci: NotRequired[Annotated[Interval | None, "bootstrap interval over test sounds"]]
    matched_baseline_balanced_accuracy_ci: NotRequired[Annotated[Interval | None, "bootstrap interval over test "
                                                                                  "sounds"]]


class Chance(TypedDict):
    accuracy: Annotated[float, "the test subset's majority-class share"]
    balanced_accuracy: Annotated[float, "1 / number of test classes"]
    method: Annotated[str, "how chance is computed, in words"]


class Matched(TypedDict):
    method: Annotated[str, "what was matched and how the subsamples are drawn, in words"]
    n_test: Annotated[int, "test sounds with matched predictions (every test sound unless a note says otherwise)"]
    note: NotRequired[Annotated[str, "why some or all test sounds have no matched predictions"]]


class ProbeDesign(TypedDict):
    inner_folds: Annotated[int, "stratified folds inside the training sounds that chose C"]
    left_out_of_choosing_c: Annotated[list[str], "classes of a single training sound, left out of the choice of C "
                                                 "(still in the probe's fit; probing.inner_folds_of)"]
    note: Annotated[str, "the design, in words"]


class BaselineContrast(TypedDict):
    value: Annotated[float | None, "matched transfer minus matched baseline (the task's score) at the layer chosen by "
                                   "the transfer score: cross-validated over half-splits of the test sounds, the "
                                   "contrast never read on the half that chose its layer (selection says how)"]
    layer: Annotated[str | None, "the layer picked most often (the only layer, when there is one)"]
    layer_frequency: NotRequired[Annotated[float | None, "share of the split halves that picked `layer`"]]
    ci: Annotated[Interval | None, "t interval of value at ci_level (null: no bootstrap, or undefined)"]
    se: NotRequired[Annotated[float | None, "standard error of value, from its bootstrap replicates"]]
    dof: NotRequired[Annotated[float | None, "degrees of freedom of the interval's t quantile"]]
    ci_method: NotRequired[Annotated[str, "how the interval is made, in words"]]
    selection: Annotated[str, "how the layer was chosen, in words"]
    what: Annotated[str, "what the contrast is, in words"]


class TransferScores(Scores):
    per_layer: Annotated[list[TransferLayerScore], "one entry per layer, in layer order"]
    baseline_contrast: Annotated[BaselineContrast, "transfer against the no-transfer baseline at matched training "
                                                   "sizes, with a cross-validated layer choice"]
    chance: Annotated[Chance, "chance levels of the test subset"]
    n_train: Annotated[int, "training sounds"]
    n_test: Annotated[int, "test sounds"]
    n_excluded: Annotated[int, "sounds left out for a tied modal response"]
    n_train_matched: Annotated[list[int] | None, "m_f per baseline fold: the training sounds of both matched probes "
                                                 "(null: no baseline)"]
    matched: Annotated[Matched, "how the matched-size probes were made"]
    probe_design: NotRequired[Annotated[ProbeDesign, "how the transfer probe's C was chosen on these labels"]]
    classes_train: Annotated[dict[str, int], "sounds per class in the training subset"]
    classes_test: Annotated[dict[str, int], "sounds per class in the test subset"]
    label_reliability: Annotated[dict[str, NoiseCeiling], "for each perceived label the task uses (target, split): "
                                                         "how well the listeners agree on it (reliability.label_reliability; "
                                                         "`reliable` false: the label is mostly the listeners' noise)"]


# ---------------------------------------------------------------------------------------------
# How transfer results are shown (`presentation.Presentation`): read from result files downstream

def _score_key(result: dict) -> str:
    return result_params(result).get("score", "accuracy")


def _chance(result: dict) -> float | None:
    chance = result["scores"].get("chance")
    return chance.get(_score_key(result)) if isinstance(chance, dict) else chance


def _baseline(result: dict) -> dict[str, float | None]:
    """A leaderboard cell's no-transfer baseline at the headline layer (None: none)."""
    return {"baseline": headline_entry(result).get(f"baseline_{_score_key(result)}")}


def _legend(results: list[dict]) -> str:
    """What a transfer cell's baseline and the chance column are, and why a baseline is absent."""
    metrics = sorted({_score_key(r).replace("_", " ") for r in results})
    text = (f"Transfer ({' / '.join(metrics)}): *baseline* is the no-transfer probe at the headline layer (trained "
            f"and tested inside the test subset, cross-validated); *chance* is the test subset's majority-class "
            f"share (1 / classes for balanced accuracy).")
    absent: dict[str, set[str]] = {}
    for r in results:
        entry = headline_entry(r)
        if r["scores"]["headline"].get("value") is not None and entry.get(f"baseline_{_score_key(r)}") is None:
            absent.setdefault(entry.get("baseline_note") or "the result file gives none", set()).add(r["task"]["name"])
    reasons = [f"{why} ({', '.join(sorted(tasks))})" for why, tasks in sorted(absent.items())]
    return text + (f" No baseline: {'; '.join(reasons)}." if reasons else "")


def _panel_title(result: dict) -> str:
    p = result_params(result)
    train, test = p.get("train_values", []), p.get("test_values", [])
    return f"{', '.join(map(str, train))} → {', '.join(map(str, test))} ({p.get('split_dimension', '')})"


PRESENTATION = Presentation(
    experiments=(Experiment(
        "transfer", "Transfer", "Transfer across subsets of the sounds",
        description="A linear probe trained on one subset of the sounds predicts the category of another subset; "
                    "beside it, the same probe trained inside the test subset (baseline) and chance.",
        intro="Does a probe trained on one subset of the sounds predict the category of another subset? Transfer "
              "near its no-transfer baseline means the layer's categories generalise across the subsets; near "
              "chance, that they do not.",
        reference="chance", figures=("transfer",), order=20),),
    dimension_params=("target_dimension", "split_dimension"),
    y_label=lambda result: _score_key(result).replace("_", " "),
    panel_title=_panel_title,
    reference=_chance,
    cell_values=_baseline,
    legend=_legend,
)


register_task_type(TaskType("transfer", TRANSFER_PARAMS, evaluate_transfer, scores_schema=TransferScores,
                            check=_check_transfer, presentation=PRESENTATION))
