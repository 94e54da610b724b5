"""The report's suite sections: a suite (many stimulus sets, e.g. similarity studies) and one of its tasks,
from the suite results (`audioprobe.suites`) and the per-set result files."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from audioprobe.leaderboard.report_tables import Table, _ci, _f, _p
from audioprobe.results import result_label, safe_name


@dataclasses.dataclass
class SuiteReport:
    """A suite (many stimulus sets, e.g. similarity studies) and one of its tasks: per-set scores, means over sets,
    the paired comparisons over sets, and the timbre measures of each set where the task computes them."""
    suite: str
    task: str
    anchor: str
    synthetic: bool
    tables: list[Table]


def build_suites(results_dir: Path, files: list[tuple[Path, dict]], comparison: dict[str, Any]) -> list[SuiteReport]:
    """The report's suite sections, from the suite results (`audioprobe.suites`) and the per-set result files."""
    from audioprobe.leaderboard.suite_tables import group, suite_table

    compared = {(c["suite"], c["task"]): c for c in comparison.get("suites", [])}
    per_set = {(r["dataset"]["fingerprint"], result_label(r), r["task"]["name"]): r for _, r in files}
    out = []
    for (suite, task), results in group(results_dir).items():
        sets = results[0]["sets"]
        header, rows = suite_table(results)
        tables = [Table("Scores per set and over sets", header, rows,
                        "Each set's own headline (its layer chosen on that set), their mean, and the leave-one-set-out "
                        "mean (each set scored at the layer that is best on the other sets: the suite's headline). "
                        f"Intervals: t over the {len(sets)} sets ({len(sets) - 1} degrees of freedom); none from one "
                        "set.")]
        c = compared.get((suite, task))
        if c and c.get("pairwise"):
            pw, models = c["pairwise"], c["models"]
            pair_rows = [[f"{models[i]} − {models[j]}", _f(pw["difference"][i][j]), _ci(pw["ci"][i][j]),
                          _p(pw["q_value"][i][j]), "yes" if pw["reject"][i][j] else ""]
                         for i in range(len(models)) for j in range(i + 1, len(models))]
            tables.append(Table("Paired differences over sets", ["difference", "estimate", "95% CI", "q", "supported"],
                                pair_rows, "Leave-one-set-out means; the sets resampled with the same draws for every "
                                           "model (paired set by set); t-tests with sets - 1 degrees of freedom; "
                                           "Benjamini-Hochberg over the pairs."))
        measures: dict[str, list[list[str]]] = {}
        lower: dict[str, bool] = {}
        for r in results:
            values: dict[str, list] = {}
            for sset in sets:
                res = per_set.get((sset["fingerprint"], result_label(r), task))
                for name, m in ((res or {}).get("scores", {}).get("measures") or {}).items():
                    at = m.get("at_headline_layer") or {}
                    values.setdefault(name, []).append(at.get("value"))
                    lower[name] = bool(m.get("lower_is_better"))
            for name, vals in values.items():
                defined = [v for v in vals if v is not None]
                measures.setdefault(name, []).append(
                    [result_label(r), *map(_f, vals), _f(sum(defined) / len(defined)) if defined else "—"])
        for name, mrows in sorted(measures.items()):
            tables.append(Table(f"Timbre measure `{name}` at the headline layer", ["model", *(x["set"] for x in sets),
                                                                                   "mean"], mrows,
                                f"{'Lower' if lower[name] else 'Higher'} is better; each set at the layer its RSA chose "
                                f"(no second selection; docs/metrics.md)."))
        out.append(SuiteReport(suite, task, f"suite-{safe_name(suite)}-{safe_name(task)}".lower(),
                               any(r.get("synthetic") for r in results), tables))
    return out
