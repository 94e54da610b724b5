"""Stimulus sets by name: the registry of named sets (`DATASETS`) and `resolve_dataset`.

A spec is a registered name, a folder path or `hf:ORG/NAME[@revision]`. Named sets map to
"module:function" strings imported only when that set is resolved, so listing them imports
nothing heavy (no synthesiser, no `datasets`); the Hub loader is imported only for `hf:` specs.
A plugin adds a named set through the `audioprobe.stimulus_sets` entry-point group.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from audioprobe.errors import AudioprobeError
from audioprobe.registry import Registry
from audioprobe.stimuli.folder import load_folder
from audioprobe.stimuli.stimulus_set import StimulusSet


def _check_loader(name: str, obj: Any) -> str:
    return "" if callable(obj) else f"{obj!r} is not a function returning a StimulusSet"


#: Named stimulus sets: name -> a function returning a StimulusSet ("module:function" until first used),
#: with a one-line description; plugins add theirs through the entry-point group `audioprobe.stimulus_sets`.
DATASETS: Registry[Callable[[], StimulusSet]] = Registry(
    "dataset", "audioprobe.stimulus_sets", check=_check_loader,
    hint="Give a registered name (audioprobe-eval list datasets), a folder path, or hf:ORG/NAME.")
DATASETS.add(
    "impacts", "audioprobe.stimuli.synthetic.impacts:load_impacts",
    "245 synthetic impact sounds (modal synthesis of struck objects, 7 materials x 5 shapes) judged "
    "by 17 simulated listeners. SYNTHETIC: not human data.")


def resolve_dataset(spec: str) -> StimulusSet:
    """A stimulus set from a registered name, a folder path or `hf:ORG/NAME[@revision]`."""
    if spec.startswith("hf:"):
        from audioprobe.stimuli.hub import load_hub_dataset

        return load_hub_dataset(spec[3:])
    if spec in DATASETS:
        return load_named(spec)
    path = Path(spec).expanduser()
    if path.exists() or os.sep in spec or spec.startswith("."):
        return load_folder(path)
    raise DATASETS.unknown(spec)


def load_named(name: str) -> StimulusSet:
    """Call the loader registered for `name` in DATASETS."""
    loader = DATASETS[name]
    stimset = loader()
    if not isinstance(stimset, StimulusSet):
        where = f"{getattr(loader, '__module__', '?')}:{getattr(loader, '__qualname__', loader)}"
        raise AudioprobeError(f"dataset {name!r}: {where} returned {type(stimset).__name__}, not a StimulusSet.")
    return stimset
