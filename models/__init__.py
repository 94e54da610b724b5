"""Model wrappers, one file per family. The table below is the registry of built-in names.

Each entry maps a name to "module:Class" and the `--model-args` that name presets, so that
`list models` and name resolution import a wrapper only when asked. Add a line here when you add
a wrapper (CONTRIBUTING.md).
"""

MODEL_TABLE: dict[str, tuple[str, dict]] = {
    # baselines (no learned weights)
    "logmel": ("audioprobe.models.logmel:LogMel", {}),
    "mfcc": ("audioprobe.models.baselines:MFCC", {}),
    "spectrogram": ("audioprobe.models.baselines:Spectrogram", {}),
    # BEATs (Chen et al. 2023)
    "beats": ("audioprobe.models.beats:BEATs", {}),
    "beats-ft": ("audioprobe.models.beats:BEATs", {"variant": "ft"}),
    "random-beats": ("audioprobe.models.beats:BEATs", {"variant": "random"}),
    # YAMNet (Plakal & Ellis 2020)
    "yamnet": ("audioprobe.models.yamnet:YAMNet", {}),
    "random-yamnet": ("audioprobe.models.yamnet:YAMNet", {"variant": "random"}),
    # CLAP (Wu et al. 2023, LAION)
    "clap": ("audioprobe.models.clap:CLAP", {}),
    "random-clap": ("audioprobe.models.clap:CLAP", {"variant": "random"}),
    # transformers audio encoders, by alias (the `hf:` prefix takes any other repo)
    "wav2vec2-base": ("audioprobe.models.hf:HFAudioEncoder", {"alias": "wav2vec2-base"}),
    "hubert-base": ("audioprobe.models.hf:HFAudioEncoder", {"alias": "hubert-base"}),
    "wavlm-base-plus": ("audioprobe.models.hf:HFAudioEncoder", {"alias": "wavlm-base-plus"}),
    "data2vec-audio-base": ("audioprobe.models.hf:HFAudioEncoder", {"alias": "data2vec-audio-base"}),
    "ast-audioset": ("audioprobe.models.hf:HFAudioEncoder", {"alias": "ast-audioset"}),
    "whisper-base-encoder": ("audioprobe.models.hf:HFAudioEncoder", {"alias": "whisper-base-encoder"}),
}

#: `PREFIX:REST` names: the wrapper and the model argument that receives REST.
MODEL_PREFIXES: dict[str, tuple[str, str]] = {
    "hf": ("audioprobe.models.hf:HFAudioEncoder", "repo"),
    "hear": ("audioprobe.models.hear:HEARModule", "module"),
}
