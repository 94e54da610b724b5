"""`transfer`: a linear probe trained on one subset of sounds and tested on another.

Bost et al. (2024), experiment 2 (figure 2), with a no-transfer baseline and chance.

Per layer: the transfer score, the no-transfer baseline (the probe cross-validated inside the test
subset, at its own training size: the figure's comparison), and both again at matched training sizes
(`probing.matched_plan`: per baseline fold, two probes trained on the same number of sounds, paired
sound by sound), so that "transfer beats baseline" does not measure training-set size. Two
headlines, both cross-validated over half-splits of the test sounds: the transfer score
(`headline.headline`) and the matched contrast, matched transfer minus matched baseline at the layer
the transfer score picks on the other half (`baseline_contrast`).

The package, by concept: `params` (the parameters and their checks), `subsets` (the training and
test sounds, the weightings of the test sounds), `evaluate` (the evaluation steps), `contrast` (the
matched transfer-vs-baseline contrast), `schema` (the result's `scores`), `presentation` (how results
are shown). Importing the package registers the type.
"""

from audioprobe.tasktypes.common import TaskType, register_task_type
from audioprobe.tasktypes.transfer.contrast import baseline_contrast, held_out_contrast
from audioprobe.tasktypes.transfer.evaluate import evaluate_transfer
from audioprobe.tasktypes.transfer.params import TRANSFER_PARAMS, check_transfer
from audioprobe.tasktypes.transfer.presentation import PRESENTATION
from audioprobe.tasktypes.transfer.schema import TransferScores
from audioprobe.tasktypes.transfer.subsets import transfer_subsets

register_task_type(TaskType("transfer", TRANSFER_PARAMS, evaluate_transfer, scores_schema=TransferScores,
                            check=check_transfer, presentation=PRESENTATION))

__all__ = ["PRESENTATION", "TRANSFER_PARAMS", "TransferScores", "baseline_contrast", "check_transfer",
           "evaluate_transfer", "held_out_contrast", "transfer_subsets"]
