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
