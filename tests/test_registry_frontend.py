"""Model registry resolution and the audio front end."""

from __future__ import annotations

import numpy as np
import pytest

from audioprobe.errors import AudioprobeError, UnknownNameError
from audioprobe.frontend import FrontEnd
from audioprobe.models import registry
from audioprobe.models.base import parse_model_args
from audioprobe.models.catalog import CATALOG
from audioprobe.models.meta import ModelMeta, random_control, with_source
from tests.toymodels import FrameProjection, register_toy


def test_unknown_model_suggests_near_miss():
    with pytest.raises(UnknownNameError, match="Did you mean 'logmel'"):
        registry.create_model("logmell")


def test_register_model_and_args(monkeypatch):
    register_toy(monkeypatch, "toy", FrameProjection, {"dim": 3})
    model = registry.create_model("toy", {"seed": "5"})
    assert model.args == {"dim": 3, "seed": 5}  # preset + user args, typed
    assert registry.create_model("toy", {"dim": "4"}).args == {"dim": 4}  # user args override presets
    with pytest.raises(AudioprobeError, match="accepted: dim, seed"):
        registry.create_model("toy", {"colour": "red"})


def test_register_model_refuses_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        registry.register_model("logmel")(FrameProjection)
    with pytest.raises(ValueError, match="random-initialisation controls"):
        registry.register_model("random-toy")(FrameProjection)


class SeededToy(FrameProjection):
    """A toy with learned weights that supports the random control: `random=true` changes the seed."""

    meta = ModelMeta(name="seeded-toy", family="toy", description="toy", sample_rate=8000, training="supervised")
    supports_random = True

    def load(self) -> None:
        self.args = {**self.args, "seed": 99 if self.random else self.args.get("seed", 0)}
        super().load()


def test_registered_wrappers_get_their_random_control(monkeypatch):
    register_toy(monkeypatch, "seeded-toy", SeededToy, {"dim": 3})
    register_toy(monkeypatch, "toy", FrameProjection, {})  # training "none": no control
    names = registry.model_names()
    assert "random-seeded-toy" in names and "random-toy" not in names
    control = registry.create_model("random-seeded-toy")
    assert control.args == {"dim": 3, "random": True} and control.meta == random_control(SeededToy.meta)
    assert dict((n, m) for n, m, _ in registry.describe_models())["random-seeded-toy"] == control.meta
    assert registry.create_model("seeded-toy", {"random": "false"}).args == {"dim": 3}  # the default, not recorded
    with pytest.raises(AudioprobeError, match="does not accept --model-args random.*learned weights"):
        registry.create_model("toy", {"random": "true"})
    with pytest.raises(AudioprobeError, match="'logmel' has no random-initialisation control"):
        registry.create_model("random-logmel")  # no learned weights, no control
    with pytest.raises(AudioprobeError, match="--model hf:a/b --model-args random=true"):
        registry.create_model("random-hf:a/b")


def test_every_name_has_one_metadata_and_the_catalogue_is_consistent():
    rows = registry.describe_models()
    assert [n for n, _, _ in rows] == registry.model_names() and all(m is not None for _, m, _ in rows)
    assert all(m.name == n for n, m, _ in rows)
    for name, entry in CATALOG.items():
        cls, preset = registry.resolve_model_class(name)
        assert cls.supports_random == (entry.meta.training != "none"), name  # the control needs random init
        assert registry.create_model(name).meta == entry.meta


def test_weight_source_arguments_change_the_metadata():
    card = CATALOG["hubert-base"].meta
    assert with_source(card, {}) is card
    assert with_source(card, {"revision": "a" * 40}).revision == "a" * 40
    other = with_source(card, {"repo": "me/mine"})
    assert (other.repo_id, other.revision, other.n_parameters) == ("me/mine", None, None)
    local = with_source(card, {"checkpoint": "/some/folder"})
    assert (local.repo_id, local.revision, local.filename) == (None, None, None)
    assert registry.create_model("hubert-base", {"checkpoint": "/x"}).identity()["revision"] is None


def test_parse_model_args():
    assert parse_model_args("a=1, b = x=y ,") == {"a": "1", "b": "x=y"}
    with pytest.raises(AudioprobeError, match="key=value"):
        parse_model_args("novalue")


def test_listing_does_not_import_heavy_dependencies():
    import subprocess
    import sys

    code = ("import sys; import audioprobe.models.registry; audioprobe.models.registry.describe_models(); "
            "print(sorted(m for m in ('torch', 'transformers', 'sklearn', 'h5py', 'datasets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_frontend_mixes_to_mono_and_resamples():
    sr = 44100
    t = np.arange(sr) / sr
    left = np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([left, 0.5 * left], axis=1).astype(np.float32)
    out = FrontEnd(16000)(stereo, sr)
    assert out.dtype == np.float32 and out.ndim == 1 and len(out) == 16000
    spectrum = np.abs(np.fft.rfft(out))
    assert np.argmax(spectrum) == 440  # 1 Hz bins over 1 s: the tone stays at 440 Hz
    assert np.max(np.abs(out[1000:-1000])) == pytest.approx(0.75, rel=0.01)  # mean of the channels
    same = FrontEnd(44100)(left.astype(np.float32), sr)
    np.testing.assert_array_equal(same, left.astype(np.float32))
