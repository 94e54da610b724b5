"""Kaldi-compatible log-mel filter banks in torch, batched, on any device.

Written by hand because torchaudio (whose `compliance.kaldi.fbank` BEATs was trained with) cannot
be installed here, and no other maintained package computes Kaldi's exact filter bank on batched
torch tensors. The defaults are Kaldi's `compute-fbank-feats` defaults (kaldi/src/feat/
feature-fbank.h, feature-window.h, mel-computations.cc); tests compare against
`kaldi-native-fbank` and `transformers.audio_utils`.
"""

from __future__ import annotations

import dataclasses
import math
from functools import lru_cache

import torch

from audioprobe.errors import AudioprobeError
from audioprobe.models.meta import ModelMeta

# Kaldi's floor before the log: std::numeric_limits<float>::epsilon() (feature-fbank.cc).
LOG_FLOOR = torch.finfo(torch.float32).eps


@dataclasses.dataclass(frozen=True)
class FbankConfig:
    """Kaldi fbank options; every default is Kaldi's own."""

    sample_rate: int = 16000
    num_mel_bins: int = 23  # Kaldi's default; BEATs and `logmel` use 128
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    preemphasis: float = 0.97
    remove_dc_offset: bool = True
    window: str = "povey"  # povey | hanning | hamming | rectangular
    round_to_power_of_two: bool = True
    low_freq: float = 20.0
    high_freq: float = 0.0  # <= 0 means offset from Nyquist, as in Kaldi
    use_power: bool = True
    use_log: bool = True

    # Samples per frame and per shift truncated as Kaldi computes them (feature-window.h WindowSize,
    # WindowShift: rate * 0.001 * ms, in that order). At 16 kHz and the common rates this equals
    # torchaudio's rate * ms * 0.001; at a few odd rates (8200 Hz: 204 vs 205) only Kaldi's is Kaldi's.
    @property
    def frame_length(self) -> int:
        return int(self.sample_rate * 0.001 * self.frame_length_ms)

    @property
    def frame_shift(self) -> int:
        return int(self.sample_rate * 0.001 * self.frame_shift_ms)

    @property
    def n_fft(self) -> int:
        n = self.frame_length
        return 1 << (n - 1).bit_length() if self.round_to_power_of_two else n


def mel_scale(freq: torch.Tensor | float) -> torch.Tensor | float:
    """Kaldi's mel scale, 1127 ln(1 + f / 700) (mel-computations.h)."""
    if isinstance(freq, torch.Tensor):
        return 1127.0 * torch.log1p(freq / 700.0)
    return 1127.0 * math.log1p(freq / 700.0)


@lru_cache(maxsize=16)
def mel_filterbank(cfg: FbankConfig) -> torch.Tensor:
    """Triangular filters `[num_mel_bins, n_fft // 2 + 1]` as Kaldi's MelBanks builds them.

    Triangles are linear in mel; the Nyquist bin gets zero weight (Kaldi uses n_fft/2 bins).
    """
    n_fft = cfg.n_fft
    nyquist = 0.5 * cfg.sample_rate
    high = cfg.high_freq if cfg.high_freq > 0 else nyquist + cfg.high_freq
    if not (0.0 <= cfg.low_freq < high <= nyquist):
        raise ValueError(f"bad mel range {cfg.low_freq}..{high} Hz at {cfg.sample_rate} Hz")
    mel_low, mel_high = mel_scale(cfg.low_freq), mel_scale(high)
    delta = (mel_high - mel_low) / (cfg.num_mel_bins + 1)
    edges = mel_low + delta * torch.arange(cfg.num_mel_bins + 2, dtype=torch.float64)
    left, center, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    fft_mel = mel_scale(cfg.sample_rate / n_fft * torch.arange(n_fft // 2, dtype=torch.float64))[None, :]
    up = (fft_mel - left) / (center - left)
    down = (right - fft_mel) / (right - center)
    banks = torch.clamp(torch.minimum(up, down), min=0.0)
    banks = torch.nn.functional.pad(banks, (0, 1))  # zero weight on the Nyquist bin
    return banks.to(torch.float32)


def _window(cfg: FbankConfig, device: torch.device) -> torch.Tensor:
    n = cfg.frame_length
    if cfg.window == "rectangular":
        return torch.ones(n, device=device)
    # Kaldi builds windows with a = 2 pi / (N - 1) (feature-window.cc), i.e. symmetric windows.
    hann = torch.hann_window(n, periodic=False, dtype=torch.float64)
    if cfg.window == "hanning":
        w = hann
    elif cfg.window == "povey":
        w = hann.pow(0.85)  # "like hamming but goes to zero at edges" (feature-window.cc)
    elif cfg.window == "hamming":
        w = torch.hamming_window(n, periodic=False, alpha=0.54, beta=0.46, dtype=torch.float64)
    else:
        raise ValueError(f"unknown window {cfg.window!r}")
    return w.to(device=device, dtype=torch.float32)


def num_frames(lengths: torch.Tensor, cfg: FbankConfig) -> torch.Tensor:
    """Frames per sound with Kaldi's snip-edges framing: 1 + (n - frame_length) // shift, at least 0."""
    return torch.clamp((lengths - cfg.frame_length) // cfg.frame_shift + 1, min=0)


def fbank(waveforms: torch.Tensor, cfg: FbankConfig = FbankConfig()) -> torch.Tensor:
    """Log-mel filter bank of a batch `[batch, samples]` -> `[batch, frames, num_mel_bins]`.

    Same result as Kaldi's `compute-fbank-feats` with `--dither=0` and the options of `cfg`, on
    waveforms in the caller's scale (Kaldi and BEATs feed int16-range samples). Frames are cut
    with snip edges; frames beyond a shorter sound's length read its zero padding, so callers
    keep only the first `num_frames(lengths)` frames of each sound.
    """
    if waveforms.dim() != 2:
        raise ValueError(f"fbank expects [batch, samples], got shape {tuple(waveforms.shape)}")
    x = waveforms.to(torch.float32)
    n_len, n_shift = cfg.frame_length, cfg.frame_shift
    if x.shape[1] < n_len:
        return x.new_zeros(x.shape[0], 0, cfg.num_mel_bins)
    frames = x.unfold(1, n_len, n_shift)  # [B, F, frame_length]
    if cfg.remove_dc_offset:
        frames = frames - frames.mean(dim=-1, keepdim=True)
    if cfg.preemphasis != 0.0:
        # Kaldi: x[i] -= p * x[i-1] for i > 0, and x[0] -= p * x[0].
        previous = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)
        frames = frames - cfg.preemphasis * previous
    frames = frames * _window(cfg, x.device)
    spectrum = torch.fft.rfft(frames, n=cfg.n_fft, dim=-1).abs()
    if cfg.use_power:
        spectrum = spectrum.pow(2)
    mel = torch.matmul(spectrum, mel_filterbank(cfg).to(x.device).T)
    if cfg.use_log:
        mel = torch.clamp(mel, min=LOG_FLOOR).log()
    return mel


# ---------------------------------------------------------------------------------------------
# Model arguments of the Kaldi-framed baselines (`logmel`, `mfcc`, `spectrogram`)

#: The rate of the baselines when `sample_rate=` is not given (their registered metadata's rate).
DEFAULT_RATE = 16000
#: The `sample_rate=` the baselines accept, in Hz: telephone speech to high-rate studio audio.
MIN_RATE, MAX_RATE = 8000, 192000


def rate_check(value: object) -> str | None:
    """An `arg_checks` entry for `sample_rate`: an int in MIN_RATE..MAX_RATE Hz."""
    if isinstance(value, int) and not isinstance(value, bool) and MIN_RATE <= value <= MAX_RATE:
        return None
    return f"must be between {MIN_RATE} and {MAX_RATE} (Hz)"


def max_mel_bins(sample_rate: int) -> int:
    """The most mel bands Kaldi framing allows at `sample_rate`: the FFT's n_fft / 2 bins.

    (Kaldi's MelBanks reads n_fft / 2 FFT bins; more triangles than bins cannot all hold one.
    Fewer can still leave a low band empty, as 128 bins at 16 kHz do, which Kaldi refuses but
    torchaudio, BEATs and `logmel` accept: the band then holds the log floor.)
    """
    return FbankConfig(sample_rate=sample_rate).n_fft // 2


def mel_bins_problem(num_mel_bins: int, sample_rate: int) -> str | None:
    """What is wrong with `num_mel_bins` at `sample_rate` (None if nothing), for a model-args message."""
    most = max_mel_bins(sample_rate)
    if num_mel_bins > most:
        frame = FbankConfig(sample_rate=sample_rate).frame_length
        return (f"must be <= {most} at sample_rate {sample_rate}: the mel bands read the {most} bins below "
                f"Nyquist of the {2 * most}-point FFT of a {frame}-sample 25 ms frame")
    return None


def with_rate(card: ModelMeta, args: dict) -> ModelMeta:
    """A baseline's metadata at the `sample_rate=` of its args (the card itself at the default).

    The front end resamples every sound to `meta.sample_rate`, and that rate is part of the run
    identity (the front end's `target_rate`), so each rate is its own run and cache entry.
    """
    rate = args.get("sample_rate", DEFAULT_RATE)
    return card if rate == card.sample_rate else dataclasses.replace(card, sample_rate=rate)


def arg_error(model: str, key: str, value: object, problem: str) -> AudioprobeError:
    """The error of a model argument that is wrong given the others, worded as AudioModel's checks."""
    return AudioprobeError(f"--model-args {key}={value!r} for model {model!r}: {problem}.")


def drop_defaults(args: dict, defaults: dict) -> None:
    """Remove from `args` the arguments given at their default value, in place.

    An argument left out and the same argument at its default are then one run identity (as
    `random=false` is in AudioModel), so results computed before the argument existed are reused.
    """
    for key, value in defaults.items():
        if key in args and args[key] == value:
            del args[key]
