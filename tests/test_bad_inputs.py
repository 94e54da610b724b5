"""Every bad input a user can give, run as the user runs it: exit code 2 (or the documented code),
one message naming the file, key or sound at fault, and never a traceback.

Each case builds its inputs in a temporary folder, runs the command line in process
(`audioprobe-eval`, `audioprobe-leaderboard`, `python -m audioprobe.stimuli`) and checks the
exit code, that stderr has no traceback and that the message holds the name it must give.
`CASES` is the table of the issue's closing note (test ids are the case names).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from audioprobe.cli import EXIT_NOTHING_COMPUTED
from audioprobe.cli import main as eval_main
from audioprobe.leaderboard.cli import main as leaderboard_main
from audioprobe.stimuli.__main__ import main as stimuli_main
from tests.test_stimuli import make_folder, write_csv

MINIMAL_TASK = {"task": "my-task", "version": 1, "description": "d", "dataset": "impacts", "type": "rsa",
                "dimensions": "material", "bootstrap": 0, "permutations": 0, "cv_splits": 0, "ceiling_splits": 0}


def folder(tmp: Path) -> Path:
    """A valid stimulus folder of 6 sounds (material: wood/metal, size: small/large)."""
    return make_folder(tmp / "set", np.random.default_rng(0), n=6, responses=True)


def task_file(tmp: Path, text: str | None = None, **changes) -> Path:
    path = tmp / "tasks" / "my-task.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {k: v for k, v in {**MINIMAL_TASK, **changes}.items() if v is not None}
    path.write_text(text if text is not None else yaml.safe_dump(data), encoding="utf-8")
    return path


def on_folder(tmp: Path, *extra: str) -> list[str]:
    """Score logmel on the tiny folder (bad inputs fail before or while loading)."""
    return ["--model", "logmel", "--tasks", "rsa-material", "--data", str(tmp / "set"),
            "--output-dir", str(tmp / "out"), "-q", *extra]


def with_task(tmp: Path, *extra: str, data: bool = True) -> list[str]:
    return ["--model", "logmel", "--tasks", "my-task", "--include-path", str(tmp / "tasks"),
            *(["--data", str(tmp / "set")] if data else []), "--output-dir", str(tmp / "out"), "-q", *extra]


def utf16(path: Path) -> None:
    path.write_text(path.read_text(encoding="utf-8"), encoding="utf-16")


# ----------------------------------------------------------------------------------- the cases

@dataclasses.dataclass
class Case:
    name: str
    setup: Callable[[Path], list[str]]  # builds the inputs, returns the command's arguments
    needle: str  # what the message must name (file, key, sound)
    code: int = 2
    prog: str = "eval"  # eval | leaderboard | stimuli


def _folder_then(fn):
    def setup(tmp):
        fn(folder(tmp))
        return on_folder(tmp)
    return setup


def _yes_no_categories(d):
    meta = yaml.safe_load((d / "dataset.yaml").read_text())
    meta["dimensions"]["material"] = ["PLACEHOLDER"]
    text = yaml.safe_dump(meta).replace("- PLACEHOLDER", "- yes\n  - no")  # unquoted: YAML 1.1 booleans
    (d / "dataset.yaml").write_text(text)


def _synthetic_string(d):
    (d / "dataset.yaml").write_text((d / "dataset.yaml").read_text() + 'synthetic: "no"\n')


BOMB = ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "g: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n")


def _dataset_yaml_bomb(d):
    (d / "dataset.yaml").write_text((d / "dataset.yaml").read_text() + BOMB)


def _dataset_yaml_deep(d):
    (d / "dataset.yaml").write_text((d / "dataset.yaml").read_text() + "deep: " + "[" * 200 + "]" * 200 + "\n")


def _dataset_yaml_link_out(d):
    outside = d.parent / "elsewhere.yaml"
    outside.write_text((d / "dataset.yaml").read_text())
    (d / "dataset.yaml").unlink()
    (d / "dataset.yaml").symlink_to(outside)


def _labels_link_out(d):
    outside = d.parent / "secret.csv"
    outside.write_text("sound_id,token\ns0,SECRET-VALUE\n")
    (d / "labels.csv").unlink()
    (d / "labels.csv").symlink_to(outside)


def _task_bomb(tmp):
    task_file(tmp, text=yaml.safe_dump(MINIMAL_TASK) + BOMB)
    folder(tmp)
    return with_task(tmp)


def _task_include_out(tmp):
    (tmp / "outside.yaml").write_text("secret_key: 1\n")
    task_file(tmp, include="../outside.yaml")
    folder(tmp)
    return with_task(tmp)


def _suite_bomb(tmp):
    folder(tmp)
    (tmp / "suite.yaml").write_text("name: s\nsets: [set]\n" + BOMB)
    return ["--model", "logmel", "--tasks", "rsa-material", "--data", str(tmp / "suite.yaml"), "--output-dir",
            str(tmp / "out"), "-q"]


def _huge_label(d):
    rows = (d / "labels.csv").read_text().splitlines()
    header = rows[0].split(",")
    col = header.index("material")
    cells = rows[1].split(",")
    cells[col] = "w" * 100_000  # a label of a declared dimension that is not one of its categories (under csv's limit)
    rows[1] = ",".join(cells)
    (d / "labels.csv").write_text("\n".join(rows) + "\n")


def _huge_count(d):
    rows = (d / "judgments.csv").read_text().splitlines()
    cells = rows[1].split(",")
    cells[-1] = "100000000000000000000000"  # 1e23: an int64 overflow before
    rows[1] = ",".join(cells)
    (d / "judgments.csv").write_text("\n".join(rows) + "\n")


def _labels_extra_cell(d):
    with open(d / "labels.csv", "a", encoding="utf-8") as fh:
        fh.write("s0,wood,shape0,extra\n")


def _symlink_outside(d):
    (d / "sounds" / "s0.wav").unlink()
    outside = d.parent / "elsewhere.wav"
    sf.write(outside, np.zeros(1600, np.float32), 16000)
    (d / "sounds" / "s0.wav").symlink_to(outside)


def _symlink_passwd(d):
    (d / "sounds" / "s0.wav").unlink()
    (d / "sounds" / "s0.wav").symlink_to("/etc/passwd")


def _symlink_broken(d):
    (d / "sounds" / "s0.wav").unlink()
    (d / "sounds" / "s0.wav").symlink_to(d / "sounds" / "gone.wav")


def _id_with_space(d):
    (d / "sounds" / "s0.wav").rename(d / "sounds" / " s0.wav")
    text = (d / "labels.csv").read_text().replace("s0,", " s0,")
    (d / "labels.csv").write_text(text)


def _rdm(d, cell="0.5", sym=True):
    ids = [f"s{i}" for i in range(6)]
    rows = [[sid, *("0" if i == j else (cell if (i < j or sym) else "0.9") for j in range(6))] for i, sid in enumerate(ids)]
    write_csv(d / "rdm.csv", ["sound_id", *ids], rows)


def _short_sound(d):
    sf.write(d / "sounds" / "s1.wav", np.zeros(10, np.float32), 16000, subtype="FLOAT")


def _not_audio(d):
    (d / "sounds" / "s1.wav").write_bytes(b"this is not audio")


def _count(d, value):
    text = (d / "judgments.csv").read_text().splitlines()
    parts = text[1].split(",")
    text[1] = ",".join([*parts[:3], value])
    (d / "judgments.csv").write_text("\n".join(text) + "\n")


def _duplicate_response(d):
    with open(d / "responses.csv", "a", encoding="utf-8") as fh:
        fh.write("L0,s0,material,wood\n")


def _beats_checkpoint(tmp: Path, **cfg_changes) -> Path:
    from audioprobe.models.beats import BEATs

    path = Path(BEATs.make_tiny(tmp / "beats")["checkpoint"])
    ckpt = torch.load(path, weights_only=True)
    ckpt["cfg"].update(cfg_changes)
    torch.save(ckpt, path)
    return path


def _beats_bad_cfg(tmp):
    folder(tmp)
    path = _beats_checkpoint(tmp, encoder_layers="2", deep_norm="yes")
    return on_folder(tmp, "--model", "beats", "--model-args", f"checkpoint={path}")[2:] + ["--model", "beats"]


def _hf_bin_refused(tmp):
    from safetensors.torch import load_file

    from audioprobe.models.hf import write_tiny

    folder(tmp)
    d = tmp / "hf-model"
    write_tiny(d, "wav2vec2")
    state = load_file(d / "model.safetensors")
    state["extra"] = argparse.Namespace(note="not a tensor")  # what weights_only refuses
    (d / "model.safetensors").unlink()
    torch.save(state, d / "pytorch_model.bin")
    return ["--model", "hf:lab/model", "--model-args", f"checkpoint={d}", "--tasks", "rsa-material", "--data",
            str(tmp / "set"), "--output-dir", str(tmp / "out"), "-q"]


def _readonly_output(tmp):
    folder(tmp)
    out = tmp / "ro"
    out.mkdir()
    out.chmod(0o500)
    return on_folder(tmp)[:-3] + ["--output-dir", str(out), "-q"]


def _output_is_file(tmp):
    folder(tmp)
    (tmp / "afile").write_text("x")
    return on_folder(tmp)[:-3] + ["--output-dir", str(tmp / "afile"), "-q"]


def _output_under_file(tmp):
    folder(tmp)
    (tmp / "afile").write_text("x")
    return on_folder(tmp)[:-3] + ["--output-dir", str(tmp / "afile" / "results"), "-q"]


def _export_non_empty(tmp):
    (tmp / "dest").mkdir()
    (tmp / "dest" / "rdm.csv").write_text("stale")
    folder(tmp)
    return ["export-dataset", str(tmp / "set"), str(tmp / "dest")]


def _leaderboard_empty(tmp):
    (tmp / "results").mkdir()
    return [str(tmp / "results")]


def _leaderboard_only_bad(tmp):
    (tmp / "results" / "x").mkdir(parents=True)
    (tmp / "results" / "x" / "config.json").write_text('{"lr": 0.1}')
    (tmp / "results" / "x" / "broken.json").write_text('{"schema_version": 2, "mod')
    return [str(tmp / "results")]


CASES = [
    # --- stimulus folders (audioprobe-eval --data DIR)
    Case("labels.csv in UTF-16", _folder_then(lambda d: utf16(d / "labels.csv")), "labels.csv: not UTF-8 text (it looks like UTF-16)"),
    Case("judgments.csv in UTF-16", _folder_then(lambda d: utf16(d / "judgments.csv")), "judgments.csv: not UTF-8"),
    Case("responses.csv in UTF-16", _folder_then(lambda d: utf16(d / "responses.csv")), "responses.csv: not UTF-8"),
    Case("dataset.yaml in UTF-16", _folder_then(lambda d: utf16(d / "dataset.yaml")), "dataset.yaml: not UTF-8"),
    Case("rdm.csv in UTF-16", _folder_then(lambda d: (_rdm(d), utf16(d / "rdm.csv"))), "rdm.csv: not UTF-8"),
    Case("dataset.yaml not YAML", _folder_then(lambda d: (d / "dataset.yaml").write_text("a: [b\n")), "dataset.yaml: not valid YAML"),
    Case("dataset.yaml unknown key", _folder_then(lambda d: (d / "dataset.yaml").write_text("nmae: x\n")), "dataset.yaml: unknown key(s) nmae"),
    Case("no sounds/ folder", _folder_then(lambda d: shutil.rmtree(d / "sounds")), "no 'sounds/' folder"),
    Case("labels.csv names a missing sound", _folder_then(lambda d: (d / "sounds" / "s2.wav").unlink()), "sound_id 's2' has no audio file"),
    Case("labels.csv row with an extra cell", _folder_then(_labels_extra_cell), "labels.csv, line 8: more cells"),
    Case("sound linked outside the set", _folder_then(_symlink_outside), "s0.wav: a link to"),
    Case("sound linked to /etc/passwd", _folder_then(_symlink_passwd), "outside the stimulus set's folder"),
    Case("broken link in sounds/", _folder_then(_symlink_broken), "which does not exist"),
    Case("sound id with white space", _folder_then(_id_with_space), "sound id ' s0' starts or ends with white space"),
    Case("rdm.csv with a word", _folder_then(lambda d: _rdm(d, cell="far")), "rdm.csv, line 2, column 3: 'far' is not a number"),
    Case("rdm.csv not symmetric", _folder_then(lambda d: _rdm(d, sym=False)), "rdm.csv: the dissimilarity matrix is not symmetric"),
    Case("sound shorter than 25 ms", _folder_then(_short_sound), "sound 's1' lasts"),
    Case("sound that is not audio", _folder_then(_not_audio), "sound 's1' cannot be read as audio"),
    Case("negative count", _folder_then(lambda d: _count(d, "-1")), "judgments.csv, line 2: count '-1'"),
    Case("responses.csv duplicate answer", _folder_then(_duplicate_response), "listener 'L0' judged this sound on 'material' twice"),
    Case("sample_rate declared wrongly", _folder_then(lambda d: (d / "dataset.yaml").write_text(
        yaml.safe_dump({"name": "t", "sample_rate": 44100, "dimensions": {"material": ["wood", "metal"], "size": ["small", "large"]}}))),
        "is at 16000 Hz but dataset.yaml declares sample_rate 44100"),
    Case("unknown dataset name", lambda t: ["--model", "logmel", "--tasks", "rsa-material", "--data", "impacst", "-q",
                                            "--output-dir", str(t / "out")], "unknown dataset 'impacst'. Did you mean 'impacts'?"),
    Case("malformed hf: spec", lambda t: ["--model", "logmel", "--tasks", "rsa-material", "--data", "hf:no spec!", "-q",
                                          "--output-dir", str(t / "out")], "hf:no spec!: not a Hub dataset id"),
    # --- task files (--include-path)
    Case("task: unknown key", lambda t: (folder(t), task_file(t, bootstrapp=5), with_task(t))[-1], "unknown key(s) 'bootstrapp'"),
    Case("task: missing required key", lambda t: (folder(t), task_file(t, description=None), with_task(t))[-1], "missing required key 'description'"),
    Case("task: wrong type", lambda t: (folder(t), task_file(t, version="one"), with_task(t))[-1], "my-task.yaml"),
    Case("task: unknown type", lambda t: (folder(t), task_file(t, type="rsaa"), with_task(t))[-1], "unknown task type 'rsaa'. Did you mean 'rsa'?"),
    Case("task: not a mapping", lambda t: (folder(t), task_file(t, text="- a\n- b\n"), with_task(t))[-1], "my-task.yaml: a task file must be a mapping"),
    Case("task: not YAML", lambda t: (folder(t), task_file(t, text="task: [\n"), with_task(t))[-1], "my-task.yaml: not valid YAML"),
    Case("task: UTF-16 file", lambda t: (folder(t), utf16(task_file(t)), with_task(t))[-1], "my-task.yaml: not UTF-8"),
    Case("task: include of a missing file", lambda t: (folder(t), task_file(t, include="_nope.yaml"), with_task(t))[-1], "key 'include' names"),
    Case("task: unknown dimension (own dataset)", lambda t: (task_file(t, dimensions="materail"), with_task(t, data=False))[-1],
         "key 'dimensions' names dimension 'materail', which stimulus set 'impacts' (the task's dataset) does not have; did you mean 'material'?"),
    Case("task: control imports a module", lambda t: (folder(t), task_file(t, control="hear:this"), with_task(t))[-1],
         "key 'control' names 'hear:this'"),
    Case("task: control downloads a model", lambda t: (folder(t), task_file(t, control="hf:org/model"), with_task(t))[-1],
         "--allow-control hf:org/model"),
    Case("task: control module:attr", lambda t: (folder(t), task_file(t, control="os:system"), with_task(t))[-1],
         "key 'control' names 'os:system'"),
    Case("task: control a trained model", lambda t: (folder(t), task_file(t, control="beats"), with_task(t))[-1],
         "key 'control' names 'beats'"),
    Case("unknown --tasks name", lambda t: ["--model", "logmel", "--tasks", "rsa-materail", "-q"], "unknown task 'rsa-materail'. Did you mean 'rsa-material'"),
    Case("missing --include-path", lambda t: ["--model", "logmel", "--tasks", "x", "--include-path", str(t / "nope")], "--include-path"),
    # --- models and their arguments
    Case("num_mel_bins=-5", lambda t: (folder(t), on_folder(t, "--model-args", "num_mel_bins=-5"))[-1], "--model-args num_mel_bins=-5 for model 'logmel': must be >= 1"),
    Case("num_mel_bins=0", lambda t: (folder(t), on_folder(t, "--model-args", "num_mel_bins=0"))[-1], "--model-args num_mel_bins=0 for model 'logmel': must be >= 1"),
    Case("num_mel_bins=abc", lambda t: (folder(t), on_folder(t, "--model-args", "num_mel_bins=abc"))[-1], "num_mel_bins='abc' for model 'logmel': expected a int"),
    Case("unknown model argument", lambda t: (folder(t), on_folder(t, "--model-args", "bins=5"))[-1], "does not accept --model-args bins"),
    Case("--model-args without =", lambda t: (folder(t), on_folder(t, "--model-args", "bins"))[-1], "--model-args: 'bins' is not of the form key=value"),
    Case("unknown model", lambda t: (folder(t), on_folder(t)[:1] + ["logmell"] + on_folder(t)[2:])[-1], "unknown model 'logmell'. Did you mean 'logmel'"),
    Case("hf sample_rate=0", lambda t: (folder(t), ["--model", "hf:lab/m", "--model-args", "sample_rate=0,checkpoint=x", "--tasks",
                                                    "rsa-material", "-q", "--output-dir", str(t / "out")])[-1], "--model-args sample_rate=0 for model 'hf': must be >= 1"),
    Case("BEATs cfg with wrong types", _beats_bad_cfg, "encoder_layers='2' (expected int)"),
    Case("BEATs checkpoint not a checkpoint", lambda t: (folder(t), (t / "x.pt").write_text("no"),
                                                         on_folder(t, "--model", "beats", "--model-args", f"checkpoint={t / 'x.pt'}")[2:] + ["--model", "beats"])[-1],
         "x.pt' could not be read as a torch checkpoint with weights_only=True"),
    Case("hf: .bin refused by weights_only", _hf_bin_refused, "Use a safetensors copy"),
    # --- where results go, and runs that compute nothing
    Case("--output-dir is a file", _output_is_file, "afile' is a file"),
    Case("--output-dir under a file", _output_under_file, "a part of"),
    Case("--output-dir read-only", _readonly_output, "cannot write in"),
    Case("--limit 2: every task not applicable", lambda t: ["--model", "logmel", "--tasks", "rsa-material,abx-material", "--limit", "2",
                                                            "-q", "--output-dir", str(t / "out")],
         "nothing was computed: all 2 task(s) were not applicable", EXIT_NOTHING_COMPUTED),
    Case("export-dataset into a non-empty folder", _export_non_empty, "dest: the folder exists and is not empty; choose a new folder, or pass --overwrite"),
    Case("dataset.yaml: unquoted yes/no categories", _folder_then(_yes_no_categories), "quote it"),
    Case("labels.csv: a 100,000-character label", _folder_then(_huge_label), "more characters not shown"),
    Case("judgments.csv: a count of 1e23", _folder_then(_huge_count), "at most 1,000,000,000"),
    Case("--seed -1", lambda t: (folder(t), on_folder(t, "--seed", "-1"))[-1], "'--seed'"),
    Case("task file: bootstrap 1e20", lambda t: (task_file(t, bootstrap=10**20), folder(t), with_task(t))[-1],
         "must be at most 1,000,000"),
    Case("a malformed hf: model id", lambda t: ["--model", "hf:bad id//x", "--tasks", "rsa-material", "--limit", "6",
                                                "--output-dir", str(t / "out"), "-q"], "not a Hub repository id"),
    Case("dataset.yaml: an alias bomb", _folder_then(_dataset_yaml_bomb), "anchors and aliases"),
    Case("dataset.yaml: nested 200 deep", _folder_then(_dataset_yaml_deep), "nested more than 32 levels"),
    Case("dataset.yaml: a link out of the set", _folder_then(_dataset_yaml_link_out), "outside"),
    Case("labels.csv: a link out of the set", _folder_then(_labels_link_out), "outside"),
    Case("task file: an alias bomb", _task_bomb, "anchors and aliases"),
    Case("task file: include out of its folder", _task_include_out, "own folder"),
    Case("suite file: an alias bomb", _suite_bomb, "anchors and aliases"),
    Case("dataset.yaml: synthetic as a string", _folder_then(_synthetic_string), "synthetic must be true or false"),
    # --- reading result files, and checking a set
    Case("leaderboard of an empty folder", _leaderboard_empty, "no readable result files here", prog="leaderboard"),
    Case("leaderboard of bad files only", _leaderboard_only_bad, "broken.json", prog="leaderboard"),
    Case("stimuli check of a UTF-16 folder", lambda t: (utf16(folder(t) / "labels.csv"), [str(t / "set")])[-1], "labels.csv: not UTF-8", prog="stimuli"),
]

RUN = {"eval": eval_main, "leaderboard": leaderboard_main, "stimuli": stimuli_main}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case, tmp_path, capsys):
    if case.name == "--output-dir read-only" and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the same check is tested by test_unwritable_output_checked_first")
    argv = case.setup(tmp_path)
    code = RUN[case.prog](argv)
    out, err = capsys.readouterr()
    assert code == case.code, (out, err)
    assert "Traceback" not in out + err
    assert case.needle in err, err
    assert sum(line.startswith("Error") for line in err.splitlines()) == 1  # one message
    assert len(err) < 5000 and "SECRET-VALUE" not in err and "secret_key" not in err  # bounded, nothing echoed


def test_enough_cases():
    assert len(CASES) >= 40 and len({c.name for c in CASES}) == len(CASES)


def case_table() -> str:
    """The markdown table of the cases and their messages (for the issue's closing note)."""
    rows = ["| case | exit | message |", "| --- | --- | --- |"]
    import tempfile

    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            buf = io.StringIO()
            from contextlib import redirect_stderr, redirect_stdout

            with redirect_stderr(buf), redirect_stdout(io.StringIO()):
                code = RUN[case.prog](case.setup(Path(tmp)))
            msg = " ".join(line for line in buf.getvalue().splitlines() if line.startswith(("Error", "warning")))
            rows.append(f"| {case.name} | {code} | {msg.replace(tmp, '…').replace('|', '/')} |")
    return "\n".join(rows)


# --------------------------------------------------------------- security: ids, links, controls

@pytest.mark.parametrize("sid", ["../../x", "/abs/x", "a/b", "a\\b", "..", ".hidden", "", "tab\there", "x" * 300])
def test_unsafe_sound_ids_refused_by_every_source(sid):
    from audioprobe.errors import AudioprobeError
    from audioprobe.stimuli.stimulus_set import StimulusSet

    s = StimulusSet(name="t", sound_ids=["ok", sid], dimensions={}, labels={}, judgments={},
                    load_audio=lambda i: (np.zeros(800, np.float32), 16000), rdm=np.array([[0, 1.0], [1.0, 0]]))
    with pytest.raises(AudioprobeError, match="sound id"):
        s.validate("src")


@pytest.fixture
def hub_datasets(hub_cache, tmp_path, monkeypatch):
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache")
    return hub_cache


@pytest.mark.parametrize("sid", ["../../escaped", "/tmp/abs-escaped", "sub/dir"])
def test_hub_traversal_ids_refused_and_nothing_written_outside(hub_datasets, tmp_path, capsys, sid):
    from tests.test_hub_datasets import make_rows, publish

    rows, feats, _ = make_rows(np.random.default_rng(0), with_responses=False)
    rows["sound_id"][1] = sid
    publish(hub_datasets, rows, feats, repo="lab/crafted")
    dest = tmp_path / "a" / "b" / "dest"
    before = set(Path("/tmp").glob("abs-escaped*"))
    code = eval_main(["export-dataset", "hf:lab/crafted", str(dest)])
    err = capsys.readouterr().err
    assert code == 2 and f"sound id {sid!r}" in err and "Traceback" not in err
    assert not dest.exists() and not (tmp_path / "a" / "escaped.wav").exists() and not (tmp_path / "escaped.wav").exists()
    assert set(Path("/tmp").glob("abs-escaped*")) == before


def test_hub_audio_path_outside_the_repository_is_refused(hub_datasets, tmp_path):
    from audioprobe.errors import AudioprobeError
    from audioprobe.stimuli import resolve_dataset
    from tests.test_hub_datasets import make_rows, publish

    secret = tmp_path / "secret.wav"
    sf.write(secret, np.zeros(1600, np.float32), 16000)
    rows, feats, _ = make_rows(np.random.default_rng(0), with_responses=False)
    rows["audio"][0] = {"bytes": None, "path": str(secret)}
    publish(hub_datasets, rows, feats, repo="lab/pathy")
    with pytest.raises(AudioprobeError, match="outside the dataset's repository"):
        resolve_dataset("hf:lab/pathy")


def test_export_refuses_unsafe_ids_of_an_in_memory_set(tmp_path):
    from audioprobe.errors import AudioprobeError
    from audioprobe.stimuli import export_folder
    from audioprobe.stimuli.stimulus_set import StimulusSet

    s = StimulusSet(name="t", sound_ids=["ok", "../../x"], dimensions={}, labels={}, judgments={},
                    load_audio=lambda i: (np.zeros(800, np.float32), 16000), rdm=np.array([[0, 1.0], [1.0, 0]]))
    with pytest.raises(AudioprobeError, match=r"sound id '\.\./\.\./x'"):
        export_folder(s, tmp_path / "d" / "e")
    assert not (tmp_path / "d" / "e").exists() and not (tmp_path / "x.wav").exists()


def test_links_inside_the_set_are_allowed(tmp_path):
    from audioprobe.stimuli import load_folder

    d = folder(tmp_path)
    (d / "audio").mkdir()
    (d / "sounds" / "s0.wav").rename(d / "audio" / "s0.wav")
    (d / "sounds" / "s0.wav").symlink_to(d / "audio" / "s0.wav")
    assert "s0" in load_folder(d).sound_ids


def test_allow_control_on_the_command_line(tmp_path, capsys):
    """A control beyond the weight-free baselines runs when the user names it (here mfcc is allowed
    anyway; `random-beats` needs the option)."""
    from audioprobe.taskconfig import load_task

    path = task_file(tmp_path, control="random-beats")
    with pytest.raises(Exception, match="--allow-control random-beats"):
        load_task(path)
    assert load_task(path, {"random-beats"}).params["control"] == "random-beats"
    assert load_task(task_file(tmp_path, control="mfcc")).params["control"] == "mfcc"
    assert eval_main(["--include-path", str(tmp_path / "tasks"), "--allow-control", "random-beats", "list", "tasks"]) == 0
    assert "my-task" in capsys.readouterr().out


def test_builtin_task_controls_are_weight_free():
    from audioprobe.models.registry import weight_free_baselines
    from audioprobe.taskconfig import discover_tasks

    assert weight_free_baselines() == ["logmel", "mfcc", "spectrogram"]
    assert {t.params["control"] for t in discover_tasks().values() if "control" in t.params} <= {"none", "logmel"}


# ------------------------------------------------------------------- output folder, export, runs

def test_unwritable_output_checked_first(tmp_path, capsys, monkeypatch):
    """The check runs before any model is created or any sound loaded (simulated: root ignores modes)."""
    import tempfile

    import audioprobe.runner

    folder(tmp_path)
    real = tempfile.mkstemp

    def refuse(*a, dir=None, **k):
        if dir is not None and Path(dir) == tmp_path / "out":
            raise PermissionError(13, "Permission denied")
        return real(*a, dir=dir, **k)

    created = []
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    monkeypatch.setattr(audioprobe.runner, "create_model", lambda *a, **k: created.append(a))
    assert eval_main(on_folder(tmp_path)) == 2
    err = capsys.readouterr().err
    assert f"--output-dir {tmp_path / 'out'}: cannot write in" in err and "Permission denied" in err
    assert created == []


def test_a_result_that_cannot_be_written_is_kept_elsewhere(tmp_path, capsys, monkeypatch):
    import audioprobe.runner as runner
    from audioprobe.files import rescue_dir

    folder(tmp_path)
    real = runner.write_result

    def flaky(path, result, sidecar=None):
        if str(tmp_path / "out") in str(path):
            raise OSError(28, "No space left on device")
        return real(path, result, sidecar)

    monkeypatch.setattr(runner, "write_result", flaky)
    assert eval_main(on_folder(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    saved = list(rescue_dir().rglob("rsa-material.json"))
    assert len(saved) == 1 and str(saved[0]) in err
    assert json.loads(saved[0].read_text())["task"]["name"] == "rsa-material"


def test_export_overwrite_replaces_the_folder_whole(tmp_path, capsys):
    d = folder(tmp_path)
    _rdm(d)
    dest = tmp_path / "dest"
    assert eval_main(["export-dataset", str(d), str(dest)]) == 0
    assert (dest / "rdm.csv").is_file()
    (d / "rdm.csv").unlink()  # the new set has no rdm.csv: the old one must not stay behind
    assert eval_main(["export-dataset", str(d), str(dest)]) == 2
    assert eval_main(["export-dataset", str(d), str(dest), "--overwrite"]) == 0
    assert not (dest / "rdm.csv").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left
    assert stimuli_main([str(dest)]) == 0
    assert eval_main(["export-dataset", str(d), str(tmp_path / "empty-ok")]) == 0


def test_progress_over_tasks(tmp_path, capsys):
    folder(tmp_path)
    args = ["--model", "logmel", "--tasks", "rsa-material,rsa-modal-material", "--data", str(tmp_path / "set"),
            "--output-dir", str(tmp_path / "out")]
    assert eval_main(args) == 0
    err = capsys.readouterr().err
    assert "[1/2] logmel / rsa-material: done in" in err and "elapsed" in err
    assert eval_main(args) == 0  # again: both reused
    assert "[2/2] logmel / 2 task(s): reused" in capsys.readouterr().err
    assert eval_main(args + ["-q", "--overwrite"]) == 0
    assert capsys.readouterr().err == ""


# -------------------------------------------------------------------------- the leaderboard reads on

def test_leaderboard_skips_bad_files_and_names_each(tmp_path, capsys, caplog):
    folder(tmp_path)
    out = tmp_path / "out"
    assert eval_main(["--model", "logmel", "--model", "mfcc", "--tasks", "rsa-material", "--data",
                      str(tmp_path / "set"), "--output-dir", str(out), "-q"]) == 0
    capsys.readouterr()
    good = sorted(out.rglob("rsa-material.json"))
    assert len(good) == 2
    truncated = good[1]
    truncated.write_text(truncated.read_text()[:100])
    headless = json.loads(good[0].read_text())
    del headless["scores"]["headline"]
    (good[0].parent / "copy.json").write_text(json.dumps(headless))
    (out / "config.json").write_text('{"lr": 0.1}')
    import logging

    caplog.set_level(logging.WARNING)
    assert leaderboard_main([str(out)]) == 0
    captured = capsys.readouterr()
    logged = caplog.text
    for bad in (truncated, good[0].parent / "copy.json", out / "config.json"):
        assert str(bad) in logged
    assert "not an audioprobe result file (no schema_version)" in logged
    assert "logmel" in captured.out and "Traceback" not in captured.err


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path, capsys):
    """What a spreadsheet's "CSV UTF-8" writes (a UTF-8 byte-order mark first) reads as plain UTF-8: it used to
    give "missing sound_id (found: \ufeffsound_id...)"."""
    d = folder(tmp_path)
    for name in ("labels.csv", "judgments.csv", "responses.csv"):
        if (d / name).exists():
            (d / name).write_bytes(b"\xef\xbb\xbf" + (d / name).read_bytes())
    assert eval_main(on_folder(tmp_path)) == 0, capsys.readouterr().err


@pytest.mark.parametrize("kind", ["contrast", "task"])
def test_a_task_or_contrast_folder_does_not_lead_out_through_a_link(tmp_path, capsys, kind):
    """A file found in a folder given by --include-path or --contrasts that is a link to a file elsewhere is
    refused (one line naming both, exit 2), as a set's files are: its content is never read; a link inside
    the folder is fine."""
    from audioprobe.leaderboard.cli import compare_main

    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("secret: 1\n")
    folder_ = tmp_path / "mine"
    folder_.mkdir()
    (folder_ / "x.yaml").symlink_to(outside)
    if kind == "contrast":
        results = tmp_path / "r"
        assert eval_main(["--model", "logmel", "--tasks", "rsa-material", "--limit", "12", "--output-dir",
                          str(results)]) == 0
        capsys.readouterr()
        code = compare_main([str(results), "--contrasts", str(folder_)])
    else:
        code = eval_main(["--include-path", str(folder_), "list", "tasks"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "secret" not in err
    assert f"leads to {outside}" in err and "copy the file in" in err
    # a link that stays inside its folder is read
    (folder_ / "x.yaml").unlink()
    (folder_ / "real").mkdir()
    (folder_ / "real" / "t.yaml").write_text("contrast: c\n" if kind == "contrast" else "task: t\n")
    (folder_ / "x.yaml").symlink_to(folder_ / "real" / "t.yaml")
    from audioprobe.files import check_inside

    check_inside(folder_ / "x.yaml", folder_)
