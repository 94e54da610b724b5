"""The transfer task type's parameters (`TRANSFER_PARAMS`) and the checks of a task file's values that the
parameter types alone cannot make (`check_transfer`)."""

from __future__ import annotations

from typing import Any

from audioprobe.errors import AudioprobeError
from audioprobe.metrics import probing
from audioprobe.pooling import POOLINGS
from audioprobe.tasktypes.common import LABEL_SOURCES, STAT_PARAMS, Param

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


def check_transfer(where: str, params: dict[str, Any]) -> None:
    """Category lists non-empty and disjoint (a sound may not be in both subsets), C's positive numbers."""
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
