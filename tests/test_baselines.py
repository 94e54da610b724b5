"""`mfcc` against kaldi-native-fbank's MFCC; `spectrogram` against a direct numpy STFT."""

from __future__ import annotations

import kaldi_native_fbank as knf
import numpy as np
import pytest
import torch

from audioprobe.models.baselines import MFCC, Spectrogram, kaldi_dct_matrix
from audioprobe.models.registry import create_model

SR = 16000


def waves() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    t = np.arange(SR + 37) / SR
    return {
        "noise": (0.1 * rng.standard_normal(SR + 37)).astype(np.float32),
        "chirp": (0.4 * np.sin(2 * np.pi * (200 + 1500 * t) * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32),
    }


def knf_mfcc(wave: np.ndarray) -> np.ndarray:
    opts = knf.MfccOptions()  # Kaldi defaults: 23 bins, 13 cepstra, lifter 22, use_energy
    opts.frame_opts.dither = 0.0
    comp = knf.OnlineMfcc(opts)
    comp.accept_waveform(SR, (wave * 2.0 ** 15).tolist())
    comp.input_finished()
    return np.stack([comp.get_frame(i) for i in range(comp.num_frames_ready)])


@pytest.mark.parametrize("name", list(waves()))
def test_mfcc_matches_kaldi_native_fbank(name):
    wave = waves()[name]
    model = create_model("mfcc")
    model.load()
    out = model.forward(torch.from_numpy(wave)[None], torch.tensor([wave.size]))["mfcc"]
    ref = knf_mfcc(wave)
    assert out.values.shape[1:] == ref.shape and int(out.n_frames[0]) == ref.shape[0]
    np.testing.assert_allclose(out.values[0].numpy(), ref, atol=2e-3, rtol=1e-4)


def test_dct_is_scipy_orthonormal_dct2():
    from scipy.fft import dct

    x = np.random.default_rng(0).standard_normal(23)
    np.testing.assert_allclose(kaldi_dct_matrix(13, 23).double().numpy() @ x, dct(x, type=2, norm="ortho")[:13], atol=1e-6)


def test_spectrogram_is_windowed_fft_magnitude():
    wave = waves()["chirp"]
    model = Spectrogram()
    model.load()
    out = model.forward(torch.from_numpy(wave)[None], torch.tensor([wave.size]))["stft_magnitude"]
    n = 1 + (wave.size - 400) // 160
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)  # periodic Hann
    ref = np.stack([np.abs(np.fft.rfft(wave[i * 160: i * 160 + 400] * window, n=512)) for i in range(n)])
    assert out.values.shape == (1, n, 257) and int(out.n_frames[0]) == n
    np.testing.assert_allclose(out.values[0].numpy(), ref, atol=1e-4 * ref.max())


@pytest.mark.parametrize("cls", [MFCC, Spectrogram])
def test_padding_never_changes_a_sound(cls):
    short, long = waves()["noise"][:9001], waves()["chirp"]
    model = cls()
    model.load()
    (layer,) = model.layers()
    alone = model.forward(torch.from_numpy(short)[None], torch.tensor([short.size]))[layer]
    batch = torch.zeros(2, long.size)
    batch[0, : short.size], batch[1] = torch.from_numpy(short), torch.from_numpy(long)
    both = model.forward(batch, torch.tensor([short.size, long.size]))[layer]
    n = int(alone.n_frames[0])
    assert int(both.n_frames[0]) == n
    assert torch.equal(both.values[0, :n], alone.values[0, :n])
