"""The transfer task type's evaluation: every probe fitted once, then each layer scored under every weighting
of the test sounds (`_LayerScores`), the cross-validated headline and the matched contrast made from those
scores, and the result's `scores` put together (`evaluate_transfer`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from audioprobe.metrics import intervals, layer_selection, probing
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes.common import Activations, EvalContext, interval, json_float, synthetic_caveat
from audioprobe.tasktypes.headline import headline
from audioprobe.tasktypes.reliability import label_reliability
from audioprobe.tasktypes.transfer.contrast import baseline_contrast
from audioprobe.tasktypes.transfer.subsets import SoundWeights, Subsets

MATCHED_METHOD = ("Matched training sizes: for each baseline outer fold f, m_f = min(n_train, sounds in fold f's "
                  "training part); a matched transfer probe is trained on a class-stratified random subsample of m_f "
                  "training-subset sounds and a matched baseline probe on m_f sounds of the fold's training part (the "
                  "fold's own baseline probe where that part has m_f sounds; the transfer probe itself where m_f = "
                  "n_train), both predicting fold f's held-out test sounds. Subsamples keep 2 sounds of every class "
                  "that has 2 (while m_f allows), the rest in proportion to the class sizes, drawn with a generator "
                  "seeded by the seed and the fold (the same sounds for every model). A fold whose subsample keeps "
                  "fewer than 2 classes gives no matched predictions.")


PER_LAYER_CI_METHOD = ("Wilson interval of a proportion on its effective sample size n_eff = p (1 - p) / v, v the "
                       "variance of the bootstrap replicates x n/(n-1) (the Kish size of the sounds' weights where p "
                       "is 0 or 1 or v is 0), t(n - 1) quantile (intervals.proportion_interval)")


def evaluate_transfer(acts: Activations, stimset: StimulusSet, params: dict[str, Any], ctx: EvalContext) -> dict:
    """Per layer: the transfer probe's score, the no-transfer baseline (full size: figure 2 of the paper),
    and both at matched training sizes (`probing.matched_plan`); the cross-validated headline of the
    transfer score (`headline.headline`) and of the matched contrast (`baseline_contrast`).

    Resampling: bootstrap over test sounds (the fitted probes kept), one plan for every array kept.
    Headline replicates: in resample b, the cross-validated score on the first K = min(HEADLINE_SPLITS,
    cv_splits) of the estimate's half-splits h_k (weights counts_b h_k and counts_b (1 - h_k);
    `layer_selection.split_held_out`), `[B, K]`.
    """
    data = Subsets(stimset, params, ctx)
    layers = acts[params["pooling"]]
    names = list(layers)
    fitted = probing.all_layer_predictions(list(layers.values()), data.train, data.test, data.y_train, data.y_test,
                                            params["c_grid"], params["inner_folds"], params["baseline_folds"],
                                            ctx.seed, params["max_iter"])
    plan = probing.matched_plan(data.y_train, data.y_test, params["baseline_folds"], params["inner_folds"], ctx.seed)
    # the test sounds with matched predictions (the same for every layer: the plan depends on labels only)
    pairs0 = fitted[0][3] if fitted else None
    defined = np.zeros(data.n_test, dtype=bool) if pairs0 is None else np.asarray(pairs0.defined, dtype=bool)
    weights = SoundWeights(ctx, data.y_test, params, defined)
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
                       "(the fitted probe is kept)", "ci_level": params["ci_level"], "ci_method": PER_LAYER_CI_METHOD,
                       "p_value": "one-sided binomial test of the number of correct test sounds against the "
                       "majority-class rate", "cv_splits": params["cv_splits"]},
        **synthetic_caveat(stimset),
    }


def _scores(correct: np.ndarray, labels: np.ndarray, weights: np.ndarray, class_weights: np.ndarray) -> np.ndarray:
    """`[2, ...]`: accuracy and balanced accuracy for weights `[..., n]` (`probing.accuracies`, the balanced
    accuracy's class weights fixed on the full set)."""
    w = np.asarray(weights, dtype=np.float64)
    acc, bal = probing.accuracies(correct, labels, w.reshape(-1, w.shape[-1]), class_weights)
    return np.stack([acc, bal]).reshape((2,) + w.shape[:-1])


class _LayerScores:
    """Each layer's entry of `per_layer`, and the arrays its headlines are made from, layer by layer."""

    def __init__(self, params: dict[str, Any], data: Subsets, weights: SoundWeights):
        self.params, self.data, self.w = params, data, weights
        self.which = 0 if params["score"] == "accuracy" else 1
        self.per_layer: list[dict] = []
        self.full = {"transfer": [], "contrast": []}
        self.boot = {"transfer": [], "baseline": [], "matched": [], "matched_baseline": []}
        self.cv_parts = {"transfer": [], "contrast": []}
        self.split_parts = {"transfer": [], "contrast": []}
        self.nan_b = np.full(params["bootstrap"], np.nan)

    def _on_all(self, values, weights) -> np.ndarray:
        """`_scores` under weightings of all test sounds."""
        return _scores(values, self.data.y_test, weights, self.w.class_weights["all"])

    def _on_defined(self, values, key: str) -> np.ndarray:
        """`_scores` under a weighting (`SoundWeights.on_defined[key]`) of the sounds with matched predictions."""
        return _scores(values, self.data.y_test, self.w.on_defined[key], self.w.class_weights["defined"])

    def _ci(self, value: float, boot_row: np.ndarray, on: str, balanced: bool):
        """A proportion's interval (`intervals.proportion_interval`, as the headline's): Wilson on the effective
        size from the replicates' variance x n/(n-1), n - 1 dof; on "all" test sounds or those "defined"."""
        n = self.data.n_test if on == "all" else int(self.w.defined.sum())
        var = float(intervals.replicate_variance(boot_row)[0]) if n >= 2 else np.nan
        if not (np.isfinite(var) and np.isfinite(value)):
            return None
        n_max = intervals.kish_size(self.w.class_weights[on]) if balanced else float(n)
        return interval(intervals.proportion_interval(value, var * n / (n - 1), n - 1, n_max, self.params["ci_level"]))

    def _cis(self, entry: dict, prefix: str, full: np.ndarray, boot: np.ndarray, on: str) -> None:
        """entry's `<prefix>accuracy_ci` and `<prefix>balanced_accuracy_ci` from `_scores` arrays."""
        entry[f"{prefix}accuracy_ci"] = self._ci(full[0], boot[0], on, False)
        entry[f"{prefix}balanced_accuracy_ci"] = self._ci(full[1], boot[1], on, True)

    def add(self, name: str, pred, best_c, base, pairs) -> None:
        from scipy.stats import binomtest

        y_test, ones, which, data = self.data.y_test, self.w.ones, self.which, self.data
        correct = pred == y_test
        acc, bal = t_full = self._on_all(correct, ones)[:, 0]
        b_full = np.full(2, np.nan)
        entry = {"layer": name, "score": json_float(acc if which == 0 else bal), "ci": None,
                 "p_value": json_float(binomtest(int(correct.sum()), data.n_test, data.chance,
                                                 alternative="greater").pvalue),
                 "accuracy": json_float(acc), "balanced_accuracy": json_float(bal), "C": best_c}
        base_correct = None if base is None else base == y_test
        if base_correct is not None:
            b_acc, b_bal = b_full = self._on_all(base_correct, ones)[:, 0]
            entry.update(baseline_accuracy=json_float(b_acc), baseline_balanced_accuracy=json_float(b_bal))
        else:
            entry.update(baseline_accuracy=None, baseline_balanced_accuracy=None,
                         baseline_note=data.absent or "no baseline")
        # matched sizes: both probes' correctness on the sounds whose fold has them (weights x defined)
        if pairs is not None and self.w.defined.any():
            m_ok, mb_ok = pairs.transfer == y_test, pairs.baseline == y_test
            m_full = self._on_defined(m_ok, "all")[:, 0]
            mb_full = self._on_defined(mb_ok, "all")[:, 0]
        else:
            m_ok = mb_ok = None
            m_full = mb_full = np.full(2, np.nan)
        entry.update(matched_accuracy=json_float(m_full[0]), matched_balanced_accuracy=json_float(m_full[1]),
                     matched_baseline_accuracy=json_float(mb_full[0]),
                     matched_baseline_balanced_accuracy=json_float(mb_full[1]))
        self.full["transfer"].append((acc, bal)[which])
        self.full["contrast"].append(m_full[which] - mb_full[which])
        if self.w.counts is not None:
            self._add_bootstrap(entry, correct, base_correct, m_ok, mb_ok, {
                "transfer": t_full, "baseline": b_full, "matched": m_full, "matched_baseline": mb_full})
        for parts, key, w in ((self.cv_parts, "cv", self.w.cv), (self.split_parts, "split", self.w.split)):
            if w is None:
                continue
            parts["transfer"].append(self._on_all(correct, w)[which])
            if m_ok is not None:
                parts["contrast"].append(self._on_defined(m_ok, key)[which] -
                                         self._on_defined(mb_ok, key)[which])
            else:
                parts["contrast"].append(np.full(w.shape[:-1], np.nan))
        self.per_layer.append(entry)

    def _add_bootstrap(self, entry: dict, correct, base_correct, m_ok, mb_ok, full: dict) -> None:
        """Each score's interval and the replicates kept; full: the scores on all sounds (`_scores` pairs)."""
        counts, which = self.w.counts, self.which
        sb = self._on_all(correct, counts)
        self._cis(entry, "", full["transfer"], sb, "all")
        entry["ci"] = entry["accuracy_ci"] if which == 0 else entry["balanced_accuracy_ci"]
        self.boot["transfer"].append(sb[which])
        self.boot["baseline"].append(self.nan_b)
        if base_correct is not None:
            bb = self._on_all(base_correct, counts)
            self.boot["baseline"][-1] = bb[which]
            self._cis(entry, "baseline_", full["baseline"], bb, "all")
        if m_ok is not None:
            mb, mbb = self._on_defined(m_ok, "boot"), self._on_defined(mb_ok, "boot")
            self._cis(entry, "matched_", full["matched"], mb, "defined")
            self._cis(entry, "matched_baseline_", full["matched_baseline"], mbb, "defined")
            self.boot["matched"].append(mb[which])
            self.boot["matched_baseline"].append(mbb[which])
        else:
            self.boot["matched"].append(self.nan_b)
            self.boot["matched_baseline"].append(self.nan_b)


def _layers_last(arrays):
    """per layer `[...]` -> `[..., n_layers]`."""
    return np.stack(arrays, axis=-1)


def _headline_and_contrast(scores: _LayerScores, names: list[str], params: dict[str, Any], weights: SoundWeights,
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
                               if split_pairs is not None else None, n_sounds=int(n_test),
                               proportion_n=intervals.kish_size(weights.class_weights["all"]) if scores.which else
                               float(n_test))
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
