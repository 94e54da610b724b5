"""The worked examples in CONTRIBUTING.md run as written (a guide that does not run teaches nothing)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def code_blocks(section: str, language: str) -> list[str]:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    start = text.index(section)
    end = text.find("\n# ", start + 1)
    return re.findall(rf"```{language}\n(.*?)```", text[start:end if end > 0 else None], flags=re.S)


@pytest.fixture
def knn_type(tmp_path, monkeypatch):
    """The example task type, imported from the guide's own code block, unregistered afterwards."""
    from audioprobe.tasktypes import TASK_TYPES

    (source,) = code_blocks("# Add a task type", "python")
    path = tmp_path / "knn_example.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("knn_example", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "knn_example", module)
    spec.loader.exec_module(module)
    yield TASK_TYPES["knn"]
    TASK_TYPES.pop("knn", None)


def test_task_type_example_runs_and_equals_scikit_learn(knn_type, tmp_path):
    from sklearn.model_selection import LeaveOneOut, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    from audioprobe.cache import load_layers
    from audioprobe.metrics.probing import modal_labels
    from audioprobe.results import read_result
    from audioprobe.runner import Runner, RunOptions
    from audioprobe.stimuli import resolve_dataset
    from audioprobe.taskconfig import load_task

    (task_yaml,) = code_blocks("# Add a task type", "yaml")
    assert yaml.safe_load(task_yaml)["type"] == "knn"
    (tmp_path / "knn-material.yaml").write_text(task_yaml)
    task = load_task(tmp_path / "knn-material.yaml")
    n = 60
    opts = RunOptions(output_dir=tmp_path / "out", limit=n, progress=False, save_activations=tmp_path / "acts")
    (result,) = Runner(opts).run([("logmel", {})], [task])
    (path,) = (tmp_path / "out").rglob("knn-material.json")
    assert read_result(path)["scores"] == result["scores"]
    from audioprobe.results import read_replicates

    assert read_replicates(path)["per_layer"].shape == (1000, 1)  # kept for paired comparisons

    (npz,) = (tmp_path / "acts").rglob("activations.npz")
    layers, _ = load_layers(npz)
    stimset = resolve_dataset("impacts").head(n)
    labels = np.array(modal_labels(stimset.judgments["material"], stimset.dimensions["material"]), dtype=object)
    keep = np.array([v is not None for v in labels])
    for entry in result["scores"]["per_layer"]:
        x = layers[entry["layer"]][keep].astype(np.float64)
        pred = cross_val_predict(KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute"),
                                 x, labels[keep].astype(str), cv=LeaveOneOut())
        assert entry["score"] == pytest.approx(np.mean(pred == labels[keep].astype(str)), abs=1e-12)
        lo, hi = entry["ci"]
        assert lo <= entry["score"] <= hi
    assert result["scores"]["n_sounds_used"] == int(keep.sum())
    assert result["scores"]["headline"]["layer"] == "fbank"


def test_measure_example_runs_and_equals_scipy(monkeypatch, rng):
    """The guide's measure, registered as the guide says, equals scipy's Pearson r over the pairs both
    matrices have, and a task file can name it."""
    from scipy.spatial.distance import squareform
    from scipy.stats import pearsonr

    from audioprobe.metrics import similarity
    from audioprobe.tasktypes.rsa.params import RSA_PARAMS

    source, _ = code_blocks("# Add a measure", "python")  # the second: an RDM comparison
    monkeypatch.setattr(similarity.MEASURES, "_entries", dict(similarity.MEASURES._entries))  # undone after
    namespace = {"np": np, "Measure": similarity.Measure, "MEASURES": similarity.MEASURES}
    exec(compile(source, "CONTRIBUTING.md", "exec"), namespace)
    func, kwargs, lower = similarity.MEASURES["distance_pearson"][:3]
    model, human = squareform(rng.random(45)), squareform(rng.random(45))
    human[0, 3] = human[3, 0] = np.nan
    upper = np.triu_indices(10, k=1)
    keep = np.isfinite(human[upper])
    assert func(model, human, **kwargs) == pytest.approx(pearsonr(model[upper][keep], human[upper][keep])[0],
                                                         abs=1e-12)
    assert not lower and np.isnan(func(np.zeros((4, 4)), human[:4, :4]))
    # a task file may name it: the registry is the parameter's list of choices
    assert RSA_PARAMS["measures"].validate("t.yaml", "measures", ["distance_pearson"]) == ["distance_pearson"]


def test_comparison_example_is_the_rsa_score_and_a_task_file_can_name_it(monkeypatch, rng):
    """The guide's RDM comparison, registered as it says: the score of every layer is its pair function (here
    the cosine of the two condensed RDMs, computed by hand), with bootstrap and Mantel statistics, and it
    becomes a choice of the `comparison` key."""
    from audioprobe.metrics import geometry, rsa_inference
    from audioprobe.tasktypes.rsa.params import RSA_PARAMS

    _, source = code_blocks("# Add a measure", "python")
    monkeypatch.setattr(geometry.COMPARISONS, "_entries", dict(geometry.COMPARISONS._entries))  # undone after
    exec(compile(source, "CONTRIBUTING.md", "exec"), {})
    model, target = rng.random((3, 45)), rng.random(45)
    cosine = [float(m @ target / np.sqrt((m @ m) * (target @ target))) for m in model]
    out = rsa_inference.rsa_statistics(model, target, "cosine", 0, 20, 30, 4, 0.95)
    assert out["score"] == pytest.approx(cosine, abs=1e-12)
    assert np.isfinite(out["bootstrap"]).all() and np.isfinite(out["p_value"]).all()
    assert RSA_PARAMS["comparison"].validate("t.yaml", "comparison", "cosine") == "cosine"


def test_the_pull_request_path_runs_ci_and_holds_the_model_checklist():
    """The README promises models by pull request: the workflow runs .ci/run on every pull request, and the
    template holds CONTRIBUTING's checklist for a model (each item named there)."""
    import yaml

    root = Path(__file__).resolve().parent.parent
    workflow = yaml.safe_load((root / ".github" / "workflows" / "ci.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in triggers
    steps = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert any(".ci/run" in step for step in steps)
    template = (root / ".github" / "pull_request_template.md").read_text()
    for item in ("Wrapper", "Catalogue entry", "pinned 40-hex `revision`", "Tiny variant", "Validator", "Tests",
                 "docs/models.md", "Results regenerated"):
        assert item in template, item
    assert ".github/pull_request_template.md" in (root / "CONTRIBUTING.md").read_text()
