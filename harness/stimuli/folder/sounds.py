"""The audio files of a stimulus-set folder: `sounds/<id>.<ext>`, one file per sound.

Finds them (the file name without extension is the sound id) and refuses any that would read
outside the set's folder (a link to /etc/passwd, say) or a broken link; the tables' rows that
name a sound without a file get one message, `unknown_sound`. Headers are checked and samples
decoded by `audioprobe.stimuli.audio`, shared with Hub sets.
"""

from __future__ import annotations

from pathlib import Path

from audioprobe.errors import AudioprobeError
from audioprobe.stimuli.stimulus_set import check_sound_id


def find_sound_files(folder: Path) -> dict[str, Path]:
    """The audio files of `sounds/` by sound id (hidden files skipped); a link out of the set's folder, a broken
    link or two files for one id is an error."""
    sounds = folder / "sounds"
    if not sounds.is_dir():
        raise AudioprobeError(f"{folder}: no 'sounds/' folder; put one audio file per sound there.")
    files: dict[str, Path] = {}
    inside = folder.resolve()
    for p in sorted(sounds.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_symlink() or not p.resolve().is_relative_to(inside):
            target = p.resolve()
            if not target.is_relative_to(inside):  # never read a file outside the set (e.g. /etc/passwd)
                raise AudioprobeError(
                    f"{p}: a link to {target}, outside the stimulus set's folder {inside}; copy the audio file into "
                    f"sounds/ instead (a set's audio must lie inside its folder)."
                )
            if not target.exists():
                raise AudioprobeError(f"{p}: a link to {target}, which does not exist; replace it with the audio file.")
        if not p.is_file():
            continue
        check_sound_id(p.stem, str(p))
        if p.stem in files:
            raise AudioprobeError(
                f"{sounds}: two files for sound id {p.stem!r} ({files[p.stem].name}, {p.name}); keep one."
            )
        files[p.stem] = p
    return files


def unknown_sound(path: Path, line: int, sid: str) -> AudioprobeError:
    """The error for a row of a table (labels, judgments, responses) naming a sound that has no audio file."""
    return AudioprobeError(
        f"{path}, line {line}: sound_id {sid!r} has no audio file in sounds/; add the file or remove the row."
    )
