"""The set summary (figure A1's data) and the RDMs kept for the report, checked against scipy.

One real run (logmel and mfcc, plain and partial RSA on a 40-sound cut) writes `dataset.json` and the
content-addressed RDMs; the stored arrays are compared with distances and targets recomputed here from
the saved activations and the set's counts and labels.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import entropy, pearsonr, spearmanr

from audioprobe.cache import load_layers
from audioprobe.cli import main as eval_main
from audioprobe.errors import AudioprobeError
from audioprobe.results import collect_files
from audioprobe.stimuli import StimulusSet, resolve_dataset
from audioprobe.summaries import (
    SUMMARY_VERSION,
    load_rdm,
    rdm_bytes,
    rdm_path,
    read_summary,
    store_rdms,
    summarise,
    validate_summary,
    write_summary,
)
from audioprobe.tasktypes.rsa import rdms as rsa_rdms

N = 40
TASKS = "rsa-material,rsa-physical-hollowness,partial-rsa-material"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("summ")
    out, acts = root / "results", root / "acts"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDIOPROBE_CACHE", str(root / "cache"))
        for model in ("logmel", "mfcc"):
            assert eval_main(["--model", model, "--tasks", TASKS, "--limit", str(N), "--output-dir", str(out),
                              "--save-activations", str(acts)]) == 0
    (set_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return set_dir, acts


def result(set_dir: Path, model: str, task: str) -> dict:
    return json.loads((set_dir / model / f"{task}.json").read_text())


def pooled(acts: Path, model: str) -> dict[str, np.ndarray]:
    (path,) = acts.glob(f"*/{model}/activations.npz")
    return load_layers(path)[0]


def kl_by_hand(counts: np.ndarray, smoothing: float) -> np.ndarray:
    p = (counts + smoothing) / (counts + smoothing).sum(axis=1, keepdims=True)
    n = len(p)
    return np.array([entropy(p[i], p[j]) + entropy(p[j], p[i]) for i in range(n) for j in range(i + 1, n)])


def differ(values) -> np.ndarray:
    codes = np.unique(np.asarray(values, dtype=str), return_inverse=True)[1].astype(float)
    return pdist(codes[:, None], lambda u, v: float(u[0] != v[0]))


def test_kept_model_rdm_is_the_headline_layers_cosine_rdm(run):
    set_dir, acts = run
    for model in ("logmel", "mfcc"):
        refs = result(set_dir, model, "rsa-material")["scores"]["rdms"]
        layers = pooled(acts, model)
        assert refs["layer"] in layers
        stored = load_rdm(set_dir, refs["model_sha256"])
        assert stored.dtype == np.float32
        np.testing.assert_allclose(stored, pdist(layers[refs["layer"]], "cosine"), rtol=1e-5, atol=1e-6)


def test_kept_targets_are_the_tasks_targets(run):
    set_dir, _ = run
    stimset = resolve_dataset("impacts").head(N)
    kl = load_rdm(set_dir, result(set_dir, "logmel", "rsa-material")["scores"]["rdms"]["target_sha256"])
    np.testing.assert_allclose(kl, kl_by_hand(stimset.judgments["material"], 0.5), rtol=1e-5)
    physical = load_rdm(set_dir, result(set_dir, "mfcc", "rsa-physical-hollowness")["scores"]["rdms"]["target_sha256"])
    np.testing.assert_array_equal(physical, differ(stimset.labels["hollowness"]))


def test_one_target_file_is_shared_by_every_model(run):
    set_dir, _ = run
    shas = {result(set_dir, m, "rsa-material")["scores"]["rdms"]["target_sha256"] for m in ("logmel", "mfcc")}
    assert len(shas) == 1
    assert rdm_path(set_dir, shas.pop()).is_file()


def test_partial_rsa_keeps_the_residual_after_the_control(run):
    """mfcc's RDM with logmel's regressed out (least squares with an intercept, here by numpy.linalg.lstsq);
    logmel against itself has no residual: no headline layer, no RDM, and the reason."""
    set_dir, acts = run
    refs = result(set_dir, "mfcc", "partial-rsa-material")["scores"]["rdms"]
    y = pdist(pooled(acts, "mfcc")[refs["layer"]], "cosine")
    (control,) = pooled(acts, "logmel").values()
    design = np.column_stack([np.ones_like(y), pdist(control, "cosine")])
    residual = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(load_rdm(set_dir, refs["model_sha256"]), residual, rtol=1e-4, atol=1e-6)
    assert "residual" in refs["what"]
    own = result(set_dir, "logmel", "partial-rsa-material")["scores"]["rdms"]
    assert own["layer"] is None and "model_sha256" not in own and own["reason"] == "no headline layer (no finite score)"


def test_summary_correlations_equal_scipy_on_targets_built_here(run):
    set_dir, _ = run
    summary = read_summary(set_dir)
    stimset = resolve_dataset("impacts").head(N)
    assert summary["dataset"]["fingerprint"] == stimset.fingerprint() and summary["summary_version"] == SUMMARY_VERSION
    built = {}
    for dim, counts in stimset.judgments.items():
        built[f"{dim} · KL"] = kl_by_hand(counts, 0.5)
        # P(the two modal responses differ), a tie broken uniformly at random (exactly 0/1 without ties)
        tops = [set(np.flatnonzero(row == row.max())) for row in counts]
        n = len(counts)
        built[f"{dim} · modal"] = np.array([1 - len(tops[i] & tops[j]) / (len(tops[i]) * len(tops[j]))
                                            for i in range(n) for j in range(i + 1, n)])
    for column, values in stimset.labels.items():
        built[f"{column} · physical"] = differ(values)
    names = [t["name"] for t in summary["correlations"]["targets"]]
    assert sorted(names) == sorted(built)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            got_p, got_s = summary["correlations"]["pearson"][i][j], summary["correlations"]["spearman"][i][j]
            if np.ptp(built[a]) == 0 or np.ptp(built[b]) == 0:
                assert got_p is None and got_s is None
                continue
            assert got_p == pytest.approx(pearsonr(built[a], built[b])[0], abs=1e-9), (a, b)
            # equal count patterns give KL values equal up to rounding: they tie (both rounded to 12 decimals)
            assert got_s == pytest.approx(spearmanr(np.round(built[a], 12), np.round(built[b], 12))[0], abs=1e-9), \
                (a, b)
    modal_material = [m or None for m in summary["modal"]["material"]]
    counts = stimset.judgments["material"]
    for k, m in enumerate(modal_material):
        row = counts[k]
        assert m == (stimset.dimensions["material"][int(row.argmax())] if (row == row.max()).sum() == 1 else None)


def test_summary_is_not_a_result_and_a_damaged_one_is_rewritten(run, tmp_path):
    set_dir, _ = run
    assert all(p.name != "dataset.json" for p, _ in collect_files(set_dir.parent))
    copy = tmp_path / "s"
    copy.mkdir()
    (copy / "dataset.json").write_text('{"summary_version": 1, "dataset": {}}')
    with pytest.raises(AudioprobeError, match="dataset.json: not a valid set summary"):
        read_summary(copy)
    assert read_summary(tmp_path) is None


def test_store_is_content_addressed_and_detects_damage(tmp_path):
    x = np.arange(10, dtype=float) / 7
    data, sha = rdm_bytes(x)
    store_rdms(tmp_path, {sha: data})
    np.testing.assert_array_equal(load_rdm(tmp_path, sha), x.astype(np.float32))
    assert rdm_bytes(x.astype(np.float32))[1] == sha  # the reference depends on the values only
    path = rdm_path(tmp_path, sha)
    damaged = bytearray(path.read_bytes())
    damaged[-1] ^= 1
    path.write_bytes(bytes(damaged))
    with pytest.raises(AudioprobeError, match=f"{sha}.npy: RDM file damaged"):
        load_rdm(tmp_path, sha)
    with pytest.raises(AudioprobeError, match="missing"):
        load_rdm(tmp_path, "0" * 64)
    for bad in ("../../etc/passwd", "A" * 64, sha[:-1]):  # a reference read from a file never names another path
        with pytest.raises(AudioprobeError, match="not a SHA-256"):
            rdm_path(tmp_path, bad)


def test_summary_of_a_constructed_set_and_its_validation(tmp_path):
    """Two dimensions, one of them labelled too, and an rdm.csv: perceived then physical per dimension, the
    other label columns, then rdm.csv; the file validates and round-trips."""
    counts = np.array([[3, 0], [2, 1], [0, 3], [1, 2]])
    s = StimulusSet(name="toy", sound_ids=["a", "b", "c", "d"], dimensions={"m": ["x", "y"], "h": ["p", "q"]},
                    labels={"m": ["x", "x", "y", "y"], "size": ["s", "l", "s", "l"]},
                    judgments={"m": counts, "h": counts[::-1].copy()},
                    load_audio=lambda i: (np.zeros(16, np.float32), 16000),
                    rdm=np.array([[0, 1, 2, 3], [1, 0, 1, 2], [2, 1, 0, 1], [3, 2, 1, 0]], dtype=float))
    summary = summarise(s)
    names = [t["name"] for t in summary["correlations"]["targets"]]
    assert names == ["m · KL", "m · modal", "m · physical", "h · KL", "h · modal", "size · physical", "rdm.csv"]
    assert summary["modal"]["m"] == ["x", "x", "y", "y"]
    rdm = summary["correlations"]["pearson"][names.index("rdm.csv")]
    assert rdm[names.index("m · physical")] == pytest.approx(pearsonr([1, 2, 3, 1, 2, 1], differ(s.labels["m"]))[0])
    path = write_summary(tmp_path, summary)
    assert read_summary(tmp_path) == json.loads(path.read_text())
    bad = json.loads(path.read_text())
    bad["correlations"]["pearson"] = "high"
    with pytest.raises(AudioprobeError, match="correlations.pearson"):
        validate_summary(bad, "here")


def test_very_large_sets_keep_no_rdm_and_say_why(monkeypatch, tmp_path):
    monkeypatch.setattr(rsa_rdms, "RDM_MAX_SOUNDS", 10)
    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp_path / "cache"))
    assert eval_main(["--model", "logmel", "--tasks", "rsa-material", "--limit", "12", "--output-dir",
                      str(tmp_path / "r")]) == 0
    (path,) = (tmp_path / "r").glob("*/logmel/rsa-material.json")
    refs = json.loads(path.read_text())["scores"]["rdms"]
    assert "model_sha256" not in refs and "at most 10" in refs["reason"]
    assert not list((tmp_path / "r").glob("*/rdms/*.npy"))


def test_a_matrix_with_missing_pairs_is_correlated_on_the_pairs_it_has():
    counts = np.array([[3, 0], [2, 1], [0, 3], [1, 2], [3, 0]])
    rdm = np.array([[0, 1, 2, 3, 1], [1, 0, 1, 2, 2], [2, 1, 0, 1, 3], [3, 2, 1, 0, 1], [1, 2, 3, 1, 0]], float)
    rdm[0, 3] = rdm[3, 0] = np.nan
    s = StimulusSet(name="toy", sound_ids=list("abcde"), dimensions={"m": ["x", "y"]},
                    labels={"m": ["x", "x", "y", "y", "x"]}, judgments={"m": counts},
                    load_audio=lambda i: (np.zeros(16, np.float32), 16000), rdm=rdm)
    summary = summarise(s)
    names = [t["name"] for t in summary["correlations"]["targets"]]
    row = summary["correlations"]["pearson"][names.index("rdm.csv")]
    iu = np.triu_indices(5, 1)
    keep = np.isfinite(rdm[iu])
    want = pearsonr(rdm[iu][keep], differ(s.labels["m"])[keep])[0]
    assert row[names.index("m · physical")] == pytest.approx(want)
    assert summary["correlations"]["spearman"][names.index("rdm.csv")][names.index("m · physical")] == \
        pytest.approx(spearmanr(rdm[iu][keep], differ(s.labels["m"])[keep])[0])
