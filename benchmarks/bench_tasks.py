"""Where the time of `--tasks all` goes: one JSON line per (model, task type), against the reference.

    python benchmarks/bench_tasks.py                                  # logmel and random-beats
    python benchmarks/bench_tasks.py --models logmel --reference none

For each model, the activations of the embedded `impacts` set are extracted first (through the
activation cache; not timed), then every task of `--tasks` is evaluated in this process, grouped
by task type (rsa, partial-rsa, transfer, abx, cka, encode). `--reference all` evaluates the same tasks a second
time with the reference code swapped in (benchmarks/reference_transfer.py for the transfer probes:
the plain scikit-learn pipeline with cold fits at the converged tolerance) and reports the ratio, and
whether the chosen C and the predictions (transfer) and the scores (to 1e-10) are equal. Transfer tasks are evaluated a third time with
the legacy reference (the same pipeline at scikit-learn's default tol=1e-4, max_iter=1000: transfer
version 2): `legacy_ratio`, and whether its C and predictions happen to equal the converged probe's.
The machine may be shared: each line carries the load average at its start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from audioprobe.metrics import probing  # noqa: E402
from audioprobe.runner import Runner  # noqa: E402,F401  (imported for its side effects: task types)
from audioprobe.stimuli import resolve_dataset  # noqa: E402
from audioprobe.taskconfig import discover_tasks, select_tasks  # noqa: E402
from audioprobe.tasktypes import TASK_TYPES, EvalContext  # noqa: E402


def activations(model: str, stimset, folder: Path) -> dict[str, np.ndarray]:
    """Mean-pooled activations of `model` on the set, extracted once (cached by the harness)."""
    import subprocess

    out = folder / model
    if not (out / "done").exists():
        subprocess.run([sys.executable, "-c", "from audioprobe.cli import main; main()", "--model", model,
                        "--tasks", "rsa-physical-material", "--output-dir", str(folder / "results"),
                        "--save-activations", str(out), "--overwrite"], check=True, stdout=subprocess.DEVNULL)
        (out / "done").write_text("")
    npz = np.load(next(out.glob("*/*/activations.npz")))
    names = [str(n) for n in npz["layer_names"]]
    return {name: npz[f"layer_{k:04d}"] for k, name in enumerate(names)}


@contextmanager
def reference_code(legacy: bool = False):
    """The reference transfer pipeline (converged, or legacy: tol=1e-4), swapped in."""
    import reference_transfer

    def reference_probes(layers, train, test, y_train, y_test, c_grid, inner, base, seed, max_iter, n_jobs=None):
        settings = reference_transfer.LEGACY if legacy else {"tol": reference_transfer.TOL, "max_iter": max_iter}
        return reference_transfer.all_layer_predictions(layers, train, test, y_train, y_test, c_grid, inner, base,
                                                        seed, settings["max_iter"], n_jobs=n_jobs, tol=settings["tol"])

    saved = probing.all_layer_predictions
    probing.all_layer_predictions = reference_probes
    try:
        yield
    finally:
        probing.all_layer_predictions = saved


@contextmanager
def recording(probes: dict, name: str):
    """Keep what the transfer task's all_layer_predictions returned: [(predictions, C, baseline)] per layer."""
    inner = probing.all_layer_predictions

    def record(*args, **kwargs):
        probes[name] = inner(*args, **kwargs)
        return probes[name]

    probing.all_layer_predictions = record
    try:
        yield
    finally:
        probing.all_layer_predictions = inner


def same_probes(a, b) -> tuple[bool, bool]:
    """(every chosen C equal, every transfer and baseline prediction equal) of two recordings."""
    same_c = a.keys() == b.keys() and all(x[1] == y[1] for n in a for x, y in zip(a[n], b[n]))
    same_pred = a.keys() == b.keys() and all(
        np.array_equal(x[0], y[0]) and (x[2] is None) == (y[2] is None) and (x[2] is None or np.array_equal(x[2], y[2]))
        for n in a for x, y in zip(a[n], b[n]))
    return same_c, same_pred


def kind(task) -> str:
    if task.type == "rsa" and task.params.get("control", "none") != "none":
        return "partial-rsa"
    return task.type


def evaluate_all(tasks, acts, controls, stimset, seed, probes=None):
    """-> {task name: (seconds, scores)}; the transfer probes' outputs go into `probes` (by task)."""
    out = {}
    probes = {} if probes is None else probes
    for task in tasks:
        pooling = {"mean": acts}
        ctx = EvalContext(task.name, seed, lambda model, pooling: controls[model])
        start = time.perf_counter()
        try:
            with recording(probes, task.name):
                scores = TASK_TYPES[task.type].evaluate(pooling, stimset, task.params, ctx)
        except Exception as exc:  # a task not applicable to this model or set
            scores = {"error": type(exc).__name__}
        out[task.name] = (time.perf_counter() - start, scores)
    return out


def same_numbers(a, b, tol=1e-10) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_numbers(a[k], b[k], tol) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_numbers(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and (np.allclose(a, b, atol=tol, rtol=0, equal_nan=True)
                                       if a.dtype.kind in "fc" else np.array_equal(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return (a != a and b != b) or abs(a - b) <= tol
    return a == b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="logmel,random-beats")
    ap.add_argument("--tasks", default="all")
    ap.add_argument("--reference", choices=("all", "none"), default="all")
    ap.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "audioprobe-bench-tasks")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layer-step", type=int, default=1,
                    help="keep every k-th layer of each model (a quicker look at a deep model)")
    args = ap.parse_args()
    stimset = resolve_dataset("impacts")
    tasks = select_tasks(args.tasks, discover_tasks())
    controls = {}
    for task in tasks:
        control = task.params.get("control", "none")
        if control not in ("none", None) and control not in controls:
            controls[control] = activations(control, stimset, args.workdir)
    for model in args.models.split(","):
        acts = activations(model, stimset, args.workdir)
        acts = {name: acts[name] for name in list(acts)[::args.layer_step]}
        evaluate_all(tasks[:1], acts, controls, stimset, args.seed)  # warm-up: imports, BLAS
        load0 = os.getloadavg()[0]
        probes = {"new": {}, "reference": {}, "legacy": {}}
        new = evaluate_all(tasks, acts, controls, stimset, args.seed, probes["new"])
        load1 = os.getloadavg()[0]
        ref = legacy = None
        if args.reference == "all":
            with reference_code():
                ref = evaluate_all(tasks, acts, controls, stimset, args.seed, probes["reference"])
            load2 = os.getloadavg()[0]
            with reference_code(legacy=True):
                legacy = evaluate_all([t for t in tasks if t.type == "transfer"], acts, controls, stimset, args.seed,
                                      probes["legacy"])
        for k in sorted({kind(t) for t in tasks}):
            names = [t.name for t in tasks if kind(t) == k]
            line = {"model": model, "layers": len(acts), "task_type": k, "tasks": len(names),
                    "seconds": round(sum(new[n][0] for n in names), 3), "load_avg_1min": round(load0, 2),
                    "load_avg_1min_end": round(load1, 2), "cpus": os.cpu_count()}
            if ref is not None:
                ref_s = sum(ref[n][0] for n in names)
                line.update(reference_seconds=round(ref_s, 3), ratio=round(ref_s / max(line["seconds"], 1e-9), 2),
                            equal_results=all(same_numbers(new[n][1], ref[n][1]) for n in names),
                            load_avg_1min_reference_end=round(load2, 2))
            if ref is not None and k == "transfer":
                pick = {w: {n: probes[w][n] for n in names if n in probes[w]} for w in probes}
                line["equal_C"], line["equal_predictions"] = same_probes(pick["new"], pick["reference"])
                legacy_s = sum(legacy[n][0] for n in names)
                line.update(legacy_reference_seconds=round(legacy_s, 3),
                            legacy_ratio=round(legacy_s / max(line["seconds"], 1e-9), 2),
                            load_avg_1min_legacy_end=round(os.getloadavg()[0], 2))
                line["legacy_equal_C"], line["legacy_equal_predictions"] = same_probes(pick["new"], pick["legacy"])
                line["legacy_changed_C"] = sum(x[1] != y[1] for n in pick["new"] if n in pick["legacy"]
                                               for x, y in zip(pick["new"][n], pick["legacy"][n]))
            print(json.dumps(line), flush=True)

if __name__ == "__main__":
    main()
