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

Its parts: `sweep_state` (the record, the jobs' states, `status`), `sweep_slurm` (submitit and squeue),
`sweep_local` (the worker processes); this module plans a sweep, runs a job and drives the local pool or SLURM.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import math
import os
import re
import secrets
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from audioprobe.errors import AudioprobeError
from audioprobe.sweep_local import start_local_pool
from audioprobe.sweep_slurm import _slurm_job_id
from audioprobe.sweep_state import (
    SWEEP_FILE,
    SWEEPS_FOLDER,
    Display,
    JobStatus,
    current_statuses,
    failures_text,
    finished_results,
    job_state_path,
    job_statuses,
    now,
    read_json,
    write_finished_suites,
    write_json,
)

log = logging.getLogger(__name__)


#: exit code of a sweep in which at least one job failed (its log and error are printed)
EXIT_JOBS_FAILED = 4


#: how often the waiting command resubmits a job that vanished from the queue without finishing
RESUBMITS = 2


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
        from audioprobe.metrics.probing import release_workers

        release_workers()  # the job's process ends with its work, not loky's idle timeout later
    write_json(path, state | {"state": "done", "finished": now(), "results": entries, "sets": sets})
    return entries


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
        pool, futures, gpus = start_local_pool(SweepJob(sweep), [j.index for j in sweep.jobs], max_parallel)
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
                lost_before = resubmit_lost(sweep, record, statuses, resubmits, lost_before)
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


def resubmit_lost(sweep: Sweep, record: dict, statuses: list[JobStatus], resubmits: dict[int, int],
                  lost_before: set[tuple[int, str | None]]) -> set[tuple[int, str | None]]:
    """Resubmit the SLURM jobs seen lost (gone from the queue unfinished) on two polls in a row, at most RESUBMITS
    times each; a job lost once is shown running (squeue can miss a job for a moment). Returns the jobs lost now,
    the next poll's `lost_before`; `statuses` and `resubmits` are updated in place."""
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
    return lost_now


def check_statuses(statuses: list[JobStatus]) -> None:
    """Raise JobsFailed (exit code EXIT_JOBS_FAILED) naming each failed job's log and error."""
    bad = [s for s in statuses if s.state in ("failed", "lost")]
    if bad:
        raise JobsFailed(f"{len(bad)} of {len(statuses)} jobs failed (finished results are saved; run the same "
                         f"command again to retry only what is missing):\n" + failures_text(statuses))


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
