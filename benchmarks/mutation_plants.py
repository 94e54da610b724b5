"""Re-plant 11 bugs that once passed the whole suite, one at a time, on a copy of the sources, and report which tests
catch each (the working tree is never touched).

usage: .venv/bin/python benchmarks/mutation_plants.py [--tests PATH ...] [PLANT ...]
Each plant is copied into WORK/audioprobe (the installed package layout), put first on
PYTHONPATH, and pytest runs the given tests (default: the whole suite). Prints one JSON line per
plant ({"plant", "failed": [test ids]}) and a last line with the plants no test caught.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: name -> (file under the package, text today, planted text); lists: alternatives, the first found
PLANTS = {
    "kl-smoothing-ignored": ("tasktypes/rsa/rdms.py",
                             'return targets.from_counts(kind, stimset.judgments, dims, params["smoothing"])',
                             'return targets.from_counts(kind, stimset.judgments, dims, 0.5)'),
    "ceiling-always-spearman": ("tasktypes/reliability.py",
                                # the comparison and the factored (Pearson) path that bypasses it
                                'compare = lambda a, b: paired_rows(a, b, params["comparison"])  # noqa: E731\n'
                                '    n_categories = _n_categories(stimset, params)\n'
                                '    # Pearson on a low-rank target: the same correlations from the factors, without '
                                'forming RDMs\n'
                                '    factored = params["comparison"] == "pearson" and kind in targets.FACTORED',
                                'compare = lambda a, b: paired_rows(a, b, "spearman")  # noqa: E731\n'
                                '    n_categories = _n_categories(stimset, params)\n'
                                '    factored = False'),
    "pearson-ranks-data": ("metrics/pearson.py",
                           'if comparison.ranks:\n        a, b = geometry.rank_rows(a), geometry.rank_rows(b)',
                           'if True:  # pearson ranked too\n        a, b = geometry.rank_rows(a), geometry.rank_rows(b)'),
    "p-value-2-plus-n": ("metrics/mantel.py", "p = (1.0 + exceed) / (1.0 + null.shape[0])",
                         "p = (1.0 + exceed) / (2.0 + null.shape[0])"),
    "bootstrap-skips-last-sound": ("metrics/resampling.py", "draws = rng.integers(0, n, size=(n_resamples, n))",
                                   "draws = rng.integers(0, n - 1, size=(n_resamples, n))"),
    "ceiling-without-spearman-brown": ("tasktypes/reliability.py", '"value": json_float(ceiling.spearman_brown(mean_r)),',
                                       '"value": json_float(mean_r),'),
    "transfer-test-standardised-alone": (
        "metrics/probing/layers.py",
        # two layouts of the layer-level code (before and after the probes were cut into jobs)
        ["pred, best_c = transfer_predictions(x[train], y_train, x[test], c_grid,",
         "jobs.append((k, -1, (x[train], y_train, x[test], c_grid,"],
        ["z = lambda v: (v - v.mean(0)) / (v.std(0) + 1e-12)\n"
         "    pred, best_c = transfer_predictions(z(x[train]), y_train, z(x[test]), c_grid,",
         "z = lambda v: (v - v.mean(0)) / (v.std(0) + 1e-12)\n"
         "        jobs.append((k, -1, (z(x[train]), y_train, z(x[test]), c_grid,"]),
    "cache-keyed-on-name": ("extract.py", "keys = {p: activation_key(self.key, p, fp) for p in poolings}",
                            "keys = {p: activation_key(self.key, p, stimset.name) for p in poolings}"),
    "clap-blocks-reversed": ("models/clap.py", "for b, blk in enumerate(stage.blocks, start=1)]",
                             "for b, blk in enumerate(reversed(stage.blocks), start=1)]"),
    "alpha-not-halved": ("metrics/intervals.py", "alpha = (1.0 - level) / 2.0", "alpha = (1.0 - level)"),
    "transfer-chance-one-over-k": ("tasktypes/transfer/subsets.py",
                                   "self.chance = float(self.class_counts.max() / self.class_counts.sum())",
                                   "self.chance = 1.0 / len(self.classes)"),
}


def source_path(rel: str) -> Path:
    """The working tree's file behind a path in the installed package's layout (see `stage`)."""
    top = rel.split("/", 1)[0]
    return ROOT / rel if top in ("models", "leaderboard", "tasks") else ROOT / "harness" / rel


def anchor(name: str, text: str) -> tuple[str, str]:
    """(text today, planted text) of plant `name` in `text` (its file's): the first alternative found
    exactly once; ValueError when none is, i.e. the source moved and the plant must be re-anchored."""
    rel, old, new = PLANTS[name]
    olds, news = ([old], [new]) if isinstance(old, str) else (old, new)
    for o, n in zip(olds, news):
        if text.count(o) == 1:
            return o, n
    raise ValueError(f"plant {name}: {rel}: the text to replace is not there once")


def stage(work: Path) -> Path:
    pkg = work / "audioprobe"
    shutil.copytree(ROOT / "harness", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for sub in ("models", "leaderboard", "tasks"):
        shutil.copytree(ROOT / sub, pkg / sub, ignore=shutil.ignore_patterns("__pycache__"))
    return pkg


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("plants", nargs="*", default=list(PLANTS))
    ap.add_argument("--tests", nargs="*", default=["tests"])
    args = ap.parse_args()
    missed = []
    for name in args.plants:
        rel = PLANTS[name][0]
        with tempfile.TemporaryDirectory(prefix="audioprobe-plant-") as tmp:
            pkg = stage(Path(tmp))
            path = pkg / rel
            text = path.read_text()
            try:
                found = anchor(name, text)
            except ValueError as exc:
                print(json.dumps({"plant": name, "error": str(exc)}))
                continue
            path.write_text(text.replace(*found))
            env = dict(os.environ, PYTHONPATH=tmp, PYTHONDONTWRITEBYTECODE="1")
            proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf",
                                   *args.tests], cwd=ROOT, env=env, capture_output=True, text=True)
            # the copy is what ran: guard against the editable install shadowing it
            check = subprocess.run([sys.executable, "-c", "import audioprobe; print(audioprobe.__file__)"],
                                   cwd=ROOT, env=env, capture_output=True, text=True).stdout.strip()
            assert check.startswith(tmp), check
        failed = sorted({line.split(" ")[1] for line in proc.stdout.splitlines() if line.startswith("FAILED ")})
        print(json.dumps({"plant": name, "file": rel, "failed": failed}), flush=True)
        if not failed:
            missed.append(name)
    print(json.dumps({"missed": missed}))


if __name__ == "__main__":
    main()
