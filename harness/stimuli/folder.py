"""The folder format of a stimulus set: reading (`load_folder`, `read_rdm`) and writing (`export_folder`).

    my-study/
      dataset.yaml    name, description, license, citation, dimensions, sample_rate, synthetic
      sounds/         one audio file per sound; the file name without extension is the sound id
      labels.csv      sound_id + physical label columns (optional; its row order is the set's order)
      judgments.csv   sound_id,dimension,category,count   (and/or responses.csv)
      responses.csv   listener,sound_id,dimension,category (optional)
      rdm.csv         optional human dissimilarity matrix (NaN or empty cells: pairs not rated)
      rdm/            optional: one <listener>.csv per listener, same layout (noise ceiling of rdm targets)

docs/stimuli.md describes every file. Loading checks everything small (and every audio header)
up front, with errors naming the file, line and sound; exporting then loading gives the same
fingerprint.
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from audioprobe.errors import AudioprobeError
from audioprobe.files import check_inside, current_umask, read_config_yaml
from audioprobe.metrics.responses import counts_from_responses
from audioprobe.stimuli.audio import check_audio_header, decode_audio
from audioprobe.stimuli.stimulus_set import RDM_KINDS, StimulusSet, check_rdm, check_sound_id, normalise_rdm


def _read_csv(path: Path, required: list[str]) -> list[dict[str, str]]:
    try:
        # utf-8-sig: a byte-order mark, as a spreadsheet's "CSV UTF-8" writes, is not part of the first column's name
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in required if c not in header]
            if missing:
                raise AudioprobeError(
                    f"{path}: missing column(s) {', '.join(missing)}; the header must contain "
                    f"{', '.join(required)} (found: {', '.join(header) or 'nothing'})."
                )
            return [dict(row) for row in reader]
    except OSError as exc:
        raise AudioprobeError(f"{path}: cannot read ({exc.strerror}).") from None
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    except csv.Error as exc:
        raise AudioprobeError(f"{path}: not a readable CSV file ({exc}); save it as plain comma-separated UTF-8 text.") from None


def not_utf8(path: Path, exc: UnicodeDecodeError) -> AudioprobeError:
    """The error for a text file that is not UTF-8 (often UTF-16 from a spreadsheet's "Unicode text")."""
    raw = Path(path).read_bytes()[:4] if Path(path).is_file() else b""
    guess = " (it looks like UTF-16)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
    how = "\"CSV UTF-8\" in a spreadsheet, or " if Path(path).suffix == ".csv" else ""
    return AudioprobeError(
        f"{path}: not UTF-8 text{guess}: byte {exc.start} cannot be decoded. Save the file as UTF-8 "
        f"(e.g. {how}iconv -f UTF-16 -t UTF-8)."
    )


def _find_sound_files(folder: Path) -> dict[str, Path]:
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


def load_folder(folder: Path) -> StimulusSet:
    """Load and validate a stimulus-set folder; every error names the file and row at fault.

    Layout (docs/stimuli.md): dataset.yaml, sounds/<id>.<ext>, labels.csv, judgments.csv and/or
    responses.csv, optional rdm.csv. The sounds' order is the row order of labels.csv when it
    exists, else the sorted file names. Every audio header is checked here, so a bad file fails
    before any model runs; samples are decoded lazily, one sound at a time.
    """
    folder = Path(folder)
    meta, dimensions, rdm_kind = _read_meta(folder)
    files = _find_sound_files(folder)
    if not files:
        raise AudioprobeError(f"{folder / 'sounds'}: no audio files.")
    sound_ids, labels = list(files), {}
    if (folder / "labels.csv").is_file():
        sound_ids, labels = _read_labels(folder / "labels.csv", files, dimensions)
    index = {sid: i for i, sid in enumerate(sound_ids)}
    paths = [files[s] for s in sound_ids]
    for sid, path in zip(sound_ids, paths):
        check_audio_header(path, sid, path, meta.get("sample_rate"))

    listeners, responses = None, None
    responses_path = folder / "responses.csv"
    if responses_path.is_file():
        listeners, responses = _read_responses(responses_path, dimensions, index, _unknown_sound)
    judgments_path = folder / "judgments.csv"
    if judgments_path.is_file():
        judgments = _read_judgments(judgments_path, dimensions, index)
    elif responses is None and dimensions:
        raise AudioprobeError(f"{folder}: dimensions are declared but there is no judgments.csv or responses.csv.")
    else:
        judgments = {d: np.zeros((len(sound_ids), len(c)), np.int64) for d, c in dimensions.items()}
    if responses is not None:
        judgments = _counts_of_responses(responses, judgments if judgments_path.is_file() else None, dimensions,
                                         sound_ids, judgments_path)
    for d in dimensions:
        empty = np.nonzero(judgments[d].sum(axis=1) == 0)[0]
        if len(empty):
            raise AudioprobeError(
                f"{judgments_path if judgments_path.is_file() else responses_path}: sound "
                f"{sound_ids[empty[0]]!r} has no judgments on dimension {d!r}"
                f"{f' (and {len(empty) - 1} more)' if len(empty) > 1 else ''}; every sound needs at least one."
            )

    rdm = None
    rdm_path = folder / "rdm.csv"
    if rdm_path.is_file():
        rdm = read_rdm(rdm_path, sound_ids, rdm_kind)
    listener_rdms = read_listener_rdms(folder / "rdm", sound_ids, rdm_kind)
    if rdm is None and listener_rdms is not None:
        rdm = mean_rdm(list(listener_rdms.values()))

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


def _unknown_sound(path: Path, line: int, sid: str) -> AudioprobeError:
    return AudioprobeError(
        f"{path}, line {line}: sound_id {sid!r} has no audio file in sounds/; add the file or remove the row."
    )


def _read_meta(folder: Path) -> tuple[dict, dict[str, list[str]], str]:
    """dataset.yaml, checked: (its keys, the judged dimensions and their categories, what rdm.csv holds). The
    set's files are checked not to lead out of the folder before any is read."""
    if not folder.is_dir():
        raise AudioprobeError(f"{folder}: not a folder. A stimulus set is a folder with dataset.yaml.")
    meta_path = folder / "dataset.yaml"
    if not meta_path.is_file():
        raise AudioprobeError(f"{folder}: no dataset.yaml; see docs/stimuli.md for the folder format.")
    meta = read_config_yaml(meta_path, "stimulus set's dataset.yaml", inside=folder) or {}
    for name in ("labels.csv", "judgments.csv", "responses.csv", "rdm.csv"):  # never read through a link out of the set
        if (folder / name).exists() or (folder / name).is_symlink():
            check_inside(folder / name, folder, "stimulus set's file")
    if not isinstance(meta, dict):
        raise AudioprobeError(f"{meta_path}: must be a mapping of keys to values.")
    allowed = {"name", "description", "license", "citation", "sample_rate", "dimensions", "synthetic", "rdm"}
    bad = sorted(set(meta) - allowed)
    if bad:
        raise AudioprobeError(f"{meta_path}: unknown key(s) {', '.join(bad)}; allowed: {', '.join(sorted(allowed))}.")
    dims = meta.get("dimensions") or {}
    for d, cats in (dims.items() if isinstance(dims, dict) else []):
        flags = [c for c in (cats if isinstance(cats, list) else []) if isinstance(c, bool)]
        if flags or isinstance(d, bool):  # YAML 1.1 reads an unquoted yes, no, on, off, true, false as a boolean
            raise AudioprobeError(
                f"{meta_path}: dimension {d!r} has a category that YAML read as {flags[0] if flags else d!r} (an unquoted "
                f"yes, no, on, off, true or false becomes a boolean); quote it, e.g. ['yes', 'no'].")
    if not isinstance(dims, dict) or not all(
        isinstance(v, list) and v and all(isinstance(c, (str, int)) for c in v) for v in dims.values()
    ):
        raise AudioprobeError(
            f"{meta_path}: 'dimensions' must map each judged dimension to its list of categories, "
            f"e.g. material: [wood, metal, glass]."
        )
    dimensions = {str(d): [str(c) for c in cats] for d, cats in dims.items()}
    for d, cats in dimensions.items():
        if len(set(cats)) != len(cats):
            raise AudioprobeError(f"{meta_path}: dimension {d!r} lists a category twice.")
    rdm_kind = meta.get("rdm", "dissimilarity")
    if rdm_kind not in RDM_KINDS:
        raise AudioprobeError(
            f"{meta_path}: rdm must be 'dissimilarity' (the default) or 'similarity' (what rdm.csv and rdm/ hold), "
            f"got {rdm_kind!r}.")
    if not isinstance(meta.get("synthetic", False), bool):
        raise AudioprobeError(f"{meta_path}: synthetic must be true or false (unquoted), got {meta['synthetic']!r}; a "
                              f"quoted \"no\" is a string, which would mark the set synthetic.")
    declared_rate = meta.get("sample_rate")
    if declared_rate is not None and (not isinstance(declared_rate, int) or declared_rate <= 0):
        raise AudioprobeError(f"{meta_path}: sample_rate must be a positive integer (Hz), got {declared_rate!r}.")
    return meta, dimensions, rdm_kind


def _read_labels(labels_path: Path, files: dict[str, Path], dimensions: dict[str, list[str]]
                 ) -> tuple[list[str], dict[str, list[str]]]:
    """labels.csv: the sounds in its row order, and its label columns (one row per sound of sounds/)."""
    rows = _read_csv(labels_path, ["sound_id"])
    columns = [c for c in rows[0] if c != "sound_id"] if rows else []
    for line, row in enumerate(rows, start=2):
        if None in row:
            raise AudioprobeError(f"{labels_path}, line {line}: more cells than the header has columns.")
    order: list[str] = []
    for line, row in enumerate(rows, start=2):
        sid = row["sound_id"]
        if sid not in files:
            raise _unknown_sound(labels_path, line, sid)
        if sid in order:
            raise AudioprobeError(f"{labels_path}, line {line}: sound_id {sid!r} appears twice.")
        order.append(sid)
        for c in columns:
            if row[c] is None:
                raise AudioprobeError(f"{labels_path}, line {line}: the row has fewer cells than the header.")
    missing = [s for s in files if s not in set(order)]
    if missing:
        raise AudioprobeError(
            f"{labels_path}: no row for sound(s) {', '.join(missing[:5])}"
            f"{' ...' if len(missing) > 5 else ''}; every sound in sounds/ needs its labels."
        )
    labels = {c: [row[c] for row in rows] for c in columns}
    for c, values in labels.items():
        if c in dimensions:
            for line, v in enumerate(values, start=2):
                if v not in dimensions[c]:
                    raise AudioprobeError(
                        f"{labels_path}, line {line}: {c} {v!r} is not one of dimension {c!r}'s categories "
                        f"({', '.join(dimensions[c])}). A label column named like a dimension must use its "
                        f"categories; rename the column to keep other values."
                    )
    return order, labels


def _read_judgments(judgments_path: Path, dimensions: dict[str, list[str]], index: dict[str, int]
                    ) -> dict[str, np.ndarray]:
    """judgments.csv: per dimension, `[n_sounds, n_categories]` counts of listeners (a count given once)."""
    judgments = {d: np.zeros((len(index), len(c)), np.int64) for d, c in dimensions.items()}
    seen_rows: dict[tuple[str, str, str], int] = {}
    for line, row in enumerate(_read_csv(judgments_path, ["sound_id", "dimension", "category", "count"]), start=2):
        sid, dim, cat = row["sound_id"], row["dimension"], row["category"]
        if sid not in index:
            raise _unknown_sound(judgments_path, line, sid)
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


def _counts_of_responses(responses: dict[str, np.ndarray], judgments: dict[str, np.ndarray] | None,
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


def _read_responses(path, dimensions, index, unknown_sound):
    rows = _read_csv(path, ["listener", "sound_id", "dimension", "category"])
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
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:  # a byte-order mark is not a sound id
            rows = [r for r in csv.reader(fh) if r]
    except OSError as exc:
        raise AudioprobeError(f"{path}: cannot read ({exc.strerror}).") from None
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    except csv.Error as exc:
        raise AudioprobeError(f"{path}: not a readable CSV file ({exc}); save it as plain comma-separated UTF-8 text.") from None
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


#: The largest count of one answer in judgments.csv: a panel of a billion listeners is already a typo.
MAX_COUNT = 1_000_000_000


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
