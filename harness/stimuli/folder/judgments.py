"""What the listeners answered, from a stimulus-set folder: judgments.csv (counts) and responses.csv.

judgments.csv gives, per sound and dimension, how many listeners chose each category;
responses.csv gives each listener's answer, from which the counts follow
(`audioprobe.metrics.responses.counts_from_responses`) and the noise ceilings are computed. A set
may give either or both (then they must agree). Every row is checked, with errors naming the file
and line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from audioprobe.errors import AudioprobeError
from audioprobe.metrics.responses import counts_from_responses
from audioprobe.stimuli.folder.csv_files import read_csv
from audioprobe.stimuli.folder.sounds import unknown_sound

#: The largest count of one answer in judgments.csv: a panel of a billion listeners is already a typo.
MAX_COUNT = 1_000_000_000


def read_judgments(judgments_path: Path, dimensions: dict[str, list[str]], index: dict[str, int]
                   ) -> dict[str, np.ndarray]:
    """judgments.csv: per dimension, `[n_sounds, n_categories]` counts of listeners (a count given once)."""
    judgments = {d: np.zeros((len(index), len(c)), np.int64) for d, c in dimensions.items()}
    seen_rows: dict[tuple[str, str, str], int] = {}
    for line, row in enumerate(read_csv(judgments_path, ["sound_id", "dimension", "category", "count"]), start=2):
        sid, dim, cat = row["sound_id"], row["dimension"], row["category"]
        if sid not in index:
            raise unknown_sound(judgments_path, line, sid)
        if dim not in dimensions:
            raise AudioprobeError(
                f"{judgments_path}, line {line}: dimension {dim!r} is not declared in dataset.yaml "
                f"(declared: {', '.join(dimensions) or 'none'})."
            )
        if cat not in dimensions[dim]:
            raise AudioprobeError(
                f"{judgments_path}, line {line}: category {cat!r} is not one of dimension {dim!r}'s "
                f"categories ({', '.join(dimensions[dim])})."
            )
        if (sid, dim, cat) in seen_rows:
            raise AudioprobeError(
                f"{judgments_path}, line {line}: ({sid}, {dim}, {cat}) already has a count on line "
                f"{seen_rows[(sid, dim, cat)]}; give each count once."
            )
        seen_rows[(sid, dim, cat)] = line
        raw = (row["count"] or "").strip()
        if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_COUNT:
            raise AudioprobeError(
                f"{judgments_path}, line {line}: count {row['count'][:40]!r} must be a non-negative integer of at "
                f"most {MAX_COUNT:,} (listeners who gave that answer)."
            )
        judgments[dim][index[sid], dimensions[dim].index(cat)] = int(raw)
    return judgments


def read_responses(path: Path, dimensions: dict[str, list[str]], index: dict[str, int]
                   ) -> tuple[list[str], dict[str, np.ndarray]]:
    """responses.csv: the listeners in order of first appearance, and per dimension their answers as category
    indices `[n_listeners, n_sounds]` (-1: that listener did not judge that sound; each sound judged once)."""
    rows = read_csv(path, ["listener", "sound_id", "dimension", "category"])
    listeners: list[str] = []
    where: dict[str, int] = {}
    parsed = []
    for line, row in enumerate(rows, start=2):
        sid, dim, cat, who = row["sound_id"], row["dimension"], row["category"], row["listener"]
        if sid not in index:
            raise unknown_sound(path, line, sid)
        if dim not in dimensions:
            raise AudioprobeError(f"{path}, line {line}: dimension {dim!r} is not declared in dataset.yaml.")
        if cat not in dimensions[dim]:
            raise AudioprobeError(
                f"{path}, line {line}: category {cat!r} is not one of {dim!r}'s categories "
                f"({', '.join(dimensions[dim])})."
            )
        if not who:
            raise AudioprobeError(f"{path}, line {line}: empty listener id.")
        if who not in where:
            where[who] = len(listeners)
            listeners.append(who)
        parsed.append((line, where[who], index[sid], dim, dimensions[dim].index(cat)))
    responses = {d: np.full((len(listeners), len(index)), -1, np.int64) for d in dimensions}
    for line, li, si, dim, ci in parsed:
        if responses[dim][li, si] >= 0:
            raise AudioprobeError(
                f"{path}, line {line}: listener {listeners[li]!r} judged this sound on {dim!r} twice."
            )
        responses[dim][li, si] = ci
    return listeners, responses


def counts_of_responses(responses: dict[str, np.ndarray], judgments: dict[str, np.ndarray] | None,
                        dimensions: dict[str, list[str]], sound_ids: list[str], judgments_path: Path
                        ) -> dict[str, np.ndarray]:
    """The counts responses.csv gives; judgments.csv, where the set has one too, must agree with them."""
    from_responses = {d: counts_from_responses(responses[d], len(dimensions[d])) for d in dimensions}
    for d in dimensions if judgments is not None else ():
        diff = np.argwhere(judgments[d] != from_responses[d])
        if len(diff):
            i, k = diff[0]
            raise AudioprobeError(
                f"{judgments_path}: counts disagree with responses.csv for sound {sound_ids[i]!r}, "
                f"dimension {d!r}, category {dimensions[d][k]!r} ({judgments[d][i, k]} vs "
                f"{from_responses[d][i, k]}); fix one, or delete judgments.csv to derive counts."
            )
    return from_responses


def read_answers(folder: Path, dimensions: dict[str, list[str]], sound_ids: list[str], index: dict[str, int]
                 ) -> tuple[list[str] | None, dict[str, np.ndarray] | None, dict[str, np.ndarray]]:
    """(listeners, responses, judgments) from responses.csv and/or judgments.csv: the counts come from the
    responses where a set has them (judgments.csv must then agree), and every sound needs at least one answer
    on every dimension."""
    listeners, responses = None, None
    responses_path = folder / "responses.csv"
    if responses_path.is_file():
        listeners, responses = read_responses(responses_path, dimensions, index)
    judgments_path = folder / "judgments.csv"
    if judgments_path.is_file():
        judgments = read_judgments(judgments_path, dimensions, index)
    elif responses is None and dimensions:
        raise AudioprobeError(f"{folder}: dimensions are declared but there is no judgments.csv or responses.csv.")
    else:
        judgments = {d: np.zeros((len(sound_ids), len(c)), np.int64) for d, c in dimensions.items()}
    if responses is not None:
        judgments = counts_of_responses(responses, judgments if judgments_path.is_file() else None, dimensions,
                                        sound_ids, judgments_path)
    for d in dimensions:
        empty = np.nonzero(judgments[d].sum(axis=1) == 0)[0]
        if len(empty):
            raise AudioprobeError(
                f"{judgments_path if judgments_path.is_file() else responses_path}: sound "
                f"{sound_ids[empty[0]]!r} has no judgments on dimension {d!r}"
                f"{f' (and {len(empty) - 1} more)' if len(empty) > 1 else ''}; every sound needs at least one."
            )
    return listeners, responses, judgments
