"""`rsa`: representational similarity of each layer with a human (or physical) RDM.

Bost et al. (2024), experiment 1 (figure 1) and appendix B (partial RSA, a control model's RDM
regressed out).

The task type is registered here from its parts, one module per concept: `params` (the task file's
keys and their checks), `rdms` (the two RDMs compared: the target, checked, and each layer's, in
partial RSA the residual after a control model's; the references a result keeps for the report's
heatmaps), `evaluate` (each layer's statistics and the headline, assembled into `scores`),
`measures` (measures of the timbre literature beside the RSA), `schema` (the types of `scores`, for
validation and docs/results.md) and `presentation` (how the leaderboard and the report show results).
"""

from __future__ import annotations

from audioprobe.tasktypes.common import TaskType, register_task_type
from audioprobe.tasktypes.rsa.evaluate import evaluate_rsa
from audioprobe.tasktypes.rsa.params import RSA_PARAMS, check_rsa
from audioprobe.tasktypes.rsa.presentation import PRESENTATION
from audioprobe.tasktypes.rsa.schema import RSAScores

register_task_type(TaskType("rsa", RSA_PARAMS, evaluate_rsa, scores_schema=RSAScores, check=check_rsa,
                            controls=lambda params: [] if params["control"] == "none" else [params["control"]],
                            presentation=PRESENTATION))
