"""HEAR modules: a toy HEAR-compliant package run as a one-layer model, and clear API errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from audioprobe.errors import AudioprobeError
from audioprobe.models import hear as H
from audioprobe.models.registry import create_model


@pytest.fixture(autouse=True)
def toy_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # makes `hear_toy` importable, as if installed
    monkeypatch.setattr(H, "_LOADED", {})


def test_toy_module_runs_and_matches_the_module_itself(rng):
    import hear_toy

    model = create_model("hear:hear_toy")
    assert model.meta.name == "hear:hear_toy" and model.meta.sample_rate == 16000
    assert model.meta.revision is None  # not an installed distribution
    model.load()
    waves = [rng.standard_normal(4000).astype(np.float32), rng.standard_normal(1000).astype(np.float32)]
    batch = torch.zeros(2, 4000)
    batch[0], batch[1, :1000] = torch.from_numpy(waves[0]), torch.from_numpy(waves[1])
    out = model.forward(batch, torch.tensor([4000, 1000]))
    assert model.layers() == list(out) == ["timestamp_embedding"]
    acts = out["timestamp_embedding"]
    assert acts.n_frames.tolist() == [1 + (4000 - 400) // 160, 1 + (1000 - 400) // 160]
    toy = hear_toy.load_model()
    for i, w in enumerate(waves):
        ref, _ = hear_toy.get_timestamp_embeddings(torch.from_numpy(w)[None], toy)
        torch.testing.assert_close(acts.values[i, : int(acts.n_frames[i])], ref[0])


def test_checkpoint_becomes_model_file_path(tmp_path, rng):
    weights = rng.standard_normal((400, 6))
    np.save(tmp_path / "w.npy", weights)
    model = create_model("hear:hear_toy", {"checkpoint": str(tmp_path / "w.npy")})
    model.load()
    np.testing.assert_allclose(model.model.weights.numpy(), weights, rtol=1e-6)
    with pytest.raises(AudioprobeError, match="does not exist"):
        create_model("hear:hear_toy", {"checkpoint": str(tmp_path / "nope.npy")})


def test_validator_passes_on_toy_module():
    from audioprobe.validate import validate_instance

    report = validate_instance(create_model("hear:hear_toy"))
    assert report.ok, report.text()


def test_api_errors_are_clear():
    with pytest.raises(AudioprobeError, match="cannot be imported.*install"):
        create_model("hear:no_such_hear_module")
    with pytest.raises(AudioprobeError, match="does not implement the HEAR API: missing load_model"):
        create_model("hear:json")
    model = create_model("hear:hear_toy.broken")
    model.load()
    with pytest.raises(AudioprobeError, match=r"shape \(1, 3\).*n_sounds, n_timestamps, dim"):
        model.forward(torch.zeros(1, 800), torch.tensor([800]))
    with pytest.raises(AudioprobeError, match="runs at 16000 Hz"):
        create_model("hear:hear_toy", {"sample_rate": 8000}).load()
