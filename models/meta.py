"""Model metadata: the one shape (`ModelMeta`) every registered name, variant and control has.

Torch-free on purpose: `list models` reads every name's metadata from here and from
`models/catalog.py` without importing a wrapper (a wrapper defines torch modules; importing torch
alone takes longer than the whole listing should).

The random-initialisation control is one mechanism for every architecture: a wrapper that can
build its architecture with fixed-seed random weights accepts `random=true` (declared once, in
`AudioModel`), its metadata is `random_control(meta)` of the trained model's, the seed is
`RANDOM_SEED`, and the registry registers `random-NAME` for every name with learned weights.
"""

from __future__ import annotations

import dataclasses
from typing import Any

TRAINING_KINDS = ("self-supervised", "supervised", "contrastive", "none", "unknown")

#: Seed of every random-initialisation control (`random=true`, `random-NAME`). A constant, not an
#: argument: a control is only comparable across models and runs when it is the same draw.
RANDOM_SEED = 0
#: Registered names of the random-initialisation controls: `random-` + the trained model's name.
RANDOM_PREFIX = "random-"
#: The license of random weights: nothing was trained, so nothing of the weights is licensed.
RANDOM_LICENSE = "n/a (random weights)"


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


def has_learned_weights(meta: ModelMeta) -> bool:
    """Whether a model has trained weights, hence a random-initialisation control (`random-NAME`)."""
    return meta.training != "none"


def random_name(name: str) -> str:
    """The registered name of `name`'s random-initialisation control."""
    return RANDOM_PREFIX + name


def random_control(meta: ModelMeta) -> ModelMeta:
    """The metadata of the fixed-seed random-initialisation control of the model `meta` describes.

    Same family, sample rate, citation (of the architecture) and parameter count; no training,
    no weights to fetch (no repository, revision or file) and nothing licensed.
    """
    return dataclasses.replace(
        meta,
        name=random_name(meta.name),
        description=(f"Random-initialisation control of {meta.name}: the same architecture with fixed-seed "
                     f"random weights (seed {RANDOM_SEED}), untrained. {meta.description}"),
        training="none",
        license=RANDOM_LICENSE,
        repo_id=None,
        revision=None,
        filename=None,
        repo_type="model",
    )


def with_source(meta: ModelMeta, args: dict[str, Any]) -> ModelMeta:
    """`meta` as the weight-source model arguments change it.

    `checkpoint=PATH` (a local copy) leaves no Hub repository, revision or file to record (the
    engine hashes the file instead); `repo=ORG/NAME` names another repository, followed at its
    default branch unless `revision=` pins it, with a parameter count nobody has checked;
    `revision=`, `filename=` and `repo_type=` alone change that one field.
    """
    if args.get("checkpoint"):
        return dataclasses.replace(meta, repo_id=None, revision=None, filename=None, repo_type="model")
    changes: dict[str, Any] = {}
    if args.get("repo") and args["repo"] != meta.repo_id:
        changes.update(repo_id=args["repo"], revision=None, n_parameters=None)
    for key, field in (("revision", "revision"), ("filename", "filename"), ("repo_type", "repo_type")):
        if args.get(key):
            changes[field] = args[key]
    return dataclasses.replace(meta, **changes) if changes else meta
