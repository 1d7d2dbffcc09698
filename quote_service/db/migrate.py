"""Applies `migrations/NNNN_name.sql` in order, each in its own transaction.

Applied files are recorded with a SHA-256 checksum; a changed applied file is refused.
A session-level advisory lock makes concurrent runs (several instances starting at once)
wait for each other, after which the later ones find nothing left to do.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger("quote_service.migrate")

# Any constant unique to this service; shared by every process that migrates this database.
_ADVISORY_LOCK_KEY = 0x5155_4F54_4553_5643 & 0x7FFF_FFFF_FFFF_FFFF
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """The migrations on disk and in the database disagree."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_dir() -> Path:
    """The packaged migrations (an installed wheel carries `migrations/*.sql` as
    `quote_service/migrations/`, pyproject.toml) or, in a checkout, the repository's `migrations/`."""
    packaged = Path(__file__).resolve().parent.parent / "migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "migrations"


def load_migrations(directory: Path) -> list[Migration]:
    """Every migration file in `directory`, ordered by version; none at all is an error (an
    install without its migrations would otherwise "apply" nothing and serve on a bare schema)."""
    if not any(directory.glob("*.sql")):
        raise MigrationError(
            f"no migration files (NNNN_name.sql) in {directory}: this installation of quote-service"
            " is incomplete; reinstall the package (docs/deployment.md#installing-with-pip)"
        )
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migrations share version {version:04d}")
        found[version] = Migration(version, match.group(2), path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


async def apply_migrations(dsn: str, directory: Path | None = None) -> list[str]:
    """Apply every pending migration; returns the names applied by this call."""
    migrations = load_migrations(directory or migrations_dir())
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _ADVISORY_LOCK_KEY)
        try:
            return await _apply_locked(conn, migrations)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _ADVISORY_LOCK_KEY)
    finally:
        await conn.close()


async def _apply_locked(conn: asyncpg.Connection, migrations: list[Migration]) -> list[str]:
    await conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
    applied = {row["version"]: row for row in rows}
    done: list[str] = []
    for migration in migrations:
        label = f"{migration.version:04d}_{migration.name}"
        record = applied.get(migration.version)
        if record is not None:
            if record["checksum"] != migration.checksum:
                raise MigrationError(f"{label}.sql changed after it was applied; add a new migration instead")
            continue
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
        log.info("migration_applied", migration=label)
        done.append(label)
    return done
