"""A sweep's record and its jobs' states: the files under `DIR/.sweeps/<id>/` (written atomically), what
`audioprobe-eval status` shows (a table, a summary line, the failures) and the suite results written once
a model's jobs are done."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import sys
import time
from pathlib import Path

from audioprobe.errors import AudioprobeError
from audioprobe.files import atomic_write_bytes
from audioprobe.sweep_slurm import _ENDED, squeue_states

SWEEPS_FOLDER = ".sweeps"


SWEEP_FILE = "sweep.state"


def job_state_path(folder: Path, index: int) -> Path:
    return Path(folder) / "jobs" / f"{index}.state"


def write_json(path: Path, data: dict) -> None:
    text = json.dumps(data, indent=1, default=str) + "\n"
    atomic_write_bytes(Path(path), lambda fh: fh.write(text.encode("utf-8")))


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # unreadable, not JSON, nested absurdly deep: no record
        return None


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------------
# Watching


@dataclasses.dataclass
class JobStatus:
    index: int
    model: str
    set: str
    state: str  # pending, running, done, failed, lost
    job_id: str | None = None
    attempt: int = 0
    evaluated: int = 0  # tasks evaluated so far by the running attempt
    log: str | None = None
    error: str | None = None
    total: int = 0  # tasks the job evaluates (tasks x its sets): 0 unknown

    def shown(self) -> str:
        """The job's cell: its state, the tasks done while it runs, the attempt when it was retried."""
        tasks = f" ({self.evaluated}/{self.total} tasks)" if self.state == "running" and self.total else ""
        return self.state + tasks + (f" (try {self.attempt})" if self.attempt > 1 else "")


def job_statuses(folder: Path, record: dict, queue: dict | None = None, futures: dict | None = None) -> list[JobStatus]:
    """Each job's status from its state file, and the queue (SLURM) or its future (local workers)."""
    out = []
    for entry in record["jobs"]:
        i = entry["index"]
        job_id = entry["slurm_job_ids"][-1] if entry.get("slurm_job_ids") else None
        data = entry.get("data")
        n_sets = len(data) if isinstance(data, list) and data else 1
        st = JobStatus(i, entry["model"], entry["set"], "pending", job_id, log=entry.get("stderr"),
                       total=len(entry.get("tasks") or []) * n_sets)
        state = read_json(job_state_path(folder, i)) or {}
        st.attempt = int(state.get("attempt", 0))
        st.evaluated = int(state.get("tasks_evaluated", 0))
        if state.get("state") == "done":
            st.state = "done"
        elif state.get("state") == "failed":
            st.state, st.error = "failed", state.get("error")
        elif futures is not None:
            fut = futures.get(i)
            if fut is not None and fut.done():
                exc = fut.exception()
                st.state = "failed"
                st.error = f"{exc.__class__.__name__}: {exc}" if exc else "the worker ended without a result"
            elif state.get("state") == "running":
                st.state = "running"
        elif queue is not None and job_id is not None:
            slurm_state, reason = queue.get(job_id, ("", ""))
            if slurm_state in ("RUNNING", "COMPLETING", "CONFIGURING", "STAGE_OUT"):
                st.state = "running" if state.get("state") == "running" else "pending"
            elif slurm_state and slurm_state not in _ENDED:
                st.state = "pending"  # PENDING, REQUEUED, SUSPENDED, RESIZING...
            else:  # gone from the queue, or ended, without a done or failed state of its own
                st.state = "lost"
                st.error = (f"SLURM says {slurm_state}{f' ({reason})' if reason not in ('', 'None') else ''}"
                            if slurm_state else "the job left the queue without finishing")
        elif state.get("state") == "running":
            st.state = "running"
            if record.get("launcher") != "slurm" and not _alive(state.get("host"), state.get("pid")):
                st.state, st.error = "lost", (f"its worker process {state.get('pid')} on {state.get('host')} is gone "
                                              f"(killed, or its sweep was stopped)")
        out.append(st)
    return out


def _alive(host: str | None, pid) -> bool:
    """Whether a local job's worker process still runs (unknown, on another host: assumed so)."""
    if host != os.uname().nodename or not isinstance(pid, int):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def summary_line(statuses: list[JobStatus]) -> str:
    counts = {k: sum(1 for s in statuses if s.state == k) for k in ("done", "running", "pending", "failed", "lost")}
    return f"{len(statuses)} jobs: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n or k in ("done", "failed"))


def status_table(statuses: list[JobStatus]) -> str:
    """A grid: one row per model, one column per set, each cell the job's state (and attempt when > 1)."""
    from tabulate import tabulate

    sets = list(dict.fromkeys(s.set for s in statuses))
    models = list(dict.fromkeys(s.model for s in statuses))
    cell = {(s.model, s.set): s.shown() for s in statuses}
    rows = [[m] + [cell.get((m, d), "") for d in sets] for m in models]
    return tabulate(rows, headers=["model", *sets])


def failures_text(statuses: list[JobStatus]) -> str:
    lines = []
    for s in statuses:
        if s.state in ("failed", "lost"):
            where = f"job {s.job_id}, " if s.job_id else ""
            lines.append(f"{s.model} / {s.set} ({where}log {s.log or '(none)'}): {s.error or s.state}")
    return "\n".join(lines)


class Display:
    """Progress on stderr: on a terminal the grid redrawn in place; otherwise one line per change of a job."""

    def __init__(self, quiet: bool, stream=None):
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last: dict[int, str] = {}
        self.lines = 0
        self.start = time.perf_counter()

    def update(self, statuses: list[JobStatus]) -> None:
        if self.quiet:
            return
        elapsed = int(time.perf_counter() - self.start)
        head = f"{summary_line(statuses)} (elapsed {elapsed // 60}:{elapsed % 60:02d})"
        if self.tty:
            text = head + "\n" + status_table(statuses) + "\n"
            self.stream.write(f"\033[{self.lines}F\033[J" if self.lines else "")
            self.stream.write(text)
            self.lines = text.count("\n")
        else:
            for s in statuses:  # a line per change: a job's every finished task, too
                shown = s.shown()
                if self.last.get(s.index) != shown:
                    self.last[s.index] = shown
                    self.stream.write(f"[{head}] {s.model} / {s.set}: {shown}\n")
        self.stream.flush()


def load_sweep(results_dir: Path, sweep_id: str | None = None) -> tuple[Path, dict]:
    """(folder, record) of sweep `sweep_id`, or of the latest sweep in `results_dir`."""
    root = Path(results_dir) / SWEEPS_FOLDER
    found = sorted(p.parent for p in root.glob(f"*/{SWEEP_FILE}")) if root.is_dir() else []
    if sweep_id is not None:
        found = [p for p in found if p.name == sweep_id]
        if not found:
            raise AudioprobeError(f"{results_dir}: no sweep {sweep_id!r} (sweeps are in {root}).")
    if not found:
        raise AudioprobeError(f"{results_dir}: no sweep found (a sweep is run with --launcher slurm, or --launcher "
                              f"local --max-parallel N, and recorded in {root}).")
    folder = found[-1]
    record = read_json(folder / SWEEP_FILE)
    if record is None:
        raise AudioprobeError(f"{folder / SWEEP_FILE}: unreadable sweep record.")
    return folder, record


def list_sweeps(results_dir: Path) -> list[str]:
    root = Path(results_dir) / SWEEPS_FOLDER
    return sorted(p.parent.name for p in root.glob(f"*/{SWEEP_FILE}")) if root.is_dir() else []


def current_statuses(folder: Path, record: dict) -> list[JobStatus]:
    queue = None
    if record["launcher"] == "slurm":
        queue = squeue_states([e["slurm_job_ids"][-1] for e in record["jobs"] if e.get("slurm_job_ids")])
    return job_statuses(folder, record, queue=queue)


def finished_results(folder: Path, record: dict, indices: list[int]) -> list[dict]:
    """The results of finished jobs, read from their files (placeholders for tasks not applicable)."""
    from audioprobe.results import read_result

    out = []
    out_dir = Path(record["output_dir"])
    for i in indices:
        state = read_json(job_state_path(folder, i)) or {}
        for e in state.get("results", []):
            if "placeholder" in e:
                out.append(e["placeholder"])
            else:
                r = read_result(out_dir / e["path"])
                if e.get("reused"):
                    r["_reused"] = True
                out.append(r)
    return out


def write_finished_suites(folder: Path, record: dict, statuses: list[JobStatus]) -> list[str]:
    """Write the suite results of every model whose jobs are all done (once per sweep); the models written."""
    from audioprobe.runner import write_suite_results
    from audioprobe.suites import Suite

    if not record.get("suite"):
        return []
    suite = Suite(**{k: tuple(v) if k == "sets" else v for k, v in record["suite"].items()})
    written = []
    for model in dict.fromkeys(s.model for s in statuses):
        mine = [s for s in statuses if s.model == model]
        if model in record["suites_written"] or not all(s.state == "done" for s in mine):
            continue
        indices = [s.index for s in mine]
        results = finished_results(folder, record, indices)
        fps = []
        for i in indices:
            sets = (read_json(job_state_path(folder, i)) or {}).get("sets", {})
            fps.extend(v["fingerprint"] for v in sets.values())
        tasks = [_Named(t) for t in record["tasks"]]
        write_suite_results(Path(record["output_dir"]), suite, record["seed"], results, tasks, fps)
        record["suites_written"].append(model)
        written.append(model)
    if written:
        write_json(folder / SWEEP_FILE, record)
    return written


@dataclasses.dataclass(frozen=True)
class _Named:
    name: str
