"""End to end through the CLI: results, resume, cache, saved activations, errors, leaderboard."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.special import rel_entr
from scipy.stats import pearsonr

from audioprobe.cli import main as eval_main
from audioprobe.leaderboard.cli import main as leaderboard_main
from tests.toymodels import FrameProjection, register_toy

N = 24  # sounds used by these tests (--limit)
FIG1A = ["rsa-material", "rsa-hollowness", "rsa-extent", "rsa-average"]


@pytest.fixture
def toy(monkeypatch):
    register_toy(monkeypatch, "toy-frames", FrameProjection, {})
    return "toy-frames"


def run(argv, capsys=None):
    code = eval_main(argv)
    out = capsys.readouterr() if capsys is not None else None
    return code, out


def results_dir(out_dir: Path, model: str) -> Path:
    """`DIR/<set>-<fp8>/<model>/`: the one stimulus set these tests run on (the --limit subset)."""
    found = sorted(out_dir.glob(f"impacts-*/{model}"))
    assert len(found) <= 1, found
    return found[0] if found else out_dir / "impacts-missing" / model


def load_results(out_dir: Path, model: str) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(results_dir(out_dir, model).glob("*.json"))}


def independent_rsa(features: np.ndarray, counts: np.ndarray, smoothing: float = 0.5) -> float:
    """Paper's RSA with scipy only: pdist cosine vs symmetric KL via rel_entr, Pearson."""
    p = (counts + smoothing) / (counts + smoothing).sum(axis=1, keepdims=True)
    n = len(p)
    kl = [np.sum(rel_entr(p[i], p[j])) + np.sum(rel_entr(p[j], p[i])) for i in range(n) for j in range(i + 1, n)]
    return pearsonr(pdist(features.astype(np.float64), metric="cosine"), kl).statistic


def read_counts(judgments_csv: Path, ids: list[str], dimension: str, categories: list[str]) -> np.ndarray:
    counts = np.zeros((len(ids), len(categories)))
    pos = {s: i for i, s in enumerate(ids)}
    with open(judgments_csv) as fh:
        for row in csv.DictReader(fh):
            if row["dimension"] == dimension and row["sound_id"] in pos:
                counts[pos[row["sound_id"]], categories.index(row["category"])] += int(row["count"])
    return counts


def test_scores_equal_independent_computation(tmp_path, toy, capsys):
    out, acts_dir, export = tmp_path / "results", tmp_path / "acts", tmp_path / "impacts"
    code, _ = run(["--model", toy, "--tasks", ",".join(FIG1A), "--limit", str(N), "--output-dir", str(out),
                   "--save-activations", str(acts_dir)], capsys)
    assert code == 0
    assert eval_main(["export-dataset", "impacts", str(export)]) == 0
    import yaml

    dims = yaml.safe_load((export / "dataset.yaml").read_text())["dimensions"]
    with np.load(results_dir(acts_dir, toy) / "activations.npz", allow_pickle=False) as saved:
        ids = [str(s) for s in saved["sound_ids"]]
        names = [str(n) for n in saved["layer_names"]]
        layers = {n: saved[f"layer_{i:04d}"] for i, n in enumerate(names)}
    assert len(ids) == N and names == ["proj1", "proj2"]
    results = load_results(out, toy)
    for dim in ["material", "hollowness", "extent"]:
        counts = read_counts(export / "judgments.csv", ids, dim, dims[dim])
        per_layer = results[f"rsa-{dim}"]["scores"]["per_layer"]
        for entry in per_layer:
            assert entry["score"] == pytest.approx(independent_rsa(layers[entry["layer"]], counts), abs=1e-9)
    # rsa-average: Pearson against the mean of the three KL RDMs
    kl_mean = np.mean([independent_kl(read_counts(export / "judgments.csv", ids, d, dims[d])) for d in dims], axis=0)
    for entry in results["rsa-average"]["scores"]["per_layer"]:
        expected = pearsonr(pdist(layers[entry["layer"]].astype(np.float64), "cosine"), kl_mean).statistic
        assert entry["score"] == pytest.approx(expected, abs=1e-9)


def independent_kl(counts, smoothing=0.5):
    p = (counts + smoothing) / (counts + smoothing).sum(axis=1, keepdims=True)
    n = len(p)
    return np.array([np.sum(rel_entr(p[i], p[j]) + rel_entr(p[j], p[i])) for i in range(n) for j in range(i + 1, n)])


def test_result_file_schema(tmp_path, toy):
    out = tmp_path / "r"
    assert eval_main(["--model", toy, "--tasks", "rsa-material", "--limit", str(N), "--output-dir", str(out),
                      "--seed", "7"]) == 0
    r = load_results(out, toy)["rsa-material"]
    assert r["schema_version"] == 5
    assert r["task"]["name"] == "rsa-material" and len(r["task"]["config_hash"]) == 64
    assert r["task"]["config"]["params"]["smoothing"] == 0.5
    assert r["model"]["name"] == "toy-frames" and r["model"]["wrapper_version"] == "1"
    assert r["dataset"]["name"] == "impacts" and r["dataset"]["partial"] is True and r["dataset"]["n_sounds"] == N
    assert r["dataset"]["synthetic"] is True and len(r["dataset"]["fingerprint"]) == 64
    assert [e["layer"] for e in r["scores"]["per_layer"]] == ["proj1", "proj2"]
    assert r["scores"]["headline"]["layer"] in ("proj1", "proj2")
    assert r["seed"] == 7 and r["device"] == "cpu"
    assert {"audioprobe", "torch", "numpy", "python"} <= set(r["versions"])
    assert r["frontend"]["target_rate"] == 8000 and r["frontend"]["resampler"] == "soxr"
    assert not list(out.rglob("*.tmp")), "atomic write left a temporary file"


def test_second_run_reuses_results_and_cache(tmp_path, toy, capsys, monkeypatch):
    out = tmp_path / "r"
    argv = ["--model", toy, "--tasks", ",".join(FIG1A), "--limit", str(N), "--output-dir", str(out)]
    assert run(argv, capsys)[0] == 0
    first = load_results(out, toy)

    calls = []
    original = FrameProjection.forward
    monkeypatch.setattr(FrameProjection, "forward", lambda self, w, n: calls.append(1) or original(self, w, n))
    code, captured = run(argv, capsys)
    assert code == 0 and calls == [], "a second identical run must not run the model"
    assert captured.out.count("reused") == len(first)
    assert load_results(out, toy) == first

    # Results deleted but activations cached: scores recomputed from the cache, identical.
    for p in results_dir(out, toy).glob("*.json"):
        p.unlink()
    assert run(argv, capsys)[0] == 0 and calls == []
    again = load_results(out, toy)
    for name, r in again.items():
        assert r["timing"]["activations_cached"] is True
        assert r["scores"]["per_layer"] == first[name]["scores"]["per_layer"]

    # --no-cache runs the model again, with the same scores.
    assert run(argv + ["--overwrite", "--no-cache"], capsys)[0] == 0 and calls
    for name, r in load_results(out, toy).items():
        assert r["scores"]["per_layer"] == first[name]["scores"]["per_layer"]


def test_changed_config_is_not_reused(tmp_path, toy, capsys):
    out = tmp_path / "r"
    base = ["--model", toy, "--tasks", "rsa-material", "--limit", str(N), "--output-dir", str(out)]
    assert run(base, capsys)[0] == 0
    first = load_results(out, toy)["rsa-material"]
    # other model args change the model identity: the old result must not be reused, nor replaced
    code, captured = run(base + ["--model-args", "seed=3"], capsys)
    assert code == 0 and "reused" not in captured.out
    from audioprobe.results import model_folder, model_label

    second = load_results(out, model_folder(model_label(toy, {"seed": 3})))["rsa-material"]
    assert second["model"]["args"] == {"seed": 3}
    assert second["scores"]["per_layer"] != first["scores"]["per_layer"]
    assert load_results(out, toy)["rsa-material"] == first  # the default setting's result is still there


def test_interrupted_run_resumes(tmp_path, toy, capsys, monkeypatch):
    """A run interrupted during its second task keeps the first result; the re-run only does the rest."""
    from audioprobe import tasktypes

    out = tmp_path / "r"
    argv = ["--model", toy, "--tasks", "rsa-material,rsa-extent", "--limit", str(N), "--output-dir", str(out)]
    rsa = tasktypes.TASK_TYPES["rsa"]

    def interrupt_on_extent(acts, stimset, params, ctx):
        if ctx.task == "rsa-extent":
            raise KeyboardInterrupt
        return rsa.evaluate(acts, stimset, params, ctx)

    monkeypatch.setitem(tasktypes.TASK_TYPES, "rsa", dataclasses.replace(rsa, evaluate=interrupt_on_extent))
    code, captured = run(argv, capsys)
    assert code == 130 and "run the same command again to resume" in captured.err
    assert (results_dir(out, toy) / "rsa-material.json").is_file()
    assert not (results_dir(out, toy) / "rsa-extent.json").exists()
    assert not list(out.rglob("*.tmp"))
    monkeypatch.setitem(tasktypes.TASK_TYPES, "rsa", rsa)
    code, captured = run(argv, capsys)
    assert code == 0
    lines = {line.split()[1]: line for line in captured.out.splitlines() if line.startswith(toy)}
    assert "reused" in lines["rsa-material"] and "reused" not in lines["rsa-extent"]


def test_task_not_applicable_to_the_data_is_reported_and_skipped(tmp_path, toy, capsys):
    """A task needing a dimension the set given with --data lacks is listed as not applicable; the
    others still run. (On the set its own file names, an unknown dimension is an error in the task
    file: tests/test_bad_inputs.py.)"""
    out, extra = tmp_path / "r", tmp_path / "extra"
    extra.mkdir()
    (extra / "zz-loudness.yaml").write_text(
        "task: zz-loudness\nversion: 1\ndescription: d\ndataset: elsewhere\ntype: rsa\ndimensions: loudness\n")
    code, captured = run(["--model", toy, "--tasks", "rsa-material,zz-loudness", "--limit", str(N), "--data", "impacts",
                          "--output-dir", str(out), "--include-path", str(extra)], capsys)
    assert code == 0
    assert "not applicable" in captured.out and "'loudness'" in captured.out
    assert (results_dir(out, toy) / "rsa-material.json").is_file()
    assert not (results_dir(out, toy) / "zz-loudness.json").exists()


def test_data_folder_gives_same_scores_as_embedded(tmp_path, toy, capsys):
    export = tmp_path / "set"
    assert eval_main(["export-dataset", "impacts", str(export)]) == 0
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(["--model", toy, "--tasks", "rsa-material", "--limit", str(N), "--output-dir", str(a)], capsys)[0] == 0
    assert run(["--model", toy, "--tasks", "rsa-material", "--limit", str(N), "--output-dir", str(b),
                "--data", str(export)], capsys)[0] == 0
    ra, rb = load_results(a, toy)["rsa-material"], load_results(b, toy)["rsa-material"]
    assert ra["dataset"]["fingerprint"] == rb["dataset"]["fingerprint"]
    assert ra["scores"]["per_layer"] == rb["scores"]["per_layer"]


@pytest.mark.parametrize("argv, needle", [
    (["--model", "logmell", "--tasks", "all"], "Did you mean 'logmel'"),
    (["--model", "logmel", "--tasks", "rsa-materal"], "Did you mean 'rsa-material'"),
    (["--model", "logmel", "--tasks", "rsa-material", "--data", "impact"], "Did you mean 'impacts'"),
    (["--model", "logmel", "--tasks", "rsa-material", "--model-args", "bogus=1"], "does not accept --model-args bogus"),
    (["--model", "logmel", "--tasks", "rsa-material", "--model-args", "num_mel_bins=many"], "expected a int"),
    (["--model", "logmel", "--tasks", "nothing*"], "matches no task"),
    (["--model", "logmel", "--tasks", "rsa-material", "--data", "/no/such/folder"], "not a folder"),
    (["--tasks", "all"], "give --model"),
])
def test_user_errors_exit_2_without_traceback(argv, needle, capsys, tmp_path):
    code = eval_main(argv + ["--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert needle in err and "Traceback" not in err


def test_bad_task_yaml_names_file_and_key(tmp_path, capsys):
    bad = tmp_path / "t.yaml"
    bad.write_text("task: t\nversion: 1\ndescription: d\ndataset: impacts\ntype: rsa\ndimensions: material\nsmothing: 1\n")
    code = eval_main(["--model", "logmel", "--tasks", "t", "--include-path", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and str(bad) in err and "'smothing'" in err and "smoothing" in err.split("allowed:")[1]


def test_list_commands(capsys):
    assert eval_main(["list", "models"]) == 0
    out = capsys.readouterr().out
    assert "logmel" in out and max(map(len, out.splitlines())) <= 100 and "license" not in out
    assert eval_main(["list", "models", "-v"]) == 0
    wide = capsys.readouterr().out
    assert "license" in wide and "MIT/ast-finetuned-audioset" in wide  # the weights, in full
    assert eval_main(["list", "tasks"]) == 0
    out = capsys.readouterr().out
    assert all(t in out for t in FIG1A) and max(map(len, out.splitlines())) <= 100
    assert eval_main(["list", "datasets"]) == 0
    assert "impacts" in capsys.readouterr().out


def test_leaderboard_marks_missing_and_synthetic(tmp_path, toy, capsys):
    out = tmp_path / "r"
    assert run(["--model", toy, "--tasks", "rsa-material,rsa-extent", "--limit", str(N), "--output-dir", str(out)], capsys)[0] == 0
    assert run(["--model", "logmel", "--tasks", "rsa-material", "--limit", str(N), "--output-dir", str(out)], capsys)[0] == 0
    board = tmp_path / "LEADERBOARD.md"
    assert leaderboard_main([str(out), "-o", str(board)]) == 0
    text = board.read_text()
    assert "impacts" in text and "PARTIAL" in text and "Synthetic stimuli" in text
    assert "### RSA" in text  # one table per experiment type
    header = [c.strip() for c in next(line for line in text.splitlines() if line.startswith("| task")).split("|")]
    rows = {line.split("|")[1].strip(): line.split("|") for line in text.splitlines() if line.startswith("| rsa-")}
    assert rows["rsa-extent"][header.index("logmel")].strip() == "—"  # no rsa-extent result: missing, not averaged
    toy_material = load_results(out, toy)["rsa-material"]["scores"]["headline"]
    lo, hi = toy_material["ci"]
    cell = rows["rsa-material"][header.index(toy)].strip().replace("**", "")  # bold: best group
    assert cell.startswith(f"{toy_material['value']:.3f} [{lo:.3f}, {hi:.3f}] ({toy_material['layer']})"), cell
    ratio = load_results(out, toy)["rsa-material"]["scores"]["headline_over_ceiling"]["ratio"]
    if ratio is not None and toy_material["value"] > 0:
        assert cell.endswith(f"= {100 * ratio:.0f}% of attainable"), cell


def test_leaderboard_rejects_foreign_json(tmp_path, capsys):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "x.json").write_text('{"hello": 1}')
    assert leaderboard_main([str(tmp_path)]) == 2
    assert "schema_version" in capsys.readouterr().err


def test_leaderboard_plots_one_figure_per_task(tmp_path, toy, capsys):
    out = tmp_path / "r"
    assert run(["--model", toy, "--tasks", "rsa-material,rsa-extent", "--limit", str(N), "--output-dir", str(out)], capsys)[0] == 0
    assert leaderboard_main([str(out), "--plots", str(tmp_path / "fig")]) == 0
    figures = sorted(p.name for p in (tmp_path / "fig").glob("*.png"))
    assert len(figures) == 2 and figures[0].endswith("__rsa-extent.png")
    assert all((tmp_path / "fig" / f).read_bytes()[:4] == b"\x89PNG" for f in figures)


def test_committed_leaderboard_is_reproducible_from_its_result_files():
    """leaderboard/LEADERBOARD.md is exactly what its committed result files render to, its headings linking
    to the committed example report (leaderboard/report/)."""
    from audioprobe.leaderboard.build import build

    root = Path(__file__).resolve().parent.parent / "leaderboard"
    expected = build(root / "synthetic-baselines", report_url="report/index.html")
    assert (root / "LEADERBOARD.md").read_text(encoding="utf-8") == expected


def test_observers_hear_every_task_in_order_and_the_reuse(tmp_path, toy):
    """Run observers (runner.RunObserver): the hooks a terminal and a sweep job rely on, in order, for a task
    written, a task not applicable on the set and, on a second run, the results reused; an observer that
    defines only some hooks is fine."""
    from audioprobe.runner import Runner, RunObserver, RunOptions
    from audioprobe.taskconfig import discover_tasks, select_tasks

    class Recorder(RunObserver):
        def __init__(self):
            self.calls = []

        def set_used(self, spec, stimset, task):
            self.calls.append(("set_used", spec, task.name if task else None))

        def task_started(self, model, task):
            self.calls.append(("started", model, task.name))

        def task_evaluated(self, model, task, seconds):
            assert seconds >= 0
            self.calls.append(("evaluated", model, task.name))

        def task_not_applicable(self, model, task):
            self.calls.append(("not_applicable", model, task.name))

        def task_ended(self, model, task):
            self.calls.append(("ended", model, task.name))

        def model_done(self, model, results):
            self.calls.append(("done", model, sorted((r["task"]["name"], bool(r.get("_reused"))) for r in results)))

    class OnlyEnds:
        ended = 0

        def task_ended(self, model, task):
            OnlyEnds.ended += 1

    # two tasks written, in order, each told started -> evaluated -> ended
    tasks = select_tasks("rsa-material,rsa-extent", discover_tasks())
    opts = RunOptions(output_dir=tmp_path / "out", limit=N, progress=False)
    first = Recorder()
    Runner(opts, observers=(first, OnlyEnds())).run([(toy, {})], tasks)
    started = [c for c in first.calls if c[0] == "started"]
    assert [c[2] for c in started] == ["rsa-material", "rsa-extent"]
    for name in ("rsa-material", "rsa-extent"):
        i = first.calls.index(("started", toy, name))
        assert first.calls[i + 1:i + 3] == [("evaluated", toy, name), ("ended", toy, name)]
    assert first.calls[0] == ("set_used", "impacts", "rsa-material") and OnlyEnds.ended == 2
    assert first.calls[-1] == ("done", toy, [("rsa-extent", False), ("rsa-material", False)])
    again = Recorder()
    Runner(opts, observers=(again,)).run([(toy, {})], tasks)
    assert [c[0] for c in again.calls] == ["set_used", "set_used", "done"]  # nothing evaluated: both reused
    assert again.calls[-1] == ("done", toy, [("rsa-extent", True), ("rsa-material", True)])

    # a task the set cannot score: not_applicable, then ended, and no evaluated
    import dataclasses

    from audioprobe.errors import NotApplicableError
    from audioprobe.tasktypes import TASK_TYPES

    def never(*args):
        raise NotApplicableError("not on this set")

    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(TASK_TYPES, "rsa", dataclasses.replace(TASK_TYPES["rsa"], evaluate=never))
        na = Recorder()
        Runner(dataclasses.replace(opts, overwrite=True), observers=(na,)).run([(toy, {})], tasks[:1])
    i = na.calls.index(("started", toy, "rsa-material"))
    assert na.calls[i + 1:i + 3] == [("not_applicable", toy, "rsa-material"), ("ended", toy, "rsa-material")]
