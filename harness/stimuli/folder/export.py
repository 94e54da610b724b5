"""Writing a stimulus set in the folder format: `export_folder`.

The inverse of `load_folder`: loading an exported folder gives the same fingerprint (audio as
32-bit float WAV, matrices as repr). Written into a temporary folder that is renamed into place,
so an interrupted export leaves nothing half-written; every id that becomes a file name (a
sound's, a listener's) is checked before it is written, so no id writes outside the folder.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from audioprobe.errors import AudioprobeError
from audioprobe.files import current_umask
from audioprobe.stimuli.stimulus_set import StimulusSet, check_sound_id


def export_folder(stimset: StimulusSet, folder: Path, overwrite: bool = False) -> Path:
    """Write a stimulus set in the folder format; loading it back gives the same fingerprint.

    Everything is written into a temporary folder beside `folder`, which is renamed into place at
    the end: an interrupted export leaves nothing half-written, and a folder is never a mix of two
    sets (a stale rdm.csv, say). An existing non-empty `folder` is replaced only with `overwrite`.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise AudioprobeError(f"{folder}: exists and is not a folder; choose another destination.")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise AudioprobeError(
            f"{folder}: the folder exists and is not empty; choose a new folder, or pass --overwrite to replace "
            f"it (everything in it is deleted)."
        )
    for sid in stimset.sound_ids:  # ids become file names: never a path out of the folder
        check_sound_id(sid, stimset.source or stimset.name)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_exports(folder)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.{os.getpid()}.", suffix=".tmp"))
    except OSError as exc:
        raise AudioprobeError(f"{folder}: cannot write there ({exc.strerror}); choose another folder.") from None
    try:
        _write_folder(stimset, tmp)
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp's 0700 is not what a user's folder gets
        if folder.exists():
            old = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".old"))
            os.replace(folder, old / "x")
            os.replace(tmp, folder)
            shutil.rmtree(old)
        else:
            os.replace(tmp, folder)
    except OSError as exc:
        raise AudioprobeError(f"{folder}: cannot write the stimulus set ({exc}); nothing was changed.") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _remove_stale_exports(folder: Path) -> None:
    """Remove what an export into `folder` that was killed left behind (`.<name>.<pid>.*.tmp` of a process that
    no longer runs); a running export's folder is left alone."""
    for tmp in folder.parent.glob(f".{folder.name}.*.tmp"):
        parts = tmp.name[len(folder.name) + 2:].split(".")
        if not parts[0].isdigit() or not tmp.is_dir() or tmp.is_symlink():
            continue
        try:
            os.kill(int(parts[0]), 0)
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except (PermissionError, OverflowError):  # another user's running process, or no such pid
            continue


def _write_folder(stimset: StimulusSet, folder: Path) -> None:
    (folder / "sounds").mkdir(parents=True, exist_ok=True)
    meta = {
        "name": stimset.name, "description": stimset.description, "license": stimset.license,
        "citation": stimset.citation, "synthetic": stimset.synthetic,
        "dimensions": stimset.dimensions,
    }
    rates = set()
    for i, sid in enumerate(stimset.sound_ids):
        wave, sr = stimset.audio(i)
        rates.add(sr)
        # 32-bit float WAV keeps the samples bit for bit, hence the fingerprint.
        sf.write(folder / "sounds" / f"{sid}.wav", wave, sr, subtype="FLOAT")
    if len(rates) == 1:
        meta["sample_rate"] = rates.pop()
    (folder / "dataset.yaml").write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sound_id", *stimset.labels])
        for i, sid in enumerate(stimset.sound_ids):
            w.writerow([sid, *(stimset.labels[c][i] for c in stimset.labels)])
    with open(folder / "judgments.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sound_id", "dimension", "category", "count"])
        for i, sid in enumerate(stimset.sound_ids):
            for dim, cats in stimset.dimensions.items():
                for k, cat in enumerate(cats):
                    w.writerow([sid, dim, cat, int(stimset.judgments[dim][i, k])])
    if stimset.responses is not None:
        with open(folder / "responses.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["listener", "sound_id", "dimension", "category"])
            for li, who in enumerate(stimset.listeners or []):
                for dim, cats in stimset.dimensions.items():
                    for i, sid in enumerate(stimset.sound_ids):
                        c = stimset.responses[dim][li, i]
                        if c >= 0:
                            w.writerow([who, sid, dim, cats[c]])
    if stimset.rdm is not None:
        _write_rdm(folder / "rdm.csv", stimset.sound_ids, stimset.rdm)
    if stimset.listener_rdms is not None:
        (folder / "rdm").mkdir()
        for who, mat in stimset.listener_rdms.items():
            check_sound_id(who, stimset.source or stimset.name)  # a listener id becomes a file name too
            _write_rdm(folder / "rdm" / f"{who}.csv", stimset.sound_ids, mat)


def _write_rdm(path: Path, sound_ids: list[str], mat: np.ndarray) -> None:
    """The full matrix, every value as repr (exact on reload); a missing pair as an empty cell."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sound_id", *sound_ids])
        for sid, row in zip(sound_ids, mat):
            w.writerow([sid, *("" if np.isnan(v) else repr(float(v)) for v in row)])
