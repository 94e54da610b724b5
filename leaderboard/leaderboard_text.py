"""The leaderboard's words around its tables: a set's heading and models, each experiment's heading (linked to
its report section by `anchor`), and the legend that says how to read each mark present. Split from `build` (which
assembles the page) so the page's text can be read and edited apart from the table layout.
"""

from __future__ import annotations

import re

from audioprobe.leaderboard.leaderboard_tables import (
    MISSING,
    UNDEFINED,
    SetView,
    experiments_in,
    one_layer_models,
)
from audioprobe.results import reliability_blocks, result_label, set_folder, unreliable_labels
from audioprobe.tasktypes import presentation


def anchor(set_name: str, fingerprint: str, experiment: str) -> str:
    """The report's section id of one experiment on one stimulus set: `<set>-<fingerprint[:8]>-<experiment>`,
    lowercase, the set part spelled as its result folder (`audioprobe.results.set_folder`: safe in a URL).
    The report imports this rule, so the leaderboard's links and the report's sections agree."""
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", experiment):
        raise ValueError(f"experiment {experiment!r}: expected a lowercase name such as rsa or rsa-partial")
    return f"{set_folder(set_name, fingerprint)}-{experiment}".lower()


# ---------------------------------------------------------------------------------------------
# Text around the tables

def set_heading(view: SetView) -> list[str]:
    title = f"## Stimulus set `{view.name}` ({view.n_sounds} sounds, fingerprint `{view.fingerprint[:12]}`)"
    lines = [title + (" — PARTIAL (--limit)" if view.partial else ""), ""]
    if any(r["dataset"].get("synthetic") for r in view.results):
        lines += ["> **Synthetic stimuli with simulated judgments.** These scores test the harness and the "
                  "models on a physically grounded stand-in; they are not findings about human perception.", ""]
    return lines + [models_line(view), ""]


def models_line(view: SetView) -> str:
    """The models, each one-layer model with its layer (said here once, never in its cells)."""
    single = one_layer_models(view)
    n_layers: dict[str, int] = {}
    for r in view.results:
        n_layers[result_label(r)] = max(n_layers.get(result_label(r), 0), len(r["scores"]["per_layer"]))
    parts = [f"{m} (one layer, `{single[m]}`)" if m in single else f"{m} ({n_layers[m]} layers)"
             for m in view.models]
    text = "Models: " + ", ".join(parts) + "."
    if single:
        text += " A one-layer model's layer is named here only."
    if len(single) < len(view.models):
        text += " A cell of a model with several layers names its headline layer in parentheses."
    return text


def experiment_heading(view: SetView, experiment: str, report_url: str | None) -> list[str]:
    shown = presentation.experiment(experiment, view.of(experiment))
    title = shown.name
    if report_url:
        title = f"[{title}]({report_url}#{anchor(view.name, view.fingerprint, experiment)})"
    description = presentation.fill(shown.description, view.of(experiment))
    return [f"### {title}", ""] + ([description, ""] if description else [])


def selection_sentences(results: list[dict]) -> list[str]:
    """One sentence per way the headline layer was chosen among `results` (those with a score: a null
    headline chose no layer)."""
    scored = [r for r in results if r["scores"]["headline"].get("value") is not None]
    splits = {_cv_splits(r) for r in scored}
    cv = sorted(n for n in splits if n > 0)
    both = bool(cv) and 0 in splits
    sentences = []
    if cv:
        lowest = " (the lowest error where ↓)" if any(r["scores"].get("lower_is_better") for r in scored) else ""
        halves = " or ".join(str(n) for n in cv) if all(n > 1 for n in cv) else "several"
        sentences.append(f"{'On tasks with cv_splits > 0, the' if both else 'The'} headline layer is cross-validated "
                         f"over sounds: on each of {halves} random halves of the sounds, the best layer{lowest} is "
                         f"picked on one half and scored on the other, and a cell gives the mean held-out score.")
    if 0 in splits:
        sentences.append(f"{'On tasks with cv_splits 0, the' if both else 'The'} headline layer is the best layer "
                         f"on all sounds, not cross-validated and so optimistic.")
    return sentences


def _cv_splits(result: dict) -> int:
    """The random half splits behind a headline (0: the best layer on all sounds)."""
    splits = result["scores"].get("statistics", {}).get("cv_splits")
    if splits is None:  # an older result: its selection says it in words
        return 1 if result["scores"]["headline"].get("selection", "").startswith("cross-validated") else 0
    return splits


def undefined_reasons(results: list[dict]) -> list[str]:
    """'model (n tasks): why' for every result whose headline is null, grouped by model and reason."""
    counts: dict[tuple[str, str], int] = {}
    for r in results:
        if r["scores"]["headline"].get("value") is None:
            notes = sorted({e["note"] for e in r["scores"]["per_layer"] if e.get("note")})
            if (r["scores"].get("control") or {}).get("model") == r["model"]["name"]:
                notes.append(f"{r['model']['name']} is its own control")
            key = (result_label(r), "; ".join(notes) or "no layer has a finite score")
            counts[key] = counts.get(key, 0) + 1
    return [f"{m} ({n} task{'s' if n > 1 else ''}): {why}" for (m, why), n in sorted(counts.items())]


def legend(view: SetView, best: dict, alpha: float) -> list[str]:
    """The bullets under a set's tables: how to read each mark present."""
    rs, fp = view.results, view.fingerprint
    items = []
    sentences = selection_sentences(rs)
    if sentences:
        items.append(" ".join(sentences))
    levels = sorted({r["scores"].get("statistics", {}).get("ci_level") for r in rs} - {None})
    if levels:
        items.append(f"[a, b]: the headline's {' or '.join(f'{100 * x:g}%' for x in levels)} bootstrap interval "
                     f"(each result's `statistics` says what was resampled).")
    compared = sorted(t for f, t in best if f == fp)
    if compared:
        tied = [t for t in compared if not best[(fp, t)]]
        items.append(f"**Bold**: the best group of a task, a confidence set for the best model: the models that no "
                     f"other model beats significantly when all pairs are tested at once (paired t-tests of headline "
                     f"differences on shared bootstrap resamples, with the dual-bootstrap variance where listeners "
                     f"were resampled, Schütt et al. 2023; single-step max-t over the task's pairs, family-wise level "
                     f"{alpha}; Mogstad et al. 2024). With probability {1 - alpha:g} it holds every truly best model; "
                     f"it is not a proof that its members are equal. `audioprobe-compare` gives every difference."
                     + (f" No model is separated from the best on: {', '.join(tied)}." if tied else ""))
    if any((r["scores"].get("headline_over_ceiling") or {}).get("ratio") is not None for r in rs):
        items.append("*ceiling*: the split-half noise ceiling of the target (its reliability: listeners against "
                     "listeners, Spearman-Brown corrected); x% of attainable: the headline over the square root of the "
                     "ceiling, the correlation a perfect model would reach against this noisy target (classical test "
                     "theory; a descriptive ratio), given only where the target is reliable (below). None for "
                     "partial RSA, whose residualised RDM has no ceiling.")
    flagged: dict[str, list[str]] = {}
    for r in rs:
        for flag in unreliable_labels(r["scores"]):
            flagged.setdefault(r["task"]["name"], [])
            if flag not in flagged[r["task"]["name"]]:
                flagged[r["task"]["name"]].append(flag)
    if flagged:
        floors = sorted({b.get("reliability_floor") for r in rs
                         for b in reliability_blocks(r["scores"]).values()} - {None})
        items.append("⚠ *unreliable* (target, split, labels, strata): the listeners do not agree on the target (RSA) "
                     "or on a perceived label a transfer or ABX task uses (its target, its train/test split, its "
                     "labels, its strata): the 2.5th percentile of the label's split-half reliability over random "
                     "halves of the listeners (Spearman-Brown corrected) is below "
                     f"{' / '.join(f'{x:g}' for x in floors) or 'the floor'}. A score there says more about the "
                     "listeners' noise than about the model, and no share of the ceiling is given (docs/metrics.md). "
                     + " ".join(f"{task}: {'; '.join(flags)}." for task, flags in sorted(flagged.items())))
    if any(r["scores"].get("lower_is_better") for r in rs):
        items.append("↓ marks an error rate (ABX): lower is better; *chance* is the error of a model that cannot "
                     "tell the categories apart.")
    for experiment in experiments_in(view):
        results = view.of(experiment)
        legend_of = presentation.of(results[0]).legend
        if legend_of is not None:
            items.append(legend_of(results))
    items.append(missing_and_undefined(view))
    versions = sorted({f"{r['task']['name']} v{r['task']['version']}" for r in rs})
    items.append(f"Task versions: {', '.join(versions)}.")
    return [f"- {item}" for item in items] + [""]


def missing_and_undefined(view: SetView) -> str:
    """The legend of the two empty kinds of cell, with why each undefined score is undefined."""
    text = f"{MISSING} means no result file for this model and task (not run, or not applicable)"
    reasons = undefined_reasons(view.results)
    if reasons:
        text += (f"; {UNDEFINED} means the result file exists but its score is undefined, here for "
                 + "; ".join(reasons))
    return text + ". Nothing is averaged over either."
