"""File-system primitives every layer shares: atomic writes, the user cache folder, file hashes.

Nothing is ever half-written: every file audioprobe writes (results, cache entries, synthesised
audio, leaderboards) goes through `atomic_write_bytes`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import platformdirs


def default_cache_dir() -> Path:
    """`$AUDIOPROBE_CACHE`, else the platform's user cache folder."""
    env = os.environ.get("AUDIOPROBE_CACHE")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("audioprobe")) / "activations"


def atomic_write_bytes(path: Path, write) -> None:
    """Call `write(fileobj)` on a temporary file beside `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks (checkpoints can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
