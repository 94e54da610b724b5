"""CLAP: loading through the Hub client, deterministic repeat-padding, hooked layers, strictness."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from audioprobe.errors import AudioprobeError
from audioprobe.models import clap as C
from audioprobe.models.registry import create_model
from tests.hubfake import add_to_hub_cache

REPO, REV = C.CLAP.meta.repo_id, C.CLAP.meta.revision


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("clap-tiny")
    C.write_tiny(d)
    return d


def test_loads_from_hub_at_pinned_commit_and_records_it(hub_cache, tiny_dir):
    add_to_hub_cache(hub_cache, REPO, {p.name: p for p in tiny_dir.iterdir()}, commit=REV)
    model = create_model("clap")
    model.load()
    assert model.resolved_revision == REV
    assert model.layers() == ["patch_embed", "stage1.block1", "stage1.merged", "stage2.block1", "stage2.block2",
                              "pooled", "embedding"]


def test_layers_agree_with_the_model_s_own_computation(tiny_dir, rng):
    model = create_model("clap", {"checkpoint": str(tiny_dir)})
    model.load()
    waves = [rng.standard_normal(30000).astype(np.float32) * 0.1, rng.standard_normal(9000).astype(np.float32) * 0.1]
    batch = torch.zeros(2, 30000)
    batch[0], batch[1, :9000] = torch.from_numpy(waves[0]), torch.from_numpy(waves[1])
    out = model.forward(batch, torch.tensor([30000, 9000]))
    enc = model.net.audio_model.audio_encoder
    # stage 1's output after patch merging is the merging layer applied to its last block's output
    merged = enc.layers[0].downsample(out["stage1.block1"].values, enc.input_resolutions[0])
    torch.testing.assert_close(out["stage1.merged"].values, merged)
    # the embedding is the projection of the pooled output, and both match a direct call
    torch.testing.assert_close(out["embedding"].values[:, 0], model.net.audio_projection(out["pooled"].values[:, 0]))
    feats = model.extractor(waves, sampling_rate=48000, return_tensors="pt", padding="repeatpad",
                            truncation="rand_trunc")
    direct = model.net(input_features=feats["input_features"].float()).audio_embeds
    torch.testing.assert_close(out["embedding"].values[:, 0], direct)
    assert out["patch_embed"].values.shape[1] == out["patch_embed"].n_frames[0] == 16 * 16  # 64 / patch 4


def test_front_end_is_deterministic_repeat_padding(tiny_dir, rng):
    model = create_model("clap", {"checkpoint": str(tiny_dir)})
    model.load()
    window = model.extractor.nb_max_samples  # 1 s in the tiny extractor
    quarter = rng.standard_normal(window // 4)
    # a sound that divides the window is repeated exactly: same input as the sound tiled
    np.testing.assert_allclose(model.features([quarter])["input_features"],
                               model.features([np.tile(quarter, 4)])["input_features"], rtol=1e-6)
    # a longer sound is cut to its first window, not cropped at random
    long = rng.standard_normal(window * 3)
    a, b = model.features([long]), model.features([long])
    np.testing.assert_array_equal(a["input_features"], b["input_features"])
    np.testing.assert_allclose(a["input_features"], model.features([long[:window]])["input_features"], rtol=1e-6)


def test_fused_checkpoint_is_deterministic_and_padding_invariant(tmp_path, rng):
    C.write_tiny(tmp_path, fusion=True)
    model = create_model("clap", {"checkpoint": str(tmp_path)})
    model.load()
    assert model.fusion
    short = torch.from_numpy(rng.standard_normal(20000).astype(np.float32))
    alone = model.forward(short[None], torch.tensor([20000]))
    batch = torch.zeros(2, 40000)
    batch[0], batch[1, :20000] = torch.randn(40000), short
    for _ in range(2):  # the extractor's random "is_longer" pick would change the second sound's output
        both = model.forward(batch, torch.tensor([40000, 20000]))
        torch.testing.assert_close(both["embedding"].values[1], alone["embedding"].values[0], rtol=1e-5, atol=1e-6)


def test_random_control_needs_only_the_config_and_has_twelve_blocks(hub_cache, tmp_path):
    from transformers import ClapConfig, ClapFeatureExtractor

    src = tmp_path / "config-only"
    ClapConfig().save_pretrained(src)  # the real default architecture, no weights
    ClapFeatureExtractor().save_pretrained(src)
    add_to_hub_cache(hub_cache, REPO, {p.name: p for p in src.iterdir()}, commit=REV)
    model = create_model("random-clap")
    assert model.meta.name == "random-clap" and model.meta.training == "none"
    assert model.identity()["revision"] == REV  # the pinned commit of the config it copies
    model.load()
    assert model.resolved_revision is None
    blocks = [n for n in model.layers() if ".block" in n]
    assert len(blocks) == 12 and blocks[-1] == "stage4.block2"
    assert [n for n in model.layers() if n.endswith("merged")] == [f"stage{s}.merged" for s in (1, 2, 3)]
    again = create_model("random-clap")
    again.load()
    w1 = model.net.audio_projection.linear1.weight
    assert torch.equal(w1, again.net.audio_projection.linear1.weight)


def test_strict_loading(tmp_path, tiny_dir):
    for kind in ("missing", "unexpected"):
        d = tmp_path / kind
        d.mkdir()
        for p in tiny_dir.iterdir():
            (d / p.name).write_bytes(p.read_bytes())
        weights = load_file(d / "model.safetensors")
        if kind == "missing":
            del weights[next(k for k in weights if k.startswith("audio_model.audio_encoder.layers.1"))]
        else:
            weights["audio_model.audio_encoder.extra.weight"] = torch.zeros(2)
        save_file(weights, d / "model.safetensors", metadata={"format": "pt"})
        with pytest.raises(AudioprobeError, match=f"{kind} weights \\['audio_model"):
            create_model("clap", {"checkpoint": str(d)}).load()
    with pytest.raises(AudioprobeError, match="config.json"):
        create_model("clap", {"checkpoint": str(tmp_path / "nowhere")}).load()


def test_other_repo_by_argument(hub_cache, tiny_dir):
    add_to_hub_cache(hub_cache, "laion/some-other-clap", {p.name: p for p in tiny_dir.iterdir()}, commit="c" * 40)
    model = create_model("clap", {"repo": "laion/some-other-clap"})
    assert model.meta.repo_id == "laion/some-other-clap" and model.meta.revision is None
    assert model.meta.description == "LAION CLAP audio encoder from laion/some-other-clap."
    assert model.meta.n_parameters is None  # not counted for another repo
    assert model.identity()["revision"] == "c" * 40  # the cache key holds the commit, not "main"
    model.load()
    assert model.resolved_revision == "c" * 40
    assert json.loads((tiny_dir / "config.json").read_text())["model_type"] == "clap"


def test_metadata_matches_the_extractor():
    assert C.CLAP.meta.sample_rate == C.SAMPLE_RATE


@pytest.mark.parametrize("name", ["clap", "random-clap"])
def test_validator_passes_on_tiny_variant(name):
    from audioprobe.validate import validate_model

    report = validate_model(name, tiny=True)
    assert report.ok, report.text()


def test_block_layers_are_the_blocks_in_stage_order(tiny_dir, rng):
    """Each `stageS.blockB` is the output of block B of stage S, both counted from 1 in the encoder's
    own order: hooks placed by an explicit loop over the stages' blocks see the same tensors."""
    model = create_model("clap", {"checkpoint": str(tiny_dir)})
    model.load()
    enc = model.net.audio_model.audio_encoder
    seen, hooks = {}, []
    for s, stage in enumerate(enc.layers):
        for b, block in enumerate(stage.blocks):
            hooks.append(block.register_forward_hook(
                lambda _m, _i, out, key=(s + 1, b + 1): seen.__setitem__(key, out[0].detach().clone())))
    waves = torch.from_numpy(rng.standard_normal((2, 20000)).astype(np.float32) * 0.1)
    try:
        out = model.forward(waves, torch.tensor([20000, 15000]))
    finally:
        for h in hooks:
            h.remove()
    assert sorted(seen) == [(1, 1), (2, 1), (2, 2)]
    for (s, b), values in seen.items():
        torch.testing.assert_close(out[f"stage{s}.block{b}"].values, values, rtol=0, atol=0)
    assert not torch.allclose(out["stage2.block1"].values, out["stage2.block2"].values)
