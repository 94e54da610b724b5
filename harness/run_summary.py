"""What a run prints when it ends: the table of headline scores (one row per model and task, with the
notes that explain its marks), and a suite's table of scores over its stimulus sets.

Kept apart from the command line (`cli.py`): a local run and a sweep print the same tables, and the
command itself stays about options and exit codes.
"""

from __future__ import annotations

from pathlib import Path

from tabulate import tabulate

SYNTHETIC_NOTE = "SYNTHETIC stimuli and simulated judgments: not a finding about human perception."


def results_table(results: list[dict]) -> str:
    """A plain-text table of headline scores, one row per (model, task)."""
    from audioprobe.results import (  # not at the top: listing must not load the task types
        format_score,
        result_label,
        unreliable_labels,
    )

    rows = []
    undefined: dict[str, list[str]] = {}  # why -> tasks
    flagged: dict[str, list[str]] = {}  # flag -> tasks
    # one order whatever finished first (a sweep's jobs, a suite's sets): set, model, task
    results = sorted(results, key=lambda r: (r["dataset"].get("name", ""), r["dataset"].get("fingerprint", ""),
                                             result_label(r), r["task"]["name"]))
    for r in results:
        ds = r["dataset"]
        where = f"{ds['name']}{' (synthetic)' if ds.get('synthetic') else ''}{' [partial]' if ds.get('partial') else ''}"
        if "not_applicable" in r:
            rows.append([result_label(r), r["task"]["name"], "n/a", "—", "—", where, ds["n_sounds"], "not applicable"])
            continue
        if "failed" in r:
            rows.append([result_label(r), r["task"]["name"], "FAILED", "—", "—", where, ds["n_sounds"], "failed"])
            continue
        h = r["scores"]["headline"]
        ci = h.get("ci")
        flags = unreliable_labels(r["scores"])
        for f in flags:
            flagged.setdefault(f, []).append(r["task"]["name"])
        if h["value"] is None:
            why = next((e.get("note") for e in r["scores"].get("per_layer", []) if e.get("note")), None)
            undefined.setdefault(why or h.get("selection") or "no layer has a score", []).append(
                f"{r['model']['name']} / {r['task']['name']}")
        status = ("reused" if r.get("_reused") else ("cached acts" if r["timing"]["activations_cached"] else "computed"))
        rows.append([
            result_label(r), r["task"]["name"],
            (format_score(h["value"]) + (" ↓" if r["scores"].get("lower_is_better") else "")
             if h["value"] is not None else "undefined") + (" ⚠" if flags else ""),
            f"[{format_score(ci[0], 3)}, {format_score(ci[1], 3)}]" if ci else "—", h["layer"] or "—", where,
            ds["n_sounds"], status if h["value"] is not None else f"undefined ({status})",
        ])
    table = tabulate(rows, headers=["model", "task", "score", "interval", "layer", "stimulus set", "sounds", "status"])
    notes = [f"{r['task']['name']}: not applicable: {r['not_applicable']}" for r in results if "not_applicable" in r]
    notes += [f"{r['model']['name']} / {r['task']['name']}: FAILED: {r['failed']}" for r in results if "failed" in r]
    notes += [f"undefined ({len(where)}: {', '.join(where)}): {why}" for why, where in undefined.items()]
    notes += [f"⚠ {flag} ({', '.join(sorted(set(tasks)))}): a score there says more about the listeners' noise "
              f"than about the model." for flag, tasks in flagged.items()]
    results = [r for r in results if "not_applicable" not in r and "failed" not in r]
    if any(r["dataset"].get("synthetic") for r in results):
        notes.append(SYNTHETIC_NOTE)
    if any(r["scores"].get("lower_is_better") for r in results):
        notes.append("↓ an error rate (ABX): lower is better, chance 0.5.")
    methods = sorted({"cross-validated (the layer is picked on one half of the sounds and scored on the other)"
                      if r["scores"].get("statistics", {}).get("cv_splits") else
                      "the best layer on all sounds (not cross-validated: optimistic)" for r in results})
    if methods:
        notes.append("Headline layer: " + "; ".join(methods) + ".")
    return table + ("\n\n" + "\n".join(notes) if notes else "")


def suite_table(output_dir: Path, suite_name: str, models, tasks) -> str:
    """The suite results just written: per (model, task) the leave-one-set-out mean over sets."""
    from audioprobe.results import format_score
    from audioprobe.suites import read_suite_result, suite_path

    rows = []
    for m in models:
        for t in tasks:
            path = suite_path(output_dir, suite_name, m, t.name)
            if not path.is_file():
                continue
            r = read_suite_result(path)
            loso, mean = r["leave_one_set_out"], r["mean_of_set_headlines"]
            ci = loso["ci"]
            rows.append([m, t.name, format_score(loso["value"]),
                         f"[{format_score(ci[0], 3)}, {format_score(ci[1], 3)}]" if ci else "—",
                         format_score(mean["value"]), f"{loso['n_sets']}/{len(r['sets'])}"])
    head = (f"Suite {suite_name}: leave-one-set-out mean (each set at the layer best on the other sets; interval: "
            f"bootstrap over sets), and the mean of the sets' own headlines. Files: "
            f"{output_dir}/suites/{suite_name}/<model>/<task>.suite.json")
    return head + "\n" + tabulate(rows, headers=["model", "task", "suite score", "interval", "mean of set headlines",
                                                  "sets"])
