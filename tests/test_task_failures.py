"""One task's unexpected error is that task's failure, not the run's: the others finish and are printed, the
failure is named in one line with its traceback in a log file, and the exit code says so (4)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from audioprobe.cli import EXIT_TASKS_FAILED
from audioprobe.cli import main as eval_main
from audioprobe.runner import FAILURES_FOLDER
from audioprobe.tasktypes import TASK_TYPES


def test_a_task_that_raises_fails_alone(tmp_path, monkeypatch, capsys, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError("an unforeseen bug\nwith a second line")

    monkeypatch.setitem(TASK_TYPES, "abx", dataclasses.replace(TASK_TYPES["abx"], evaluate=boom))
    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "results"
    code = eval_main(["--model", "logmel", "--tasks", "abx-material,rsa-material,transfer-material-hollow-to-full",
                      "--limit", "40", "--output-dir", str(out)])
    printed = capsys.readouterr()
    assert code == EXIT_TASKS_FAILED == 4
    assert "Traceback" not in printed.err and "Traceback" not in printed.out
    # the other tasks finished and were saved and printed
    saved = {p.stem for p in out.glob("*/logmel/*.json")}
    assert saved == {"rsa-material", "transfer-material-hollow-to-full"}
    assert "rsa-material" in printed.out and "FAILED" in printed.out
    # one line names the failure; the log holds the whole traceback
    (line,) = [r.getMessage() for r in caplog.records if "FAILED" in r.getMessage()]  # stderr, through logging
    assert "logmel / abx-material" in line and "RuntimeError: an unforeseen bug" in line and "second line" not in line
    (log,) = (out / FAILURES_FOLDER).glob("*.log")
    assert "abx-material" in log.name and "Traceback" in log.read_text() and "second line" in log.read_text()
    assert "1 of 3 task(s) failed" in printed.err
    assert not list(out.glob("*/logmel/abx-material.json"))
    json.loads(next(out.glob("*/logmel/rsa-material.json")).read_text())


def test_non_finite_activations_are_refused_never_cached(tmp_path, monkeypatch, capsys):
    """--precision fp16 on a CPU gives all-NaN log-mel activations: one message naming the model, precision,
    layer and first sound, exit 2, nothing cached, no result written (it used to be cached and scored as
    nulls with exit 0)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("AUDIOPROBE_CACHE", str(cache))
    out = tmp_path / "results"
    code = eval_main(["--model", "logmel", "--tasks", "rsa-material", "--limit", "12", "--precision", "fp16",
                      "--output-dir", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "model 'logmel' (fp16 on cpu): layer 'fbank'" in err and "non-finite activations for 12 of 12" in err
    assert "use --precision fp32" in err
    assert not list(cache.rglob("*.npz")) and not list(out.glob("*/logmel/*.json"))


def test_status_of_a_plain_results_folder(tmp_path, monkeypatch, capsys):
    """`status DIR` after a plain run (no sweep): per set and model the results, current and stale (an older task
    version), failed (a traceback in DIR/failures/) and missing (another model of the set has them); exit 0."""
    from audioprobe.results import safe_name

    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "results"
    assert eval_main(["--model", "logmel", "--tasks", "rsa-material,rsa-hollowness", "--limit", "24",
                      "--output-dir", str(out)]) == 0
    assert eval_main(["--model", "mfcc", "--tasks", "rsa-material", "--limit", "24", "--output-dir", str(out)]) == 0
    (path,) = out.glob("*/logmel/rsa-hollowness.json")
    data = json.loads(path.read_text())
    version = data["task"]["version"]
    data["task"]["version"] = version - 1  # as a result of the task's previous version would say
    path.write_text(json.dumps(data))
    set_name = data["dataset"]["name"]
    (out / FAILURES_FOLDER).mkdir()
    (out / FAILURES_FOLDER / f"{safe_name(set_name)}-mfcc-rsa-hollowness.log").write_text("Traceback ...")
    capsys.readouterr()
    assert eval_main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "no sweep found" not in text
    (logmel,) = [line.split() for line in text.splitlines() if " logmel " in f" {line} " and line.startswith(set_name)]
    assert logmel[-6:] == ["2", "1", "1", "0", "0", "0"]  # results, current, stale, undefined, failed, missing
    assert f"logmel: stale: rsa-hollowness (v{version - 1}, now v{version})" in text
    assert "mfcc: failed: rsa-hollowness" in text and "mfcc: missing: rsa-hollowness" in text


def test_the_summary_table_has_one_order_whatever_finished_first(tmp_path, monkeypatch, capsys):
    import random

    from audioprobe.results import collect_files
    from audioprobe.run_summary import results_table

    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "results"
    assert eval_main(["--model", "mfcc", "--model", "logmel", "--tasks", "rsa-material,rsa-hollowness,abx-material",
                      "--limit", "30", "--output-dir", str(out)]) == 0
    results = [r for _, r in collect_files(out)]
    tables = set()
    for seed in range(5):
        random.Random(seed).shuffle(results)
        tables.add(results_table(results))
    assert len(tables) == 1
    rows = [line.split()[:2] for line in next(iter(tables)).splitlines()[2:8]]
    assert rows == sorted(rows)  # set, then model, then task


def test_status_knows_a_dead_local_job(tmp_path):
    """A local sweep's job whose worker was killed stays "running" in its own state file forever; status sees
    that the process is gone (same host, no such pid) and says "lost" with why."""
    import os
    import subprocess
    import sys

    from audioprobe.sweep_state import job_state_path, job_statuses, write_json

    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
    record = {"launcher": "local", "jobs": [{"index": 0, "model": "logmel", "set": "impacts"},
                                            {"index": 1, "model": "mfcc", "set": "impacts"}]}
    host = os.uname().nodename
    job_state_path(tmp_path, 0).parent.mkdir(parents=True, exist_ok=True)
    write_json(job_state_path(tmp_path, 0), {"state": "running", "host": host, "pid": dead})
    write_json(job_state_path(tmp_path, 1), {"state": "running", "host": host, "pid": os.getpid()})
    lost, running = job_statuses(tmp_path, record)
    assert lost.state == "lost" and str(dead) in lost.error and "gone" in lost.error
    assert running.state == "running"


def test_a_local_sweep_worker_ends_when_its_sweep_is_killed(tmp_path):
    """SIGKILL of a local sweep's process runs no clean-up; its worker (the real initializer) notices it was
    re-parented and ends within seconds instead of finishing a job for nobody."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import concurrent.futures, multiprocessing, os, time\n"
        "from audioprobe.sweep_local import _init_worker\n"
        "if __name__ == '__main__':\n"
        "    ctx = multiprocessing.get_context('spawn')\n"
        "    pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx, initializer=_init_worker, "
        "initargs=(None,))\n"
        "    print(pool.submit(os.getpid).result(), flush=True)\n"
        "    pool.submit(time.sleep, 120)\n"
        "    time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(worker, signal.SIGKILL)
        raise AssertionError("the worker outlived its sweep by 15 s")


def test_two_settings_of_a_model_are_two_models_never_one_replacing_the_other(tmp_path, monkeypatch, capsys):
    """Results are named by the model and the --model-args that distinguish it (results.model_label): a second
    setting gets its own folder, row, comparison and status line; the first stays and is reused."""
    from audioprobe.leaderboard.cli import main as leaderboard_main
    from audioprobe.leaderboard.pairing import collect_entries
    from audioprobe.results import collect_files

    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "results"
    run = ["--model", "logmel", "--tasks", "rsa-material", "--limit", "20", "--output-dir", str(out)]
    assert eval_main(run) == 0
    assert eval_main([*run, "--model-args", "num_mel_bins=64"]) == 0
    folders = sorted(p.parent.name for p in out.rglob("rsa-material.json"))
    assert folders[0] == "logmel" and folders[1].startswith("logmel@num_mel_bins_64-") and len(folders) == 2
    labels = sorted(r["model"]["name"] + str(r["model"]["args"]) for _, r in collect_files(out))
    assert labels == ["logmel{'num_mel_bins': 64}", "logmel{}"]
    assert sorted(e.model for e in collect_entries(out)) == ["logmel", "logmel[num_mel_bins=64]"]
    capsys.readouterr()
    assert eval_main(run) == 0  # the first setting is still there: reused, not recomputed
    assert "reused" in capsys.readouterr().out
    assert leaderboard_main([str(out), "-o", str(tmp_path / "LB.md")]) == 0
    board = (tmp_path / "LB.md").read_text()
    assert "| logmel " in board and "logmel[num_mel_bins=64]" in board
    assert eval_main(["status", str(out)]) == 0
    assert "logmel[num_mel_bins=64]" in capsys.readouterr().out


def test_model_labels_name_only_what_distinguishes_a_setting():
    from audioprobe.results import model_folder, model_label

    assert model_label("logmel") == model_label("logmel", {}) == "logmel"
    assert model_label("random-beats", {"random": True}) == "random-beats"  # the name's own preset
    assert model_label("hf:org/x", {"repo": "org/x"}) == "hf:org/x"
    assert model_label("random-beats", {"random": True, "layers": 3}) == "random-beats[layers=3]"
    assert model_label("unregistered-here", {"a": 1, "b": "x"}) == "unregistered-here[a=1,b=x]"
    assert model_folder("logmel") == "logmel"
    long_a, long_b = (model_label("clap", {"checkpoint": "/data/" + "x" * 80 + end}) for end in ("/a.pt", "/b.pt"))
    fa, fb = model_folder(long_a), model_folder(long_b)
    assert fa != fb and len(fa) < 64 and fa.startswith("clap@checkpoint_")
    assert "/" not in fa and model_folder(model_label("logmel", {"n": 1})) != model_folder(model_label("logmel", {"n": 2}))


def test_the_launcher_shows_the_tasks_a_running_job_has_done(tmp_path):
    import os

    from audioprobe.sweep_state import job_state_path, job_statuses, status_table, write_json

    record = {"launcher": "local", "jobs": [{"index": 0, "model": "logmel", "set": "impacts",
                                             "tasks": ["a", "b", "c"], "data": None}]}
    job_state_path(tmp_path, 0).parent.mkdir(parents=True, exist_ok=True)
    write_json(job_state_path(tmp_path, 0), {"state": "running", "host": os.uname().nodename, "pid": os.getpid(),
                                              "tasks_evaluated": 2, "attempt": 1})
    (st,) = job_statuses(tmp_path, record)
    assert st.shown() == "running (2/3 tasks)" and "running (2/3 tasks)" in status_table([st])


def test_preset_args_agree_with_the_wrappers_presets_for_every_registered_name():
    from audioprobe.models.registry import model_names, preset_args, resolve_model_class

    for name in [*model_names(), "hf:org/name", "hear:some.module"]:
        assert preset_args(name) == resolve_model_class(name)[1], name
    assert preset_args("not-a-model") is None


@pytest.mark.parametrize("command", ["eval", "leaderboard"])
def test_a_disk_that_refuses_writes_gives_one_line_and_exit_2(tmp_path, monkeypatch, capsys, command):
    """A full disk (ENOSPC from the write's fsync, as a full file system gives it) at the first file a command
    writes: one line naming the file and what to do, exit 2, no traceback, no temporary file left."""
    import errno

    import audioprobe.files as files
    from audioprobe.leaderboard.cli import main as leaderboard_main

    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "results"
    if command == "leaderboard":  # results to read first, then the disk fills
        assert eval_main(["--model", "logmel", "--tasks", "rsa-material", "--limit", "12", "--output-dir", str(out)]) == 0
    capsys.readouterr()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    if command == "eval":
        code = eval_main(["--model", "logmel", "--tasks", "rsa-material", "--limit", "12", "--output-dir", str(out)])
        target = "dataset.json"
    else:
        code = leaderboard_main([str(out), "-o", str(tmp_path / "LB.md")])
        target = "LB.md"
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("Error:")]
    assert f"{target}: No space left on device" in line and "run the same command again" in line
    assert not list(tmp_path.rglob("*.tmp"))


def test_other_os_errors_are_not_dressed_as_a_full_disk():
    import errno

    from audioprobe.errors import disk_error_message

    assert disk_error_message(OSError(errno.EIO, "Input/output error")) is None
    assert "Read-only file system" in disk_error_message(OSError(errno.EROFS, "Read-only file system", "/x/y.json"))


def test_compare_selects_a_model_label_by_its_name_with_brackets_and_commas():
    from audioprobe.errors import AudioprobeError
    from audioprobe.leaderboard.compare import select

    names = ["clap", "clap[a=1,b=2]", "logmel", "logmel[num_mel_bins=64]"]
    assert select(names, "clap[a=1,b=2]") == ["clap[a=1,b=2]"]  # one label, not "clap[a=1" and "b=2]"
    assert select(names, "logmel[num_mel_bins=64], clap") == ["clap", "logmel[num_mel_bins=64]"]
    assert select(names, "logmel*") == ["logmel", "logmel[num_mel_bins=64]"]  # globs still work
    with pytest.raises(AudioprobeError, match="matches no result"):
        select(names, "clap[a=2]")
