"""Small deterministic wrappers for harness tests (no weights to download).

`FrameProjection` cuts a waveform into 10 ms frames and passes them through fixed random
projections, so it has several layers, a known frame count and exact batch invariance.
"""

from __future__ import annotations

import torch

from audioprobe.models.base import AudioModel, LayerActivations, ModelMeta


class FrameProjection(AudioModel):
    meta = ModelMeta(name="toy-frames", family="toy", description="fixed random projections of 10 ms frames",
                     sample_rate=8000, training="none", n_parameters=0)
    arg_types = {"dim": int, "seed": int}
    frame = 80  # 10 ms at 8 kHz

    def load(self) -> None:
        g = torch.Generator().manual_seed(self.args.get("seed", 0))
        dim = self.args.get("dim", 6)
        self.weights = [torch.randn(self.frame, dim, generator=g), torch.randn(dim, dim, generator=g)]

    def layers(self) -> list[str]:
        return ["proj1", "proj2"]

    def forward(self, waveforms, lengths):
        n_frames = lengths // self.frame
        frames = waveforms[:, : waveforms.shape[1] // self.frame * self.frame].reshape(waveforms.shape[0], -1, self.frame)
        h1 = torch.tanh(frames @ self.weights[0])
        h2 = torch.tanh(h1 @ self.weights[1])
        return {"proj1": LayerActivations(h1, n_frames), "proj2": LayerActivations(h2, n_frames)}


def register_toy(monkeypatch, name: str, cls, preset_args: dict | None = None) -> None:
    """Register wrapper `cls` as model `name` (with preset args) for one test: undone by `monkeypatch`."""
    from audioprobe.models.registry import MODELS
    from audioprobe.registry import Entry

    monkeypatch.setitem(MODELS._entries, name, Entry(name, cls, info={"args": dict(preset_args or {})}))
