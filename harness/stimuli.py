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
        "audioprobe.impacts:load_impacts",
        "246 synthetic impact sounds (modal synthesis) judged by a simulated listener panel. "
        "SYNTHETIC: not human data.",
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


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


# ---------------------------------------------------------------------------------------------
# Resolution by name, path or Hub id


def resolve_dataset(spec: str) -> StimulusSet:
    """A stimulus set from a registered name, a folder path or `hf:ORG/NAME[@revision]`."""
    if spec.startswith("hf:"):
        from audioprobe.hub_datasets import load_hub_dataset

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


def _read_audio_file(path: Path) -> tuple[np.ndarray, int]:
    try:
        wave, sr = sf.read(path, dtype="float32", always_2d=False)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        raise AudioprobeError(
            f"{path}: cannot decode audio ({exc}). Use a format libsndfile reads (WAV, FLAC, OGG, MP3)."
        ) from None
    return wave, sr


def load_folder(folder: Path) -> StimulusSet:
    """Load and validate a stimulus-set folder; every error names the file and row at fault."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AudioprobeError(f"{folder}: not a folder. A stimulus set is a folder with dataset.yaml.")
    meta_path = folder / "dataset.yaml"
    if not meta_path.is_file():
        raise AudioprobeError(f"{folder}: no dataset.yaml; see the README's stimulus-set folder format.")
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

    files = _find_sound_files(folder)
    sound_ids = list(files)
    if not sound_ids:
        raise AudioprobeError(f"{folder / 'sounds'}: no audio files.")
    index = {sid: i for i, sid in enumerate(sound_ids)}

    def unknown_sound(path: Path, line: int, sid: str) -> AudioprobeError:
        return AudioprobeError(
            f"{path}, line {line}: sound_id {sid!r} has no audio file in sounds/; add the file or remove the row."
        )

    labels: dict[str, list[str]] = {}
    labels_path = folder / "labels.csv"
    if labels_path.is_file():
        rows = _read_csv(labels_path, ["sound_id"])
        columns = [c for c in rows[0] if c != "sound_id"] if rows else []
        labels = {c: [""] * len(sound_ids) for c in columns}
        seen: set[str] = set()
        for line, row in enumerate(rows, start=2):
            sid = row["sound_id"]
            if sid not in index:
                raise unknown_sound(labels_path, line, sid)
            if sid in seen:
                raise AudioprobeError(f"{labels_path}, line {line}: sound_id {sid!r} appears twice.")
            seen.add(sid)
            for c in columns:
                labels[c][index[sid]] = row[c]
        missing = [s for s in sound_ids if s not in seen]
        if missing:
            raise AudioprobeError(
                f"{labels_path}: no row for sound(s) {', '.join(missing[:5])}"
                f"{' ...' if len(missing) > 5 else ''}; every sound needs its labels."
            )

    listeners, responses = None, None
    responses_path = folder / "responses.csv"
    if responses_path.is_file():
        listeners, responses = _read_responses(responses_path, dimensions, index, unknown_sound)

    judgments: dict[str, np.ndarray] = {d: np.zeros((len(sound_ids), len(c)), np.int64) for d, c in dimensions.items()}
    judgments_path = folder / "judgments.csv"
    if judgments_path.is_file():
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
            try:
                count = int(row["count"])
                if str(count) != row["count"].strip():
                    raise ValueError
            except ValueError:
                count = -1
            if count < 0:
                raise AudioprobeError(
                    f"{judgments_path}, line {line}: count {row['count']!r} must be a non-negative integer."
                )
            judgments[dim][index[sid], dimensions[dim].index(cat)] += count
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
                f"{folder}: sound {sound_ids[empty[0]]!r} has no judgments on dimension {d!r}"
                f"{f' (and {len(empty) - 1} more)' if len(empty) > 1 else ''}; every sound needs at least one."
            )

    rdm = None
    rdm_path = folder / "rdm.csv"
    if rdm_path.is_file():
        rdm = _read_rdm(rdm_path, sound_ids)

    paths = [files[s] for s in sound_ids]

    def load_audio(i: int) -> tuple[np.ndarray, int]:
        return _checked_audio(paths[i], sound_ids[i])

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
    )


#: Shortest sound the harness accepts: one 25 ms analysis frame.
MIN_DURATION_S = 0.025


def _checked_audio(path: Path, sound_id: str) -> tuple[np.ndarray, int]:
    wave, sr = _read_audio_file(path)
    if wave.size == 0:
        raise AudioprobeError(f"{path}: sound {sound_id!r} is empty; remove it or replace the file.")
    if wave.shape[0] < MIN_DURATION_S * sr:
        raise AudioprobeError(
            f"{path}: sound {sound_id!r} lasts {wave.shape[0] / sr * 1000:.1f} ms; the shortest allowed is "
            f"{MIN_DURATION_S * 1000:.0f} ms (one analysis frame)."
        )
    if not np.all(np.isfinite(wave)):
        raise AudioprobeError(f"{path}: sound {sound_id!r} contains NaN or infinite samples.")
    return wave, sr


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


def _read_rdm(path: Path, sound_ids: list[str]) -> np.ndarray:
    """Square matrix with sound ids as header and first column."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise AudioprobeError(f"{path}: empty.")
    header = rows[0][1:]
    if sorted(header) != sorted(sound_ids):
        raise AudioprobeError(f"{path}: the header must list exactly the sound ids of sounds/.")
    pos = {s: i for i, s in enumerate(header)}
    try:
        mat = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    except ValueError as exc:
        raise AudioprobeError(f"{path}: non-numeric entry ({exc}).") from None
    if mat.shape != (len(header), len(header)):
        raise AudioprobeError(f"{path}: must be a square matrix, got {mat.shape}.")
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
