"""Loading a stimulus-set folder: `load_folder`, which reads every part in order and builds the `StimulusSet`.

dataset.yaml first (`metadata`), then the sounds (`sounds`, every audio header checked), the
sounds' order and labels, the listeners' answers (`judgments`) and the dissimilarity matrices
(`matrices`); `StimulusSet.validate` then checks that the parts agree. Everything small is
checked up front, so a bad set fails before any model runs; samples are decoded lazily.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from audioprobe.errors import AudioprobeError
from audioprobe.stimuli.audio import check_audio_header, decode_audio
from audioprobe.stimuli.folder.judgments import read_answers
from audioprobe.stimuli.folder.matrices import read_matrices
from audioprobe.stimuli.folder.metadata import read_labels, read_meta
from audioprobe.stimuli.folder.sounds import find_sound_files
from audioprobe.stimuli.stimulus_set import StimulusSet


def load_folder(folder: Path) -> StimulusSet:
    """Load and validate a stimulus-set folder; every error names the file and row at fault.

    Layout (docs/stimuli.md): dataset.yaml, sounds/<id>.<ext>, labels.csv, judgments.csv and/or
    responses.csv, optional rdm.csv. The sounds' order is the row order of labels.csv when it
    exists, else the sorted file names. Every audio header is checked here, so a bad file fails
    before any model runs; samples are decoded lazily, one sound at a time.
    """
    folder = Path(folder)
    meta, dimensions, rdm_kind = read_meta(folder)
    files = find_sound_files(folder)
    if not files:
        raise AudioprobeError(f"{folder / 'sounds'}: no audio files.")
    sound_ids, labels = list(files), {}
    if (folder / "labels.csv").is_file():
        sound_ids, labels = read_labels(folder / "labels.csv", files, dimensions)
    index = {sid: i for i, sid in enumerate(sound_ids)}
    paths = [files[s] for s in sound_ids]
    for sid, path in zip(sound_ids, paths):
        check_audio_header(path, sid, path, meta.get("sample_rate"))
    listeners, responses, judgments = read_answers(folder, dimensions, sound_ids, index)
    rdm, listener_rdms = read_matrices(folder, sound_ids, rdm_kind)

    def load_audio(i: int) -> tuple[np.ndarray, int]:
        return decode_audio(paths[i], sound_ids[i], paths[i])

    return StimulusSet(
        name=str(meta.get("name", folder.name)),
        sound_ids=sound_ids,
        dimensions=dimensions,
        labels=labels,
        judgments=judgments,
        load_audio=load_audio,
        description=str(meta.get("description", "")),
        license=str(meta.get("license", "")),
        citation=str(meta.get("citation", "")),
        synthetic=meta.get("synthetic", False),
        source=str(folder.resolve()),
        listeners=listeners,
        responses=responses,
        rdm=rdm,
        listener_rdms=listener_rdms,
    ).validate(str(folder))
