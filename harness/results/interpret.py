"""What a result is read against: its experiment (the report's sections, the leaderboard's tables, the
families of corrections) and the labels or targets the listeners do not agree on (one place for every flag)."""

from __future__ import annotations

from audioprobe.results.display import format_score


def experiment_of(result: dict) -> str:
    """The experiment a result belongs to, as its task type presents it (`tasktypes.presentation`): the
    leaderboard's and the report's sections, and the families over which audioprobe-compare corrects for
    multiple comparisons."""
    from audioprobe.tasktypes.presentation import experiment_of as of_result

    return of_result(result)


def reliability_blocks(scores: dict) -> dict[str, dict]:
    """Every split-half reliability block a result is read against, by role: "target" (an RSA target's
    `noise_ceiling`, or the raw target's `target_reliability` for partial RSA) and each perceived label of a
    transfer or ABX task (`label_reliability`: "target", "split", "labels", "strata"). The one place that
    knows where they are."""
    target = scores.get("target_reliability") or scores.get("noise_ceiling")
    return {**({"target": target} if target else {}), **(scores.get("label_reliability") or {})}


def unreliable_roles(scores: dict) -> list[str]:
    """The roles of `reliability_blocks` the listeners do not agree on (`reliable` false), in order."""
    return [role for role, block in reliability_blocks(scores).items() if block.get("reliable") is False]


def unreliable_labels(scores: dict) -> list[str]:
    """What a result is read against that the listeners do not agree on, in words (empty: nothing): an
    RSA target whose split-half ceiling does not reach its reliability floor, and each perceived label of a
    transfer or ABX task that does not (`reliability_blocks`). Scores against such a target or split say
    more about the listeners' noise than about the model; the leaderboard, the report and compare flag them."""
    out = []
    for role, block in reliability_blocks(scores).items():
        if block.get("reliable") is not False:
            continue
        value, (lo, hi) = format_score(block.get("value"), 3), (format_score(x, 3) for x in block["interval"])
        if "dimension" in block:  # a perceived label (reliability.dimension_reliability)
            out.append(f"{role} label {block['dimension']!r} unreliable: listeners' split-half reliability {value}, "
                       f"[{lo}, {hi}]")
        else:
            out.append(f"target unreliable: ceiling {value}, [{lo}, {hi}] over listener splits")
    return out


def _no_constant(name: str):
    raise ValueError(f"a non-finite number ({name}) where JSON allows none")
