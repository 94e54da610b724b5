"""The folder format: loading, every validation error, rdm.csv layouts, export and reload."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf
import yaml

from audioprobe.errors import AudioprobeError
from audioprobe.frontend import FrontEnd
from audioprobe.stimuli import export_folder, load_folder, read_rdm

DIMS = {"material": ["wood", "metal"], "size": ["small", "large"]}


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def make_folder(root, rng, n=4, rates=None, channels=None, judgments=True, responses=False, meta_extra=None):
    """A valid folder of n sounds s0..s{n-1}; tests then break one thing."""
    (root / "sounds").mkdir(parents=True)
    meta = {"name": "tiny", "dimensions": DIMS, **(meta_extra or {})}
    (root / "dataset.yaml").write_text(yaml.safe_dump(meta))
    ids = [f"s{i}" for i in range(n)]
    for i, sid in enumerate(ids):
        sr = (rates or [16000] * n)[i]
        ch = (channels or [1] * n)[i]
        x = (rng.standard_normal((int(0.1 * sr), ch)) * 0.1).astype(np.float32)
        sf.write(root / "sounds" / f"{sid}.wav", x if ch > 1 else x[:, 0], sr, subtype="FLOAT")
    # labels.csv lists the sounds in reverse order: that is the set's order
    write_csv(root / "labels.csv", ["sound_id", "material", "shape"],
              [[sid, DIMS["material"][i % 2], f"shape{i}"] for i, sid in reversed(list(enumerate(ids)))])
    resp = rng.integers(0, 2, size=(3, n, 2))
    if judgments:
        rows = []
        for i, sid in enumerate(ids):
            for d, (dim, cats) in enumerate(DIMS.items()):
                for k, cat in enumerate(cats):
                    rows.append([sid, dim, cat, int((resp[:, i, d] == k).sum())])
        write_csv(root / "judgments.csv", ["sound_id", "dimension", "category", "count"], rows)
    if responses:
        rows = [[f"L{li}", sid, dim, cats[resp[li, i, d]]]
                for li in range(3) for i, sid in enumerate(ids) for d, (dim, cats) in enumerate(DIMS.items())]
        write_csv(root / "responses.csv", ["listener", "sound_id", "dimension", "category"], rows)
    return root


def test_valid_folder_loads_in_labels_order(tmp_path, rng):
    s = load_folder(make_folder(tmp_path / "d", rng, responses=True))
    assert s.sound_ids == ["s3", "s2", "s1", "s0"]
    assert s.labels["material"] == ["metal", "wood", "metal", "wood"]
    assert s.listeners == ["L0", "L1", "L2"]
    for d in DIMS:
        np.testing.assert_array_equal(s.counts_from_responses()[d], s.judgments[d])
        assert (s.judgments[d].sum(axis=1) == 3).all()


def test_multichannel_and_mixed_rates_are_allowed(tmp_path, rng):
    s = load_folder(make_folder(tmp_path / "d", rng, rates=[16000, 22050, 44100, 8000], channels=[1, 2, 1, 3]))
    wave, sr = s.audio(s.sound_ids.index("s1"))
    assert wave.shape == (2205, 2) and sr == 22050
    mono = FrontEnd(16000)(wave, sr)  # the front end mixes to mono and resamples
    assert mono.ndim == 1 and abs(len(mono) - 1600) <= 1


def _break(name):
    """Functions that break a valid folder in one way, with the message they must cause."""

    def missing_sound(d):
        (d / "sounds" / "s2.wav").unlink()

    def unknown_id_in_judgments(d):
        with open(d / "judgments.csv", "a", newline="") as fh:
            csv.writer(fh).writerow(["ghost", "material", "wood", 1])

    def unknown_category(d):
        txt = (d / "judgments.csv").read_text().replace("s1,material,metal", "s1,material,steel")
        (d / "judgments.csv").write_text(txt)

    def unknown_dimension(d):
        with open(d / "judgments.csv", "a", newline="") as fh:
            csv.writer(fh).writerow(["s1", "colour", "red", 1])

    def negative_count(d):
        lines = (d / "judgments.csv").read_text().splitlines()
        lines[1] = ",".join(lines[1].split(",")[:3] + ["-2"])
        (d / "judgments.csv").write_text("\n".join(lines) + "\n")

    def fractional_count(d):
        lines = (d / "judgments.csv").read_text().splitlines()
        lines[1] = ",".join(lines[1].split(",")[:3] + ["1.5"])
        (d / "judgments.csv").write_text("\n".join(lines) + "\n")

    def duplicate_count_row(d):
        lines = (d / "judgments.csv").read_text().splitlines()
        (d / "judgments.csv").write_text("\n".join(lines + [lines[1]]) + "\n")

    def unjudged_sound(d):
        lines = (d / "judgments.csv").read_text().splitlines()
        keep = [ln for ln in lines if not ln.startswith("s0,size,")]
        (d / "judgments.csv").write_text("\n".join(keep) + "\n")

    def empty_audio(d):
        sf.write(d / "sounds" / "s1.wav", np.zeros((0,), np.float32), 16000)

    def short_audio(d):
        sf.write(d / "sounds" / "s1.wav", np.zeros(160, np.float32), 16000)  # 10 ms

    def unreadable_audio(d):
        (d / "sounds" / "s1.wav").write_text("this is not audio")

    def duplicate_id(d):
        sf.write(d / "sounds" / "s1.flac", np.zeros(1600, np.float32), 16000)

    def label_not_a_category(d):
        txt = (d / "labels.csv").read_text().replace("s0,wood", "s0,oak")
        (d / "labels.csv").write_text(txt)

    def duplicate_label_row(d):
        lines = (d / "labels.csv").read_text().splitlines()
        (d / "labels.csv").write_text("\n".join(lines + [lines[1]]) + "\n")

    def missing_label_row(d):
        lines = (d / "labels.csv").read_text().splitlines()
        (d / "labels.csv").write_text("\n".join(ln for ln in lines if not ln.startswith("s2,")) + "\n")

    def no_yaml(d):
        (d / "dataset.yaml").unlink()

    def bad_yaml_key(d):
        (d / "dataset.yaml").write_text(yaml.safe_dump({"dimensions": DIMS, "colour": "red"}))

    def rate_differs_from_declared(d):
        (d / "dataset.yaml").write_text(yaml.safe_dump({"dimensions": DIMS, "sample_rate": 44100}))

    def nothing_to_compare(d):
        (d / "dataset.yaml").write_text(yaml.safe_dump({"name": "x"}))
        (d / "judgments.csv").unlink()

    cases = {
        "missing_sound": (missing_sound, r"sound_id 's2' has no audio file"),
        "unknown_id_in_judgments": (unknown_id_in_judgments, r"judgments.csv, line \d+: sound_id 'ghost' has no audio"),
        "unknown_category": (unknown_category, r"category 'steel' is not one of dimension 'material'"),
        "unknown_dimension": (unknown_dimension, r"dimension 'colour' is not declared"),
        "negative_count": (negative_count, r"line 2: count '-2' must be a non-negative integer"),
        "fractional_count": (fractional_count, r"line 2: count '1.5' must be a non-negative integer"),
        "duplicate_count_row": (duplicate_count_row, r"already has a count on line 2"),
        "unjudged_sound": (unjudged_sound, r"sound 's0' has no judgments on dimension 'size'"),
        "empty_audio": (empty_audio, r"s1.wav: sound 's1' is empty"),
        "short_audio": (short_audio, r"sound 's1' lasts 10.0 ms; the shortest allowed is 25 ms"),
        "unreadable_audio": (unreadable_audio, r"s1.wav: sound 's1' cannot be read as audio"),
        "duplicate_id": (duplicate_id, r"two files for sound id 's1'"),
        "label_not_a_category": (label_not_a_category, r"material 'oak' is not one of dimension 'material'"),
        "duplicate_label_row": (duplicate_label_row, r"sound_id 's3' appears twice"),
        "missing_label_row": (missing_label_row, r"no row for sound\(s\) s2"),
        "no_yaml": (no_yaml, r"no dataset.yaml"),
        "bad_yaml_key": (bad_yaml_key, r"unknown key\(s\) colour"),
        "rate_differs_from_declared": (rate_differs_from_declared, r"at 16000 Hz but dataset.yaml declares sample_rate 44100"),
        "nothing_to_compare": (nothing_to_compare, r"nothing to compare models with"),
    }
    return cases[name]


@pytest.mark.parametrize("case", [
    "missing_sound", "unknown_id_in_judgments", "unknown_category", "unknown_dimension", "negative_count",
    "fractional_count", "duplicate_count_row", "unjudged_sound", "empty_audio", "short_audio", "unreadable_audio",
    "duplicate_id", "label_not_a_category", "duplicate_label_row", "missing_label_row", "no_yaml", "bad_yaml_key",
    "rate_differs_from_declared", "nothing_to_compare"])
def test_validation_errors_name_the_problem(tmp_path, rng, case):
    folder = make_folder(tmp_path / "d", rng)
    breaker, message = _break(case)
    breaker(folder)
    with pytest.raises(AudioprobeError, match=message):
        load_folder(folder)


def test_responses_errors(tmp_path, rng):
    folder = make_folder(tmp_path / "d", rng, responses=True)
    lines = (folder / "responses.csv").read_text().splitlines()
    (folder / "responses.csv").write_text("\n".join(lines + [lines[1]]) + "\n")
    with pytest.raises(AudioprobeError, match="listener 'L0' judged this sound on 'material' twice"):
        load_folder(folder)
    folder = make_folder(tmp_path / "e", rng, responses=True)
    lines = (folder / "judgments.csv").read_text().splitlines()
    sid, dim, cat, count = lines[1].split(",")
    lines[1] = ",".join([sid, dim, cat, str(int(count) + 1)])
    (folder / "judgments.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(AudioprobeError, match="counts disagree with responses.csv for sound 's0'"):
        load_folder(folder)


def test_nan_samples_fail_when_decoded(tmp_path, rng):
    folder = make_folder(tmp_path / "d", rng)
    x = np.zeros(1600, np.float32)
    x[5] = np.nan
    sf.write(folder / "sounds" / "s1.wav", x, 16000, subtype="FLOAT")
    s = load_folder(folder)
    with pytest.raises(AudioprobeError, match="sound 's1' contains NaN"):
        s.audio(s.sound_ids.index("s1"))


# ---------------------------------------------------------------------------------------------
# rdm.csv


def _rdm(rng, n):
    x = rng.standard_normal((n, 3))
    return np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))


def test_rdm_square_in_any_order(tmp_path, rng):
    folder = make_folder(tmp_path / "d", rng)
    file_order = ["s1", "s0", "s3", "s2"]
    m = _rdm(rng, 4)
    write_csv(folder / "rdm.csv", ["sound_id", *file_order], [[sid, *(repr(float(v)) for v in row)] for sid, row in zip(file_order, m)])
    s = load_folder(folder)
    pos = [file_order.index(sid) for sid in s.sound_ids]
    np.testing.assert_array_equal(s.rdm, m[np.ix_(pos, pos)])


def test_rdm_upper_triangle(tmp_path, rng):
    ids = ["a", "b", "c"]
    write_csv(tmp_path / "rdm.csv", ["sound_id", *ids], [["a", "", "1.5", "2"], ["b", "", "", "0.5"], ["c", "", "", ""]])
    np.testing.assert_array_equal(read_rdm(tmp_path / "rdm.csv", ids),
                                  [[0, 1.5, 2], [1.5, 0, 0.5], [2, 0.5, 0]])
    np.testing.assert_array_equal(read_rdm(tmp_path / "rdm.csv", ["c", "a", "b"]),
                                  [[0, 2, 0.5], [2, 0, 1.5], [0.5, 1.5, 0]])


@pytest.mark.parametrize("rows, message", [
    ([["a", "0", "1", "2"], ["b", "1", "0", "3"], ["c", "2", "4", "0"]], "not symmetric"),
    ([["a", "0", "-1", "2"], ["b", "-1", "0", "3"], ["c", "2", "3", "0"]], "negative entries"),
    ([["a", "0", "x", "2"], ["b", "1", "0", "3"], ["c", "2", "3", "0"]], r"line 2, column 3: 'x' is not a number"),
    ([["a", "", "1", ""], ["b", "", "", "3"], ["c", "", "", ""]], "empty cell in the upper triangle"),
    ([["a", "0", "1", "2"], ["b", "1", "", "3"], ["c", "2", "3", "0"]], "line 3, column 3: empty cell"),
    ([["b", "0", "1", "2"], ["a", "1", "0", "3"], ["c", "2", "3", "0"]], "same ids in the same order"),
    ([["a", "1", "1", "2"], ["b", "1", "0", "3"], ["c", "2", "3", "0"]], "zeros on its diagonal"),
])
def test_rdm_errors(tmp_path, rows, message):
    write_csv(tmp_path / "rdm.csv", ["sound_id", "a", "b", "c"], rows)
    with pytest.raises(AudioprobeError, match=message):
        read_rdm(tmp_path / "rdm.csv", ["a", "b", "c"])
    write_csv(tmp_path / "rdm.csv", ["sound_id", "a", "b", "z"], rows)
    with pytest.raises(AudioprobeError, match="header must be"):
        read_rdm(tmp_path / "rdm.csv", ["a", "b", "c"])


def test_similarity_study_without_dimensions(tmp_path, rng):
    folder = make_folder(tmp_path / "d", rng, judgments=False)
    (folder / "dataset.yaml").write_text(yaml.safe_dump({"name": "ratings"}))
    (folder / "labels.csv").unlink()
    ids = [f"s{i}" for i in range(4)]
    m = _rdm(rng, 4)
    write_csv(folder / "rdm.csv", ["sound_id", *ids], [[sid, *(repr(float(v)) for v in row)] for sid, row in zip(ids, m)])
    s = load_folder(folder)
    assert s.dimensions == {} and s.rdm.shape == (4, 4)


# ---------------------------------------------------------------------------------------------
# Export and reload


def test_export_reload_same_fingerprint_small(tmp_path, rng):
    folder = make_folder(tmp_path / "d", rng, responses=True, rates=[16000, 22050, 16000, 8000], channels=[1, 2, 1, 1])
    ids = ["s3", "s2", "s1", "s0"]
    m = _rdm(rng, 4)
    write_csv(folder / "rdm.csv", ["sound_id", *ids], [[sid, *(repr(float(v)) for v in row)] for sid, row in zip(ids, m)])
    s = load_folder(folder)
    again = load_folder(export_folder(s, tmp_path / "copy"))
    assert again.fingerprint() == s.fingerprint()
    assert again.sound_ids == s.sound_ids and again.listeners == s.listeners


def test_export_reload_impacts_same_fingerprint(tmp_path):
    from audioprobe.stimuli.synthetic.impacts import load_impacts

    s = load_impacts()
    again = load_folder(export_folder(s, tmp_path / "impacts"))
    assert again.fingerprint() == s.fingerprint()
    assert again.synthetic and again.labels == s.labels
    for d in s.dimensions:
        np.testing.assert_array_equal(again.responses[d], s.responses[d])


def test_exported_folder_gives_the_same_scores(tmp_path):
    """Done-when of the stimulus issue: `--data DIR` after `export-dataset impacts DIR` scores the same."""
    from audioprobe.stimuli.synthetic.impacts import load_impacts
    from audioprobe.runner import RunOptions, Runner
    from audioprobe.taskconfig import discover_tasks, select_tasks

    export_folder(load_impacts(), tmp_path / "impacts")
    tasks = select_tasks("rsa-material,rsa-physical-extent", discover_tasks())
    scores = []
    for data in (None, str(tmp_path / "impacts")):
        opts = RunOptions(output_dir=tmp_path / f"out-{data is None}", device="cpu", limit=40, data=data,
                          progress=False)
        results = Runner(opts).run([("logmel", {})], tasks)
        scores.append([(r["task"]["name"], r["dataset"]["fingerprint"], r["scores"]) for r in results])
    assert scores[0] == scores[1]
