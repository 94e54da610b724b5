"""A tiny module implementing the HEAR 2021 API (hearbenchmark/hear-baseline), for the tests.

Frames of 25 ms every 10 ms at 16 kHz, each projected by fixed random weights and squashed.
A sound shorter than one frame is zero-padded to one frame, as HEAR modules pad their input.
"""

from __future__ import annotations

import numpy as np
import torch

FRAME, HOP = 400, 160


class ToyModel(torch.nn.Module):
    sample_rate = 16000
    scene_embedding_size = timestamp_embedding_size = 6

    def __init__(self, weights: np.ndarray | None = None):
        super().__init__()
        if weights is None:
            weights = np.random.default_rng(0).standard_normal((FRAME, 6)) / np.sqrt(FRAME)
        self.register_buffer("weights", torch.as_tensor(weights, dtype=torch.float32))


def load_model(model_file_path: str = "") -> ToyModel:
    return ToyModel(np.load(model_file_path) if model_file_path else None)


def get_timestamp_embeddings(audio: torch.Tensor, model: ToyModel) -> tuple[torch.Tensor, torch.Tensor]:
    if audio.ndim != 2:
        raise ValueError("audio must be (n_sounds, n_samples)")
    n = audio.shape[1]
    if n < FRAME:
        audio = torch.nn.functional.pad(audio, (0, FRAME - n))
    model = model.to(audio.device)  # HEAR modules follow the audio's device (hear-baseline does the same)
    frames = audio.unfold(1, FRAME, HOP)  # (n_sounds, n_frames, FRAME)
    embeddings = torch.tanh(frames @ model.weights)
    timestamps = (torch.arange(frames.shape[1]) * HOP + FRAME / 2) / model.sample_rate * 1000.0
    return embeddings, timestamps.expand(audio.shape[0], -1)


def get_scene_embeddings(audio: torch.Tensor, model: ToyModel) -> torch.Tensor:
    return get_timestamp_embeddings(audio, model)[0].mean(dim=1)
