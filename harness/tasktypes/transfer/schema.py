"""The `scores` schema of a transfer result (`TransferScores` and its parts): what a result file holds, each
field with its meaning (docs/results.md is generated from it)."""

from __future__ import annotations

from typing import Annotated, NotRequired, TypedDict

from audioprobe.tasktypes.common import Interval, LayerScore, Scores
from audioprobe.tasktypes.reliability import NoiseCeiling

#: what every per-layer interval of a proportion is (the task's statistics.ci_method says how it is made)
PROPORTION_CI = "interval over test sounds (statistics.ci_method: Wilson on the bootstrap's effective size)"

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
    accuracy_ci: NotRequired[Annotated[Interval | None, PROPORTION_CI]]
    balanced_accuracy_ci: NotRequired[Annotated[Interval | None, PROPORTION_CI]]
    baseline_accuracy_ci: NotRequired[Annotated[Interval | None, PROPORTION_CI]]
    baseline_balanced_accuracy_ci: NotRequired[Annotated[Interval | None, PROPORTION_CI]]
    matched_accuracy_ci: NotRequired[Annotated[Interval | None, PROPORTION_CI]]
    matched_balanced_accuracy_ci: NotRequired[Annotated[Interval | None, PROPORTION_CI]]
    matched_baseline_accuracy_ci: NotRequired[Annotated[Interval | None, PROPORTION_CI]]
    matched_baseline_balanced_accuracy_ci: NotRequired[Annotated[Interval | None, PROPORTION_CI]]


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
