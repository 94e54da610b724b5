"""The activation cache: keyed by everything that changes an activation, written atomically."""

from __future__ import annotations

import os

import numpy as np
import pytest

from audioprobe.cache import ActivationCache, cache_key, load_layers, save_layers

IDENTITY = {"name": "m", "revision": "abc", "wrapper_version": "1", "args": {"x": 1}}
FRONTEND = {"target_rate": 16000, "resampler": "soxr", "quality": "HQ", "mono": "mean"}


def key(**changes):
    ident = {**IDENTITY, **changes.pop("identity", {})}
    fe = {**FRONTEND, **changes.pop("frontend", {})}
    return cache_key(ident, fe, changes.pop("pooling", "mean"), changes.pop("fingerprint", "f" * 64))


@pytest.mark.parametrize("change", [
    {"identity": {"name": "other"}},
    {"identity": {"revision": "def"}},
    {"identity": {"wrapper_version": "2"}},
    {"identity": {"args": {"x": 2}}},
    {"identity": {"precision": "fp16"}},
    {"frontend": {"target_rate": 22050}},
    {"frontend": {"quality": "VHQ"}},
    {"pooling": "max"},
    {"fingerprint": "0" * 64},
])
def test_every_ingredient_changes_the_key(change):
    assert key(**change) != key()


def test_key_is_stable_and_order_free():
    assert key() == key()
    assert cache_key({**IDENTITY, "args": {"b": 1, "a": 2}}, FRONTEND, "mean", "f") == \
        cache_key({**IDENTITY, "args": {"a": 2, "b": 1}}, FRONTEND, "mean", "f")


def test_local_checkpoint_content_changes_the_key(tmp_path):
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"weights-1")
    ident = {**IDENTITY, "args": {"checkpoint": str(ckpt)}}
    first = cache_key(ident, FRONTEND, "mean", "f")
    ckpt.write_bytes(b"weights-2, longer")
    os.utime(ckpt, ns=(1, 1))
    assert cache_key(ident, FRONTEND, "mean", "f") != first


def test_roundtrip_keeps_layer_order_and_values(tmp_path, rng):
    layers = {"z_last": rng.standard_normal((5, 3)).astype(np.float32), "a_first": rng.standard_normal((5, 7))}
    save_layers(tmp_path / "x.npz", layers, sound_ids=np.array(["s1", "s2"]), info="{}")
    back, extras = load_layers(tmp_path / "x.npz")
    assert list(back) == ["z_last", "a_first"]
    for k in layers:
        np.testing.assert_array_equal(back[k], layers[k])
    assert list(extras["sound_ids"]) == ["s1", "s2"]
    assert [p.name for p in tmp_path.iterdir()] == ["x.npz"]  # no temporary file left behind


def test_corrupt_entry_is_a_miss(tmp_path):
    cache = ActivationCache(tmp_path)
    cache.put("ab" * 32, {"l": np.ones((2, 2), np.float32)}, {"revision": "r"})
    layers, info = cache.get("ab" * 32)
    assert info["revision"] == "r"
    cache.path("ab" * 32).write_bytes(b"not a zip file")
    assert cache.get("ab" * 32) is None
    assert cache.get("cd" * 32) is None


def test_cache_location_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOPROBE_CACHE", str(tmp_path / "c"))
    assert ActivationCache().root == tmp_path / "c"


def test_checkpoint_folder_content_changes_the_key(tmp_path):
    folder = tmp_path / "pretrained"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    weights = folder / "sub" / "model.safetensors"
    weights.write_bytes(b"w1")
    ident = {**IDENTITY, "args": {"checkpoint": str(folder)}}
    first = cache_key(ident, FRONTEND, "mean", "f")
    assert cache_key(ident, FRONTEND, "mean", "f") == first
    weights.write_bytes(b"weights rewritten in place")
    assert cache_key(ident, FRONTEND, "mean", "f") != first
