"""CLAP (Wu et al. 2023, LAION): the HTS-AT audio tower of a text-audio contrastive model.

transformers' ClapAudioModelWithProjection, read from a full ClapModel checkpoint
(`laion/clap-htsat-unfused` by default, any LAION CLAP repo with `--model-args repo=`, or a
save_pretrained folder with `checkpoint=`); the text tower's weights are left unread.

Front end: ClapFeatureExtractor at 48 kHz, always a 10 s input. A shorter sound is repeated to
fill it ("repeatpad", zeros for the remainder), never randomly: the extractor's default "fusion"
mode marks a random sound of the batch as long, which changes the unfused model's output. A sound
longer than 10 s is cut to its first 10 s (the extractor would crop at random).

Layers: `patch_embed` (the Swin input tokens), `stageS.blockB` (each Swin block's output, 12 for
depths 2, 2, 6, 2), `stageS.merged` (stage S's output after patch merging, the next stage's input;
the last stage has no merging, its output is its last block), `pooled` (the model's own average
over the final tokens, 768-d) and `embedding` (the projected audio embedding, 512-d, unnormalised).
A frame is one token of the Swin 2-D token grid (HTS-AT folds time and frequency into that grid),
all tokens of the 10 s input; `pooled` and `embedding` have one frame.

Metadata of `clap` in models/catalog.py. Its random control (`random-clap`, `random=true`): the
audio tower of the repo's config with weights drawn from `RANDOM_SEED`, no weights fetched.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audioprobe.errors import AudioprobeError
from audioprobe.models._hub import pretrained_source
from audioprobe.models.base import RANDOM_SEED, AudioModel, LayerActivations, ModelMeta
from audioprobe.models.catalog import CATALOG
from audioprobe.models.hf import load_pretrained, quiet_transformers
from audioprobe.models.meta import with_source

SAMPLE_RATE = 48000  # ClapFeatureExtractor sampling_rate (laion/clap-htsat-unfused preprocessor_config.json)


class CLAP(AudioModel):
    meta = CATALOG["clap"].meta
    wrapper_version = "1"
    arg_types = {"repo": str, "revision": str, "checkpoint": str}
    supports_random = True

    def adapt_meta(self, card: ModelMeta) -> ModelMeta:
        meta = with_source(card, self.args)
        if meta.repo_id != card.repo_id and meta.repo_id:
            meta = dataclasses.replace(meta, description=f"LAION CLAP audio encoder from {meta.repo_id}.")
        return meta

    def load(self) -> None:
        from transformers import ClapAudioModelWithProjection, ClapFeatureExtractor

        name, meta = self.meta.name, self.trained_meta
        source, revision, commit = pretrained_source(name, meta.repo_id, meta.revision, self.args.get("checkpoint"))
        with quiet_transformers():
            try:
                self.extractor = ClapFeatureExtractor.from_pretrained(source, revision=revision)
            except (OSError, ValueError) as exc:
                raise AudioprobeError(f"model {name!r}: no CLAP feature extractor in {source}: {exc}") from None
        if self.extractor.sampling_rate != SAMPLE_RATE:
            raise AudioprobeError(f"model {name!r}: feature extractor at {self.extractor.sampling_rate} Hz, "
                                  f"expected {SAMPLE_RATE}.")
        self.net = load_pretrained(name, ClapAudioModelWithProjection, source, revision, self.random).to(self.device)
        self.fusion = bool(self.net.config.enable_fusion)
        self.resolved_revision = None if self.random else commit
        encoder = self.net.audio_model.audio_encoder
        self._blocks = [(f"stage{s}.block{b}", blk) for s, stage in enumerate(encoder.layers, start=1)
                        for b, blk in enumerate(stage.blocks, start=1)]
        self._n_stages = len(encoder.layers)

    def layers(self) -> list[str]:
        names = ["patch_embed"]
        for s in range(1, self._n_stages + 1):
            names += [n for n, _ in self._blocks if n.startswith(f"stage{s}.")]
            if s < self._n_stages:
                names.append(f"stage{s}.merged")
        return names + ["pooled", "embedding"]

    def features(self, waves: list[np.ndarray]) -> dict[str, torch.Tensor]:
        """Deterministic extractor output for sounds of any length (see the module docstring)."""
        max_samples = self.extractor.nb_max_samples
        waves = [w[:max_samples].astype(np.float64) for w in waves]
        feats = self.extractor(waves, sampling_rate=SAMPLE_RATE, return_tensors="pt", padding="repeatpad",
                               truncation="fusion" if self.fusion else "rand_trunc")
        # No sound is longer than the window any more: fusion's random "is_longer" pick is undone.
        feats["is_longer"] = torch.zeros_like(feats["is_longer"], dtype=torch.bool)
        return feats

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> dict[str, LayerActivations]:
        waves = [waveforms[i, : int(n)].float().cpu().numpy() for i, n in enumerate(lengths)]
        feats = self.features(waves)
        captured: dict[str, torch.Tensor] = {}
        hooks = [blk.register_forward_hook(lambda _m, _i, out, name=name: captured.__setitem__(name, out[0]))
                 for name, blk in self._blocks]
        # the projection's input is the encoder's pooled output
        hooks.append(self.net.audio_projection.register_forward_hook(
            lambda _m, inputs, _o: captured.__setitem__("pooled", inputs[0])))
        try:
            out = self.net(input_features=feats["input_features"].float().to(self.device),
                           is_longer=feats["is_longer"].to(self.device), output_hidden_states=True)
        finally:
            for h in hooks:
                h.remove()
        batch = len(waves)
        tokens = {"patch_embed": out.hidden_states[0]}
        for s in range(1, self._n_stages):
            tokens[f"stage{s}.merged"] = out.hidden_states[s]
        result: dict[str, LayerActivations] = {}
        for name in self.layers()[:-2]:
            if name in captured:
                values = captured[name]  # [batch, tokens, channels]
            else:  # hidden_states are [batch, channels, H, W]
                values = tokens[name].flatten(2).transpose(1, 2)
            result[name] = LayerActivations(values, torch.full((batch,), values.shape[1], dtype=torch.int64))
        one = torch.ones(batch, dtype=torch.int64)
        result["pooled"] = LayerActivations(captured["pooled"][:, None], one)
        result["embedding"] = LayerActivations(out.audio_embeds[:, None], one.clone())
        return result

    @classmethod
    def make_tiny(cls, directory: Path, card: ModelMeta | None = None, **_: Any) -> dict[str, Any]:
        """A tiny full ClapModel (text and audio towers, as the LAION repos hold) and its extractor."""
        write_tiny(Path(directory))
        return {"checkpoint": str(directory)}


def write_tiny(directory: Path, fusion: bool = False) -> None:
    """Save a small random ClapModel and a 1 s, 16-mel ClapFeatureExtractor with save_pretrained.

    Drawn from RANDOM_SEED + 1, so that it differs from the random control of the same architecture.
    """
    from transformers import ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapTextConfig

    audio = ClapAudioConfig(spec_size=64, window_size=4, depths=[1, 2], num_attention_heads=[2, 4],
                            patch_embeds_hidden_size=8, hidden_size=16, projection_dim=8, projection_hidden_size=16,
                            num_mel_bins=16, enable_fusion=fusion, fusion_type="aff_2d" if fusion else None)
    text = ClapTextConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=16, projection_dim=8, max_position_embeddings=40)
    with torch.random.fork_rng(devices=[]):  # the seed, not the process's random state
        torch.manual_seed(RANDOM_SEED + 1)
        model = ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=8))
    directory.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        model.save_pretrained(directory)
        ClapFeatureExtractor(feature_size=16, max_length_s=1, sampling_rate=SAMPLE_RATE, hop_length=480,
                             fft_window_size=1024).save_pretrained(directory)
