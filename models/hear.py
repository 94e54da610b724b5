"""`hear:MODULE`: any installed package implementing the HEAR 2021 API, as a one-layer model.

The HEAR API (Turian et al. 2022; hearbenchmark/hear-baseline) is `load_model(model_file_path="")`,
`get_timestamp_embeddings(audio, model)` and the loaded model's `sample_rate` attribute. The one
layer, `timestamp_embedding`, is what the module returns; a frame is one of its timestamps (the
module's own hop). Each sound is passed alone at its own length, so the padding of a batch never
reaches the module. `--model-args checkpoint=PATH` becomes `model_file_path`.

The sample rate is an attribute of the *loaded* model, so asking for this wrapper's metadata loads
the module's model once (kept for `load()`); `sample_rate=` skips that when given.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from pathlib import Path
from typing import Any

import torch

from audioprobe.errors import AudioprobeError
from audioprobe.models.base import AudioModel, LayerActivations, ModelMeta, at_least

#: Loaded HEAR models by (module, model_file_path): metadata() and load() share one load.
_LOADED: dict[tuple[str, str], tuple[Any, Any]] = {}
REQUIRED = ("load_model", "get_timestamp_embeddings")


def import_hear_module(name: str) -> Any:
    """The module, checked for the HEAR functions; errors say what to install or what is missing."""
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise AudioprobeError(f"HEAR module {name!r} cannot be imported ({exc}); install the package that "
                              f"provides it (e.g. pip install hearbaseline for hearbaseline.naive).") from None
    missing = [f for f in REQUIRED if not callable(getattr(module, f, None))]
    if missing:
        raise AudioprobeError(f"module {name!r} does not implement the HEAR API: missing {', '.join(missing)}.")
    return module


def loaded(name: str, model_file_path: str = "") -> tuple[Any, Any]:
    """(module, loaded model), loaded once per process."""
    key = (name, model_file_path)
    if key not in _LOADED:
        module = import_hear_module(name)
        if model_file_path and not Path(model_file_path).exists():
            raise AudioprobeError(f"HEAR module {name!r}: checkpoint {model_file_path} does not exist.")
        model = module.load_model(model_file_path=model_file_path)
        rate = getattr(model, "sample_rate", None)
        if not isinstance(rate, int) or rate <= 0:
            raise AudioprobeError(f"HEAR module {name!r}: its model's sample_rate is {rate!r}, not a positive int.")
        _LOADED[key] = (module, model)
    return _LOADED[key]


def package_version(name: str) -> str | None:
    """`dist==version` of the installed distribution providing the module, if any."""
    top = name.split(".")[0]
    dists = importlib.metadata.packages_distributions().get(top)
    if not dists:
        return None
    return f"{dists[0]}=={importlib.metadata.version(dists[0])}"


class HEARModule(AudioModel):
    #: The card of `hear:MODULE`: completed from the args and the loaded module by `adapt_meta`.
    meta = ModelMeta(name="hear", family="hear", description="A HEAR 2021 API module (hear:MODULE).",
                     sample_rate=16000, training="unknown", license="see the package")
    wrapper_version = "1"
    arg_types = {"module": str, "checkpoint": str, "sample_rate": int, "training": str}
    arg_checks = {"sample_rate": at_least(1)}

    def adapt_meta(self, card: ModelMeta) -> ModelMeta:
        name = self.args.get("module")
        if not name:
            raise AudioprobeError("a HEAR model needs a module name: --model hear:MODULE.")
        rate = self.args.get("sample_rate")
        rate = int(rate) if rate is not None else loaded(name, str(self.args.get("checkpoint", "")))[1].sample_rate
        return ModelMeta(
            name=f"hear:{name}", family="hear",
            description=f"HEAR API module {name} (timestamp embeddings)."
                        + ("" if "training" in self.args else " Training kind not declared: pass training=KIND."),
            sample_rate=rate,
            # HEAR does not declare how a module was trained; say it with training=KIND.
            training=self.args.get("training", "unknown"), license="see the package",
            revision=package_version(name),  # the installed version stands for a commit
        )

    def load(self) -> None:
        self.module, self.model = loaded(self.args["module"], str(self.args.get("checkpoint", "")))
        if self.model.sample_rate != self.meta.sample_rate:
            raise AudioprobeError(f"HEAR module {self.args['module']!r} runs at {self.model.sample_rate} Hz, not "
                                  f"the sample_rate={self.meta.sample_rate} given.")
        self.resolved_revision = self.meta.revision

    def layers(self) -> list[str]:
        return ["timestamp_embedding"]

    def _one(self, wave: torch.Tensor) -> torch.Tensor:
        name = self.args["module"]
        result = self.module.get_timestamp_embeddings(wave[None], self.model)
        emb = result[0] if isinstance(result, (tuple, list)) else None
        if not isinstance(emb, torch.Tensor) or emb.dim() != 3 or emb.shape[0] != 1 or emb.shape[1] < 1:
            shape = tuple(emb.shape) if isinstance(emb, torch.Tensor) else type(result).__name__
            raise AudioprobeError(f"HEAR module {name!r}: get_timestamp_embeddings returned embeddings of shape "
                                  f"{shape}; the API requires (n_sounds, n_timestamps, dim) with n_timestamps >= 1.")
        return emb[0].float()

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> dict[str, LayerActivations]:
        per_sound = [self._one(waveforms[i, : int(n)]) for i, n in enumerate(lengths)]
        values = torch.zeros(len(per_sound), max(e.shape[0] for e in per_sound), per_sound[0].shape[1],
                             device=per_sound[0].device)
        for i, e in enumerate(per_sound):
            values[i, : e.shape[0]] = e
        n_frames = torch.tensor([e.shape[0] for e in per_sound], dtype=torch.int64)
        return {"timestamp_embedding": LayerActivations(values, n_frames)}
