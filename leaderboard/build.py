"""Aggregate result files into a markdown leaderboard.

Reads result JSON files only. Per stimulus set (by fingerprint; a --limit cut apart), one table per
experiment (RSA, partial RSA, transfer, ABX; RSA split by the kind of target), each cell the
headline score of one model on one task, with its interval, the best group of each task in bold.
Its parts: `leaderboard_tables` (the set's results indexed, the cells, the tables laid out to fit a
page) and `leaderboard_text` (headings, links to the report, the legend); this module gathers the
result files, finds each task's best group and assembles the page.
"""

from __future__ import annotations

from pathlib import Path

from audioprobe.errors import AudioprobeError
from audioprobe.leaderboard.leaderboard_tables import MISSING, UNDEFINED, SetView, group_by_set, set_tables
from audioprobe.leaderboard.leaderboard_text import experiment_heading, legend, set_heading
from audioprobe.results import collect_files


def collect(results_dir: Path) -> list[dict]:
    """Every result under `results_dir` (see `audioprobe.results.collect_files`)."""
    return [r for _, r in collect_files(results_dir)]


def render_set(view: SetView, best: dict, alpha: float, report_url: str | None) -> list[str]:
    lines = set_heading(view)
    for experiment, subs in set_tables(view, best).items():
        lines += experiment_heading(view, experiment, report_url)
        for sub, tables in subs:
            lines += [sub.label, ""] if sub.label else []
            for table in tables:
                lines += table + [""]
    return lines + legend(view, best, alpha)


def render_markdown(results: list[dict], best: dict[tuple[str, str], set[str]] | None = None,
                    alpha: float = 0.05, report_url: str | None = None) -> str:
    """The leaderboard; `best` (from `best_groups`) puts the best group of each task in bold;
    `report_url` (e.g. "report/index.html") links each experiment's heading to its report section."""
    intro = ("Headline score of each model on each task, with its interval. "
             f"{MISSING} marks a missing result (no result file), {UNDEFINED} a result whose score is undefined; "
             "nothing is averaged over either.")
    if report_url:
        intro += f" Each experiment's heading links to its section of the [report]({report_url})."
    lines = ["# audioprobe leaderboard", "", intro, ""]
    for view in group_by_set(results):
        lines += render_set(view, best or {}, alpha, report_url)
    return "\n".join(lines).rstrip() + "\n"


def best_groups(files: list[tuple[Path, dict]], alpha: float = 0.05) -> dict[tuple[str, str], set[str]]:
    """(set fingerprint, task) -> the models the data do not separate from the best (at least two
    models compared on shared resamples; see audioprobe-compare)."""
    from audioprobe.leaderboard.compare import compare_models
    from audioprobe.leaderboard.pairing import Entry

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


def build(results_dir: Path, output: Path | None = None, report_url: str | None = None) -> str:
    """The leaderboard of the result files under `results_dir`, written to `output` when given."""
    files = collect_files(results_dir)  # unreadable files are skipped with a warning naming each
    if not files:
        raise AudioprobeError(f"{results_dir}: no readable result files here (searched every *.json below it); "
                              f"run audioprobe-eval first, or give the folder it wrote (--output-dir).")
    from audioprobe.leaderboard.suite_tables import render_markdown as suite_section

    text = render_markdown([r for _, r in files], best_groups(files), report_url=report_url)
    suites = suite_section(results_dir)
    if suites:
        text += "\n" + "\n".join(suites).rstrip() + "\n"
    if output is not None:
        from audioprobe.files import atomic_write_bytes

        atomic_write_bytes(Path(output), lambda fh: fh.write(text.encode("utf-8")))
    return text
