"""Suites in the leaderboard and in `audioprobe-compare`: one row per model, one column per set plus the means.

Reads suite results only (`audioprobe.suites`). The comparison pairs models set by set: each
model's mean over sets is resampled with the same draws of the sets (`metrics.over_sets.
set_resamples`, recomputed from the seed the files record), and the paired tests and the
Benjamini-Hochberg correction are those of the per-set comparisons (`metrics.inference.
pairwise_table`), with the sets as the resampled unit (t-test dof = sets - 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from audioprobe.errors import AudioprobeError
from audioprobe.results import interval_text, result_label, score_text
from audioprobe.suites import read_suite_results

MAX_WIDTH = 120  # characters: wider tables put the sets in rows


_f, _ci = score_text, interval_text


def group(results_dir: Path) -> dict[tuple[str, str], list[dict]]:
    """(suite, task) -> its suite results (one per model), models in name order."""
    out: dict[tuple[str, str], list[dict]] = {}
    for _, r in read_suite_results(results_dir):
        out.setdefault((r["suite"]["name"], r["task"]["name"]), []).append(r)
    return {k: sorted(v, key=lambda r: result_label(r)) for k, v in sorted(out.items())}


def suite_table(results: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Models as rows: each set's own headline, then the mean of those and the leave-one-set-out mean."""
    sets = [s["set"] for s in results[0]["sets"]]
    header = ["model", *sets, "mean (per-set layer)", "leave-one-set-out"]
    rows = []
    for r in results:
        by_set = {s["set"]: s for s in r["sets"]}
        rows.append([result_label(r), *[_f(by_set[s]["headline"]) if s in by_set else "—" for s in sets],
                     f"{_f(r['mean_of_set_headlines']['value'])} {_ci(r['mean_of_set_headlines']['ci'])}",
                     f"{_f(r['leave_one_set_out']['value'])} {_ci(r['leave_one_set_out']['ci'])}"])
    return header, rows


def render_markdown(results_dir: Path) -> list[str]:
    """The leaderboard's suite section (empty when there are no suite results)."""
    groups = group(results_dir)
    if not groups:
        return []
    lines = ["## Suites", "",
             "One row per model: each set's own headline (its layer chosen on that set), their mean, and the "
             "leave-one-set-out mean (each set scored at the layer that is best on the other sets: the suite's "
             "headline). Intervals: t over the sets (sets - 1 degrees of freedom; none from one set).", ""]
    for (suite, task), results in groups.items():
        r0 = results[0]
        lines += [f"### Suite `{suite}`, task `{task}` ({len(r0['sets'])} sets)", ""]
        if any(r["synthetic"] for r in results):
            lines += ["> **Synthetic sets.** These scores test the harness; they are not findings about human "
                      "perception.", ""]
        header, rows = suite_table(results)
        table = tabulate(rows, headers=header, tablefmt="github", disable_numparse=True).splitlines()
        if max(len(line) for line in table) > MAX_WIDTH:  # many sets: sets as rows
            columns = list(zip(header, *rows))
            table = tabulate([list(c) for c in columns[1:]], headers=["set", *columns[0][1:]], tablefmt="github",
                             disable_numparse=True).splitlines()
        lines += table + [""]
        missing = sorted({m for r in results for m in r.get("missing_sets", [])})
        if missing:
            lines += [f"Left out (not applicable): {', '.join(missing)}.", ""]
    return lines


def compare_suites(results_dir: Path, alpha: float = 0.05, level: float = 0.95) -> list[dict[str, Any]]:
    """Per (suite, task): the paired comparison of the models' leave-one-set-out means over the sets."""
    from audioprobe.metrics.inference import pairwise_table
    from audioprobe.metrics.over_sets import set_resamples, weighted_means

    out = []
    for (suite, task), results in group(results_dir).items():
        fingerprints = [[s["fingerprint"] for s in r["sets"]] for r in results]
        seeds = {(r["statistics"]["seed"], r["statistics"]["n_resamples"]) for r in results}
        entry = {"suite": suite, "task": task, "models": [result_label(r) for r in results],
                 "sets": [s["set"] for s in results[0]["sets"]], "synthetic": any(r["synthetic"] for r in results)}
        if len(results) < 2:
            out.append({**entry, "pairwise": None, "note": "one model: nothing to compare"})
            continue
        if any(f != fingerprints[0] for f in fingerprints) or len(seeds) != 1:
            raise AudioprobeError(f"suite {suite!r}, task {task!r}: the models' suite results cover different sets "
                                  f"or resamples; rerun audioprobe-eval on the suite for every model.")
        seed, n_resamples = seeds.pop()
        counts = set_resamples(seed, len(fingerprints[0]), n_resamples)
        values = np.array([[np.nan if s["leave_one_set_out"] is None else s["leave_one_set_out"] for s in r["sets"]]
                           for r in results])
        estimates = np.array([np.nan if r["leave_one_set_out"]["value"] is None else r["leave_one_set_out"]["value"]
                              for r in results])
        replicates = np.stack([weighted_means(v, counts) for v in values], axis=1)
        table = pairwise_table(estimates, replicates, n_sounds=len(fingerprints[0]), level=level, alpha=alpha)
        out.append({**entry, "lower_is_better": bool(results[0]["lower_is_better"]),
                    "estimates": [None if not np.isfinite(e) else float(e) for e in estimates], "pairwise": table})
    return out


def render_comparisons(comparisons: list[dict[str, Any]], alpha: float) -> list[str]:
    if not comparisons:
        return []
    lines = ["## Suites: paired differences over sets", "",
             "Leave-one-set-out means; every model resampled with the same draws of the sets; paired t-tests "
             "(sets - 1 degrees of freedom), Benjamini-Hochberg across the pairs of each (suite, task).", ""]
    for c in comparisons:
        lines += [f"### Suite `{c['suite']}`, task `{c['task']}` ({len(c['sets'])} sets)", ""]
        if c["pairwise"] is None:
            lines += [c["note"] + ".", ""]
            continue
        pw, models = c["pairwise"], c["models"]
        rows = []
        for i in range(len(models)):
            for j in range(i + 1, len(models)):
                rows.append([f"{models[i]} − {models[j]}", _f(pw["difference"][i][j]), _ci(pw["ci"][i][j]),
                             _f(pw["p_value"][i][j]), _f(pw["q_value"][i][j]), "yes" if pw["reject"][i][j] else "no"])
        lines += tabulate(rows, headers=["difference", "estimate", "95% CI", "p", "q (BH)", f"q < {alpha}"],
                          tablefmt="github", disable_numparse=True).splitlines() + [""]
    return lines
