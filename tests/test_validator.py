"""The validator passes every registered model's tiny variant and catches broken toy wrappers."""

from __future__ import annotations

import pytest
import torch

from audioprobe.cli import main
from audioprobe.models.base import AudioModel, LayerActivations, ModelMeta
from audioprobe.models.meta import RANDOM_LICENSE, RANDOM_SEED, random_control
from audioprobe.models.registry import create_model, describe_models, model_names, resolve_model
from audioprobe.validate import make_tiny_args, validate_instance, validate_model

CONTROLS = [name for name in model_names() if name.startswith("random-")]


@pytest.mark.parametrize("name", model_names())
def test_every_registered_model_passes_on_its_tiny_variant(name):
    report = validate_model(name, tiny=True)
    assert report.ok, report.text()


def test_every_model_with_learned_weights_has_its_control():
    listed = {name: meta for name, meta, _ in describe_models()}
    trained = {name for name, meta in listed.items() if meta.training != "none"}
    assert {f"random-{name}" for name in trained} == set(CONTROLS)
    assert "random-logmel" not in listed and len(CONTROLS) >= 10


@pytest.mark.parametrize("name", CONTROLS)
def test_random_control(name, tmp_path):
    """Its metadata derives from the trained model's; its weights are the seeded draw, not the trained ones."""
    trained_name = name.removeprefix("random-")
    trained_meta = dict((n, m) for n, m, _ in describe_models())[trained_name]
    control = create_model(name)
    meta = control.meta
    assert meta == random_control(trained_meta) == dict((n, m) for n, m, _ in describe_models())[name]
    assert (meta.name, meta.training, meta.license, meta.revision, meta.repo_id) == (name, "none", RANDOM_LICENSE,
                                                                                     None, None)
    assert f"seed {RANDOM_SEED}" in meta.description and "Random-initialisation control" in meta.description
    assert control.args == {"random": True}
    # activations on a tiny model: reproducible across loads, and not the trained tiny model's
    cls, preset, card = resolve_model(name)
    tiny = make_tiny_args(cls, tmp_path, preset, card)
    identity = create_model(name, tiny).identity()
    assert identity["name"] == name and identity["args"]["random"] is True
    assert create_model(trained_name, {**tiny, "random": "true"}).identity() == identity  # one mechanism
    wave = 0.1 * torch.randn(1, int(1.3 * meta.sample_rate), generator=torch.Generator().manual_seed(0))
    outs = []
    for model in (create_model(name, tiny), create_model(name, tiny), create_model(trained_name, tiny)):
        model.load()
        with torch.inference_mode():
            outs.append(model.forward(wave, torch.tensor([wave.shape[1]])))
    first, again, trained = outs
    assert list(first) == list(trained)
    for layer in first:
        assert torch.equal(first[layer].values, again[layer].values), layer
        a, b = first[layer].values, trained[layer].values  # relative: tiny models' deep layers are small
        assert float((a - b).abs().max()) > 1e-2 * float(b.abs().max()), layer


class Toy(AudioModel):
    """A correct toy: per-frame log energy and mean of 160-sample frames, two layers."""

    meta = ModelMeta(name="toy", family="test", description="toy", sample_rate=16000, training="none")

    def load(self) -> None:
        pass

    def layers(self) -> list[str]:
        return ["energy", "both"]

    def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
        return waveforms.unfold(1, 160, 160)

    def forward(self, waveforms, lengths):
        f = self.frames(waveforms)
        energy = (f.pow(2).mean(-1, keepdim=True) + 1e-8).log()
        both = torch.cat([energy, f.mean(-1, keepdim=True)], dim=-1)
        n = lengths // 160
        return {"energy": LayerActivations(energy, n), "both": LayerActivations(both, n)}


class WrongShape(Toy):
    def forward(self, waveforms, lengths):
        out = super().forward(waveforms, lengths)
        out["both"] = LayerActivations(out["both"].values.mean(1), out["both"].n_frames)
        return out


class MakesNaN(Toy):
    def forward(self, waveforms, lengths):
        out = super().forward(waveforms, lengths)
        values = out["both"].values.clone()
        values[:, 0, 1] = float("nan")
        return {**out, "both": LayerActivations(values, out["both"].n_frames)}


class BatchDependent(Toy):
    def forward(self, waveforms, lengths):  # normalises by the loudest sound of the batch
        return super().forward(waveforms / waveforms.abs().max().clamp(min=1e-3), lengths)


class Random(Toy):
    def forward(self, waveforms, lengths):
        return super().forward(waveforms + 1e-3 * torch.randn_like(waveforms), lengths)


class FramesFromPadding(Toy):
    def forward(self, waveforms, lengths):
        out = super().forward(waveforms, lengths)
        full = torch.full_like(lengths, out["energy"].values.shape[1])
        return {k: LayerActivations(v.values, full) for k, v in out.items()}


class WrongLayers(Toy):
    def forward(self, waveforms, lengths):
        out = super().forward(waveforms, lengths)
        return {"both": out["both"], "energy": out["energy"]}


class Crashes(Toy):
    def forward(self, waveforms, lengths):
        raise RuntimeError("boom")


class BadRate(Toy):
    meta = ModelMeta(name="toy", family="test", description="toy", sample_rate=0, training="none")


def test_a_correct_toy_passes():
    report = validate_instance(Toy())
    assert report.ok, report.text()


@pytest.mark.parametrize("cls, words", [
    (WrongShape, ["layer 'both'", "expected [batch=4, frames, dim]"]),
    (MakesNaN, ["layer 'both'", "NaN/inf"]),
    (BatchDependent, ["layer 'energy'", "zero-padded in a batch"]),
    (Random, ["two runs on the same", "deterministic"]),
    (FramesFromPadding, ["frames alone but", "n_frames must come from `lengths`"]),
    (WrongLayers, ["same names in the same order"]),
    (BadRate, ["meta.sample_rate"]),
    (Crashes, ["RuntimeError: boom", "in forward"]),
])
def test_broken_toys_are_caught_in_plain_words(cls, words):
    report = validate_instance(cls())
    assert not report.ok
    text = " ".join(report.problems)
    for w in words:
        assert w in text, report.text()


def test_cli_exit_codes(capsys):
    assert main(["validate-model", "logmel"]) == 0
    assert "PASSED" in capsys.readouterr().out
    assert main(["validate-model", "beats", "--tiny"]) == 0
    assert main(["validate-model", "no-such-model"]) == 2
    assert "unknown model" in capsys.readouterr().err
