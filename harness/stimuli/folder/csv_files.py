"""Reading the CSV files of a stimulus-set folder: UTF-8 text, a header with the required columns.

labels.csv, judgments.csv, responses.csv and rdm.csv are often saved from a spreadsheet; every
way such a file goes wrong (no such column, UTF-16, a byte-order mark, not CSV at all) gets one
message naming the file and what to do, here, so that every reader says it the same way.
"""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path

from audioprobe.errors import AudioprobeError


@contextlib.contextmanager
def csv_errors(path: Path):
    """Reading `path` as CSV text: a file that cannot be read, is not UTF-8 or is not CSV becomes one error that
    names it and says what to do."""
    try:
        yield
    except OSError as exc:
        raise AudioprobeError(f"{path}: cannot read ({exc.strerror}).") from None
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    except csv.Error as exc:
        raise AudioprobeError(f"{path}: not a readable CSV file ({exc}); save it as plain comma-separated UTF-8 text.") from None


def read_csv(path: Path, required: list[str]) -> list[dict[str, str]]:
    """The rows of a CSV file as dicts by column name; the header must contain the `required` columns."""
    with csv_errors(path):
        # utf-8-sig: a byte-order mark, as a spreadsheet's "CSV UTF-8" writes, is not part of the first column's name
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in required if c not in header]
            if missing:
                raise AudioprobeError(
                    f"{path}: missing column(s) {', '.join(missing)}; the header must contain "
                    f"{', '.join(required)} (found: {', '.join(header) or 'nothing'})."
                )
            return [dict(row) for row in reader]


def not_utf8(path: Path, exc: UnicodeDecodeError) -> AudioprobeError:
    """The error for a text file that is not UTF-8 (often UTF-16 from a spreadsheet's "Unicode text")."""
    raw = Path(path).read_bytes()[:4] if Path(path).is_file() else b""
    guess = " (it looks like UTF-16)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
    how = "\"CSV UTF-8\" in a spreadsheet, or " if Path(path).suffix == ".csv" else ""
    return AudioprobeError(
        f"{path}: not UTF-8 text{guess}: byte {exc.start} cannot be decoded. Save the file as UTF-8 "
        f"(e.g. {how}iconv -f UTF-16 -t UTF-8)."
    )
