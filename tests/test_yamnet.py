"""YAMNet: front end and network against direct computations, strict h5 loading, padding invariance."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from audioprobe.errors import AudioprobeError
from audioprobe.models import yamnet as Y
from audioprobe.models.registry import create_model
from audioprobe.pooling import pool


def direct_same_conv(x: np.ndarray, kernel: np.ndarray, stride: int, depthwise: bool) -> np.ndarray:
    """Unoptimised TF 'same' convolution, NHWC input, kernel (H, W, in, out|1), position by position.

    TF pads so that out = ceil(in / stride); of an odd total padding the extra row/column goes
    at the bottom/right (tf.nn.convolution docs).
    """
    _, h, w, c = x.shape
    kh, kw = kernel.shape[:2]
    oh, ow = math.ceil(h / stride), math.ceil(w / stride)
    pad_top = max((oh - 1) * stride + kh - h, 0) // 2
    pad_left = max((ow - 1) * stride + kw - w, 0) // 2
    out_c = c if depthwise else kernel.shape[3]
    out = np.zeros((x.shape[0], oh, ow, out_c))
    for i in range(oh):
        for j in range(ow):
            acc = np.zeros((x.shape[0], out_c))
            for di in range(kh):
                for dj in range(kw):
                    r, s = i * stride - pad_top + di, j * stride - pad_left + dj
                    if 0 <= r < h and 0 <= s < w:
                        if depthwise:
                            acc += x[:, r, s, :] * kernel[di, dj, :, 0]
                        else:
                            acc += x[:, r, s, :] @ kernel[di, dj]
            out[:, i, j] = acc
    return out


@pytest.mark.parametrize("size,stride", [((96, 64), 2), ((7, 5), 2), ((6, 4), 1), ((3, 2), 2)])
def test_conv_same_matches_direct_computation(size, stride, rng):
    x = rng.standard_normal((2, *size, 3))
    k = rng.standard_normal((3, 3, 3, 5))
    got = Y.conv_same(torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(k.transpose(3, 2, 0, 1)), stride)
    np.testing.assert_allclose(got.permute(0, 2, 3, 1).numpy(), direct_same_conv(x, k, stride, False), atol=1e-10)
    kd = rng.standard_normal((3, 3, 3, 1))
    got = Y.conv_same(torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(kd.transpose(2, 3, 0, 1)), stride,
                      groups=3)
    np.testing.assert_allclose(got.permute(0, 2, 3, 1).numpy(), direct_same_conv(x, kd, stride, True), atol=1e-10)


def test_same_padding_is_asymmetric_like_tensorflow():
    assert Y.same_padding(96, 3, 2) == (0, 1)  # out 48: total 1, all after
    assert Y.same_padding(64, 3, 1) == (1, 1)
    assert Y.same_padding(3, 3, 2) == (1, 1)


def test_mel_matrix_matches_transformers_htk_triangles():
    from transformers.audio_utils import mel_filter_bank

    ref = mel_filter_bank(num_frequency_bins=257, num_mel_filters=64, min_frequency=125.0, max_frequency=7500.0,
                          sampling_rate=16000, norm=None, mel_scale="htk", triangularize_in_mel_space=True)
    np.testing.assert_allclose(Y.mel_matrix(), ref, atol=1e-12)


def test_log_mel_matches_frame_by_frame_numpy(rng):
    wave = rng.standard_normal(2000)
    got = Y.log_mel(torch.from_numpy(wave)[None].float())[0].numpy()
    n = np.arange(400)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / 400)  # periodic Hann
    mel = Y.mel_matrix()
    for t in range(got.shape[0]):
        frame = np.zeros(512)
        frame[:400] = wave.astype(np.float32)[t * 160: t * 160 + 400] * window
        spec = np.abs(np.fft.rfft(frame))
        np.testing.assert_allclose(got[t], np.log(spec @ mel + 0.001), rtol=1e-5, atol=1e-5)
    assert got.shape[0] == 1 + (2000 - 400) // 160


def test_patch_counts_follow_the_official_padding():
    assert [Y.num_patches(n) for n in (1, 15600, 15601, 23280, 23281)] == [1, 1, 2, 2, 3]
    for n in (1, 15600, 15601, 40000):  # the padded waveform gives exactly those patches
        frames = 1 + (Y.padded_length(n) - 400) // 160
        assert 1 + (frames - 96) // 48 == Y.num_patches(n)


def numpy_reference(weights: dict, patch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Embedding and logits of one patch straight from the Keras-layout arrays (NHWC, HWIO)."""
    x = patch[None, :, :, None].astype(np.float64)
    for i, (kind, stride, _) in enumerate(Y.LAYER_DEFS, start=1):
        steps = ([(f"layer{i}/conv", "kernel", stride, False)] if kind == "conv" else
                 [(f"layer{i}/depthwise_conv", "depthwise_kernel", stride, True),
                  (f"layer{i}/pointwise_conv", "kernel", 1, False)])
        for layer, kname, s, dw in steps:
            x = direct_same_conv(x, weights[f"{layer}/{layer}/{kname}:0"].astype(np.float64), s, dw)
            bn = {n: weights[f"{layer}/bn/{layer}/bn/{n}:0"] for n in ("beta", "moving_mean", "moving_variance")}
            x = np.maximum((x - bn["moving_mean"]) / np.sqrt(bn["moving_variance"] + 1e-4) + bn["beta"], 0)
    emb = x.mean(axis=(1, 2))[0]
    return emb, emb @ weights["logits/logits/kernel:0"] + weights["logits/logits/bias:0"]


def test_network_matches_numpy_reference_on_official_layout(tmp_path, rng):
    args = Y.YAMNet.make_tiny(tmp_path)
    with h5py.File(args["checkpoint"]) as f:  # the file really has the official names
        assert "layer1/conv/layer1/conv/kernel:0" in f and "layer14/pointwise_conv/bn/layer14/pointwise_conv/bn/beta:0" in f
    weights = Y.read_h5(args["checkpoint"])
    # non-trivial batch-norm statistics, so that a transposed mean/variance would show
    for name in weights:
        if name.endswith(("moving_mean:0", "beta:0")):
            weights[name] = rng.normal(0, 0.1, weights[name].shape).astype(np.float32)
        if name.endswith("moving_variance:0"):
            weights[name] = rng.uniform(0.5, 2, weights[name].shape).astype(np.float32)
    Y.write_h5(tmp_path / "yamnet.h5", weights)
    model = create_model("yamnet", args)
    model.load()
    wave = rng.standard_normal(16000).astype(np.float32) * 0.1
    out = model.forward(torch.from_numpy(wave)[None], torch.tensor([16000]))
    patch = Y.log_mel_patches(torch.from_numpy(np.pad(wave, (0, Y.padded_length(16000) - 16000)))[None])[0, 0]
    emb, logits = numpy_reference(weights, patch.numpy())
    np.testing.assert_allclose(out["embedding"].values[0, 0].numpy(), emb, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["logits"].values[0, 0].numpy(), logits, rtol=1e-4, atol=1e-5)
    assert model.layers() == list(out)
    assert out["layer14"].values.shape[-1] == 16 and out["logits"].values.shape[-1] == 7
    # block 14 mean-pooled over (patch x position) frames is the embedding, as the docs say
    np.testing.assert_allclose(pool(*out["layer14"], "mean").numpy(), pool(*out["embedding"], "mean").numpy(),
                               rtol=1e-5)


def test_strict_loading_names_missing_and_unexpected(tmp_path):
    path = tmp_path / "w.h5"
    weights = Y.random_weights(filters=[2] * 14, num_classes=3)
    del weights["layer7/depthwise_conv/bn/layer7/depthwise_conv/bn/beta:0"]
    weights["layer1/conv/layer1/conv/bias:0"] = np.zeros(2, np.float32)
    Y.write_h5(path, weights)
    with pytest.raises(AudioprobeError, match="missing datasets.*layer7/depthwise_conv.*unexpected.*bias"):
        create_model("yamnet", {"checkpoint": str(path)}).load()
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(AudioprobeError, match="not a readable HDF5"):
        create_model("yamnet", {"checkpoint": str(tmp_path / "junk.h5")}).load()
    with pytest.raises(AudioprobeError, match="does not exist"):
        create_model("yamnet", {"checkpoint": str(tmp_path / "nope.h5")}).load()


def test_batch_padding_is_invisible(tmp_path, rng):
    model = create_model("yamnet", Y.YAMNet.make_tiny(tmp_path))
    model.load()
    short, long = rng.standard_normal(9000).astype(np.float32), rng.standard_normal(41000).astype(np.float32)
    alone = model.forward(torch.from_numpy(short)[None], torch.tensor([9000]))
    batch = torch.zeros(2, 41000)
    batch[0], batch[1, :9000] = torch.from_numpy(long), torch.from_numpy(short)
    both = model.forward(batch, torch.tensor([41000, 9000]))
    for layer in model.layers():
        for how in ("mean", "max", "mean+std"):
            np.testing.assert_allclose(pool(*both[layer], how)[1].numpy(), pool(*alone[layer], how)[0].numpy(),
                                       rtol=1e-5, atol=1e-6)
    assert both["embedding"].n_frames.tolist() == [Y.num_patches(41000), 1]


def test_official_download_path_is_cached_and_recorded(tmp_path, monkeypatch):
    tiny = Y.YAMNet.make_tiny(tmp_path)["checkpoint"]
    monkeypatch.setattr(Y, "YAMNET_URL", (tmp_path / "yamnet.h5").as_uri())
    model = create_model("yamnet")
    model.load()
    assert model.resolved_revision == "sha256:" + hashlib.sha256(Path(tiny).read_bytes()).hexdigest()
    assert (Y.fetch_official().parent / "yamnet.h5").exists()  # cached: second call needs no URL
    monkeypatch.setattr(Y, "YAMNET_URL", "https://example.invalid/yamnet.h5")
    Y.fetch_official()


def test_random_control_is_full_size_and_seeded():
    a, b = create_model("random-yamnet"), create_model("random-yamnet")
    assert a.meta.name == "random-yamnet" and a.meta.training == "none" and a.meta.filename is None
    assert Y.YAMNet.meta.n_parameters == sum(v.size for v in Y.random_weights().values())
    a.load(), b.load()
    assert a.resolved_revision is None
    wave = torch.randn(1, 16000)
    ya, yb = a.forward(wave, torch.tensor([16000])), b.forward(wave, torch.tensor([16000]))
    assert ya["embedding"].values.shape[-1] == 1024 and ya["logits"].values.shape[-1] == 521
    assert torch.equal(ya["logits"].values, yb["logits"].values)
    with pytest.raises(AudioprobeError, match="does not accept --model-args variant"):
        create_model("yamnet", {"variant": "random"})


def test_random_control_takes_the_layer_sizes_of_a_given_file(tmp_path):
    tiny = Y.YAMNet.make_tiny(tmp_path)
    model = create_model("random-yamnet", tiny)
    model.load()
    drawn = Y.random_weights(*Y.layer_sizes(Y.read_h5(tiny["checkpoint"])), seed=0)
    assert Y.layer_sizes(drawn) == ([4, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 16, 16], 7)
    torch.testing.assert_close(model.net.dense_w, torch.from_numpy(drawn["logits/logits/kernel:0"].T.copy()))


@pytest.mark.parametrize("name", ["yamnet", "random-yamnet"])
def test_validator_passes_on_tiny_variant(name):
    from audioprobe.validate import validate_model

    report = validate_model(name, tiny=True)
    assert report.ok, report.text()
