"""File-system primitives every layer shares: atomic writes and the user cache folder.

Nothing is ever half-written: every file audioprobe writes (results, cache entries, synthesised
audio, leaderboards) goes through `atomic_write_bytes`.
"""

from __future__ import annotations

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
