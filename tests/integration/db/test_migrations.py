"""The migration runner (db/migrate.py) against real, freshly created PostgreSQL databases."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from quote_service.db.migrate import MigrationError, apply_migrations, load_migrations, migrations_dir

MakeDatabase = Callable[[], Awaitable[str]]


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, sql in files.items():
        (directory / name).write_text(sql, encoding="utf-8")
    return directory


async def recorded(dsn: str) -> list[tuple[int, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    finally:
        await conn.close()
    return [(row["version"], row["name"]) for row in rows]


async def tables(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {row["tablename"] for row in rows}


def shipped() -> list[str]:
    return [f"{m.version:04d}_{m.name}" for m in load_migrations(migrations_dir())]


async def test_fresh_database_gets_every_shipped_migration(make_database: MakeDatabase) -> None:
    dsn = await make_database()

    applied = await apply_migrations(dsn)

    assert applied == shipped()
    assert applied[0] == "0001_foundation"
    assert {"users", "api_keys", "products", "price_history", "schema_migrations"} <= await tables(dsn)


async def test_applying_twice_is_harmless(make_database: MakeDatabase) -> None:
    dsn = await make_database()
    await apply_migrations(dsn)
    before = await recorded(dsn)

    assert await apply_migrations(dsn) == []
    assert await recorded(dsn) == before


async def test_the_session_database_is_already_up_to_date(database_url: str) -> None:
    assert await apply_migrations(database_url) == []


async def test_concurrent_runs_apply_each_migration_once(make_database: MakeDatabase, tmp_path: Path) -> None:
    dsn = await make_database()
    directory = write(
        tmp_path,
        {
            "0001_counter.sql": "CREATE TABLE counter (n integer NOT NULL); INSERT INTO counter VALUES (0);",
            "0002_bump.sql": "UPDATE counter SET n = n + 1;",
            "0003_bump_again.sql": "SELECT pg_sleep(0.05); UPDATE counter SET n = n + 10;",
        },
    )

    results = await asyncio.gather(*(apply_migrations(dsn, directory) for _ in range(4)))

    applied = [name for result in results for name in result]
    assert sorted(applied) == ["0001_counter", "0002_bump", "0003_bump_again"]
    assert await recorded(dsn) == [(1, "counter"), (2, "bump"), (3, "bump_again")]
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT n FROM counter") == 11  # each UPDATE ran exactly once
    finally:
        await conn.close()


async def test_concurrent_runs_of_the_shipped_migrations(make_database: MakeDatabase) -> None:
    dsn = await make_database()

    results = await asyncio.gather(*(apply_migrations(dsn) for _ in range(4)))

    assert sorted(name for result in results for name in result) == sorted(shipped())
    assert [f"{version:04d}_{name}" for version, name in await recorded(dsn)] == shipped()


async def test_a_changed_applied_file_is_refused(make_database: MakeDatabase, tmp_path: Path) -> None:
    dsn = await make_database()
    write(tmp_path, {"0001_first.sql": "CREATE TABLE first (id integer);"})
    await apply_migrations(dsn, tmp_path)
    write(
        tmp_path,
        {
            "0001_first.sql": "CREATE TABLE first (id bigint);",
            "0002_second.sql": "CREATE TABLE second (id integer);",
        },
    )

    with pytest.raises(MigrationError, match="0001_first"):
        await apply_migrations(dsn, tmp_path)

    assert await recorded(dsn) == [(1, "first")]
    assert "second" not in await tables(dsn)  # nothing after the refusal ran


async def test_new_migrations_after_applied_ones_are_applied(make_database: MakeDatabase, tmp_path: Path) -> None:
    dsn = await make_database()
    write(tmp_path, {"0001_first.sql": "CREATE TABLE first (id integer);"})
    assert await apply_migrations(dsn, tmp_path) == ["0001_first"]
    write(tmp_path, {"0002_second.sql": "CREATE TABLE second (id integer);"})

    assert await apply_migrations(dsn, tmp_path) == ["0002_second"]
    assert {"first", "second"} <= await tables(dsn)


async def test_a_failing_migration_leaves_no_trace(make_database: MakeDatabase, tmp_path: Path) -> None:
    dsn = await make_database()
    write(
        tmp_path,
        {
            "0001_good.sql": "CREATE TABLE good (id integer);",
            "0002_bad.sql": "CREATE TABLE half_done (id integer); SELECT no_such_function();",
        },
    )

    with pytest.raises(asyncpg.PostgresError):
        await apply_migrations(dsn, tmp_path)

    assert await recorded(dsn) == [(1, "good")]
    assert "half_done" not in await tables(dsn)  # its own transaction was rolled back
    write(tmp_path, {"0002_bad.sql": "CREATE TABLE half_done (id integer);"})  # fixed before it ever applied
    assert await apply_migrations(dsn, tmp_path) == ["0002_bad"]


def test_migrations_load_in_version_order(tmp_path: Path) -> None:
    write(tmp_path, {"0010_tenth.sql": "SELECT 10;", "0002_second.sql": "SELECT 2;", "0001_first.sql": "SELECT 1;"})

    loaded = load_migrations(tmp_path)

    assert [(m.version, m.name, m.sql) for m in loaded] == [
        (1, "first", "SELECT 1;"),
        (2, "second", "SELECT 2;"),
        (10, "tenth", "SELECT 10;"),
    ]
    assert loaded[0].checksum != loaded[1].checksum


@pytest.mark.parametrize(
    "name", ["1_short.sql", "0001-dash.sql", "0001_Upper.sql", "0001_.sql", "abcd_name.sql", "00001_five.sql"]
)
def test_badly_named_files_are_refused(tmp_path: Path, name: str) -> None:
    write(tmp_path, {"0001_fine.sql": "SELECT 1;", name: "SELECT 2;"})

    with pytest.raises(MigrationError, match="NNNN_name"):
        load_migrations(tmp_path)


def test_two_files_with_one_version_are_refused(tmp_path: Path) -> None:
    write(tmp_path, {"0001_one.sql": "SELECT 1;", "0001_other.sql": "SELECT 2;"})

    with pytest.raises(MigrationError, match="0001"):
        load_migrations(tmp_path)


async def test_a_badly_named_file_is_refused_before_touching_the_database(
    make_database: MakeDatabase, tmp_path: Path
) -> None:
    dsn = await make_database()
    write(tmp_path, {"0001_fine.sql": "CREATE TABLE fine (id integer);", "2_bad.sql": "SELECT 1;"})

    with pytest.raises(MigrationError):
        await apply_migrations(dsn, tmp_path)

    assert await tables(dsn) == set()


def test_files_that_are_not_sql_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, {"0001_first.sql": "SELECT 1;", "README.md": "notes", "0002_draft.sql.bak": "SELECT 2;"})

    assert [m.name for m in load_migrations(tmp_path)] == ["first"]
