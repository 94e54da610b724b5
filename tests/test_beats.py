"""BEATs: official checkpoint format, strict loading, Hub path, and the maths against direct loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from audioprobe.errors import AudioprobeError
from audioprobe.models import beats as B
from audioprobe.models import beats_network as N
from audioprobe.models import beats_weights as W
from audioprobe.models.catalog import CATALOG
from audioprobe.models.fbank import FbankConfig, fbank
from audioprobe.models.registry import create_model
from tests.hubfake import add_to_hub_cache


def official_keys(layers: int = 12, finetuned: bool = False) -> dict[str, tuple[int, ...]]:
    """The state-dict keys and shapes of an official iter3 checkpoint, as the issue lists them."""
    keys = {"patch_embedding.weight": (512, 1, 16, 16), "layer_norm.weight": (512,), "layer_norm.bias": (512,),
            "post_extract_proj.weight": (768, 512), "post_extract_proj.bias": (768,),
            "encoder.pos_conv.0.weight_g": (1, 1, 128), "encoder.pos_conv.0.weight_v": (768, 48, 128),
            "encoder.pos_conv.0.bias": (768,), "encoder.layer_norm.weight": (768,), "encoder.layer_norm.bias": (768,)}
    for i in range(layers):
        p = f"encoder.layers.{i}."
        for proj in ("q", "k", "v", "out"):
            keys[f"{p}self_attn.{proj}_proj.weight"] = (768, 768)
            keys[f"{p}self_attn.{proj}_proj.bias"] = (768,)
        keys[f"{p}self_attn.grep_linear.weight"] = (8, 64)
        keys[f"{p}self_attn.grep_linear.bias"] = (8,)
        keys[f"{p}self_attn.grep_a"] = (1, 12, 1, 1)
        keys[f"{p}self_attn.relative_attention_bias.weight"] = (320, 12)
        for norm in ("self_attn_layer_norm", "final_layer_norm"):
            keys[f"{p}{norm}.weight"] = keys[f"{p}{norm}.bias"] = (768,)
        keys[f"{p}fc1.weight"], keys[f"{p}fc1.bias"] = (3072, 768), (3072,)
        keys[f"{p}fc2.weight"], keys[f"{p}fc2.bias"] = (768, 3072), (768,)
    if finetuned:
        keys["predictor.weight"], keys["predictor.bias"] = (527, 768), (527,)
    return keys


@pytest.mark.parametrize("finetuned", [False, True])
def test_state_dict_has_the_official_keys_and_shapes(finetuned):
    net = N.BEATsNet({**N.ITER3_CONFIG, "finetuned_model": finetuned})
    got = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert got == official_keys(finetuned=finetuned)
    unique = sum(p.numel() for p in net.parameters())  # the shared relative bias counts once
    assert unique == N.count_parameters({**N.ITER3_CONFIG, "finetuned_model": finetuned})
    assert N.count_parameters(N.ITER3_CONFIG) == 90_311_792
    name = "beats-ft" if finetuned else "beats"
    assert CATALOG[name].meta.n_parameters == unique  # the catalogue's count is the network's


def test_iter3_config_and_front_end_constants():
    c = N.ITER3_CONFIG
    assert (c["input_patch_size"], c["embed_dim"], c["encoder_layers"], c["encoder_embed_dim"]) == (16, 512, 12, 768)
    assert (c["encoder_ffn_embed_dim"], c["encoder_attention_heads"], c["conv_pos"], c["conv_pos_groups"]) == (3072, 12, 128, 16)
    assert (c["num_buckets"], c["max_distance"], c["deep_norm"], c["gru_rel_pos"]) == (320, 800, True, True)
    assert (B.ITER3_FBANK_MEAN, B.ITER3_FBANK_STD) == (15.41663, 6.55582)
    assert B.FBANK == FbankConfig(sample_rate=16000, num_mel_bins=128)
    assert N.EncoderLayer(N.ITER3_CONFIG).alpha == pytest.approx(24 ** 0.25)


@pytest.mark.parametrize("name", ["beats", "beats-ft"])
def test_official_format_loads_strictly(tmp_path, name):
    args = B.BEATs.make_tiny(tmp_path, card=CATALOG[name].meta)
    ckpt = torch.load(args["checkpoint"], weights_only=True)
    assert set(ckpt) == {"cfg", "model"} and ckpt["cfg"]["finetuned_model"] == (name == "beats-ft")
    model = create_model(name, args)
    model.load()
    loaded = model.net.state_dict()
    assert set(loaded) == set(ckpt["model"])
    assert all(torch.equal(loaded[k], ckpt["model"][k]) for k in loaded)
    assert ("logits" in model.layers()) == (name == "beats-ft")

    def broken(edit, why):
        bad = {"cfg": dict(ckpt["cfg"]), "model": dict(ckpt["model"])}
        edit(bad)
        path = tmp_path / f"{why}.pt"
        torch.save(bad, path)
        with pytest.raises(AudioprobeError) as err:
            create_model(name, {"checkpoint": str(path)}).load()
        return str(err.value)

    msg = broken(lambda c: c["model"].pop("encoder.layers.1.fc1.weight"), "missing")
    assert "missing keys ['encoder.layers.1.fc1.weight']" in msg and str(tmp_path) in msg
    msg = broken(lambda c: c["model"].__setitem__("encoder.extra.weight", torch.zeros(1)), "unexpected")
    assert "unexpected keys ['encoder.extra.weight']" in msg
    msg = broken(lambda c: c["model"].__setitem__("layer_norm.weight", torch.zeros(7)), "shape")
    assert "layer_norm.weight" in msg and "size" in msg
    msg = broken(lambda c: c["cfg"].__setitem__("finetuned_model", name != "beats-ft"), "finetuned")
    assert ("beats-ft" if name == "beats" else "--model beats") in msg
    msg = broken(lambda c: c["cfg"].__setitem__("layer_norm_first", True), "prenorm")
    assert "layer_norm_first" in msg
    (tmp_path / "plain.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(AudioprobeError, match="could not be read"):
        create_model(name, {"checkpoint": str(tmp_path / "plain.pt")}).load()
    torch.save({"state_dict": ckpt["model"]}, tmp_path / "other.pt")
    with pytest.raises(AudioprobeError, match="official format"):
        create_model(name, {"checkpoint": str(tmp_path / "other.pt")}).load()


@pytest.mark.parametrize("name", ["beats", "beats-ft"])
def test_hub_path_records_the_downloaded_commit(tmp_path, hub_cache, name):
    meta = create_model(name).meta
    assert meta == CATALOG[name].meta
    args = B.BEATs.make_tiny(tmp_path, card=meta)
    commit = meta.revision or "0123456789abcdef0123456789abcdef01234567"
    add_to_hub_cache(hub_cache, meta.repo_id, {meta.filename: args["checkpoint"]}, commit, repo_type=meta.repo_type)
    model = create_model(name)
    assert model.identity()["revision"] == commit
    model.load()
    assert model.resolved_revision == commit
    assert re_hex40(meta.revision)  # both mirrors are pinned to a commit
    assert meta.repo_type == ("dataset" if name == "beats" else "space")  # where each mirror's files are served
    other = create_model(name, {"revision": "f" * 40})
    with pytest.raises(AudioprobeError, match="could not fetch"):
        other.load()


def re_hex40(text: str | None) -> bool:
    return text is not None and len(text) == 40 and all(c in "0123456789abcdef" for c in text)


def reference_bucket(rel: int, num_buckets: int, max_distance: int) -> int:
    """backbone.py `_relative_positions_bucket`, one offset at a time, in float32 like the original."""
    half = num_buckets // 2
    bucket = half if rel > 0 else 0
    rel = abs(rel)
    max_exact = half // 2
    if rel < max_exact:
        return bucket + rel
    scaled = np.float32(np.log(np.float32(rel) / np.float32(max_exact))) / np.float32(math.log(max_distance / max_exact))
    large = max_exact + int(np.float32(scaled * np.float32(half - max_exact)))
    return bucket + min(large, half - 1)


def test_relative_position_buckets_match_direct_loop():
    q_len, k_len = 70, 1700
    got = N.relative_position_buckets(q_len, k_len, 320, 800)
    for i in range(0, q_len, 3):
        for j in range(k_len):
            assert int(got[i, j]) == reference_bucket(j - i, 320, 800), (i, j)
    assert int(got.max()) == 319 and int(got.min()) == 0


def reference_attention(attn: N.SelfAttention, x: torch.Tensor, table: torch.Tensor, valid: torch.Tensor,
                        num_buckets: int, max_distance: int) -> torch.Tensor:
    """Gated relative-position attention written out position by position, head by head."""
    b, t, d = x.shape
    h, dh = attn.heads, attn.head_dim
    q, k, v = attn.q_proj(x), attn.k_proj(x), attn.v_proj(x)
    out = torch.zeros(b, t, d, dtype=torch.float64)
    for n in range(b):
        for head in range(h):
            sl = slice(head * dh, (head + 1) * dh)
            for i in range(t):
                qi = q[n, i, sl]
                g = torch.sigmoid(attn.grep_linear(qi).view(2, 4).sum(-1))
                gate = g[0] * (g[1] * attn.grep_a[0, head, 0, 0] - 1.0) + 2.0
                scores = []
                for j in range(t):
                    if not valid[n, j]:
                        continue
                    bias = table[reference_bucket(j - i, num_buckets, max_distance), head]
                    scores.append((j, float(qi @ k[n, j, sl]) / math.sqrt(dh) + float(gate * bias)))
                top = max(s for _, s in scores)
                weights = [(j, math.exp(s - top)) for j, s in scores]
                total = sum(w for _, w in weights)
                for j, w in weights:
                    out[n, i, sl] += w / total * v[n, j, sl].double()
    return attn.out_proj(out.float())


def test_attention_matches_direct_computation():
    torch.manual_seed(0)
    cfg = {**B.TINY_CONFIG, "num_buckets": 16, "max_distance": 24}
    enc = W.init_random(N.BEATsNet(cfg), seed=3).encoder
    with torch.no_grad():
        table = enc.layers[0].self_attn.relative_attention_bias.weight
        table.normal_(0, 1.0)  # large biases, so a wrong bucket or gate shows
        attn = enc.layers[1].self_attn
        attn.grep_a.uniform_(0.5, 1.5)
        x = torch.randn(2, 29, cfg["encoder_embed_dim"])
        valid = torch.arange(29)[None, :] < torch.tensor([[29], [17]])
        buckets = N.relative_position_buckets(29, 29, cfg["num_buckets"], cfg["max_distance"])
        bias = table[buckets].permute(2, 0, 1)
        key_mask = torch.zeros(2, 29).masked_fill(~valid, float("-inf"))[:, None, None, :]
        got = attn(x, bias, key_mask)
        ref = reference_attention(attn, x, table, valid, cfg["num_buckets"], cfg["max_distance"])
    torch.testing.assert_close(got, ref, atol=2e-5, rtol=1e-4)


def test_layer_is_deep_norm_post_ln_and_pos_conv_is_weight_normed():
    cfg = B.TINY_CONFIG
    net = W.init_random(N.BEATsNet(cfg), seed=5)
    layer = net.encoder.layers[0]
    x = torch.randn(1, 11, cfg["encoder_embed_dim"])
    with torch.no_grad():
        alpha = (2 * cfg["encoder_layers"]) ** 0.25
        h = layer.self_attn_layer_norm(alpha * x + layer.self_attn(x, None, None))
        ref = layer.final_layer_norm(alpha * h + layer.fc2(F.gelu(layer.fc1(h))))
        torch.testing.assert_close(layer(x, None, None), ref)
        conv = net.encoder.pos_conv[0]
        conv.weight_g.uniform_(0.5, 2.0)
        w = conv.weight()
        for j in range(cfg["conv_pos"]):
            direct = conv.weight_g[0, 0, j] * conv.weight_v[:, :, j] / conv.weight_v[:, :, j].norm()
            torch.testing.assert_close(w[:, :, j], direct)


def tiny(tmp_path, **args):
    model = create_model("beats", {**B.BEATs.make_tiny(tmp_path), **args})
    model.load()
    return model


def test_front_end_feeds_normalised_kaldi_fbank(tmp_path, monkeypatch):
    model = tiny(tmp_path)
    seen = {}
    original = model.net.forward
    monkeypatch.setattr(model.net, "forward", lambda feats, n: [seen.setdefault("f", feats), original(feats, n)][1])
    wave = 0.2 * torch.randn(1, 4000)
    model.forward(wave, torch.tensor([4000]))
    expected = (fbank(wave * 2 ** 15, FbankConfig(num_mel_bins=128)) - 15.41663) / (2 * 6.55582)
    torch.testing.assert_close(seen["f"], expected[:, : seen["f"].shape[1]])
    assert seen["f"].shape[1] == 16  # 23 frames -> one 16-frame patch, leftovers dropped
    other = tiny(tmp_path, fbank_mean=0.0, fbank_std=0.5)
    seen.clear()
    monkeypatch.setattr(other.net, "forward", lambda feats, n: [seen.setdefault("f", feats)] and [])
    other.forward(wave, torch.tensor([4000]))
    torch.testing.assert_close(seen["f"], fbank(wave * 2 ** 15, FbankConfig(num_mel_bins=128))[:, :16])


def test_tokens_are_time_major_and_counted_per_sound(tmp_path):
    model = tiny(tmp_path)
    a = 0.1 * torch.randn(1, 8000)
    b = a.clone()
    b[0, 3000:] = 0.3 * torch.randn(5000)  # frames 0..15 read samples < 2800 only
    out_a, out_b = model.forward(a, torch.tensor([8000])), model.forward(b, torch.tensor([8000]))
    n_patches = (1 + (8000 - 400) // 160) // 16
    assert int(out_a["patch_proj"].n_frames[0]) == n_patches * 8
    torch.testing.assert_close(out_a["patch_proj"].values[0, :8], out_b["patch_proj"].values[0, :8])
    assert not torch.allclose(out_a["patch_proj"].values[0, 8:16], out_b["patch_proj"].values[0, 8:16])


@pytest.mark.parametrize("name", ["beats", "beats-ft"])
def test_padding_does_not_change_a_sound(tmp_path, name):
    model = create_model(name, B.BEATs.make_tiny(tmp_path, card=CATALOG[name].meta))
    model.load()
    rng = torch.Generator().manual_seed(0)
    short, long = 0.1 * torch.randn(9876, generator=rng), 0.1 * torch.randn(30011, generator=rng)
    batch = torch.zeros(2, long.numel())
    batch[0, : short.numel()], batch[1] = short, long
    together = model.forward(batch, torch.tensor([short.numel(), long.numel()]))
    alone = model.forward(short[None], torch.tensor([short.numel()]))
    for layer in model.layers():
        n = int(alone[layer].n_frames[0])
        assert int(together[layer].n_frames[0]) == n
        torch.testing.assert_close(together[layer].values[0, :n], alone[layer].values[0, :n], atol=2e-5, rtol=1e-4)
        assert together[layer].values.shape[1] > n  # the short sound really was padded


def test_random_init_is_fixed_seed():
    cfg = B.TINY_CONFIG
    one, two = W.init_random(N.BEATsNet(cfg), 0).state_dict(), W.init_random(N.BEATsNet(cfg), 0).state_dict()
    assert all(torch.equal(one[k], two[k]) for k in one)
    three = W.init_random(N.BEATsNet(cfg), 1).state_dict()
    assert not torch.equal(one["encoder.layers.0.fc1.weight"], three["encoder.layers.0.fc1.weight"])


def test_random_controls_need_no_download_and_share_the_backbone(tmp_path):
    full = create_model("random-beats")
    assert full.meta.name == "random-beats" and full.meta.repo_id is None and full.identity()["revision"] is None
    full.load()  # the iter3 architecture from code: nothing fetched (the test Hub cache is empty)
    assert full.net.cfg["encoder_embed_dim"] == 768 and full.resolved_revision is None
    # random-beats-ft is random-beats plus a random head: the same draws for every other layer
    plain = create_model("random-beats", B.BEATs.make_tiny(tmp_path / "a", card=CATALOG["beats"].meta))
    head = create_model("random-beats-ft", B.BEATs.make_tiny(tmp_path / "b", card=CATALOG["beats-ft"].meta))
    plain.load(), head.load()
    assert head.layers() == [*plain.layers(), "logits"]
    wave = 0.1 * torch.randn(1, 8000, generator=torch.Generator().manual_seed(0))
    a, b = plain.forward(wave, torch.tensor([8000])), head.forward(wave, torch.tensor([8000]))
    for layer in plain.layers():
        assert torch.equal(a[layer].values, b[layer].values)


def test_metadata_per_name():
    metas = {name: create_model(name).meta for name in ("beats", "beats-ft", "random-beats")}
    assert [m.name for m in metas.values()] == ["beats", "beats-ft", "random-beats"]
    assert metas["beats-ft"].repo_type == "space" and metas["beats-ft"].n_parameters == 90_717_055
    assert metas["beats"].training == "self-supervised" and metas["beats-ft"].training == "supervised"
    local = create_model("beats", {"checkpoint": "x.pt"}).meta
    assert (local.repo_id, local.revision, local.filename, local.license) == (None, None, None, "MIT")
    with pytest.raises(AudioprobeError, match="does not accept --model-args variant"):
        B.BEATs(variant="ft")
    with pytest.raises(AudioprobeError, match="does not accept --model-args seed"):
        create_model("random-beats", {"seed": "3"})  # the seed of every control is RANDOM_SEED


def test_too_short_sound_is_a_clear_error(tmp_path):
    model = tiny(tmp_path)
    with pytest.raises(AudioprobeError, match="at least 2800 samples"):
        model.forward(torch.zeros(1, 2000), torch.tensor([2000]))
