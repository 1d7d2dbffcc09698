"""The quote log's spool: every answered quote's row is on local disk before its answer leaves.

The quote log is written to PostgreSQL behind the requests, in batches. Between the answer and
the batch's commit the row used to live only in the worker's memory, so a SIGKILLed worker lost
its last rows, and a stop while PostgreSQL was down lost every row of the outage. Now the
request appends its row to a segment file (with the other rows its group commit acknowledged: one
`write()` to the page cache, no fsync) and only then answers; the writer reads the segments back
(from memory while it can) and deletes each once PostgreSQL holds all of its rows. What a process
leaves behind (killed, or stopped while PostgreSQL was away) is replayed by whichever process of
the same database finds it first — the restarted worker, or any live one within seconds. Writes
are idempotent (a row already stored is skipped), so a row written twice is stored once.

Layout: `<directory>/<database id>/<pid>-<n>.rows`, one row per line (its JSON array, which
never holds a raw newline). The database id (migration 0160) keeps two databases' spools apart
under one directory. Every segment is held with an exclusive `flock` by the process that
writes it, for as long as the segment exists; the kernel releases the lock when that process
dies, however it dies. A segment whose lock can be taken is an orphan: the taker replays it. A
segment is created under a temporary name and renamed once locked, so no process ever sees a
live segment unlocked; a young file under the temporary name is left alone by orphan scans (its
creator may be between its open and its lock), an old one deleted.

What it promises: an answered quote's row survives the death of the process that answered it
(the page cache outlives the process), not the loss of the machine or its disk: the spool is not
fsynced (docs/operations.md#the-quote-log-spool).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import structlog

log = structlog.get_logger("quote_service.quotes.spool")

SUFFIX = ".rows"
_PARTIAL = ".new"
PARTIAL_GRACE_SECONDS = 60.0
"""A `.new` file is a segment being created: its creator opens it, then locks it, then renames it,
within microseconds. One younger than this may be between the open and the lock (unlocked for a
moment): an orphan scan leaves it alone. An older one lost its creator: deleted."""
READ_CHUNK = 1 << 20
"""Bytes read at a time when reading rows back (a row is a few KB at most)."""
MEMORY_BYTES = 16 << 20
"""A segment's rows are also kept in memory, for the writer, until it holds this many bytes (then
read back from the file): a segment is sealed every LOG_INTERVAL, so this bounds only a backlog."""


@dataclass(eq=False)
class Segment:
    """One spool file, open and locked by this process."""

    path: Path
    fd: int
    size: int
    """Bytes in the file."""
    offset: int = 0
    """Bytes at its start already written to PostgreSQL (or left out): where reading resumes."""
    rows: int = 0
    """Rows appended by this process (0 for an adopted orphan: unknown until read)."""
    skip: set[bytes] = field(default_factory=set)
    """Rows PostgreSQL refused for their data: left out when a failed batch is read again."""
    memory: list[bytes] | None = None
    """The rows this process appended, in order, while every append said which rows it held and
    the segment is under MEMORY_BYTES: `read` takes them from here instead of the file (the same
    bytes; the file is read for an adopted orphan, a large backlog and after a refused row)."""
    memory_at: tuple[int, int] = (0, 0)
    """(offset, index in `memory`) of the next row to read from memory."""
    memory_next: tuple[int, int] | None = None
    """Where the last read from memory ended: the next read resumes there once `offset` is moved to it."""

    @property
    def unwritten(self) -> int:
        return self.size - self.offset


class Spool:
    """One per process: the segment being appended to, and the locks on this process's segments."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.current: Segment | None = None
        self._numbers = itertools.count()
        self._started = time.time_ns()

    def open(self) -> None:
        """Create the directory and the first segment."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.current = self._create()

    def append(self, data: bytes, rows: list[bytes] | None = None) -> None:
        """Append rows (each ending in a newline) with one write; raises OSError when the disk
        refuses them, leaving the segment as it was. `rows`: the rows of `data` without their
        newlines, kept in memory for the writer (`Segment.memory`); without them the segment's
        rows are read back from the file."""
        segment = self.current
        assert segment is not None, "the spool is not open"
        written = os.write(segment.fd, data)
        if written != len(data):  # a short write (the disk filled up): take it back
            os.ftruncate(segment.fd, segment.size)
            raise OSError(errno.ENOSPC, "the quote-log spool is out of space")
        segment.size += written
        memory = segment.memory
        if rows is None:
            segment.rows += data.count(b"\n")
            segment.memory = None
            return
        segment.rows += len(rows)
        if memory is not None:
            if segment.size > MEMORY_BYTES:
                segment.memory = None
            else:
                memory += rows

    def read(self, segment: Segment, max_rows: int) -> tuple[list[bytes], int]:
        """Up to `max_rows` complete rows from where the segment's writing stopped, and the offset
        after them: from memory while the segment keeps its rows there (`Segment.memory`), else
        from the file (`read_file`)."""
        memory = segment.memory
        if memory is None or segment.skip:
            return self.read_file(segment, max_rows)
        offset, index = segment.memory_at
        if offset != segment.offset:  # the writer moved on to where the last read ended (else: the file)
            if segment.memory_next is None or segment.memory_next[0] != segment.offset:
                segment.memory = None
                return self.read_file(segment, max_rows)
            offset, index = segment.memory_at = segment.memory_next
        rows = memory[index : index + max_rows]
        end = offset + sum(map(len, rows)) + len(rows)
        segment.memory_next = (end, index + len(rows))
        return rows, end

    def seal(self) -> Segment | None:
        """The current segment, closed to appends (a fresh one takes them), when it holds rows."""
        segment = self.current
        if segment is None or segment.size == 0:
            return None
        self.current = self._create()
        return segment

    def orphans(self, owned: set[Path]) -> list[Segment]:
        """Segments of processes that are gone, now locked by this one (oldest first)."""
        found: list[Segment] = []
        try:
            entries = sorted(self.directory.iterdir(), key=_age)
        except FileNotFoundError:
            return found
        for path in entries:
            if path in owned or not path.name.endswith((SUFFIX, _PARTIAL)):
                continue
            segment = _lock_existing(path)
            if segment is None:
                continue
            if path.name.endswith(_PARTIAL):  # being created, or created and never renamed: no row
                if time.time() - os.fstat(segment.fd).st_mtime < PARTIAL_GRACE_SECONDS:
                    self.release(segment)  # its creator may not have locked it yet: not ours to delete
                else:
                    self.discard(segment)
                continue
            found.append(segment)
        return found

    def read_file(self, segment: Segment, max_rows: int) -> tuple[list[bytes], int]:
        """Up to `max_rows` complete rows of the segment's file from where its writing stopped, and
        the offset after them. Bytes after the last newline (a row whose writer died mid-write, so
        never answered) are not a row."""
        rows: list[bytes] = []
        end = segment.offset
        chunk_size = READ_CHUNK
        while len(rows) < max_rows:
            chunk = os.pread(segment.fd, chunk_size, end)
            cut = chunk.rfind(b"\n")
            if cut < 0:
                if len(chunk) < chunk_size:  # the end of the file (or a torn last row)
                    if chunk:
                        log.warning("quote_log_spool_torn_row", path=str(segment.path), bytes=len(chunk))
                    break
                chunk_size *= 2  # one row longer than a chunk
                continue
            lines = chunk[:cut].split(b"\n")
            room = max_rows - len(rows)
            if len(lines) > room:
                lines = lines[:room]
                end += sum(len(line) + 1 for line in lines)
                rows += lines
                break
            rows += lines
            end += cut + 1
        skip = segment.skip
        return [row for row in rows if row and row not in skip] if skip else [row for row in rows if row], end

    def discard(self, segment: Segment) -> None:
        """Delete a segment whose rows are all written, and let go of its lock."""
        with contextlib.suppress(FileNotFoundError):
            segment.path.unlink()
        os.close(segment.fd)

    def release(self, segment: Segment) -> None:
        """Let go of a segment that still holds rows: any process of this database replays it."""
        os.close(segment.fd)

    def close(self) -> None:
        """Let go of the current segment: deleted when empty, else left to be replayed."""
        segment, self.current = self.current, None
        if segment is None:
            return
        if segment.size == 0:
            self.discard(segment)
        else:
            self.release(segment)

    def _create(self) -> Segment:
        number = next(self._numbers)
        # pid and start time keep two processes apart (a pid can be reused after a restart)
        final = self.directory / f"{os.getpid()}-{self._started:x}-{number}{SUFFIX}"
        partial = final.with_suffix(_PARTIAL)
        fd = os.open(partial, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            # Waits (microseconds) while an orphan scan holds it to look at its age (`orphans`).
            fcntl.flock(fd, fcntl.LOCK_EX)
            partial.rename(final)
        except BaseException:
            os.close(fd)
            raise
        return Segment(path=final, fd=fd, size=0, memory=[])


def _lock_existing(path: Path) -> Segment | None:
    """The segment at `path`, locked, if no live process holds it (and it still exists)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # its owner is alive
        os.close(fd)
        return None
    stat = os.fstat(fd)
    if stat.st_nlink == 0:  # its owner finished it and deleted it between our open and our lock
        os.close(fd)
        return None
    return Segment(path=path, fd=fd, size=stat.st_size)


def _age(path: Path) -> float:
    with contextlib.suppress(FileNotFoundError):
        return path.stat().st_mtime
    return 0.0
