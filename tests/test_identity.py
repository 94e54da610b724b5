"""The run identity: every ingredient that can change a number forces a recomputation, an unchanged
rerun is reused, results of different stimulus sets never collide, local checkpoints are recorded
by their content."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from audioprobe import identity
from audioprobe.cli import main as eval_main
from audioprobe.identity import ChecksumIndex, ModelKey, RunKey, activation_key, content_sha256
from audioprobe.models import registry
from audioprobe.results import read_result
from tests.toymodels import FrameProjection, register_toy

N = 12
# A quick RSA task (few resamples) so that each run costs well under a second after the set is built.
QUICK = ("task: quick-rsa\nversion: 1\ndescription: d\ndataset: impacts\ntype: rsa\ndimensions: material\n"
         "bootstrap: 20\npermutations: 9\ncv_splits: 4\nceiling_splits: 0\n")
PARTIAL = ("task: quick-partial\nversion: 1\ndescription: d\ndataset: impacts\ntype: rsa\ndimensions: material\n"
           "control: logmel\nbootstrap: 20\npermutations: 9\ncv_splits: 4\nceiling_splits: 0\n")


class CheckpointToy(FrameProjection):
    """FrameProjection whose output is scaled by a number read from a local checkpoint file."""

    arg_types = {**FrameProjection.arg_types, "checkpoint": str}

    def load(self) -> None:
        super().load()
        if "checkpoint" in self.args:
            scale = float(np.load(self.args["checkpoint"]))
            self.weights = [w * scale for w in self.weights]


@pytest.fixture
def toy(monkeypatch):
    register_toy(monkeypatch, "toy-ckpt", CheckpointToy, {})
    return "toy-ckpt"


@pytest.fixture
def tasks_dir(tmp_path):
    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "quick-rsa.yaml").write_text(QUICK)
    (folder / "quick-partial.yaml").write_text(PARTIAL)
    return folder


def run(capsys, *argv: str) -> str:
    code = eval_main(list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def status(out: str, task: str) -> str:
    rows = [line for line in out.splitlines() if line.split()[1:2] == [task]]
    assert len(rows) == 1, out
    return rows[0].split()[-1] if not rows[0].rstrip().endswith("acts") else "cached acts"


def result_files(out_dir: Path) -> list[Path]:
    return sorted(p for p in out_dir.rglob("*.json") if p.name != "dataset.json")  # not the set summaries


def test_the_issue_reproduction_recomputes(tmp_path, capsys):
    """--seed 0 then --seed 5 --precision bf16: recomputed, and the file says seed 5, bf16."""
    out = tmp_path / "r"
    base = ["--model", "logmel", "--tasks", "rsa-material", "--limit", "12", "--output-dir", str(out)]
    run(capsys, *base, "--seed", "0")
    text = run(capsys, *base, "--seed", "5", "--precision", "bf16")
    assert "reused" not in text
    (path,) = result_files(out)
    r = read_result(path)
    assert r["seed"] == 5 and r["precision"] == "bf16"
    assert r["run_key"]["seed"] == 5 and r["run_key"]["model"]["precision"] == "bf16"
    assert "reused" in run(capsys, *base, "--seed", "5", "--precision", "bf16")


def _write_scale(path: Path, value: float) -> None:
    with open(path, "wb") as fh:
        np.save(fh, np.float64(value))


# Each case changes one ingredient of the run key between two otherwise identical runs.
def _args(ctx):
    ctx["argv"] += ["--model-args", f"checkpoint={ctx['ckpt']},seed=3"]


def _checkpoint_content(ctx):
    _write_scale(ctx["ckpt"], 2.0)  # same path, same size, new content


def _wrapper_version(ctx):
    ctx["monkeypatch"].setattr(CheckpointToy, "wrapper_version", "2")


def _revision(ctx):
    import dataclasses

    ctx["monkeypatch"].setattr(CheckpointToy, "meta", dataclasses.replace(CheckpointToy.meta, revision="abc123"))


def _precision(ctx):
    ctx["argv"] += ["--precision", "bf16"]


def _frontend(ctx):
    from audioprobe import frontend

    original = frontend.FrontEnd.settings
    ctx["monkeypatch"].setattr(frontend.FrontEnd, "settings", lambda self: {**original(self), "quality": "VHQ"})


def _seed(ctx):
    ctx["argv"] += ["--seed", "1"]


def _task_config(ctx):
    (ctx["tasks"] / "quick-rsa.yaml").write_text(QUICK.replace("bootstrap: 20", "bootstrap: 21"))


def _task_version(ctx):
    (ctx["tasks"] / "quick-rsa.yaml").write_text(QUICK.replace("version: 1", "version: 2"))


def _pooling(ctx):
    (ctx["tasks"] / "quick-rsa.yaml").write_text(QUICK + "pooling: max\n")


def _control_model(ctx):
    from audioprobe.models.logmel import LogMel

    ctx["monkeypatch"].setattr(LogMel, "wrapper_version", "changed")


def _stimuli(ctx):
    ctx["argv"][ctx["argv"].index("--limit") + 1] = str(N - 1)


def _schema_version(ctx):
    ctx["monkeypatch"].setattr("audioprobe.runner.SCHEMA_VERSION", identity.SCHEMA_VERSION + 1)


INGREDIENTS = {
    "model args": (_args, ["quick-rsa", "quick-partial"]),
    "checkpoint content": (_checkpoint_content, ["quick-rsa", "quick-partial"]),
    "wrapper version": (_wrapper_version, ["quick-rsa", "quick-partial"]),
    "revision": (_revision, ["quick-rsa", "quick-partial"]),
    "precision": (_precision, ["quick-rsa", "quick-partial"]),
    "front end": (_frontend, ["quick-rsa", "quick-partial"]),
    "seed": (_seed, ["quick-rsa", "quick-partial"]),
    "task config": (_task_config, ["quick-rsa"]),
    "task version": (_task_version, ["quick-rsa"]),
    "pooling": (_pooling, ["quick-rsa"]),
    "control model": (_control_model, ["quick-partial"]),
    "stimulus set": (_stimuli, ["quick-rsa", "quick-partial"]),
    "schema version": (_schema_version, ["quick-rsa", "quick-partial"]),
}


@pytest.mark.parametrize("ingredient", list(INGREDIENTS))
def test_changing_one_ingredient_recomputes_only_what_it_affects(ingredient, tmp_path, toy, tasks_dir, capsys,
                                                                  monkeypatch):
    change, affected = INGREDIENTS[ingredient]
    ckpt = tmp_path / "scale.npy"
    _write_scale(ckpt, 1.0)
    out = tmp_path / "r"
    argv = ["--model", toy, "--tasks", "quick-rsa,quick-partial", "--limit", str(N), "--output-dir", str(out),
            "--include-path", str(tasks_dir), "--model-args", f"checkpoint={ckpt}"]
    run(capsys, *argv)
    again = run(capsys, *argv)
    assert status(again, "quick-rsa") == "reused" and status(again, "quick-partial") == "reused"

    ctx = {"argv": list(argv), "ckpt": ckpt, "tasks": tasks_dir, "monkeypatch": monkeypatch}
    if ingredient == "model args":
        ctx["argv"] = argv[:-2]
    change(ctx)
    text = run(capsys, *ctx["argv"])
    for task in ("quick-rsa", "quick-partial"):
        if task in affected:
            assert status(text, task) != "reused", f"{ingredient} changed but {task} was reused"
        else:
            assert status(text, task) == "reused", f"{ingredient} does not affect {task}, yet it was recomputed"
    # and the new result is itself reused by an identical rerun
    final = run(capsys, *ctx["argv"])
    assert all(status(final, t) == "reused" for t in ("quick-rsa", "quick-partial"))


def test_two_stimulus_sets_in_one_output_folder_both_survive(tmp_path, capsys, toy, tasks_dir):
    set_a, set_b = tmp_path / "set-a", tmp_path / "set-b"
    assert eval_main(["export-dataset", "impacts", str(set_a)]) == 0
    shutil.copytree(set_a, set_b)
    text = (set_b / "dataset.yaml").read_text()
    (set_b / "dataset.yaml").write_text(text.replace("name: impacts", "name: impacts-copy"))
    out, acts = tmp_path / "r", tmp_path / "acts"
    common = ["--model", toy, "--tasks", "quick-rsa", "--limit", str(N), "--output-dir", str(out),
              "--include-path", str(tasks_dir), "--save-activations", str(acts)]
    run(capsys, *common, "--data", str(set_a))
    run(capsys, *common, "--data", str(set_b))
    files = result_files(out)
    assert len(files) == 2
    results = [read_result(f) for f in files]
    assert {r["dataset"]["name"] for r in results} == {"impacts", "impacts-copy"}
    for f, r in zip(files, results):
        assert f.parent.parent.name == f"{r['dataset']['name']}-{r['dataset']['fingerprint'][:8]}"
    assert len(sorted(acts.rglob("activations.npz"))) == 2
    # running set A again reuses its result: B did not replace it
    assert status(run(capsys, *common, "--data", str(set_a)), "quick-rsa") == "reused"


def test_checkpoint_sha256_is_recorded(tmp_path, capsys, toy, tasks_dir):
    ckpt = tmp_path / "scale.npy"
    _write_scale(ckpt, 1.5)
    out = tmp_path / "r"
    run(capsys, "--model", toy, "--tasks", "quick-rsa", "--limit", str(N), "--output-dir", str(out),
        "--include-path", str(tasks_dir), "--model-args", f"checkpoint={ckpt}")
    (path,) = result_files(out)
    r = read_result(path)
    expected = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert r["model"]["checkpoint_sha256"] == {"checkpoint": expected}
    assert r["run_key"]["model"]["checkpoint_sha256"] == {"checkpoint": expected}


def test_folder_hash_covers_every_file(tmp_path):
    folder = tmp_path / "pretrained"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "sub" / "model.safetensors").write_bytes(b"w1")
    index = ChecksumIndex(tmp_path / "index.json")
    listing = [["config.json", hashlib.sha256(b"{}").hexdigest()],
               ["sub/model.safetensors", hashlib.sha256(b"w1").hexdigest()]]
    first = content_sha256(folder, index)
    assert first == hashlib.sha256(json.dumps(listing).encode()).hexdigest()
    (folder / "sub" / "model.safetensors").write_bytes(b"w2")
    assert content_sha256(folder, index) != first
    (folder / "sub" / "model.safetensors").write_bytes(b"w1")
    (folder / "extra.txt").write_text("x")
    assert content_sha256(folder, index) != first


def test_checksums_are_remembered_by_path_size_and_mtime(tmp_path, monkeypatch):
    calls = []
    original = identity._sha256_file
    monkeypatch.setattr(identity, "_sha256_file", lambda p: calls.append(p) or original(p))
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    index_path = tmp_path / "index.json"
    first = ChecksumIndex(index_path).sha256(f)
    assert ChecksumIndex(index_path).sha256(f) == first and len(calls) == 1  # a new process: read from disk
    f.write_bytes(b"abd")  # same size, new content, new time stamp
    import os

    os.utime(f, ns=(10**18, 10**18))
    assert ChecksumIndex(index_path).sha256(f) == hashlib.sha256(b"abd").hexdigest() and len(calls) == 2


MODEL = ModelKey(name="m", revision="abc", wrapper_version="1", args={"x": 1}, checkpoint_sha256={},
                 precision="fp32", frontend={"target_rate": 16000, "resampler": "soxr", "quality": "HQ",
                                             "mono": "mean", "soxr_version": "1"})


@pytest.mark.parametrize("change", [
    {"name": "other"}, {"revision": "def"}, {"wrapper_version": "2"}, {"args": {"x": 2}},
    {"checkpoint_sha256": {"checkpoint": "0" * 64}}, {"precision": "fp16"},
    {"frontend": {**MODEL.frontend, "target_rate": 22050}}, {"frontend": {**MODEL.frontend, "soxr_version": "2"}},
])
def test_every_model_ingredient_changes_the_activation_key(change):
    import dataclasses

    changed = dataclasses.replace(MODEL, **change)
    assert activation_key(changed, "mean", "f") != activation_key(MODEL, "mean", "f")


def test_activation_key_depends_on_pooling_and_stimuli_only_beyond_the_model():
    assert activation_key(MODEL, "max", "f") != activation_key(MODEL, "mean", "f")
    assert activation_key(MODEL, "mean", "g") != activation_key(MODEL, "mean", "f")
    import dataclasses

    reordered = dataclasses.replace(MODEL, args={"x": 1})
    assert activation_key(reordered, "mean", "f") == activation_key(MODEL, "mean", "f")


def test_run_key_round_trips_through_json():
    key = RunKey(schema_version=2, model=MODEL, pooling=("mean",), task={"name": "t", "version": 1,
                 "config_hash": "h"}, controls={"logmel": MODEL}, seed=0, stimuli={"name": "s", "fingerprint": "f"})
    assert json.loads(json.dumps(key.as_dict())) == key.as_dict()
    assert key.as_dict()["pooling"] == ["mean"] and key.as_dict()["controls"]["logmel"]["name"] == "m"


def test_legacy_result_is_read_by_the_leaderboard_but_never_reused(tmp_path, capsys, toy, tasks_dir):
    """A schema 1 file in the earlier DIR/<model>/<task>.json layout: shown, then recomputed on a run."""
    from audioprobe.leaderboard.build import collect

    out = tmp_path / "r"
    argv = ["--model", toy, "--tasks", "quick-rsa", "--limit", str(N), "--output-dir", str(out),
            "--include-path", str(tasks_dir)]
    run(capsys, *argv)
    (path,) = result_files(out)
    legacy = json.loads(path.read_text())
    legacy["schema_version"] = 1
    for key in ("run_key", "precision", "frontend", "pooling"):
        legacy.pop(key)
    legacy["model"].pop("checkpoint_sha256")
    old_dir = tmp_path / "old"
    (old_dir / toy).mkdir(parents=True)
    (old_dir / toy / "quick-rsa.json").write_text(json.dumps(legacy))
    assert [r["schema_version"] for r in collect(old_dir)] == [1]
    # both layouts in one folder, same set, model and task: the recomputed (schema 2) result is shown
    shutil.copytree(old_dir / toy, out / toy)
    assert [r["schema_version"] for r in collect(out)] == [identity.SCHEMA_VERSION]
    shutil.rmtree(out / toy)
    # the same legacy file where the new layout expects a result: recomputed, not reused
    path.write_text(json.dumps(legacy))
    assert status(run(capsys, *argv), "quick-rsa") != "reused"
    assert read_result(path)["schema_version"] == identity.SCHEMA_VERSION


def test_checkpoint_content_reaches_the_numbers(tmp_path, toy):
    """The fixture model really reads its checkpoint (otherwise the tests above prove little)."""
    ckpt = tmp_path / "scale.npy"
    outs = []
    for value in (1.0, 2.0):
        _write_scale(ckpt, value)
        model = registry.create_model(toy, {"checkpoint": str(ckpt)})
        model.load()
        outs.append(model.forward(torch.ones(1, 800) * 0.1, torch.tensor([800]))["proj1"].values)
    assert not torch.allclose(outs[0], outs[1])
