"""transformers encoders: aliases through the Hub client, agreement with transformers itself,
Whisper and AST frame definitions, random controls, strict loading."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from audioprobe.errors import AudioprobeError
from audioprobe.models import hf as H
from audioprobe.models.catalog import CATALOG
from audioprobe.models.registry import create_model
from tests.hubfake import add_to_hub_cache

#: The registered transformers names (aliases of pinned Hub repos).
ALIASES = [name for name, entry in CATALOG.items() if entry.wrapper.endswith(":HFAudioEncoder")]


def test_every_alias_has_a_tiny_family_and_a_pinned_or_followed_repo():
    assert sorted(H.TINY_FAMILY) == sorted(ALIASES)
    for name in ALIASES:
        meta = CATALOG[name].meta
        assert meta.repo_id and meta.sample_rate == 16000 and meta.n_parameters
        assert meta.revision is None or len(meta.revision) == 40


#: Hub models of the catalogue that follow a branch: no public pin of a commit could be verified offline
#: (models/catalog.py says so beside each); every other Hub model is pinned to a commit.
UNPINNED = {"data2vec-audio-base"}


def test_every_hub_model_in_the_catalogue_is_pinned_to_a_commit():
    """A pinned 40-hex revision for every model the catalogue downloads from the Hub, the listed exceptions
    aside (a new unpinned model fails here, and so does pinning an exception without removing it)."""
    hub = {name: entry.meta for name, entry in CATALOG.items() if entry.meta.repo_id}
    assert {"beats", "beats-ft", "clap"} <= set(hub)
    unpinned = {name for name, meta in hub.items()
                if not (meta.revision and len(meta.revision) == 40 and all(c in "0123456789abcdef" for c in meta.revision))}
    assert unpinned == UNPINNED


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """alias -> folder with that family's tiny checkpoint (written once per module)."""
    out = {}
    for alias in ALIASES:
        d = tmp_path_factory.mktemp(alias)
        H.write_tiny(d, H.TINY_FAMILY[alias])
        out[alias] = d
    return out


def run(model, waves):
    lengths = torch.tensor([len(w) for w in waves])
    batch = torch.zeros(len(waves), int(lengths.max()))
    for i, w in enumerate(waves):
        batch[i, : len(w)] = torch.from_numpy(w)
    return model.forward(batch, lengths)


@pytest.mark.parametrize("alias", ["wav2vec2-base", "hubert-base", "wavlm-base-plus", "data2vec-audio-base"])
def test_alias_loads_from_hub_at_pinned_commit_and_matches_transformers(alias, tiny, hub_cache, rng):
    from transformers import AutoFeatureExtractor, AutoModel

    spec = CATALOG[alias].meta
    commit = spec.revision or "d" * 40
    add_to_hub_cache(hub_cache, spec.repo_id, {p.name: p for p in tiny[alias].iterdir()}, commit=commit)
    model = create_model(alias)
    assert model.meta == spec and model.identity()["revision"] == commit  # unpinned: the current commit
    model.load()
    assert model.resolved_revision == commit
    waves = [rng.standard_normal(8000).astype(np.float32), rng.standard_normal(3000).astype(np.float32)]
    out = run(model, waves)
    # independent reference: transformers on each sound alone
    ref_model = AutoModel.from_pretrained(tiny[alias]).eval()
    fe = AutoFeatureExtractor.from_pretrained(tiny[alias])
    for i, w in enumerate(waves):
        with torch.no_grad():
            ref = ref_model(**fe(w, sampling_rate=16000, return_tensors="pt"), output_hidden_states=True).hidden_states
        for k, layer in enumerate(model.layers()):
            n = int(out[layer].n_frames[i])
            assert n == ref[k].shape[1]
            torch.testing.assert_close(out[layer].values[i, :n], ref[k][0], rtol=1e-5, atol=1e-5)
    # one frame per output step of the tiny conv encoder (kernels 10, 3, 3; strides 5, 2, 2)
    assert out["layer0"].n_frames.tolist() == [399, 149]


def test_whisper_encoder_is_cropped_to_the_sound(tiny, rng):
    from transformers import WhisperFeatureExtractor, WhisperModel

    model = create_model("whisper-base-encoder", {"checkpoint": str(tiny["whisper-base-encoder"])})
    model.load()
    wave = rng.standard_normal(16000).astype(np.float32)  # 1 s -> 100 mel frames -> 50 encoder frames
    out = run(model, [wave, wave[:4970]])
    assert out["layer2"].n_frames.tolist() == [50, math.ceil(math.ceil(4970 / 160) / 2)]
    enc = WhisperModel.from_pretrained(tiny["whisper-base-encoder"]).encoder.eval()
    feats = WhisperFeatureExtractor.from_pretrained(tiny["whisper-base-encoder"])(wave, sampling_rate=16000,
                                                                                   return_tensors="pt")
    with torch.no_grad():
        ref = enc(feats["input_features"], output_hidden_states=True).hidden_states
    assert ref[0].shape[1] == 1500  # the 30 s window
    torch.testing.assert_close(out["layer2"].values[0, :50], ref[2][0, :50], rtol=1e-5, atol=1e-5)
    with pytest.raises(AudioprobeError, match="30 s"):
        run(model, [np.zeros(16000 * 31, np.float32)])


def test_ast_frames_are_the_patch_columns_inside_the_sound(tiny, rng):
    from transformers import ASTFeatureExtractor, ASTModel

    folder = tiny["ast-audioset"]
    model = create_model("ast-audioset", {"checkpoint": str(folder)})
    model.load()
    wave = rng.standard_normal(3200).astype(np.float32)  # 18 fbank frames -> time columns 0, 10 start inside
    out = run(model, [wave])
    f_dim = (32 - 16) // 10 + 1  # tiny config: 32 mel bins, patch 16, stride 10
    assert int(out["layer1"].n_frames[0]) == f_dim * 2
    net = ASTModel.from_pretrained(folder).eval()
    feats = ASTFeatureExtractor.from_pretrained(folder)(wave, sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        ref = net(**feats, output_hidden_states=True).hidden_states[1][0]
    t_dim = (64 - 16) // 10 + 1
    patches = ref[2:].reshape(f_dim, t_dim, -1)  # frequency-major after the two special tokens
    expected = torch.cat([patches[0, :2], patches[1, :2]])
    torch.testing.assert_close(out["layer1"].values[0, : f_dim * 2], expected, rtol=1e-5, atol=1e-5)


def test_prefix_name_and_random_control(tiny, hub_cache):
    add_to_hub_cache(hub_cache, "someorg/tiny-w2v", {p.name: p for p in tiny["wav2vec2-base"].iterdir()},
                     commit="e" * 40)
    trained = create_model("hf:someorg/tiny-w2v")
    assert trained.meta.name == "hf:someorg/tiny-w2v" and trained.meta.repo_id == "someorg/tiny-w2v"
    assert trained.identity()["revision"] == "e" * 40  # unpinned: the cache key holds the current commit
    trained.load()
    assert trained.resolved_revision == "e" * 40
    rand = [create_model("hf:someorg/tiny-w2v", {"random": "true"}) for _ in range(2)]
    assert rand[0].meta.name == "random-hf:someorg/tiny-w2v" and rand[0].meta.training == "none"
    assert "Random-initialisation control" in rand[0].meta.description and rand[0].meta.repo_id is None
    assert rand[0].identity() != trained.identity()  # never shares a cache entry with the trained model
    assert rand[0].identity()["revision"] == "e" * 40  # the commit of the config it copies
    for m in rand:
        m.load()
    assert rand[0].resolved_revision is None
    wave = np.random.default_rng(0).standard_normal(6000).astype(np.float32)
    a, b, t = run(rand[0], [wave]), run(rand[1], [wave]), run(trained, [wave])
    assert torch.equal(a["layer2"].values, b["layer2"].values)  # fixed seed
    assert not torch.allclose(a["layer2"].values, t["layer2"].values)


def test_strict_loading_and_clear_errors(tiny, tmp_path):
    src = tiny["hubert-base"]
    for kind in ("missing", "unexpected"):
        d = tmp_path / kind
        d.mkdir()
        for p in src.iterdir():
            (d / p.name).write_bytes(p.read_bytes())
        weights = load_file(d / "model.safetensors")
        if kind == "missing":
            del weights["encoder.layers.1.attention.k_proj.weight"]
        else:
            weights["encoder.layers.1.extra.weight"] = torch.zeros(2)
        save_file(weights, d / "model.safetensors", metadata={"format": "pt"})
        with pytest.raises(AudioprobeError, match=f"{kind} weights \\['encoder.layers.1"):
            create_model("hubert-base", {"checkpoint": str(d)}).load()
    # a pretraining head (wav2vec2's quantizer) is not an error: the tiny wav2vec2 checkpoint has one
    assert any(k.startswith("quantizer") for k in load_file(tiny["wav2vec2-base"] / "model.safetensors"))
    # wrong rate: the extractor says 8 kHz
    d = tmp_path / "rate"
    d.mkdir()
    for p in src.iterdir():
        (d / p.name).write_bytes(p.read_bytes())
    cfg = json.loads((d / "preprocessor_config.json").read_text())
    (d / "preprocessor_config.json").write_text(json.dumps({**cfg, "sampling_rate": 8000}))
    with pytest.raises(AudioprobeError, match="sample_rate=8000"):
        create_model("hf:x/y", {"checkpoint": str(d)}).load()
    with pytest.raises(AudioprobeError, match="could not fetch"):
        create_model("hf:nobody/absent").load()
    with pytest.raises(AudioprobeError, match="does not accept --model-args alias"):
        create_model("hf:x/y", {"alias": "hubert-base"})
    with pytest.raises(AudioprobeError, match="random='maybe'.*expected true or false"):
        create_model("hubert-base", {"random": "maybe"})
    m = create_model("hubert-base", {"checkpoint": str(src)})
    m.load()
    with pytest.raises(AudioprobeError, match="cannot run on a sound of 5 samples"):
        run(m, [np.ones(5, np.float32)])


@pytest.mark.parametrize("alias", ALIASES)
def test_validator_passes_on_tiny_variant(alias):
    from audioprobe.validate import validate_model

    report = validate_model(alias, tiny=True)
    assert report.ok, report.text()
