"""audioprobe-compare: claims from result files alone, paired on shared resamples."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from audioprobe.cli import main as eval_main
from audioprobe.leaderboard.cli import compare_main
from audioprobe.leaderboard.cli import main as leaderboard_main
from audioprobe.leaderboard.compare import compare
from audioprobe.leaderboard.contrast_tests import row_test
from audioprobe.leaderboard.contrasts import discover_contrasts, load_contrast
from audioprobe.leaderboard.pairing import Entry, _as_dual, collect_entries, over_pairs, paired_replicates
from audioprobe.metrics import inference, resampling

TASKS = "rsa-material,rsa-modal-material,rsa-physical-material,transfer-material-hollow-to-full,abx-material"
N = 40


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    for model in ("logmel", "mfcc", "spectrogram"):
        assert eval_main(["--model", model, "--tasks", TASKS, "--limit", str(N), "--output-dir", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def report(results_dir):
    return {**compare(results_dir, discover_contrasts()), "_dir": results_dir}


def _task(report, name):
    (s,) = report["sets"]
    (t,) = [t for t in s["tasks"] if t["task"] == name]
    return t


def _load(results_dir, model, task):
    (path,) = results_dir.glob(f"*/{model}/{task}.json")
    result = json.loads(path.read_text())
    with np.load(path.with_name(f"{task}.replicates.npz")) as z:
        arrays = {k: z[k] for k in z.files}
    return result, arrays


def test_pairwise_table_is_the_paired_test_on_the_stored_replicates(results_dir, report):
    t = _task(report, "rsa-material")
    assert t["models"] == ["logmel", "mfcc", "spectrogram"]
    loaded = [_load(results_dir, m, "rsa-material") for m in t["models"]]
    (ra, aa), (rb, ab) = loaded[0], loaded[2]
    dual = "headline_listeners" in aa  # listeners resampled where the set has per-listener responses
    assert dual and t["resampling"]["factors"] == ["sounds", "listeners"]
    # RSA scores are statistics over sound pairs: compare draws the sounds' counts again from the seed (the
    # plan's hash says they are the draws) and removes the pairs' noise from the variance
    plan = ra["replicates"]["resampling"]
    assert plan["pair_statistic"] == ["headline", "per_layer"]  # one layer: its headline is that layer's score
    counts = resampling.sound_draws(plan["seed"], N, plan["n_resamples"])
    assert hashlib.sha256(counts.astype(np.int64).tobytes()).hexdigest() == plan["sounds_plan_sha256"]
    reps = [inference.OverPairs({"both": a["headline"], "sounds": a["headline_sounds"],
                                 "listeners": a["headline_listeners"]}, counts) for a in (aa, ab)]
    expected = inference.paired_difference(ra["scores"]["headline"]["value"], rb["scores"]["headline"]["value"],
                                           *reps, n_sounds=N, n_listeners=t["resampling"]["n_listeners"])
    uncorrected = inference.paired_difference(ra["scores"]["headline"]["value"], rb["scores"]["headline"]["value"],
                                              *(r.replicates for r in reps), n_sounds=N,
                                              n_listeners=t["resampling"]["n_listeners"])
    assert expected["se"] < uncorrected["se"]
    pw = t["pairwise"]
    assert pw["difference"][0][2] == pytest.approx(ra["scores"]["headline"]["value"] - rb["scores"]["headline"]["value"])
    assert pw["p_value"][0][2] == pytest.approx(expected["p_value"], rel=1e-12)
    assert pw["ci"][0][2] == pytest.approx(expected["ci"], rel=1e-12)
    # the best group: exactly the models that no other model beats when all pairs are tested at once
    best, sim = t["best_group"], t["simultaneous"]
    assert best["in_group"][best["best"]] and t["models"][best["best"]] == t["models"][int(np.argmax(t["headline"]))]
    for j, in_group in enumerate(best["in_group"]):
        beaten = any(sim["t"][i][j] is not None and sim["t"][i][j] > sim["critical_value"] for i in range(3) if i != j)
        assert in_group == (not beaten)


def brute_bh(p):
    p = np.asarray(p, dtype=float)
    m = p.size
    return [min(1.0, min(p[j] * m / np.sum(p <= p[j]) for j in range(m) if p[j] >= p[i])) for i in range(m)]


def test_q_values_are_bh_over_the_experiment(report):
    """One family per experiment: every pairwise headline difference of its tasks and every contrast row's
    headline test whose first task belongs to it, corrected together (written out here)."""
    (s,) = report["sets"]
    family = {"rsa-material": "rsa", "rsa-modal-material": "rsa", "rsa-physical-material": "rsa"}
    tests = []  # (where the q is, p)
    for t in s["tasks"]:
        if family.get(t["task"]) == "rsa":
            pw = t["pairwise"]
            tests += [((pw, i, j), pw["p_value"][i][j]) for i in range(3) for j in range(i + 1, 3)]
    for c in s["contrasts"]:
        for r in c["rows"]:
            res = r.get("result") or {}
            test = res if c["kind"] == "depth" else res.get("headline")
            if family.get(r["a"]) == "rsa" and test and test.get("p_value") is not None:
                tests.append(((res, None, None), test["p_value"]))
    assert len(tests) > 9  # 3 tasks x 3 pairs and contrast rows
    for ((where, i, j), _), q in zip(tests, brute_bh([p for _, p in tests])):
        got = where["row_q_value"] if i is None else where["q_value"][i][j]
        assert got == pytest.approx(q)
        assert where["family"] == "rsa" and where["family_size"] == len(tests)


def test_sounds_only_task_pairs_on_one_factor(report):
    t = _task(report, "rsa-physical-material")
    assert t["resampling"]["factors"] == ["sounds"] and t["pairwise"]["design"] == "one-factor"
    abx = _task(report, "abx-material")
    assert abx["lower_is_better"] is True and abx["ranks"]["lower_is_better"] is True


def test_perceived_vs_physical_pairs_a_dual_result_with_a_sounds_only_one(results_dir):
    entries = {(e.model, e.task): e for e in collect_entries(results_dir)}
    a, b = entries[("logmel", "rsa-modal-material")], entries[("logmel", "rsa-physical-material")]
    assert a.resampling["plan_sha256"] != b.resampling["plan_sha256"]
    assert a.resampling["sounds_plan_sha256"] == b.resampling["sounds_plan_sha256"]
    point_b = b.result["scores"]["per_layer"][0]["score"]
    reps_a, reps_b, n = paired_replicates(a, b, "per_layer", "per_layer", None, [point_b])
    # both over sound pairs on the same sound draws: paired with the sounds' counts (one array, drawn once)
    assert isinstance(reps_a, inference.OverPairs) and reps_a.sound_counts is reps_b.sound_counts
    reps_a, reps_b = reps_a.replicates, reps_b.replicates
    assert isinstance(reps_a, dict) and isinstance(reps_b, dict)
    np.testing.assert_array_equal(reps_b["both"], b.replicates("per_layer"))
    assert np.all(reps_b["listeners"] == point_b)  # a physical target does not change with listeners
    assert n == {"n_sounds": N, "n_listeners": a.resampling["n_listeners"]}


def test_as_dual_keeps_shape_and_undefined_layers():
    reps = np.arange(12, dtype=float).reshape(4, 3)
    dual = _as_dual(reps, [1.0, None, 3.0])
    assert dual["listeners"].shape == (4, 3) and np.isnan(dual["listeners"][:, 1]).all()
    assert dual["sounds"] is reps and dual["both"] is reps


def test_results_on_other_resamples_are_left_out_with_the_reason(tmp_path, results_dir):
    root = tmp_path / "mixed"
    shutil.copytree(results_dir, root / "seed0")
    shutil.rmtree(next((root / "seed0").glob("*/mfcc")))
    assert eval_main(["--model", "mfcc", "--tasks", "rsa-physical-material", "--limit", str(N), "--seed", "1",
                      "--output-dir", str(root / "seed1")]) == 0
    t = _task(compare(root, [], tasks="rsa-physical-material"), "rsa-physical-material")
    assert t["models"] == ["logmel", "spectrogram"]
    assert [x["model"] for x in t["left_out"]] == ["mfcc"] and "other resamples" in t["left_out"][0]["reason"]


def test_contrasts_of_the_paper_are_reported(report):
    (s,) = report["sets"]
    by_name = {c["contrast"]: c for c in s["contrasts"]}
    fig1b = by_name["fig1b-perceived-vs-physical"]
    rows = [r for r in fig1b["rows"] if r["a"] == "rsa-modal-material"]
    assert {r["model"] for r in rows} == {"logmel", "mfcc", "spectrogram"} and all("result" in r for r in rows)
    fig2 = by_name["fig2-transfer-vs-baseline"]
    assert all(r["b"] == "no-transfer baseline" for r in fig2["rows"])
    control = by_name["model-vs-control"]
    assert {(r["model"], r["b"]) for r in control["rows"]} == {("mfcc", "logmel"), ("spectrogram", "logmel")}
    # transfer against its baseline trained on as many sounds; the headline: the result's cross-validated
    # baseline_contrast (none where the test subset has a class of one sound: no baseline at all)
    for r in fig2["rows"]:
        entry = next(e for e in collect_entries(report["_dir"]) if e.model == r["model"] and e.task == r["a"])
        block = entry.result["scores"]["baseline_contrast"]
        if block["value"] is None:
            assert r.get("skipped") or r["result"]["headline"] is None
        else:
            assert r["result"]["headline"]["difference"] == pytest.approx(block["value"])


def test_cli_writes_markdown_and_json(results_dir, tmp_path, capsys):
    md, js = tmp_path / "c.md", tmp_path / "c.json"
    assert compare_main([str(results_dir), "-o", str(md), "--json", str(js)]) == 0
    text = md.read_text()
    assert "### rsa-material" in text and "best group" in text and "p (all pairs at once)" in text
    assert "Contrast `fig1b-perceived-vs-physical`" in text and "Synthetic stimuli" in text
    data = json.loads(js.read_text())
    assert data["sets"][0]["tasks"][0]["pairwise"]["m"] == 3
    assert data["sets"][0]["tasks"][0]["pairwise"]["family"] in ("abx", "rsa", "transfer")


def test_leaderboard_marks_the_best_group(results_dir, tmp_path):
    board = tmp_path / "board.md"
    assert leaderboard_main([str(results_dir), "-o", str(board)]) == 0
    text = board.read_text()
    assert "**Bold**" in text
    t = _task(compare(results_dir, []), "rsa-material")
    header = [c.strip() for c in next(line for line in text.splitlines() if line.startswith("| task")).split("|")]
    (line,) = [line for line in text.splitlines() if line.startswith("| rsa-material ")]  # tasks as rows
    row = dict(zip(header, (c.strip() for c in line.split("|"))))
    for model, in_group in zip(t["models"], t["best_group"]["in_group"]):
        cell = row[model]
        bold = cell.startswith("**")
        if all(t["best_group"]["in_group"]):
            assert not bold  # nobody stands out: nothing in bold
        else:
            assert bold == in_group, (model, cell)


@pytest.mark.parametrize("text, needle", [
    ("contrast: c\nversion: 1\ndescription: d\nkind: magic\ntasks: [a]\n", "key 'kind'"),
    ("contrast: c\nversion: 1\ndescription: d\nkind: tasks\npairs: [[a]]\n", "each pair is [task a, task b]"),
    ("contrast: c\nversion: 1\ndescription: d\nkind: depth\ntasks: [a]\npairs: []\n", "unknown key(s) 'pairs'"),
    ("contrast: c\nversion: 1\ndescription: d\nkind: control\ntasks: [a]\n", "needs key 'controls'"),
    ("contrast: c\nversion: 1\ndescription: d\nkind: depth\ntasks: [a]\nmargin: -1\n", "key 'margin'"),
    ("contrast: c\nversion: 1\ndescription: d\nkind: depth\ntasks: [a]\nmargin: big\n", "key 'margin'"),
])
def test_bad_contrast_file_names_file_and_key(tmp_path, text, needle, capsys, results_dir):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    from audioprobe.errors import AudioprobeError

    with pytest.raises(AudioprobeError) as err:
        load_contrast(bad)
    assert str(bad) in str(err.value) and needle in str(err.value)
    assert compare_main([str(results_dir), "--contrasts", str(bad)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_builtin_contrasts_name_real_tasks():
    from audioprobe.taskconfig import discover_tasks

    tasks = discover_tasks()
    for c in discover_contrasts():
        for name in [*c.tasks, *(t for pair in c.pairs for t in pair)]:
            assert name in tasks, (c.path, name)
    assert not any("contrasts" in Path(t.path).parts for t in tasks.values())


def test_entry_reads_dual_replicates(results_dir):
    e = Entry(*next((p, json.loads(p.read_text())) for p in results_dir.glob("*/logmel/rsa-material.json")))
    reps = e.replicates("headline")
    assert set(reps) == {"both", "sounds", "listeners"} and e.replicates("nonesuch") is None


def test_a_flat_profile_is_no_trend_and_a_planted_trend_is_one():
    """Depth verdicts against a margin, with independent expectations: 13 layers whose scores span 0.0748 to
    0.0754 (the committed random-beats case), with resamples that move all layers together, are a tiny but
    precise change: the test may reject, but the whole interval lies inside the margin, so the verdict is
    equivalence, never a trend. A planted rise of 0.1 with the same noise is a trend beyond the margin."""
    from audioprobe.leaderboard.contrast_tests import verdict
    from audioprobe.metrics import inference

    rng = np.random.default_rng(0)
    depth = np.linspace(0, 1, 13)
    shared = rng.normal(0, 0.01, size=(1000, 1)) + rng.normal(0, 0.0001, size=(1000, 13))
    flat = 0.0748 + 0.0006 * depth
    res = inference.depth_trend(list(flat), flat + shared, n_sounds=245)
    assert res["change"] == pytest.approx(0.0006, abs=1e-9) and res["p_value"] < 0.05  # "significant"
    assert abs(res["ci"][0]) < 0.02 and abs(res["ci"][1]) < 0.02
    assert verdict(res, "change", 0.02, True) == "no effect as large as the margin 0.02 (equivalence)"
    assert verdict(res, "change", None, True) == "positive effect"  # without a margin, the test alone
    rising = 0.05 + 0.1 * depth
    res = inference.depth_trend(list(rising), rising + shared, n_sounds=245)
    assert res["ci"][0] > 0.02 and verdict(res, "change", 0.02, True) == "positive effect beyond the margin 0.02"
    # significant but with an interval that reaches into the margin: not claimed
    half = {"change": 0.03, "ci": [0.01, 0.05]}
    assert verdict(half, "change", 0.02, True) == "positive but not shown beyond the margin 0.02"
    assert verdict(half, "change", 0.02, False) == "inconclusive"


def test_contrast_rows_carry_their_margin_and_verdict(report):
    for s in report["sets"]:
        for c in s["contrasts"]:
            for r in c["rows"]:
                if "result" in r and row_test(r, c["kind"]) is not None:
                    assert r["margin"] == c["margin"] and r["verdict"], (c["contrast"], r)
    depth = [c for s in report["sets"] for c in s["contrasts"] if c["kind"] == "depth"]
    assert all(c["margin"] == 0.02 for c in depth)


def test_task_and_model_filters_apply_to_the_contrasts(results_dir):
    """mfcc's rows: model-vs-control on rsa-material (against logmel), fig1b on the modal/physical pair. --tasks
    rsa-material keeps the first and drops the second (it reads tasks that were not asked for); --models mfcc
    drops every other model's rows."""
    full = compare(results_dir, discover_contrasts())
    rows_of = lambda rep: [(c["contrast"], r) for s in rep["sets"] for c in s["contrasts"] for r in c["rows"]]  # noqa: E731
    assert any(name == "fig1b-perceived-vs-physical" and r["model"] == "mfcc" for name, r in rows_of(full))
    some = rows_of(compare(results_dir, discover_contrasts(), tasks="rsa-material", models="mfcc"))
    assert some and all(r["model"] == "mfcc" and r["a"] == "rsa-material" for _, r in some), some
    assert {name for name, _ in some} == {"model-vs-control"}
    assert {r["b"] for _, r in some} == {"logmel"}  # a control model: read although --models names only mfcc


def test_pair_noise_correction_only_for_smooth_pair_statistics():
    """A headline chosen among layers keeps the bootstrap's variance (the choice is not a smooth function of the
    pairs); a layer's score, or the headline of one layer, counts the pairs' noise once; a contrast keeps the
    correction only when both sides carry the same draws."""
    counts = resampling.sound_draws(3, 30, 200)
    sha = hashlib.sha256(counts.astype(np.int64).tobytes()).hexdigest()

    def entry(arrays, seed=3):
        plan = {"seed": seed, "n_items": 30, "n_resamples": 200, "sounds_plan_sha256": sha, "plan_sha256": sha,
                "factors": ["sounds"], "unit": "sounds", "pair_statistic": arrays}
        return Entry(Path("x.json"), {"replicates": {"resampling": plan}})

    chosen, only = entry(["per_layer"]), entry(["headline", "per_layer"])
    reps = np.zeros((200, 2))
    layer = over_pairs(reps, "per_layer", chosen)
    assert isinstance(layer, inference.OverPairs) and np.array_equal(layer.sound_counts, counts)
    assert over_pairs(reps, "headline", chosen) is reps
    assert isinstance(over_pairs(reps, "headline", only), inference.OverPairs)
    mixed = over_pairs(reps, "headline", only, chosen)  # a table of both: each score its own, no difference
    assert isinstance(mixed, inference.OverPairs) and mixed.columns.tolist() == [True, False]
    # a plan whose draws do not match (another seed under the same hash): no correction, with a warning
    assert over_pairs(reps, "per_layer", entry(["per_layer"], seed=4)) is reps


def test_models_table_gives_each_headline_the_interval_of_its_result(results_dir, report):
    """A headline has one interval: compare's models table shows each result's own headline interval, the
    t interval for RSA and ABX, Wilson on the effective size for transfer's proportions."""
    for name in ("rsa-material", "abx-material", "transfer-material-hollow-to-full"):
        t = _task(report, name)
        for i, model in enumerate(t["models"]):
            head = _load(results_dir, model, name)[0]["scores"]["headline"]
            assert t["pairwise"]["score"]["ci"][i] == pytest.approx(head["ci"], abs=1e-9), (name, model)
            assert ("n_effective_max" in head) == name.startswith("transfer")


def test_headline_pair_noise_benchmark_assembles_the_variance_compare_uses(results_dir, report):
    """benchmarks/calibration/headline_pair_noise.py: its `own` way on one-layer models is the paired test
    compare makes (pairs' noise from the replicates' own residual, dual design), its `plain` way the same
    test without the correction."""
    import importlib.util

    from audioprobe.leaderboard.pairing import Entry

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "calibration" / "headline_pair_noise.py"
    spec = importlib.util.spec_from_file_location("headline_pair_noise_under_test", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    t = _task(report, "rsa-material")
    (ra, aa), (rb, ab) = (_load(results_dir, m, "rsa-material") for m in (t["models"][0], t["models"][2]))
    a, b = (Entry(next(results_dir.glob(f"*/{m}/rsa-material.json")), r) for m, r in ((t["models"][0], ra),
                                                                                        (t["models"][2], rb)))
    assert bench.paired_p(a, b, "own") == pytest.approx(t["pairwise"]["p_value"][0][2], rel=1e-9)
    plain = inference.paired_difference(
        ra["scores"]["headline"]["value"], rb["scores"]["headline"]["value"],
        *({"both": x["headline"], "sounds": x["headline_sounds"], "listeners": x["headline_listeners"]}
          for x in (aa, ab)), n_sounds=N, n_listeners=t["resampling"]["n_listeners"])
    assert bench.paired_p(a, b, "plain") == pytest.approx(plain["p_value"], rel=1e-9)
    assert bench.paired_p(a, b, "layer") == pytest.approx(bench.paired_p(a, b, "own"), rel=1e-9)  # one layer each
