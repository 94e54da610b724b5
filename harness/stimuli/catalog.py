"""Stimulus sets by name: the registry of named sets (`DATASETS`) and `resolve_dataset`.

A spec is a registered name, a folder path or `hf:ORG/NAME[@revision]`. Named sets map to
"module:function" strings imported only when that set is resolved, so listing them imports
nothing heavy (no synthesiser, no `datasets`); the Hub loader is imported only for `hf:` specs.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from audioprobe.errors import AudioprobeError, UnknownNameError
from audioprobe.stimuli.folder import load_folder
from audioprobe.stimuli.stimulus_set import StimulusSet

#: Named stimulus sets: name -> ("module:function" returning a StimulusSet, one-line description).
DATASETS: dict[str, tuple[str, str]] = {
    "impacts": (
        "audioprobe.stimuli.synthetic.impacts:load_impacts",
        "245 synthetic impact sounds (modal synthesis of struck objects, 7 materials x 5 shapes) judged "
        "by 17 simulated listeners. SYNTHETIC: not human data.",
    ),
}


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
    raise UnknownNameError(
        "dataset", spec, sorted(DATASETS),
        "Give a registered name (audioprobe-eval list datasets), a folder path, or hf:ORG/NAME.",
    )


def load_named(name: str) -> StimulusSet:
    """Import and call the "module:function" registered for `name` in DATASETS."""
    target = DATASETS[name][0]
    module, _, func = target.partition(":")
    try:
        loader = getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as exc:
        raise AudioprobeError(
            f"dataset {name!r} is registered as {target!r}, which cannot be imported ({exc}); "
            f"fix the DATASETS entry in audioprobe/stimuli/catalog.py."
        ) from None
    stimset = loader()
    if not isinstance(stimset, StimulusSet):
        raise AudioprobeError(f"dataset {name!r}: {target} returned {type(stimset).__name__}, not a StimulusSet.")
    return stimset
