"""A damaged activation cache entry is found, named, discarded and recomputed: never used, never a crash.

Each entry stores the SHA-256 of its arrays (cache.layers_checksum); a run reading a truncated,
bit-flipped or replaced entry (even one of the right shapes) warns with the entry's path,
recomputes the activations and gets the score an undamaged cache gives.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from audioprobe.cache import ActivationCache, load_layers, save_layers
from audioprobe.cli import main as eval_main
from audioprobe.files import default_cache_dir
from tests.test_stimuli import make_folder


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def bit_flip(path):
    data = bytearray(path.read_bytes())
    layers, _ = load_layers(path)
    needle = np.ascontiguousarray(next(iter(layers.values()))).tobytes()[:16]
    at = bytes(data).index(needle) + 3  # inside the first layer's samples
    data[at] ^= 0x10
    path.write_bytes(bytes(data))


def same_shape_garbage(path):
    """Valid npz, same names, shapes and dtypes, other values; the stored checksum kept."""
    layers, extras = load_layers(path)
    rng = np.random.default_rng(5)
    garbage = {n: rng.standard_normal(a.shape).astype(a.dtype) for n, a in layers.items()}
    save_layers(path, garbage, info=str(extras["info"]), checksum=str(extras["checksum"]))


def garbage_without_checksum(path):
    layers, extras = load_layers(path)
    save_layers(path, {n: np.ones_like(a) for n, a in layers.items()}, info=str(extras["info"]))


def wrong_rows(path):
    """A valid entry with a checksum that matches, but for another number of sounds."""
    layers, extras = load_layers(path)
    from audioprobe.cache import layers_checksum

    small = {n: a[:2] for n, a in layers.items()}
    info = str(extras["info"])
    save_layers(path, small, info=info, checksum=layers_checksum(small, info))


@pytest.mark.parametrize("damage", [truncate, bit_flip, same_shape_garbage, garbage_without_checksum, wrong_rows])
def test_damaged_entry_is_named_discarded_and_recomputed(tmp_path, caplog, capsys, damage):
    make_folder(tmp_path / "set", np.random.default_rng(0), n=6)
    args = ["--model", "logmel", "--tasks", "rsa-material", "--data", str(tmp_path / "set"),
            "--output-dir", str(tmp_path / "out"), "-q", "--overwrite"]
    assert eval_main(args) == 0
    result = next((tmp_path / "out").rglob("rsa-material.json"))
    first = json.loads(result.read_text())["scores"]["headline"]["value"]
    entries = list(default_cache_dir().rglob("*.npz"))
    assert len(entries) == 1
    damage(entries[0])
    caplog.set_level(logging.WARNING)
    assert eval_main(args) == 0
    assert f"activation cache entry {entries[0]} is damaged" in caplog.text
    again = json.loads(result.read_text())
    assert again["timing"]["activations_cached"] is False  # recomputed, not read
    assert again["scores"]["headline"]["value"] == first
    caplog.clear()
    assert eval_main(args) == 0  # the rewritten entry is whole again
    assert "damaged" not in caplog.text
    assert json.loads(result.read_text())["timing"]["activations_cached"] is True
    assert "Traceback" not in capsys.readouterr().err


def test_unwritable_cache_costs_a_warning_not_the_run(tmp_path, caplog, monkeypatch):
    cache = ActivationCache(tmp_path / "c")
    import audioprobe.cache as cache_module

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cache_module, "atomic_write_bytes", refuse)
    caplog.set_level(logging.WARNING)
    cache.put("ab" * 32, {"l": np.ones((2, 2), np.float32)}, {})
    assert "cannot write the activation cache" in caplog.text and "Permission denied" in caplog.text
    assert cache.get("ab" * 32) is None
