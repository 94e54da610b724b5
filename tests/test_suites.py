"""Suites: several similarity studies in one run, per-set results, the suite result, leaderboard and compare.

Three synthetic studies whose dissimilarity is known by construction (tones varying in brightness
and attack) form a suite; logmel (one layer) and a two-layer toy model run on it in one command.
Per-set scores are checked against scipy on the saved activations and the known matrices, and the
suite result (mean, interval over sets, leave-one-set-out) against loops written here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import pearsonr

from audioprobe.cache import load_layers
from audioprobe.cli import main as eval_main
from audioprobe.leaderboard.build import build
from audioprobe.leaderboard.compare import compare
from audioprobe.metrics.over_sets import set_resamples
from audioprobe.results import score_text
from audioprobe.stimuli.folder import export_folder
from audioprobe.stimuli.synthetic.tone_studies import similarity_study
from audioprobe.suites import read_suite_results
from tests.toymodels import FrameProjection, register_toy

SIZES = (11, 15, 20)
TOY = "toy-frames"


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("suite")
    studies = {}
    for k, n in enumerate(SIZES):
        stimset = similarity_study(f"study-{k}", n, seed=10 + k)
        studies[stimset.name] = (export_folder(stimset, root / "studies" / stimset.name), stimset.rdm)
    (root / "studies" / "suite.yaml").write_text(
        "name: three-studies\ndescription: synthetic tones\nsets: [study-0, study-1, study-2]\n")
    out, acts = root / "results", root / "acts"
    with pytest.MonkeyPatch.context() as mp:
        register_toy(mp, TOY, FrameProjection, {})
        mp.setenv("AUDIOPROBE_CACHE", str(root / "cache"))
        assert eval_main(["--model", "logmel", "--model", TOY, "--tasks", "rsa-rdm", "--data",
                          str(root / "studies" / "suite.yaml"), "--output-dir", str(out),
                          "--save-activations", str(acts)]) == 0
    return root, studies, out, acts


def per_set(out: Path, model: str, task: str = "rsa-rdm") -> dict[str, dict]:
    return {json.loads(p.read_text())["dataset"]["name"]: json.loads(p.read_text())
            for p in out.glob(f"*/{model}/{task}.json")}


def suite_result(out: Path, model: str) -> dict:
    (r,) = [r for _, r in read_suite_results(out) if r["model"]["name"] == model]
    return r


def test_every_set_has_its_own_results_scored_against_its_matrix(suite_run):
    """One folder per set (never overwritten); each layer's score is Pearson's r between the layer's cosine
    distances and the study's known dissimilarities (scipy)."""
    _, studies, out, acts = suite_run
    for model in ("logmel", TOY):
        results = per_set(out, model)
        assert sorted(results) == sorted(studies)
        for name, (_, known) in studies.items():
            r = results[name]
            assert "measures" not in r["scores"]  # measures only where a task asks for them
            (acts_file,) = acts.glob(f"{name}-*/{model}/activations.npz")
            layers = load_layers(acts_file)[0]
            iu = np.triu_indices(len(known), 1)
            for entry in r["scores"]["per_layer"]:
                want = pearsonr(pdist(layers[entry["layer"]], "cosine"), known[iu])[0]
                assert entry["score"] == pytest.approx(want, abs=1e-9)


def test_suite_result_is_the_per_set_results_pooled(suite_run):
    _, studies, out, _ = suite_run
    for model in ("logmel", TOY):
        res, sets = suite_result(out, model), per_set(out, model)
        assert [s["set"] for s in res["sets"]] == ["study-0", "study-1", "study-2"]  # the suite's order
        per_layer = np.array([[e["score"] for e in sets[s["set"]]["scores"]["per_layer"]] for s in res["sets"]])
        heads = np.array([sets[s["set"]]["scores"]["headline"]["value"] for s in res["sets"]])
        assert [s["headline"] for s in res["sets"]] == pytest.approx(heads.tolist())
        assert res["mean_of_set_headlines"]["value"] == pytest.approx(heads.mean())
        # leave one set out, by a loop: the layer best on the mean of the other sets, scored on this one
        loso = []
        for k in range(len(per_layer)):
            others = np.delete(per_layer, k, axis=0).mean(axis=0)
            loso.append(per_layer[k, int(np.argmax(others))])
            assert res["sets"][k]["leave_one_set_out_layer"] == res["layers"][int(np.argmax(others))]
        assert [s["leave_one_set_out"] for s in res["sets"]] == pytest.approx(loso)
        assert res["leave_one_set_out"]["value"] == pytest.approx(np.mean(loso))
        if len(res["layers"]) == 1:  # one layer: leave-one-set-out is the full-set score, not a half-set one
            assert loso == pytest.approx(per_layer[:, 0].tolist())
        # the interval: a t interval over the 3 sets (2 dof), as scipy states it; not their min and max
        from scipy import stats as st

        want = st.t.interval(0.95, 2, loc=np.mean(loso), scale=st.sem(loso))
        assert res["leave_one_set_out"]["ci"] == pytest.approx(list(want))
        assert res["leave_one_set_out"]["ci"][0] < min(loso) and res["leave_one_set_out"]["ci"][1] > max(loso)
        assert res["synthetic"] and "caveat" in res


def test_a_suite_run_equals_separate_runs_of_each_set(suite_run, tmp_path, monkeypatch):
    root, studies, out, _ = suite_run
    monkeypatch.setenv("AUDIOPROBE_CACHE", str(root / "cache"))
    folder = studies["study-1"][0]
    assert eval_main(["--model", "logmel", "--tasks", "rsa-rdm", "--data", str(folder),
                      "--output-dir", str(tmp_path / "alone")]) == 0
    (alone,) = (tmp_path / "alone").glob("*/logmel/rsa-rdm.json")
    a, b = json.loads(alone.read_text()), per_set(out, "logmel")["study-1"]
    for r in (a, b):
        for key in ("created", "timing"):
            r.pop(key)
    b["dataset"]["source"] = a["dataset"]["source"] = None  # the folder's path as given
    assert a == b


def test_leaderboard_and_compare_show_the_suite(suite_run):
    _, _, out, _ = suite_run
    text = build(out)
    assert "## Suites" in text and "Suite `three-studies`, task `rsa-rdm` (3 sets)" in text
    report = compare(out, [])
    (c,) = report["suites"]
    assert c["models"] == ["logmel", TOY] and c["sets"] == ["study-0", "study-1", "study-2"]
    a, b = suite_result(out, "logmel"), suite_result(out, TOY)
    va = np.array([s["leave_one_set_out"] for s in a["sets"]])
    vb = np.array([s["leave_one_set_out"] for s in b["sets"]])
    pw = c["pairwise"]
    assert pw["difference"][0][1] == pytest.approx(va.mean() - vb.mean())
    counts = set_resamples(a["statistics"]["seed"], 3, a["statistics"]["n_resamples"])
    diffs = np.array([np.mean(np.repeat(va - vb, w)) for w in counts])  # paired: the same sets for both
    assert pw["ci_percentile"][0][1] == pytest.approx(np.quantile(diffs, [0.025, 0.975]).tolist())
    assert pw["dof"] == [[None, 2], [2, None]]  # sets - 1, per pair


def test_a_task_without_a_set_needs_data(tmp_path, monkeypatch, capsys):
    """Asked for alone: an error naming --data. Among others (--tasks all): left out, and said so."""
    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp_path / "cache"))
    assert eval_main(["--model", "logmel", "--tasks", "rsa-rdm", "--output-dir", str(tmp_path / "r")]) == 2
    assert "rsa-rdm name no stimulus set: give one with --data" in capsys.readouterr().err
    assert eval_main(["--model", "logmel", "--tasks", "rsa-rdm,rsa-physical-hollowness", "--limit", "30",
                      "--output-dir", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "Not run: rsa-rdm (they take their stimulus set from --data)." in out
    assert [p.stem for p in (tmp_path / "r").glob("*/logmel/*.json")] == ["rsa-physical-hollowness"]


@pytest.mark.parametrize("text, message", [
    ("name: ../up\nsets: [a]\n", "key 'name'"),
    ("name: s\nsets: []\n", "key 'sets'"),
    ("name: s\nsets: [impacts, impacts]\n", "lists 'impacts' twice"),
    ("name: s\nsets: [impacts]\nextra: 1\n", "unknown key(s) 'extra'"),
    ("- a\n- b\n", "a suite file is a mapping"),
])
def test_bad_suite_files_are_named(tmp_path, capsys, text, message):
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    assert eval_main(["--model", "logmel", "--tasks", "rsa-rdm", "--data", str(path), "--output-dir",
                      str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err and "Traceback" not in err


def test_a_suite_is_not_mixed_with_other_sets(suite_run, tmp_path, capsys):
    root, _, _, _ = suite_run
    assert eval_main(["--model", "logmel", "--tasks", "rsa-rdm", "--data", str(root / "studies" / "suite.yaml"),
                      "--data", "impacts", "--output-dir", str(tmp_path / "r")]) == 2
    assert "a suite file is given alone" in capsys.readouterr().err


def test_the_report_has_the_suite_and_speaks_of_matrices_not_listeners(suite_run, tmp_path):
    """The report of a suite of similarity studies: a suite section with every set's score, the means over
    sets with their t intervals and the paired differences; the sets' sections use the words of a
    dissimilarity study (no listeners, no paper figure numbers, no 1 x 1 figure A1)."""
    from audioprobe.leaderboard.report import write_report
    from audioprobe.studies import STUDIES

    MATRIX_TITLE = STUDIES["similarity"].sections["rsa"].title  # the similarity studies' section heading

    _, _, out, _ = suite_run
    write_report(out, tmp_path / "report")
    page = (tmp_path / "report" / "report.md").read_text()
    suite = page.split("## Suites")[1]
    assert "### Suite `three-studies`, task `rsa-rdm`" in suite
    r = suite_result(out, "logmel")
    for s in r["sets"]:
        assert s["set"] in suite and score_text(s["headline"]) in suite
    lo, hi = r["leave_one_set_out"]["ci"]
    assert f"[{score_text(lo)}, {score_text(hi)}]" in suite and "t over the 3 sets (2 degrees of freedom)" in suite
    assert "logmel − toy-frames" in suite
    sets_part = page.split("## Suites")[0]
    assert MATRIX_TITLE in sets_part and "figure 1B" not in sets_part and "Figure 1A" not in sets_part
    assert "figure A1" not in sets_part  # one target per set: nothing to correlate
    assert "simulated listeners" not in page


def test_the_timbre_measures_reach_the_report(suite_run, tmp_path, monkeypatch):
    """rdm-measures on the suite: each set's section has the measures at the headline layer, and the suite
    section a table per measure over the sets, both with the result files' numbers."""
    from audioprobe.leaderboard.report import write_report

    root, _, _, _ = suite_run
    out = tmp_path / "results"
    monkeypatch.setenv("AUDIOPROBE_CACHE", str(root / "cache"))
    assert eval_main(["--model", "logmel", "--tasks", "rdm-measures", "--data", str(root / "studies" / "suite.yaml"),
                      "--output-dir", str(out)]) == 0
    write_report(out, tmp_path / "report")
    page = (tmp_path / "report" / "report.md").read_text()
    assert page.count("#### Measures of the timbre literature at the headline layer") == 3  # one per set
    per_set_results = per_set(out, "logmel", "rdm-measures")
    suite = page.split("## Suites")[1]
    for name in ("rowwise_spearman", "triplet_agreement", "ndcg", "normalised_mae"):
        assert f"#### Timbre measure `{name}` at the headline layer" in suite
        for r in per_set_results.values():
            at = r["scores"]["measures"][name]["at_headline_layer"]
            assert score_text(at["value"]) in suite and score_text(at["value"]) in page.split("## Suites")[0]


def test_a_set_listed_twice_under_two_paths_is_refused(suite_run, tmp_path, capsys):
    """The same study under two paths (a folder and a link to it) would count twice in every mean over sets:
    found by fingerprint, one message naming both, exit 2."""
    root, _, _, _ = suite_run
    (root / "studies" / "again").symlink_to(root / "studies" / "study-0", target_is_directory=True)
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"name: twice\nsets: [{root / 'studies' / 'study-0'}, {root / 'studies' / 'again'}]\n")
    code = eval_main(["--model", "logmel", "--tasks", "rsa-rdm", "--data", str(suite), "--output-dir",
                      str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "are the same stimulus set" in err and "study-0" in err and "again" in err
    assert "Traceback" not in err


def test_export_dataset_writes_synthetic_similarity_studies(tmp_path, capsys):
    """The README's suite example starts from `export-dataset similarity-study:SOUNDS:SEED`: a folder with the
    tones and their rdm.csv that loads as a set of that many sounds; a malformed spec is one clear message."""
    from audioprobe.stimuli import resolve_dataset

    assert eval_main(["export-dataset", "similarity-study:12:1", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "rdm.csv").is_file()
    s = resolve_dataset(str(tmp_path / "s"))
    assert len(s) == 12 and s.rdm is not None and s.synthetic
    assert eval_main(["export-dataset", "similarity-study:2", str(tmp_path / "t")]) == 2
    assert "SOUNDS from 3 to 500" in capsys.readouterr().err
