"""The result schema is code: its documentation is generated from it, its validator catches what a
reader would trip on, and every result the harness writes passes it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from audioprobe.cli import main as eval_main
from audioprobe.identity import SCHEMA_VERSION
from audioprobe.metrics import inference
from audioprobe.results import (
    read_replicates,
    read_result,
    result_path,
    schema_markdown,
    set_folder,
    validate_result,
    write_result,
)
from tests.factories import wilson

ROOT = Path(__file__).resolve().parent.parent


def test_docs_results_md_is_generated_from_the_schema():
    assert (ROOT / "docs" / "results.md").read_text(encoding="utf-8") == schema_markdown(), \
        "docs/results.md is stale: run `python -m audioprobe.results > docs/results.md`"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """One real result per task type (rsa, partial rsa, transfer, abx), on a 40-sound cut."""
    out = tmp_path_factory.mktemp("r")
    code = eval_main(["--model", "logmel", "--tasks", "rsa-material,partial-rsa-material,"
                      "transfer-material-hollow-to-full,abx-material", "--limit", "40", "--output-dir", str(out)])
    assert code == 0
    found = {p.stem: json.loads(p.read_text()) for p in out.glob("*/*/*.json")}
    assert len(found) == 4, sorted(found)
    for p in out.glob("*/*/*.json"):
        found[p.stem]["_path"] = p
    return found


def _clean(result):
    return {k: v for k, v in result.items() if k != "_path"}


def test_real_results_of_every_type_are_valid(results):
    for name, r in results.items():
        assert validate_result(_clean(r)) == [], name
        assert r["schema_version"] == SCHEMA_VERSION == 5 and r["run_key"]["task"]["name"] == name


def _problems_after(result, edit):
    broken = copy.deepcopy(_clean(result))
    edit(broken)
    return validate_result(broken)


@pytest.mark.parametrize("edit, needle", [
    (lambda r: r.pop("run_key"), "missing key 'run_key'"),
    (lambda r: r["scores"].update(surprise=1), "unknown key 'surprise'"),
    (lambda r: r["scores"]["per_layer"][0].update(score="high"), "per_layer[0].score"),
    (lambda r: r["scores"]["per_layer"][0].update(ci=[0.1]), "expected 2 items"),
    (lambda r: r.update(precision="fp64"), "'fp64' is not one of"),
    (lambda r: r["dataset"].update(partial=1), "result.dataset.partial"),
    (lambda r: r["run_key"]["model"].pop("checkpoint_sha256"), "missing key 'checkpoint_sha256'"),
    (lambda r: r["model"].update(checkpoint_sha256={"checkpoint": 3}), "checkpoint_sha256.checkpoint"),
    (lambda r: r["scores"]["headline"].pop("selection"), "missing key 'selection'"),
    (lambda r: r["task"].update(type="nonesuch"), "not registered"),
    (lambda r: r.update(seed=True), "result.seed"),
    (lambda r: r["scores"]["statistics"].update(seed=r["seed"] + 1), "the seed differs between run_key.seed"),
])
def test_validator_names_what_is_wrong(results, edit, needle):
    problems = _problems_after(results["rsa-material"], edit)
    assert any(needle in p for p in problems), problems


def test_type_specific_fields_are_checked(results):
    transfer = results["transfer-material-hollow-to-full"]
    assert any("n_test" in p for p in _problems_after(transfer, lambda r: r["scores"].pop("n_test")))
    assert any("accuracy" in p for p in _problems_after(
        transfer, lambda r: r["scores"]["per_layer"][0].update(accuracy="x")))
    abx = results["abx-material"]
    assert any("lower_is_better" in p for p in _problems_after(abx, lambda r: r["scores"].pop("lower_is_better")))
    partial = results["partial-rsa-material"]
    assert partial["scores"]["control"]["model"] == "logmel"
    assert partial["run_key"]["controls"]["logmel"]["name"] == "logmel"


def test_invalid_result_is_never_written(results, tmp_path):
    broken = copy.deepcopy(_clean(results["rsa-material"]))
    broken["scores"]["surprise"] = 1
    with pytest.raises(ValueError, match="surprise"):
        write_result(tmp_path / "x.json", broken, b"")
    assert not list(tmp_path.iterdir())


def test_reading_a_damaged_file_names_it(results, tmp_path):
    from audioprobe.errors import AudioprobeError

    path = tmp_path / "x.json"
    damaged = copy.deepcopy(_clean(results["rsa-material"]))
    damaged["scores"]["per_layer"] = "gone"
    path.write_text(json.dumps(damaged))
    with pytest.raises(AudioprobeError, match=str(path).replace("\\", "\\\\")):
        read_result(path)


def test_result_path_names_set_model_and_task(tmp_path):
    fp = "0123456789abcdef" * 4
    path = result_path(tmp_path, "my set", fp, "hf:org/model", "rsa-material")
    assert path == tmp_path / "my_set-01234567" / "hf_org__model" / "rsa-material.json"
    assert set_folder("impacts", fp) == "impacts-01234567"


def test_replicates_are_kept_beside_each_result_and_match_its_intervals(results):
    """Per-layer intervals: percentile (one factor) or dual t (two factors) of the stored replicates; the headline's:
    the t interval of inference.contrast_statistics on its stored replicates (one computation everywhere). logmel has
    one layer: its headline is that layer's score and its replicates are the layer's."""
    from audioprobe.metrics.intervals import percentile_interval
    from audioprobe.metrics.resampling import sound_draws

    for name, r in results.items():
        arrays = read_replicates(r["_path"])
        n_layers = len(r["scores"]["per_layer"])
        plan = r["replicates"]["resampling"]
        assert arrays["per_layer"].shape == (1000, n_layers), name
        dual = "per_layer_listeners" in arrays
        # RSA-family scores are statistics over sound pairs: their variances count the pairs' noise once
        # (every layer's score; the headline only when it is the only layer's: `pair_statistic_arrays`)
        def pairs(reps, array):
            return (inference.OverPairs(reps, sound_draws(plan["seed"], plan["n_items"], 1000))
                    if array in (plan.get("pair_statistic") or ()) else reps)

        defined = [e for e in r["scores"]["per_layer"] if e["score"] is not None]
        expected = (["headline", "per_layer"] if len(defined) == 1 else ["per_layer"]) if "rsa" in name else []
        assert (plan.get("pair_statistic") or []) == expected, name
        if dual:  # two-factor: t interval with the dual-bootstrap variance
            stats = inference.contrast_statistics(
                [e["score"] for e in r["scores"]["per_layer"]],
                pairs({"both": arrays["per_layer"], "sounds": arrays["per_layer_sounds"],
                       "listeners": arrays["per_layer_listeners"]}, "per_layer"),
                n_sounds=plan["n_items"], n_listeners=plan["n_listeners"])
            ci = [c if c is not None else [None, None] for c in stats["ci"]]
        elif "transfer" in name:  # proportions: Wilson on the replicates' effective size, n - 1 dof
            n_t = r["scores"]["n_test"]
            ci = [wilson(e["score"], np.var(col, ddof=1) * n_t / (n_t - 1), n_t - 1, n_t)
                  for e, col in zip(r["scores"]["per_layer"], arrays["per_layer"].T)]
        else:
            ci = percentile_interval(arrays["per_layer"], 0.95)
        for entry, (lo, hi) in zip(r["scores"]["per_layer"], ci):
            if entry["ci"] is not None:
                assert entry["ci"] == pytest.approx([lo, hi], abs=1e-9), name
        if r["scores"]["headline"]["value"] is None:  # logmel with its own RDM regressed out: nothing left
            assert name == "partial-rsa-material" and "headline" not in arrays
            continue
        assert arrays["headline"].shape == (1000,), name  # one layer: the layer's own replicates
        np.testing.assert_array_equal(arrays["headline"], arrays["per_layer"][:, 0])
        reps = ({"both": arrays["headline"], "sounds": arrays["headline_sounds"],
                 "listeners": arrays["headline_listeners"]} if dual else arrays["headline"])
        stats = inference.contrast_statistics(r["scores"]["headline"]["value"], pairs(reps, "headline"), n_sounds=plan["n_items"],
                                              n_listeners=plan.get("n_listeners"))
        head = r["scores"]["headline"]
        assert head["value"] == r["scores"]["per_layer"][0]["score"], name
        if "transfer" in name:  # a proportion: Wilson (1927) on n_eff = p (1 - p) / se^2 (tests.factories)
            assert head["n_effective_max"] == r["scores"]["n_test"]  # accuracy: every sound weighs the same
            assert head["ci"] == pytest.approx(wilson(head["value"], stats["se"] ** 2, stats["dof"],
                                                      head["n_effective_max"]), abs=1e-9), name
            assert head["ci_method"].startswith("Wilson interval")
        else:
            assert head["ci"] == pytest.approx(stats["ci"], abs=1e-9), name
    for key in ("baseline", "matched", "matched_baseline", "baseline_contrast"):
        assert key in read_replicates(results["transfer-material-hollow-to-full"]["_path"]), key


def test_results_on_one_set_share_their_resamples(results):
    plans = {name: r["replicates"]["resampling"] for name, r in results.items()}
    sounds = {plans[t]["sounds_plan_sha256"] for t in ("rsa-material", "partial-rsa-material")}
    assert len(sounds) == 1 and plans["rsa-material"]["n_items"] == 40
    # listeners resampled too where the target is built from per-listener responses: one plan for both
    assert plans["rsa-material"]["factors"] == ["sounds", "listeners"]
    assert plans["rsa-material"]["plan_sha256"] == plans["partial-rsa-material"]["plan_sha256"]
    # ABX weighs the sounds of its cells (a Bayesian bootstrap): a plan of its own, shared by every model
    abx = plans["abx-material"]
    assert abx["plan_sha256"] == abx["sounds_plan_sha256"] and abx["plan_sha256"] not in sounds
    assert abx["n_items"] == results["abx-material"]["scores"]["n_sounds_used"]
    assert plans["transfer-material-hollow-to-full"]["unit"] == "test sounds"
    assert plans["transfer-material-hollow-to-full"]["sounds_plan_sha256"] not in sounds


def test_damaged_replicates_are_refused_and_recomputed(tmp_path, capsys):
    from audioprobe.errors import AudioprobeError
    from audioprobe.results import replicates_path

    argv = ["--model", "logmel", "--tasks", "rsa-material", "--limit", "20", "--output-dir", str(tmp_path)]
    assert eval_main(argv) == 0
    (path,) = tmp_path.rglob("rsa-material.json")
    side = replicates_path(path)
    good = side.read_bytes()
    side.write_bytes(good[:-10] + b"0123456789")
    with pytest.raises(AudioprobeError, match="SHA-256"):
        read_replicates(path)
    capsys.readouterr()
    assert eval_main(argv) == 0
    assert "reused" not in capsys.readouterr().out  # a damaged replicates file makes the result stale
    assert read_replicates(path)["per_layer"].shape[0] == 1000


def test_replicates_file_name_is_never_taken_from_the_result(results, tmp_path):
    from audioprobe.errors import AudioprobeError

    forged = copy.deepcopy(_clean(results["rsa-material"]))
    forged["replicates"]["file"] = "../../elsewhere.npz"
    path = tmp_path / "rsa-material.json"
    path.write_text(json.dumps(forged))
    with pytest.raises(AudioprobeError, match="not 'rsa-material.replicates.npz'"):
        read_replicates(path)
