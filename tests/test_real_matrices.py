"""Published dissimilarity matrices as they come: a non-zero diagonal, missing cells,
similarities instead of dissimilarities, per-listener matrices (rdm/) and AIFF audio.

Every statistic on a matrix with missing cells is checked against scipy on explicitly masked
vectors (the pairs present), bootstrap replicates against explicitly resampled masked vectors, the
Mantel test against explicit permutations, and the per-listener noise ceiling against a direct
computation with np.nanmean; studies come from `audioprobe.stimuli.synthetic.tone_studies`.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from scipy.spatial.distance import pdist, squareform
from scipy.stats import pearsonr, spearmanr

from audioprobe.cache import load_layers
from audioprobe.cli import main as eval_main
from audioprobe.errors import AudioprobeError
from audioprobe.metrics import geometry, mantel, pearson, resampling, rsa_inference
from audioprobe.stimuli.folder import export_folder, load_folder, read_rdm
from audioprobe.stimuli.stimulus_set import normalise_rdm
from audioprobe.stimuli.synthetic.tone_studies import similarity_study

N = 12
TASK = """\
task: {name}
version: 1
description: RSA against the study's matrix
dataset: {data}
type: rsa
target: rdm
comparison: {comparison}
bootstrap: {bootstrap}
permutations: {permutations}
cv_splits: {cv_splits}
ceiling_splits: 40
"""


def write_matrix(path: Path, ids: list[str], mat: np.ndarray, blank=lambda i, j: False) -> None:
    """A matrix as a CSV in the folder format; NaN and cells `blank` marks as empty."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sound_id", *ids])
        for i, sid in enumerate(ids):
            w.writerow([sid, *("" if blank(i, j) or np.isnan(mat[i, j]) else repr(float(mat[i, j]))
                               for j in range(len(ids)))])


def missing_pattern(n: int, rng: np.random.Generator, fraction: float = 0.2) -> np.ndarray:
    """A symmetric bool mask of missing pairs (diagonal False)."""
    upper = np.triu(rng.random((n, n)) < fraction, k=1)
    return upper | upper.T


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return export_folder(similarity_study("real", N, seed=3), tmp_path_factory.mktemp("real") / "study")


@pytest.fixture(scope="module")
def truth(base) -> tuple[list[str], np.ndarray]:
    s = load_folder(base)
    return s.sound_ids, s.rdm


def copy_study(base: Path, dest: Path, meta: dict | None = None) -> Path:
    shutil.copytree(base, dest)
    if meta:
        data = yaml.safe_load((dest / "dataset.yaml").read_text())
        data.update(meta)
        (dest / "dataset.yaml").write_text(yaml.safe_dump(data))
    return dest


def run_task(tmp: Path, data: Path, name: str = "real-rsa", comparison: str = "pearson", bootstrap: int = 40,
             permutations: int = 30, cv_splits: int = 10) -> tuple[dict, dict[str, np.ndarray]]:
    tasks = tmp / f"tasks-{name}"
    tasks.mkdir()
    (tasks / f"{name}.yaml").write_text(TASK.format(name=name, data=data, comparison=comparison, bootstrap=bootstrap,
                                                    permutations=permutations, cv_splits=cv_splits))
    out, acts = tmp / f"out-{name}", tmp / f"acts-{name}"
    assert eval_main(["--model", "mfcc", "--tasks", name, "--include-path", str(tasks), "--output-dir", str(out),
                      "--save-activations", str(acts)]) == 0
    (path,) = out.glob(f"*/mfcc/{name}.json")
    layers = load_layers(next(acts.glob("*/mfcc/activations.npz")))[0]
    return json.loads(path.read_text()), layers


# ---------------------------------------------------------------------------------------------
# Reading matrices as they come


def test_nonzero_diagonal_is_ignored_with_a_warning_naming_the_file(tmp_path, truth, caplog):
    ids, d = truth
    m = d.copy()
    np.fill_diagonal(m, 7.0)  # self-ratings
    write_matrix(tmp_path / "rdm.csv", ids, m)
    with caplog.at_level(logging.WARNING):
        got = read_rdm(tmp_path / "rdm.csv", ids)
    np.testing.assert_array_equal(got, d)
    assert any(str(tmp_path / "rdm.csv") in r.getMessage() and "diagonal" in r.getMessage() for r in caplog.records)


def test_asymmetric_matrix_is_refused_naming_the_cells(tmp_path, truth):
    ids, d = truth
    m = d.copy()
    m[2, 5] += 0.1
    np.fill_diagonal(m, 1.0)  # a diagonal alone would be fine
    write_matrix(tmp_path / "rdm.csv", ids, m)
    with pytest.raises(AudioprobeError, match=r"rdm.csv: the dissimilarity matrix is not symmetric \(line 4, column 7"):
        read_rdm(tmp_path / "rdm.csv", ids)


def test_missing_cells_full_upper_and_lower_layouts(tmp_path, truth):
    ids, d = truth
    missing = missing_pattern(N, np.random.default_rng(0))
    expected = np.where(missing, np.nan, d)
    # full matrix, missing cells empty or written NaN / NA
    write_matrix(tmp_path / "full.csv", ids, expected)
    text = (tmp_path / "full.csv").read_text().replace(",,", ",NA,", 1)
    (tmp_path / "full.csv").write_text(text)
    np.testing.assert_array_equal(read_rdm(tmp_path / "full.csv", ids), expected)
    # upper triangle: a missing cell above the diagonal is NaN
    write_matrix(tmp_path / "upper.csv", ids, expected, blank=lambda i, j: j <= i)
    np.testing.assert_array_equal(read_rdm(tmp_path / "upper.csv", ids), expected)
    # lower triangle, mirrored the same way
    write_matrix(tmp_path / "lower.csv", ids, expected, blank=lambda i, j: j >= i)
    np.testing.assert_array_equal(read_rdm(tmp_path / "lower.csv", ids), expected)
    # a cell given on one side only takes its mirror's value
    write_matrix(tmp_path / "one.csv", ids, d, blank=lambda i, j: (i, j) == (3, 1))
    np.testing.assert_array_equal(read_rdm(tmp_path / "one.csv", ids), d)


def test_similarity_is_max_minus_s(tmp_path, truth):
    ids, d = truth
    missing = missing_pattern(N, np.random.default_rng(1))
    s = np.where(missing, np.nan, 5.0 - 2.0 * d)  # similarities: rank order reversed
    np.fill_diagonal(s, 5.0)  # self-similarity, ignored
    write_matrix(tmp_path / "rdm.csv", ids, s)
    got = read_rdm(tmp_path / "rdm.csv", ids, "similarity")
    off = ~np.eye(N, dtype=bool) & ~missing
    expected = np.where(missing, np.nan, np.nanmax(s[off]) - s)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(got, expected, rtol=0, atol=0, equal_nan=True)
    assert np.nanmin(got[off]) == 0.0 and np.all(np.isnan(got[missing]))
    # the pairs keep their order, reversed: a perfect negative rank correlation with s
    assert spearmanr(got[off], s[off])[0] == pytest.approx(-1.0)


def test_negative_dissimilarity_points_to_the_similarity_declaration(tmp_path):
    with pytest.raises(AudioprobeError, match=r"x.csv: the dissimilarity matrix has negative entries \(line 2, column 4"
                                              r".*rdm: similarity"):
        normalise_rdm(np.array([[0, 1, -1.0], [1, 0, 2], [-1, 2, 0]]), "x.csv",
                      cell=lambda i, j: f"line {i + 2}, column {j + 2}")


def test_dataset_yaml_rdm_key_is_checked(tmp_path, base):
    folder = copy_study(base, tmp_path / "s", {"rdm": "distance"})
    with pytest.raises(AudioprobeError, match=r"dataset.yaml: rdm must be 'dissimilarity'.*got 'distance'"):
        load_folder(folder)


def test_fingerprint_complete_matrix_unchanged_and_missing_cells_round_trip(tmp_path, base, truth):
    """A complete matrix keeps the fingerprint the in-memory study has; NaN cells and per-listener matrices
    survive export and reload with the same fingerprint, and rdm/ is part of it."""
    assert load_folder(base).fingerprint() == similarity_study("real", N, seed=3).fingerprint()
    ids, d = truth
    folder = copy_study(base, tmp_path / "m")
    write_matrix(folder / "rdm.csv", ids, np.where(missing_pattern(N, np.random.default_rng(2)), np.nan, d))
    before = load_folder(folder).fingerprint()
    (folder / "rdm").mkdir()
    write_matrix(folder / "rdm" / "P1.csv", ids, d)
    write_matrix(folder / "rdm" / "P2.csv", ids, np.where(missing_pattern(N, np.random.default_rng(3)), np.nan, d))
    s = load_folder(folder)
    assert s.fingerprint() != before and list(s.listener_rdms) == ["P1", "P2"]
    again = load_folder(export_folder(s, tmp_path / "copy"))
    assert again.fingerprint() == s.fingerprint()
    head = s.head(5)
    assert head.listener_rdms["P2"].shape == (5, 5) and head.fingerprint() != s.fingerprint()


def test_aiff_sounds_load(tmp_path, base):
    folder = copy_study(base, tmp_path / "aiff")
    wav = sorted((folder / "sounds").glob("*.wav"))[0]
    data, sr = sf.read(wav, dtype="float32")
    sf.write(wav.with_suffix(".aiff"), data, sr, subtype="FLOAT")
    wav.unlink()
    s = load_folder(folder)
    wave, rate = s.audio(s.sound_ids.index(wav.stem))
    assert rate == sr and np.array_equal(wave, data)


# ---------------------------------------------------------------------------------------------
# Statistics on the pairs present (metrics/stats.py), against scipy on explicitly masked vectors


def _problem(seed=7, n=11, fraction=0.25):
    rng = np.random.default_rng(seed)
    y = pdist(rng.normal(size=(n, 3)))
    x = np.stack([y + 0.7 * pdist(rng.normal(size=(n, 3))), pdist(rng.normal(size=(n, 3))) ** 2])
    missing = squareform(missing_pattern(n, rng, fraction), checks=False)
    return x, np.where(missing, np.nan, y), ~missing


def _resampled(v: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Pairs of drawn copies of different sounds, written out: pair (i, j) c_i c_j times."""
    draws = np.repeat(np.arange(counts.size), counts)
    sq = squareform(v, checks=False)
    i, j = np.triu_indices(draws.size, k=1)
    keep = draws[i] != draws[j]
    return sq[draws[i][keep], draws[j][keep]]


@pytest.mark.parametrize("comparison", ["pearson", "spearman", "kendall_tau_a"])
def test_rsa_statistics_with_missing_pairs_against_explicit_masked_vectors(comparison):
    x, y, present = _problem()
    n, seed, n_boot, n_perm = 11, 3, 25, 40
    out = rsa_inference.rsa_statistics(x, y, comparison, seed, n_boot, n_perm, 6, 0.9)
    corr = {"pearson": lambda a, b: pearsonr(a, b)[0], "spearman": lambda a, b: spearmanr(a, b)[0],
            "kendall_tau_a": geometry.kendall_tau_a}[comparison]
    np.testing.assert_allclose(out["score"], [corr(r[present], y[present]) for r in x], atol=1e-12)
    if comparison != "spearman":  # Spearman resamples reuse the full set's ranks (documented approximation)
        for b in range(5):
            c = out["bootstrap_counts"][b]
            yy = _resampled(y, c)
            keep = np.isfinite(yy)
            ref = [corr(_resampled(r, c)[keep], yy[keep]) for r in x]
            np.testing.assert_allclose(out["bootstrap"][b], ref, atol=1e-10)
    # Mantel: the target's rows and columns permuted together, its missing pairs moving with them
    perms = np.argsort(resampling.streams(seed)[1].random((n_perm, n)), axis=1)
    null = []
    for p in perms:
        yp = squareform(squareform(y, checks=False)[np.ix_(p, p)], checks=False)
        keep = np.isfinite(yp)
        null.append([corr(r[keep], yp[keep]) for r in x])
    exceed = (np.array(null) >= out["score"] - 1e-9).sum(axis=0)
    np.testing.assert_allclose(out["p_value"], (1 + exceed) / (1 + n_perm), rtol=1e-12)
    if comparison == "pearson":  # cross-validation: layer picked on one half's present pairs, scored on the other's
        halves = resampling.random_halves(resampling.streams(seed)[2], n, 6)
        i, j = np.triu_indices(n, k=1)
        held = []
        for pick, judge in [(h, ~h) for h in halves] + [(~h, h) for h in halves]:
            def on(members):
                keep = members[i] & members[j] & present
                return [corr(r[keep], y[keep]) for r in x]
            held.append(on(judge)[int(np.argmax(on(pick)))])
        np.testing.assert_allclose(out["cv_scores"], np.array(held).reshape(2, -1).ravel(), atol=1e-12)


def test_masked_path_with_every_pair_present_equals_the_complete_path():
    x, y, _ = _problem(fraction=0.0)
    rng = np.random.default_rng(0)
    w = resampling.bootstrap_counts(rng, 11, 20)
    all_present = np.ones(y.size, dtype=bool)
    np.testing.assert_allclose(pearson.weighted_pearson(x, y, w, all_present), pearson.weighted_pearson(x, y, w),
                               atol=1e-12)
    perms = resampling.random_permutations(rng, 11, 15)
    np.testing.assert_allclose(mantel.permuted_pearson(x, y, perms, all_present), mantel.permuted_pearson(x, y, perms),
                               atol=1e-12)


def test_a_resample_with_fewer_than_two_present_pairs_is_undefined():
    y = np.array([1.0, np.nan, np.nan, 2.0, np.nan, 3.0])  # 4 sounds; pairs (0,1), (1,2), (2,3) present
    x = np.array([[0.5, 0.1, 0.2, 0.9, 0.3, 0.7]])
    w = np.array([[2, 2, 0, 0], [1, 1, 1, 0], [0, 2, 0, 2]])  # one present pair; two; none
    got = pearson.weighted_pearson(x, y, w, np.isfinite(y))[:, 0]
    assert np.isnan(got[0]) and got[1] == pytest.approx(1.0) and np.isnan(got[2])


def test_partial_rsa_regression_is_fitted_on_the_present_pairs():
    x, y, present = _problem(seed=9)
    control = x[1] + np.random.default_rng(1).normal(size=x.shape[1])
    res = geometry.residualise(x, control, present)
    design = np.stack([np.ones(present.sum()), control[present]], axis=1)
    for k in range(2):
        coef = np.linalg.lstsq(design, x[k][present], rcond=None)[0]
        np.testing.assert_allclose(res[k][present], x[k][present] - design @ coef, atol=1e-10)
    assert abs(np.corrcoef(res[0][present], control[present])[0, 1]) < 1e-10


# ---------------------------------------------------------------------------------------------
# End to end through the CLI


@pytest.fixture(scope="module")
def missing_run(tmp_path_factory, base, truth):
    """A study whose rdm.csv has missing cells and self-ratings on the diagonal, run once."""
    tmp = tmp_path_factory.mktemp("missing-run")
    ids, d = truth
    missing = missing_pattern(N, np.random.default_rng(5))
    m = np.where(missing, np.nan, d)
    np.fill_diagonal(m, 3.0)
    folder = copy_study(base, tmp / "study")
    write_matrix(folder / "rdm.csv", ids, m)
    mp = pytest.MonkeyPatch()
    mp.setenv("AUDIOPROBE_CACHE", str(tmp / "cache"))
    try:
        result, layers = run_task(tmp, folder)
    finally:
        mp.undo()
    return result, layers, np.where(missing, np.nan, d), tmp


def test_cli_missing_cells_every_statistic_on_the_present_pairs(missing_run):
    result, layers, human, _ = missing_run
    scores = result["scores"]
    y = squareform(np.nan_to_num(human, nan=-1.0), checks=False)
    present = squareform(np.isfinite(human).astype(float), checks=False) > 0
    y[~present] = np.nan
    assert scores["n_pairs"] == int(present.sum()) and scores["n_pairs_missing"] == int((~present).sum()) > 0
    assert f"uses the {int(present.sum())} pairs present" in scores["missing_pairs"]
    counts = resampling.bootstrap_counts(resampling.streams(0)[0], N, 40)
    perms = np.argsort(resampling.streams(0)[1].random((30, N)), axis=1)
    for entry in scores["per_layer"]:
        x = pdist(layers[entry["layer"]], "cosine")
        assert entry["score"] == pytest.approx(pearsonr(x[present], y[present])[0], abs=1e-9)
        reps = []
        for c in counts:
            yy = _resampled(y, c)
            keep = np.isfinite(yy)
            reps.append(pearsonr(_resampled(x, c)[keep], yy[keep])[0])
        assert entry["ci"] == pytest.approx(np.quantile(reps, [0.025, 0.975]).tolist(), abs=1e-9)
        null = []
        for p in perms:
            yp = squareform(squareform(y, checks=False)[np.ix_(p, p)], checks=False)
            keep = np.isfinite(yp)
            null.append(pearsonr(x[keep], yp[keep])[0])
        assert entry["p_value"] == pytest.approx((1 + np.sum(np.array(null) >= entry["score"] - 1e-9)) / 31)
    assert scores["headline"]["value"] is not None and scores["noise_ceiling"]["value"] is None


def test_cli_similarity_declaration_gives_the_same_scores(missing_run, base, truth, tmp_path, monkeypatch):
    """The same matrix given as similarities (c - d) with `rdm: similarity` is a shift of the dissimilarities:
    every correlation, interval and p-value is the same."""
    result, _, human, _ = missing_run
    ids, _ = truth
    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp_path / "cache"))
    folder = copy_study(base, tmp_path / "sim", {"rdm": "similarity"})
    sim = 10.0 - human
    np.fill_diagonal(sim, 10.0)
    write_matrix(folder / "rdm.csv", ids, sim)
    again, _ = run_task(tmp_path, folder)
    for a, b in zip(result["scores"]["per_layer"], again["scores"]["per_layer"]):
        assert b["score"] == pytest.approx(a["score"], abs=1e-9)
        assert b["ci"] == pytest.approx(a["ci"], abs=1e-9) and b["p_value"] == a["p_value"]
    assert again["scores"]["headline"]["value"] == pytest.approx(result["scores"]["headline"]["value"], abs=1e-9)


def test_cli_per_listener_matrices_give_target_and_noise_ceiling(base, truth, tmp_path, monkeypatch):
    ids, d = truth
    rng = np.random.default_rng(11)
    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp_path / "cache"))
    folder = copy_study(base, tmp_path / "listeners")
    (folder / "rdm.csv").unlink()
    (folder / "rdm").mkdir()
    names = [f"P{k}" for k in range(6)]
    mats = []
    for who in names:
        noise = rng.normal(scale=0.3 * d[d > 0].mean(), size=(N, N))
        m = np.abs(d + (noise + noise.T) / 2)
        m = np.where(missing_pattern(N, rng, 0.15), np.nan, m)  # each listener rated a subset of pairs
        np.fill_diagonal(m, 0.0)
        mats.append(m)
        write_matrix(folder / "rdm" / f"{who}.csv", ids, m)
    result, layers = run_task(tmp_path, folder, bootstrap=0, permutations=0, cv_splits=0)
    scores = result["scores"]
    target = nanmean(mats)
    y = squareform(np.nan_to_num(target, nan=0.0), checks=False)
    present = squareform(np.isfinite(target).astype(float), checks=False) > 0
    for entry in scores["per_layer"]:
        x = pdist(layers[entry["layer"]], "cosine")
        assert entry["score"] == pytest.approx(pearsonr(x[present], y[present])[0], abs=1e-9)

    def condensed(m):
        return np.array([m[i, j] for i, j in zip(*np.triu_indices(N, k=1))])

    def group_mean(members):
        return condensed(nanmean([mats[k] for k in members]))

    def r(a, b):
        keep = np.isfinite(a) & np.isfinite(b)
        return pearsonr(a[keep], b[keep])[0]

    ceiling = scores["noise_ceiling"]
    # split halves: the same random halves (stream 3 of the seed), means and correlations written out
    gen = resampling.streams(0)[3]
    order = np.argsort(gen.random((40, 6)), axis=1)
    split = [r(group_mean(o[:3]), group_mean(o[3:])) for o in order]
    assert ceiling["split_half_r"] == pytest.approx(np.mean(split), abs=1e-9)
    assert ceiling["value"] == pytest.approx(2 * np.mean(split) / (1 + np.mean(split)), abs=1e-9)
    everyone = group_mean(range(6))
    upper = [r(condensed(mats[k]), everyone) for k in range(6)]
    lower = [r(condensed(mats[k]), group_mean([q for q in range(6) if q != k])) for k in range(6)]
    assert ceiling["upper_bound"] == pytest.approx(np.mean(upper), abs=1e-9)
    assert ceiling["lower_bound"] == pytest.approx(np.mean(lower), abs=1e-9)
    assert ceiling["n_listeners"] == 6 and 0 < ceiling["lower_bound"] < ceiling["upper_bound"]
    assert scores["headline_over_ceiling"]["attainable"] == pytest.approx(np.sqrt(ceiling["value"]))
    assert ceiling["method"] == (
        "mean split-half correlation of the mean per-listener RDM (rdm/<listener>.csv; each pair averaged over the "
        "listeners of the half who rated it, compared on the pairs both halves have) over random halves of the "
        "listeners, Spearman-Brown corrected to the full panel")
    assert ceiling["bounds_method"].endswith("on the pairs both have, averaged over listeners")
    # with an rdm.csv of its own (the study's matrix, not the listeners' mean), the ceiling says whose target it is
    write_matrix(folder / "rdm.csv", ids, d)
    own, _ = run_task(tmp_path, folder, name="own-rdm", bootstrap=0, permutations=0, cv_splits=0)
    note = "; the ceiling's target is the mean of the listeners' matrices (rdm/), which may differ from rdm.csv"
    assert own["scores"]["noise_ceiling"]["method"] == ceiling["method"] + note
    assert own["scores"]["noise_ceiling"]["bounds_method"] == ceiling["bounds_method"] + note


def nanmean(mats: list[np.ndarray]) -> np.ndarray:
    """np.nanmean over matrices, NaN (without a warning) where none has the cell."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.stack(mats), axis=0)


@pytest.mark.parametrize("where, edit, message", [
    ("rdm.csv", lambda m: m.__setitem__((2, 5), m[5, 2] + 0.5), r"rdm.csv: the dissimilarity matrix is not symmetric "
                                                                r"\(line 4, column 7"),
    ("rdm.csv", lambda m: m.__setitem__((3, 1), np.inf), r"rdm.csv, line 5, column 3: 'inf' is not a finite number"),
    ("rdm/P1.csv", lambda m: m.__setitem__((1, 2), -0.5) or m.__setitem__((2, 1), -0.5),
     r"P1.csv: the dissimilarity matrix has negative entries \(line 3, column 4"),
])
def test_cli_bad_matrices_exit_2_naming_file_and_cell(base, truth, tmp_path, monkeypatch, capsys, where, edit,
                                                      message):
    ids, d = truth
    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp_path / "cache"))
    folder = copy_study(base, tmp_path / "bad")
    m = d.copy()
    edit(m)
    (folder / where).parent.mkdir(exist_ok=True)
    write_matrix(folder / where, ids, m)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "bad.yaml").write_text(TASK.format(name="bad", data=folder, comparison="pearson", bootstrap=0,
                                                permutations=0, cv_splits=0))
    assert eval_main(["--model", "mfcc", "--tasks", "bad", "--include-path", str(tasks),
                      "--output-dir", str(tmp_path / "out")]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_hub_similarity_column_with_missing_cells(hub_cache, rng, tmp_path, monkeypatch):
    """A Hub set's `similarity` column (null: a pair not rated, diagonal ignored) is turned into dissimilarities
    as a folder's `rdm: similarity` is; giving both `rdm` and `similarity` is an error."""
    import datasets.config
    from datasets import List, Value

    from audioprobe.stimuli import resolve_dataset
    from tests.hubfake import add_to_hub_cache
    from tests.test_hub_datasets import _parquet, make_rows

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache")
    rows, feats, _ = make_rows(rng, n=4, with_responses=False)
    sim = [[9.0, 3.0, None, 1.0], [3.0, 9.0, 2.0, 0.5], [None, 2.0, 9.0, 4.0], [1.0, 0.5, 4.0, 9.0]]
    feats["similarity"] = List(Value("float64"))
    rows["similarity"] = sim
    add_to_hub_cache(hub_cache, "lab/sim", {"data/train-00000-of-00001.parquet": _parquet(rows, feats)},
                     "1" * 40, repo_type="dataset")
    s = resolve_dataset("hf:lab/sim")
    expected = np.array([[0, 1, np.nan, 3], [1, 0, 2, 3.5], [np.nan, 2, 0, 0], [3, 3.5, 0, 0]])
    np.testing.assert_array_equal(s.rdm, expected)
    feats["rdm"] = List(Value("float64"))
    rows["rdm"] = [[0.0] * 4] * 4
    add_to_hub_cache(hub_cache, "lab/both", {"data/train-00000-of-00001.parquet": _parquet(rows, feats)},
                     "2" * 40, repo_type="dataset")
    with pytest.raises(AudioprobeError, match="columns 'rdm' and 'similarity' both given"):
        resolve_dataset("hf:lab/both")


def test_cli_partial_rsa_with_missing_cells_fits_on_the_present_pairs(missing_run, monkeypatch):
    """control: logmel on the study with missing cells: each mfcc layer's RDM regressed on logmel's RDM (with
    an intercept) on the present pairs, the residuals correlated with the target there."""
    _, layers, human, tmp = missing_run
    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp / "cache"))
    folder = tmp / "study"
    tasks = tmp / "tasks-partial"
    tasks.mkdir()
    (tasks / "partial.yaml").write_text(TASK.format(name="partial", data=folder, comparison="pearson", bootstrap=0,
                                                    permutations=0, cv_splits=0) + "control: logmel\n")
    out, acts = tmp / "out-partial", tmp / "acts-partial"
    assert eval_main(["--model", "mfcc", "--tasks", "partial", "--include-path", str(tasks), "--output-dir",
                      str(out)]) == 0
    assert eval_main(["--model", "logmel", "--tasks", "partial", "--include-path", str(tasks), "--output-dir",
                      str(tmp / "out-partial-logmel"), "--save-activations", str(acts)]) == 0
    (control_layer,) = load_layers(next(acts.glob("*/logmel/activations.npz")))[0].values()
    scores = json.loads(next(out.glob("*/mfcc/partial.json")).read_text())["scores"]
    y = squareform(np.nan_to_num(human, nan=-1.0), checks=False)
    present = squareform(np.isfinite(human).astype(float), checks=False) > 0
    c = pdist(control_layer, "cosine")[present]
    design = np.stack([np.ones(c.size), c], axis=1)
    for entry in scores["per_layer"]:
        x = pdist(layers[entry["layer"]], "cosine")[present]
        residual = x - design @ np.linalg.lstsq(design, x, rcond=None)[0]
        assert entry["score"] == pytest.approx(pearsonr(residual, y[present])[0], abs=1e-9)
    assert scores["control"]["score_of_control"] == pytest.approx(pearsonr(c, y[present])[0], abs=1e-9)
    assert scores["n_pairs"] == int(present.sum())
