"""The types of an `rsa` result's `scores` (`RSAScores`), with what each field means.

The result validator checks results against them and docs/results.md is generated from them.
"""

from __future__ import annotations

from typing import Annotated, NotRequired, TypedDict

from audioprobe.tasktypes.common import Interval, LayerScore, Scores, Statistics
from audioprobe.tasktypes.reliability import CeilingFractions, NoiseCeiling


class Control(TypedDict):
    model: Annotated[str, "the control model whose RDM was regressed out"]
    layer: Annotated[str, "its layer"]
    score_of_control: Annotated[float | None, "the control RDM's own correlation with the target"]


class RDMRefs(TypedDict):
    layer: Annotated[str | None, "the headline layer"]
    model_sha256: NotRequired[Annotated[str, "its condensed RDM (float32, upper triangle row by row): "
                                             "<set folder>/rdms/<sha256>.npy"]]
    target_sha256: NotRequired[Annotated[str, "the target RDM, stored the same way"]]
    what: NotRequired[Annotated[str, "what the model RDM is (partial RSA: the residual after the control)"]]
    reason: NotRequired[Annotated[str, "why no RDMs were kept"]]


class MeasureLayer(TypedDict):
    layer: Annotated[str, "layer name"]
    value: Annotated[float | None, "the measure on this layer (null: undefined)"]
    ci: Annotated[Interval | None, "percentile bootstrap interval over sounds (null: off or undefined)"]


class MeasureScores(TypedDict):
    lower_is_better: Annotated[bool, "normalised_mae: lower is better; the others: higher"]
    per_layer: Annotated[list[MeasureLayer], "the measure per layer, in the model's layer order"]
    at_headline_layer: Annotated[MeasureLayer | None, "at the layer the RSA headline chose (null: none)"]
    method: Annotated[str, "the function, its settings and the interval's method"]


class RSAStatistics(Statistics):
    permutations: Annotated[int, "Mantel permutations (0: off)"]
    resampled: NotRequired[Annotated[list[str], "the factors the bootstrap resampled: [sounds] (percentile "
                                                "intervals) or [sounds, listeners] (two-factor: t intervals from "
                                                "the dual-bootstrap variance); [] when bootstrap is 0"]]
    n_listeners: NotRequired[Annotated[int, "listeners resampled (two-factor)"]]


class RSALayerScore(LayerScore):
    dof: NotRequired[Annotated[float | None, "degrees of freedom of the layer's t interval (two-factor: Satterthwaite "
                                             "from the three bootstrap variances, between min(listeners, sounds) - 1 "
                                             "and about listeners x sounds)"]]


class RSAScores(Scores):
    per_layer: Annotated[list[RSALayerScore], "one entry per layer, in layer order"]
    statistics: Annotated[RSAStatistics, "the uncertainty settings and methods"]
    noise_ceiling: Annotated[NoiseCeiling, "how well the target agrees with itself across listeners (partial "
                                           "RSA: value null, the raw target's block is target_reliability)"]
    target_reliability: NotRequired[Annotated[NoiseCeiling, "partial RSA: the raw target's split-half "
                                                            "reliability, to flag an unreliable target"]]
    headline_over_ceiling: NotRequired[Annotated[CeilingFractions, "the headline as a fraction of the attainable "
                                                                        "correlation"]]
    control: Annotated[Control | None, "partial RSA: the regressed-out control (null: plain RSA)"]
    rdms: NotRequired[Annotated[RDMRefs, "the headline layer's RDM and the target, kept for the report's heatmaps"]]
    measures: NotRequired[Annotated[dict[str, MeasureScores], "measures of the timbre literature (param measures), "
                                                              "by name"]]
    n_sounds: Annotated[int, "sounds compared"]
    n_pairs: Annotated[int, "pairs of sounds compared: upper-triangle entries present in the target"]
    n_pairs_missing: NotRequired[Annotated[int, "pairs with no value in the target (cells of rdm.csv not rated), "
                                                "left out of every statistic"]]
    missing_pairs: NotRequired[Annotated[str, "a note saying that some pairs are missing and which pairs were used"]]
