"""On-disk cache of pooled activations, keyed by everything that can change them.

One `.npz` file per activation key (`audioprobe.identity.activation_key`: model identity with
checkpoint content, precision, front end, pooling, stimulus fingerprint): arrays only, read with
`allow_pickle=False`. Written atomically, so an interrupted run never leaves a
half-written entry that a later run would trust.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from audioprobe.files import atomic_write_bytes, default_cache_dir

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


class ActivationCache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else default_cache_dir()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        p = self.path(key)
        if not p.is_file():
            return None
        try:
            layers, extras = load_layers(p)
            info = json.loads(str(extras["info"]))
        except (OSError, ValueError, KeyError):
            return None  # unreadable entry: recompute and overwrite
        return layers, info

    def put(self, key: str, layers: dict[str, np.ndarray], info: dict[str, Any]) -> None:
        save_layers(self.path(key), layers, info=json.dumps(info, sort_keys=True))
