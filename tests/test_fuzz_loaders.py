"""Property-based fuzzing of the two loaders that read user files: task YAML and stimulus folders.

Random mutations of valid files (keys dropped, added or retyped; cells, ids and matrix entries
replaced; rows dropped or repeated; files truncated, re-encoded, replaced by bytes or removed)
must either load or raise the project's own `AudioprobeError`: no other exception escapes.
Derandomised and small (a few dozen examples each) so the suite stays fast and repeatable.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audioprobe.errors import AudioprobeError
from audioprobe.stimuli import load_folder
from audioprobe.taskconfig import load_task
from tests.test_stimuli import make_folder

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

VALID_TASK = {"task": "fuzz", "version": 1, "description": "d", "tags": ["a"], "dataset": "impacts", "type": "rsa",
              "dimensions": ["material", "extent"], "target": "kl", "smoothing": 0.5, "bootstrap": 10,
              "permutations": 0, "cv_splits": 0, "ceiling_splits": 0, "control": "logmel", "pooling": "mean"}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["rsa", "abx", "transfer", "logmel", "hear:x", "hf:a/b",
                                                           "material", "../x", "nan", "-1", "", "_d.yaml"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)
task_keys = st.sampled_from([*VALID_TASK, "include", "cv", "type", "ci_level", "resample", "control_layer", "comparison"])


def _encode(text: str, how: str) -> bytes:
    if how == "utf-16":
        return text.encode("utf-16")
    if how == "latin-1":
        return (text + "# é ü\n").encode("latin-1", "replace")
    return text.encode("utf-8")


@st.composite
def task_files(draw) -> bytes:
    data = dict(VALID_TASK)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["drop", "set", "set", "retype"]))
        key = draw(task_keys)
        if op == "drop":
            data.pop(key, None)
        elif op == "set":
            data[key] = draw(values)
        else:
            data[key] = draw(scalars)
    text = yaml.safe_dump(data, allow_unicode=True)
    raw = _encode(text, draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "latin-1"])))
    cut = draw(st.sampled_from([None, None, None, "truncate", "bytes"]))
    if cut == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif cut == "bytes":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    return raw


@SETTINGS
@given(raw=task_files(), defaults=st.one_of(st.none(), values))
def test_task_loader_raises_only_its_own_error(raw, defaults):
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "_d.yaml").write_text(yaml.safe_dump(defaults), encoding="utf-8")
        path = Path(tmp) / "fuzz.yaml"
        path.write_bytes(raw)
        try:
            task = load_task(path)
        except AudioprobeError:
            return
        task.config_hash()  # a loaded task is usable


FILES = ["dataset.yaml", "labels.csv", "judgments.csv", "responses.csv", "rdm.csv"]
cells = st.one_of(st.sampled_from(["", "s0", "s1", "s9", "../x", "/abs", "wood", "metal", "small", "material", "size",
                                   "L0", "-1", "0", "3", "1e309", "nan", "inf", " s0", ".h", "a/b"]),
                  st.text(max_size=6))


def _rdm_rows(ids):
    rng = np.random.default_rng(0)
    m = rng.random((len(ids), len(ids)))
    m = m + m.T
    np.fill_diagonal(m, 0)
    return [["sound_id", *ids], *[[sid, *map(str, row)] for sid, row in zip(ids, m)]]


def _read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _write_rows(path: Path, rows) -> None:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


@st.composite
def folder_mutations(draw):
    return [(draw(st.sampled_from([*FILES, "sound"])), draw(st.sampled_from(
        ["cell", "cell", "cell", "drop_row", "dup_row", "truncate", "utf-16", "bytes", "remove", "yaml"])),
        draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6)), draw(cells), draw(values))
        for _ in range(draw(st.integers(1, 3)))]


def _mutate(d: Path, target: str, op: str, i: int, j: int, cell: str, value) -> None:
    if target == "sound":
        sounds = sorted((d / "sounds").iterdir())
        if not sounds:
            return
        f = sounds[i % len(sounds)]
        if op == "remove":
            f.unlink()
        elif op in ("cell", "yaml"):
            f.rename(f.with_name(f"{cell or 'x'}.wav".replace("/", "_").replace("\0", "_")))
        else:
            f.write_bytes(f.read_bytes()[: j % max(1, f.stat().st_size)])
        return
    path = d / target
    if not path.is_file():
        return
    if op == "remove":
        path.unlink()
    elif op == "truncate":
        path.write_bytes(path.read_bytes()[: i % max(1, path.stat().st_size)])
    elif op == "utf-16":
        path.write_bytes(path.read_bytes().decode("utf-8", "replace").encode("utf-16"))
    elif op == "bytes":
        raw = path.read_bytes()
        at = i % (len(raw) + 1)
        path.write_bytes(raw[:at] + bytes([j % 256, (j >> 8) % 256]) + raw[at:])
    elif target == "dataset.yaml":
        try:
            meta = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError):
            return
        if not isinstance(meta, dict):
            return
        key = ["name", "dimensions", "sample_rate", "synthetic", "extra", "description"][i % 6]
        meta[key] = value if op == "yaml" else cell
        path.write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
    else:
        try:
            rows = _read_rows(path)
        except (UnicodeDecodeError, csv.Error):
            return
        if not rows:
            return
        r = i % len(rows)
        if op == "drop_row":
            del rows[r]
        elif op == "dup_row":
            rows.insert(r, list(rows[r]))
        elif rows[r]:
            rows[r][j % len(rows[r])] = cell
        _write_rows(path, rows)


@SETTINGS
@given(mutations=folder_mutations())
def test_folder_loader_raises_only_its_own_error(mutations):
    with tempfile.TemporaryDirectory() as tmp:
        d = make_folder(Path(tmp) / "set", np.random.default_rng(0), n=4, responses=True)
        _write_rows(d / "rdm.csv", _rdm_rows([f"s{i}" for i in range(4)]))
        for m in mutations:
            _mutate(d, *m)
        try:
            s = load_folder(d)
            s.fingerprint()  # decodes every sound
        except AudioprobeError:
            return
