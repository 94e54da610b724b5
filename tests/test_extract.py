"""Pooling reads only valid frames; extraction is independent of batching and padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audioprobe.errors import AudioprobeError
from audioprobe.extract import batches_by_length, run_model
from audioprobe.pooling import pool
from tests.toymodels import FrameProjection


def test_pooling_ignores_padding(rng):
    values = torch.from_numpy(rng.standard_normal((3, 10, 4)))
    n = torch.tensor([10, 4, 1])
    mean, mx, ms = (pool(values, n, how).numpy() for how in ("mean", "max", "mean+std"))
    for b, k in enumerate(n.tolist()):
        valid = values[b, :k].numpy()
        np.testing.assert_allclose(mean[b], valid.mean(0), rtol=1e-12)
        np.testing.assert_allclose(mx[b], valid.max(0), rtol=1e-12)
        np.testing.assert_allclose(ms[b], np.concatenate([valid.mean(0), valid.std(0)]), rtol=1e-12, atol=1e-15)


def test_pooling_rejects_frameless_sound():
    with pytest.raises(ValueError, match="no frames"):
        pool(torch.zeros(1, 3, 2), torch.tensor([0]), "mean")


def test_batches_group_similar_lengths():
    lengths = [5, 100, 7, 99, 6, 98]
    batches = batches_by_length(lengths, 2)
    assert batches == [[1, 3], [5, 2], [4, 0]]
    assert sorted(i for b in batches for i in b) == list(range(6))


def test_extraction_does_not_depend_on_batch_size(rng):
    model = FrameProjection()
    model.load()
    waves = [rng.standard_normal(int(n)).astype(np.float32) for n in rng.integers(800, 4000, size=9)]
    one = run_model(model, waves, ["mean", "max"], batch_size=1, progress=False)
    many = run_model(model, waves, ["mean", "max"], batch_size=4, progress=False)
    for pooling in ("mean", "max"):
        for layer in ("proj1", "proj2"):
            np.testing.assert_allclose(one[pooling][layer], many[pooling][layer], rtol=1e-5, atol=1e-6)
    # row i is sound i, whatever the internal length order
    alone = run_model(model, [waves[3]], ["mean"], batch_size=1, progress=False)
    np.testing.assert_allclose(alone["mean"]["proj2"][0], many["mean"]["proj2"][3], rtol=1e-5, atol=1e-6)


def test_layers_must_match_declaration(rng):
    class Liar(FrameProjection):
        def layers(self):
            return ["proj2", "proj1"]

    model = Liar()
    model.load()
    with pytest.raises(AudioprobeError, match="same names in the same order"):
        run_model(model, [np.zeros(1600, np.float32)], ["mean"], 2, progress=False)


def test_two_stimulus_sets_through_one_cache(tmp_path, rng):
    """Two sets with the same name and ids but different sounds share one cache: each gets its own
    activations (the key holds the set's fingerprint, not its name); the same set again is a hit."""
    from audioprobe.cache import ActivationCache
    from audioprobe.extract import Extractor, prepare_waveforms
    from audioprobe.stimuli import StimulusSet

    def stimset(waves):
        return StimulusSet(name="same-name", sound_ids=[f"s{i}" for i in range(len(waves))], dimensions={},
                           labels={}, judgments={}, load_audio=lambda i: (waves[i], 8000))

    a = stimset([rng.standard_normal(1600).astype(np.float32) for _ in range(3)])
    b = stimset([rng.standard_normal(1600).astype(np.float32) for _ in range(3)])
    model = FrameProjection()
    model.load()
    cache = ActivationCache(tmp_path)
    extractor = Extractor(model, batch_size=2, cache=cache, progress=False)
    got_a, info_a = extractor.extract(a, ["mean"])
    got_b, info_b = extractor.extract(b, ["mean"])
    assert not info_a["cached"] and not info_b["cached"] and info_b["n_forward"] == 3
    for s, got in ((a, got_a), (b, got_b)):
        direct = run_model(model, prepare_waveforms(s, extractor.frontend), ["mean"], 2, progress=False)
        for layer in ("proj1", "proj2"):
            np.testing.assert_allclose(got["mean"][layer], direct["mean"][layer], rtol=1e-6)
    assert not np.allclose(got_a["mean"]["proj2"], got_b["mean"]["proj2"])
    assert len(list(tmp_path.rglob("*.npz"))) == 2
    again, info = Extractor(model, batch_size=3, cache=cache, progress=False).extract(a, ["mean"])
    assert info["cached"] and info["n_forward"] == 0
    np.testing.assert_array_equal(again["mean"]["proj2"], got_a["mean"]["proj2"])


def test_a_long_extraction_says_how_far_it_is(monkeypatch):
    """Without a progress bar (a log, a sweep job) the extraction writes a line every STATUS_EVERY_S seconds
    with the sounds done, the rate and the time left, and one at the end: never minutes of silence."""
    from audioprobe import extract

    model = FrameProjection()
    model.load()
    waves = [np.random.default_rng(k).normal(size=800).astype(np.float32) for k in range(6)]
    lines = []
    monkeypatch.setattr(extract, "STATUS_EVERY_S", 0.0)  # every batch
    run_model(model, waves, ["mean"], batch_size=2, progress=False, status=lines.append)
    assert len(lines) == 3  # after batches 1 and 2 (not after the last), then the end
    assert lines[0].startswith("toy-frames: extracting activations, 2/6 sounds (") and "left)" in lines[0]
    assert lines[1].startswith("toy-frames: extracting activations, 4/6 sounds")
    assert lines[-1].startswith("toy-frames: extracted activations of 6 sounds in ")
