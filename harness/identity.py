"""The run identity: one typed key per (model, task, stimulus set) holding everything that can
change a number, built in one place.

A result is reused only when its stored `run_key` equals the key of the run asked for; the
activation cache key is derived from the part of the same key that changes activations. Nothing
else decides reuse, so an ingredient added here is honoured everywhere at once.

What is deliberately not in the key, and why:
- the device (cpu / cuda): for a given precision it changes float rounding only, and the
  validator checks that a wrapper's output does not depend on anything else; it is recorded in
  every result (`device`) so a reader can see it;
- the batch size: padding never reaches a sound's activations (pooling reads valid frames only,
  and the validator checks batch invariance);
- package versions: recorded in every result; a change of method is a task `version` bump.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audioprobe.files import atomic_write_bytes, default_cache_dir, sha256_file

if TYPE_CHECKING:
    from audioprobe.models.base import AudioModel

#: Version of the run-key layout; part of every key, so a change of layout never reuses results.
#: (It is the result schema version: results.py imports it from here.)
SCHEMA_VERSION = 5


# ---------------------------------------------------------------------------------------------
# Content hashes of local checkpoints

_sha256_file = sha256_file  # the one file hash (files.py); a name here so tests can count calls


class ChecksumIndex:
    """SHA-256 of local files, remembered by (absolute path, size, modification time).

    Hashing a 400 MB checkpoint takes about a second; the index makes a rerun free. An entry is
    used only while the file's size and time stamp are unchanged, so a file rewritten in place
    is hashed again. The index is a small JSON file in the cache folder, written atomically;
    when it cannot be read or written, hashes are simply recomputed.
    """

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else default_cache_dir() / "sha256-index.json"
        self._entries: dict[str, list] | None = None

    def _load(self) -> dict[str, list]:
        if self._entries is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._entries = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._entries = {}
        return self._entries

    def sha256(self, path: Path) -> str:
        path = Path(path).resolve()
        st = path.stat()
        entries = self._load()
        known = entries.get(str(path))
        if isinstance(known, list) and known[:2] == [st.st_size, st.st_mtime_ns] and len(known) == 3:
            return known[2]
        digest = _sha256_file(path)
        entries[str(path)] = [st.st_size, st.st_mtime_ns, digest]
        try:
            text = json.dumps(entries, sort_keys=True).encode()
            atomic_write_bytes(self.path, lambda fh: fh.write(text))
        except OSError:
            pass  # a read-only cache folder only costs a recomputation next time
        return digest


def content_sha256(path: str | Path, index: ChecksumIndex | None = None) -> str:
    """SHA-256 of a file's bytes, or of a folder: of the sorted (relative path, file SHA-256) list.

    A folder (a `save_pretrained` directory) is hashed file by file, so weights rewritten in
    place, a file added or a file renamed all change the hash.
    """
    index = index or ChecksumIndex()
    root = Path(path)
    if root.is_file():
        return index.sha256(root)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    listing = [[p.relative_to(root).as_posix(), index.sha256(p)] for p in files]
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


def local_paths(args: dict[str, Any]) -> dict[str, str]:
    """The model arguments that name an existing local file or folder (checkpoints, configs)."""
    return {k: v for k, v in sorted(args.items()) if isinstance(v, str) and v and os.path.exists(v)}


# ---------------------------------------------------------------------------------------------
# The key

def _doc(text: str) -> Any:
    """A dataclass field with its meaning (docs/results.md is generated from it)."""
    return dataclasses.field(metadata={"doc": text})


@dataclasses.dataclass(frozen=True)
class ModelKey:
    """Everything about a model that can change its activations, known before loading it."""

    name: str = _doc("the registered model name")
    revision: str | None = _doc("the pinned revision, or for an unpinned Hub repository the commit its branch "
                                "points to now")
    wrapper_version: str = _doc("the wrapper's code version")
    args: dict[str, Any] = _doc("--model-args, typed")
    checkpoint_sha256: dict[str, str] = _doc("model argument -> SHA-256 of the local file or folder it names")
    precision: str = _doc("forward-pass precision (controls run in fp32)")
    frontend: dict[str, Any] = _doc("the audio front end: mono mixdown, resampler and its version, target rate")

    @classmethod
    def of(cls, model: AudioModel, precision: str, frontend: dict[str, Any],
           index: ChecksumIndex | None = None) -> ModelKey:
        ident = model.identity()
        index = index or ChecksumIndex()
        return cls(name=ident["name"], revision=ident["revision"], wrapper_version=str(ident["wrapper_version"]),
                   args=dict(sorted(ident["args"].items())),
                   checkpoint_sha256={k: content_sha256(v, index) for k, v in local_paths(ident["args"]).items()},
                   precision=precision, frontend=dict(frontend))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class RunKey:
    """Everything that can change a number of one result: reuse means equality of keys."""

    schema_version: int = _doc("the result schema version")
    model: ModelKey = _doc("the model, its precision and front end")
    pooling: tuple[str, ...] = _doc("poolings over frames the task reads")
    task: dict[str, Any] = _doc("name, version and config_hash of the resolved task configuration")
    controls: dict[str, ModelKey] = _doc("control models the task reads (partial RSA), by name")
    seed: int = _doc("seed of every resampling statistic")
    stimuli: dict[str, str] = _doc("name and fingerprint of the stimulus set (a --limit cut has its own)")

    def as_dict(self) -> dict[str, Any]:
        """The canonical JSON form stored in the result (`run_key`) and compared on resume."""
        return json.loads(json.dumps(dataclasses.asdict(self), sort_keys=True, default=str))

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()


def activation_key(model: ModelKey, pooling: str, fingerprint: str) -> str:
    """The activation cache key: the part of a run key that changes activations.

    Model (name, revision, wrapper version, args, checkpoint content), precision, front end,
    pooling and the stimulus fingerprint; not the task, the seed or the controls.
    """
    payload = {"schema_version": SCHEMA_VERSION, "model": model.as_dict(), "pooling": pooling,
               "stimuli": fingerprint}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
