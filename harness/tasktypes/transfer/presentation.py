"""How transfer results are shown (`presentation.Presentation`): read from result files downstream, by the
leaderboard and the report (the experiment, panel titles, the chance reference, a cell's baseline, the
legend)."""

from __future__ import annotations

from audioprobe.tasktypes.presentation import Experiment, Presentation, headline_entry, result_params


def _score_key(result: dict) -> str:
    return result_params(result).get("score", "accuracy")


def _chance(result: dict) -> float | None:
    chance = result["scores"].get("chance")
    return chance.get(_score_key(result)) if isinstance(chance, dict) else chance


def _baseline(result: dict) -> dict[str, float | None]:
    """A leaderboard cell's no-transfer baseline at the headline layer (None: none)."""
    return {"baseline": headline_entry(result).get(f"baseline_{_score_key(result)}")}


def _legend(results: list[dict]) -> str:
    """What a transfer cell's baseline and the chance column are, and why a baseline is absent."""
    metrics = sorted({_score_key(r).replace("_", " ") for r in results})
    text = (f"Transfer ({' / '.join(metrics)}): *baseline* is the no-transfer probe at the headline layer (trained "
            f"and tested inside the test subset, cross-validated); *chance* is the test subset's majority-class "
            f"share (1 / classes for balanced accuracy).")
    absent: dict[str, set[str]] = {}
    for r in results:
        entry = headline_entry(r)
        if r["scores"]["headline"].get("value") is not None and entry.get(f"baseline_{_score_key(r)}") is None:
            absent.setdefault(entry.get("baseline_note") or "the result file gives none", set()).add(r["task"]["name"])
    reasons = [f"{why} ({', '.join(sorted(tasks))})" for why, tasks in sorted(absent.items())]
    return text + (f" No baseline: {'; '.join(reasons)}." if reasons else "")


def _panel_title(result: dict) -> str:
    p = result_params(result)
    train, test = p.get("train_values", []), p.get("test_values", [])
    return f"{', '.join(map(str, train))} → {', '.join(map(str, test))} ({p.get('split_dimension', '')})"


PRESENTATION = Presentation(
    experiments=(Experiment(
        "transfer", "Transfer", "Transfer across subsets of the sounds",
        description="A linear probe trained on one subset of the sounds predicts the category of another subset; "
                    "beside it, the same probe trained inside the test subset (baseline) and chance.",
        intro="Does a probe trained on one subset of the sounds predict the category of another subset? Transfer "
              "near its no-transfer baseline means the layer's categories generalise across the subsets; near "
              "chance, that they do not.",
        reference="chance", figures=("transfer",), order=20),),
    dimension_params=("target_dimension", "split_dimension"),
    y_label=lambda result: _score_key(result).replace("_", " "),
    panel_title=_panel_title,
    reference=_chance,
    cell_values=_baseline,
    legend=_legend,
)
