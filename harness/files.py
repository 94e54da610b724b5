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
from typing import Any

import platformdirs

from audioprobe.errors import AudioprobeError


def _cache_root() -> tuple[Path, bool]:
    """(the cache's root folder, whether the user chose it): `$AUDIOPROBE_CACHE`, else the platform's user
    cache folder for audioprobe."""
    env = os.environ.get("AUDIOPROBE_CACHE")
    return (Path(env).expanduser(), True) if env else (Path(platformdirs.user_cache_dir("audioprobe")), False)


def default_cache_dir() -> Path:
    """`$AUDIOPROBE_CACHE`, else the platform's user cache folder's `activations/`."""
    root, chosen = _cache_root()
    return root if chosen else root / "activations"


def stimulus_cache_dir() -> Path:
    """Where generated stimulus sets are kept: inside `$AUDIOPROBE_CACHE` when it is set (never beside it: its
    parent is a folder of the user's), else beside the activations in the platform's user cache folder."""
    return _cache_root()[0] / "stimuli"


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
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc  # name the file the disk refused
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
    """Where a result goes when its own folder cannot be written: inside the activation cache's folder (never its
    parent, which with $AUDIOPROBE_CACHE is a folder of the user's)."""
    return default_cache_dir() / "unsaved-results"


# ---------------------------------------------------------------------------------------------
# Reading the user's YAML: one safe way for task, contrast, suite and stimulus-set files

#: The largest configuration file read (task, contrast, suite, dataset.yaml): far above any real one.
MAX_CONFIG_BYTES = 1 << 20
#: The deepest nesting of a configuration file's mappings and lists.
MAX_CONFIG_DEPTH = 32


def read_config_yaml(path: Path, what: str = "file", inside: Path | None = None) -> Any:
    """The YAML document of a configuration file, read safely (every rule here, for every such file):
    at most MAX_CONFIG_BYTES, no aliases (`*name`: a few hundred bytes of nested aliases expand to
    gigabytes, the "billion laughs"), at most MAX_CONFIG_DEPTH levels, UTF-8 (a byte-order mark
    allowed), and, when `inside` is given, a file that is not a link leading out of that folder.
    Every failure is an AudioprobeError naming the file, never the file's content."""
    import yaml

    path = Path(path)
    if inside is not None:
        check_inside(path, inside, what)
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise AudioprobeError(f"{path}: {size} bytes, more than a {what} can be ({MAX_CONFIG_BYTES}); is it the "
                                  f"right file?")
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise AudioprobeError(f"{path}: cannot read the {what} ({exc.strerror or exc}).") from None
    except UnicodeDecodeError as exc:
        raise AudioprobeError(f"{path}: not UTF-8 text (byte {exc.start} cannot be decoded); save it as UTF-8.") from None
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise AudioprobeError(f"{path}: YAML anchors and aliases (&name, *name) are not allowed in a {what}; "
                                      f"write the values out.")
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_CONFIG_DEPTH:
                    raise AudioprobeError(f"{path}: nested more than {MAX_CONFIG_DEPTH} levels deep; not a {what}.")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise AudioprobeError(f"{path}: not valid YAML{where}: {str(problem)[:200]}.") from None


def check_inside(path: Path, folder: Path, what: str = "file") -> None:
    """Refuse a path that leads out of `folder` (through a link, or `..`): nothing a set or task folder names
    is read from elsewhere."""
    inside = Path(folder).resolve()
    target = Path(path).resolve()
    if not target.is_relative_to(inside):
        raise AudioprobeError(f"{path}: leads to {target}, outside {inside}; a {what} is read only from inside its "
                              f"folder (copy the file in instead of linking it).")
