"""The activation cache: arrays only, written atomically, a corrupt entry is a miss.

What goes into its keys is tested in test_identity.py."""

from __future__ import annotations

import numpy as np

from audioprobe.cache import ActivationCache, load_layers, save_layers


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


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    import os
    import stat

    from audioprobe.files import atomic_write_bytes

    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "r.json", lambda fh: fh.write(b"{}"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644  # not the 0600 of a temporary file
