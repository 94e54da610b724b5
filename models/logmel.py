"""`logmel`: the Kaldi log-mel filter bank itself, as a one-layer "model".

The baseline any learned representation should beat, and the control regressed out in the
paper's appendix B. Its single layer is the filter-bank frames.
"""

from __future__ import annotations

import torch

from audioprobe.models.base import AudioModel, LayerActivations, at_least
from audioprobe.models.catalog import CATALOG
from audioprobe.models.fbank import FbankConfig, fbank, num_frames

# Kaldi reads int16 samples; BEATs multiplies float waveforms by 2^15 for the same scale
# (BEATs.py, preprocess). The log of the mel energies depends on that scale.
INT16_SCALE = 2.0 ** 15


class LogMel(AudioModel):
    meta = CATALOG["logmel"].meta  # name, description, 16 kHz, training "none"
    wrapper_version = "1"
    arg_types = {"num_mel_bins": int}
    arg_checks = {"num_mel_bins": at_least(1)}

    def load(self) -> None:
        self.config = FbankConfig(sample_rate=self.meta.sample_rate, num_mel_bins=self.args.get("num_mel_bins", 128))

    def layers(self) -> list[str]:
        return ["fbank"]

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> dict[str, LayerActivations]:
        feats = fbank(waveforms * INT16_SCALE, self.config)
        return {"fbank": LayerActivations(feats, num_frames(lengths, self.config))}
