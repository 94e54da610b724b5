"""The stimulus-set model: sounds, their physical labels and the human judgments of them.

One class (`StimulusSet`) whatever the source: the embedded synthetic `impacts` set
(`synthetic/impacts.py`), a folder in the documented format (`folder/`, docs/stimuli.md) or a
dataset on the Hub (`hub.py`). Audio is loaded lazily, one sound at a time, through the loader
function each source provides; everything else is small, loaded up front and checked by
`validate`, the one set of rules every source obeys. This module knows no source.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from typing import Callable

import numpy as np

from audioprobe.errors import AudioprobeError
from audioprobe.metrics.responses import counts_from_responses

AudioLoader = Callable[[int], "tuple[np.ndarray, int]"]

log = logging.getLogger(__name__)

#: What a given matrix holds (`rdm:` in dataset.yaml): similarities are turned into dissimilarities.
RDM_KINDS = ("dissimilarity", "similarity")


@dataclasses.dataclass
class StimulusSet:
    """An ordered list of sounds with labels and human judgments (see DESIGN.md, "Stimulus set").

    judgments[dim] is an int64 array `[n_sounds, n_categories]` of response counts, categories in
    the order of `dimensions[dim]`. responses[dim], when per-listener data exist, is an int64 array
    `[n_listeners, n_sounds]` of category indices (-1: that listener did not judge that sound).
    rdm is a symmetric dissimilarity matrix with a zero diagonal; NaN marks a pair nobody rated (every
    statistic then uses the pairs present). listener_rdms holds one such matrix per listener
    (folder `rdm/`), for the noise ceiling of rdm targets.
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
    rdm: np.ndarray | None = None  # human dissimilarity matrix [n_sounds, n_sounds], if given (NaN: missing)
    listener_rdms: dict[str, np.ndarray] | None = None  # listener -> their own [n_sounds, n_sounds] matrix
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
                h.update(b"rdm:" + _rdm_bytes(self.rdm))
            for who in sorted(self.listener_rdms or {}):  # absent: nothing added (older fingerprints stand)
                h.update(b"listener_rdm:" + who.encode() + b":" + _rdm_bytes(self.listener_rdms[who]))
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
            listener_rdms=None if self.listener_rdms is None else {k: v[keep, keep] for k, v in
                                                                   self.listener_rdms.items()},
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
        """Response counts implied by the per-listener responses, per dimension
        (`audioprobe.metrics.responses.counts_from_responses` on each)."""
        if self.responses is None:
            raise ValueError("this stimulus set has no per-listener responses")
        return {dim: counts_from_responses(resp, len(self.dimensions[dim])) for dim, resp in self.responses.items()}

    def validate(self, where: str = "") -> "StimulusSet":
        """Check that every part agrees with the others; raise AudioprobeError naming what is wrong.

        Shared by every loader (folder, Hub, embedded), so all sources obey the same rules.
        Returns self, so a loader can end with `return StimulusSet(...).validate(where)`.
        """
        where = where or self.name or "stimulus set"
        n = len(self.sound_ids)
        if n == 0:
            raise AudioprobeError(f"{where}: no sounds.")
        for sid in self.sound_ids:
            check_sound_id(sid, where)
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
        self._check_labels(where, n)
        self._check_judgments(where, n)
        if self.responses is not None:
            self._check_responses(where, n)
        if self.rdm is not None:
            check_rdm(np.asarray(self.rdm), n, where)
        if self.listener_rdms is not None:
            if not self.listener_rdms:
                raise AudioprobeError(f"{where}: per-listener matrices are given but there are none.")
            for who, mat in self.listener_rdms.items():
                check_rdm(np.asarray(mat), n, f"{where}: listener {who!r}")
        return self

    def _check_labels(self, where: str, n: int) -> None:
        """Every label column has one value per sound; one named like a dimension uses its categories (a part of
        `validate`)."""
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

    def _check_judgments(self, where: str, n: int) -> None:
        """Judgments: one integer count per (sound, category) of each declared dimension, none negative, every
        sound judged at least once (a part of `validate`)."""
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

    def _check_responses(self, where: str, n: int) -> None:
        """Per-listener responses: category indices of the right shape, agreeing with the counts (a part of
        `validate`)."""
        n_listeners = len(self.listeners or [])
        for dim, resp in self.responses.items():
            k = len(self.dimensions.get(dim, []))
            resp = np.asarray(resp)
            if (dim not in self.dimensions or resp.shape != (n_listeners, n) or not np.issubdtype(resp.dtype, np.integer)
                    or np.any(resp < -1) or np.any(resp >= k)):
                raise AudioprobeError(
                    f"{where}: responses of {dim!r} must be category indices (-1: no response) of shape "
                    f"[{n_listeners} listeners, {n} sounds]."
                )
        implied = self.counts_from_responses()
        for dim in self.dimensions:
            if dim in implied and not np.array_equal(implied[dim], self.judgments[dim]):
                raise AudioprobeError(f"{where}: judgments of {dim!r} disagree with the per-listener responses.")


#: Longest sound id: it becomes a file name (`<id>.wav`), and file names stop at 255 bytes.
MAX_SOUND_ID_BYTES = 200


def check_sound_id(sid, where: str) -> str:
    """A sound id must be a safe file stem: exporting writes `sounds/<id>.wav`, so an id must never
    name a path (no separator, no `..`, not absolute), a hidden file or a control character.

    Every source (folder, Hub, embedded) goes through `StimulusSet.validate`, hence through this.
    """
    problem = None
    if not isinstance(sid, str) or not sid:
        problem = "is empty" if sid == "" else f"is a {type(sid).__name__}, not a string"
    elif "/" in sid or "\\" in sid:
        problem = "contains a path separator ('/' or '\\')"
    elif sid.startswith("."):
        problem = "starts with '.' (a hidden file, or '..': the parent folder)"
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in sid):
        problem = "contains a control character"
    elif sid != sid.strip():
        problem = "starts or ends with white space"
    elif len(sid.encode("utf-8", "surrogatepass")) > MAX_SOUND_ID_BYTES:
        problem = f"is longer than {MAX_SOUND_ID_BYTES} bytes"
    if problem:
        raise AudioprobeError(
            f"{where}: sound id {sid!r} {problem}; a sound id must be a plain file name stem (letters, digits, "
            f"'-', '_', '.' inside), since the set is written as sounds/<id>.wav. Rename the sound."
        )
    return sid


def _first_duplicate(items):
    seen = set()
    for x in items:
        if x in seen:
            return x
        seen.add(x)
    return None


def check_rdm(mat: np.ndarray, n: int, where: str) -> None:
    """A dissimilarity matrix must be [n, n], non-negative, symmetric, with a zero diagonal; NaN marks
    a missing pair (symmetrically), and at least one pair must be present. Loaders first bring a
    matrix as it comes into this form with `normalise_rdm`; this is the rule every source obeys."""
    if mat.shape != (n, n):
        raise AudioprobeError(f"{where}: the dissimilarity matrix must be [{n}, {n}] (one row per sound), got {mat.shape}.")
    if np.any(np.isinf(mat)):
        raise AudioprobeError(f"{where}: the dissimilarity matrix has infinite entries.")
    if np.any(mat < 0):
        raise AudioprobeError(f"{where}: the dissimilarity matrix has negative entries; dissimilarities are >= 0.")
    same = np.isclose(mat, mat.T, rtol=1e-9, atol=1e-12) | (np.isnan(mat) & np.isnan(mat.T))
    if not np.all(same):
        i, j = np.argwhere(~same)[0]
        raise AudioprobeError(
            f"{where}: the dissimilarity matrix is not symmetric (row {i}, column {j}: {mat[i, j]} vs {mat[j, i]})."
        )
    if np.any(np.diag(mat) != 0):
        raise AudioprobeError(f"{where}: the dissimilarity matrix must have zeros on its diagonal.")
    if n > 1 and not np.any(np.isfinite(mat[~np.eye(n, dtype=bool)])):
        raise AudioprobeError(f"{where}: the dissimilarity matrix has no value off its diagonal.")


def _position(i: int, j: int) -> str:
    return f"row {i}, column {j}"


def normalise_rdm(mat: np.ndarray, where: str, kind: str = "dissimilarity",
                  cell: Callable[[int, int], str] = _position) -> np.ndarray:
    """A published matrix as it comes -> the form `check_rdm` accepts (a new array).

    - NaN cells are missing pairs; a cell missing on one side of the diagonal only takes the value
      of its mirror cell.
    - The diagonal is ignored (set to 0): published matrices often hold self-ratings there, or
      similarities of a sound with itself. A non-zero one is logged as a warning naming `where`.
    - Off the diagonal the matrix must be symmetric (rtol 1e-9); an asymmetric matrix (A-B rated
      apart from B-A) is refused: average it with its transpose yourself if that is what you mean.
    - kind "similarity": d = max(s) - s, max over the present off-diagonal similarities (rank order
      reversed, the most similar pair at 0, scale kept). Dissimilarities must be >= 0.
    cell(i, j) names a cell in errors (a file's line and column for a folder).
    """
    if kind not in RDM_KINDS:
        raise AudioprobeError(f"{where}: rdm must be one of {', '.join(RDM_KINDS)}, got {kind!r}.")
    m = np.array(mat, dtype=np.float64)
    n = m.shape[0]
    if m.ndim != 2 or m.shape != (n, n):
        raise AudioprobeError(f"{where}: the matrix must be square (one row per sound), got {m.shape}.")
    if np.any(np.isinf(m)):
        i, j = np.argwhere(np.isinf(m))[0]
        raise AudioprobeError(f"{where}, {cell(i, j)}: {m[i, j]} is not a finite number.")
    off = ~np.eye(n, dtype=bool)
    one_sided = np.isnan(m) & ~np.isnan(m.T) & off
    m[one_sided] = m.T[one_sided]
    differ = off & ~np.isnan(m) & ~np.isclose(m, m.T, rtol=1e-9, atol=1e-12)
    if np.any(differ):
        i, j = np.argwhere(differ)[0]
        raise AudioprobeError(
            f"{where}: the {kind} matrix is not symmetric ({cell(i, j)}: {float(m[i, j])!r} vs {cell(j, i)}: {float(m[j, i])!r}); "
            f"only the diagonal may differ. If A-B and B-A were rated apart, average the matrix with its transpose "
            f"(or give the upper triangle only).")
    diag = np.diag(m)
    if np.any(np.isfinite(diag) & (diag != 0)):
        k = int(np.flatnonzero(np.isfinite(diag) & (diag != 0))[0])
        # a similarity matrix's diagonal (self-similarity) is expected: said at info level only
        log.log(logging.WARNING if kind == "dissimilarity" else logging.INFO,
                "%s: the diagonal is not zero (%s: %r); it is ignored (set to 0): a sound's dissimilarity with "
                "itself is not data.", where, cell(k, k), float(diag[k]))
    values = m[off & ~np.isnan(m)]
    if not values.size:
        raise AudioprobeError(f"{where}: the matrix has no value off its diagonal.")
    if kind == "similarity":
        m = values.max() - m
    elif np.any(values < 0):
        i, j = np.argwhere(off & (m < 0))[0]
        raise AudioprobeError(
            f"{where}: the dissimilarity matrix has negative entries ({cell(i, j)}: {m[i, j]!r}); dissimilarities "
            f"are >= 0. For similarities declare `rdm: similarity` in dataset.yaml.")
    np.fill_diagonal(m, 0.0)
    return m


def _rdm_bytes(mat: np.ndarray) -> bytes:
    """A matrix's bytes for the fingerprint, every NaN the same (a missing cell is a missing cell)."""
    m = np.asarray(mat, dtype="<f8")
    return np.ascontiguousarray(np.where(np.isnan(m), np.nan, m), dtype="<f8").tobytes()


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
