"""`files.file_lock`: processes that write one file take turns, and no lock file is left behind."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from audioprobe.files import file_lock


def _bump(path: str, times: int) -> None:
    for _ in range(times):
        with file_lock(Path(path)):
            p = Path(path)
            value = int(p.read_text()) if p.exists() else 0
            p.write_text(str(value + 1))  # a read-modify-write that loses counts unless the lock holds


def test_writers_take_turns_and_leave_no_lock_file(tmp_path):
    target = tmp_path / "results" / "count.txt"
    target.parent.mkdir()
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_bump, args=(str(target), 60)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert int(target.read_text()) == 240  # no increment lost
    assert sorted(x.name for x in target.parent.iterdir()) == ["count.txt"]  # no .count.txt.lock left
