"""Claims across measures, through the real pipeline (eval, then compare and the report), against
references written here: Kendall's W from scipy's Friedman statistic on the result files' headlines, its
interval recomputed from the replicate files, and each verdict read off the per-task tables."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from audioprobe.cli import main as eval_main
from audioprobe.leaderboard.compare import compare
from audioprobe.leaderboard.compare_render import render_markdown

MEASURES = ["cka-material", "encode-material", "rsa-material", "rsa-modal-material"]
TASKS = ",".join(MEASURES + ["rsa-physical-material", "partial-rsa-material"])
MODELS = ("logmel", "mfcc", "spectrogram")


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    for model in MODELS:
        assert eval_main(["--model", model, "--tasks", TASKS, "--limit", "40", "--output-dir", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def report(results_dir):
    return compare(results_dir, [])


def _headline_and_replicates(results_dir, model, task):
    (path,) = results_dir.glob(f"*/{model}/{task}.json")
    result = json.loads(path.read_text())
    with np.load(path.with_name(f"{task}.replicates.npz")) as z:
        reps = z["headline_sounds"] if "headline_sounds" in z.files else z["headline"]
    reps = reps.mean(axis=1) if reps.ndim == 2 else reps
    return result["scores"]["headline"]["value"], reps


def kendalls_w_by_hand(scores):
    """W from its definition: ranks per measure (1 best), rank sums, S, 12 S / (k^2 (n^3 - n)) (no ties here)."""
    k, n = scores.shape
    ranks = np.argsort(np.argsort(-scores, axis=1), axis=1) + 1.0
    sums = ranks.sum(axis=0)
    return 12 * np.sum((sums - sums.mean()) ** 2) / (k * k * (n ** 3 - n))


def test_the_target_gathers_the_measures_of_the_listeners_only(report):
    (s,) = report["sets"]
    (m,) = s["measures"]
    assert m["target"] == "perceived material"
    assert m["measures"] == MEASURES  # not the physical target, not partial RSA
    assert m["models"] == list(MODELS)


def test_kendalls_w_and_its_interval_from_the_result_files(results_dir, report):
    (m,) = report["sets"][0]["measures"]
    head = np.array([[_headline_and_replicates(results_dir, model, t)[0] for model in MODELS] for t in MEASURES])
    w = m["concordance"]["w"]
    chi2 = stats.friedmanchisquare(*head.T).statistic  # one sample per model (treatments), measures as blocks
    assert w == pytest.approx(chi2 / (len(MEASURES) * (len(MODELS) - 1)), abs=1e-12)
    assert w == pytest.approx(kendalls_w_by_hand(head), abs=1e-12)
    reps = np.stack([np.stack([_headline_and_replicates(results_dir, model, t)[1] for model in MODELS], axis=1)
                     for t in MEASURES], axis=1)  # [B, k, n]
    by_row = np.array([kendalls_w_by_hand(r) for r in reps])
    assert m["concordance"]["w_ci"] == pytest.approx(list(np.quantile(by_row, [0.025, 0.975])), abs=1e-12)
    assert m["concordance"]["n_resamples_used"] == reps.shape[0]


def test_each_verdict_is_read_off_the_measures_tables(report):
    (s,) = report["sets"]
    (m,) = s["measures"]
    tables = {t["task"]: t for t in s["tasks"]}
    expected = {}
    for t in MEASURES:
        pw, models = tables[t]["pairwise"], tables[t]["models"]
        for i, a in enumerate(models):
            for j, b in enumerate(models):
                if i != j and pw["q_value"][i][j] is not None and pw["q_value"][i][j] < report["alpha"]:
                    expected.setdefault((a, b) if pw["difference"][i][j] > 0 else (b, a), []).append(t)
    got = {(c["better"], c["worse"]): c for c in m["claims"]}
    assert expected and set(got) == set(expected)
    for pair, tasks in expected.items():
        assert got[pair]["supported_by"] == sorted(set(tasks))
        assert got[pair]["reversed_by"] == sorted(set(expected.get(pair[::-1], [])))
        assert got[pair]["verdict"] == ("holds under every measure" if len(set(tasks)) == len(MEASURES)
                                        else "depends on the measure")


def test_compare_and_the_report_show_them(results_dir, report, tmp_path):
    text = render_markdown(report)
    assert "### Claims across measures: perceived material" in text
    assert "Kendall's W = " in text
    from audioprobe.leaderboard.report import write_report

    write_report(results_dir, tmp_path / "report")
    page = (tmp_path / "report" / "report.md").read_text()
    assert "Across measures of perceived material" in page
    (sidecar,) = (tmp_path / "report" / "figures").glob("*__measures.json")
    data = json.loads(sidecar.read_text())
    (m,) = report["sets"][0]["measures"]
    (panel,) = data["panels"]
    assert panel["w"] == pytest.approx(m["concordance"]["w"])
    for series in panel["series"]:
        i = m["models"].index(series["model"])
        assert series["ranks"] == [m["ranks"][k][i] for k in range(len(MEASURES))]


def test_each_type_names_its_alignment_target():
    from audioprobe.tasktypes import presentation

    def result(type_name, **params):
        return {"task": {"name": "t", "type": type_name, "config": {"type": type_name, "params": params}},
                "scores": {}}

    def target(r):
        return presentation.of(r).alignment_target(r)

    assert target(result("rsa", target="kl", dimensions="material", control="none")) == "perceived material"
    assert target(result("rsa", target="modal", dimensions=["material", "extent"], control="none")) == \
        "perceived material + extent"
    assert target(result("rsa", target="physical", dimensions="material", control="none")) is None
    assert target(result("rsa", target="kl", dimensions="material", control="logmel")) is None  # partial RSA
    assert target(result("rsa", target="rdm", dimensions=[], control="none")) == presentation.HUMAN_DISSIMILARITIES
    assert target(result("cka", target="proportions", dimensions="material")) == "perceived material"
    assert target(result("cka", target="rdm", dimensions=[])) == presentation.HUMAN_DISSIMILARITIES
    assert target(result("encode", dimensions=["material", "extent"])) == "perceived material + extent"
    assert target(result("abx", dimension="material")) is None


def test_the_leaderboard_shows_the_new_types(results_dir, tmp_path):
    from audioprobe.leaderboard.cli import main as leaderboard_main

    out = tmp_path / "LB.md"
    assert leaderboard_main([str(results_dir), "-o", str(out)]) == 0
    text = out.read_text()
    assert "### CKA" in text and "### Encoding" in text
    row = next(line for line in text.splitlines() if line.startswith("| encode-material"))
    assert "% of attainable" in row or "⚠" in row  # the encoding ceiling's share, or the flag of an unreliable one
