"""The contract every model wrapper meets.

A wrapper is one class: metadata (`meta`), `load()`, `layers()` and `forward()`. It receives a
padded batch of mono waveforms already resampled to `meta.sample_rate` and returns every layer's
activations as `[batch, frames, dim]` with the number of valid frames per sound. Resampling and
pooling over frames are the harness's job, never the wrapper's; the wrapper never sees a task.

Metadata has one shape, `ModelMeta` (models/meta.py). The registry hands each instance the
metadata registered for its name (`card`, from models/catalog.py); the instance's `meta` is that
card as the model args change it (`adapt_meta`), or, with `random=true`, its random-initialisation
control (`meta.random_control`). A wrapper that can draw its architecture's weights from
`RANDOM_SEED` sets `supports_random = True` and branches on `self.random` in `load()`.

Read `models/logmel.py` for the smallest complete wrapper and CONTRIBUTING.md for how to add one.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, Callable, ClassVar, NamedTuple

import torch

from audioprobe.errors import AudioprobeError
from audioprobe.models._hub import resolve_commit
from audioprobe.models.meta import RANDOM_SEED, TRAINING_KINDS, ModelMeta, random_control

__all__ = ["RANDOM_SEED", "TRAINING_KINDS", "AudioModel", "LayerActivations", "ModelMeta", "at_least", "coerce_arg",
           "frames_from_samples", "parse_model_args"]


class LayerActivations(NamedTuple):
    """One layer's output for a batch: values `[batch, frames, dim]` and valid frames `[batch]`."""

    values: torch.Tensor
    n_frames: torch.Tensor


class AudioModel(abc.ABC):
    """Base class of every wrapper. Subclasses set `meta` and implement the three methods."""

    #: The metadata of the model this class is when created without a card (`Wrapper()`). The
    #: registry passes each registered name its own `card=` (models/catalog.py), so one class
    #: serves several names (`beats`, `beats-ft`; every transformers alias).
    meta: ClassVar[ModelMeta]
    #: Bump whenever a code change can change an activation: it is part of the cache key.
    wrapper_version: ClassVar[str] = "1"
    #: `--model-args` this wrapper accepts, with their types (str, int, float or bool).
    arg_types: ClassVar[dict[str, type]] = {}
    #: Checks of argument values, once typed: name -> function returning None, or what is wrong
    #: ("must be >= 1"). A bad value then fails before anything loads, with a message naming it.
    arg_checks: ClassVar[dict[str, Callable[[Any], str | None]]] = {}
    #: Whether `load()` can build this architecture with fixed-seed random weights instead of the
    #: trained ones. If so the `random` argument (bool) is accepted, `load()` reads `self.random` and
    #: seeds with RANDOM_SEED, and the registry registers `random-NAME` for every name with learned
    #: weights. How the weights are drawn is the wrapper's (architecture-specific) business.
    supports_random: ClassVar[bool] = False

    def __init__(self, device: str | torch.device = "cpu", *, card: ModelMeta | None = None, **args: Any):
        accepted = self.accepted_args()
        name = (card or self.meta).name
        unknown = sorted(set(args) - set(accepted))
        if unknown:
            allowed = ", ".join(sorted(accepted)) or "none"
            hint = (" Only wrappers of models with learned weights build a random-initialisation control."
                    if "random" in unknown else "")
            raise AudioprobeError(f"model {name!r} does not accept --model-args {', '.join(unknown)}; "
                                  f"accepted: {allowed}.{hint}")
        self.args = {k: coerce_arg(name, k, v, accepted[k]) for k, v in args.items()}
        for key, value in self.args.items():
            problem = self.arg_checks[key](value) if key in self.arg_checks else None
            if problem:
                raise AudioprobeError(f"--model-args {key}={value!r} for model {name!r}: {problem}.")
        if self.args.get("random") is False:
            del self.args["random"]  # the default, so `random=false` and no argument are the same run
        self.device = torch.device(device)
        #: The commit actually loaded (set by `load()`), recorded in every result.
        self.resolved_revision: str | None = None
        #: The registered metadata of the trained model (for a random control: of the model it copies).
        self.card: ModelMeta = card or type(self).meta
        #: The trained model as these args change it (another repo, a local checkpoint, ...): for a
        #: random control, where its architecture comes from.
        self.trained_meta: ModelMeta = self.adapt_meta(self.card)
        #: This instance's metadata, recorded in every result: `self.trained_meta`, or its control.
        self.meta = random_control(self.trained_meta) if self.random else self.trained_meta

    @classmethod
    def accepted_args(cls) -> dict[str, type]:
        """`arg_types`, plus `random` for wrappers that support the random-initialisation control."""
        return {**cls.arg_types, **({"random": bool} if cls.supports_random else {})}

    @property
    def random(self) -> bool:
        """Whether this instance is the fixed-seed random-initialisation control (`random=true`)."""
        return bool(self.args.get("random", False))

    def adapt_meta(self, card: ModelMeta) -> ModelMeta:
        """The trained model's metadata as `self.args` change it (default: the card unchanged).

        Wrappers whose args change where the weights come from (`checkpoint`, `repo`, `revision`,
        ...) return `meta.with_source(card, self.args)`, plus whatever their own args change.
        """
        return card

    @abc.abstractmethod
    def load(self) -> None:
        """Fetch and load weights (Hub or local path from args), or draw them if `self.random`;
        set `resolved_revision` to the commit of the weights loaded (None for random ones)."""

    @abc.abstractmethod
    def layers(self) -> list[str]:
        """Layer names in network order; stable for a given set of arguments."""

    @abc.abstractmethod
    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> dict[str, LayerActivations]:
        """Activations of every layer for a padded batch.

        waveforms: float32 `[batch, samples]` at `meta.sample_rate`, zero-padded on the right.
        lengths: int64 `[batch]`, valid samples per sound. Padding must not change a sound's
        activations (checked by the validator).
        """

    @classmethod
    def make_tiny(cls, directory: Path, card: ModelMeta | None = None, **args: Any) -> dict[str, Any]:
        """Write a tiny model in the real checkpoint format; return the model args loading it.

        `card` is the registered name's metadata and `args` the model args the name presets, so
        that a wrapper serving several names writes the matching tiny file (`beats-ft` one with a
        head; `hubert-base` a HuBERT). With `random=True` among them (a `random-NAME`), the same
        file is written: the control then draws new weights for the tiny architecture. The
        validator and the test suite load every registered name through this.
        """
        return {}

    def identity(self) -> dict[str, Any]:
        """Everything about the model that can change an activation (cache key, result file).

        Known before loading, so a cache hit never needs the weights. `revision` is the commit of
        the Hub files this instance reads (the weights; for a random control, the configuration
        it copies), an unpinned repository resolved to its current commit so that a moved branch
        never reuses activations of an older one; for a model without Hub files, its declared
        revision (e.g. a HEAR package version) or None. The commit actually loaded is recorded
        separately (`resolved_revision`).
        """
        return {
            "name": self.meta.name,
            "revision": self.source_revision(),
            "wrapper_version": self.wrapper_version,
            "args": dict(sorted(self.args.items())),
        }

    def source_revision(self) -> str | None:
        """The commit of the Hub repository this instance reads (see `identity`)."""
        source = self.trained_meta
        if source.repo_id is None:
            return source.revision
        return resolve_commit(source.repo_id, source.revision, source.repo_type)


def coerce_arg(model: str, key: str, value: Any, kind: type) -> Any:
    """Turn a `--model-args` string into the declared type, or say what is expected."""
    if not isinstance(value, str):
        return value
    try:
        if kind is bool:
            low = value.lower()
            if low not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return low in ("true", "1", "yes")
        return kind(value)
    except ValueError:
        expected = "true or false" if kind is bool else f"a {kind.__name__}"
        raise AudioprobeError(
            f"--model-args {key}={value!r} for model {model!r}: expected {expected}."
        ) from None


def at_least(low: int | float) -> Callable[[Any], str | None]:
    """An `arg_checks` entry: the value must be >= low (and finite)."""
    return lambda v: None if isinstance(v, (int, float)) and v == v and low <= v < float("inf") else f"must be >= {low}"


def hub_repo_id(value: Any) -> str | None:
    """An `arg_checks` entry: a Hugging Face Hub repository id (`ORG/NAME`), as huggingface_hub validates it."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(str(value))
    except HFValidationError as exc:
        return f"is not a Hub repository id (ORG/NAME): {str(exc).split('.')[0]}"
    return None


def parse_model_args(text: str | None) -> dict[str, str]:
    """Parse `k=v,k2=v2` into a dict of strings (types are applied by the wrapper)."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise AudioprobeError(f"--model-args: {part!r} is not of the form key=value.")
        key, value = part.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def frames_from_samples(lengths: torch.Tensor, frame_length: int, hop: int) -> torch.Tensor:
    """Valid frame count for snip-edges framing (Kaldi's convention): 1 + (n - win) // hop, at least 0."""
    return torch.clamp((lengths - frame_length) // hop + 1, min=0)
