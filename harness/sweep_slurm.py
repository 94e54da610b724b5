"""SLURM for sweeps, through submitit: the job array's parameters, submission and resubmission, the
queue's states (`squeue`) and a job's own id."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

#: SLURM states of a job that is over (`squeue --states=all` keeps them for MinJobAge seconds)
_ENDED = {"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
          "REVOKED", "SPECIAL_EXIT", "TIMEOUT"}


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
