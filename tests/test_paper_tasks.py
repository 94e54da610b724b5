"""The paper's task files: all present, tagged `paper`, valid, and each one evaluates on a small
constructed stimulus set to a result with intervals, p-values, ceiling (where defined) and a
headline with its layer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audioprobe.errors import AudioprobeError
from audioprobe.taskconfig import discover_tasks, load_task, select_tasks
from audioprobe.tasktypes import TASK_TYPES, EvalContext
from tests.factories import make_set

DIMS = ("material", "hollowness", "extent")
EXPECTED = (
    [f"rsa-{d}" for d in DIMS] + ["rsa-average"]                                   # figure 1A
    + [f"rsa-{kind}-{d}" for kind in ("modal", "physical") for d in DIMS]           # figure 1B
    + [f"partial-rsa-{d}" for d in DIMS] + ["partial-rsa-average"]                  # appendix B
    + [f"partial-rsa-{kind}-{d}" for kind in ("modal", "physical") for d in DIMS]
    + [f"transfer-material-{s}" for s in ("1D2D-to-3D", "1D3D-to-2D", "2D3D-to-1D",
                                          "hollow-to-full", "full-to-hollow")]       # figure 2
    + ["abx-material", "abx-material-by-extent", "abx-material-by-hollowness"]
)


def test_every_paper_task_exists_and_is_tagged():
    tasks = discover_tasks()
    paper = {t.name for t in select_tasks("paper", tasks)}
    assert paper == set(EXPECTED)
    for name in EXPECTED:
        t = tasks[name]
        assert t.description and "\n" not in t.description
        if name.startswith("partial-"):
            assert t.params["control"] == "logmel"
        if t.type == "rsa":
            assert t.params["comparison"] == "pearson" and t.params["model_distance"] == "cosine"


def test_bad_task_files_name_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: x\nversion: 1\ndescription: d\ndataset: impacts\ntype: rsa\ndimensions: material\n"
                   "comparison: kendall\n")
    with pytest.raises(AudioprobeError, match=r"bad\.yaml.*'comparison'.*kendall_tau_a"):
        load_task(bad)
    bad.write_text("task: x\nversion: 1\ndescription: d\ndataset: impacts\ntype: transfer\n"
                   "split_dimension: extent\ntrain_values: [1D]\n")
    with pytest.raises(AudioprobeError, match=r"bad\.yaml.*test_values"):
        load_task(bad)


def small_impacts(seed=0, variants=3, listeners=8):
    """Every (material, extent, hollowness) cell of the paper's design, a few sounds each."""
    rng = np.random.default_rng(seed)
    cats = {"material": ["wood", "metal", "glass"], "hollowness": ["full", "hollow"], "extent": ["1D", "2D", "3D"]}
    cells = [(m, e, h) for m in range(3) for e in range(3) for h in range(2)] * variants
    truth = {"material": np.array([c[0] for c in cells]), "extent": np.array([c[1] for c in cells]),
             "hollowness": np.array([c[2] for c in cells])}
    n = len(cells)
    responses = {d: np.where(rng.random((listeners, n)) < 0.8, truth[d][None, :],
                             rng.integers(0, len(cats[d]), size=(listeners, n))) for d in cats}
    s = make_set(cats, truth, responses=responses, name="small")
    feats = np.concatenate([np.eye(3)[truth["material"]], np.eye(3)[truth["extent"]]], axis=1)
    acts = {"a": feats + 0.3 * rng.normal(size=feats.shape), "b": rng.normal(size=(n, 4))}
    control = {"fbank": rng.normal(size=(n, 5))}
    return s, acts, control


def test_every_paper_task_runs_and_reports_its_statistics():
    s, acts, control = small_impacts(variants=6)  # >= 8 sounds per (extent, material) stratum for ABX by extent
    tasks = discover_tasks()
    for name in EXPECTED:
        t = tasks[name]
        params = dict(t.params)
        for key, small in (("bootstrap", 60), ("permutations", 60), ("cv_splits", 8), ("ceiling_splits", 8)):
            if key in params:
                params[key] = small  # the files' statistics, with fewer draws to keep the test fast
        if t.type == "transfer":
            params.update(c_grid=[0.1, 1.0], inner_folds=2, baseline_folds=2)
        pools = TASK_TYPES[t.type].poolings(params)
        ctx = EvalContext(name, 0, lambda m, p: control)
        out = TASK_TYPES[t.type].evaluate({p: acts for p in pools}, s, params, ctx)
        json.dumps(out, allow_nan=False)
        assert out["caveat"]  # a synthetic set is never presented as a finding
        for entry in out["per_layer"]:
            assert entry["score"] is not None, name
            assert entry["ci"] is not None and entry["ci"][0] <= entry["ci"][1], name
            assert entry["p_value"] is not None and 0 < entry["p_value"] <= 1, name
        h = out["headline"]
        assert h["value"] is not None and h["layer"] in acts and h["ci"] is not None and h["selection"], name
        if t.type == "rsa" and params["control"] == "none" and params["target"] in ("kl", "physical"):
            check_rsa_scores(out, acts, s, params, name)
        if t.type == "rsa":
            human = t.params["target"] in ("kl", "js", "modal")
            partial = name.startswith("partial-")
            # partial RSA: no ceiling of its own; the raw target's reliability is kept to flag an unreliable target
            reliability = out["target_reliability"] if partial and human else out["noise_ceiling"]
            assert (reliability["value"] is not None) == human, name
            assert (out["noise_ceiling"]["value"] is None) if partial else True, name
            assert (out["control"] is not None) == partial, name
        if t.type == "transfer":
            assert "baseline_accuracy" in out["per_layer"][0] and 0 < out["chance"]["accuracy"] < 1


def check_rsa_scores(out, acts, s, params, name):
    """Each layer's score: Pearson r (scipy) of the cosine distances and the target written out
    (symmetric KL with the task's smoothing, or 0/1 label differences), averaged over the dimensions."""
    from itertools import combinations

    from scipy.spatial.distance import pdist
    from scipy.special import rel_entr
    from scipy.stats import pearsonr

    dims = params["dimensions"] if isinstance(params["dimensions"], list) else [params["dimensions"]]
    targets = []
    for d in dims:
        if params["target"] == "kl":
            c = s.judgments[d] + params["smoothing"]
            p = c / c.sum(axis=1, keepdims=True)
            targets.append([np.sum(rel_entr(p[i], p[j]) + rel_entr(p[j], p[i])) for i, j in combinations(range(len(s)), 2)])
        else:
            lab = np.asarray(s.labels[d])
            targets.append([float(lab[i] != lab[j]) for i, j in combinations(range(len(s)), 2)])
    target = np.mean(targets, axis=0)
    for entry in out["per_layer"]:
        ref = pearsonr(pdist(acts[entry["layer"]], "cosine"), target)[0]
        assert entry["score"] == pytest.approx(ref, abs=1e-9), name


def test_partial_rsa_through_the_cli_equals_independent_computation(tmp_path, monkeypatch):
    """Appendix B end to end: the runner supplies the logmel control on the same sounds; the score
    equals scipy + numpy least squares on the saved activations."""
    from scipy.spatial.distance import pdist
    from scipy.special import rel_entr

    from audioprobe.cli import main as eval_main
    from audioprobe.stimuli import resolve_dataset
    from tests.toymodels import FrameProjection, register_toy

    register_toy(monkeypatch, "toy-frames", FrameProjection, {})
    n, out, acts = 24, tmp_path / "results", tmp_path / "acts"
    common = ["--limit", str(n), "--output-dir", str(out), "--save-activations", str(acts)]
    assert eval_main(["--model", "toy-frames", "--tasks", "partial-rsa-material", *common]) == 0
    assert eval_main(["--model", "logmel", "--tasks", "rsa-material", *common]) == 0
    (path,) = out.glob("impacts-*/toy-frames/partial-rsa-material.json")  # DIR/<set>-<fp8>/<model>/<task>.json
    result = json.loads(path.read_text())
    scores = result["scores"]
    assert scores["control"]["model"] == "logmel" and scores["control"]["layer"] == "fbank"

    def saved(model):
        (npz,) = acts.glob(f"impacts-*/{model}/activations.npz")
        with np.load(npz, allow_pickle=False) as z:
            return {str(name): z[f"layer_{i:04d}"].astype(np.float64) for i, name in enumerate(z["layer_names"])}

    control = pdist(saved("logmel")["fbank"], "cosine")
    counts = resolve_dataset("impacts").head(n).judgments["material"] + 0.5
    p = counts / counts.sum(axis=1, keepdims=True)
    kl = np.array([np.sum(rel_entr(p[i], p[j]) + rel_entr(p[j], p[i])) for i in range(n) for j in range(i + 1, n)])
    design = np.column_stack([np.ones_like(control), control])
    for entry in scores["per_layer"]:
        model = pdist(saved("toy-frames")[entry["layer"]], "cosine")
        residual = model - design @ np.linalg.lstsq(design, model, rcond=None)[0]
        assert entry["score"] == pytest.approx(np.corrcoef(residual, kl)[0, 1], abs=1e-9)
        assert entry["ci"] is not None and entry["p_value"] is not None
    assert scores["headline"]["layer"] in {e["layer"] for e in scores["per_layer"]}
