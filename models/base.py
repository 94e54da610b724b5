"""The contract every model wrapper meets.

A wrapper is one class: metadata (`meta`), `load()`, `layers()` and `forward()`. It receives a
padded batch of mono waveforms already resampled to `meta.sample_rate` and returns every layer's
activations as `[batch, frames, dim]` with the number of valid frames per sound. Resampling and
pooling over frames are the harness's job, never the wrapper's; the wrapper never sees a task.

Read `models/logmel.py` for the smallest complete wrapper and CONTRIBUTING.md for how to add one.
"""

from __future__ import annotations

import abc
import dataclasses
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import torch

from audioprobe.errors import AudioprobeError

TRAINING_KINDS = ("self-supervised", "supervised", "contrastive", "none", "unknown")


@dataclasses.dataclass(frozen=True)
class ModelMeta:
    """What `list models` shows and every result records about a model."""

    name: str
    family: str
    description: str
    sample_rate: int
    training: str  # one of TRAINING_KINDS
    license: str = "n/a"
    citation: str = ""
    repo_id: str | None = None  # Hugging Face Hub repository holding the weights
    revision: str | None = None  # pinned commit of repo_id
    filename: str | None = None  # checkpoint file inside repo_id
    n_parameters: int | None = None
    repo_type: str = "model"  # Hub repository kind holding the weights: model, space or dataset

    def __post_init__(self) -> None:
        if self.training not in TRAINING_KINDS:
            raise ValueError(f"ModelMeta.training must be one of {TRAINING_KINDS}, got {self.training!r}")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class LayerActivations(NamedTuple):
    """One layer's output for a batch: values `[batch, frames, dim]` and valid frames `[batch]`."""

    values: torch.Tensor
    n_frames: torch.Tensor


class AudioModel(abc.ABC):
    """Base class of every wrapper. Subclasses set `meta` and implement the three methods."""

    meta: ClassVar[ModelMeta]
    #: Bump whenever a code change can change an activation: it is part of the cache key.
    wrapper_version: ClassVar[str] = "1"
    #: `--model-args` this wrapper accepts, with their types (str, int, float or bool).
    arg_types: ClassVar[dict[str, type]] = {}
    #: Accepted values of the `variant` argument, the default first (empty: no variants).
    variants: ClassVar[tuple[str, ...]] = ()

    def __init__(self, device: str | torch.device = "cpu", **args: Any):
        unknown = sorted(set(args) - set(self.arg_types))
        if unknown:
            allowed = ", ".join(sorted(self.arg_types)) or "none"
            raise AudioprobeError(
                f"model {self.meta.name!r} does not accept --model-args {', '.join(unknown)}; "
                f"accepted: {allowed}."
            )
        self.args = {k: coerce_arg(self.meta.name, k, v, self.arg_types[k]) for k, v in args.items()}
        if self.variants and self.args.get("variant", self.variants[0]) not in self.variants:
            raise AudioprobeError(f"model {self.meta.name}: variant {self.args['variant']!r} unknown; choose "
                                  f"{', '.join(self.variants)}.")
        self.device = torch.device(device)
        #: The commit actually loaded (set by `load()`), recorded in every result.
        self.resolved_revision: str | None = None
        #: This instance's metadata (a variant's name and sample rate, not the class default):
        #: the harness reads `model.meta`, so one class can serve several registered names.
        self.meta = self.metadata(**self.args)

    @classmethod
    def metadata(cls, **args: Any) -> ModelMeta:
        """Metadata for these arguments; variant-aware wrappers override this."""
        return cls.meta

    @abc.abstractmethod
    def load(self) -> None:
        """Fetch and load weights (Hub or local path from args); set `resolved_revision`."""

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
    def make_tiny(cls, directory: Path, **args: Any) -> dict[str, Any]:
        """Write a tiny random variant in the real checkpoint format; return the model args loading it.

        `args` are the model args the registered name presets (e.g. `variant="ft"`), so that a
        variant-aware wrapper writes the matching tiny file; wrappers without variants may omit it.
        The validator and the test suite load every registered name through this.
        """
        return {}

    def identity(self) -> dict[str, Any]:
        """Everything about the model that can change an activation (cache key, result file).

        Known before loading, so a cache hit never needs the weights; the commit actually
        loaded is recorded separately (`resolved_revision`).
        """
        meta = self.metadata(**self.args)
        return {
            "name": meta.name,
            "revision": meta.revision,
            "wrapper_version": self.wrapper_version,
            "args": dict(sorted(self.args.items())),
        }


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
        raise AudioprobeError(
            f"--model-args {key}={value!r} for model {model!r}: expected a {kind.__name__}."
        ) from None


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


def hub_download(repo_id: str, filename: str, revision: str | None, repo_type: str = "model") -> tuple[Path, str]:
    """Download (or find in the local Hub cache) one file; return its path and the commit used.

    The commit is read from the snapshot folder the Hub client resolved, so a result records what
    was really loaded even when `revision` is a branch name. `repo_type` is "space" or "dataset"
    for weights mirrored outside a model repository.
    """
    from huggingface_hub import hf_hub_download

    try:
        path = Path(hf_hub_download(repo_id, filename, revision=revision, repo_type=repo_type))
    except Exception as exc:  # the Hub client raises many types; all mean "could not fetch"
        raise AudioprobeError(
            f"could not fetch {filename!r} from the Hugging Face Hub repository {repo_id!r} "
            f"(revision {revision}): {exc}. Check your network, or pass a local copy with "
            f"--model-args checkpoint=PATH."
        ) from None
    commit = path.parent.name
    for parent in path.parents:  # .../snapshots/<commit>/<file, maybe in subfolders>
        if parent.parent.name == "snapshots":
            commit = parent.name
            break
    return path, commit


def frames_from_samples(lengths: torch.Tensor, frame_length: int, hop: int) -> torch.Tensor:
    """Valid frame count for snip-edges framing (Kaldi's convention): 1 + (n - win) // hop, at least 0."""
    return torch.clamp((lengths - frame_length) // hop + 1, min=0)
