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
A random control of any of them: `--model-args random=true` (same config, fixed-seed init).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from audioprobe.errors import AudioprobeError
from audioprobe.models.base import AudioModel, LayerActivations, ModelMeta, hub_download

#: Seed of the random-initialisation controls (torch.manual_seed before from_config).
RANDOM_SEED = 0
#: Whisper's fixed input: 30 s at 16 kHz (WhisperFeatureExtractor chunk_length=30, n_samples).
WHISPER_MAX_SAMPLES = 480_000


class Alias(NamedTuple):
    repo: str
    revision: str | None
    license: str
    training: str
    description: str
    citation: str
    n_parameters: int | None


#: Pinned commits were read from public code that pins them (GitHub search), as noted per line.
#: n_parameters: counted (benchmarks/bench_zoo.py) on the transformers default config of each family,
#: whose architecture fields equal the repo's config; encoder only for Whisper, no head for AST.
ALIASES: dict[str, Alias] = {
    "wav2vec2-base": Alias(
        "facebook/wav2vec2-base", "0b5b8e868dd84f03fd87d01f9c4ff0f080fecfe8",  # pinned in several public repos
        "Apache-2.0", "self-supervised", "wav2vec 2.0 Base, self-supervised on LibriSpeech 960 h (speech).",
        "Baevski, Zhou, Mohamed, Auli (2020). wav2vec 2.0. NeurIPS.", 94_371_712),
    "hubert-base": Alias(
        "facebook/hubert-base-ls960", "dba3bb02fda4248b6e082697eee756de8fe8aa8a",  # pinned in public code
        "Apache-2.0", "self-supervised", "HuBERT Base, self-supervised on LibriSpeech 960 h (speech).",
        "Hsu et al. (2021). HuBERT. IEEE/ACM TASLP.", 94_371_712),
    "wavlm-base-plus": Alias(
        "microsoft/wavlm-base-plus", "4c66d4806a428f2e922ccfa1a962776e232d487b",  # MTEB's model_meta pins it
        "not declared on the model card (microsoft/unilm code: MIT)", "self-supervised", "WavLM Base+, self-supervised on 94k h of speech.",
        "Chen et al. (2022). WavLM. IEEE JSTSP.", 94_381_936),
    "data2vec-audio-base": Alias(
        "facebook/data2vec-audio-base", None,  # no public pin of a commit found; results record the one loaded
        "Apache-2.0", "self-supervised", "data2vec Audio Base, self-supervised on LibriSpeech 960 h (speech).",
        "Baevski et al. (2022). data2vec. ICML.", 93_164_288),
    "ast-audioset": Alias(
        "MIT/ast-finetuned-audioset-10-10-0.4593", "f826b80d28226b62986cc218e5cec390b1096902",  # pinned in public docs
        "BSD-3-Clause", "supervised", "Audio Spectrogram Transformer fine-tuned on AudioSet (mAP 0.4593).",
        "Gong, Chung, Glass (2021). AST: Audio Spectrogram Transformer. Interspeech.", 86_187_264),
    "whisper-base-encoder": Alias(
        "openai/whisper-base", "e37978b90ca9030d5170a5c07aadb050351a65bb",  # the Hub API 'sha' in public fixtures
        "Apache-2.0", "supervised", "Whisper base, encoder only (weakly supervised speech recognition, 680k h).",
        "Radford et al. (2023). Robust speech recognition via large-scale weak supervision. ICML.", 20_590_592),
}


# ------------------------------------------------------------------------------ shared loading helpers

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


def pretrained_source(model: str, repo: str | None, revision: str | None, checkpoint: str | None
                      ) -> tuple[str, str | None, str | None]:
    """Where `from_pretrained` should read: (path or repo id, revision to pass, commit to record).

    For a Hub repo the commit is resolved first (from the cache when offline), so that every file
    comes from that one commit and the result records it; a local folder records none.
    """
    if checkpoint:
        path = Path(checkpoint).expanduser()
        if not (path / "config.json").is_file():
            raise AudioprobeError(f"model {model!r}: checkpoint={checkpoint} is not a folder with a config.json "
                                  f"(a save_pretrained folder is expected).")
        return str(path), None, None
    if not repo:
        raise AudioprobeError(f"model {model!r}: give repo=ORG/NAME or checkpoint=FOLDER.")
    _, commit = hub_download(repo, "config.json", revision)
    return repo, commit, commit


def identity_with_commit(model: AudioModel) -> dict[str, Any]:
    """`model.identity()`, with an unpinned Hub repo's revision resolved to its current commit, so
    that a moved branch never reuses activations cached for an older commit."""
    ident = AudioModel.identity(model)
    if ident["revision"] is None and model.meta.repo_id and not model.args.get("checkpoint"):
        ident["revision"] = pretrained_source(model.meta.name, model.meta.repo_id, None, None)[2]
    return ident


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
    """`cls.from_pretrained` strictly checked, or `cls(config)` with a fixed seed for random controls."""
    from transformers import AutoConfig

    with quiet_transformers():
        try:
            if random:
                # a model class reads its own part of a composite config (e.g. CLAP's audio_config)
                config = (getattr(cls, "config_class", None) or AutoConfig).from_pretrained(source, revision=revision)
                torch.manual_seed(RANDOM_SEED)
                net = cls.from_config(config) if hasattr(cls, "from_config") else cls._from_config(config)
            else:
                net, info = cls.from_pretrained(source, revision=revision, output_loading_info=True, **kwargs)
                check_loading(model, net, info)
        except (OSError, ValueError, KeyError) as exc:
            raise AudioprobeError(f"model {model!r}: could not load {source} (revision {revision}): {exc}") from None
    return net.eval()


def count_parameters(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# ------------------------------------------------------------------------------ wrapper

class HFAudioEncoder(AudioModel):
    meta = ModelMeta(
        name="hf",
        family="transformers",
        description="Any transformers audio encoder from the Hub (hf:ORG/NAME).",
        sample_rate=16000,
        training="self-supervised",
        license="see the model card",
    )
    wrapper_version = "1"
    arg_types = {"alias": str, "repo": str, "revision": str, "checkpoint": str, "random": bool,
                 "sample_rate": int, "training": str}

    def __init__(self, device: str | torch.device = "cpu", **args: Any):
        super().__init__(device, **args)
        if "alias" in self.args and self.args["alias"] not in ALIASES:
            raise AudioprobeError(f"unknown transformers alias {self.args['alias']!r}; known: {', '.join(ALIASES)}.")

    @classmethod
    def metadata(cls, **args: Any) -> ModelMeta:
        alias = ALIASES.get(args.get("alias", ""))
        random = str(args.get("random", "false")).lower() in ("true", "1", "yes")
        if alias is not None:
            meta = ModelMeta(
                name=args["alias"], family="transformers", description=alias.description,
                sample_rate=16000,  # every alias's feature extractor works at 16 kHz (preprocessor_config.json)
                training=alias.training, license=alias.license, citation=alias.citation,
                repo_id=args.get("repo", alias.repo), revision=args.get("revision", alias.revision),
                n_parameters=alias.n_parameters,
            )
        else:
            repo = args.get("repo")
            meta = ModelMeta(
                name=f"hf:{repo}" if repo else "hf", family="transformers",
                description=f"transformers model {repo} (AutoModel, hidden states)."
                            + ("" if "training" in args else " Training kind not declared: pass training=KIND."),
                # The rate lives in the repo's preprocessor_config.json, unknown before fetching it;
                # load() checks it and says which sample_rate= to pass when it differs.
                sample_rate=int(args.get("sample_rate", 16000)),
                training=args.get("training", "unknown"), license="see the model card",
                repo_id=repo, revision=args.get("revision"),
            )
        if random:
            meta = dataclasses.replace(meta, training="none", license="n/a (random weights)",
                                       description="RANDOM-INIT control (same config, seed 0): " + meta.description)
        return meta

    def load(self) -> None:
        from transformers import AutoFeatureExtractor, AutoModel

        meta = self.meta
        name = meta.name
        source, revision, commit = pretrained_source(name, meta.repo_id, meta.revision, self.args.get("checkpoint"))
        random = bool(self.args.get("random", False))
        with quiet_transformers():
            try:
                self.extractor = AutoFeatureExtractor.from_pretrained(source, revision=revision)
            except (OSError, ValueError) as exc:
                raise AudioprobeError(f"model {name!r}: no feature extractor (preprocessor_config.json) in "
                                      f"{source}: {exc}") from None
        net = load_pretrained(name, AutoModel, source, revision, random)
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
        self.resolved_revision = None if random else commit

    def identity(self) -> dict[str, Any]:
        return identity_with_commit(self)

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
    def make_tiny(cls, directory: Path, alias: str = "wav2vec2-base", **_: Any) -> dict[str, Any]:
        """A small random model of the alias's family, saved as its Hub repo is (the pretraining or
        classification class with its head, `save_pretrained`, plus the feature extractor)."""
        write_tiny(Path(directory), alias if alias in ALIASES else "wav2vec2-base")
        return {"checkpoint": str(directory)}


def write_tiny(directory: Path, alias: str) -> None:
    """Save a tiny random model and feature extractor of `alias`'s family into `directory`."""
    import transformers as tf

    small = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)
    conv = dict(conv_dim=(8, 8, 8), conv_stride=(5, 2, 2), conv_kernel=(10, 3, 3), num_conv_pos_embeddings=8,
                num_conv_pos_embedding_groups=2, vocab_size=8, **small)
    speech_fe = dict(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True)
    family = alias.split("-")[0]
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
        raise ValueError(f"no tiny variant for {alias!r}")
    directory.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        net.save_pretrained(directory)
        fe.save_pretrained(directory)
