"""The Kaldi filter bank (audioprobe.models.fbank) against two independent references.

kaldi-native-fbank (Kaldi's own C++ code) at 80 bins: it refuses 128 bins at 16 kHz (an empty
low-frequency bin), so 128 bins (BEATs, logmel) are compared with transformers' numpy
implementation configured as its AST feature extractor configures it (Kaldi mel scale, povey
window, pre-emphasis, DC removal, no centring).
"""

from __future__ import annotations

import kaldi_native_fbank as knf
import numpy as np
import pytest
import torch
from transformers.audio_utils import mel_filter_bank, spectrogram, window_function

from audioprobe.models.fbank import FbankConfig, fbank, num_frames

# transformers warns that the lowest of 128 Kaldi mel filters is empty at 16 kHz / 512 points:
# true, and the same in Kaldi (which is why kaldi-native-fbank refuses 128 bins).
pytestmark = pytest.mark.filterwarnings("ignore:At least one mel filter has all zero values")

SR = 16000
SCALE = 2.0 ** 15  # int16 range, as Kaldi and BEATs feed the filter bank


def signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    t = np.arange(SR) / SR
    impulse = np.zeros(12345, np.float32)
    impulse[4000] = 0.9
    return {
        "noise": (0.1 * rng.standard_normal(SR)).astype(np.float32),
        "sines": (0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3150 * t)).astype(np.float32),
        "impulse": impulse,  # 12345 samples: not a multiple of the 160-sample hop
        "odd_length": (0.05 * rng.standard_normal(7919)).astype(np.float32),
    }


def ours(wave: np.ndarray, bins: int) -> np.ndarray:
    return fbank(torch.from_numpy(wave)[None] * SCALE, FbankConfig(num_mel_bins=bins))[0].numpy()


def knf_fbank(wave: np.ndarray, bins: int) -> np.ndarray:
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.samp_freq = SR
    opts.mel_opts.num_bins = bins
    comp = knf.OnlineFbank(opts)
    comp.accept_waveform(SR, (wave * SCALE).tolist())
    comp.input_finished()
    return np.stack([comp.get_frame(i) for i in range(comp.num_frames_ready)])


def transformers_fbank(wave: np.ndarray, bins: int) -> np.ndarray:
    mel = mel_filter_bank(num_frequency_bins=257, num_mel_filters=bins, min_frequency=20.0, max_frequency=SR / 2,
                          sampling_rate=SR, norm=None, mel_scale="kaldi", triangularize_in_mel_space=True)
    spec = spectrogram(wave.astype(np.float64) * SCALE, window_function(400, "povey", periodic=False),
                       frame_length=400, hop_length=160, fft_length=512, power=2.0, center=False,
                       preemphasis=0.97, mel_filters=mel, log_mel="log", mel_floor=float(np.finfo(np.float32).eps),
                       remove_dc_offset=True)
    return spec.T


def assert_fbank_close(got: np.ndarray, ref: np.ndarray) -> None:
    """Log energies within 1e-3 wherever float32 can resolve them (above 1e-6 of the frame's peak).

    Below that, a pure tone's far bins hold float32 FFT rounding noise (about 1e-9 of the peak)
    that differs between any two float32 FFTs; there the linear energies must agree to 1e-6 of
    the frame's peak.
    """
    assert got.shape == ref.shape
    peak = np.exp(ref.max(axis=1, keepdims=True))
    resolved = np.exp(ref) > 1e-6 * peak
    assert resolved.mean() > 0.1  # not vacuous: pure sines resolve ~17% of bins, noise all
    np.testing.assert_allclose(got[resolved], ref[resolved], atol=1e-3, rtol=0)
    low = np.abs(np.exp(got.astype(np.float64)) - np.exp(ref.astype(np.float64))) / peak
    assert np.all(low[~resolved] <= 1e-6)


@pytest.mark.parametrize("name", list(signals()))
def test_matches_kaldi_native_fbank_80_bins(name):
    wave = signals()[name]
    assert_fbank_close(ours(wave, 80), knf_fbank(wave, 80))


@pytest.mark.parametrize("name", list(signals()))
def test_matches_transformers_kaldi_fbank_128_bins(name):
    wave = signals()[name]
    assert_fbank_close(ours(wave, 128), transformers_fbank(wave, 128))


def test_frame_counts_follow_snip_edges():
    cfg = FbankConfig(num_mel_bins=128)
    for n in (399, 400, 401, 559, 560, 16000, 12345):
        expected = 0 if n < 400 else 1 + (n - 400) // 160  # Kaldi NumFrames with snip_edges
        assert int(num_frames(torch.tensor([n]), cfg)[0]) == expected
        assert fbank(torch.zeros(1, n), cfg).shape[1] == expected


def test_batch_equals_single_sounds():
    sigs = list(signals().values())
    longest = max(len(s) for s in sigs)
    batch = torch.zeros(len(sigs), longest)
    for i, s in enumerate(sigs):
        batch[i, : len(s)] = torch.from_numpy(s)
    cfg = FbankConfig(num_mel_bins=128)
    together = fbank(batch * SCALE, cfg)
    counts = num_frames(torch.tensor([len(s) for s in sigs]), cfg)
    for i, s in enumerate(sigs):
        alone = fbank(torch.from_numpy(s)[None] * SCALE, cfg)[0]
        assert torch.equal(together[i, : int(counts[i])], alone)
