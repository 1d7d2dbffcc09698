"""A private PostgreSQL primary and a streaming replica of it, for the read-replica tests.

Both run from the machine's PostgreSQL binaries (tests/faults/private.py: /usr/lib/postgresql/15/bin,
else pgserver's; PG_BIN overrides), as the `postgres` OS user when we are root (initdb and
postgres refuse root), on free ports of 127.0.0.1, in one temporary directory removed afterwards.

- primary: `initdb`, `wal_level=replica`, trust for replication from 127.0.0.1 in pg_hba.conf;
- replica: `pg_basebackup -R -X stream` of the primary (standby.signal and primary_conninfo
  written for it), a hot standby that logs every statement (`log_statement=all`, each line
  prefixed with the application and database) so tests can tell which reads reached it.

`python -m tests.replica` (`make replica`) runs a pair in the foreground, prints the two URLs
and removes everything on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from tests.faults.private import PG_BIN, PrivatePostgres

CATCH_UP_TIMEOUT = 30.0
_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[\d+\] ")

PRIMARY_SETTINGS = {"wal_level": "replica", "max_wal_senders": "5", "wal_keep_size": "64MB"}
REPLICA_SETTINGS = {
    "hot_standby": "on",
    "log_statement": "all",
    "log_line_prefix": "%m [%p] app=%a db=%d ",
    # Short waits for WAL from the primary: a paused or resumed replay shows up at once.
    "wal_retrieve_retry_interval": "200ms",
    # Queries on the replica are not cancelled by conflicting replay for the tests' short reads.
    "max_standby_streaming_delay": "30s",
}


class PrivatePrimary(PrivatePostgres):
    """A PrivatePostgres that accepts streaming replication from 127.0.0.1."""

    def _initdb(self) -> None:
        super()._initdb()
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")


class PrivateStandby(PrivatePostgres):
    """A hot standby created by `pg_basebackup -R` from `primary` instead of initdb."""

    def __init__(self, root: Path, primary: PrivatePostgres, database: str) -> None:
        super().__init__(root, database, settings=REPLICA_SETTINGS)
        self.primary = primary

    def _initdb(self) -> None:
        if self._user is not None:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        self.log.touch()
        if self._user is not None:
            os.chown(self.log, self._user.pw_uid, self._user.pw_gid)
        self._run(
            [
                str(PG_BIN / "pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.primary.port),
                "-U",
                "postgres",
                "-D",
                str(self.data),
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
                "--no-sync",
            ]
        )

    def log_size(self) -> int:
        """Where the statement log ends now: pass it to `statements_since` later."""
        return self.log.stat().st_size

    def statements_since(self, offset: int) -> list[str]:
        """The statements logged after `offset`, one string each (a multi-line statement joined):
        `<time> [pid] app=<application> db=<database> LOG:  statement: ...` or `... LOG:  execute <name>: ...`."""
        with self.log.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        entries: list[str] = []
        for line in text.splitlines():
            if _ENTRY.match(line):
                entries.append(line)
            elif entries:  # the continuation of a statement that spans lines
                entries[-1] += "\n" + line
        return [entry for entry in entries if "LOG:  statement:" in entry or "LOG:  execute" in entry]


class ReplicaPair:
    """A primary and its streaming replica, the service's database on both (`primary.url`, `replica.url`)."""

    def __init__(self, database: str = "quote_service") -> None:
        self.root = Path(tempfile.mkdtemp(prefix="qs-replica-pair-"))
        self.primary = PrivatePrimary(self.root / "primary", database, settings=PRIMARY_SETTINGS)
        self.replica = PrivateStandby(self.root / "replica", self.primary, database)

    def start(self) -> None:
        """Primary first (its database created and migrated), then the replica from its base backup."""
        if self.primary._user is not None:
            os.chown(self.root, self.primary._user.pw_uid, self.primary._user.pw_gid)
        self.primary.root.mkdir()
        self.replica.root.mkdir()
        self.primary.start()
        asyncio.run(self.primary.create_database())
        self.replica.start()
        asyncio.run(self.wait_caught_up())

    async def wait_caught_up(self, within: float = CATCH_UP_TIMEOUT) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        primary = await asyncpg.connect(self.primary.admin_url)
        try:
            target = await primary.fetchval("SELECT pg_current_wal_lsn()::text")
        finally:
            await primary.close()
        deadline = time.monotonic() + within
        while True:
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                replica = await asyncpg.connect(self.replica.admin_url)
                try:
                    if await replica.fetchval("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", target):
                        return
                finally:
                    await replica.close()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the replica did not catch up within {within}s:\n{self.replica.log.read_text()}")
            await asyncio.sleep(0.05)

    async def replica_sql(self, sql: str) -> object:
        """One statement on the replica as the admin role (e.g. `SELECT pg_wal_replay_pause()`)."""
        conn = await asyncpg.connect(self.replica.admin_url)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    def close(self) -> None:
        self.replica.close()
        self.primary.close()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def replica_pair() -> Iterator[ReplicaPair]:
    pair = ReplicaPair()
    try:
        pair.start()
        yield pair
    finally:
        pair.close()


def main() -> None:
    """Run a pair until interrupted (`make replica`)."""
    with replica_pair() as pair:
        print(f"DATABASE_URL={pair.primary.url}")
        print(f"DATABASE_REPLICA_URL={pair.replica.url}")
        print(f"data under {pair.root}, the replica's statement log {pair.replica.log}; Ctrl-C stops both", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
