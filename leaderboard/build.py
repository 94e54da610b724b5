"""Aggregate result files into a markdown leaderboard.

Reads result JSON files only. One table per stimulus set (by fingerprint, partial runs apart):
a row per model, a column per task, the headline score and its layer. A missing cell stays
missing and is never averaged over.
"""

from __future__ import annotations

from pathlib import Path

from tabulate import tabulate

from audioprobe.results import collect_files, format_score

MISSING = "—"


def collect(results_dir: Path) -> list[dict]:
    """Every result under `results_dir` (see `audioprobe.results.collect_files`)."""
    return [r for _, r in collect_files(results_dir)]


def _cell(result: dict, best: bool = False) -> str:
    h = result["scores"]["headline"]
    if h.get("value") is None:
        return MISSING
    score = format_score(h["value"], 3)
    text = (f"**{score}**" if best else score) + (" ↓" if result["scores"].get("lower_is_better") else "")
    if h.get("ci") is not None:
        text += f" [{format_score(h['ci'][0], 3)}, {format_score(h['ci'][1], 3)}]"
    text = f"{text} ({h['layer']})" if h.get("layer") else text
    ratio = (result["scores"].get("headline_over_ceiling") or {}).get("split_half")
    if ratio is not None and h["value"] > 0:  # a share of the ceiling means nothing for a negative score
        text += f" = {100 * ratio:.0f}% of ceiling"
    return text


def _kind(result: dict) -> str:
    """The experiment a result belongs to, for one table each: the task type, partial RSA apart."""
    params = result["task"].get("config", {}).get("params", {})
    kind = result["task"].get("type", "other")
    return "rsa (partial, control regressed out)" if kind == "rsa" and params.get("control", "none") != "none" else kind


def best_groups(files: list[tuple[Path, dict]], alpha: float = 0.05) -> dict[tuple[str, str], set[str]]:
    """(set fingerprint, task) -> the models the data do not separate from the best (at least two
    models compared on shared resamples; see audioprobe-compare)."""
    from audioprobe.leaderboard.compare import Entry, compare_models

    by_task: dict[tuple[str, str], list] = {}
    for path, r in files:
        if r["schema_version"] >= 2:
            by_task.setdefault((r["dataset"]["fingerprint"], r["task"]["name"]), []).append(Entry(path, r))
    out = {}
    for key, entries in by_task.items():
        table = compare_models(entries, alpha=alpha)
        if table is not None and table.get("pairwise") is not None:
            out[key] = {m for m, keep in zip(table["models"], table["best_group"]["in_group"]) if keep}
            out[key] = out[key] if len(out[key]) < len(table["models"]) else set()  # all tied: none stands out
    return out


def render_markdown(results: list[dict], best: dict[tuple[str, str], set[str]] | None = None,
                    alpha: float = 0.05) -> str:
    """The leaderboard; `best` (from `best_groups`) puts the best group of each task in bold."""
    best = best or {}
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        ds = r["dataset"]
        groups.setdefault((ds["name"], ds["fingerprint"], ds.get("partial", False), ds["n_sounds"]), []).append(r)
    lines = ["# audioprobe leaderboard", "",
             "Headline score per (model, task) with the layer it comes from. A dash is a missing result; "
             "nothing is averaged over missing cells.", ""]
    for (name, fp, partial, n), rs in sorted(groups.items(), key=lambda kv: (kv[0][2], kv[0][0])):
        synthetic = any(r["dataset"].get("synthetic") for r in rs)
        title = f"## Stimulus set `{name}` ({n} sounds, fingerprint `{fp[:12]}`)"
        lines.append(title + (" — PARTIAL (--limit)" if partial else ""))
        lines.append("")
        if synthetic:
            lines += ["> **Synthetic stimuli judged by simulated listeners.** These scores test the harness and "
                      "the models on a physically grounded stand-in; they are not findings about human perception.", ""]
        models = sorted({r["model"]["name"] for r in rs})
        cells = {(r["model"]["name"], r["task"]["name"]): r for r in rs}
        by_kind: dict[str, set[str]] = {}
        for r in rs:
            by_kind.setdefault(_kind(r), set()).add(r["task"]["name"])
        for kind, task_names in sorted(by_kind.items()):
            tasks = sorted(task_names)
            rows = [[m, *(_cell(cells[(m, t)], m in best.get((fp, t), ())) if (m, t) in cells else MISSING
                          for t in tasks)] for m in models]
            lines += [f"### {kind}", "", tabulate(rows, headers=["model", *tasks], tablefmt="github"), ""]
        selections = sorted({r["scores"]["headline"].get("selection", "") for r in rs} - {""})
        versions = sorted({f"{r['task']['name']} v{r['task']['version']}" for r in rs})
        lines += ["", f"Headline layer: {'; '.join(selections)}."]
        if any(r["scores"].get("lower_is_better") for r in rs):
            lines.append("↓ marks an error rate (ABX): lower is better, chance is 0.5.")
        compared = sorted(t for f, t in best if f == fp)
        if compared:
            tied = [t for t in compared if not best[(fp, t)]]
            lines.append(f"**Bold**: the best model of a task and those the data do not separate from it (paired "
                         f"t-tests of headline differences on shared bootstrap resamples, with the dual-bootstrap "
                         f"variance where listeners were resampled, Schütt et al. 2023; Benjamini-Hochberg across "
                         f"the task's pairs, q < {alpha}). Not a proof of equality; `audioprobe-compare` gives "
                         f"every difference." + (f" No model is separated from the best on: {', '.join(tied)}."
                                                 if tied else ""))
        if any((r["scores"].get("headline_over_ceiling") or {}).get("split_half") is not None for r in rs):
            lines.append("x% of ceiling: the headline over the split-half noise ceiling (a descriptive ratio; the "
                         "leave-one-listener-out bounds are in the result files and audioprobe-compare).")
        lines += [f"Task versions: {', '.join(versions)}.", ""]
    return "\n".join(lines)


def build(results_dir: Path, output: Path | None = None) -> str:
    files = collect_files(results_dir)
    text = render_markdown([r for _, r in files], best_groups(files))
    if output is not None:
        from audioprobe.files import atomic_write_bytes

        atomic_write_bytes(Path(output), lambda fh: fh.write(text.encode("utf-8")))
    return text
