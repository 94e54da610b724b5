"""The BEATs network (Chen et al. 2023) from the filter bank on, and its configuration.

Written from the published architecture and checkpoint format (microsoft/unilm `beats/BEATs.py`,
`backbone.py`, `modules.py`); transformers has no BEATs class. Module names follow the official
state dict exactly, so official `.pt` files load with a strict `load_state_dict` (`beats_weights.py`).
A configuration is the official `cfg` dict: `CONFIG_DEFAULTS` updated by a checkpoint's, checked by
`check_config`, which refuses by name what this implementation does not reproduce.

A token is valid when its whole patch lies in the sound's own frames (`BEATsNet.forward`); the
others are zeroed before the convolutional positional embedding and masked as attention keys, so a
sound's activations do not depend on what it is batched with (`beats.py`, "Padding").
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from audioprobe.errors import AudioprobeError

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
