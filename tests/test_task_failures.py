"""One task's unexpected error is that task's failure, not the run's: the others finish and are printed, the
failure is named in one line with its traceback in a log file, and the exit code says so (4)."""

from __future__ import annotations

import dataclasses
import json

from audioprobe.cli import EXIT_TASKS_FAILED, main as eval_main
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
