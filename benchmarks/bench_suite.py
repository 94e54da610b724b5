"""Benchmark: a suite of 21 similarity studies (11-24 sounds each) in one command, against separate runs.

    python benchmarks/bench_suite.py                      # rsa-rdm with logmel, mfcc, spectrogram
    python benchmarks/bench_suite.py --tasks rdm --separate 21

Makes 21 synthetic studies in the folder format (`audioprobe.stimuli.synthetic.tone_studies`: tones varying in
brightness and attack, dissimilarity known by construction; 44.1 kHz, sizes cycling 11..24), a suite file,
then times `audioprobe-eval --data SUITE.yaml` (one process, every model loaded once) and `--separate` of
the studies run one process each (as one had to before suites; the total is extrapolated to all 21 when
fewer are run, and says so). A fresh activation cache each time. Prints ONE JSON line. Synthetic data:
this measures speed, nothing about hearing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = tuple(range(11, 25))  # the literature's 11-24 sounds a study


def make_suite(root: Path, n_studies: int) -> Path:
    from audioprobe.stimuli.folder import export_folder
    from audioprobe.stimuli.synthetic.tone_studies import similarity_study

    names = []
    for k in range(n_studies):
        name = f"study-{k:02d}"
        export_folder(similarity_study(name, SIZES[k % len(SIZES)], seed=k), root / name)
        names.append(name)
    suite = root / "suite.yaml"
    suite.write_text("name: bench-21\ndescription: synthetic studies for the benchmark\nsets:\n"
                     + "".join(f"  - {n}\n" for n in names))
    return suite


def timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", type=int, default=21)
    ap.add_argument("--tasks", default="rsa-rdm")
    ap.add_argument("--models", default="logmel,mfcc,spectrogram")
    ap.add_argument("--separate", type=int, default=3, help="studies to run one process each (0: skip)")
    args = ap.parse_args()
    models = [m for m in args.models.split(",") if m]
    model_args = [x for m in models for x in ("--model", m)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        suite = make_suite(root / "studies", args.studies)
        eval_cmd = [sys.executable, "-m", "audioprobe.cli"]
        env = {**os.environ, "AUDIOPROBE_CACHE": str(root / "cache-suite")}
        load = os.getloadavg()[0]
        t_suite = timed([*eval_cmd, *model_args, "--tasks", args.tasks, "--data", str(suite), "--output-dir",
                         str(root / "out-suite"), "-q"], env)
        separate = None
        if args.separate:
            env = {**os.environ, "AUDIOPROBE_CACHE": str(root / "cache-separate")}
            times = [timed([*eval_cmd, *model_args, "--tasks", args.tasks, "--data",
                            str(root / "studies" / f"study-{k:02d}"), "--output-dir", str(root / "out-separate"),
                            "-q"], env) for k in range(min(args.separate, args.studies))]
            separate = {"runs": len(times), "seconds": round(sum(times), 2),
                        "extrapolated_to_all": round(sum(times) / len(times) * args.studies, 1)}
    print(json.dumps({"benchmark": "suite", "studies": args.studies, "sizes": f"{min(SIZES)}-{max(SIZES)}",
                      "models": models, "tasks": args.tasks, "suite_seconds": round(t_suite, 2),
                      "separate": separate,
                      "speedup": round(separate["extrapolated_to_all"] / t_suite, 1) if separate else None,
                      "load_1min": round(load, 2), "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
