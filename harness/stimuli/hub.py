"""Stimulus sets stored as datasets on the Hugging Face Hub: `hf:ORG/NAME[@revision]`.

The repository is fetched with the Hub client (`snapshot_download`, so the resolved commit is
known and recorded) and read with `datasets.load_dataset`; audio stays undecoded in the dataset
(`Audio(decode=False)`) and is decoded with soundfile, one sound at a time. Column convention
(docs/stimuli.md, "Datasets on the Hub"):

- `sound_id` (string, unique) and `audio` (an `Audio` feature, or a struct {bytes, path});
- `judgments`: struct of dimensions, each a struct of integer counts, one field per category, in
  category order: `{material: {wood: 3, glass: 14, ...}, hollowness: {...}}`;
- `responses` (optional): struct of dimensions, each a list with one entry per listener (same
  listener order in every row), a `ClassLabel` index, -1 for no response;
- `rdm` (optional): list of floats, the sound's row of a dissimilarity matrix in dataset order
  (null or NaN: a pair not rated; the diagonal is ignored), or instead `similarity`: the same for a
  similarity matrix, turned into dissimilarities as a folder's `rdm: similarity` is (the Hub has no
  place for dataset.yaml's keys, so the column's name says it);
- every other column holding strings, `ClassLabel`s, numbers or booleans is a label column
  (ClassLabels are turned into their names).
Dimensions and categories are declared by the features of `judgments` (or the ClassLabel names
of `responses`); nothing is hard-coded.
"""

from __future__ import annotations

import io
import logging
import os
import re
from pathlib import Path
from typing import Callable

import numpy as np

from audioprobe.errors import AudioprobeError
from audioprobe.metrics.responses import counts_from_responses
from audioprobe.stimuli.audio import check_audio_header, decode_audio
from audioprobe.stimuli.stimulus_set import StimulusSet, check_sound_id, normalise_rdm

log = logging.getLogger(__name__)

RESERVED = ("sound_id", "audio", "judgments", "responses", "rdm", "similarity")
_SPEC = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(@(?P<rev>[\w./-]+))?$")


def parse_spec(spec: str) -> tuple[str, str | None]:
    """`ORG/NAME[@revision]` -> (repo id, revision or None)."""
    m = _SPEC.match(spec)
    if not m:
        raise AudioprobeError(
            f"hf:{spec}: not a Hub dataset id; write hf:ORG/NAME or hf:ORG/NAME@REVISION (a 40-hex commit pins it)."
        )
    return m.group("repo"), m.group("rev")


def _snapshot(repo: str, revision: str | None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(snapshot_download(repo_id=repo, repo_type="dataset", revision=revision))
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise AudioprobeError(f"hf:{repo}: no such dataset or revision on the Hub ({exc.__class__.__name__}).") from None
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise AudioprobeError(
            f"hf:{repo}{'@' + revision if revision else ''}: cannot fetch the dataset ({exc}). Check the name and "
            f"your connection, or run once online so that it is cached (HF_HUB_OFFLINE=1 then reads the cache)."
        ) from None


def _label_values(feature, values: list) -> list[str] | None:
    from datasets import ClassLabel, Value

    if isinstance(feature, ClassLabel):
        return [feature.int2str(int(v)) if v is not None and v >= 0 else "" for v in values]
    if isinstance(feature, Value) and (feature.dtype in ("string", "large_string", "bool")
                                       or feature.dtype.startswith(("int", "uint", "float"))):
        return ["" if v is None else str(v) for v in values]
    return None


def _dimensions(features, where: str) -> dict[str, list[str]]:
    """Dimensions and their categories, from the `judgments` struct or the `responses` ClassLabels."""
    from datasets import ClassLabel, List, Sequence, Value

    dims: dict[str, list[str]] = {}
    if "judgments" in features:
        judged = features["judgments"]
        if not isinstance(judged, dict) or not all(
            isinstance(c, dict) and c and all(isinstance(v, Value) and v.dtype.startswith(("int", "uint")) for v in c.values())
            for c in judged.values()
        ):
            raise AudioprobeError(
                f"{where}: column 'judgments' must be a struct of dimensions, each a struct of integer counts "
                f"per category, e.g. {{material: {{wood: int64, glass: int64}}}}."
            )
        dims = {str(d): [str(c) for c in cats] for d, cats in judged.items()}
    if "responses" in features:
        resp = features["responses"]
        if not isinstance(resp, dict):
            raise AudioprobeError(f"{where}: column 'responses' must be a struct of dimensions, each a list of ClassLabel.")
        for d, feat in resp.items():
            inner = getattr(feat, "feature", None) if isinstance(feat, (List, Sequence)) else None
            if not isinstance(inner, ClassLabel):
                raise AudioprobeError(
                    f"{where}: responses of {d!r} must be a list of ClassLabel (one per listener, -1 = no response)."
                )
            if d in dims and dims[d] != list(inner.names):
                raise AudioprobeError(
                    f"{where}: the categories of {d!r} differ between 'judgments' ({', '.join(dims[d])}) and "
                    f"'responses' ({', '.join(inner.names)}); use the same categories in the same order."
                )
            dims.setdefault(str(d), list(inner.names))
    return dims


def _load_split(spec: str):
    """(repo, commit, snapshot folder, `where` for errors, the dataset): the repository fetched at its resolved
    commit, its train (or only) split, the required columns present, audio left undecoded."""
    try:
        import datasets
        from datasets import Audio
    except ImportError:
        raise AudioprobeError(f"hf:{spec} needs the `datasets` package: pip install 'audioprobe[hf]'.") from None

    repo, revision = parse_spec(spec)
    snapshot = _snapshot(repo, revision)
    commit = snapshot.name
    where = f"hf:{repo}@{commit[:12]}"
    try:
        loaded = datasets.load_dataset(str(snapshot))
    except Exception as exc:  # datasets raises many kinds (DataFilesNotFoundError, ValueError, ArrowInvalid...)
        raise AudioprobeError(f"{where}: datasets cannot read this repository ({exc.__class__.__name__}: {exc}).") from None
    splits = list(loaded)
    split = "train" if "train" in splits else (splits[0] if len(splits) == 1 else None)
    if split is None:
        raise AudioprobeError(f"{where}: several splits ({', '.join(splits)}) and none is 'train'; put the set in 'train'.")
    ds = loaded[split]
    missing = [c for c in ("sound_id", "audio") if c not in ds.column_names]
    if missing:
        raise AudioprobeError(
            f"{where}: missing column(s) {', '.join(missing)}; a stimulus set needs 'sound_id' and 'audio' "
            f"(see docs/stimuli.md)."
        )
    if isinstance(ds.features["audio"], Audio):
        ds = ds.cast_column("audio", Audio(decode=False))
    return repo, commit, snapshot, where, ds


def _sound_ids(table: dict, where: str) -> list[str]:
    """The `sound_id` column, every id checked."""
    ids = []
    for sid in table["sound_id"]:  # ids become file names on export: checked before anything else
        if sid is None:
            raise AudioprobeError(f"{where}: a row has no sound_id (row {len(ids)}); every sound needs an id.")
        ids.append(check_sound_id(str(sid), where))
    return ids


def _judgments(table: dict, dims: dict[str, list[str]], ids: list[str], where: str) -> dict[str, np.ndarray]:
    """The `judgments` column: per dimension, `[n_sounds, n_categories]` counts, every count given."""
    n = len(ids)
    judgments: dict[str, np.ndarray] = {}
    for d, cats in dims.items():
        counts = np.zeros((n, len(cats)), np.int64)
        for i, row in enumerate(table["judgments"]):
            per_dim = (row or {}).get(d) or {}
            for k, c in enumerate(cats):
                v = per_dim.get(c)
                if v is None:
                    raise AudioprobeError(f"{where}: sound {ids[i]!r} has no count for {d!r} = {c!r}.")
                counts[i, k] = int(v)
        judgments[d] = counts
    return judgments


def _responses(table: dict, features, dims: dict[str, list[str]], ids: list[str], where: str
               ) -> tuple[list[str], dict[str, np.ndarray]]:
    """The `responses` column: (listener ids, per dimension `[n_listeners, n_sounds]` category indices, -1 for no
    response), one entry per listener in every row."""
    n = len(ids)
    per_dim = {d: [(row or {}).get(d) or [] for row in table["responses"]] for d in features["responses"]}
    n_listeners = max((len(r) for rows in per_dim.values() for r in rows), default=0)
    responses = {}
    for d, rows in per_dim.items():
        arr = np.full((n_listeners, n), -1, np.int64)
        for i, r in enumerate(rows):
            if len(r) != n_listeners:
                raise AudioprobeError(
                    f"{where}: sound {ids[i]!r} has {len(r)} responses on {d!r}, others {n_listeners}; "
                    f"give one entry per listener (-1 for no response)."
                )
            arr[:, i] = [-1 if v is None else int(v) for v in r]
        bad = np.argwhere((arr < -1) | (arr >= len(dims[d])))
        if len(bad):
            j, i = bad[0]
            raise AudioprobeError(
                f"{where}: sound {ids[i]!r}, listener {j}: response {arr[j, i]} on {d!r} is not a category "
                f"index (0 to {len(dims[d]) - 1}, or -1 for no response)."
            )
        responses[d] = arr
    listeners = [f"L{j:02d}" for j in range(n_listeners)]
    return listeners, responses


def _labels(column_names: list[str], features, table: dict, where: str) -> dict[str, list[str]]:
    """Every column that is not reserved and holds strings, ClassLabels, numbers or booleans, as strings; any
    other column is ignored with a warning."""
    labels: dict[str, list[str]] = {}
    for col in column_names:
        if col in RESERVED:
            continue
        values = _label_values(features[col], table[col])
        if values is None:
            log.warning("%s: column %r (%s) is neither a label nor a reserved column; ignored.", where, col, features[col])
            continue
        labels[col] = values
    return labels


def _rdm(table: dict, ids: list[str], where: str) -> np.ndarray | None:
    """The `rdm` (or `similarity`) column, one row per sound, as a normalised dissimilarity matrix; None without."""
    n = len(ids)
    rdm = None
    if "rdm" in table and "similarity" in table:
        raise AudioprobeError(f"{where}: columns 'rdm' and 'similarity' both given; keep one matrix.")
    for column, kind in (("rdm", "dissimilarity"), ("similarity", "similarity")):
        if column not in table:
            continue
        rows = table[column]
        if any(r is None or len(r) != n for r in rows):
            raise AudioprobeError(f"{where}: every {column!r} entry must be a list of {n} numbers (the sound's row).")
        try:
            rdm = np.array(rows, dtype=np.float64)  # None -> NaN: a pair not rated
        except (TypeError, ValueError):
            raise AudioprobeError(f"{where}: column {column!r} must hold numbers (or null for a pair not rated).") from None
        rdm = normalise_rdm(rdm, f"{where}, column {column!r}", kind,
                            cell=lambda i, j: f"sound {ids[i]!r}, entry {j} ({ids[j]!r})")
    return rdm


def _audio_sources(ds, snapshot: Path, ids: list[str], where: str) -> Callable[[int], object]:
    """A function giving sound i's audio as soundfile reads it: its embedded bytes, or a file of the downloaded
    repository (never a path the data names outside it)."""
    audio_column = ds.select_columns(["audio"])

    def audio_source(i: int):
        cell = audio_column[i]["audio"] or {}
        if cell.get("bytes"):
            return io.BytesIO(cell["bytes"])
        path = cell.get("path")
        if path:
            # only a file of the downloaded repository: never a path the data names elsewhere
            candidate = Path(os.path.normpath(Path(snapshot, path)))
            inside = os.path.normpath(snapshot)
            if os.path.commonpath([inside, candidate]) != inside:
                raise AudioprobeError(f"{where}: sound {ids[i]!r}: its audio path {path!r} is outside the dataset's "
                                      f"repository; audio must be embedded bytes or a file of the repository.")
            if candidate.is_file():
                return candidate
        raise AudioprobeError(f"{where}: sound {ids[i]!r} has no audio bytes and no readable audio path.")

    return audio_source


def load_hub_dataset(spec: str) -> StimulusSet:
    """The stimulus set of `hf:ORG/NAME[@revision]` (the train split, or the only split)."""
    repo, commit, snapshot, where, ds = _load_split(spec)
    features = ds.features
    dims = _dimensions(features, where)
    table = ds.remove_columns(["audio"]).to_dict()
    ids = _sound_ids(table, where)

    judgments = _judgments(table, dims, ids, where) if "judgments" in table else {}
    responses = listeners = None
    if "responses" in table:
        listeners, responses = _responses(table, features, dims, ids, where)
        for d in dims:
            if d not in judgments and d in responses:
                judgments[d] = counts_from_responses(responses[d], len(dims[d]))
    labels = _labels(ds.column_names, features, table, where)
    rdm = _rdm(table, ids, where)
    audio_source = _audio_sources(ds, snapshot, ids, where)

    for i, sid in enumerate(ids):  # headers only: a bad sound fails now, not in the middle of a model run
        check_audio_header(audio_source(i), sid, where)

    def load_audio(i: int) -> tuple[np.ndarray, int]:
        return decode_audio(audio_source(i), ids[i], where)

    return StimulusSet(
        name=repo, sound_ids=ids, dimensions=dims, labels=labels, judgments=judgments, load_audio=load_audio,
        description=str(ds.info.description or ""), license=str(ds.info.license or ""),
        citation=str(ds.info.citation or ""), synthetic=False, source=f"hf:{repo}@{commit}",
        listeners=listeners, responses=responses, rdm=rdm,
    ).validate(where)
