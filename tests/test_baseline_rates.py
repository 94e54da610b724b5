"""The weight-free baselines at the data's rate.

`logmel`, `mfcc` and `spectrogram` take `sample_rate=` (and `logmel`/`mfcc` their band and
coefficient counts): checked against kaldi-native-fbank (Kaldi's own C++ code) and a numpy STFT at
44.1 and 48 kHz as tests/test_fbank.py and tests/test_baselines.py check them at 16 kHz; the
instance's rate is its `meta.sample_rate`, so the front end resamples to it and the run identity
differs between rates; the defaults are today's run, with today's identity and numbers.
"""

from __future__ import annotations

import kaldi_native_fbank as knf
import numpy as np
import pytest
import torch

from audioprobe.errors import AudioprobeError
from audioprobe.frontend import FrontEnd
from audioprobe.identity import ModelKey, activation_key
from audioprobe.models.baselines import MFCC, Spectrogram
from audioprobe.models.fbank import FbankConfig, fbank, max_mel_bins, mel_filterbank, num_frames
from audioprobe.models.logmel import LogMel
from audioprobe.models.registry import create_model
from tests.test_baselines import knf_mfcc
from tests.test_fbank import assert_fbank_close

SCALE = 2.0 ** 15


def signals(sr: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    t = np.arange(sr) / sr
    impulse = np.zeros(sr // 2 + 123, np.float32)
    impulse[sr // 4] = 0.9
    noise = rng.standard_normal(sr)
    sines = sum(a * np.sin(2 * np.pi * f * t) for a, f in
                [(0.3, 440), (0.1, 1000), (0.1, 3150), (0.1, 6000), (0.2, 12000), (0.1, 18000)])
    return {
        "noise": (0.1 * noise).astype(np.float32),
        # pure tones: most mel bands hold float32 rounding noise, compared as test_fbank compares them
        "sines": sines.astype(np.float32),
        # tones over a noise floor, for MFCC (whose DCT mixes every band into every coefficient)
        "noisy_sines": (sines + 0.01 * noise).astype(np.float32),
        # 12 kHz and 18 kHz partials: above 8 kHz, so invisible to the 16 kHz baselines
        "impulse": impulse,  # not a multiple of the hop
    }


def forward(model, wave: np.ndarray):
    model.load()
    (layer,) = model.layers()
    return model.forward(torch.from_numpy(wave)[None], torch.tensor([wave.size]))[layer]


def knf_fbank(wave: np.ndarray, sr: int, bins: int) -> np.ndarray:
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.samp_freq = sr
    opts.mel_opts.num_bins = bins
    comp = knf.OnlineFbank(opts)
    comp.accept_waveform(sr, (wave * SCALE).tolist())
    comp.input_finished()
    return np.stack([comp.get_frame(i) for i in range(comp.num_frames_ready)])


def knf_mfcc_at(wave: np.ndarray, sr: int, bins: int, ceps: int) -> np.ndarray:
    opts = knf.MfccOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.samp_freq = sr
    opts.mel_opts.num_bins = bins
    opts.num_ceps = ceps
    comp = knf.OnlineMfcc(opts)
    comp.accept_waveform(sr, (wave * SCALE).tolist())
    comp.input_finished()
    return np.stack([comp.get_frame(i) for i in range(comp.num_frames_ready)])


# --- other rates against Kaldi's own code ---------------------------------------------------------

@pytest.mark.parametrize("sr,bins", [(44100, 128), (44100, 80), (48000, 64), (22050, 40)])
@pytest.mark.parametrize("name", ["noise", "sines", "impulse"])
def test_logmel_matches_kaldi_native_fbank_at_other_rates(sr, bins, name):
    wave = signals(sr)[name]
    model = create_model("logmel", {"sample_rate": str(sr), "num_mel_bins": str(bins)})
    out = forward(model, wave)
    ref = knf_fbank(wave, sr, bins)
    assert int(out.n_frames[0]) == ref.shape[0]
    assert_fbank_close(out.values[0].numpy(), ref)


def test_logmel_bands_reach_nyquist_at_44k():
    """Kaldi's defaults at 44.1 kHz: 1102-sample frames every 441, 2048-point FFT, 20 Hz..22.05 kHz."""
    model = LogMel(sample_rate=44100)
    model.load()
    cfg = model.config
    assert (cfg.frame_length, cfg.frame_shift, cfg.n_fft) == (1102, 441, 2048)
    banks = mel_filterbank(cfg)
    top = float(np.nonzero(banks[-1].numpy())[0].max()) * 44100 / 2048
    assert top > 21500  # the top band ends just below 22.05 kHz (16 kHz: 8 kHz)


@pytest.mark.parametrize("sr,bins,ceps", [(44100, 23, 13), (48000, 40, 20), (44100, 64, 64)])
@pytest.mark.parametrize("name", ["noise", "noisy_sines"])
def test_mfcc_matches_kaldi_native_fbank_at_other_rates(sr, bins, ceps, name):
    wave = signals(sr)[name]
    model = create_model("mfcc", {"sample_rate": str(sr), "num_mel_bins": str(bins), "num_ceps": str(ceps)})
    out = forward(model, wave)
    ref = knf_mfcc_at(wave, sr, bins, ceps)
    assert out.values.shape[1:] == ref.shape and int(out.n_frames[0]) == ref.shape[0]
    np.testing.assert_allclose(out.values[0].numpy(), ref, atol=2e-3, rtol=1e-4)


def test_mfcc_counts_at_16k_match_kaldi_native_fbank():
    wave = signals(16000)["noise"]
    out = forward(create_model("mfcc", {"num_mel_bins": "40", "num_ceps": "30"}), wave)
    np.testing.assert_allclose(out.values[0].numpy(), knf_mfcc_at(wave, 16000, 40, 30), atol=2e-3, rtol=1e-4)


@pytest.mark.parametrize("sr,win,hop,n_fft", [(44100, 1102, 441, 2048), (48000, 1200, 480, 2048), (8000, 200, 80, 256)])
def test_spectrogram_at_other_rates_is_windowed_fft_magnitude(sr, win, hop, n_fft):
    wave = signals(sr)["sines"]
    out = forward(Spectrogram(sample_rate=sr), wave)
    n = 1 + (wave.size - win) // hop
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic Hann
    ref = np.stack([np.abs(np.fft.rfft(wave[i * hop: i * hop + win] * window, n=n_fft)) for i in range(n)])
    assert out.values.shape == (1, n, n_fft // 2 + 1) and int(out.n_frames[0]) == n
    np.testing.assert_allclose(out.values[0].numpy(), ref, atol=1e-4 * ref.max())


@pytest.mark.parametrize("name,args", [("logmel", {"sample_rate": 44100}), ("mfcc", {"sample_rate": 48000}),
                                       ("spectrogram", {"sample_rate": 22050})])
def test_padding_never_changes_a_sound_at_other_rates(name, args):
    sr = args["sample_rate"]
    short, long = signals(sr)["noise"][: sr // 2 + 7], signals(sr)["sines"]
    model = create_model(name, args)
    model.load()
    (layer,) = model.layers()
    alone = model.forward(torch.from_numpy(short)[None], torch.tensor([short.size]))[layer]
    batch = torch.zeros(2, long.size)
    batch[0, : short.size], batch[1] = torch.from_numpy(short), torch.from_numpy(long)
    both = model.forward(batch, torch.tensor([short.size, long.size]))[layer]
    n = int(alone.n_frames[0])
    assert n > 0 and int(both.n_frames[0]) == n
    assert torch.equal(both.values[0, :n], alone.values[0, :n])


# --- what the rate buys ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["logmel", "spectrogram"])
def test_a_12_khz_tone_is_seen_at_44k_not_at_16k(name):
    """A 44.1 kHz recording of a 12 kHz tone through the front end: gone at 16 kHz (above Nyquist)."""
    sr = 44100
    tone = (0.5 * np.sin(2 * np.pi * 12000 * np.arange(sr) / sr)).astype(np.float32)
    loudest = {}
    for rate in (16000, 44100):
        model = create_model(name, {"sample_rate": str(rate)})
        assert model.meta.sample_rate == rate
        wave = FrontEnd(model.meta.sample_rate)(tone, sr)
        assert wave.size == rate
        values = forward(model, wave).values[0]
        if name == "spectrogram":
            values = 2 * values.clamp(min=1e-30).log()  # log energy, as logmel's
        loudest[rate] = values.mean(0)
    # at 44.1 kHz the loudest band is the one at 12 kHz, far above everything seen at 16 kHz
    if name == "logmel":
        model = create_model("logmel", {"sample_rate": "44100"})
        model.load()
        centre = float(mel_filterbank(model.config)[int(loudest[44100].argmax())].argmax()) * 44100 / 2048
        assert abs(centre - 12000) < 400
    else:
        assert abs(int(loudest[44100].argmax()) * 44100 / 2048 - 12000) < 44100 / 2048
    assert loudest[44100].max() - loudest[16000].max() > 20  # nats: e^20 ~ 1e8.7 in energy


# --- defaults, identity ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["logmel", "mfcc", "spectrogram"])
def test_defaults_are_todays_run(name):
    """No argument, or the new ones at their defaults: the identity results were stored under."""
    plain = create_model(name)
    assert plain.identity() == {"name": name, "revision": None, "wrapper_version": "1", "args": {}}
    assert plain.meta.sample_rate == 16000 and plain.meta == plain.card
    explicit = {"sample_rate": "16000"} | ({"num_mel_bins": "23", "num_ceps": "13"} if name == "mfcc" else {})
    same = create_model(name, explicit)
    assert same.identity() == plain.identity() and same.meta == plain.meta
    fe = FrontEnd(16000).settings()
    assert ModelKey.of(same, "fp32", fe) == ModelKey.of(plain, "fp32", fe)


def test_logmel_num_mel_bins_is_recorded_as_before():
    """num_mel_bins existed before: given, it stays in the args (results stored with it are reused)."""
    assert create_model("logmel", {"num_mel_bins": "128"}).identity()["args"] == {"num_mel_bins": 128}


def test_default_outputs_are_the_16k_filter_bank():
    """Default-args output is the same code path as before: Kaldi framing at 16 kHz, 128 / 23 bins."""
    wave = signals(16000)["noise"]
    x = torch.from_numpy(wave)[None]
    out = forward(create_model("logmel"), wave)
    cfg = FbankConfig(sample_rate=16000, num_mel_bins=128)
    assert torch.equal(out.values, fbank(x * SCALE, cfg))
    assert torch.equal(out.n_frames, num_frames(torch.tensor([wave.size]), cfg))
    assert out.values.shape[-1] == 128
    mfcc = forward(create_model("mfcc"), wave)
    np.testing.assert_allclose(mfcc.values[0].numpy(), knf_mfcc(wave), atol=2e-3, rtol=1e-4)
    spec = forward(create_model("spectrogram"), wave)
    assert spec.values.shape[-1] == 257 and int(spec.n_frames[0]) == 1 + (wave.size - 400) // 160


@pytest.mark.parametrize("name", ["logmel", "mfcc", "spectrogram"])
def test_each_rate_is_its_own_run(name):
    keys = {}
    for rate in (16000, 44100, 48000):
        model = create_model(name, {"sample_rate": str(rate)})
        key = ModelKey.of(model, "fp32", FrontEnd(model.meta.sample_rate).settings())
        assert key.frontend["target_rate"] == rate
        assert key.args == ({} if rate == 16000 else {"sample_rate": rate})
        keys[rate] = activation_key(key, "mean", "fingerprint")
    assert len(set(keys.values())) == 3


def test_counts_are_part_of_the_identity():
    a = create_model("mfcc", {"num_ceps": "12"})
    b = create_model("mfcc", {"num_mel_bins": "40"})
    assert a.identity()["args"] == {"num_ceps": 12} and b.identity()["args"] == {"num_mel_bins": 40}
    fe = FrontEnd(16000).settings()
    assert len({activation_key(ModelKey.of(m, "fp32", fe), "mean", "f") for m in (a, b, create_model("mfcc"))}) == 3


def test_a_rate_recomputes_and_is_recorded(tmp_path, capsys):
    """End to end: sample_rate=16000 reuses the default run, sample_rate=22050 does not and says so."""
    from audioprobe.cli import main as eval_main
    from audioprobe.results import read_result

    out = tmp_path / "r"
    base = ["--model", "logmel", "--tasks", "rsa-material", "--limit", "12", "--output-dir", str(out)]

    def run(*extra: str) -> str:
        code = eval_main([*base, *extra])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        return captured.out + captured.err

    run()
    assert "reused" in run("--model-args", "sample_rate=16000")
    assert "reused" not in run("--model-args", "sample_rate=22050")
    # the default run and the 22050 Hz one are two models, each in its folder (results.model_label)
    default, other = sorted(out.rglob("rsa-material.json"), key=lambda p: len(p.parent.name))
    assert default.parent.name == "logmel" and other.parent.name.startswith("logmel@sample_rate_22050-")
    assert read_result(default)["model"]["args"] == {}
    result = read_result(other)
    assert result["model"]["meta"]["sample_rate"] == 22050 and result["model"]["args"] == {"sample_rate": 22050}
    assert result["run_key"]["model"]["frontend"]["target_rate"] == 22050
    assert "reused" in run("--model-args", "sample_rate=22050")


# --- bad values --------------------------------------------------------------------------------

@pytest.mark.parametrize("name,args,message", [
    ("logmel", {"sample_rate": "7999"}, "sample_rate=7999 for model 'logmel': must be between 8000 and 192000"),
    ("mfcc", {"sample_rate": "192001"}, "sample_rate=192001 for model 'mfcc': must be between 8000 and 192000"),
    ("spectrogram", {"sample_rate": "44.1k"}, "sample_rate='44.1k' for model 'spectrogram': expected a int"),
    ("spectrogram", {"num_mel_bins": "40"},
     "model 'spectrogram' does not accept --model-args num_mel_bins; accepted: sample_rate"),
    ("logmel", {"num_mel_bins": "257"}, "num_mel_bins=257 for model 'logmel': must be <= 256 at sample_rate 16000"),
    ("logmel", {"sample_rate": "8000", "num_mel_bins": "200"},
     "num_mel_bins=200 for model 'logmel': must be <= 128 at sample_rate 8000"),
    ("mfcc", {"num_mel_bins": "0"}, "num_mel_bins=0 for model 'mfcc': must be >= 1"),
    ("mfcc", {"num_ceps": "0"}, "num_ceps=0 for model 'mfcc': must be >= 1"),
    ("mfcc", {"num_ceps": "24"}, "num_ceps=24 for model 'mfcc': must be <= num_mel_bins (23)"),
    ("mfcc", {"num_mel_bins": "10", "num_ceps": "13"}, "num_ceps=13 for model 'mfcc': must be <= num_mel_bins (10)"),
])
def test_bad_values_are_named(name, args, message):
    with pytest.raises(AudioprobeError) as info:
        create_model(name, args)
    assert message in str(info.value)
    assert str(info.value).startswith("--model-args " if "accept" not in message else "model ")


def test_the_largest_allowed_counts_run():
    assert max_mel_bins(16000) == 256 and max_mel_bins(44100) == 1024 and max_mel_bins(8000) == 128
    wave = signals(8000)["noise"]
    out = forward(create_model("mfcc", {"sample_rate": "8000", "num_mel_bins": "128", "num_ceps": "128"}), wave)
    assert out.values.shape[-1] == 128 and torch.isfinite(out.values).all()
    assert forward(MFCC(num_mel_bins=1, num_ceps=1), signals(16000)["noise"]).values.shape[-1] == 1
