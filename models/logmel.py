"""`logmel`: the Kaldi log-mel filter bank itself, as a one-layer "model".

The baseline any learned representation should beat, and the control regressed out in the
paper's appendix B. Its single layer is the filter-bank frames.
"""

from __future__ import annotations

import torch

from audioprobe.models.fbank import FbankConfig, fbank, num_frames
from audioprobe.models.base import AudioModel, LayerActivations, ModelMeta

# Kaldi reads int16 samples; BEATs multiplies float waveforms by 2^15 for the same scale
# (BEATs.py, preprocess). The log of the mel energies depends on that scale.
INT16_SCALE = 2.0 ** 15


class LogMel(AudioModel):
    meta = ModelMeta(
        name="logmel",
        family="baseline",
        description="Kaldi log-mel filter bank (128 bins, 25 ms / 10 ms), no learned weights.",
        sample_rate=16000,
        training="none",
        license="n/a",
        n_parameters=0,
    )
    wrapper_version = "1"
    arg_types = {"num_mel_bins": int}

    def load(self) -> None:
        self.config = FbankConfig(sample_rate=self.meta.sample_rate, num_mel_bins=self.args.get("num_mel_bins", 128))

    def layers(self) -> list[str]:
        return ["fbank"]

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> dict[str, LayerActivations]:
        feats = fbank(waveforms * INT16_SCALE, self.config)
        return {"fbank": LayerActivations(feats, num_frames(lengths, self.config))}
