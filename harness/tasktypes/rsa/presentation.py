"""How `rsa` results are shown (`presentation.Presentation`), read from result files downstream.

Its two experiments (plain and partial RSA), the leaderboard's tables (one per kind of target), the
figure kinds that draw them, panel titles, y labels and the reference line (the noise ceiling).
"""

from __future__ import annotations

from audioprobe.metrics import geometry
from audioprobe.tasktypes.presentation import (
    HUMAN_DISSIMILARITIES,
    Experiment,
    Presentation,
    dimension_label,
    dimensions_param,
    perceived_target,
    result_params,
)

#: targets in the leaderboard's order, each with what its distances compare
TARGET_HEADINGS = {
    "kl": "**Perceived** (symmetric KL divergence between the listeners' response distributions)",
    "js": "**Perceived** (Jensen-Shannon divergence between the listeners' response distributions)",
    "modal": "**Modal response** (0/1: whether the answers most listeners gave differ)",
    "physical": "**Physical label** (0/1: whether the physical labels differ)",
    "rdm": "**Human dissimilarities** (given with the stimulus set)",
}


def _is_partial(result: dict) -> bool:
    return result_params(result).get("control", "none") not in ("none", "", None)


def _alignment_target(result: dict) -> str | None:
    """Plain RSA against the listeners (a response target or the set's matrix); not partial RSA (its RDM is a
    residual) nor a physical target."""
    target = result_params(result).get("target")
    if _is_partial(result) or target not in ("kl", "js", "modal", "rdm"):
        return None
    return HUMAN_DISSIMILARITIES if target == "rdm" else perceived_target(dimensions_param(result))


def _y_label(result: dict) -> str:
    name = result_params(result).get("comparison", "pearson")
    return f"RSA ({geometry.COMPARISONS[name].label if name in geometry.COMPARISONS else name})"


def _ceiling_value(result: dict) -> float | None:
    return (result["scores"].get("noise_ceiling") or {}).get("value")


def _control_words(results: list[dict]) -> dict[str, str]:
    """Partial RSA's placeholders: `control`, the first result's control model; `controls`, every one named."""
    controls = sorted({(r["scores"].get("control") or {}).get("model") or result_params(r).get("control", "")
                       for r in results})
    first = result_params(results[0]).get("control", "") if results else ""
    return {"control": "" if first in ("none", None) else first, "controls": ", ".join(c for c in controls if c)}


def _tables_by_target(results: list[dict]) -> list[tuple[str, list[str]]]:
    """One table per kind of target, in `TARGET_HEADINGS` order; in each, single dimensions before averages."""
    by_target: dict[str, dict[str, dict]] = {}
    for r in results:
        by_target.setdefault(result_params(r).get("target", "?"), {}).setdefault(r["task"]["name"], r)
    order = [t for t in TARGET_HEADINGS if t in by_target] + sorted(set(by_target) - set(TARGET_HEADINGS))
    return [(TARGET_HEADINGS.get(target, f"**Target** (`{target}`)"),
             sorted(by_target[target], key=lambda t: (len(dimensions_param(by_target[target][t])) > 1, t)))
            for target in order]


#: the figure kinds that draw RSA results, plain or partial, in order (leaderboard/figure_kinds.py)
FIGURES = ("rsa-perceived", "rsa-perceived-vs-physical", "rsa-matrix", "profiles")

PRESENTATION = Presentation(
    experiments=(
        Experiment("rsa", "RSA", "Representational similarity (RSA)",
                   description="How well the distances between sounds in a layer match the target's distances "
                               "(correlation of the two dissimilarity matrices).",
                   intro="How closely does each layer's representational geometry follow the target's? Read the "
                         "height of each profile against the noise ceiling, and where in depth it peaks.",
                   reference="ceiling", figures=FIGURES, order=10),
        Experiment("rsa-partial", "Partial RSA", "Partial RSA (a control model's RDM regressed out)",
                   description="RSA on what is left of a layer's distances once the control model's distances "
                               "({controls}) are regressed out (Bost et al. 2024, appendix B).",
                   intro="What is left of each layer's alignment once the control model's ({control}) geometry is "
                         "regressed out? A profile near zero says the control explains the alignment.",
                   reference="ceiling", figures=FIGURES, order=11),
    ),
    experiment_of=lambda result: "rsa-partial" if _is_partial(result) else "rsa",
    dimension_params=("dimensions",),
    dimensions=dimensions_param,
    y_label=_y_label,
    panel_title=lambda result: f"{dimension_label(result)}\n({result['task']['name']})",
    reference=_ceiling_value,
    table_groups=_tables_by_target,
    words=_control_words,
    alignment_target=_alignment_target,
)
