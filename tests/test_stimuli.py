"""The folder format: loading, every validation error, rdm.csv layouts, export and reload."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf
import yaml

from audioprobe.errors import AudioprobeError
from audioprobe.frontend import FrontEnd
from audioprobe.stimuli import StimulusSet, export_folder, load_folder, read_rdm

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
    # missing cells and a non-zero diagonal are allowed (tests/test_real_matrices.py); these are not
    ([["a", "", "inf", ""], ["b", "", "", "3"], ["c", "", "", ""]], r"line 2, column 3: 'inf' is not a finite number"),
    ([["a", "0", "", ""], ["b", "", "0", "NaN"], ["c", "", "", "0"]], "no value off its diagonal"),
    ([["b", "0", "1", "2"], ["a", "1", "0", "3"], ["c", "2", "3", "0"]], "same ids in the same order"),
    ([["a", "1", "1", "2"], ["b", "1", "0", "3"], ["c", "2.5", "3", "0"]], r"not symmetric \(line 2, column 4"),
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
    from audioprobe.runner import Runner, RunOptions
    from audioprobe.stimuli.synthetic.impacts import load_impacts
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


# ---------------------------------------------------------------------------------------------
# Counting responses: one function, used by every loader and by the noise ceilings


def test_counts_from_responses_counts_answers_and_skips_missing(rng):
    from audioprobe.metrics.responses import counts_from_responses

    resp = rng.integers(-1, 4, size=(6, 9))
    expected = np.zeros((9, 4), np.int64)
    for row in resp:  # the definition, written out
        for i, k in enumerate(row):
            if k >= 0:
                expected[i, k] += 1
    got = counts_from_responses(resp, 4)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(counts_from_responses(np.full((3, 2), -1), 5), np.zeros((2, 5), np.int64))
    np.testing.assert_array_equal(counts_from_responses(np.zeros((0, 4), np.int64), 2), np.zeros((4, 2), np.int64))
    for bad in ([[0, 3]], [[0, -2]]):  # a code that is neither a category nor "no response"
        with pytest.raises(ValueError, match="category indices"):
            counts_from_responses(np.array(bad), 3)
    with pytest.raises(ValueError, match="integer"):
        counts_from_responses(np.zeros((2, 2)), 3)
    with pytest.raises(ValueError, match="n_listeners, n_sounds"):
        counts_from_responses(np.zeros(3, np.int64), 3)


def test_every_counter_agrees(tmp_path, rng):
    """Folder loader, StimulusSet.counts_from_responses and the split-half ceiling count alike."""
    from audioprobe.metrics import ceiling
    from audioprobe.metrics.responses import counts_from_responses

    s = load_folder(make_folder(tmp_path / "d", rng, responses=True))
    for d, cats in s.dimensions.items():
        np.testing.assert_array_equal(s.counts_from_responses()[d], counts_from_responses(s.responses[d], len(cats)))
        np.testing.assert_array_equal(s.judgments[d], counts_from_responses(s.responses[d], len(cats)))
    seen = []
    ceiling.split_half_reliability(
        s.responses, {d: len(c) for d, c in s.dimensions.items()},
        lambda counts: seen.append(counts) or np.arange(6.0), lambda a, b: np.zeros(len(a)), rng, n_splits=2)
    assert all(c["material"].sum() == len(s) for c in seen[::2])  # one listener of three per first half


# ---------------------------------------------------------------------------------------------
# Registered names


def tiny_tones() -> "StimulusSet":
    """A named set built in code (the pattern CONTRIBUTING.md, "Add a stimulus set", shows)."""
    from audioprobe.stimuli import StimulusSet

    freqs = [220.0, 330.0, 440.0, 660.0]
    sr = 16000
    t = np.arange(int(0.1 * sr)) / sr
    return StimulusSet(
        name="tiny-tones", sound_ids=[f"tone{int(f)}" for f in freqs], dimensions={"pitch": ["low", "high"]},
        labels={"pitch": ["low", "low", "high", "high"]},
        judgments={"pitch": np.array([[3, 0], [2, 1], [1, 2], [0, 3]])},
        load_audio=lambda i: ((0.1 * np.sin(2 * np.pi * freqs[i] * t)).astype(np.float32), sr),
        synthetic=True, source="tests:tiny-tones",
    ).validate()


def test_registered_name_resolves_lazily(monkeypatch):
    from audioprobe.errors import UnknownNameError
    from audioprobe.stimuli import DATASETS, resolve_dataset

    monkeypatch.setitem(DATASETS, "tiny-tones", "tests.test_stimuli:tiny_tones")
    s = resolve_dataset("tiny-tones")
    assert s.name == "tiny-tones" and len(s) == 4 and s.fingerprint() == tiny_tones().fingerprint()
    with pytest.raises(UnknownNameError, match="Did you mean 'tiny-tones'"):
        resolve_dataset("tiny-tone")
    monkeypatch.setitem(DATASETS, "broken", "tests.test_stimuli:no_such_function")
    with pytest.raises(AudioprobeError, match="'broken' is registered as 'tests.test_stimuli:no_such_function'"):
        resolve_dataset("broken")
    monkeypatch.setitem(DATASETS, "not-a-set", "tests.test_stimuli:not_a_set")
    for _ in range(2):  # named as module:function whether or not the loader is already imported
        with pytest.raises(AudioprobeError, match="'not-a-set': tests.test_stimuli:not_a_set returned int"):
            resolve_dataset("not-a-set")


def not_a_set() -> int:
    """A registered loader that returns something else than a StimulusSet."""
    return 3


# ---------------------------------------------------------------------------------------------
# Package structure: no engine imports, no import cycle, a light import


#: What audioprobe.stimuli may import from audioprobe: errors, file primitives, the Registry type, metrics,
#: itself.
ALLOWED_INSIDE = ("audioprobe.errors", "audioprobe.files", "audioprobe.registry", "audioprobe.metrics",
                  "audioprobe.stimuli")
ENGINE = ("audioprobe.runner", "audioprobe.cli", "audioprobe.cache", "audioprobe.extract", "audioprobe.results",
          "audioprobe.tasktypes", "audioprobe.taskconfig", "audioprobe.models.registry", "audioprobe.models")


def _stimuli_modules():
    """{module name: path} of every module under harness/stimuli/."""
    from pathlib import Path

    import audioprobe.stimuli

    root = Path(audioprobe.stimuli.__path__[0])
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(["audioprobe.stimuli", *parts])] = path
    return out


def _imports(name, path, modules):
    """Every module `name` imports, at module or function level (relative imports resolved)."""
    import ast

    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # `from pkg import module` imports the module
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("audioprobe.") \
                and ":" in node.value:
            found.add(node.value.split(":")[0])  # a lazy "module:function" target is an edge too
    return found


def test_stimuli_import_no_engine_module():
    modules = _stimuli_modules()
    assert "audioprobe.stimuli.stimulus_set" in modules and "audioprobe.stimuli.synthetic.impacts" in modules
    bad = []
    for name, path in modules.items():
        for imp in _imports(name, path, modules):
            if imp.startswith("audioprobe") and not any(imp == a or imp.startswith(a + ".") for a in ALLOWED_INSIDE):
                engine = " (an engine module)" if any(imp == e or imp.startswith(e + ".") for e in ENGINE) else ""
                bad.append(f"{path.name} imports {imp}{engine}")
    assert not bad, "audioprobe.stimuli may import only " + ", ".join(ALLOWED_INSIDE) + ": " + "; ".join(bad)


def test_stimuli_has_no_import_cycle():
    modules = _stimuli_modules()
    graph = {name: {m for m in _imports(name, path, modules) if m in modules and m != name}
             for name, path in modules.items()}
    # The model knows no source: nothing of the package below it but what it defines itself.
    assert graph["audioprobe.stimuli.stimulus_set"] == set()
    assert graph["audioprobe.stimuli.audio"] == set()
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_import_and_listing_stay_light():
    import subprocess
    import sys

    heavy = ("torch", "sklearn", "datasets", "transformers", "scipy", "huggingface_hub")
    code = ("import sys; import audioprobe.stimuli; "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
    code = ("import sys; from audioprobe.cli import main; main(['list', 'datasets']); "
            "print(sorted(m for m in ('torch', 'sklearn', 'datasets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "impacts" in out and out.strip().splitlines()[-1] == "[]"
