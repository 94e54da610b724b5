"""`beats`, `beats-ft` (and their controls `random-beats`, `random-beats-ft`): BEATs (Chen et al.
2023) from its official checkpoints. Their metadata (Hub mirror, file, pinned commit, license) is
in models/catalog.py.

The network and its configuration are in `beats_network.py` (module names follow the official state
dict, so official `.pt` files load with a strict `load_state_dict`); where its weights come from, an
official checkpoint or random draws, in `beats_weights.py`. This file is the wrapper: the front end
(the filter bank and its normalisation), the layers it exposes, the Hub download.

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
from pathlib import Path
from typing import Any

import torch

from audioprobe.errors import AudioprobeError
from audioprobe.models._hub import hub_download
from audioprobe.models.base import RANDOM_SEED, AudioModel, LayerActivations, ModelMeta
from audioprobe.models.beats_network import ITER3_CONFIG, BEATsNet
from audioprobe.models.beats_weights import load_checkpoint, random_net, read_checkpoint, write_checkpoint
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

#: Which registered names load a fine-tuned checkpoint (with the classifier head and `logits`).
#: The rest of their metadata is in models/catalog.py; both use the iter3 normalisation.
FINETUNED: dict[str, bool] = {"beats": False, "beats-ft": True}


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
