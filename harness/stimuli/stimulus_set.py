"""Stimulus sets: sounds, their physical labels and the human judgments of them.

One class (`StimulusSet`) whatever the source: the embedded synthetic `impacts` set, a folder in
the documented format (README, "Stimulus-set folder format"), or a dataset on the Hub. Audio is
loaded lazily, one sound at a time; everything else is small and loaded and validated up front,
so a bad folder fails before any model runs.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
import yaml

from audioprobe.errors import AudioprobeError, UnknownNameError

AudioLoader = Callable[[int], "tuple[np.ndarray, int]"]

#: Named stimulus sets: name -> "module:function" returning a StimulusSet (imported lazily).
DATASETS: dict[str, tuple[str, str]] = {
    "impacts": (
        "audioprobe.stimuli.synthetic.impacts:load_impacts",
        "245 synthetic impact sounds (modal synthesis of struck objects, 7 materials x 5 shapes) judged "
        "by 17 simulated listeners. SYNTHETIC: not human data.",
    ),
}


@dataclasses.dataclass
class StimulusSet:
    """An ordered list of sounds with labels and human judgments (see DESIGN.md, "Stimulus set").

    judgments[dim] is an int64 array `[n_sounds, n_categories]` of response counts, categories in
    the order of `dimensions[dim]`. responses[dim], when per-listener data exist, is an int64 array
    `[n_listeners, n_sounds]` of category indices (-1: that listener did not judge that sound).
    """

    name: str
    sound_ids: list[str]
    dimensions: dict[str, list[str]]
    labels: dict[str, list[str]]
    judgments: dict[str, np.ndarray]
    load_audio: AudioLoader
    description: str = ""
    license: str = ""
    citation: str = ""
    synthetic: bool = False
    source: str = ""
    listeners: list[str] | None = None
    responses: dict[str, np.ndarray] | None = None
    rdm: np.ndarray | None = None  # human dissimilarity matrix [n_sounds, n_sounds], if given
    partial: bool = False  # True when cut down with --limit
    _fingerprint: str | None = dataclasses.field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.sound_ids)

    def audio(self, index: int) -> tuple[np.ndarray, int]:
        """Waveform (float32, `[samples]` or `[samples, channels]`) and its sample rate."""
        return self.load_audio(index)

    def fingerprint(self) -> str:
        """SHA-256 over ids, decoded audio samples, labels, judgments, responses and rdm.

        Audio is hashed as decoded float32 samples plus sample rate, so the same sounds give the
        same fingerprint whether generated in memory or read back from an exported folder.
        """
        if self._fingerprint is None:
            h = hashlib.sha256()
            h.update(_canonical({
                "ids": self.sound_ids, "dimensions": self.dimensions, "labels": self.labels,
                "listeners": self.listeners,
            }))
            for dim in sorted(self.judgments):
                h.update(dim.encode())
                h.update(np.ascontiguousarray(self.judgments[dim], dtype="<i8").tobytes())
            for dim in sorted(self.responses or {}):
                h.update(b"responses:" + dim.encode())
                h.update(np.ascontiguousarray(self.responses[dim], dtype="<i8").tobytes())
            if self.rdm is not None:
                h.update(b"rdm:" + np.ascontiguousarray(self.rdm, dtype="<f8").tobytes())
            for i, sid in enumerate(self.sound_ids):
                wave, sr = self.audio(i)
                h.update(f"{sid}:{sr}:{wave.shape}".encode())
                h.update(np.ascontiguousarray(wave, dtype="<f4").tobytes())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def head(self, n: int) -> "StimulusSet":
        """The first n sounds (for `--limit`), marked partial."""
        if n >= len(self):
            return self
        keep = slice(0, n)
        parent = self.load_audio
        return dataclasses.replace(
            self,
            sound_ids=self.sound_ids[keep],
            labels={k: v[keep] for k, v in self.labels.items()},
            judgments={k: v[keep] for k, v in self.judgments.items()},
            responses=None if self.responses is None else {k: v[:, keep] for k, v in self.responses.items()},
            rdm=None if self.rdm is None else self.rdm[keep, keep],
            load_audio=parent,
            partial=True,
            _fingerprint=None,
        )

    def describe(self) -> dict:
        """What a result file records about the set."""
        return {
            "name": self.name, "fingerprint": self.fingerprint(), "n_sounds": len(self),
            "partial": self.partial, "synthetic": self.synthetic, "source": self.source,
        }

    def counts_from_responses(self) -> dict[str, np.ndarray]:
        """Response counts implied by the per-listener responses."""
        if self.responses is None:
            raise ValueError("this stimulus set has no per-listener responses")
        out = {}
        for dim, resp in self.responses.items():
            k = len(self.dimensions[dim])
            counts = np.zeros((len(self), k), dtype=np.int64)
            for row in resp:
                ok = row >= 0
                np.add.at(counts, (np.nonzero(ok)[0], row[ok]), 1)
            out[dim] = counts
        return out


    def validate(self, where: str = "") -> "StimulusSet":
        """Check that every part agrees with the others; raise AudioprobeError naming what is wrong.

        Shared by every loader (folder, Hub, embedded), so all sources obey the same rules.
        Returns self, so a loader can end with `return StimulusSet(...).validate(where)`.
        """
        where = where or self.name or "stimulus set"
        n = len(self.sound_ids)
        if n == 0:
            raise AudioprobeError(f"{where}: no sounds.")
        dup = _first_duplicate(self.sound_ids)
        if dup is not None:
            raise AudioprobeError(f"{where}: sound id {dup!r} appears twice; ids must be unique.")
        for dim, cats in self.dimensions.items():
            if not cats or len(set(cats)) != len(cats):
                raise AudioprobeError(f"{where}: dimension {dim!r} needs a non-empty list of distinct categories.")
        if not self.dimensions and self.rdm is None:
            raise AudioprobeError(
                f"{where}: nothing to compare models with: declare judged dimensions (with judgments or "
                f"responses) or give a dissimilarity matrix (rdm.csv)."
            )
        for col, values in self.labels.items():
            if len(values) != n:
                raise AudioprobeError(f"{where}: label column {col!r} has {len(values)} values for {n} sounds.")
            if col in self.dimensions:
                bad = next((v for v in values if v not in self.dimensions[col]), None)
                if bad is not None:
                    sid = self.sound_ids[list(values).index(bad)]
                    raise AudioprobeError(
                        f"{where}: sound {sid!r} has {col} label {bad!r}, which is not one of the categories "
                        f"of dimension {col!r} ({', '.join(self.dimensions[col])}). A label column named like a "
                        f"dimension must use that dimension's categories; rename the column otherwise."
                    )
        if set(self.judgments) != set(self.dimensions):
            raise AudioprobeError(
                f"{where}: judgments are given for {sorted(self.judgments)} but the declared dimensions are "
                f"{sorted(self.dimensions)}."
            )
        for dim, counts in self.judgments.items():
            counts = np.asarray(counts)
            if counts.shape != (n, len(self.dimensions[dim])) or not np.issubdtype(counts.dtype, np.integer):
                raise AudioprobeError(
                    f"{where}: judgments of {dim!r} must be integer counts [{n} sounds, "
                    f"{len(self.dimensions[dim])} categories], got {counts.dtype} {counts.shape}."
                )
            if np.any(counts < 0):
                i, k = np.argwhere(counts < 0)[0]
                raise AudioprobeError(
                    f"{where}: negative count for sound {self.sound_ids[i]!r}, {dim!r} = "
                    f"{self.dimensions[dim][k]!r}; counts must be >= 0."
                )
            empty = np.nonzero(counts.sum(axis=1) == 0)[0]
            if len(empty):
                raise AudioprobeError(
                    f"{where}: sound {self.sound_ids[empty[0]]!r} has no judgments on dimension {dim!r}"
                    f"{f' (and {len(empty) - 1} more)' if len(empty) > 1 else ''}; every sound needs at least one."
                )
        if self.responses is not None:
            n_listeners = len(self.listeners or [])
            for dim, resp in self.responses.items():
                k = len(self.dimensions.get(dim, []))
                resp = np.asarray(resp)
                if dim not in self.dimensions or resp.shape != (n_listeners, n) or np.any(resp < -1) or np.any(resp >= k):
                    raise AudioprobeError(
                        f"{where}: responses of {dim!r} must be category indices (-1: no response) of shape "
                        f"[{n_listeners} listeners, {n} sounds]."
                    )
            implied = self.counts_from_responses()
            for dim in self.dimensions:
                if dim in implied and not np.array_equal(implied[dim], self.judgments[dim]):
                    raise AudioprobeError(f"{where}: judgments of {dim!r} disagree with the per-listener responses.")
        if self.rdm is not None:
            _check_rdm(np.asarray(self.rdm), n, where)
        return self


def _first_duplicate(items):
    seen = set()
    for x in items:
        if x in seen:
            return x
        seen.add(x)
    return None


def _check_rdm(mat: np.ndarray, n: int, where: str) -> None:
    if mat.shape != (n, n):
        raise AudioprobeError(f"{where}: the dissimilarity matrix must be [{n}, {n}] (one row per sound), got {mat.shape}.")
    if not np.all(np.isfinite(mat)):
        raise AudioprobeError(f"{where}: the dissimilarity matrix has empty, NaN or infinite entries.")
    if np.any(mat < 0):
        raise AudioprobeError(f"{where}: the dissimilarity matrix has negative entries; dissimilarities are >= 0.")
    if not np.allclose(mat, mat.T, rtol=1e-9, atol=1e-12):
        i, j = np.argwhere(~np.isclose(mat, mat.T, rtol=1e-9, atol=1e-12))[0]
        raise AudioprobeError(
            f"{where}: the dissimilarity matrix is not symmetric (row {i}, column {j}: {mat[i, j]} vs {mat[j, i]})."
        )
    if np.any(np.diag(mat) != 0):
        raise AudioprobeError(f"{where}: the dissimilarity matrix must have zeros on its diagonal.")


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


# ---------------------------------------------------------------------------------------------
# Resolution by name, path or Hub id


def resolve_dataset(spec: str) -> StimulusSet:
    """A stimulus set from a registered name, a folder path or `hf:ORG/NAME[@revision]`."""
    if spec.startswith("hf:"):
        from audioprobe.stimuli.hub import load_hub_dataset

        return load_hub_dataset(spec[3:])
    path = Path(spec).expanduser()
    if spec not in DATASETS and (path.exists() or os.sep in spec or spec.startswith(".")):
        return load_folder(path)
    if spec not in DATASETS:
        raise UnknownNameError(
            "dataset", spec, sorted(DATASETS),
            "Give a registered name (audioprobe-eval list datasets), a folder path, or hf:ORG/NAME.",
        )
    target = DATASETS[spec][0]
    module, func = target.split(":")
    import importlib

    return getattr(importlib.import_module(module), func)()


# ---------------------------------------------------------------------------------------------
# Folder format: dataset.yaml, sounds/, labels.csv, judgments.csv, [responses.csv], [rdm.csv]


def _read_csv(path: Path, required: list[str]) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
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


def _find_sound_files(folder: Path) -> dict[str, Path]:
    sounds = folder / "sounds"
    if not sounds.is_dir():
        raise AudioprobeError(f"{folder}: no 'sounds/' folder; put one audio file per sound there.")
    files: dict[str, Path] = {}
    for p in sorted(sounds.iterdir()):
        if p.name.startswith(".") or not p.is_file():
            continue
        if p.stem in files:
            raise AudioprobeError(
                f"{sounds}: two files for sound id {p.stem!r} ({files[p.stem].name}, {p.name}); keep one."
            )
        files[p.stem] = p
    return files


#: Shortest sound the harness accepts: one 25 ms analysis frame (the usual speech/audio frame, e.g.
#: the Kaldi filter bank's default frame length).
MIN_DURATION_S = 0.025


def check_audio_header(path: Path, sound_id: str, declared_rate: int | None = None) -> "sf._SoundFileInfo":
    """Validate a file from its header only (fast): readable, non-empty, long enough, rate as declared.

    Multi-channel files are allowed (the front end mixes them to mono) and so are mixed sample
    rates (the front end resamples), unless dataset.yaml declares one `sample_rate`.
    """
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        raise AudioprobeError(
            f"{path}: sound {sound_id!r} cannot be read as audio ({exc}). Use a format libsndfile reads "
            f"(WAV, FLAC, OGG, MP3) or remove the file."
        ) from None
    _check_length(path, sound_id, info.frames, info.samplerate)
    if declared_rate is not None and info.samplerate != declared_rate:
        raise AudioprobeError(
            f"{path}: sound {sound_id!r} is at {info.samplerate} Hz but dataset.yaml declares sample_rate "
            f"{declared_rate}; resample the file, or remove sample_rate from dataset.yaml (mixed rates are "
            f"allowed and resampled for each model)."
        )
    return info


def _check_length(where, sound_id: str, frames: int, rate: int) -> None:
    if frames <= 0:
        raise AudioprobeError(f"{where}: sound {sound_id!r} is empty; remove it or replace the file.")
    if frames < MIN_DURATION_S * rate:
        raise AudioprobeError(
            f"{where}: sound {sound_id!r} lasts {frames / rate * 1000:.1f} ms; the shortest allowed is "
            f"{MIN_DURATION_S * 1000:.0f} ms (one analysis frame)."
        )


def decode_audio(source, sound_id: str, where) -> tuple[np.ndarray, int]:
    """Decode a file path or file object with soundfile; check the samples. float32 `[samples(, channels)]`."""
    try:
        wave, sr = sf.read(source, dtype="float32", always_2d=False)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        raise AudioprobeError(
            f"{where}: sound {sound_id!r} cannot be decoded ({exc}). Use a format libsndfile reads "
            f"(WAV, FLAC, OGG, MP3)."
        ) from None
    _check_length(where, sound_id, wave.shape[0], sr)
    if not np.all(np.isfinite(wave)):
        raise AudioprobeError(f"{where}: sound {sound_id!r} contains NaN or infinite samples.")
    return wave, sr


def load_folder(folder: Path) -> StimulusSet:
    """Load and validate a stimulus-set folder; every error names the file and row at fault.

    Layout (docs/stimuli.md): dataset.yaml, sounds/<id>.<ext>, labels.csv, judgments.csv and/or
    responses.csv, optional rdm.csv. The sounds' order is the row order of labels.csv when it
    exists, else the sorted file names. Every audio header is checked here, so a bad file fails
    before any model runs; samples are decoded lazily, one sound at a time.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AudioprobeError(f"{folder}: not a folder. A stimulus set is a folder with dataset.yaml.")
    meta_path = folder / "dataset.yaml"
    if not meta_path.is_file():
        raise AudioprobeError(f"{folder}: no dataset.yaml; see docs/stimuli.md for the folder format.")
    try:
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise AudioprobeError(f"{meta_path}: not valid YAML ({exc}).") from None
    if not isinstance(meta, dict):
        raise AudioprobeError(f"{meta_path}: must be a mapping of keys to values.")
    allowed = {"name", "description", "license", "citation", "sample_rate", "dimensions", "synthetic"}
    bad = sorted(set(meta) - allowed)
    if bad:
        raise AudioprobeError(f"{meta_path}: unknown key(s) {', '.join(bad)}; allowed: {', '.join(sorted(allowed))}.")
    dims = meta.get("dimensions") or {}
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
    declared_rate = meta.get("sample_rate")
    if declared_rate is not None and (not isinstance(declared_rate, int) or declared_rate <= 0):
        raise AudioprobeError(f"{meta_path}: sample_rate must be a positive integer (Hz), got {declared_rate!r}.")

    files = _find_sound_files(folder)
    if not files:
        raise AudioprobeError(f"{folder / 'sounds'}: no audio files.")

    def unknown_sound(path: Path, line: int, sid: str) -> AudioprobeError:
        return AudioprobeError(
            f"{path}, line {line}: sound_id {sid!r} has no audio file in sounds/; add the file or remove the row."
        )

    labels: dict[str, list[str]] = {}
    sound_ids = list(files)
    labels_path = folder / "labels.csv"
    if labels_path.is_file():
        rows = _read_csv(labels_path, ["sound_id"])
        columns = [c for c in rows[0] if c != "sound_id"] if rows else []
        for line, row in enumerate(rows, start=2):
            if None in row:
                raise AudioprobeError(f"{labels_path}, line {line}: more cells than the header has columns.")
        order: list[str] = []
        for line, row in enumerate(rows, start=2):
            sid = row["sound_id"]
            if sid not in files:
                raise unknown_sound(labels_path, line, sid)
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
        sound_ids = order
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
    index = {sid: i for i, sid in enumerate(sound_ids)}
    paths = [files[s] for s in sound_ids]
    for sid, path in zip(sound_ids, paths):
        check_audio_header(path, sid, declared_rate)

    listeners, responses = None, None
    responses_path = folder / "responses.csv"
    if responses_path.is_file():
        listeners, responses = _read_responses(responses_path, dimensions, index, unknown_sound)

    judgments: dict[str, np.ndarray] = {d: np.zeros((len(sound_ids), len(c)), np.int64) for d, c in dimensions.items()}
    judgments_path = folder / "judgments.csv"
    if judgments_path.is_file():
        seen_rows: dict[tuple[str, str, str], int] = {}
        for line, row in enumerate(_read_csv(judgments_path, ["sound_id", "dimension", "category", "count"]), start=2):
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
            if not (raw.isascii() and raw.isdigit()):
                raise AudioprobeError(
                    f"{judgments_path}, line {line}: count {row['count']!r} must be a non-negative integer."
                )
            judgments[dim][index[sid], dimensions[dim].index(cat)] = int(raw)
    elif responses is None and dimensions:
        raise AudioprobeError(f"{folder}: dimensions are declared but there is no judgments.csv or responses.csv.")

    if responses is not None:
        from_responses = StimulusSet(
            name="", sound_ids=sound_ids, dimensions=dimensions, labels={}, judgments={},
            load_audio=lambda i: (np.zeros(1, np.float32), 1), responses=responses,
        ).counts_from_responses()
        if judgments_path.is_file():
            for d in dimensions:
                diff = np.argwhere(judgments[d] != from_responses[d])
                if len(diff):
                    i, k = diff[0]
                    raise AudioprobeError(
                        f"{judgments_path}: counts disagree with responses.csv for sound {sound_ids[i]!r}, "
                        f"dimension {d!r}, category {dimensions[d][k]!r} ({judgments[d][i, k]} vs "
                        f"{from_responses[d][i, k]}); fix one, or delete judgments.csv to derive counts."
                    )
        judgments = from_responses

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
        rdm = read_rdm(rdm_path, sound_ids)

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
        synthetic=bool(meta.get("synthetic", False)),
        source=str(folder.resolve()),
        listeners=listeners,
        responses=responses,
        rdm=rdm,
    ).validate(str(folder))


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


def read_rdm(path: Path, sound_ids: list[str]) -> np.ndarray:
    """A human dissimilarity matrix from rdm.csv, in the order of `sound_ids`.

    Layout: a header row `sound_id,<id 1>,...,<id n>`, then one row per sound starting with its id
    (rows and columns in any order, the same ids). Either every cell is filled (the matrix must be
    symmetric with a zero diagonal), or only the upper triangle (cells right of the diagonal, in
    the file's own order; cells on and below it left empty): it is mirrored and the diagonal is 0.
    """
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.reader(fh) if r]
    except OSError as exc:
        raise AudioprobeError(f"{path}: cannot read ({exc.strerror}).") from None
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
            if v == "":
                continue
            try:
                mat[i, j] = float(v)
            except ValueError:
                raise AudioprobeError(f"{path}, line {i + 2}, column {j + 2}: {v!r} is not a number.") from None
    upper = np.triu(np.ones((n, n), bool), k=1)
    if np.all(np.isnan(mat[~upper & ~np.eye(n, dtype=bool)])) and not np.all(np.isnan(mat[upper])):
        if np.any(np.isnan(mat[upper])):
            i, j = np.argwhere(np.isnan(mat) & upper)[0]
            raise AudioprobeError(f"{path}, line {i + 2}, column {j + 2}: empty cell in the upper triangle.")
        diag = np.diag(mat)
        mat = np.where(upper, mat, 0.0)
        mat = mat + mat.T
        if np.any(~np.isnan(diag) & (diag != 0)):
            raise AudioprobeError(f"{path}: the diagonal must be empty or 0.")
    elif np.any(np.isnan(mat)):
        i, j = np.argwhere(np.isnan(mat))[0]
        raise AudioprobeError(
            f"{path}, line {i + 2}, column {j + 2}: empty cell. Fill the whole matrix, or only the upper "
            f"triangle (cells right of the diagonal), leaving the rest empty."
        )
    _check_rdm(mat, n, str(path))
    pos = {s: i for i, s in enumerate(header)}
    order = [pos[s] for s in sound_ids]
    return mat[np.ix_(order, order)]


def export_folder(stimset: StimulusSet, folder: Path) -> Path:
    """Write a stimulus set in the folder format; loading it back gives the same fingerprint."""
    folder = Path(folder)
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
        with open(folder / "rdm.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["sound_id", *stimset.sound_ids])
            for sid, row in zip(stimset.sound_ids, stimset.rdm):
                w.writerow([sid, *(repr(float(v)) for v in row)])
    return folder
