"""Human dissimilarity matrices of a stimulus-set folder: rdm.csv and rdm/<listener>.csv.

A matrix is read as published (upper or lower triangle or the full matrix, empty or NaN cells for
pairs nobody rated, similarities or dissimilarities as dataset.yaml's `rdm:` says) and brought
into the one form every source obeys by `stimulus_set.normalise_rdm` and `check_rdm`.
Per-listener matrices give the noise ceiling of rdm targets, and their mean is the target of a set
that has no rdm.csv.
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import numpy as np

from audioprobe.errors import AudioprobeError
from audioprobe.stimuli.folder.csv_files import csv_errors
from audioprobe.stimuli.stimulus_set import check_rdm, normalise_rdm

#: cell text read as a missing pair (besides an empty cell); any case
MISSING_CELLS = {"nan", "na", "n/a"}


def read_rdm(path: Path, sound_ids: list[str], kind: str = "dissimilarity") -> np.ndarray:
    """A human dissimilarity matrix from rdm.csv, in the order of `sound_ids` (NaN: a missing pair).

    Layout: a header row `sound_id,<id 1>,...,<id n>`, then one row per sound starting with its id
    (rows and columns in any order, the same ids). Cells may be filled on both sides of the
    diagonal (the full matrix: symmetric) or on one side only (the upper or the lower triangle,
    mirrored). A cell empty (or NaN, NA) on both sides is a pair nobody rated. The diagonal is
    ignored (a non-zero one with a warning). kind "similarity": turned into dissimilarities,
    max(s) - s (`normalise_rdm`, which holds every rule).
    """
    with csv_errors(path), open(path, newline="", encoding="utf-8-sig") as fh:  # a byte-order mark is not a sound id
        rows = [r for r in csv.reader(fh) if r]
    if not rows:
        raise AudioprobeError(f"{path}: empty.")
    header = rows[0][1:]
    n = len(sound_ids)
    if sorted(header) != sorted(sound_ids) or len(set(header)) != len(header):
        raise AudioprobeError(
            f"{path}: the header must be 'sound_id' followed by each sound id exactly once "
            f"({n} ids; found {len(header)})."
        )
    body = rows[1:]
    row_ids = [r[0] for r in body]
    if row_ids != header:
        raise AudioprobeError(
            f"{path}: the rows must start with the same ids in the same order as the header "
            f"(row {next((i + 2 for i, (a, b) in enumerate(zip(row_ids, header)) if a != b), len(body) + 2)} differs)."
        )
    mat = np.full((n, n), np.nan)
    for i, r in enumerate(body):
        cells = r[1:]
        if len(cells) != n:
            raise AudioprobeError(f"{path}, line {i + 2}: {len(cells)} values for {n} sounds.")
        for j, v in enumerate(cells):
            v = v.strip()
            if v == "" or v.lower() in MISSING_CELLS:
                continue
            try:
                mat[i, j] = float(v)
            except ValueError:
                raise AudioprobeError(f"{path}, line {i + 2}, column {j + 2}: {v!r} is not a number.") from None
            if not math.isfinite(mat[i, j]):
                raise AudioprobeError(f"{path}, line {i + 2}, column {j + 2}: {v!r} is not a finite number.")
    mat = normalise_rdm(mat, str(path), kind, cell=lambda i, j: f"line {i + 2}, column {j + 2}")
    check_rdm(mat, n, str(path))
    pos = {s: i for i, s in enumerate(header)}
    order = [pos[s] for s in sound_ids]
    return mat[np.ix_(order, order)]


def read_listener_rdms(folder: Path, sound_ids: list[str], kind: str = "dissimilarity") -> dict[str, np.ndarray] | None:
    """Per-listener matrices from `rdm/<listener>.csv` (each as `read_rdm` reads rdm.csv), by listener
    id (the file name without .csv), in sorted order; None without an `rdm/` folder."""
    if not folder.exists():
        return None
    if not folder.is_dir():
        raise AudioprobeError(f"{folder}: not a folder; per-listener matrices go in rdm/<listener>.csv.")
    out: dict[str, np.ndarray] = {}
    inside = folder.parent.resolve()
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        if p.suffix != ".csv" or not p.is_file():
            raise AudioprobeError(f"{p}: rdm/ holds one <listener>.csv per listener and nothing else.")
        if not p.resolve().is_relative_to(inside):
            raise AudioprobeError(f"{p}: a link out of the stimulus set's folder; copy the file into rdm/ instead.")
        out[p.stem] = read_rdm(p, sound_ids, kind)
    if not out:
        raise AudioprobeError(f"{folder}: no <listener>.csv files; remove the empty folder or add the matrices.")
    return out


def mean_rdm(matrices: list[np.ndarray]) -> np.ndarray:
    """The cell-wise mean over the matrices that have the cell (NaN where none has it): the target of a
    set given only per-listener matrices, and of the per-listener noise ceiling."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a cell no listener rated: NaN, as it should be
        return np.nanmean(np.stack(matrices), axis=0)


def read_matrices(folder: Path, sound_ids: list[str], kind: str
                  ) -> tuple[np.ndarray | None, dict[str, np.ndarray] | None]:
    """(rdm, listener_rdms) of a set folder: rdm.csv and the per-listener rdm/; without rdm.csv the target is the
    mean of the listeners' matrices."""
    rdm = None
    rdm_path = folder / "rdm.csv"
    if rdm_path.is_file():
        rdm = read_rdm(rdm_path, sound_ids, kind)
    listener_rdms = read_listener_rdms(folder / "rdm", sound_ids, kind)
    if rdm is None and listener_rdms is not None:
        rdm = mean_rdm(list(listener_rdms.values()))
    return rdm, listener_rdms
