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

    from audioprobe.cli import results_table
    from audioprobe.results import collect_files

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
