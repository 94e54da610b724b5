"""Model registry resolution and the audio front end."""

from __future__ import annotations

import numpy as np
import pytest

from audioprobe import registry
from audioprobe.errors import AudioprobeError, UnknownNameError
from audioprobe.frontend import FrontEnd
from audioprobe.models.base import parse_model_args
from tests.toymodels import FrameProjection


def test_unknown_model_suggests_near_miss():
    with pytest.raises(UnknownNameError, match="Did you mean 'logmel'"):
        registry.create_model("logmell")


def test_register_model_and_args(monkeypatch):
    monkeypatch.setitem(registry._EXTRA, "toy", (FrameProjection, {"dim": 3}))
    model = registry.create_model("toy", {"seed": "5"})
    assert model.args == {"dim": 3, "seed": 5}  # preset + user args, typed
    assert registry.create_model("toy", {"dim": "4"}).args == {"dim": 4}  # user args override presets
    with pytest.raises(AudioprobeError, match="accepted: dim, seed"):
        registry.create_model("toy", {"colour": "red"})


def test_register_model_refuses_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        registry.register_model("logmel")(FrameProjection)


def test_parse_model_args():
    assert parse_model_args("a=1, b = x=y ,") == {"a": "1", "b": "x=y"}
    with pytest.raises(AudioprobeError, match="key=value"):
        parse_model_args("novalue")


def test_listing_does_not_import_heavy_dependencies():
    import subprocess
    import sys

    code = ("import sys; from audioprobe.registry import describe_models; describe_models(); "
            "print(sorted(m for m in ('transformers', 'datasets', 'h5py') if m in sys.modules))")
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
