"""Similarity studies (rdm.csv) end to end: RSA against a study's matrix and the timbre literature's measures.

The studies are synthetic tones whose dissimilarity is known by construction
(`audioprobe.stimuli.synthetic.tone_studies`); expectations are recomputed here with scipy and the
measure functions on matrices built in the test.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from audioprobe.cache import load_layers
from audioprobe.cli import main as eval_main
from audioprobe.metrics import resampling, similarity
from audioprobe.stimuli.folder import export_folder
from audioprobe.stimuli.synthetic.tone_studies import similarity_study
from audioprobe.taskconfig import load_task

MEASURES_TASK = """\
task: study-measures
version: 1
description: RSA against the study's matrix, with the timbre measures
dataset: {data}
type: rsa
target: rdm
comparison: spearman
bootstrap: 60
permutations: 20
cv_splits: 10
measures: [rowwise_spearman, triplet_agreement, ndcg, normalised_mae]
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("study")
    return export_folder(similarity_study("study-a", 14, seed=1), root / "study-a")


def test_measures_per_layer_equal_the_functions_on_rdms_built_here(study, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp_path / "cache"))
    task_file = tmp_path / "tasks" / "study-measures.yaml"
    task_file.parent.mkdir()
    task_file.write_text(MEASURES_TASK.format(data=study))
    out, acts = tmp_path / "r", tmp_path / "a"
    assert eval_main(["--model", "mfcc", "--tasks", "study-measures", "--include-path", str(task_file.parent),
                      "--output-dir", str(out), "--save-activations", str(acts)]) == 0
    (path,) = out.glob("*/mfcc/study-measures.json")
    result = json.loads(path.read_text())
    scores = result["scores"]
    layers = load_layers(next(acts.glob("*/mfcc/activations.npz")))[0]
    human = np.loadtxt(study / "rdm.csv", delimiter=",", skiprows=1, usecols=range(1, 15), dtype=str)
    human = np.where(human == "", "nan", human).astype(float)
    human = np.where(np.isnan(human), human.T, human)
    np.fill_diagonal(human, 0)
    # the bootstrap resamples the RSA drew (its plan's SHA-256 says they are these)
    counts = resampling.bootstrap_counts(resampling.streams(0)[0], 14, 60)
    assert hashlib.sha256(counts.tobytes()).hexdigest() == result["replicates"]["resampling"]["sounds_plan_sha256"]
    for name in ("rowwise_spearman", "triplet_agreement", "ndcg", "normalised_mae"):
        func, kwargs, lower = similarity.MEASURES[name][:3]
        block = scores["measures"][name]
        assert block["lower_is_better"] is lower
        for entry in block["per_layer"]:
            model = squareform(pdist(layers[entry["layer"]], "cosine"))
            assert entry["value"] == pytest.approx(func(model, human, **kwargs), abs=1e-6), name
            reps = similarity.bootstrap_measure(func, model, human, counts, **kwargs)
            reps = reps[np.isfinite(reps)]
            assert entry["ci"] == pytest.approx(np.quantile(reps, [0.025, 0.975]).tolist(), abs=1e-6), name
        assert block["at_headline_layer"]["layer"] == scores["headline"]["layer"]


def test_measures_are_out_of_the_config_hash_when_off(tmp_path):
    """A task that does not ask for measures keeps the config hash it had before the key existed (its results
    stay valid); asking for them changes it."""
    folder = tmp_path / "t"
    folder.mkdir()
    base = MEASURES_TASK.format(data="impacts").replace("measures: [rowwise_spearman, triplet_agreement, ndcg, "
                                                        "normalised_mae]\n", "")
    (folder / "a.yaml").write_text(base)
    (folder / "b.yaml").write_text(base.replace("study-measures", "b") + "measures: [ndcg]\n")
    a, b = load_task(folder / "a.yaml"), load_task(folder / "b.yaml")
    old = {k: v for k, v in a.config().items() if k != "dataset"}
    old["params"] = {k: v for k, v in a.params.items() if k != "measures"}
    assert a.config_hash() == hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()
    assert a.params["measures"] == [] and b.config_hash() != a.config_hash()
