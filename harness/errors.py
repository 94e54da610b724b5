"""User-facing errors: each names the file, field or sound at fault and what to do.

The CLI turns an `AudioprobeError` into a one-paragraph message and exit code 2, never a
traceback; anything else escaping is a bug in audioprobe.
"""

from __future__ import annotations

import difflib
import errno
import sys

#: The longest message printed for an error: a message quotes names and values from the user's files, which
#: may be huge (a YAML alias bomb, a 1 GB cell); the message's start says what and where.
MAX_MESSAGE_CHARS = 2000


def shorten(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """The message, cut to `limit` characters with how much was left out."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters not shown)"


class AudioprobeError(Exception):
    """A problem with the user's input (name, file, value) that the user can fix."""


class UnknownNameError(AudioprobeError, KeyError):
    """An unknown model, task or dataset name, with the closest known names suggested."""

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...], hint: str = ""):
        self.kind, self.name = kind, name
        close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
        msg = f"unknown {kind} {name!r}."
        if close:
            msg += " Did you mean " + " or ".join(repr(c) for c in close) + "?"
        if hint:
            msg += " " + hint
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return self.args[0]


class NotApplicableError(AudioprobeError):
    """A task that cannot be scored on this stimulus set (e.g. a constant target on a --limit subset).

    The runner reports it and goes on with the other tasks; no result file is written.
    """


#: OSError numbers that say the disk (not audioprobe) refused a write: full, over quota, read-only, no permission.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def disk_error_message(exc: OSError) -> str | None:
    """One line for a write the disk refused (None: another OSError, a bug to show in full). The folder was
    full or closed before anything was lost: finished results are written atomically, so the same command
    run again after making room resumes where it stopped."""
    if exc.errno not in DISK_ERRNOS:
        return None
    where = f" {exc.filename}" if exc.filename else ""
    return (f"cannot write{where}: {exc.strerror or exc}. Make room (or give write permission) there, or write "
            f"elsewhere (--output-dir, -o, AUDIOPROBE_CACHE), then run the same command again: results already "
            f"written are kept and reused.")


def disk_error_exit(exc: OSError) -> int:
    """What a command's entry point does with an OSError: a disk's refusal is one line on stderr and exit
    code 2 (`disk_error_message`); any other is re-raised, a bug to show in full."""
    message = disk_error_message(exc)
    if message is None:
        raise exc
    print(f"Error: {shorten(message)}", file=sys.stderr)
    return 2
