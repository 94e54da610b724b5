"""Sweeps on a cluster (harness/launch.py): (model x stimulus set) jobs on a real one-node SLURM, and locally.

A session fixture brings up SLURM from Debian's packages (slurm-wlm, munge: `.ci/run` installs them) on
localhost, following docs/cluster.md: munged, then slurmctld and slurmd as root with a slurm.conf in a
temporary folder (`SLURM_CONF`). Where it cannot start (packages missing, not root, a daemon that fails)
the SLURM tests skip and say why; the local-launcher tests run everywhere.

The sweep: logmel and mfcc (weight-free) x two stimulus sets (20 impact sounds, and a synthetic similarity
study exported to a folder) x two cheap RSA tasks with few resamples. Results are compared with a
serial local run field by field, except what records when and how long (created, timing) and the hash
of the replicates file (its zip entries carry a time stamp): the replicate arrays themselves are compared.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from audioprobe.cli import main as eval_main

MODELS = ("logmel", "mfcc")
TASKS = "sweep-rdm,sweep-hollowness"
#: cheap versions of rsa-rdm and rsa-physical-hollowness: few resamples and permutations
TASK_FILES = {
    "sweep-rdm.yaml": "task: sweep-rdm\nversion: 1\ndescription: cheap rsa-rdm\ntype: rsa\ntarget: rdm\nmodel_distance: cosine\n"
                      "comparison: pearson\npooling: mean\nbootstrap: 50\npermutations: 50\ncv_splits: 10\n",
    "sweep-hollowness.yaml": "task: sweep-hollowness\nversion: 1\ndescription: cheap rsa-physical-hollowness\ntype: rsa\ntarget: physical\n"
                             "dimensions: hollowness\nmodel_distance: cosine\ncomparison: pearson\npooling: mean\n"
                             "bootstrap: 50\npermutations: 50\ncv_splits: 10\n",
}
SLURM_CONF = """\
ClusterName=audioprobe-test
SlurmctldHost={host}
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmUser=root
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
MpiDefault=none
SchedulerType=sched/builtin
KillWait=2
MinJobAge=300
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
NodeName={host} CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName=audioprobe-test Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def _run(cmd: list[str], timeout: float = 20, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def _munge_works() -> bool:
    try:
        cred = _run(["munge", "-n"]).stdout
        return "Success" in _run(["unmunge"], input=cred).stdout
    except (OSError, subprocess.SubprocessError):
        return False


def _start_munge(started: list[int]) -> str | None:
    """munged as user munge with a key; None when it works, else why not."""
    if _munge_works():
        return None
    key = Path("/etc/munge/munge.key")
    try:
        for d in ("/etc/munge", "/run/munge", "/var/log/munge", "/var/lib/munge"):
            Path(d).mkdir(parents=True, exist_ok=True)
            shutil.chown(d, "munge", "munge")
        if not key.is_file():
            key.write_bytes(os.urandom(1024))
        shutil.chown(key, "munge", "munge")
        key.chmod(0o400)
        out = _run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"])
    except (OSError, LookupError, subprocess.SubprocessError) as exc:
        return f"munged could not start ({exc})"
    pid_file = Path("/run/munge/munged.pid")
    for _ in range(50):
        if _munge_works():
            if pid_file.is_file():
                started.append(int(pid_file.read_text().split()[0]))
            return None
        time.sleep(0.1)
    return f"munged did not start: {out.stderr.strip() or out.stdout.strip()}"


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A one-node SLURM on localhost (SLURM_CONF set for this process and its children); skips with the reason
    where it cannot start. The daemons it started are stopped at the end, by their process ids."""
    missing = [b for b in ("slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "munged") if
               shutil.which(b) is None and not Path("/usr/sbin", b).is_file()]
    if missing:
        pytest.skip(f"SLURM tests skipped: {', '.join(missing)} not installed (apt-get install slurm-wlm munge)")
    if os.geteuid() != 0:
        pytest.skip("SLURM tests skipped: starting slurmctld, slurmd and munged needs root")
    try:
        import submitit  # noqa: F401
    except ImportError:
        pytest.skip("SLURM tests skipped: submitit is not installed (pip install -e '.[cluster]')")
    started: list[int] = []
    problem = _start_munge(started)
    root = tmp_path_factory.mktemp("slurm")
    conf = root / "slurm.conf"
    host = socket.gethostname().split(".")[0]
    mem_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.8)
    conf.write_text(SLURM_CONF.format(host=host, root=root, cpus=os.cpu_count(), mem_mb=mem_mb,
                                      ctld_port=_free_port(), d_port=_free_port()))
    for d in ("state", "spool"):
        (root / d).mkdir()
    old_conf = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)
    try:
        if problem is None:
            for daemon in ("slurmctld", "slurmd"):
                out = _run([shutil.which(daemon) or f"/usr/sbin/{daemon}", "-f", str(conf)])
                pid_file = root / f"{daemon}.pid"
                for _ in range(50):
                    if pid_file.is_file() and pid_file.read_text().strip():
                        break
                    time.sleep(0.1)
                if not pid_file.is_file():
                    log = root / f"{daemon}.log"
                    tail = log.read_text()[-400:] if log.is_file() else out.stderr[-400:]
                    problem = f"{daemon} did not start: {tail.strip()}"
                    break
                started.append(int(pid_file.read_text().split()[0]))
        if problem is None:
            state = ""
            for _ in range(150):
                state = _run(["sinfo", "-h", "-o", "%T"]).stdout.strip()
                if state in ("idle", "mixed", "allocated"):
                    break
                time.sleep(0.2)
            else:
                problem = f"the node did not come up (sinfo says {state!r})"
        if problem is not None:
            pytest.skip(f"SLURM tests skipped: {problem}")
        yield root
    finally:
        for pid in reversed(started):
            _stop(pid)
        if old_conf is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old_conf


# ------------------------------------------------------------------------------------------------
# The sweep and its reference (a serial run of today's single process)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Task files, a suite (20 impact sounds and two synthetic similarity studies) and a serial reference run."""
    from audioprobe.stimuli.folder import export_folder
    from audioprobe.stimuli.synthetic.tone_studies import similarity_study

    root = tmp_path_factory.mktemp("sweep")
    include = root / "tasks"
    include.mkdir()
    for name, text in TASK_FILES.items():
        (include / name).write_text(text)
    for k, n in enumerate((12, 14)):
        export_folder(similarity_study(f"study-{k}", n, seed=20 + k), root / f"study-{k}")
    suite = root / "suite.yaml"
    suite.write_text("name: two-studies-and-impacts\ndescription: sweep test\nsets: [impacts, study-0, study-1]\n")
    reference = root / "serial"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDIOPROBE_CACHE", str(root / "cache-serial"))
        assert eval_main(argv(root, reference, MODELS)) == 0
    return root, reference


def argv(root: Path, out: Path, models=MODELS, *extra: str) -> list[str]:
    cmd = ["--tasks", TASKS, "--include-path", str(root / "tasks"), "--data", str(root / "suite.yaml"),
           "--limit", "20", "--output-dir", str(out), "-q"]
    for m in models:
        cmd += ["--model", m]
    return cmd + list(extra)


SLURM_ARGS = ("--launcher", "slurm", "--cpus-per-job", "1", "--mem", "1G", "--time", "10")
VARYING = ("created", "timing")


def _comparable(path: Path) -> object:
    if path.suffix == ".npz":
        with np.load(path) as z:  # bit for bit (NaN included)
            return {k: (z[k].dtype.str, z[k].shape, z[k].tobytes()) for k in z.files}
    if path.suffix == ".npy":
        a = np.load(path)
        return a.dtype.str, a.shape, a.tobytes()
    data = json.loads(path.read_text())
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in VARYING}
        if "replicates" in data:  # the arrays are compared; their file's hash covers zip time stamps
            data["replicates"] = {k: v for k, v in data["replicates"].items() if k != "sha256"}
    return data


def result_files(out: Path, models=MODELS) -> dict[str, object]:
    """Every file a run of `models` leaves (sweep records and lock files aside), by relative path, made
    comparable. The RDM files (shared by the models) only when all models ran."""
    files = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out)
        if not p.is_file() or rel.parts[0] == ".sweeps" or p.name.startswith("."):
            continue
        if "rdms" in rel.parts and set(models) != set(MODELS):
            continue
        if not any(m in rel.parts for m in models) and "rdms" not in rel.parts and p.name != "dataset.json":
            continue
        files[str(rel)] = _comparable(p)
    return files


def assert_same_results(out: Path, reference: Path, models=MODELS) -> None:
    got, want = result_files(out, models), result_files(reference, models)
    assert sorted(got) == sorted(want)
    assert any(k.endswith(".suite.json") for k in want) and any(k.endswith(".replicates.npz") for k in want)
    assert any("rdms" in k for k in want) == (set(models) == set(MODELS))
    for k in want:
        assert got[k] == want[k], k


def sweep_record(out: Path) -> tuple[Path, dict]:
    (folder,) = (out / ".sweeps").iterdir()
    return folder, json.loads((folder / "sweep.state").read_text())


# ------------------------------------------------------------------------------------------------
# Local worker processes


@pytest.mark.slow
def test_local_parallel_equals_serial(setup, tmp_path, monkeypatch, capsys):
    """--launcher local --max-parallel 2: six jobs (2 models x 3 sets) in two worker processes; the result files,
    replicates, set summaries, RDMs and suite results equal the serial run's; `status` shows them all done."""
    root, reference = setup
    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert eval_main(argv(root, out, MODELS, "--max-parallel", "2")) == 0
    assert "two-studies-and-impacts" in capsys.readouterr().out
    assert_same_results(out, reference)
    folder, record = sweep_record(out)
    assert record["launcher"] == "local" and len(record["jobs"]) == 6
    assert sorted(record["suites_written"]) == sorted(MODELS)
    assert eval_main(["status", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "6 jobs: 6 done, 0 failed" in shown and "study-0" in shown


def test_local_failed_job_names_its_error(setup, tmp_path, monkeypatch, capsys):
    """A job that fails (a model argument it refuses) fails the sweep with exit code 4 and its error; the other
    jobs' results are written."""
    root, _ = setup
    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    code = eval_main(argv(root, out, ("logmel",), "--max-parallel", "2", "--model-args", "bogus=1"))
    err = capsys.readouterr().err
    assert code == 4 and "3 of 3 jobs failed" in err and "does not accept --model-args bogus" in err


def test_slurm_options_need_the_slurm_launcher(setup, tmp_path, capsys):
    root, _ = setup
    assert eval_main(argv(root, tmp_path / "out", MODELS, "--mem", "4G")) == 2
    assert "--mem: only with --launcher slurm" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# SLURM


@pytest.mark.slow
def test_slurm_sweep_equals_local_run(slurm, setup, tmp_path, capsys):
    """The sweep as one SLURM job array (6 jobs, at most 2 at once), submitted with --no-wait and followed with
    `status` (which reads the queue and the jobs' records, and writes the suite results once a model's jobs are
    done): the same files as the serial run; the record names each job's SLURM id and log."""
    root, reference = setup
    out = tmp_path / "out"
    start = time.perf_counter()
    assert eval_main(argv(root, out, MODELS, *SLURM_ARGS, "--max-parallel", "2", "--no-wait")) == 0
    shown = capsys.readouterr().out
    assert "submitted as SLURM job array" in shown and "audioprobe-eval status" in shown

    def finished():
        assert eval_main(["status", str(out)]) == 0
        return "6 jobs: 6 done, 0 failed" in capsys.readouterr().out
    _wait(finished, "the sweep", timeout=120)
    print(f"SLURM sweep: {time.perf_counter() - start:.1f} s")
    assert_same_results(out, reference)
    folder, record = sweep_record(out)
    assert record["launcher"] == "slurm" and all(len(j["slurm_job_ids"]) == 1 for j in record["jobs"])
    assert sorted(record["suites_written"]) == sorted(MODELS)
    assert all(Path(j["stderr"]).is_file() for j in record["jobs"])
    states = [json.loads((folder / "jobs" / f"{j['index']}.state").read_text()) for j in record["jobs"]]
    assert {s["slurm_job_id"] for s in states} == {j["slurm_job_ids"][0] for j in record["jobs"]}


def _wait(predicate, what: str, timeout: float = 90):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _job_state(folder: Path, index: int) -> dict:
    try:
        return json.loads((folder / "jobs" / f"{index}.state").read_text())
    except (OSError, ValueError):
        return {}


def _release(job_id: str) -> None:
    """SLURM holds a requeued job about two minutes (BeginTime); let it start now."""
    def pending():
        out = _run(["squeue", "-h", "-r", "-o", "%T|%r", "-j", job_id]).stdout
        return "PENDING|BeginTime" in out
    _wait(pending, f"job {job_id} pending again")
    _run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"])


def _slow_tasks_env(tmp_path, pause: float) -> dict:
    """An environment whose Python processes (the command and, through SLURM's exported environment, its jobs)
    wait `pause` seconds after every task (before the next one, or before the job records that it is done), so
    that a test can interrupt a job between two results: a `sitecustomize` first on PYTHONPATH wraps the
    runner's methods (the test aid stays out of the harness)."""
    aid = tmp_path / "slow_tasks"
    aid.mkdir()
    (aid / "sitecustomize.py").write_text(
        "import time\n"
        "from audioprobe.runner import Runner\n"
        "_evaluate, _run_model, _started = Runner.evaluate, Runner.run_model, []\n"
        "def evaluate(self, *a, **k):\n"
        "    if _started:\n"
        f"        time.sleep({pause!r})\n"
        "    _started.append(1)\n"
        "    return _evaluate(self, *a, **k)\n"
        "def run_model(self, *a, **k):\n"
        "    out = _run_model(self, *a, **k)\n"
        f"    time.sleep({pause!r})\n"
        "    return out\n"
        "Runner.evaluate, Runner.run_model = evaluate, run_model\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(aid), os.environ.get("PYTHONPATH")])))
    # Python ignores a sitecustomize that fails: check that this one is in place
    subprocess.run([sys.executable, "-c", "import sitecustomize; assert sitecustomize._started == []"], env=env,
                   check=True)
    return env


@pytest.mark.slow
def test_interrupted_jobs_are_requeued_and_resume(slurm, setup, tmp_path):
    """Three jobs (logmel x 3 sets), each stopped after its first task: one requeued by SLURM (`scontrol requeue`,
    as on preemption), one sent submitit's time-out signal (USR2: checkpoint and requeue), one killed (`kill -9`
    of its process: SLURM marks it failed, and the waiting command resubmits it). All resume (second attempt)
    and the results equal the uninterrupted run's."""
    root, reference = setup
    out = tmp_path / "out"
    env = _slow_tasks_env(tmp_path, pause=4)
    proc = subprocess.Popen([sys.executable, "-m", "audioprobe.cli", *argv(root, out, ("logmel",), *SLURM_ARGS)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        folder = _wait(lambda: next((p for p in (out / ".sweeps").glob("*/sweep.state")), None) if
                       (out / ".sweeps").is_dir() else None, "the sweep record").parent
        record = _wait(lambda: (r := json.loads((folder / "sweep.state").read_text()))["jobs"][0]["slurm_job_ids"]
                       and r, "the job ids")
        ids = [j["slurm_job_ids"][0] for j in record["jobs"]]
        interrupted = set()
        end = time.time() + 120
        while len(interrupted) < 3 and time.time() < end:
            for i in range(3):
                s = _job_state(folder, i)
                if i in interrupted or s.get("state") != "running" or s.get("tasks_evaluated", 0) < 1:
                    continue
                interrupted.add(i)
                if i == 0:
                    _run(["scontrol", "requeue", ids[0]])
                    _release(ids[0])
                elif i == 1:
                    _run(["scancel", "--signal=USR2", ids[1]])
                    _release(ids[1])
                else:
                    os.kill(s["pid"], signal.SIGKILL)
            time.sleep(0.1)
        assert len(interrupted) == 3, [_job_state(folder, i) for i in range(3)]
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    attempts = [_job_state(folder, i)["attempt"] for i in range(3)]
    assert attempts == [2, 2, 2], attempts
    record = json.loads((folder / "sweep.state").read_text())
    assert len(record["jobs"][2]["slurm_job_ids"]) == 2  # the killed job was resubmitted
    assert_same_results(out, reference, ("logmel",))


@pytest.mark.slow
def test_two_sweeps_at_once_share_cache_and_output(slurm, setup, tmp_path):
    """Two sweeps started together on one activation cache and output folder: every file is whole and equal to
    the serial run's (each result and its replicates file a matching pair)."""
    from audioprobe.results import collect_files, read_replicates

    root, reference = setup
    out = tmp_path / "out"
    env = dict(os.environ, AUDIOPROBE_CACHE=str(tmp_path / "cache"))
    procs = [subprocess.Popen([sys.executable, "-m", "audioprobe.cli", *argv(root, out, MODELS, *SLURM_ARGS)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert len(list((out / ".sweeps").iterdir())) == 2
    assert_same_results(out, reference)
    for path, result in collect_files(out):
        if "replicates" in result:
            read_replicates(path, result)  # checks the pair's hash
