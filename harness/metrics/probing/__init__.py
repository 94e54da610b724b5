"""Transfer probes (Bost et al. 2024, experiment 2) on arrays.

A linear probe (L2-regularised multinomial logistic regression) learns a category from one
layer's pooled activations on a training subset of sounds and is tested on a disjoint subset,
e.g. trained on sounds perceived as 1D or 2D and tested on sounds perceived as 3D. The
no-transfer baseline is the same probe cross-validated inside the test subset. Standardisation
and the choice of C are fitted on training sounds only (a pipeline refitted in every fold).
Matched training sizes pair transfer and baseline probes at equal training-set sizes (`matched`).

The package, by concept: `labels` (modal labels, class sizes, fold counts), `solver` (our Newton-CG
along the C path, the probe's tolerance), `probe` (one probe: preprocessing, the choice of C, the
fit), `baseline` (the no-transfer baseline's folds and predictions), `matched` (matched training
sizes), `layers` (every probe of every layer, as parallel jobs), `accuracy` (accuracy and balanced
accuracy under many weightings). Callers use the names below; the solver's tuning constants
(`solver.NEWTON_CAP`, `solver.JACOBI_CG_CAP`, ...) stay in `solver`.
"""

from audioprobe.metrics.probing.accuracy import accuracies, class_weights
from audioprobe.metrics.probing.baseline import baseline_absence, baseline_folds, baseline_predictions
from audioprobe.metrics.probing.labels import class_counts_text, fold_count, modal_labels
from audioprobe.metrics.probing.layers import all_layer_predictions, release_workers
from audioprobe.metrics.probing.matched import (
    MATCHED_STREAM,
    MatchedFold,
    MatchedPredictions,
    matched_plan,
    matched_rng,
    stratified_subsample,
)
from audioprobe.metrics.probing.probe import (
    C_GRID,
    ProbeDesignError,
    choose_c,
    fit_probe,
    inner_folds_of,
    path_accuracies,
    path_predictions,
    transfer_predictions,
)
from audioprobe.metrics.probing.solver import (
    MAX_ITER,
    SKLEARN_PRIVATE_LOSS_CHECKED,
    TOL,
    multinomial_hessian,
    multinomial_path,
    sklearn_private_loss,
)

__all__ = ["C_GRID", "MATCHED_STREAM", "MAX_ITER", "SKLEARN_PRIVATE_LOSS_CHECKED", "TOL", "MatchedFold",
           "MatchedPredictions", "ProbeDesignError", "accuracies", "all_layer_predictions", "baseline_absence",
           "baseline_folds", "baseline_predictions", "choose_c", "class_counts_text", "class_weights", "fold_count",
           "fit_probe", "inner_folds_of", "matched_plan", "matched_rng", "modal_labels",
           "multinomial_hessian", "multinomial_path", "path_accuracies", "path_predictions", "release_workers",
           "sklearn_private_loss", "stratified_subsample", "transfer_predictions"]
