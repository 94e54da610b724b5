"""`mfcc` and `spectrogram`: hand-crafted baselines beside `logmel`, no learned weights.

Both cut frames as Kaldi does (25 ms windows every 10 ms, snip edges), so a sound's frames never
read its padding and batch invariance holds exactly.

Arguments: both take `sample_rate` (default 16000; 8000..192000 Hz; the front end resamples to it,
`adapt_meta` making it `meta.sample_rate`); `mfcc` also `num_mel_bins` (default 23) and
`num_ceps` (default 13, at most num_mel_bins). At any rate the frames stay 25 ms / 10 ms, the FFT
the next power of two of the window, and the mel bands Kaldi's (20 Hz to the Nyquist frequency).
An argument given at its default is the same run as leaving it out.
"""

from __future__ import annotations

import math
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

# Kaldi reads int16-range samples; the log energies depend on that scale (as in `logmel`).
INT16_SCALE = 2.0 ** 15
# Kaldi's MfccOptions defaults (kaldi/src/feat/feature-mfcc.h): 23 mel bins, 13 cepstra, lifter
# 22, c0 replaced by the log raw frame energy (use_energy, raw_energy), energy floor 0.
MFCC_MEL_BINS = 23
MFCC_NUM_CEPS = 13
MFCC_LIFTER = 22.0
# Kaldi's floor before the log: std::numeric_limits<float>::epsilon() (feature-mfcc.cc).
LOG_FLOOR = torch.finfo(torch.float32).eps


def kaldi_dct_matrix(num_ceps: int, num_bins: int) -> torch.Tensor:
    """Kaldi's ComputeDctMatrix (matrix-functions.cc): orthonormal DCT-II rows, `[num_ceps, num_bins]`.

    Row 0 is sqrt(1/N); row k is sqrt(2/N) cos(pi k (n + 1/2) / N). scipy.fft.dct(norm="ortho")
    gives the same numbers; a matrix lets the batch run as one matmul on any device.
    """
    n = torch.arange(num_bins, dtype=torch.float64)
    k = torch.arange(num_ceps, dtype=torch.float64)[:, None]
    dct = math.sqrt(2.0 / num_bins) * torch.cos(math.pi / num_bins * (n + 0.5) * k)
    dct[0] = math.sqrt(1.0 / num_bins)
    return dct.float()


def kaldi_lifter(num_ceps: int, q: float) -> torch.Tensor:
    """Kaldi's cepstral lifter 1 + (Q / 2) sin(pi i / Q) (ComputeLifterCoeffs, mel-computations.cc)."""
    i = torch.arange(num_ceps, dtype=torch.float64)
    return (1.0 + 0.5 * q * torch.sin(math.pi * i / q)).float()


def raw_log_energy(waveforms: torch.Tensor, cfg: FbankConfig) -> torch.Tensor:
    """Log energy of each frame after DC removal, before pre-emphasis and window (Kaldi raw_energy)."""
    frames = waveforms.unfold(1, cfg.frame_length, cfg.frame_shift)
    if cfg.remove_dc_offset:
        frames = frames - frames.mean(dim=-1, keepdim=True)
    return frames.pow(2).sum(-1).clamp(min=LOG_FLOOR).log()


class MFCC(AudioModel):
    meta = CATALOG["mfcc"].meta
    wrapper_version = "1"
    arg_types = {"sample_rate": int, "num_mel_bins": int, "num_ceps": int}
    arg_checks = {"sample_rate": rate_check, "num_mel_bins": at_least(1), "num_ceps": at_least(1)}

    def __init__(self, device: str | torch.device = "cpu", *, card: ModelMeta | None = None, **args: Any):
        super().__init__(device, card=card, **args)
        drop_defaults(self.args, {"sample_rate": DEFAULT_RATE, "num_mel_bins": MFCC_MEL_BINS,
                                  "num_ceps": MFCC_NUM_CEPS})
        bins = self.args.get("num_mel_bins", MFCC_MEL_BINS)
        ceps = self.args.get("num_ceps", MFCC_NUM_CEPS)
        problem = mel_bins_problem(bins, self.meta.sample_rate)
        if problem:
            raise arg_error(self.meta.name, "num_mel_bins", bins, problem)
        if ceps > bins:
            raise arg_error(self.meta.name, "num_ceps", ceps, f"must be <= num_mel_bins ({bins})")

    def adapt_meta(self, card: ModelMeta) -> ModelMeta:
        return with_rate(card, self.args)

    def load(self) -> None:
        bins = self.args.get("num_mel_bins", MFCC_MEL_BINS)
        ceps = self.args.get("num_ceps", MFCC_NUM_CEPS)
        self.config = FbankConfig(sample_rate=self.meta.sample_rate, num_mel_bins=bins)
        self.dct = kaldi_dct_matrix(ceps, bins).to(self.device)
        self.lifter = kaldi_lifter(ceps, MFCC_LIFTER).to(self.device)

    def layers(self) -> list[str]:
        return ["mfcc"]

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> dict[str, LayerActivations]:
        x = waveforms.float() * INT16_SCALE
        ceps = fbank(x, self.config) @ self.dct.T * self.lifter
        if ceps.shape[1] > 0:
            ceps[..., 0] = raw_log_energy(x, self.config)  # Kaldi use_energy: c0 <- log energy (not liftered)
        return {"mfcc": LayerActivations(ceps, num_frames(lengths, self.config))}


class Spectrogram(AudioModel):
    """Linear STFT magnitude: 25 ms periodic Hann window, 10 ms hop, no centring; at 16 kHz a
    400-sample window and a 512-point FFT (257 bins)."""

    meta = CATALOG["spectrogram"].meta
    wrapper_version = "1"
    arg_types = {"sample_rate": int}
    arg_checks = {"sample_rate": rate_check}

    def __init__(self, device: str | torch.device = "cpu", *, card: ModelMeta | None = None, **args: Any):
        super().__init__(device, card=card, **args)
        drop_defaults(self.args, {"sample_rate": DEFAULT_RATE})
        # The same framing as `logmel` (Kaldi's 25 ms / 10 ms, snip edges) so the two baselines see
        # the same frames; the FFT size is the next power of two of the window.
        self.frames = FbankConfig(sample_rate=self.meta.sample_rate)

    def adapt_meta(self, card: ModelMeta) -> ModelMeta:
        return with_rate(card, self.args)

    def load(self) -> None:
        self.window = torch.hann_window(self.frames.frame_length, periodic=True, device=self.device)

    def layers(self) -> list[str]:
        return ["stft_magnitude"]

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> dict[str, LayerActivations]:
        cfg = self.frames
        x = waveforms.float()
        if x.shape[1] < cfg.frame_length:
            values = x.new_zeros(x.shape[0], 0, cfg.n_fft // 2 + 1)
        else:
            frames = x.unfold(1, cfg.frame_length, cfg.frame_shift) * self.window
            values = torch.fft.rfft(frames, n=cfg.n_fft, dim=-1).abs()
        return {"stft_magnitude": LayerActivations(values, num_frames(lengths, cfg))}
