"""The `rsa` task type's parameters (`RSA_PARAMS`) and the checks across them (`check_rsa`).

Each key's type, default, choices and help text; what a single key cannot say (a dimension is
needed for every target but `rdm`, KL needs smoothing, listeners can be resampled only for a
target built from their responses) is refused by `check_rsa` when a task file is read.
"""

from __future__ import annotations

from typing import Any

from audioprobe.errors import AudioprobeError
from audioprobe.metrics import geometry, similarity, targets
from audioprobe.pooling import POOLINGS
from audioprobe.tasktypes.common import STAT_PARAMS, Param, non_negative
from audioprobe.tasktypes.reliability import CEILING_SPLITS, HUMAN_TARGETS

RSA_TARGETS = ("kl", "js", "modal", "physical", "rdm")
RESAMPLE = ("auto", "sounds", "sounds+listeners")
#: listeners a two-factor bootstrap needs (fewer: the listener bootstrap has almost no distinct draws)
MIN_RESAMPLED_LISTENERS = 3

RSA_PARAMS = {
    "dimensions": Param((str, list), [], "Judged dimension(s) (physical: label columns); several: the mean of "
                                         "their RDMs. Empty for target 'rdm'."),
    "target": Param(str, "kl", "Target RDM: kl / js (symmetric KL or Jensen-Shannon of response distributions), "
                               "modal (0/1 between modal responses), physical (0/1 between labels), rdm (the "
                               "set's rdm.csv).", choices=RSA_TARGETS),
    "smoothing": Param(float, targets.DEFAULT_SMOOTHING, "Added to every category count before kl / js.",
                       check=lambda v: None if v >= 0 else "must be >= 0"),
    "model_distance": Param(str, "cosine", "Distance between pooled activations.", choices=geometry.MODEL_DISTANCES),
    "comparison": Param(str, "pearson", "Correlation of the upper triangles.", choices=geometry.COMPARISONS),
    "pooling": Param(str, "mean", "Pooling over frames.", choices=POOLINGS),
    "permutations": Param(int, 1000, "Mantel permutations for p-values (0: off).", check=non_negative),
    "ceiling_splits": Param(int, CEILING_SPLITS, "Random split halves of the listeners for the noise ceiling (0: off).",
                            check=non_negative),
    "control": Param(str, "none", "Partial RSA: a model (e.g. logmel) whose RDM is regressed out of each "
                                  "layer's RDM; none: plain RSA."),
    "control_layer": Param(str, "", "Layer of the control model (empty: its only layer)."),
    "measures": Param(list, [], "Measures of the timbre literature computed beside the RSA per layer, each with a "
                                "bootstrap interval over the same resamples of the sounds (docs/metrics.md). "
                                "Costly on large sets.",
                      choices=similarity.MEASURES, hashed_at_default=False),
    "resample": Param(str, "auto", "What the bootstrap resamples: sounds, or sounds+listeners (two-factor: the "
                                   "target rebuilt from resampled listeners; t intervals from the dual-bootstrap "
                                   "variance of Schütt et al. 2023). auto: sounds+listeners where the target is built "
                                   f"from per-listener responses of at least {MIN_RESAMPLED_LISTENERS} listeners "
                                   "(kl, js, modal with responses.csv), else sounds.", choices=RESAMPLE),
    **STAT_PARAMS,
}


def check_rsa(where: str, params: dict[str, Any]) -> None:
    """Refuse combinations of keys that no single key's check sees, naming the key and what to do."""
    if len(set(params["measures"])) != len(params["measures"]):
        raise AudioprobeError(f"{where}: key 'measures' lists a measure twice.")
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
    if params["resample"] == "sounds+listeners" and params["target"] not in HUMAN_TARGETS:
        raise AudioprobeError(f"{where}: key 'resample': sounds+listeners needs a target built from listener "
                              f"responses ({', '.join(HUMAN_TARGETS)}); target {params['target']!r} has no listeners "
                              f"to resample. Use resample: sounds or auto.")
