"""Summaries for benchmarks/mutation.sh (run by the mutmut environment's Python).

module MOD RESULTS_TXT SECONDS [NAMES_TXT]
                                    -> one JSON line for the module (from `mutmut results --all true`;
                                       NAMES_TXT: only the sampled mutants)
survivors MOD PREVIOUS_JSONL         -> the names of MOD's mutants that an earlier run did not kill
total SUMMARY_JSONL SURVIVORS_MD SECONDS COMMAND
                                    -> the final JSON line: score = killed / (mutants - equivalent)

A mutant counts as killed when a test failed (mutmut "killed") or it ran past the timeout
("timeout": an infinite loop is caught too). Every other outcome ("survived", "no tests",
"suspicious", ...) is a survivor unless benchmarks/mutation-survivors.md lists it as equivalent:
a line "- `NAME` ... equivalent: REASON" (NAME as mutmut prints it).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

KILLED = {"killed", "timeout", "caught by type check"}


def parse(results: Path) -> dict[str, str]:
    out = {}
    for line in results.read_text().splitlines():
        m = re.match(r"\s+(\S+__mutmut_\d+): (.+)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def equivalents(md: Path) -> set[str]:
    if not md.is_file():
        return set()
    return set(re.findall(r"^- `([^`]+__mutmut_\d+)`.*\bequivalent\b", md.read_text(), flags=re.M))


def main(argv: list[str]) -> None:
    if argv[0] == "survivors":
        for rec in map(json.loads, Path(argv[2]).read_text().splitlines()):
            if rec["module"] == argv[1]:
                print("\n".join(sorted(n for n, v in rec["status"].items() if v not in KILLED)))
        return
    if argv[0] == "module":
        mod, results, seconds = argv[1], Path(argv[2]), int(argv[3])
        status = parse(results)
        if len(argv) > 4 and Path(argv[4]).is_file():  # the mutants run (a sample, or a re-test)
            sample = set(Path(argv[4]).read_text().split())
            status = {k: v for k, v in status.items() if k in sample}
        if len(argv) > 5:  # a re-test of an earlier run's survivors: its other statuses stand
            for rec in map(json.loads, Path(argv[5]).read_text().splitlines()):
                if rec["module"] == mod:
                    status = {**rec["status"], **status}
                    seconds += rec["seconds"]
        print(json.dumps({"module": mod, "seconds": seconds, "status": status}))
        return
    summary, md, seconds, command = Path(argv[1]), Path(argv[2]), int(argv[3]), argv[4]
    equiv = equivalents(md)
    modules, killed, total, survivors, equivalent = [], 0, 0, [], []
    for line in summary.read_text().splitlines():
        rec = json.loads(line)
        st = rec["status"]
        k = sum(v in KILLED for v in st.values())
        surv = sorted(n for n, v in st.items() if v not in KILLED and n not in equiv)
        eq = sorted(n for n, v in st.items() if v not in KILLED and n in equiv)
        modules.append({"module": rec["module"], "mutants": len(st), "killed": k, "equivalent": len(eq),
                        "survivors": len(surv), "seconds": rec["seconds"],
                        "score": round(k / max(len(st) - len(eq), 1), 4)})
        killed += k
        total += len(st)
        survivors += surv
        equivalent += eq
    score = killed / max(total - len(equivalent), 1)
    print(json.dumps({"score": round(score, 4), "score_se": round((score * (1 - score) / max(total - len(equivalent), 1)) ** 0.5, 4),
                      "mutants": total,
                      "killed": killed, "equivalent": len(equivalent), "survivors": survivors,
                      "n_survivors": len(survivors), "modules": modules, "seconds": seconds,
                      "command": command}))


if __name__ == "__main__":
    main(sys.argv[1:])
