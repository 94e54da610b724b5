"""Contrast files: the within-model comparisons a paper claims, declared beside the tasks.

A contrast file (a study's `tasks/<study>/contrasts/*.yaml`, or a folder given to `audioprobe-compare --contrasts`)
names a kind and the tasks it pairs; `audioprobe-compare` evaluates it from result files alone,
on the shared bootstrap replicates:

    contrast: fig1b-perceived-vs-physical      # unique name
    version: 1                                 # bumped when its meaning changes
    description: "..."
    tags: [paper, fig1b]
    kind: tasks                                # one of KINDS
    pairs: [[rsa-modal-material, rsa-physical-material], ...]   # kind tasks: a - b, same model
    tasks: [...]                               # kinds baseline, depth, control
    controls: ["random-{model}", logmel]       # kind control: {model} is the compared model's name

    margin: 0.02                               # optional: the smallest effect that counts, in score units

Kinds: `tasks` (score of task a minus task b, same model, per layer and headline); `baseline`
(a transfer probe minus its no-transfer baseline at matched training sizes, per layer and
headline); `depth` (the change of the least-squares line through the per-layer scores from the
first to the last layer, with Spearman's rho beside it); `control` (a model's headline minus each
control's, on the same task). Every error names the file and the key.

`margin` (the smallest effect of interest, Lakens 2017, Soc. Psychol. Personal. Sci. 8:355) makes
each row's verdict say more than "significant": an effect is claimed only when the test rejects and
the whole interval lies beyond the margin; an interval inside [-margin, margin] says the effect is
smaller than the margin (equivalence; Schuirmann 1987, with the 95% interval, so at the 2.5% level
per side); anything else is inconclusive. Without a margin a row's verdict is its test alone.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from audioprobe.errors import AudioprobeError

KINDS = {
    "tasks": "pairs",
    "baseline": "tasks",
    "depth": "tasks",
    "control": "tasks",
}
COMMON = ("contrast", "version", "description", "tags", "kind", "margin")
OPTIONAL = ("tags", "margin")


@dataclasses.dataclass(frozen=True)
class Contrast:
    name: str
    version: int
    description: str
    tags: tuple[str, ...]
    kind: str
    pairs: tuple[tuple[str, str], ...] = ()
    tasks: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()
    margin: float | None = None
    path: str = ""


def _strings(where: str, key: str, value, length: int | None = None) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise AudioprobeError(f"{where}: key {key!r} must be a non-empty list of names, got {value!r}.")
    if length is not None and len(value) != length:
        raise AudioprobeError(f"{where}: key {key!r}: each pair is [task a, task b], got {value!r}.")
    return tuple(value)


def load_contrast(path: Path, inside: Path | None = None) -> Contrast:
    """Read and validate one contrast file (`inside`: the folder it was found in, which it may not lead out of)."""
    where = str(path)
    from audioprobe.files import read_config_yaml

    data = read_config_yaml(Path(path), "contrast file", inside)
    if not isinstance(data, dict):
        raise AudioprobeError(f"{where}: a contrast file is a mapping of keys to values.")
    for key in COMMON:
        if key not in data and key not in OPTIONAL:
            raise AudioprobeError(f"{where}: missing required key {key!r}.")
    kind = data["kind"]
    if kind not in KINDS:
        raise AudioprobeError(f"{where}: key 'kind' is {kind!r}; allowed: {', '.join(KINDS)}.")
    allowed = set(COMMON) | {KINDS[kind]} | ({"controls"} if kind == "control" else set())
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise AudioprobeError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))} for kind {kind!r}; "
                              f"allowed: {', '.join(sorted(allowed))}.")
    if not isinstance(data["contrast"], str) or not data["contrast"]:
        raise AudioprobeError(f"{where}: key 'contrast' must be a non-empty name.")
    if not isinstance(data["version"], int) or isinstance(data["version"], bool):
        raise AudioprobeError(f"{where}: key 'version' must be an integer.")
    if not isinstance(data["description"], str):
        raise AudioprobeError(f"{where}: key 'description' must be a string.")
    margin = data.get("margin")
    if margin is not None and (isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0):
        raise AudioprobeError(f"{where}: key 'margin' must be a number >= 0 (the smallest effect that counts, in the "
                              f"score's units), got {margin!r}.")
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise AudioprobeError(f"{where}: key 'tags' must be a list of strings.")
    needed = KINDS[kind]
    if needed not in data:
        raise AudioprobeError(f"{where}: kind {kind!r} needs key {needed!r}.")
    fields = {}
    if kind == "tasks":
        pairs = data["pairs"]
        if not isinstance(pairs, list) or not pairs:
            raise AudioprobeError(f"{where}: key 'pairs' must be a non-empty list of [task a, task b].")
        fields["pairs"] = tuple(_strings(where, "pairs", p, 2) for p in pairs)
    else:
        fields["tasks"] = _strings(where, "tasks", data["tasks"])
    if kind == "control":
        if "controls" not in data:
            raise AudioprobeError(f"{where}: kind 'control' needs key 'controls' (e.g. [\"random-{{model}}\", logmel]).")
        fields["controls"] = _strings(where, "controls", data["controls"])
    return Contrast(name=data["contrast"], version=data["version"], description=data["description"],
                    tags=tuple(tags), kind=kind, path=where, margin=None if margin is None else float(margin), **fields)


def builtin_contrast_dirs() -> list[Path]:
    """Every study's contrast folder (`tasks/<study>/contrasts/`, and plugins' studies), where it has one."""
    from audioprobe.studies import all_studies

    return [s.contrasts for s in all_studies() if s.contrasts.is_dir()]


def discover_contrasts(extra: list[Path] | tuple = ()) -> list[Contrast]:
    """The studies' contrasts and those in the extra files or folders, by name (a name once)."""
    found: dict[str, Contrast] = {}
    for root in [*builtin_contrast_dirs(), *map(Path, extra)]:
        if not root.exists():
            raise AudioprobeError(f"--contrasts {root}: no such file or folder.")
        for f in [root] if root.is_file() else sorted(root.rglob("*.yaml")):
            if f.name.startswith("_"):
                continue
            c = load_contrast(f, inside=None if root.is_file() else root)
            if c.name in found:
                raise AudioprobeError(f"contrast {c.name!r} is defined twice: {found[c.name].path} and {c.path}.")
            found[c.name] = c
    return list(found.values())
