"""`hf:ORG/NAME[@revision]` stimulus sets, built locally as the Hub stores them (parquet + features).

The dataset is written with pyarrow exactly as `datasets` lays it out on the Hub (audio as a
struct {bytes, path}, the features in the `huggingface` schema metadata) and placed in a fake Hub
cache, so the real `snapshot_download` and `load_dataset` code paths read it offline.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf

from audioprobe.errors import AudioprobeError
from audioprobe.stimuli import resolve_dataset
from tests.hubfake import add_to_hub_cache

COMMIT = "0123456789abcdef0123456789abcdef01234567"
MATERIALS = ["wood", "metal", "glass"]


@pytest.fixture(autouse=True)
def _datasets_cache(tmp_path, monkeypatch):
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache")


def _wav(x: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def _parquet(rows: dict, features) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pydict(rows, schema=features.arrow_schema)
    table = table.replace_schema_metadata({"huggingface": json.dumps({"info": {"features": features.to_dict()}})})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def make_rows(rng, n=4, with_responses=True, audio_bytes=None):
    from datasets import Audio, ClassLabel, Features, List, Value

    feats = {"sound_id": Value("string"), "audio": Audio(),
             "judgments": {"material": {c: Value("int64") for c in MATERIALS},
                           "hollowness": {"full": Value("int64"), "hollow": Value("int64")}},
             "material": ClassLabel(names=MATERIALS), "size_cm": Value("float64")}
    waves = [(rng.standard_normal(800 + 400 * i) * 0.1).astype(np.float32) for i in range(n)]
    resp_mat = rng.integers(-1, 3, size=(n, 5))
    resp_mat[:, 0] = rng.integers(0, 3, size=n)  # everyone judged by at least one listener
    resp_hol = rng.integers(0, 2, size=(n, 5))
    rows = {
        "sound_id": [f"s{i}" for i in range(n)],
        "audio": [{"bytes": audio_bytes[i] if audio_bytes else _wav(w, 16000 if i % 2 else 22050), "path": f"s{i}.wav"}
                  for i, w in enumerate(waves)],
        "judgments": [{"material": {c: int((resp_mat[i] == k).sum()) for k, c in enumerate(MATERIALS)},
                       "hollowness": {c: int((resp_hol[i] == k).sum()) for k, c in enumerate(["full", "hollow"])}}
                      for i in range(n)],
        "material": [i % 3 for i in range(n)],
        "size_cm": [float(10 + i) for i in range(n)],
    }
    if with_responses:
        feats["responses"] = {"material": List(ClassLabel(names=MATERIALS)),
                              "hollowness": List(ClassLabel(names=["full", "hollow"]))}
        rows["responses"] = [{"material": resp_mat[i].tolist(), "hollowness": resp_hol[i].tolist()} for i in range(n)]
    return rows, Features(feats), waves


def publish(hub_cache, rows, features, repo="lab/impacts-real", commit=COMMIT):
    add_to_hub_cache(hub_cache, repo, {"data/train-00000-of-00001.parquet": _parquet(rows, features)},
                     commit, repo_type="dataset")


def test_hub_dataset_loads_through_real_clients(hub_cache, rng):
    rows, feats, waves = make_rows(rng)
    publish(hub_cache, rows, feats)
    s = resolve_dataset(f"hf:lab/impacts-real@{COMMIT}")
    assert s.sound_ids == ["s0", "s1", "s2", "s3"]
    assert s.dimensions == {"material": MATERIALS, "hollowness": ["full", "hollow"]}
    assert s.source == f"hf:lab/impacts-real@{COMMIT}"
    assert s.labels["material"] == ["wood", "metal", "glass", "wood"]  # ClassLabel -> names
    assert s.labels["size_cm"] == ["10.0", "11.0", "12.0", "13.0"]
    for i, w in enumerate(waves):
        got, sr = s.audio(i)
        assert sr == (16000 if i % 2 else 22050)
        np.testing.assert_array_equal(got, w)  # float WAV bytes decode bit for bit
    # counts from the judgments column agree with the per-listener responses
    implied = s.counts_from_responses()
    for d in s.dimensions:
        np.testing.assert_array_equal(implied[d], s.judgments[d])
    assert s.responses["material"].shape == (5, 4)
    assert s.listeners == [f"L{j:02d}" for j in range(5)]
    # the unpinned name resolves refs/main to the same commit
    assert resolve_dataset("hf:lab/impacts-real").fingerprint() == s.fingerprint()


def test_hub_dataset_counts_only(hub_cache, rng):
    rows, feats, _ = make_rows(rng, with_responses=False)
    publish(hub_cache, rows, feats)
    s = resolve_dataset("hf:lab/impacts-real")
    assert s.responses is None
    assert s.judgments["material"].sum(axis=1).min() >= 1


def test_hub_dataset_errors(hub_cache, rng):
    with pytest.raises(AudioprobeError, match="cannot fetch|no such"):
        resolve_dataset("hf:lab/absent")
    with pytest.raises(AudioprobeError, match="not a Hub dataset id"):
        resolve_dataset("hf:no-slash")
    rows, feats, _ = make_rows(rng, audio_bytes=[b"not audio"] * 4)
    publish(hub_cache, rows, feats, repo="lab/bad-audio")
    with pytest.raises(AudioprobeError, match="s0.*cannot be read as audio"):
        resolve_dataset("hf:lab/bad-audio")
    rows, feats, _ = make_rows(rng)
    rows["sound_id"][1] = "s0"
    publish(hub_cache, rows, feats, repo="lab/dup")
    with pytest.raises(AudioprobeError, match="'s0' appears twice"):
        resolve_dataset("hf:lab/dup")
    rows, feats, _ = make_rows(rng, with_responses=False)
    rows["judgments"][2]["material"]["wood"] = -1
    publish(hub_cache, rows, feats, repo="lab/negative")
    with pytest.raises(AudioprobeError, match="negative count for sound 's2'"):
        resolve_dataset("hf:lab/negative")
    rows, feats, _ = make_rows(rng, with_responses=False)
    rows["judgments"][3]["hollowness"] = {"full": 0, "hollow": 0}
    publish(hub_cache, rows, feats, repo="lab/unjudged")
    with pytest.raises(AudioprobeError, match="'s3' has no judgments on dimension 'hollowness'"):
        resolve_dataset("hf:lab/unjudged")


def test_hub_response_outside_the_categories_is_named(hub_cache, rng):
    rows, feats, _ = make_rows(rng)
    rows["responses"][2]["material"][1] = 7  # only 3 materials
    publish(hub_cache, rows, feats, repo="lab/bad-response")
    with pytest.raises(AudioprobeError, match=r"sound 's2', listener 1: response 7 on 'material' is not a category"):
        resolve_dataset("hf:lab/bad-response")
