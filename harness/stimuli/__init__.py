"""Stimulus sets: the `StimulusSet` model, the folder format, Hub sets and name resolution.

`synthetic/` holds the embedded impact synthesiser and its simulated listeners.
"""

from audioprobe.stimuli.stimulus_set import (DATASETS, StimulusSet, export_folder, load_folder, read_rdm,
                                             resolve_dataset)

__all__ = ["DATASETS", "StimulusSet", "export_folder", "load_folder", "read_rdm", "resolve_dataset"]
