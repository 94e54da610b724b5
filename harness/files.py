"""File-system primitives every layer shares: atomic writes, the user cache folder, file hashes,
the writability check made before a run starts.

Nothing is ever half-written: every file audioprobe writes (results, cache entries, synthesised
audio, leaderboards) goes through `atomic_write_bytes`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

import platformdirs

from audioprobe.errors import AudioprobeError


def default_cache_dir() -> Path:
    """`$AUDIOPROBE_CACHE`, else the platform's user cache folder."""
    env = os.environ.get("AUDIOPROBE_CACHE")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("audioprobe")) / "activations"


def current_umask() -> int:
    """The process's umask (new files get 0666 less it, new folders 0777 less it)."""
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


_umask = current_umask


def atomic_write_bytes(path: Path, write) -> None:
    """Call `write(fileobj)` on a temporary file beside `path`, then rename it into place.

    The file gets the permissions an ordinary `open()` would give (0666 less the umask), not the
    owner-only mode of a temporary file: results in a shared folder stay readable by the group.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def file_lock(path: Path):
    """Hold an exclusive lock for writing `path`: `fcntl.flock` on a hidden lock file beside it
    (`.<name>.lock`), so that two processes (jobs of a sweep, two sweeps on one output folder or cache)
    never write the same file, or the same pair of files, at once. Blocks until the lock is free. The lock
    file is removed when the lock is released (no hidden files left beside the results): a waiter that
    then holds a lock on the removed file sees that its inode is no longer the path's and takes the lock
    again on a fresh file (the usual unlink-safe lock-file protocol). On NFS (v4) flock is a whole-file
    POSIX lock the server arbitrates; where no lock can be taken (a file system without locks, a
    read-only folder) it goes on without one: writes stay atomic.
    """
    import fcntl

    path = Path(path)
    lock = path.with_name(f".{path.name}.lock")
    fd = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:  # no locks here: go on without
                break
            try:
                if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                    break  # locked, and still the path's lock file
            except FileNotFoundError:
                pass
            os.close(fd)  # removed by the holder we waited for: take the lock again
            fd = None
    except OSError:
        if fd is not None:
            os.close(fd)
        yield
        return
    try:
        yield
    finally:
        try:
            os.unlink(lock)  # while still holding it: nobody can hold a lock on this inode and think it current
        except OSError:
            pass
        os.close(fd)  # closing releases the lock


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks (checkpoints can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_writable(folder: Path, what: str) -> Path:
    """Create `folder` if needed and prove a file can be written there (and removed), before any
    work starts; raise AudioprobeError naming `what` (e.g. "--output-dir results") otherwise."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".audioprobe-write-check-")
        os.close(fd)
        os.unlink(probe)
    except FileExistsError:
        raise AudioprobeError(f"{what}: {folder} is a file, not a folder; choose a folder.") from None
    except NotADirectoryError:
        raise AudioprobeError(f"{what}: a part of {folder} is a file, not a folder; choose a folder.") from None
    except OSError as exc:
        raise AudioprobeError(f"{what}: cannot write in {folder} ({exc.strerror or exc}); choose a folder you "
                              f"can write to.") from None
    return folder


def rescue_dir() -> Path:
    """Where a result goes when its own folder cannot be written (beside the activation cache)."""
    return default_cache_dir().parent / "unsaved-results"
