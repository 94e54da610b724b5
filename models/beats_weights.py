"""Where a BEATs network's weights come from: an official checkpoint, or fixed-seed random draws.

Official checkpoints are `{'cfg': dict, 'model': state_dict}`, read with `torch.load(weights_only=True)`
(tensors and a cfg dict only: nothing that loading could run) and loaded strictly, with errors that
name the file and the keys. The random control draws every weight from a seed alone, following
backbone.py's initialisation scheme; `write_checkpoint` saves such a network in the official format
(the tiny test models).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from audioprobe.errors import AudioprobeError
from audioprobe.models.beats_network import BEATsNet


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
