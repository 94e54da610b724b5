"""`beats`, `beats-ft` (and their controls `random-beats`, `random-beats-ft`): BEATs (Chen et al.
2023) from its official checkpoints. Their metadata (Hub mirror, file, pinned commit, license) is
in models/catalog.py.

Written from the published architecture and checkpoint format (microsoft/unilm `beats/BEATs.py`,
`backbone.py`, `modules.py`); transformers has no BEATs class. Module names follow the official
state dict exactly, so official `.pt` files load with a strict `load_state_dict`.

Layers exposed (in network order):
- `patch_proj`: the patch embedding after `layer_norm` (512) and `post_extract_proj` (-> 768), i.e.
  the encoder's input before the convolutional positional embedding (BEATs.extract_features).
- `layer1` ... `layer12`: each transformer layer's output (post-norm).
- `logits` (fine-tuned checkpoints only): the predictor applied to every token, before the
  sigmoid. Its mean over a sound's tokens is the official clip logit (BEATs.extract_features
  averages the per-token logits over non-padded tokens, then applies a sigmoid).

A "frame" is one token: a 16 x 16 patch of the filter bank (16 frames = 160 ms by 16 mel bins).
Tokens are ordered time-major, 8 mel patches per 160 ms step, so a sound with F filter-bank
frames has (F // 16) * 8 tokens; leftover frames are dropped, as in the official code.

Padding: the official padding mask maps samples to tokens by an even split, which does not match
the time-major token layout, so a padded sound's activations differ from its activations alone.
Here a token is valid when its whole patch lies in the sound's own frames; padded tokens are
zeroed before the convolutional positional embedding (as the official encoder does) and masked as
keys in attention. A sound's valid activations are then those of the official model run on that
sound alone (padding_mask=None), whatever it is batched with (checked by the validator).

Random control (`random=true`): the iter3 architecture (or a local checkpoint's cfg) with weights
drawn by `init_random` from `RANDOM_SEED`, following the official initialisation scheme; nothing
is downloaded. `random-beats-ft` is `random-beats` plus a randomly drawn classifier head: its
other layers are exactly those of `random-beats` (same draws, in the same order).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from audioprobe.errors import AudioprobeError
from audioprobe.models._hub import hub_download
from audioprobe.models.base import RANDOM_SEED, AudioModel, LayerActivations, ModelMeta
from audioprobe.models.catalog import CATALOG
from audioprobe.models.fbank import FbankConfig, fbank, num_frames
from audioprobe.models.meta import with_source

# BEATs.preprocess: float waveforms times 2^15 (int16 range), as Kaldi expects.
INT16_SCALE = 2.0 ** 15
# BEATs.preprocess: torchaudio.compliance.kaldi.fbank(num_mel_bins=128, sample_frequency=16000,
# frame_length=25, frame_shift=10), every other option at its Kaldi default (dither 0).
FBANK = FbankConfig(sample_rate=16000, num_mel_bins=128, frame_length_ms=25.0, frame_shift_ms=10.0)
# BEATs.extract_features defaults, used for the iter3 / iter3+ checkpoints: (fbank - mean) / (2 * std).
ITER3_FBANK_MEAN = 15.41663
ITER3_FBANK_STD = 6.55582

#: The official BEATsConfig defaults (BEATs.py); a checkpoint's `cfg` updates them.
CONFIG_DEFAULTS: dict[str, Any] = {
    "input_patch_size": -1, "embed_dim": 512, "conv_bias": False,
    "encoder_layers": 12, "encoder_embed_dim": 768, "encoder_ffn_embed_dim": 3072,
    "encoder_attention_heads": 12, "activation_fn": "gelu", "layer_norm_first": False,
    "deep_norm": False, "conv_pos": 128, "conv_pos_groups": 16,
    "relative_position_embedding": False, "num_buckets": 320, "max_distance": 1280,
    "gru_rel_pos": False, "finetuned_model": False, "predictor_class": 527,
}

#: The cfg of the iter3 / iter3+ checkpoints (the values the issue lists, checked against BEATs.py).
ITER3_CONFIG: dict[str, Any] = {
    **CONFIG_DEFAULTS, "input_patch_size": 16, "deep_norm": True, "relative_position_embedding": True,
    "num_buckets": 320, "max_distance": 800, "gru_rel_pos": True,
}


#: Which registered names load a fine-tuned checkpoint (with the classifier head and `logits`).
#: The rest of their metadata is in models/catalog.py; both use the iter3 normalisation.
FINETUNED: dict[str, bool] = {"beats": False, "beats-ft": True}


def count_parameters(cfg: dict[str, Any]) -> int:
    """Distinct trainable parameters of a BEATs model with this cfg (the shared bias counted once)."""
    c = {**CONFIG_DEFAULTS, **cfg}
    p, e, d, f, h = c["input_patch_size"], c["embed_dim"], c["encoder_embed_dim"], c["encoder_ffn_embed_dim"], c["encoder_attention_heads"]
    n = e * p * p + (e if c["conv_bias"] else 0) + 2 * e
    n += (e * d + d) if e != d else 0
    n += d * (d // c["conv_pos_groups"]) * c["conv_pos"] + c["conv_pos"] + d + 2 * d
    layer = 4 * (d * d + d) + 2 * 2 * d + (d * f + f) + (f * d + d)
    if c["gru_rel_pos"]:
        layer += (d // h) * 8 + 8 + h
    n += c["encoder_layers"] * layer
    if c["relative_position_embedding"]:
        n += c["num_buckets"] * h
    if c["finetuned_model"]:
        n += d * c["predictor_class"] + c["predictor_class"]
    return n


# ---------------------------------------------------------------------------------------------
# The network. Attribute names are the official state-dict names.


class WeightNormConv1d(nn.Module):
    """Conv1d with weight normalisation over dim 2 (`nn.utils.weight_norm(conv, dim=2)` in backbone.py).

    Keeps the official `weight_g` / `weight_v` parameters and computes weight = g * v / ||v||, the
    norm taken over every dim except 2, without the deprecated weight_norm hooks.
    """

    def __init__(self, channels: int, kernel: int, groups: int):
        super().__init__()
        self.weight_g = nn.Parameter(torch.ones(1, 1, kernel))
        self.weight_v = nn.Parameter(torch.empty(channels, channels // groups, kernel))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.groups, self.padding = groups, kernel // 2

    def weight(self) -> torch.Tensor:
        v = self.weight_v
        return v * (self.weight_g / v.norm(dim=(0, 1), keepdim=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T]
        return F.conv1d(x, self.weight().to(x.dtype), self.bias.to(x.dtype), padding=self.padding, groups=self.groups)


def relative_position_buckets(query_length: int, key_length: int, num_buckets: int, max_distance: int,
                              device: torch.device | None = None) -> torch.Tensor:
    """T5-style bidirectional buckets of (key - query) positions, `[query, key]` (backbone.py).

    Half the buckets for positive offsets; within a half, exact buckets below num_buckets / 4 and
    log-spaced ones up to max_distance beyond. Computed in float32, as the official code does.
    """
    rel = torch.arange(key_length, device=device)[None, :] - torch.arange(query_length, device=device)[:, None]
    half = num_buckets // 2
    buckets = (rel > 0).long() * half
    rel = rel.abs()
    max_exact = half // 2
    large = max_exact + (
        torch.log(rel.clamp(min=1).float() / max_exact) / math.log(max_distance / max_exact) * (half - max_exact)
    ).long()
    large = large.clamp(max=half - 1)
    return buckets + torch.where(rel < max_exact, rel, large)


class SelfAttention(nn.Module):
    def __init__(self, c: dict[str, Any]):
        super().__init__()
        d, self.heads = c["encoder_embed_dim"], c["encoder_attention_heads"]
        self.head_dim = d // self.heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))
        self.gru_rel_pos = c["gru_rel_pos"]
        if self.gru_rel_pos:
            self.grep_linear = nn.Linear(self.head_dim, 8)
            self.grep_a = nn.Parameter(torch.ones(1, self.heads, 1, 1))

    def forward(self, x: torch.Tensor, position_bias: torch.Tensor | None, key_mask: torch.Tensor | None) -> torch.Tensor:
        """x `[B, T, D]`; position_bias `[H, T, T]` (ungated); key_mask `[B, 1, 1, T]` additive (0 / -inf)."""
        b, t, d = x.shape
        q, k, v = (proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2) for proj in (self.q_proj, self.k_proj, self.v_proj))
        bias = None
        if position_bias is not None:
            bias = position_bias[None]
            if self.gru_rel_pos:
                # Gated relative position bias (backbone.py MultiheadAttention.forward): the gate is
                # computed from the unscaled query of each head and position.
                ga, gb = torch.sigmoid(self.grep_linear(q).view(b, self.heads, t, 2, 4).sum(-1)).chunk(2, dim=-1)
                bias = (ga * (gb * self.grep_a - 1.0) + 2.0) * bias  # [B, H, T, T]
        if key_mask is not None:
            bias = key_mask if bias is None else bias + key_mask
        if bias is not None:
            bias = bias.to(q.dtype)
        # softmax(q k^T / sqrt(head_dim) + bias) v: the official code's q * scaling / 32, max
        # subtraction and * 32 are the same softmax, arranged for fp16 range.
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.out_proj(out.transpose(1, 2).reshape(b, t, d))


class EncoderLayer(nn.Module):
    def __init__(self, c: dict[str, Any]):
        super().__init__()
        d = c["encoder_embed_dim"]
        self.self_attn = SelfAttention(c)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, c["encoder_ffn_embed_dim"])
        self.fc2 = nn.Linear(c["encoder_ffn_embed_dim"], d)
        self.final_layer_norm = nn.LayerNorm(d)
        # Deep norm (backbone.py): residual scaled by alpha = (2 N)^(1/4), N the number of layers.
        self.alpha = math.pow(2 * c["encoder_layers"], 0.25) if c["deep_norm"] else 1.0

    def forward(self, x, position_bias, key_mask):
        x = self.self_attn_layer_norm(x * self.alpha + self.self_attn(x, position_bias, key_mask))
        return self.final_layer_norm(x * self.alpha + self.fc2(F.gelu(self.fc1(x))))


class Encoder(nn.Module):
    def __init__(self, c: dict[str, Any]):
        super().__init__()
        d = c["encoder_embed_dim"]
        self.pos_conv = nn.ModuleList([WeightNormConv1d(d, c["conv_pos"], c["conv_pos_groups"])])
        self.layers = nn.ModuleList(EncoderLayer(c) for _ in range(c["encoder_layers"]))
        self.relative = c["relative_position_embedding"]
        self.num_buckets, self.max_distance = c["num_buckets"], c["max_distance"]
        if self.relative:
            # One embedding shared by every layer, as in backbone.py: it appears under each
            # layer's prefix in the state dict, and only its value is used (computed once).
            shared = nn.Embedding(c["num_buckets"], c["encoder_attention_heads"])
            for layer in self.layers:
                layer.self_attn.relative_attention_bias = shared
        self.layer_norm = nn.LayerNorm(d)
        self.conv_pos = c["conv_pos"]

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> list[torch.Tensor]:
        """x `[B, T, D]`, valid `[B, T]` bool -> every layer's output."""
        x = x.masked_fill(~valid[..., None], 0.0)  # backbone.py: x[padding_mask] = 0
        conv = self.pos_conv[0](x.transpose(1, 2))
        if self.conv_pos % 2 == 0:
            conv = conv[:, :, :-1]  # SamePad: an even kernel gives one extra frame, dropped at the end
        x = self.layer_norm(x + F.gelu(conv).transpose(1, 2))
        t = x.shape[1]
        position_bias = None
        if self.relative:
            # On the CPU, as backbone.py computes them: a GPU log could round differently at a
            # bucket boundary.
            buckets = relative_position_buckets(t, t, self.num_buckets, self.max_distance).to(x.device)
            position_bias = self.layers[0].self_attn.relative_attention_bias(buckets).permute(2, 0, 1)
        key_mask = None
        if not bool(valid.all()):
            key_mask = torch.zeros(valid.shape, dtype=x.dtype, device=x.device).masked_fill(~valid, float("-inf"))
            key_mask = key_mask[:, None, None, :]
        outs = []
        for layer in self.layers:
            x = layer(x, position_bias, key_mask)
            outs.append(x)
        return outs


class BEATsNet(nn.Module):
    """The BEATs network from the filter bank on; `state_dict()` keys are the official ones."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        c = {**CONFIG_DEFAULTS, **cfg}
        check_config(c)
        self.cfg = c
        p, e, d = c["input_patch_size"], c["embed_dim"], c["encoder_embed_dim"]
        self.patch_embedding = nn.Conv2d(1, e, kernel_size=p, stride=p, bias=c["conv_bias"])
        self.layer_norm = nn.LayerNorm(e)
        self.post_extract_proj = nn.Linear(e, d) if e != d else None
        self.encoder = Encoder(c)
        self.predictor = nn.Linear(d, c["predictor_class"]) if c["finetuned_model"] else None

    def forward(self, fbank_norm: torch.Tensor, n_patches: torch.Tensor) -> list[torch.Tensor]:
        """Normalised filter bank `[B, frames, mel]` and time patches per sound -> layer outputs."""
        x = self.patch_embedding(fbank_norm.unsqueeze(1))  # [B, E, T', mel / patch]
        x = x.flatten(2).transpose(1, 2)  # tokens time-major: index = t * (mel / patch) + f
        x = self.layer_norm(x)
        if self.post_extract_proj is not None:
            x = self.post_extract_proj(x)
        per_patch = fbank_norm.shape[2] // self.cfg["input_patch_size"]
        valid = torch.arange(x.shape[1], device=x.device)[None, :] < (n_patches * per_patch)[:, None]
        outs = [x, *self.encoder(x, valid)]
        if self.predictor is not None:
            outs.append(self.predictor(outs[-1]))
        return outs


#: cfg keys that size the network: they must be integers >= 1 (input_patch_size is checked below)
POSITIVE_KEYS = ("embed_dim", "encoder_layers", "encoder_embed_dim", "encoder_ffn_embed_dim",
                 "encoder_attention_heads", "conv_pos", "conv_pos_groups", "num_buckets", "max_distance",
                 "predictor_class")


def check_types(c: dict[str, Any]) -> None:
    """Each cfg value must have the type of its default (an int where an int is expected, ...)."""
    wrong = []
    for key, default in CONFIG_DEFAULTS.items():
        value = c.get(key)
        if isinstance(default, bool):
            ok = isinstance(value, bool) or (type(value) is int and value in (0, 1))
        elif isinstance(default, int):
            ok = type(value) is int
        else:
            ok = isinstance(value, type(default))
        if not ok:
            wrong.append(f"{key}={value!r} (expected {type(default).__name__})")
    wrong += [f"{k}={c[k]!r} (expected an integer >= 1)" for k in POSITIVE_KEYS
              if type(c.get(k)) is int and c[k] < 1]
    if type(c.get("encoder_embed_dim")) is int and type(c.get("encoder_attention_heads")) is int \
            and c["encoder_attention_heads"] >= 1 and c["encoder_embed_dim"] % c["encoder_attention_heads"]:
        wrong.append("encoder_embed_dim not divisible by encoder_attention_heads")
    if type(c.get("encoder_embed_dim")) is int and type(c.get("conv_pos_groups")) is int \
            and c["conv_pos_groups"] >= 1 and c["encoder_embed_dim"] % c["conv_pos_groups"]:
        wrong.append("encoder_embed_dim not divisible by conv_pos_groups")
    if wrong:
        raise AudioprobeError(f"BEATs checkpoint cfg has values of the wrong type or range: {'; '.join(wrong)}. "
                              f"Is it an official BEATs checkpoint?")


def check_config(c: dict[str, Any]) -> None:
    """Refuse cfg values this implementation does not reproduce, naming them."""
    check_types(c)
    unsupported = []
    if c["layer_norm_first"]:
        unsupported.append("layer_norm_first=True")
    if c["activation_fn"] != "gelu":
        unsupported.append(f"activation_fn={c['activation_fn']!r}")
    if c["input_patch_size"] < 1:
        unsupported.append(f"input_patch_size={c['input_patch_size']!r}")
    if c["gru_rel_pos"] and not c["relative_position_embedding"]:
        unsupported.append("gru_rel_pos without relative_position_embedding")
    if unsupported:
        raise AudioprobeError(
            f"BEATs checkpoint cfg has {', '.join(unsupported)}, which this wrapper does not implement; "
            f"it supports the iter1-iter3+ configurations (post-norm, gelu)."
        )


def init_random(net: BEATsNet, seed: int) -> BEATsNet:
    """Fixed-seed initialisation following backbone.py's scheme (the architecture-only control).

    init_bert_params: Linear and Embedding weights N(0, 0.02), biases 0; deep norm: xavier_normal
    with gain 1 for q/k and (8 N)^(-1/4) for v/out/fc1/fc2; pos_conv weight N(0, sqrt(4 / (k D))),
    weight norm's g = ||v||; patch embedding, post_extract_proj and LayerNorms keep PyTorch defaults.
    """
    c = net.cfg
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in (net.patch_embedding, net.post_extract_proj):
            if module is None:
                continue
            bound = 1 / math.sqrt(module.weight[0].numel())  # PyTorch's default kaiming-uniform(a=sqrt 5) bound
            module.weight.uniform_(-bound, bound, generator=gen)
            if module.bias is not None:
                module.bias.uniform_(-bound, bound, generator=gen)
        for module in net.encoder.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.normal_(0.0, 0.02, generator=gen)
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()
        if c["deep_norm"]:
            beta = math.pow(8 * c["encoder_layers"], -0.25)
            for layer in net.encoder.layers:
                for lin, gain in ((layer.self_attn.k_proj, 1.0), (layer.self_attn.v_proj, beta),
                                  (layer.self_attn.q_proj, 1.0), (layer.self_attn.out_proj, beta),
                                  (layer.fc1, beta), (layer.fc2, beta)):
                    fan_out, fan_in = lin.weight.shape
                    lin.weight.normal_(0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator=gen)
        conv = net.encoder.pos_conv[0]
        conv.weight_v.normal_(0.0, math.sqrt(4.0 / (c["conv_pos"] * c["encoder_embed_dim"])), generator=gen)
        conv.weight_g.copy_(conv.weight_v.norm(dim=(0, 1), keepdim=True))
        conv.bias.zero_()
    return net


def random_net(cfg: dict[str, Any], seed: int) -> BEATsNet:
    """A BEATs with this cfg and weights drawn from `seed` alone (no global random state).

    The backbone by `init_random`; a fine-tuned cfg's classifier head N(0, 0.02) with zero bias,
    drawn from `seed + 1`, so that the backbone is the same with or without a head.
    """
    net = init_random(BEATsNet(cfg), seed)
    if net.predictor is not None:
        gen = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            net.predictor.weight.normal_(0.0, 0.02, generator=gen)
            net.predictor.bias.zero_()
    return net


def write_checkpoint(path: Path, cfg: dict[str, Any], seed: int = 0) -> Path:
    """Save a random BEATs in the official format `{'cfg': ..., 'model': state_dict}`."""
    net = random_net(cfg, seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"cfg": dict(cfg), "model": net.state_dict()}, path)
    return path


def read_checkpoint(path: Path, expect_finetuned: bool | None = None) -> dict[str, Any]:
    """An official-format checkpoint `{'cfg': dict, 'model': state_dict}`, its format and kind checked."""
    path = Path(path)
    if not path.is_file():
        raise AudioprobeError(f"BEATs checkpoint {str(path)!r} does not exist; give a .pt file with checkpoint=PATH.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle / zip errors of many types all mean "not a checkpoint"
        detail = next((line.strip() for line in str(exc).splitlines() if "Unsupported" in line), str(exc).splitlines()[0])
        detail = detail.replace("WeightsUnpickler error: ", "").split(" was not an allowed global")[0]
        if "Weights only load failed" in detail:
            detail = "not a torch zip archive, or a pickle holding more than tensors"
        raise AudioprobeError(f"BEATs checkpoint {str(path)!r} could not be read as a torch checkpoint with "
                              f"weights_only=True ({detail}); give an official BEATs .pt file (tensors and a cfg "
                              f"dict only: nothing that loading could run).") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("cfg"), dict) or not isinstance(ckpt.get("model"), dict):
        found = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise AudioprobeError(
            f"BEATs checkpoint {str(path)!r} is not in the official format {{'cfg': dict, 'model': state_dict}} "
            f"(found {found})."
        )
    finetuned = bool(ckpt["cfg"].get("finetuned_model", False))
    if expect_finetuned is True and not finetuned:
        raise AudioprobeError(f"BEATs checkpoint {str(path)!r} is not fine-tuned (cfg finetuned_model is false): "
                              f"use --model beats for pre-trained checkpoints.")
    if expect_finetuned is False and finetuned:
        raise AudioprobeError(f"BEATs checkpoint {str(path)!r} is fine-tuned (cfg finetuned_model is true): "
                              f"use --model beats-ft for it.")
    return ckpt


def load_checkpoint(path: Path, expect_finetuned: bool | None = None) -> BEATsNet:
    """Build the network from an official-format checkpoint; strict loading with clear errors."""
    ckpt = read_checkpoint(path, expect_finetuned)
    cfg = ckpt["cfg"]
    try:
        net = BEATsNet(cfg)
    except AudioprobeError as exc:
        raise AudioprobeError(f"{exc} (in {str(path)!r})") from None
    state = ckpt["model"]
    expected = set(net.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise AudioprobeError(
            f"BEATs checkpoint {str(path)!r} does not match the architecture its cfg describes: "
            f"missing keys {missing[:5]}{' ...' if len(missing) > 5 else ''}, unexpected keys "
            f"{unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}. Is it an official BEATs checkpoint?"
        )
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # shape mismatches
        raise AudioprobeError(f"BEATs checkpoint {str(path)!r}: {str(exc).splitlines()[-1].strip()}") from None
    return net


# ---------------------------------------------------------------------------------------------
# The wrapper.


class BEATs(AudioModel):
    meta = CATALOG["beats"].meta
    #: Bump when a change can change an activation (cache key).
    wrapper_version = "1"
    arg_types = {"checkpoint": str, "repo": str, "filename": str, "revision": str, "repo_type": str,
                 "fbank_mean": float, "fbank_std": float}
    supports_random = True
    net: BEATsNet | None = None  # set by load()

    @property
    def finetuned(self) -> bool:
        """Whether this name's checkpoint is fine-tuned (has the head): `beats-ft` and its control."""
        return FINETUNED.get(self.card.name, False)

    def adapt_meta(self, card: ModelMeta) -> ModelMeta:
        meta = with_source(card, self.args)
        if self.random and "checkpoint" not in self.args:
            # The control is built from ITER3_CONFIG in this file: it reads nothing from the Hub.
            meta = dataclasses.replace(meta, repo_id=None, revision=None, filename=None)
        return meta

    @property
    def fbank_mean(self) -> float:
        return float(self.args.get("fbank_mean", ITER3_FBANK_MEAN))

    @property
    def fbank_std(self) -> float:
        return float(self.args.get("fbank_std", ITER3_FBANK_STD))

    def load(self) -> None:
        checkpoint = self.args.get("checkpoint")
        if self.random:
            # The architecture of the given checkpoint (its cfg), or the published iter3 one.
            cfg = read_checkpoint(Path(checkpoint), self.finetuned)["cfg"] if checkpoint else \
                {**ITER3_CONFIG, "finetuned_model": self.finetuned}
            self.net = random_net(cfg, RANDOM_SEED)
        elif checkpoint:
            self.net = load_checkpoint(Path(checkpoint), expect_finetuned=self.finetuned)
        else:
            meta = self.trained_meta
            path, self.resolved_revision = hub_download(meta.repo_id, meta.filename, meta.revision, meta.repo_type)
            self.net = load_checkpoint(path, expect_finetuned=self.finetuned)
        self.net.eval().to(self.device)

    def layers(self) -> list[str]:
        cfg = self.net.cfg if self.net is not None else {**ITER3_CONFIG, "finetuned_model": self.finetuned}
        names = ["patch_proj"] + [f"layer{i + 1}" for i in range(cfg["encoder_layers"])]
        return names + (["logits"] if cfg["finetuned_model"] else [])

    def min_samples(self) -> int:
        """Shortest input giving one token: one patch of filter-bank frames."""
        p = self.net.cfg["input_patch_size"] if self.net is not None else 16
        return FBANK.frame_length + (p - 1) * FBANK.frame_shift

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> dict[str, LayerActivations]:
        if self.net is None:
            raise AudioprobeError("BEATs: call load() before forward().")
        shortest = int(lengths.min())
        if shortest < self.min_samples():
            raise AudioprobeError(
                f"BEATs needs at least {self.min_samples()} samples ({self.min_samples() / 16000:.3f} s at 16 kHz) "
                f"per sound, one 16-frame patch; a sound has {shortest}. Remove or pad the short sounds."
            )
        patch = self.net.cfg["input_patch_size"]
        n_patches = num_frames(lengths, FBANK) // patch
        used = int(n_patches.max()) * patch * FBANK.frame_shift + FBANK.frame_length - FBANK.frame_shift
        with torch.autocast(waveforms.device.type, enabled=False):  # the filter bank stays in fp32
            feats = fbank(waveforms[:, :used].float() * INT16_SCALE, FBANK)
            feats = (feats - self.fbank_mean) / (2 * self.fbank_std)
        outs = self.net(feats, n_patches)
        n_tokens = n_patches * (FBANK.num_mel_bins // patch)
        return {name: LayerActivations(out, n_tokens) for name, out in zip(self.layers(), outs)}

    @classmethod
    def make_tiny(cls, directory: Path, card: ModelMeta | None = None, **_: Any) -> dict[str, Any]:
        """A 2-layer, 64-wide random BEATs in the official checkpoint format (same keys).

        `beats-ft`'s gets a predictor (10 classes) and `finetuned_model: True`. Drawn from seed 1,
        so that it differs from the random control (RANDOM_SEED) of the same tiny architecture.
        """
        finetuned = FINETUNED.get((card or cls.meta).name, False)
        cfg = {**TINY_CONFIG, "finetuned_model": finetuned, "predictor_class": 10}
        name = "beats-ft-tiny.pt" if finetuned else "beats-tiny.pt"
        return {"checkpoint": str(write_checkpoint(Path(directory) / name, cfg, seed=RANDOM_SEED + 1))}


#: A tiny configuration with every official feature on (deep norm, gated relative bias, conv pos).
TINY_CONFIG: dict[str, Any] = {
    **ITER3_CONFIG, "embed_dim": 32, "encoder_layers": 2, "encoder_embed_dim": 64,
    "encoder_ffn_embed_dim": 128, "encoder_attention_heads": 4, "conv_pos": 16, "conv_pos_groups": 4,
    "num_buckets": 32, "max_distance": 64,
}
