"""Any transformers audio encoder: `hf:ORG/NAME`, and aliases for the common ones.

The model's own feature extractor (AutoFeatureExtractor) and AutoModel with
`output_hidden_states`: layer `layer0` is the input of the first Transformer block (what
transformers returns as hidden_states[0]) and `layerK` the output of block K.

Each sound runs alone at its own length, so batch padding can never reach it (group-norm models
such as wav2vec2-base must not see padding at all; on a CPU batching gains little). What a frame
is depends on the family:
- wav2vec2 / HuBERT / WavLM / data2vec-audio (and any encoder without special handling): one
  output step of the convolutional feature encoder (20 ms for the base models);
- Whisper (encoder only): the input is padded to 30 s as Whisper requires, then only the encoder
  frames (20 ms) whose centre mel frame lies inside the sound are kept;
- AST: its input is a fixed 1024-frame (10.24 s) spectrogram; the frames are the patch tokens whose
  time window starts inside the sound (all 12 frequency rows of each such column), the two special
  tokens left out.
Registered names (`wav2vec2-base`, `hubert-base`, ...) are pinned repositories whose metadata is in
models/catalog.py. The random control of any of them, or of any `hf:` repo (`random-NAME`, or
`--model-args random=true`): the repo's config with weights drawn from `RANDOM_SEED`, no weights
fetched.
"""

from __future__ import annotations

import contextlib
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audioprobe.errors import AudioprobeError
from audioprobe.models._hub import pretrained_source
from audioprobe.models.base import RANDOM_SEED, AudioModel, LayerActivations, ModelMeta, at_least, hub_repo_id
from audioprobe.models.meta import with_source

#: Whisper's fixed input: 30 s at 16 kHz (WhisperFeatureExtractor chunk_length=30, n_samples).
WHISPER_MAX_SAMPLES = 480_000

#: The model family of each registered name, for `make_tiny` (which tiny model to write); the
#: names' metadata is in models/catalog.py.
TINY_FAMILY: dict[str, str] = {
    "wav2vec2-base": "wav2vec2", "hubert-base": "hubert", "wavlm-base-plus": "wavlm",
    "data2vec-audio-base": "data2vec", "ast-audioset": "ast", "whisper-base-encoder": "whisper",
}


# ------------------------------------------------------------------------------ transformers loading helpers

@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers' loading chatter (its own report is replaced by our strict check)."""
    from transformers.utils import logging as tlog

    level, bars = tlog.get_verbosity(), tlog.is_progress_bar_enabled()
    tlog.set_verbosity_error()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        tlog.set_verbosity(level)
        if bars:
            tlog.enable_progress_bar()


def check_loading(model: str, net: torch.nn.Module, info: dict[str, Any]) -> None:
    """Fail on weights the network needs but the checkpoint lacks, or weights for its own parts
    that could not be placed; weights of heads the encoder does not have (a pretraining
    quantizer, a classifier, a decoder, a text tower) are expected and ignored."""
    children = {n for n, _ in net.named_children()}
    prefix = getattr(net, "base_model_prefix", "")

    def own(key: str) -> bool:
        parts = key.split(".")
        if prefix and parts[0] == prefix and len(parts) > 1:
            parts = parts[1:]
        return parts[0] in children

    missing = sorted(info.get("missing_keys", []))
    stray = sorted(k for k in info.get("unexpected_keys", []) if own(k))
    mismatched = [str(m) for m in info.get("mismatched_keys", [])]
    if missing or stray or mismatched:
        raise AudioprobeError(
            f"model {model!r}: the checkpoint does not fit the architecture: missing weights {missing[:5]}"
            f"{'...' if len(missing) > 5 else ''}; unexpected weights {stray[:5]}{'...' if len(stray) > 5 else ''}"
            f"; shape mismatches {mismatched[:3]}. Check that repo/checkpoint is the model you meant."
        )


def load_pretrained(model: str, cls: Any, source: str, revision: str | None, random: bool, **kwargs) -> Any:
    """`cls.from_pretrained` strictly checked, or `cls(config)` drawn from RANDOM_SEED for random controls."""
    from transformers import AutoConfig

    with quiet_transformers():
        try:
            if random:
                # a model class reads its own part of a composite config (e.g. CLAP's audio_config)
                config = (getattr(cls, "config_class", None) or AutoConfig).from_pretrained(source, revision=revision)
                with torch.random.fork_rng(devices=[]):  # the seed, not the process's random state
                    torch.manual_seed(RANDOM_SEED)
                    net = cls.from_config(config) if hasattr(cls, "from_config") else cls._from_config(config)
            else:
                net, info = cls.from_pretrained(source, revision=revision, output_loading_info=True, **kwargs)
                check_loading(model, net, info)
        except pickle.UnpicklingError as exc:  # torch.load(weights_only=True) refused a .bin file
            raise AudioprobeError(refused_pickle(model, source, exc)) from None
        except (OSError, ValueError, KeyError) as exc:
            raise AudioprobeError(f"model {model!r}: could not load {source} (revision {revision}): {exc}") from None
    return net.eval()


def refused_pickle(model: str, source: str, exc: Exception) -> str:
    """Why a pickled checkpoint (`pytorch_model.bin`) was refused, and what to do instead."""
    detail = next((line.strip() for line in str(exc).splitlines() if "Unsupported global" in line), "")
    detail = detail.split(" was not an allowed global")[0].replace("WeightsUnpickler error: ", "")
    return (f"model {model!r}: the weights in {source} are a pickle that torch.load(weights_only=True) refuses"
            f"{f' ({detail})' if detail else ''}: it holds objects other than tensors, and loading it fully "
            f"could run code. audioprobe never does that. Use a safetensors copy (model.safetensors, e.g. "
            f"converted where you trust the file: transformers' save_pretrained writes one), or another "
            f"revision of the repository that has one.")


# ------------------------------------------------------------------------------ wrapper

class HFAudioEncoder(AudioModel):
    #: The card of `hf:ORG/NAME`: completed from the args by `adapt_meta`.
    meta = ModelMeta(
        name="hf",
        family="transformers",
        description="Any transformers audio encoder from the Hub (hf:ORG/NAME).",
        sample_rate=16000,
        training="unknown",
        license="see the model card",
    )
    wrapper_version = "1"
    arg_types = {"repo": str, "revision": str, "checkpoint": str, "sample_rate": int, "training": str}
    arg_checks = {"sample_rate": at_least(1), "repo": hub_repo_id}
    supports_random = True

    def adapt_meta(self, card: ModelMeta) -> ModelMeta:
        if card.name != HFAudioEncoder.meta.name:  # a registered name: its card, as repo=, checkpoint= change it
            return with_source(card, self.args)
        repo = self.args.get("repo")
        meta = ModelMeta(
            name=f"hf:{repo}" if repo else "hf", family="transformers",
            description=f"transformers model {repo} (AutoModel, hidden states)."
                        + ("" if "training" in self.args else " Training kind not declared: pass training=KIND."),
            # The rate lives in the repo's preprocessor_config.json, unknown before fetching it;
            # load() checks it and says which sample_rate= to pass when it differs.
            sample_rate=int(self.args.get("sample_rate", 16000)),
            training=self.args.get("training", "unknown"), license="see the model card",
            repo_id=repo, revision=self.args.get("revision"),
        )
        return with_source(meta, self.args)

    def load(self) -> None:
        from transformers import AutoFeatureExtractor, AutoModel

        name, meta = self.meta.name, self.trained_meta
        source, revision, commit = pretrained_source(name, meta.repo_id, meta.revision, self.args.get("checkpoint"))
        with quiet_transformers():
            try:
                self.extractor = AutoFeatureExtractor.from_pretrained(source, revision=revision)
            except (OSError, ValueError) as exc:
                raise AudioprobeError(f"model {name!r}: no feature extractor (preprocessor_config.json) in "
                                      f"{source}: {exc}") from None
        net = load_pretrained(name, AutoModel, source, revision, self.random)
        self.kind = net.config.model_type
        if self.kind == "whisper":
            net = net.get_encoder()
        self.net = net.to(self.device)
        self.config = net.config
        rate = getattr(self.extractor, "sampling_rate", None)
        if rate is not None and rate != meta.sample_rate:
            raise AudioprobeError(f"model {name!r}: its feature extractor expects {rate} Hz but {meta.sample_rate} Hz "
                                  f"is declared; pass --model-args sample_rate={rate}.")
        self.n_layers = int(self.config.encoder_layers if self.kind == "whisper" else self.config.num_hidden_layers)
        self.resolved_revision = None if self.random else commit

    def layers(self) -> list[str]:
        return [f"layer{i}" for i in range(self.n_layers + 1)]

    def _features(self, wave: np.ndarray) -> dict[str, torch.Tensor]:
        kwargs: dict[str, Any] = {"sampling_rate": self.meta.sample_rate, "return_tensors": "pt"}
        if self.kind not in ("whisper", "audio-spectrogram-transformer"):
            kwargs["padding"] = False
        feats = self.extractor(wave, **kwargs)
        return {k: v.to(self.device) for k, v in feats.items() if isinstance(v, torch.Tensor)}

    def _one(self, wave: np.ndarray) -> tuple[list[torch.Tensor], int]:
        """Hidden states `[frames, dim]` of one sound and its number of valid frames."""
        n = len(wave)
        if self.kind == "whisper":
            if n > WHISPER_MAX_SAMPLES:
                raise AudioprobeError(f"model {self.meta.name!r}: a sound of {n / 16000:.1f} s is longer than "
                                      f"Whisper's 30 s window; cut it first.")
            feats = self._features(wave)
            hidden = self.net(feats["input_features"], output_hidden_states=True).hidden_states
            hop = self.extractor.hop_length  # 160 samples per mel frame (WhisperFeatureExtractor)
            # mel frame t is centred on sample t * hop; encoder frame j (conv stride 2) is centred
            # on mel frame 2j: keep it when that mel frame is centred inside the sound.
            valid = min(max(1, math.ceil(math.ceil(n / hop) / 2)), hidden[0].shape[1])
            return [h[0] for h in hidden], valid
        if self.kind == "audio-spectrogram-transformer":
            feats = self._features(wave)
            hidden = self.net(**feats, output_hidden_states=True).hidden_states
            c = self.config
            f_dim = (c.num_mel_bins - c.patch_size) // c.frequency_stride + 1  # ASTEmbeddings.get_shape
            t_dim = (c.max_length - c.patch_size) // c.time_stride + 1
            n_fbank = max(1, 1 + (n - 400) // 160)  # ASTFeatureExtractor: 25 ms / 10 ms frames, no centring
            t_valid = min(t_dim, math.ceil(n_fbank / c.time_stride))
            # tokens: 2 special, then patches frequency-major (index f * t_dim + t)
            out = [h[0, 2:].reshape(f_dim, t_dim, -1)[:, :t_valid].reshape(f_dim * t_valid, -1) for h in hidden]
            return out, f_dim * t_valid
        feats = self._features(wave)
        try:
            hidden = self.net(**feats, output_hidden_states=True).hidden_states
        except RuntimeError as exc:  # e.g. a sound shorter than the convolutional encoder's receptive field
            raise AudioprobeError(f"model {self.meta.name!r} cannot run on a sound of {n} samples "
                                  f"({n / self.meta.sample_rate:.3f} s): {exc}") from None
        return [h[0] for h in hidden], hidden[0].shape[1]

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> dict[str, LayerActivations]:
        per_sound = [self._one(waveforms[i, : int(n)].float().cpu().numpy()) for i, n in enumerate(lengths)]
        longest = max(h[0].shape[0] for h, _ in per_sound)
        out = {}
        for k, layer in enumerate(self.layers()):
            dim = per_sound[0][0][k].shape[-1]
            values = torch.zeros(len(per_sound), longest, dim, device=per_sound[0][0][k].device)
            for i, (hidden, _) in enumerate(per_sound):
                values[i, : hidden[k].shape[0]] = hidden[k]
            n_frames = torch.tensor([v for _, v in per_sound], dtype=torch.int64)
            out[layer] = LayerActivations(values, n_frames)
        return out

    @classmethod
    def make_tiny(cls, directory: Path, card: ModelMeta | None = None, **_: Any) -> dict[str, Any]:
        """A small random model of the name's family (wav2vec2 for `hf:` names), saved as its Hub
        repo is (the pretraining or classification class with its head, `save_pretrained`, plus
        the feature extractor)."""
        write_tiny(Path(directory), TINY_FAMILY.get((card or cls.meta).name, "wav2vec2"))
        return {"checkpoint": str(directory)}


def write_tiny(directory: Path, family: str) -> None:
    """Save a tiny random model and feature extractor of `family` (a TINY_FAMILY value) into `directory`.

    Drawn from RANDOM_SEED + 1, so that it differs from the random control of the same architecture.
    """
    with torch.random.fork_rng(devices=[]):  # the seed, not the process's random state
        torch.manual_seed(RANDOM_SEED + 1)
        net, fe = _tiny_model(family)
    directory.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        net.save_pretrained(directory)
        fe.save_pretrained(directory)


def _tiny_model(family: str) -> tuple[Any, Any]:
    """A tiny random network of `family` (the class its Hub repos hold) and its feature extractor."""
    import transformers as tf

    small = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)
    conv = dict(conv_dim=(8, 8, 8), conv_stride=(5, 2, 2), conv_kernel=(10, 3, 3), num_conv_pos_embeddings=8,
                num_conv_pos_embedding_groups=2, vocab_size=8, **small)
    speech_fe = dict(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True)
    if family == "wav2vec2":
        net = tf.Wav2Vec2ForPreTraining(tf.Wav2Vec2Config(feat_extract_norm="group", codevector_dim=8,
                                                          proj_codevector_dim=8, num_codevectors_per_group=4, **conv))
        fe = tf.Wav2Vec2FeatureExtractor(return_attention_mask=False, **speech_fe)
    elif family == "hubert":
        net = tf.HubertModel(tf.HubertConfig(feat_extract_norm="group", **conv))
        fe = tf.Wav2Vec2FeatureExtractor(return_attention_mask=False, **speech_fe)
    elif family == "wavlm":
        net = tf.WavLMModel(tf.WavLMConfig(num_buckets=8, max_bucket_distance=16, **conv))
        fe = tf.Wav2Vec2FeatureExtractor(return_attention_mask=True, **speech_fe)
    elif family == "data2vec":
        net = tf.Data2VecAudioModel(tf.Data2VecAudioConfig(
            conv_pos_kernel_size=3, **{**conv, "num_conv_pos_embeddings": 2}))
        fe = tf.Wav2Vec2FeatureExtractor(return_attention_mask=True, **speech_fe)
    elif family == "ast":
        net = tf.ASTForAudioClassification(tf.ASTConfig(max_length=64, num_mel_bins=32, num_labels=3, **small))
        fe = tf.ASTFeatureExtractor(num_mel_bins=32, max_length=64)
    elif family == "whisper":
        net = tf.WhisperForConditionalGeneration(tf.WhisperConfig(
            d_model=16, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=32, decoder_layers=1,
            decoder_attention_heads=2, decoder_ffn_dim=32, num_mel_bins=80, vocab_size=64, max_target_positions=16, pad_token_id=1, bos_token_id=2,
            eos_token_id=2, decoder_start_token_id=3))
        fe = tf.WhisperFeatureExtractor(feature_size=80)
    else:
        raise ValueError(f"no tiny model for family {family!r}; known: {', '.join(sorted(set(TINY_FAMILY.values())))}")
    return net, fe
