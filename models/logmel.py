"""`logmel`: the Kaldi log-mel filter bank itself, as a one-layer "model".

The baseline any learned representation should beat, and the control regressed out in the
paper's appendix B. Its single layer is the filter-bank frames.

Arguments: `sample_rate` (default 16000; 8000..192000 Hz) and `num_mel_bins` (default 128). At any
rate the filter bank keeps Kaldi's defaults: 25 ms / 10 ms frames, the FFT the next power of two
of the window, bands from 20 Hz to the Nyquist frequency. The front end resamples every sound to
`meta.sample_rate`, which `adapt_meta` sets to the chosen rate.
"""

from __future__ import annotations

from typing import Any

import torch

from audioprobe.models.base import AudioModel, LayerActivations, ModelMeta, at_least
from audioprobe.models.catalog import CATALOG
from audioprobe.models.fbank import (
    DEFAULT_RATE,
    FbankConfig,
    arg_error,
    drop_defaults,
    fbank,
    mel_bins_problem,
    num_frames,
    rate_check,
    with_rate,
)

# Kaldi reads int16 samples; BEATs multiplies float waveforms by 2^15 for the same scale
# (BEATs.py, preprocess). The log of the mel energies depends on that scale.
INT16_SCALE = 2.0 ** 15
NUM_MEL_BINS = 128


class LogMel(AudioModel):
    meta = CATALOG["logmel"].meta  # name, description, 16 kHz, training "none"
    wrapper_version = "1"
    arg_types = {"sample_rate": int, "num_mel_bins": int}
    arg_checks = {"sample_rate": rate_check, "num_mel_bins": at_least(1)}

    def __init__(self, device: str | torch.device = "cpu", *, card: ModelMeta | None = None, **args: Any):
        super().__init__(device, card=card, **args)
        # sample_rate=16000 is the run without the argument; num_mel_bins=128 stays recorded as given,
        # as it always was (results with it are reused).
        drop_defaults(self.args, {"sample_rate": DEFAULT_RATE})
        bins = self.args.get("num_mel_bins", NUM_MEL_BINS)
        problem = mel_bins_problem(bins, self.meta.sample_rate)
        if problem:
            raise arg_error(self.meta.name, "num_mel_bins", bins, problem)

    def adapt_meta(self, card: ModelMeta) -> ModelMeta:
        return with_rate(card, self.args)

    def load(self) -> None:
        self.config = FbankConfig(sample_rate=self.meta.sample_rate,
                                  num_mel_bins=self.args.get("num_mel_bins", NUM_MEL_BINS))

    def layers(self) -> list[str]:
        return ["fbank"]

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> dict[str, LayerActivations]:
        feats = fbank(waveforms * INT16_SCALE, self.config)
        return {"fbank": LayerActivations(feats, num_frames(lengths, self.config))}
