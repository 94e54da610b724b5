"""One bad file never stops the leaderboard, compare or the report: it is skipped with a warning that names it,
and the others are read."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from audioprobe.cli import main as eval_main
from audioprobe.errors import AudioprobeError
from audioprobe.leaderboard.build import build
from audioprobe.leaderboard.compare import compare
from audioprobe.leaderboard.report import write_report
from audioprobe.results import collect_files, read_replicates, read_result


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    out = root / "results"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDIOPROBE_CACHE", str(root / "cache"))
        assert eval_main(["--model", "logmel", "--model", "mfcc", "--tasks", "rsa-material,abx-material",
                          "--limit", "30", "--output-dir", str(out)]) == 0
    return out


@pytest.fixture
def damaged(clean, tmp_path):
    """A copy of the results with: a file manager's copy of a result, a replicates file that is not the one its
    result records, a result holding NaN, a suite result holding NaN."""
    out = tmp_path / "results"
    shutil.copytree(clean, out)
    (logmel,) = out.glob("*/logmel")
    (mfcc,) = out.glob("*/mfcc")
    shutil.copy(logmel / "rsa-material.json", logmel / "rsa-material (copy).json")
    (logmel / "abx-material.replicates.npz").write_bytes(b"not the recorded file")
    text = (mfcc / "abx-material.json").read_text()
    (mfcc / "abx-material.json").write_text(text.replace('"value": 0.', '"value": NaN, "x": 0.', 1))
    suite = out / "suites" / "s" / "logmel"
    suite.mkdir(parents=True)
    (suite / "rsa-material.suite.json").write_text('{"suite_version": NaN}')
    (mfcc / "deep.json").write_text("[" * 100_000 + "]" * 100_000)  # a RecursionError for json.loads
    (summary,) = out.glob("*/dataset.json")
    summary.unlink()
    summary.mkdir()  # a folder named like the set's summary
    return out


def test_every_reader_skips_a_bad_file_names_it_and_goes_on(damaged, tmp_path, caplog):
    board = build(damaged)
    report = compare(damaged, [])
    write_report(damaged, tmp_path / "report")
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert "rsa-material (copy).json: a result of task 'rsa-material' is named rsa-material.json" in said
    assert "abx-material.replicates.npz: does not match the SHA-256" in said
    assert "abx-material.json: not a readable result file (a non-finite number (NaN)" in said
    assert "rsa-material.suite.json: unreadable suite result" in said
    assert "deep.json: not a readable result file (nested too deeply to be a result)" in said
    # the good results are all there
    assert "rsa-material" in board and (tmp_path / "report" / "index.html").exists()
    (s,) = report["sets"]
    tasks = {t["task"]: t for t in s["tasks"]}
    assert tasks["rsa-material"]["models"] == ["logmel", "mfcc"]
    assert "logmel" not in (tasks.get("abx-material") or {}).get("models", [])  # its replicates are bad
    kept = {(r["model"]["name"], r["task"]["name"]) for _, r in collect_files(damaged)}
    assert kept == {("logmel", "rsa-material"), ("logmel", "abx-material"), ("mfcc", "rsa-material")}


def test_a_replicates_file_with_its_hash_but_not_an_npz_is_one_clear_error(clean, tmp_path):
    out = tmp_path / "results"
    shutil.copytree(clean, out)
    (path,) = out.glob("*/logmel/rsa-material.json")
    junk = b"PK\x03\x04 not really a zip"
    path.with_name("rsa-material.replicates.npz").write_bytes(junk)
    data = json.loads(path.read_text())
    data["replicates"]["sha256"] = hashlib.sha256(junk).hexdigest()  # edited together with the file
    path.write_text(json.dumps(data))
    with pytest.raises(AudioprobeError, match="not a readable replicates file"):
        read_replicates(path, read_result(path))


def test_a_cache_entry_copied_from_another_set_is_not_used(tmp_path, monkeypatch, caplog):
    """Two sets of the same sounds, one label apart (so two fingerprints, and activations of the same shape): the
    second set's cache entry replaced by a copy of the first's is discarded by the record it holds, not used."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("AUDIOPROBE_CACHE", str(cache))
    assert eval_main(["export-dataset", "impacts", str(tmp_path / "a")]) == 0
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    labels = (tmp_path / "b" / "labels.csv").read_text().splitlines()
    labels[1] = labels[1].replace(",bar", ",tube", 1)  # one object label: another fingerprint, the same audio
    (tmp_path / "b" / "labels.csv").write_text("\n".join(labels) + "\n")
    out = tmp_path / "results"
    run = ["--model", "logmel", "--tasks", "rsa-material", "--limit", "24", "--output-dir", str(out)]
    assert eval_main([*run, "--data", str(tmp_path / "a")]) == 0
    first, results_a = set(cache.rglob("*.npz")), {p for p, _ in collect_files(out)}
    assert eval_main([*run, "--data", str(tmp_path / "b")]) == 0
    (of_b,) = set(cache.rglob("*.npz")) - first
    (of_a,) = first
    (path,) = {p for p, _ in collect_files(out)} - results_a
    shutil.copy(of_a, of_b)
    caplog.clear()
    path.unlink()  # the task runs again and reads the cache
    assert eval_main([*run, "--data", str(tmp_path / "b")]) == 0
    assert any("made for another stimulus set" in r.getMessage() and str(of_b) in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]


def test_a_killed_export_leaves_nothing_behind_for_long(tmp_path):
    """What an export-dataset killed mid-way leaves (its temporary folder, named with its process id) is removed
    by the next export beside it; a live export's folder is not touched."""
    import os
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".study.{dead.stdout.strip()}.abc123.tmp"
    stale.mkdir()
    (stale / "half-written.wav").write_bytes(b"x")
    live = tmp_path / f".study.{os.getpid()}.def456.tmp"
    live.mkdir()
    assert eval_main(["export-dataset", "similarity-study:5:1", str(tmp_path / "study")]) == 0
    assert not stale.exists() and live.exists() and (tmp_path / "study" / "rdm.csv").is_file()


def test_a_silent_sound_is_named_not_silently_null(tmp_path, monkeypatch, caplog):
    import numpy as np
    import soundfile as sf

    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp_path / "cache"))
    assert eval_main(["export-dataset", "similarity-study:6:1", str(tmp_path / "s")]) == 0
    (first,) = sorted((tmp_path / "s" / "sounds").glob("*.wav"))[:1]
    _, rate = sf.read(first)
    sf.write(first, np.zeros(rate // 10, np.float32), rate, subtype="FLOAT")
    assert eval_main(["--model", "logmel", "--tasks", "rsa-rdm", "--data", str(tmp_path / "s"), "--output-dir",
                      str(tmp_path / "r")]) == 0
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "1 silent sound(s) (every sample 0): " + first.stem in said
