"""Generate mutmut's mutants in the current (staged) folder and print a seeded sample of their names.

usage (in a stage folder, with the mutmut environment's Python): mutation_sample.py N SEED
N = 0: every mutant. The names are those `mutmut run NAME ...` accepts.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import mutmut.__main__ as M


def main(n: int, seed: int) -> None:
    M.set_mutant_under_test("mutant_generation")
    os.makedirs("mutants", exist_ok=True)
    M.copy_src_dir()
    M.copy_also_copy_files()
    M.setup_source_paths()
    M.store_lines_covered_by_tests()
    M.create_mutants(1)
    names = []
    for meta in sorted(Path("mutants").rglob("*.meta")):
        names += sorted(json.loads(meta.read_text())["exit_code_by_key"])
    if n and n < len(names):
        names = sorted(random.Random(seed).sample(names, n))
    print(len(names), file=sys.stderr)
    print("\n".join(names))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
