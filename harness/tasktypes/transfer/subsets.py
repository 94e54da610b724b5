"""The sounds a transfer task scores: its training and test subsets and their labels (`Subsets`), and the
weightings of the test sounds every score is computed under (`SoundWeights`: all sounds, bootstrap
resamples, half-splits, and the same on the sounds with matched predictions)."""

from __future__ import annotations

from typing import Any

import numpy as np

from audioprobe.errors import NotApplicableError
from audioprobe.metrics import probing, resampling
from audioprobe.stimuli import StimulusSet
from audioprobe.tasktypes.common import EvalContext, sound_labels


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


class Subsets:
    """The training and test sounds and their labels, checked: two classes to learn, folds to choose C in."""

    def __init__(self, stimset: StimulusSet, params: dict[str, Any], ctx: EvalContext):
        self.train, self.test, target, self.excluded = transfer_subsets(stimset, params, ctx.task)
        self.y_train, self.y_test = target[self.train], target[self.test]
        if len(np.unique(self.y_train)) < 2:
            raise NotApplicableError(f"task {ctx.task!r}: every training sound has the same "
                                     f"{params['target_dimension']!r} category ({self.y_train[0]}); nothing to learn.")
        self.design = probing.inner_folds_of(self.y_train, probing.fold_count(self.y_train, params["inner_folds"]),
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


class SoundWeights:
    """The test sounds' weights every score is computed under: all sounds once, the bootstrap resamples, the
    estimate's random halves and the first K halves within each resample; and the same on the sounds with
    matched predictions only (formed once for every layer); and the balanced accuracy's class weights, fixed
    on all test sounds and on those with matched predictions (`probing.class_weights`)."""

    def __init__(self, ctx: EvalContext, y_test: np.ndarray, params: dict[str, Any], defined: np.ndarray):
        n_test = len(y_test)
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
        self.class_weights = {"all": probing.class_weights(y_test), "defined": probing.class_weights(y_test, defined)}
        self.on_defined = {key: w * defined for key, w in (("all", self.ones), ("boot", self.counts), ("cv", self.cv),
                                                            ("split", self.split)) if w is not None}
