"""YAMNet (Plakal & Ellis 2020): a MobileNet-v1 CNN trained on AudioSet labels, in PyTorch.

Our own implementation of the published Keras model (tensorflow/models research/audioset/yamnet:
yamnet.py, params.py, features.py), loading the official Keras weights file `yamnet.h5` with h5py.
There is no Hugging Face Hub mirror of that file, so it is fetched once from its official public
address and cached; `--model-args checkpoint=PATH` loads a local copy through the same reader.

What a frame is. YAMNet cuts the log-mel spectrogram into 0.96 s patches (hop 0.48 s) and runs
the CNN on each patch. For the 14 blocks a frame is one position of a patch's feature map (time x
frequency), patch after patch, so a block's values are `[patches * H * W, channels]`; for
`embedding` (the global average of block 14 over a patch) and `logits` (the 521 AudioSet class
logits before the sigmoid) a frame is one patch. Mean pooling of `layer14` therefore equals
mean pooling of `embedding`; max and mean+std pooling differ.

Metadata of `yamnet` in models/catalog.py. Its random control (`random-yamnet`, `random=true`):
Keras-style initialisation (`random_weights`) drawn from `RANDOM_SEED`, at the official layer
sizes, or at those of a `checkpoint=` file when one is given.
"""

from __future__ import annotations

import math
import os
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from audioprobe.errors import AudioprobeError
from audioprobe.files import sha256_file
from audioprobe.models.base import RANDOM_SEED, AudioModel, LayerActivations, ModelMeta
from audioprobe.models.catalog import CATALOG
from audioprobe.models.meta import with_source

# --- front end; every value from tensorflow/models research/audioset/yamnet/params.py + features.py
SAMPLE_RATE = 16000  # params.sample_rate
WINDOW = 400  # round(16000 * params.stft_window_seconds = 0.025)
HOP = 160  # round(16000 * params.stft_hop_seconds = 0.010)
N_FFT = 512  # features.py: 2 ** ceil(log2(window))
MEL_BANDS = 64  # params.mel_bands
MEL_MIN_HZ = 125.0  # params.mel_min_hz
MEL_MAX_HZ = 7500.0  # params.mel_max_hz
LOG_OFFSET = 0.001  # params.log_offset
PATCH_FRAMES = 96  # round(params.patch_window_seconds 0.96 / 0.010)
PATCH_HOP_FRAMES = 48  # round(params.patch_hop_seconds 0.48 / 0.010)
# features.pad_waveform: one patch needs (0.96 + 0.025 - 0.010) s = 15600 samples; later patches
# each need 0.48 s = 7680 more; the waveform is zero-padded up to that.
MIN_SAMPLES = 15600
PATCH_HOP_SAMPLES = 7680
# --- network; yamnet.py _YAMNET_LAYER_DEFS and params.py
BN_EPSILON = 1e-4  # params.batchnorm_epsilon; batchnorm_center=True, batchnorm_scale=False (no gamma)
NUM_CLASSES = 521  # params.num_classes
#: (kind, stride, filters) of layer1..layer14, yamnet.py _YAMNET_LAYER_DEFS (all kernels 3x3).
LAYER_DEFS = [("conv", 2, 32), ("sep", 1, 64), ("sep", 2, 128), ("sep", 1, 128), ("sep", 2, 256),
              ("sep", 1, 256), ("sep", 2, 512)] + [("sep", 1, 512)] * 5 + [("sep", 2, 1024), ("sep", 1, 1024)]
KERNEL = 3

#: Official public location of the Keras weights (tensorflow/models yamnet README).
YAMNET_URL = "https://storage.googleapis.com/audioset/yamnet.h5"


# ------------------------------------------------------------------------------ front end

def padded_length(n_samples: int) -> int:
    """Length after features.pad_waveform: at least one patch, then whole patch hops."""
    n = max(n_samples, MIN_SAMPLES)
    return MIN_SAMPLES + math.ceil((n - MIN_SAMPLES) / PATCH_HOP_SAMPLES) * PATCH_HOP_SAMPLES


def num_patches(n_samples: int) -> int:
    """Patches YAMNet makes from a sound of `n_samples` (at least one)."""
    return 1 + (padded_length(n_samples) - MIN_SAMPLES) // PATCH_HOP_SAMPLES


def hertz_to_mel(f: np.ndarray) -> np.ndarray:
    """HTK mel scale as in tf.signal (mel_ops._hertz_to_mel): 1127 ln(1 + f / 700)."""
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def mel_matrix() -> np.ndarray:
    """`[257, 64]` weights of tf.signal.linear_to_mel_weight_matrix with YAMNet's parameters.

    Triangles in mel space over bin centre frequencies linspace(0, 8000, 257), DC bin zeroed, no
    area normalisation. Written out because no installed library documents this exact variant as
    TensorFlow's (transformers' `triangularize_in_mel_space` matches it; the test checks that).
    """
    n_bins = N_FFT // 2 + 1
    bin_mel = hertz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, n_bins))[1:, None]
    edges = np.linspace(hertz_to_mel(MEL_MIN_HZ), hertz_to_mel(MEL_MAX_HZ), MEL_BANDS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    weights = np.maximum(0.0, np.minimum((bin_mel - lower) / (center - lower), (upper - bin_mel) / (upper - center)))
    return np.concatenate([np.zeros((1, MEL_BANDS)), weights], axis=0)


def log_mel(waves: torch.Tensor) -> torch.Tensor:
    """`[batch, samples]` -> `[batch, frames, 64]` log mel (features.py, tf.signal.stft without padding)."""
    window = torch.hann_window(WINDOW, periodic=True, dtype=torch.float64, device=waves.device)  # tf.signal.stft
    frames = waves.double().unfold(-1, WINDOW, HOP) * window
    magnitude = torch.fft.rfft(frames, n=N_FFT).abs()  # frame zero-padded at its end to 512, as TF does
    mel = magnitude @ torch.from_numpy(mel_matrix()).to(waves.device)
    return torch.log(mel + LOG_OFFSET).float()


def log_mel_patches(waves: torch.Tensor) -> torch.Tensor:
    """`[batch, samples]` (already padded) -> `[batch, patches, 96, 64]`."""
    return log_mel(waves).unfold(1, PATCH_FRAMES, PATCH_HOP_FRAMES).permute(0, 1, 3, 2)


# ------------------------------------------------------------------------------ network

def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'same' padding of one axis: (before, after); the extra pixel goes after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_same(x: torch.Tensor, weight: torch.Tensor, stride: int, groups: int = 1) -> torch.Tensor:
    """2-D convolution with TensorFlow 'same' padding (asymmetric when the total is odd)."""
    top, bottom = same_padding(x.shape[2], weight.shape[2], stride)
    left, right = same_padding(x.shape[3], weight.shape[3], stride)
    return F.conv2d(F.pad(x, (left, right, top, bottom)), weight, stride=stride, groups=groups)


def batch_norm(x: torch.Tensor, bn: dict[str, torch.Tensor]) -> torch.Tensor:
    """Keras BatchNormalization at inference with center=True, scale=False."""
    scale = torch.rsqrt(bn["moving_variance"] + BN_EPSILON)
    return (x - bn["moving_mean"][:, None, None]) * scale[:, None, None] + bn["beta"][:, None, None]


def weight_names(n_layers: int = len(LAYER_DEFS)) -> list[str]:
    """Dataset paths of the official yamnet.h5 (Keras save_weights: layer group / weight name)."""
    names = []
    for i, (kind, _, _) in enumerate(LAYER_DEFS[:n_layers], start=1):
        parts = [("conv", "kernel")] if kind == "conv" else [("depthwise_conv", "depthwise_kernel"),
                                                            ("pointwise_conv", "kernel")]
        for sub, kernel in parts:
            layer = f"layer{i}/{sub}"
            names.append(f"{layer}/{layer}/{kernel}:0")
            names += [f"{layer}/bn/{layer}/bn/{w}:0" for w in ("beta", "moving_mean", "moving_variance")]
    return names + ["logits/logits/kernel:0", "logits/logits/bias:0"]


class YAMNetNet(torch.nn.Module):
    """The 14 conv blocks, global average pool and logits, with weights in Keras naming."""

    def __init__(self, weights: dict[str, np.ndarray]):
        super().__init__()
        self.convs: list[tuple[str, torch.Tensor, int, int]] = []  # (name, torch weight, stride, groups)
        self.bns: dict[str, dict[str, torch.Tensor]] = {}
        channels = 1
        for i, (kind, stride, _) in enumerate(LAYER_DEFS, start=1):
            if kind == "conv":
                steps = [(f"layer{i}/conv", "kernel", stride, False)]
            else:
                steps = [(f"layer{i}/depthwise_conv", "depthwise_kernel", stride, True),
                         (f"layer{i}/pointwise_conv", "kernel", 1, False)]
            for layer, kernel_name, s, depthwise in steps:
                k = weights[f"{layer}/{layer}/{kernel_name}:0"]  # (H, W, in, out or multiplier)
                if k.shape[2] != channels or (depthwise and k.shape[3] != 1):
                    raise AudioprobeError(
                        f"YAMNet weights: {layer} has kernel shape {k.shape}, expected (3, 3, {channels}, "
                        f"{'1' if depthwise else 'N'}); the file is not a YAMNet Keras weights file."
                    )
                w = torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1) if not depthwise
                                                          else k.transpose(2, 3, 0, 1))).float()
                groups = channels if depthwise else 1
                channels = channels if depthwise else k.shape[3]
                self.convs.append((layer, w, s, groups))
                self.bns[layer] = {n: torch.from_numpy(np.asarray(weights[f"{layer}/bn/{layer}/bn/{n}:0"])).float()
                                   for n in ("beta", "moving_mean", "moving_variance")}
        dense = weights["logits/logits/kernel:0"]
        if dense.shape[0] != channels:
            raise AudioprobeError(f"YAMNet weights: logits kernel {dense.shape} does not follow {channels} channels.")
        self.dense_w = torch.from_numpy(np.ascontiguousarray(dense.T)).float()
        self.dense_b = torch.from_numpy(np.asarray(weights["logits/logits/bias:0"])).float()
        self.n_parameters = int(sum(np.asarray(v).size for v in weights.values()))

    def to(self, device):  # plain tensors, not nn.Parameters: move them by hand
        self.convs = [(n, w.to(device), s, g) for n, w, s, g in self.convs]
        self.bns = {k: {n: t.to(device) for n, t in v.items()} for k, v in self.bns.items()}
        self.dense_w, self.dense_b = self.dense_w.to(device), self.dense_b.to(device)
        return self

    def forward(self, patches: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """`[n, 96, 64]` patches -> (14 block outputs `[n, C, H, W]`, embedding `[n, C]`, logits)."""
        x = patches[:, None]  # Keras reshape to (96 frames, 64 bands, 1 channel), NHWC -> NCHW
        blocks = []
        for name, w, stride, groups in self.convs:
            x = torch.relu(batch_norm(conv_same(x, w, stride, groups), self.bns[name]))
            if not name.endswith("depthwise_conv"):
                blocks.append(x)
        embedding = x.mean(dim=(2, 3))  # GlobalAveragePooling2D
        logits = embedding @ self.dense_w.T + self.dense_b
        return blocks, embedding, logits


# ------------------------------------------------------------------------------ weights files

def read_h5(path: Path) -> dict[str, np.ndarray]:
    """Every weight of a YAMNet Keras h5, strictly: missing or unexpected datasets are errors."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            found: dict[str, np.ndarray] = {}
            f.visititems(lambda name, obj: found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    except OSError as exc:
        raise AudioprobeError(f"YAMNet weights {path}: not a readable HDF5 file ({exc}). "
                              f"Give the official yamnet.h5 with --model-args checkpoint=PATH.") from None
    expected = set(weight_names())
    missing, unexpected = sorted(expected - set(found)), sorted(set(found) - expected)
    if missing or unexpected:
        raise AudioprobeError(
            f"YAMNet weights {path}: missing datasets {missing[:4]}{'...' if len(missing) > 4 else ''}; "
            f"unexpected datasets {unexpected[:4]}{'...' if len(unexpected) > 4 else ''}. Expected the official "
            f"Keras file yamnet.h5 ({len(expected)} datasets such as {weight_names()[0]!r})."
        )
    return found


def write_h5(path: Path, weights: dict[str, np.ndarray]) -> None:
    """Write weights in the layout Keras `save_weights` gives the official yamnet.h5."""
    import h5py

    layers = list(dict.fromkeys(name.rsplit("/", 2)[0] for name in weights))  # 'layer1/conv', ..., 'logits'
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in layers])
        f.attrs["backend"] = b"tensorflow"
        for layer in layers:
            own = [n for n in weights if n.rsplit("/", 2)[0] == layer]
            group = f.require_group(layer)
            group.attrs["weight_names"] = np.array([n[len(layer) + 1:].encode() for n in own])
            for n in own:
                f.create_dataset(n, data=np.asarray(weights[n], dtype=np.float32))


def random_weights(filters: list[int] | None = None, num_classes: int = NUM_CLASSES, seed: int = 0
                   ) -> dict[str, np.ndarray]:
    """Freshly initialised weights as Keras would make them (glorot uniform kernels, zero beta and
    bias, moving mean 0 and variance 1), for the random control and tiny test files."""
    rng = np.random.default_rng(seed)
    filters = filters or [f for _, _, f in LAYER_DEFS]

    def glorot(shape, fan_in, fan_out):
        limit = math.sqrt(6.0 / (fan_in + fan_out))  # keras.initializers.GlorotUniform
        return rng.uniform(-limit, limit, size=shape).astype(np.float32)

    def bn(layer, c):
        return {f"{layer}/bn/{layer}/bn/beta:0": np.zeros(c, np.float32),
                f"{layer}/bn/{layer}/bn/moving_mean:0": np.zeros(c, np.float32),
                f"{layer}/bn/{layer}/bn/moving_variance:0": np.ones(c, np.float32)}

    out: dict[str, np.ndarray] = {}
    channels = 1
    for i, ((kind, _, _), c) in enumerate(zip(LAYER_DEFS, filters), start=1):
        if kind == "conv":
            out[f"layer{i}/conv/layer{i}/conv/kernel:0"] = glorot((3, 3, channels, c), 9 * channels, 9 * c)
            out.update(bn(f"layer{i}/conv", c))
        else:
            dw = f"layer{i}/depthwise_conv"
            out[f"{dw}/{dw}/depthwise_kernel:0"] = glorot((3, 3, channels, 1), 9 * channels, 9 * channels)
            out.update(bn(dw, channels))
            pw = f"layer{i}/pointwise_conv"
            out[f"{pw}/{pw}/kernel:0"] = glorot((1, 1, channels, c), channels, c)
            out.update(bn(pw, c))
        channels = c
    out["logits/logits/kernel:0"] = glorot((channels, num_classes), channels, num_classes)
    out["logits/logits/bias:0"] = np.zeros(num_classes, np.float32)
    return out


def layer_sizes(weights: dict[str, np.ndarray]) -> tuple[list[int], int]:
    """(filters of each of the 14 blocks, number of classes) of a YAMNet weights dict."""
    filters = []
    for i, (kind, _, _) in enumerate(LAYER_DEFS, start=1):
        layer = f"layer{i}/conv" if kind == "conv" else f"layer{i}/pointwise_conv"
        filters.append(int(weights[f"{layer}/{layer}/kernel:0"].shape[3]))
    return filters, int(weights["logits/logits/bias:0"].shape[0])


def fetch_official(url: str = "") -> Path:
    """The official yamnet.h5, downloaded once into the audioprobe cache folder."""
    from audioprobe.files import default_cache_dir

    url = url or YAMNET_URL
    dest = default_cache_dir() / "weights" / "yamnet" / "yamnet.h5"
    if dest.exists():
        return dest
    if os.environ.get("HF_HUB_OFFLINE") == "1" and not url.startswith("file:"):
        raise AudioprobeError(f"YAMNet weights are not cached at {dest} and the network is off (HF_HUB_OFFLINE=1). "
                              f"Download {YAMNET_URL} and pass --model-args checkpoint=PATH.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    try:
        urllib.request.urlretrieve(url, tmp)
    except OSError as exc:
        raise AudioprobeError(f"could not download the YAMNet weights from {url}: {exc}. Check your network, "
                              f"or download the file yourself and pass --model-args checkpoint=PATH.") from None
    tmp.replace(dest)
    return dest


# ------------------------------------------------------------------------------ wrapper

class YAMNet(AudioModel):
    meta = CATALOG["yamnet"].meta
    wrapper_version = "1"
    arg_types = {"checkpoint": str}
    supports_random = True

    def adapt_meta(self, card: ModelMeta) -> ModelMeta:
        return with_source(card, self.args)  # a local checkpoint= is not the official file

    def load(self) -> None:
        path = Path(self.args["checkpoint"]).expanduser() if "checkpoint" in self.args else None
        if path is not None and not path.is_file():
            raise AudioprobeError(f"YAMNet checkpoint {path} does not exist; give the path of yamnet.h5.")
        if self.random:
            # the layer sizes of the given file, or the official ones; nothing is downloaded
            filters, classes = layer_sizes(read_h5(path)) if path is not None else (None, NUM_CLASSES)
            weights = random_weights(filters, classes, seed=RANDOM_SEED)
        else:
            source = path if path is not None else fetch_official()
            weights = read_h5(source)
            self.resolved_revision = None if path is not None else f"sha256:{sha256_file(source)}"
        self.net = YAMNetNet(weights).to(self.device)
        self.n_classes = self.net.dense_b.shape[0]

    def layers(self) -> list[str]:
        return [f"layer{i}" for i in range(1, len(LAYER_DEFS) + 1)] + ["embedding", "logits"]

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> dict[str, LayerActivations]:
        lens = [int(n) for n in lengths]
        counts = torch.tensor([num_patches(n) for n in lens], dtype=torch.int64)
        # Pad the batch so every sound has its own official padding: the samples after a sound are
        # zeros in both cases, so its patches are the ones it would get alone.
        total = max(padded_length(n) for n in lens)
        waves = F.pad(waveforms[:, :total], (0, max(0, total - waveforms.shape[1])))
        waves = waves * (torch.arange(total, device=waves.device)[None] < lengths[:, None])  # zero any tail
        patches = log_mel_patches(waves)  # [batch, max patches, 96, 64]
        valid = torch.arange(patches.shape[1])[None] < counts[:, None]
        blocks, embedding, logits = self.net(patches[valid.to(patches.device)])
        out: dict[str, LayerActivations] = {}
        batch, p_max = valid.shape
        for i, block in enumerate(blocks, start=1):
            n, c, h, w = block.shape
            full = block.new_zeros(batch, p_max, h * w, c)
            full[valid.to(block.device)] = block.permute(0, 2, 3, 1).reshape(n, h * w, c)
            out[f"layer{i}"] = LayerActivations(full.reshape(batch, p_max * h * w, c), counts * h * w)
        for name, value in (("embedding", embedding), ("logits", logits)):
            full = value.new_zeros(batch, p_max, value.shape[1])
            full[valid.to(value.device)] = value
            out[name] = LayerActivations(full, counts.clone())
        return out

    @classmethod
    def make_tiny(cls, directory: Path, card: ModelMeta | None = None, **_: Any) -> dict[str, Any]:
        """A YAMNet-layout h5 (same 14 layers and dataset names) with few filters and 7 classes.

        Drawn from RANDOM_SEED + 1, so that it differs from the random control of the same sizes.
        """
        path = Path(directory) / "yamnet.h5"
        write_h5(path, random_weights(filters=[4, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 16, 16], num_classes=7,
                                      seed=RANDOM_SEED + 1))
        return {"checkpoint": str(path)}
