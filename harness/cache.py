"""On-disk cache of pooled activations, keyed by everything that can change them.

One `.npz` file per activation key (`audioprobe.identity.activation_key`: model identity with
checkpoint content, precision, front end, pooling, stimulus fingerprint): arrays only, read with
`allow_pickle=False`. Written atomically, so an interrupted run never leaves a
half-written entry that a later run would trust. Every entry stores the SHA-256 of its arrays and
info (`checksum`), verified on every read: a truncated, bit-flipped or replaced entry (even one
with the right shapes) is reported with its path, deleted and recomputed, never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from audioprobe.files import atomic_write_bytes, default_cache_dir, file_lock

log = logging.getLogger(__name__)

def save_layers(path: Path, layers: dict[str, np.ndarray], **extra: np.ndarray | str) -> None:
    """Write layer arrays (kept in layer order) plus extra arrays or strings to an npz file."""
    names = list(layers)
    arrays = {f"layer_{i:04d}": np.asarray(layers[n]) for i, n in enumerate(names)}
    arrays["layer_names"] = np.array(names, dtype=str)
    for k, v in extra.items():
        arrays[k] = np.array(v, dtype=str) if isinstance(v, str) else np.asarray(v)
    atomic_write_bytes(Path(path), lambda fh: np.savez(fh, **arrays))


def load_layers(path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Inverse of `save_layers`: (layers in order, extras)."""
    with np.load(path, allow_pickle=False) as data:
        names = [str(n) for n in data["layer_names"]]
        layers = {n: data[f"layer_{i:04d}"] for i, n in enumerate(names)}
        extras = {k: data[k] for k in data.files if not k.startswith("layer_")}
    return layers, extras


def layers_checksum(layers: dict[str, np.ndarray], info: str) -> str:
    """SHA-256 over the layers (order, names, dtypes, shapes, bytes) and the info string."""
    h = hashlib.sha256()
    for name, arr in layers.items():
        arr = np.ascontiguousarray(arr)
        h.update(json.dumps([name, arr.dtype.str, list(arr.shape)]).encode())
        h.update(arr.tobytes())
    h.update(info.encode("utf-8"))
    return h.hexdigest()


class ActivationCache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else default_cache_dir()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """The entry's layers and info, or None (a miss). A damaged entry (unreadable, or arrays that
        do not match their stored checksum) is a miss too: warned about with its path and deleted."""
        p = self.path(key)
        if not p.is_file():
            return None
        try:
            layers, extras = load_layers(p)
            info_text = str(extras["info"])
            stored = str(extras["checksum"]) if "checksum" in extras else None
            info = json.loads(info_text)
            problem = ("no checksum (written by an older audioprobe, or not by audioprobe)" if stored is None else
                       "its arrays do not match their checksum" if stored != layers_checksum(layers, info_text) else
                       None)
        except Exception as exc:  # noqa: BLE001 - truncated zip, bad CRC, bad JSON...: all mean "damaged"
            problem = f"unreadable ({exc.__class__.__name__}: {exc})"
        if problem is None:
            return layers, info
        self.discard(key, problem)
        return None

    def discard(self, key: str, problem: str) -> None:
        """Warn about a damaged entry (naming its file) and delete it, so it is recomputed."""
        p = self.path(key)
        log.warning("activation cache entry %s is damaged: %s; discarded, the activations are recomputed.", p, problem)
        try:
            p.unlink()
        except OSError:
            pass  # a read-only cache: the entry is overwritten by `put` if it can be, ignored otherwise

    def put(self, key: str, layers: dict[str, np.ndarray], info: dict[str, Any]) -> None:
        """Store an entry; a cache that cannot be written costs a warning, never the run's results."""
        info_text = json.dumps(info, sort_keys=True)
        layers = {n: np.asarray(a) for n, a in layers.items()}
        try:
            with file_lock(self.path(key)):  # two jobs or sweeps sharing the cache: one writes an entry at a time
                save_layers(self.path(key), layers, info=info_text, checksum=layers_checksum(layers, info_text))
        except OSError as exc:
            log.warning("cannot write the activation cache at %s (%s); going on without caching these activations. "
                        "Set AUDIOPROBE_CACHE to a writable folder, or pass --no-cache.", self.path(key),
                        exc.strerror or exc)
