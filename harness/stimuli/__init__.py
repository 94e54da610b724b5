"""Stimulus sets: the `StimulusSet` model, the folder format, Hub sets and name resolution.

    stimulus_set.py   the model: ids, lazy audio, labels, judgments, responses, rdm, fingerprint, validate
    audio.py          audio header checks and decoding, shared by the folder and Hub loaders
    folder/           the folder format: load_folder, export_folder, read_rdm (one module per part of a folder)
    hub.py            `hf:ORG/NAME[@revision]` datasets (imported only for hf: specs)
    catalog.py        DATASETS (named sets, as lazy "module:function") and resolve_dataset
    synthetic/        the embedded `impacts` set: modal laws, design table, rendering, simulated listeners

Imports point one way: catalog -> folder, hub, synthetic -> audio, stimulus_set; nothing here
imports the engine (runner, CLI, cache, models). Counting responses lives in
`audioprobe.metrics.responses`.
"""

from audioprobe.stimuli.catalog import DATASETS, resolve_dataset
from audioprobe.stimuli.folder import export_folder, load_folder, read_rdm
from audioprobe.stimuli.stimulus_set import StimulusSet

__all__ = ["DATASETS", "StimulusSet", "export_folder", "load_folder", "read_rdm", "resolve_dataset"]
