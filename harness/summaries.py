"""What a report needs beyond scores: the stimulus set's summary and the RDMs themselves.

Result files hold scores; two figures need more. Figure A1 (the paper's appendix A) correlates the
set's target RDMs with each other, and the RDM heatmaps show a model's RDM beside the human target.
The runner therefore writes, per stimulus set, beside the model folders:

- `DIR/<set>-<fp8>/dataset.json`: the set summary (`SetSummary`, validated like a result file):
  per-sound categories (physical labels and modal responses) to order sounds by, and the
  correlation matrices between the set's standard target RDMs;
- `DIR/<set>-<fp8>/rdms/<sha256>.npy`: condensed RDMs (float32), named by the SHA-256 of the
  file's bytes. Content addressing makes them write-once and safe to share: the same target RDM
  of ten models is one file, two runs writing it at once write the same bytes, a result's
  reference can never point at a stale array, and a damaged file is detected on read. An RSA
  result's `scores.rdms` names the headline layer's RDM and the target's (tasktypes/rsa/rdms.py
  decides what is kept, and keeps nothing for very large sets).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Annotated, Any, TypedDict

import numpy as np

from audioprobe.errors import AudioprobeError
from audioprobe.files import atomic_write_bytes
from audioprobe.results import SUMMARY_FILE, load_json_strict, validate_file, write_json_file

SUMMARY_VERSION = 1
RDM_FOLDER = "rdms"


# ---------------------------------------------------------------------------------------------
# Content-addressed RDMs

def rdm_bytes(condensed: np.ndarray) -> tuple[bytes, str]:
    """The `.npy` bytes of a condensed RDM (float32, no pickle) and their SHA-256."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(condensed, dtype=np.float32), allow_pickle=False)
    data = buffer.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def rdm_path(set_dir: Path, sha256: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise AudioprobeError(f"{set_dir}: {sha256!r} is not a SHA-256 RDM reference.")
    return Path(set_dir) / RDM_FOLDER / f"{sha256}.npy"


def store_rdms(set_dir: Path, files: dict[str, bytes]) -> None:
    """Write `sha256 -> npy bytes` into the set's RDM folder (files already there are left as they are)."""
    for sha, data in files.items():
        path = rdm_path(set_dir, sha)
        if not path.is_file():
            atomic_write_bytes(path, lambda fh, d=data: fh.write(d))


def load_rdm(set_dir: Path, sha256: str) -> np.ndarray:
    """A stored condensed RDM, its SHA-256 checked; AudioprobeError names the file when it is missing or damaged."""
    path = rdm_path(set_dir, sha256)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AudioprobeError(f"{path}: RDM file missing or unreadable ({exc.strerror}); rerun the task with "
                              f"--overwrite to write it again.") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise AudioprobeError(f"{path}: RDM file damaged (its SHA-256 differs from its name); delete it and rerun "
                              f"the task with --overwrite.")
    return np.load(io.BytesIO(data), allow_pickle=False)


# ---------------------------------------------------------------------------------------------
# The set summary

class TargetEntry(TypedDict):
    name: Annotated[str, "short label, e.g. 'material · KL'"]
    kind: Annotated[str, "kl (symmetric KL of response distributions, smoothing 0.5), modal (0/1 between modal "
                         "responses), physical (0/1 between labels) or rdm (the set's rdm.csv)"]
    dimension: Annotated[str | None, "the judged dimension or label column (null: rdm)"]


class TargetCorrelations(TypedDict):
    targets: Annotated[list[TargetEntry], "the set's standard target RDMs, in matrix order"]
    pearson: Annotated[list[list[float | None]], "Pearson correlations of the targets' upper triangles, over the "
                                                 "pairs present in both (null: fewer than 3, or a constant target)"]
    spearman: Annotated[list[list[float | None]], "Spearman correlations of the same"]
    n_pairs: Annotated[int, "pairs of sounds (an rdm.csv may miss some: its correlations use the pairs it has)"]


class SetSummary(TypedDict):
    summary_version: Annotated[int, f"version of this file's layout ({SUMMARY_VERSION})"]
    dataset: Annotated[dict[str, Any], "the set as result files describe it (name, fingerprint, n_sounds, ...)"]
    sound_ids: Annotated[list[str], "the sounds, in the set's order (the order of every stored RDM)"]
    labels: Annotated[dict[str, list[str]], "physical label column -> per-sound value ('' where missing)"]
    modal: Annotated[dict[str, list[str]], "judged dimension -> per-sound modal response ('' where tied or unjudged)"]
    correlations: Annotated[TargetCorrelations, "figure A1: how the set's target RDMs agree with each other"]


def _corr(x: np.ndarray, y: np.ndarray, ranked: bool = False) -> float | None:
    """Pearson (or Spearman: `ranked`) correlation over the pairs present in both (an rdm.csv may miss
    some); None where fewer than 3 pairs are shared or either side is constant there."""
    from scipy.stats import rankdata

    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if ranked:  # values rounded to 12 decimals: equal count patterns give KL values equal up to rounding
        x, y = rankdata(np.round(x, 12)), rankdata(np.round(y, 12))  # (1e-16), which must tie
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def summarise(stimset) -> dict[str, Any]:
    """The summary of a stimulus set: per-sound categories and the correlations between its standard targets
    (per judged dimension: KL and modal; per label column: physical; the set's rdm.csv)."""
    from audioprobe.metrics import geometry, probing, targets

    smoothing = targets.DEFAULT_SMOOTHING
    entries, vectors = [], []

    def physical(column: str) -> None:
        entries.append({"name": f"{column} · physical", "kind": "physical", "dimension": column})
        vectors.append(geometry.label_rdm(stimset.labels[column]))

    for dim, counts in stimset.judgments.items():  # per dimension: perceived, then physical where labelled
        entries.append({"name": f"{dim} · KL", "kind": "kl", "dimension": dim})
        vectors.append(geometry.symmetric_kl_rdm(counts, smoothing))
        entries.append({"name": f"{dim} · modal", "kind": "modal", "dimension": dim})
        vectors.append(geometry.modal_rdm(counts))
        if dim in stimset.labels:
            physical(dim)
    for column in stimset.labels:
        if column not in stimset.judgments:
            physical(column)
    if stimset.rdm is not None and np.isfinite(stimset.rdm[np.triu_indices(len(stimset), 1)]).any():
        entries.append({"name": "rdm.csv", "kind": "rdm", "dimension": None})
        iu = np.triu_indices(len(stimset), 1)
        vectors.append(np.asarray(stimset.rdm, dtype=np.float64)[iu])  # missing pairs stay NaN
    k = len(vectors)
    pearson = [[_corr(vectors[i], vectors[j]) for j in range(k)] for i in range(k)]
    spearman = [[_corr(vectors[i], vectors[j], ranked=True) for j in range(k)] for i in range(k)]
    modal = {dim: [m or "" for m in probing.modal_labels(counts, stimset.dimensions[dim])]
             for dim, counts in stimset.judgments.items()}
    n = len(stimset)
    return {
        "summary_version": SUMMARY_VERSION,
        "dataset": stimset.describe(),
        "sound_ids": list(stimset.sound_ids),
        "labels": {c: [str(v) for v in vals] for c, vals in stimset.labels.items()},
        "modal": modal,
        "correlations": {"targets": entries, "pearson": pearson, "spearman": spearman, "n_pairs": n * (n - 1) // 2},
    }


def validate_summary(data: Any, where: str) -> dict[str, Any]:
    return validate_file(data, SetSummary, "summary_version", SUMMARY_VERSION, where, "set summary",
                         "Rerun audioprobe-eval on the set to write it again.")


def write_summary(set_dir: Path, summary: dict[str, Any]) -> Path:
    path = Path(set_dir) / SUMMARY_FILE
    write_json_file(path, validate_summary(summary, str(path)))
    return path


def read_summary(set_dir: Path) -> dict[str, Any] | None:
    """The set summary beside the model folders, or None where there is none (runs of older versions)."""
    path = Path(set_dir) / SUMMARY_FILE
    if not path.is_file():
        return None
    try:
        data = load_json_strict(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AudioprobeError(f"{path}: unreadable set summary ({exc}); rerun audioprobe-eval on the set.") from None
    return validate_summary(data, str(path))
