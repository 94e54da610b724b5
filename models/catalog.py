"""The catalogue of built-in model names: each name's `ModelMeta`, its wrapper and preset args.

Why the metadata lives here and not in each wrapper file: `audioprobe-eval list models` shows
every name's metadata, and a wrapper file defines torch modules, so reading metadata from the
wrappers would import torch (about 1.7 s) and transformers to print a table. This module imports
nothing heavy, and names its wrapper as "module:Class", imported only when a model is created.
It is grouped by family, one block per wrapper file, so a family's names sit together and point
at their code. What only a wrapper needs (network configs, normalisation constants, which tiny
model to write) stays in the wrapper, keyed by the registered name.

Each name has exactly one `ModelMeta`. Every model with learned weights (training other than
"none") also gets `random-NAME`, its fixed-seed random-initialisation control, registered by
the registry from this table (`meta.random_control`); its wrapper must support `random=true`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from audioprobe.models.meta import ModelMeta


@dataclasses.dataclass(frozen=True)
class Entry:
    """One registered name: its wrapper ("module:Class"), metadata, and the model args it presets."""

    wrapper: str
    meta: ModelMeta
    args: dict[str, Any] = dataclasses.field(default_factory=dict)


_BASELINE = "audioprobe.models.baselines"
_BEATS = "audioprobe.models.beats:BEATs"
_HF = "audioprobe.models.hf:HFAudioEncoder"

_BEATS_CITATION = (
    "Chen, S., Wu, Y., Wang, C., Liu, S., Tompkins, D., Chen, Z., Che, W., Yu, X., Wei, F. (2023). "
    "BEATs: Audio Pre-Training with Acoustic Tokenizers. ICML 2023. arXiv:2212.09058."
)

_ENTRIES: list[tuple[str, ModelMeta]] = [
    # --- baselines, no learned weights (models/logmel.py, models/baselines.py)
    ("audioprobe.models.logmel:LogMel", ModelMeta(
        name="logmel", family="baseline", sample_rate=16000, training="none", n_parameters=0,
        description="Kaldi log-mel filter bank (128 bins, 25 ms / 10 ms), no learned weights.")),
    (f"{_BASELINE}:MFCC", ModelMeta(
        name="mfcc", family="baseline", sample_rate=16000, training="none", n_parameters=0,
        description="Kaldi MFCC (13 cepstra from 23 mel bins, lifter 22, c0 = log energy; 25 ms / 10 ms).")),
    (f"{_BASELINE}:Spectrogram", ModelMeta(
        name="spectrogram", family="baseline", sample_rate=16000, training="none", n_parameters=0,
        description="Linear STFT magnitude (257 bins: 25 ms Hann window, 10 ms hop, 512-point FFT).")),
    # --- BEATs (models/beats.py). The official download links are dead; these are Hub mirrors of
    # the same files. n_parameters = beats_network.count_parameters(ITER3_CONFIG [+ head]), checked by a test.
    (_BEATS, ModelMeta(
        name="beats", family="beats", sample_rate=16000, training="self-supervised", license="MIT",
        description="BEATs iter3+ pre-trained on AudioSet-2M (self-supervised), all 12 layers.",
        citation=_BEATS_CITATION, repo_id="Bencr/beats-checkpoints", filename="BEATs_iter3_plus_AS2M.pt",
        # The mirror is a dataset repository (its files are served under huggingface.co/datasets/), pinned
        # to the commit public code pins it to, with the file's SHA-256 d43cbfad4d7b5638...d94c72961f6eb1d9090ff18cd8d34
        # there (the run identity records the SHA-256 of the file loaded).
        repo_type="dataset", revision="082fb1849d55bef1ee52ee8d8910b3adc69d4bc8", n_parameters=90_311_792)),
    (_BEATS, ModelMeta(
        name="beats-ft", family="beats", sample_rate=16000, training="supervised", license="MIT",
        description="BEATs iter3+ AS2M fine-tuned on AudioSet-2M (cpt2); layers and class logits.",
        citation=_BEATS_CITATION,
        # The SALMONN authors' Space ships the official fine-tuned file unchanged (beats/ folder).
        repo_id="tsinghua-ee/SALMONN-7B-gradio", repo_type="space",
        filename="beats/BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt",
        revision="11c7a591e880d25ec6d74148bfea7a6ff6d04121", n_parameters=90_717_055)),
    # --- YAMNet (models/yamnet.py)
    ("audioprobe.models.yamnet:YAMNet", ModelMeta(
        name="yamnet", family="yamnet", sample_rate=16000, training="supervised", license="Apache-2.0",
        description="YAMNet MobileNet-v1 on 0.96 s log-mel patches, trained on AudioSet (521 classes).",
        citation=("Plakal, M. and Ellis, D. (2020). YAMNet. "
                  "https://github.com/tensorflow/models/tree/master/research/audioset/yamnet"),
        # No Hub mirror of yamnet.h5 exists: fetched from its official URL, which has no commit;
        # results record the file's sha256 instead.
        repo_id=None, revision=None, filename="yamnet.h5",
        n_parameters=3_751_369)),  # counted from the layer shapes (yamnet.random_weights()), checked by a test
    # --- CLAP (models/clap.py)
    ("audioprobe.models.clap:CLAP", ModelMeta(
        name="clap", family="clap", sample_rate=48000, training="contrastive",
        license="Apache-2.0",  # laion/clap-htsat-unfused model card
        description="LAION CLAP HTS-AT audio encoder (unfused), text-audio contrastive on LAION-Audio-630K.",
        citation=("Wu, Chen, Zhang, Hui, Berg-Kirkpatrick, Dubnov (2023). Large-scale contrastive language-audio "
                  "pretraining with feature fusion and keyword-to-caption augmentation. ICASSP."),
        repo_id="laion/clap-htsat-unfused",
        revision="8fa0f1c6d0433df6e97c127f64b2a1d6c0dcda8a",  # pinned in public code (GitHub search)
        n_parameters=28_190_872)),  # audio tower + projection, counted on ClapAudioConfig() (bench_zoo.py)
    # --- transformers audio encoders (models/hf.py); `hf:ORG/NAME` takes any other repo.
    # Pinned commits were read from public code that pins them (GitHub search), as noted per line.
    # Every feature extractor here works at 16 kHz (preprocessor_config.json). n_parameters: counted
    # (benchmarks/bench_zoo.py) on the transformers default config of each family, whose architecture
    # fields equal the repo's config; encoder only for Whisper, no head for AST.
    (_HF, ModelMeta(
        name="wav2vec2-base", family="transformers", sample_rate=16000, training="self-supervised",
        license="Apache-2.0", description="wav2vec 2.0 Base, self-supervised on LibriSpeech 960 h (speech).",
        citation="Baevski, Zhou, Mohamed, Auli (2020). wav2vec 2.0. NeurIPS.",
        repo_id="facebook/wav2vec2-base",
        revision="0b5b8e868dd84f03fd87d01f9c4ff0f080fecfe8",  # pinned in several public repos
        n_parameters=94_371_712)),
    (_HF, ModelMeta(
        name="hubert-base", family="transformers", sample_rate=16000, training="self-supervised",
        license="Apache-2.0", description="HuBERT Base, self-supervised on LibriSpeech 960 h (speech).",
        citation="Hsu et al. (2021). HuBERT. IEEE/ACM TASLP.",
        repo_id="facebook/hubert-base-ls960",
        revision="dba3bb02fda4248b6e082697eee756de8fe8aa8a",  # pinned in public code
        n_parameters=94_371_712)),
    (_HF, ModelMeta(
        name="wavlm-base-plus", family="transformers", sample_rate=16000, training="self-supervised",
        license="not declared on the model card (microsoft/unilm code: MIT)",
        description="WavLM Base+, self-supervised on 94k h of speech.",
        citation="Chen et al. (2022). WavLM. IEEE JSTSP.",
        repo_id="microsoft/wavlm-base-plus",
        revision="4c66d4806a428f2e922ccfa1a962776e232d487b",  # MTEB's model_meta pins it
        n_parameters=94_381_936)),
    (_HF, ModelMeta(
        name="data2vec-audio-base", family="transformers", sample_rate=16000, training="self-supervised",
        license="Apache-2.0", description="data2vec Audio Base, self-supervised on LibriSpeech 960 h (speech).",
        citation="Baevski et al. (2022). data2vec. ICML.",
        repo_id="facebook/data2vec-audio-base",
        revision=None,  # no public pin of a commit found; the identity holds the current commit
        n_parameters=93_164_288)),
    (_HF, ModelMeta(
        name="ast-audioset", family="transformers", sample_rate=16000, training="supervised",
        license="BSD-3-Clause", description="Audio Spectrogram Transformer fine-tuned on AudioSet (mAP 0.4593).",
        citation="Gong, Chung, Glass (2021). AST: Audio Spectrogram Transformer. Interspeech.",
        repo_id="MIT/ast-finetuned-audioset-10-10-0.4593",
        revision="f826b80d28226b62986cc218e5cec390b1096902",  # pinned in public docs
        n_parameters=86_187_264)),
    (_HF, ModelMeta(
        name="whisper-base-encoder", family="transformers", sample_rate=16000, training="supervised",
        license="Apache-2.0",
        description="Whisper base, encoder only (weakly supervised speech recognition, 680k h).",
        citation="Radford et al. (2023). Robust speech recognition via large-scale weak supervision. ICML.",
        repo_id="openai/whisper-base",
        revision="e37978b90ca9030d5170a5c07aadb050351a65bb",  # the Hub API 'sha' in public fixtures
        n_parameters=20_590_592)),
]

#: name -> Entry, for every built-in name (the random controls are added by the registry).
CATALOG: dict[str, Entry] = {meta.name: Entry(wrapper, meta) for wrapper, meta in _ENTRIES}

#: `PREFIX:REST` names: the wrapper and the model argument that receives REST.
PREFIXES: dict[str, tuple[str, str]] = {
    "hf": (_HF, "repo"),
    "hear": ("audioprobe.models.hear:HEARModule", "module"),
}
