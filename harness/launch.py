"""Sweeps: a run split into jobs, one per (model, stimulus set), run by worker processes or on SLURM.

`audioprobe-eval ... --launcher slurm` submits the jobs as one SLURM job array through submitit
(`executor.map_array`, at most `--max-parallel` running at once); `--launcher local --max-parallel N`
runs them in N worker processes on this machine (one GPU each, round robin, where there are GPUs).
Each job is the ordinary runner for one model on one set with the selected tasks: one forward pass
(through the shared activation cache), then its tasks, each result written atomically under a lock.

Jobs are idempotent: a result whose run key matches is reused, so a job that is requeued (SLURM
preemption, `scontrol requeue`, submitit's checkpoint on time-out: `SweepJob.checkpoint`) or
resubmitted (one that vanished from the queue: `scancel`, a killed node) resumes where it stopped.

The sweep's record lives in the output folder, `DIR/.sweeps/<id>/`: `sweep.state` (JSON: the jobs,
their SLURM job ids and log files) and `jobs/<n>.state` (JSON, written by the job: running, done or
failed, with the error, and the results it wrote). The names do not end in `.json`, so result readers
never mistake them for results. `audioprobe-eval status DIR` reads them (and `squeue`) later; the suite
results of a model (`--data SUITE.yaml`) are written once all its jobs are done, by the waiting
command or by `status`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from audioprobe.errors import AudioprobeError
from audioprobe.files import atomic_write_bytes

log = logging.getLogger(__name__)

SWEEPS_FOLDER = ".sweeps"
SWEEP_FILE = "sweep.state"
#: exit code of a sweep in which at least one job failed (its log and error are printed)
EXIT_JOBS_FAILED = 4
#: how often the waiting command resubmits a job that vanished from the queue without finishing
RESUBMITS = 2
#: SLURM states of a job that is over (`squeue --states=all` keeps them for MinJobAge seconds)
_ENDED = {"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
          "REVOKED", "SPECIAL_EXIT", "TIMEOUT"}


class JobsFailed(AudioprobeError):
    """A sweep in which some jobs failed: their logs and errors are named (exit code EXIT_JOBS_FAILED)."""

    exit_code = EXIT_JOBS_FAILED


@dataclasses.dataclass(frozen=True)
class JobSpec:
    """One job: a model on one stimulus set, with the tasks that run there."""

    index: int
    model: str
    args: dict[str, Any]
    data: str | None  # the --data set; None: the tasks name their own set (`label`)
    label: str  # the set as shown (a folder's name, a registered name)
    tasks: tuple  # TaskConfig


@dataclasses.dataclass
class Sweep:
    id: str
    folder: Path  # DIR/.sweeps/<id>
    options: Any  # runner.RunOptions (suite removed: the suite results are written after the jobs)
    jobs: list[JobSpec]
    suite: Any = None  # suites.Suite or None

    def state_path(self, index: int) -> Path:
        return job_state_path(self.folder, index)


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


def parse_minutes(text: str) -> int:
    """A SLURM time limit (MINUTES, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS) in whole minutes, rounded up."""
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text.strip())
    if not m:
        raise AudioprobeError(f"--time {text!r}: give minutes, HH:MM:SS or D-HH:MM:SS (as sbatch --time).")
    days, a, b, c = m.groups()
    if days is not None:  # D-HH[:MM[:SS]]
        seconds = int(days) * 86400 + int(a) * 3600 + int(b or 0) * 60 + int(c or 0)
    elif c is not None:  # HH:MM:SS
        seconds = int(a) * 3600 + int(b) * 60 + int(c)
    elif b is not None:  # MM:SS
        seconds = int(a) * 60 + int(b)
    else:
        seconds = int(a) * 60
    if seconds <= 0:
        raise AudioprobeError(f"--time {text!r}: the time limit must be positive.")
    return max(1, math.ceil(seconds / 60))


# ------------------------------------------------------------------------------------------------
# Planning


def plan_sweep(options, models: list[tuple[str, dict]], tasks: list, data: list[str], suite=None) -> Sweep:
    """The jobs of a run: each model on each --data set with every task, or (no --data) on each set the
    tasks name with the tasks that name it. Paths become absolute (jobs may start elsewhere) and the
    activation cache is named explicitly (a job on another node reads the same one)."""
    from audioprobe.files import default_cache_dir

    def absolute(spec: str) -> str:
        p = Path(spec).expanduser()
        return str(p.resolve()) if p.exists() else spec

    from audioprobe.extract import stderr_status  # a job's log gets extraction progress lines

    out_dir = Path(options.output_dir).expanduser().resolve()
    options = dataclasses.replace(
        options, output_dir=out_dir, suite=None, progress=False, data=None, status=stderr_status,
        cache_dir=(Path(options.cache_dir).expanduser().resolve() if options.cache_dir is not None
                   else default_cache_dir().resolve()),
        save_activations=(Path(options.save_activations).expanduser().resolve()
                          if options.save_activations is not None else None))
    from audioprobe.taskconfig import set_groups

    groups: list[tuple[str | None, str | None, tuple]] = []
    for spec, set_tasks in set_groups(tasks, data):
        if data:  # the job is given its set (a path made absolute), labelled by its folder or name
            groups.append((absolute(spec), Path(spec).name if Path(spec).exists() else spec, set_tasks))
        else:  # each task reads the set its file names
            groups.append((None, spec, set_tasks))
    jobs = []
    for name, args in models:
        for spec, label, set_tasks in groups:
            jobs.append(JobSpec(len(jobs), name, dict(args), spec, label, set_tasks))
    sweep_id = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
    return Sweep(sweep_id, out_dir / SWEEPS_FOLDER / sweep_id, options, jobs, suite)


def sweep_record(sweep: Sweep, launcher: str, max_parallel: int) -> dict:
    suite = sweep.suite
    return {
        "id": sweep.id, "created": now(), "launcher": launcher, "max_parallel": max_parallel,
        "command": sys.argv, "output_dir": str(sweep.options.output_dir), "seed": sweep.options.seed,
        "suite": dataclasses.asdict(suite) if suite is not None else None,
        "tasks": list(dict.fromkeys(t.name for j in sweep.jobs for t in j.tasks)),
        "jobs": [{"index": j.index, "model": j.model, "set": j.label, "data": j.data,
                  "tasks": [t.name for t in j.tasks], "slurm_job_ids": [], "stdout": None, "stderr": None}
                 for j in sweep.jobs],
        "suites_written": [],
    }


# ------------------------------------------------------------------------------------------------
# The job


class SweepJob:
    """What a worker or a SLURM job runs: `SweepJob(sweep)(index)`. Checkpointable for submitit: on a time-out or
    preemption signal it is resubmitted as it is, and resumes from the results already written."""

    def __init__(self, sweep: Sweep):
        self.sweep = sweep

    def __call__(self, index: int) -> list[dict]:
        return run_job(self.sweep, index)

    def checkpoint(self, *args, **kwargs):
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args, **kwargs)


def _entry(result: dict, output_dir: Path) -> dict:
    from audioprobe.results import result_label, result_path

    if "not_applicable" in result or "failed" in result:
        return {"task": result["task"]["name"], "placeholder": result}
    ds = result["dataset"]
    path = result_path(output_dir, ds["name"], ds["fingerprint"], result_label(result), result["task"]["name"])
    return {"task": result["task"]["name"], "path": str(Path(path).relative_to(output_dir)),
            "reused": bool(result.get("_reused"))}


class JobStateObserver:
    """A run observer (runner.RunObserver's hooks; the others are not needed) that counts the job's
    finished tasks into its state file, so `status` shows how far a job is."""

    def __init__(self, path: Path, state: dict):
        self.path, self.state, self.evaluated = path, state, 0

    def task_ended(self, model, task) -> None:
        self.evaluated += 1
        write_json(self.path, self.state | {"tasks_evaluated": self.evaluated})


def run_job(sweep: Sweep, index: int) -> list[dict]:
    """Run job `index` of the sweep and record its state (running, then done or failed) in its state file."""
    from audioprobe.runner import Runner

    job = sweep.jobs[index]
    path = sweep.state_path(index)
    previous = read_json(path) or {}
    state = {"index": index, "model": job.model, "set": job.label, "state": "running",
             "attempt": int(previous.get("attempt", 0)) + 1, "host": os.uname().nodename, "pid": os.getpid(),
             "slurm_job_id": _slurm_job_id(), "started": now()}
    write_json(path, state)
    opts = dataclasses.replace(sweep.options, data=job.data)
    try:
        runner = Runner(opts, observers=(JobStateObserver(path, state),))
        results = runner.run_model(job.model, job.args, list(job.tasks))
        sets = {spec: {"name": s.name, "fingerprint": s.fingerprint()} for spec, s in runner.sets.items()}
        entries = [_entry(r, opts.output_dir) for r in results]
    except Exception as exc:  # noqa: BLE001 - recorded for `status`, then raised (the job fails)
        message = str(exc) if isinstance(exc, AudioprobeError) else f"{exc.__class__.__name__}: {exc}"
        write_json(path, state | {"state": "failed", "finished": now(), "error": message,
                                  "traceback": traceback.format_exc()[-4000:]})
        raise
    finally:
        from audioprobe.metrics.transfer import release_workers

        release_workers()  # the job's process ends with its work, not loky's idle timeout later
    write_json(path, state | {"state": "done", "finished": now(), "results": entries, "sets": sets})
    return entries


def _slurm_job_id() -> str | None:
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID")


# ------------------------------------------------------------------------------------------------
# Launchers


def slurm_parameters(partition: str | None, gpus: int, cpus: int, mem: str | None, minutes: int,
                     max_parallel: int, name: str) -> dict:
    params: dict[str, Any] = {"job_name": name, "time": minutes, "cpus_per_task": cpus, "array_parallelism":
                              max_parallel, "additional_parameters": {"requeue": True}}
    if partition:
        params["partition"] = partition
    if gpus:
        params["gpus_per_node"] = gpus
    if mem:
        params["mem"] = mem
    return params


def submit_slurm(sweep: Sweep, record: dict, params: dict) -> None:
    """Submit every job of the sweep as one SLURM job array (submitit); the job ids and logs go in the record."""
    try:
        import submitit
    except ImportError:
        raise AudioprobeError("--launcher slurm needs submitit: pip install 'audioprobe[cluster]'.") from None
    if shutil.which("sbatch") is None:
        raise AudioprobeError("--launcher slurm: sbatch is not on PATH here; run on a SLURM login node (or use "
                              "--launcher local).")
    executor = submitit.SlurmExecutor(folder=sweep.folder / "logs", max_num_timeout=3)
    executor.update_parameters(**params)
    try:
        jobs = executor.map_array(SweepJob(sweep), list(range(len(sweep.jobs))))
    except Exception as exc:  # noqa: BLE001 - sbatch refused (partition, memory...): its message is the point
        raise AudioprobeError(f"sbatch refused the job array: {exc}") from None
    for entry, job in zip(record["jobs"], jobs):
        entry["slurm_job_ids"].append(job.job_id)
        entry["stdout"], entry["stderr"] = str(job.paths.stdout), str(job.paths.stderr)
    record["slurm"] = {"folder": str(sweep.folder / "logs"), "parameters": {k: v for k, v in params.items()}}
    write_json(sweep.folder / SWEEP_FILE, record)


def resubmit_slurm(sweep: Sweep, record: dict, index: int) -> str:
    import submitit

    executor = submitit.SlurmExecutor(folder=sweep.folder / "logs", max_num_timeout=3)
    params = dict(record["slurm"]["parameters"])
    params.pop("array_parallelism", None)
    executor.update_parameters(**params)
    job = executor.submit(SweepJob(sweep), index)
    entry = record["jobs"][index]
    entry["slurm_job_ids"].append(job.job_id)
    entry["stdout"], entry["stderr"] = str(job.paths.stdout), str(job.paths.stderr)
    write_json(sweep.folder / SWEEP_FILE, record)
    return job.job_id


#: Seconds between a local sweep worker's checks that the sweep's process still runs.
WATCH_PARENT_S = 2.0


def _init_worker(gpus) -> None:
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpus.get())
    _watch_parent(os.getppid())


def _watch_parent(parent: int) -> None:
    """End this worker when the sweep's process is gone (killed, even with SIGKILL, which runs no clean-up): a
    worker holds a model and its activations (hundreds of MB) and would otherwise finish its job for nobody."""
    import threading

    def watch():
        while True:
            time.sleep(WATCH_PARENT_S)
            if os.getppid() != parent:  # re-parented: the sweep's process has died
                os._exit(3)

    threading.Thread(target=watch, name="audioprobe-watch-parent", daemon=True).start()


def _visible_gpus() -> list[str]:
    try:
        import torch

        n = torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no torch CUDA: no GPUs to hand out
        n = 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [g.strip() for g in visible.split(",") if g.strip()] if visible else [str(i) for i in range(n)]
    return ids[:n]


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


def squeue_states(job_ids: list[str]) -> dict[str, tuple[str, str]] | None:
    """{job id: (SLURM state, reason)} for these jobs (array tasks one by one), or None where squeue cannot answer."""
    if not job_ids or shutil.which("squeue") is None:
        return None
    heads = sorted({j.split("_")[0] for j in job_ids})
    try:
        out = subprocess.run(["squeue", "-h", "-r", "--states=all", "-o", "%i|%T|%r", "-j", ",".join(heads)],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0 and "Invalid job id" not in out.stderr:
        return None
    states = {}
    for line in out.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 2:
            states[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
    return states


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


# ------------------------------------------------------------------------------------------------
# The command


def run_sweep(sweep: Sweep, launcher: str, max_parallel: int, slurm_params: dict | None = None, wait: bool = True,
              quiet: bool = False, poll_s: float = 1.0, echo=print) -> tuple[list[dict], list[JobStatus]]:
    """Launch the sweep's jobs; unless `wait` is False, wait for them with a progress display, resubmit jobs
    that vanished (SLURM), write the suite results; return the finished jobs' results and every job's
    status (`check_statuses` turns failures into JobsFailed, naming the logs and errors)."""
    record = sweep_record(sweep, launcher, max_parallel)
    sweep.folder.mkdir(parents=True, exist_ok=True)
    write_json(sweep.folder / SWEEP_FILE, record)
    display = Display(quiet)
    futures = None
    pool = None
    if launcher == "slurm":
        submit_slurm(sweep, record, slurm_params or {})
        ids = sorted({e["slurm_job_ids"][0].split("_")[0] for e in record["jobs"]})
        echo(f"Sweep {sweep.id}: {len(sweep.jobs)} jobs submitted as SLURM job array {', '.join(ids)} "
             f"(at most {max_parallel} at once); logs in {sweep.folder / 'logs'}.")
        if not wait:
            echo(f"Follow it with: audioprobe-eval status {sweep.options.output_dir}")
            return [], []
    else:
        import concurrent.futures
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
        gpus = _visible_gpus()
        queue = None
        if gpus:
            queue = ctx.Queue()
            for k in range(max_parallel):
                queue.put(gpus[k % len(gpus)])
        pool = concurrent.futures.ProcessPoolExecutor(max_parallel, mp_context=ctx, initializer=_init_worker,
                                                      initargs=(queue,))
        job = SweepJob(sweep)
        futures = {j.index: pool.submit(job, j.index) for j in sweep.jobs}
        echo(f"Sweep {sweep.id}: {len(sweep.jobs)} jobs in {max_parallel} worker processes"
             f"{f' (GPUs {gpus})' if gpus else ''}.")
    resubmits: dict[int, int] = {}
    lost_before: set[tuple[int, str | None]] = set()
    try:
        while True:
            if futures is not None:
                statuses = job_statuses(sweep.folder, record, futures=futures)
            else:
                statuses = current_statuses(sweep.folder, record)
                lost_now = {(s.index, s.job_id) for s in statuses if s.state == "lost"}
                for s in statuses:
                    if s.state != "lost" or resubmits.get(s.index, 0) >= RESUBMITS:
                        continue
                    if (s.index, s.job_id) not in lost_before:  # seen lost twice in a row: not a passing state
                        s.state, s.error = "running", None
                        continue
                    resubmits[s.index] = resubmits.get(s.index, 0) + 1
                    new = resubmit_slurm(sweep, record, s.index)
                    log.warning("%s / %s: job %s %s; resubmitted as job %s", s.model, s.set, s.job_id, s.error, new)
                    s.state, s.job_id, s.error = "pending", new, None
                lost_before = lost_now
            write_finished_suites(sweep.folder, record, statuses)
            display.update(statuses)
            if all(s.state in ("done", "failed", "lost") for s in statuses):
                break
            time.sleep(poll_s)
    except KeyboardInterrupt:
        if futures is None:
            sys.stderr.write(f"\nStopped waiting; the jobs go on running on SLURM. Follow them with: audioprobe-eval "
                             f"status {sweep.options.output_dir} (cancel them with scancel).\n")
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    done = [s.index for s in statuses if s.state == "done"]
    return finished_results(sweep.folder, record, done), statuses


def check_statuses(statuses: list[JobStatus]) -> None:
    """Raise JobsFailed (exit code EXIT_JOBS_FAILED) naming each failed job's log and error."""
    bad = [s for s in statuses if s.state in ("failed", "lost")]
    if bad:
        raise JobsFailed(f"{len(bad)} of {len(statuses)} jobs failed (finished results are saved; run the same "
                         f"command again to retry only what is missing):\n" + failures_text(statuses))
