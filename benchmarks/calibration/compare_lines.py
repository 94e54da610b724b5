"""Two calibration lines side by side: every rate of `bench_calibration.py`'s JSON line, before -> after,
with the after line's 95% interval, its count and whether its target lies within tolerance.

    python benchmarks/calibration/compare_lines.py measured/after-304b97a.jsonl measured/after-04f1111.jsonl
    python benchmarks/calibration/compare_lines.py A.jsonl B.jsonl --match hollowness --changed

A rate is any object of the line with a `rate` and a count (`n` or `count`); its name is its path in
the line (`null.pairwise.raw_p_below_alpha_per_test.by_task.cal-rsa-material`). SIMULATED DATA: the
rates measure the harness's statistics, nothing about hearing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def rates(line: dict, prefix: str = "") -> dict[str, dict]:
    """Every rate object of a calibration line, by its dotted path."""
    out: dict[str, dict] = {}
    if isinstance(line, dict):
        if "rate" in line and ("n" in line or "count" in line):
            return {prefix: line}
        for key, value in line.items():
            out.update(rates(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def read_line(path: Path) -> dict:
    """The last JSON line of a file (the benchmark prints one; a measured file holds one)."""
    lines = [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    if not lines:
        raise SystemExit(f"{path}: no calibration line")
    return json.loads(lines[-1])


def compare(before: dict, after: dict) -> list[dict]:
    """One row per rate of `after`: name, before (None when absent), after, ci, n, within_tolerance."""
    old = rates(before)
    return [{"name": name, "before": (old.get(name) or {}).get("rate"), "after": r["rate"], "ci": r.get("ci"),
             "n": r.get("n"), "within_tolerance": r.get("within_tolerance")} for name, r in rates(after).items()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--match", default="", help="only rates whose name contains this")
    ap.add_argument("--changed", action="store_true", help="only rates that changed")
    args = ap.parse_args(argv)

    def fmt(v):
        return "-" if v is None else f"{v:.4f}"

    for row in compare(read_line(args.before), read_line(args.after)):
        if args.match not in row["name"] or (args.changed and row["before"] == row["after"]):
            continue
        ci = "" if not row["ci"] else f"[{row['ci'][0]:.4f}, {row['ci'][1]:.4f}]"
        ok = {True: "ok", False: "OUT", None: ""}[row["within_tolerance"]]
        print(f"{row['name'][:100]:100s} {fmt(row['before']):>7} -> {fmt(row['after']):>7} {ci:>18} n={row['n']} {ok}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
