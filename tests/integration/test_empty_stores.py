"""The stores' emptying before each test (tests/conftest.py::empty_stores) survives a deadlock with a
started app's transaction: its DELETEs take rows table by table, and a loop of the app that locks
two of those tables in the other order made PostgreSQL abort the emptying (CI, 2026-11-27, a
set-up error). Here a real second transaction closes the cycle on purpose."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.conftest import empty_stores

TABLES = ("zz_emptied_first", "zz_emptied_second")
WAITING_DELETE = (
    "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database()"
    " AND wait_event_type = 'Lock' AND query LIKE 'DELETE FROM%'"
)


async def emptying_order(conn: asyncpg.Connection) -> list[str]:
    """TABLES in the order empty_stores deletes from them (its catalog query's order)."""
    names = [
        row["relname"]
        for row in await conn.fetch(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND relkind IN ('r', 'p') AND NOT relispartition"
        )
    ]
    return sorted(TABLES, key=names.index)


async def test_an_emptying_aborted_by_a_deadlock_is_run_again_and_empties_every_table(
    database_url: str, redis_url: str
) -> None:
    setup = await asyncpg.connect(database_url)
    other = await asyncpg.connect(database_url)
    try:
        for name in TABLES:
            await setup.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, n int NOT NULL)")
            await setup.execute(f"INSERT INTO {name} VALUES (1, 0)")
        first, second = await emptying_order(setup)

        async with other.transaction():
            await other.execute(f"UPDATE {second} SET n = n + 1")  # holds the row the emptying deletes last
            emptying = asyncio.create_task(empty_stores(database_url, redis_url))
            # The emptying has deleted `first`'s row and waits for `second`'s.
            for _ in range(300):
                if await setup.fetchval(WAITING_DELETE) or emptying.done():
                    break
                await asyncio.sleep(0.02)
            assert not emptying.done(), "the emptying did not wait for the held row"
            await other.execute(f"UPDATE {first} SET n = n + 1")  # the cycle: PostgreSQL aborts one side
        await emptying  # raised DeadlockDetectedError before the emptying ran again

        for name in TABLES:
            assert await setup.fetchval(f"SELECT count(*) FROM {name}") == 0, name
    finally:
        for name in TABLES:
            await setup.execute(f"DROP TABLE IF EXISTS {name}")
        await other.close()
        await setup.close()
