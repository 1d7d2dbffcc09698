"""Test fixtures on real PostgreSQL and Redis.

Servers: TEST_DATABASE_URL (default: local PostgreSQL on 127.0.0.1:5432, role postgres) and
TEST_REDIS_URL (default: local Redis on 127.0.0.1:6379). Each is used when the session can log
in to it (a port that answers is not enough: the role may be missing or need a password);
otherwise the session starts the same embedded server the service uses, so the suite runs on a
machine with neither installed. The run's header line says which servers it uses and why.

Isolation: each pytest session (each xdist worker too) migrates its own fresh database (dropped
afterwards) and uses its own Redis logical database; every test starts from empty tables and an
empty Redis. Tests marked `redis_backends` run on a private Redis Cluster too
(tests/cluster_fixtures.py).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import json
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from hypothesis import settings as hypothesis_settings
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from quote_service.config import Settings
from quote_service.db.migrate import apply_migrations
from quote_service.embedded import embedded_stores

# Fixtures kept in modules of their own: the private primary + replica pair; redis_url,
# redis_backend and redis_cluster with the `redis_backends` marker's parametrization (not
# imported here: pytest rewrites a plugin's asserts as it loads it); and the plugin that turns
# skips into failures when QS_REQUIRE_ALL_SUITES=1 (CI).
pytest_plugins = ["tests.replica_fixtures", "tests.cluster_fixtures", "tests.require_suites", "tests.doc_blocks"]

# Property tests judge answers, not speed: on a shared 2-core machine one example can take longer
# than Hypothesis's default 200 ms deadline, which failed CI runs with answers that were right.
# Two profiles: "suite", every example a test asks for (`make test`'s second stage runs the
# property tests so); "quick", a tenth of them (at least QUICK_MIN_EXAMPLES), for the unit loop
# (`make test-unit` sets QS_HYPOTHESIS_PROFILE=quick; docs/development.md#how-long-the-tests-take).
QUICK_MIN_EXAMPLES = 10
hypothesis_settings.register_profile("suite", deadline=None)
hypothesis_settings.register_profile("quick", deadline=None, max_examples=QUICK_MIN_EXAMPLES)
HYPOTHESIS_PROFILE = os.environ.get("QS_HYPOTHESIS_PROFILE", "suite")
hypothesis_settings.load_profile(HYPOTHESIS_PROFILE)

# Every service this run starts — apps in the tests, `quote-service serve` processes, which inherit
# the environment — keeps its quote-log spool (quotes/spool.py) in a temporary directory of the
# run, not in the checkout; each database has its own directory under it.
if "QUOTE_LOG_SPOOL_DIR" not in os.environ:
    os.environ["QUOTE_LOG_SPOOL_DIR"] = tempfile.mkdtemp(prefix="qs-test-spool-")
    atexit.register(shutil.rmtree, os.environ["QUOTE_LOG_SPOOL_DIR"], ignore_errors=True)
SPOOL = Path(os.environ["QUOTE_LOG_SPOOL_DIR"])

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379"
LOGIN_TIMEOUT = 3.0


@dataclass(frozen=True)
class ServerChoice:
    """A configured server the session can use (`problem` empty), or why it cannot."""

    url: str
    problem: str

    @property
    def usable(self) -> bool:
        return not self.problem


def _postgres_problem(url: str) -> str:
    """Empty when `url` accepts a login and a CREATE DATABASE-capable session; else why not."""

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=LOGIN_TIMEOUT)
        try:
            if not await conn.fetchval("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"):
                raise PermissionError("the role may not create databases")
        finally:
            await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    return ""


def _redis_problem(url: str) -> str:
    try:
        with SyncRedis.from_url(url, socket_timeout=LOGIN_TIMEOUT, socket_connect_timeout=LOGIN_TIMEOUT) as client:
            client.ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    return ""


@functools.cache
def chosen_servers() -> tuple[ServerChoice, ServerChoice]:
    """(PostgreSQL, Redis) as configured for this run, each usable or with the reason it is not."""
    pg = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)
    redis = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS)
    return ServerChoice(pg, _postgres_problem(pg)), ServerChoice(redis, _redis_problem(redis))


def _describe(name: str, choice: ServerChoice) -> str:
    if choice.usable:
        return f"{name} {_without_password(choice.url)}"
    return f"{name} embedded (cannot use {_without_password(choice.url)}: {choice.problem.splitlines()[0]})"


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


def pytest_report_header(config: pytest.Config) -> list[str]:
    pg, redis = chosen_servers()
    return [f"servers: {_describe('PostgreSQL', pg)}; {_describe('Redis', redis)}"]


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (its hook has no order)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `pytest -n N --dist loadgroup` the slow tests (real server processes, private or
    embedded servers, load, browsers, the image build) of one module run one after another on one
    worker, sharing that module's servers, and a worker never runs two of them at once; and they
    are handed out first, the longest work before the short tests that fill the gaps (one group
    of them all made that group the whole run's length: ~25 of its 10 minutes)."""
    unit = Path(__file__).parent / "unit"
    for item in items:
        if item.path.is_relative_to(unit):
            item.add_marker(pytest.mark.unit)
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.property)
            if HYPOTHESIS_PROFILE == "quick":
                _fewer_examples(item.obj)
        if item.get_closest_marker("slow") is not None and _on_a_redis_cluster(item):
            # A slow test's [cluster] run (served processes on a Redis Cluster) is make test-all's: its
            # [single] run keeps the end-to-end proof in make test (docs/development.md#two-test-commands).
            item.add_marker(pytest.mark.long)
        if item.get_closest_marker("long") is not None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)  # a long test is a slow one: grouped, and never in the unit loop
        if item.get_closest_marker("slow") is not None:
            item.add_marker(pytest.mark.xdist_group(f"slow.{item.path.stem}"))
    if hasattr(config, "workerinput"):  # every worker sorts the same collection the same way
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    if TIERS_FILE:  # tests/tooling/test_test_tiers.py: every test in a tier of make test or make test-all
        _write_tiers(items)


def _on_a_redis_cluster(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("redis_backend") == "cluster"


TIERS_FILE = os.environ.get("QS_TEST_TIERS_FILE", "")
"""Where a collection writes each test's id, folder and marks (tests/tooling/test_test_tiers.py)."""


def _write_tiers(items: list[pytest.Item]) -> None:
    rows = [{"id": item.nodeid, "marks": sorted({mark.name for mark in item.iter_markers()})} for item in items]
    Path(TIERS_FILE).write_text(json.dumps(rows))


def _fewer_examples(test: object) -> None:
    """A tenth of the examples a property test's own @settings asks for (the quick profile's
    max_examples only reaches the tests that ask for none)."""
    own = getattr(test, "_hypothesis_internal_use_settings", None)
    if own is not None and own.max_examples > QUICK_MIN_EXAMPLES:
        quick = hypothesis_settings(own, max_examples=max(QUICK_MIN_EXAMPLES, own.max_examples // 10))
        test._hypothesis_internal_use_settings = quick  # type: ignore[attr-defined]


def pytest_collection_finish(session: pytest.Session) -> None:
    """On an xdist worker under `--dist loadgroup`, every grouped test must carry its group in its
    node id (pytest-xdist adds `@group`; pytest 9.2 made that impossible): refuse to run with the
    slow tests scattered across workers, where their timing margins no longer hold."""
    if not hasattr(session.config, "workerinput") or not session.config.getvalue("loadgroup"):
        return
    lost = [item.nodeid for item in session.items if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if lost:
        raise pytest.UsageError(
            f"pytest-xdist did not group {len(lost)} tests (e.g. {lost[0]}): this pytest/pytest-xdist pair "
            "cannot --dist loadgroup (pyproject.toml pins pytest below 9.2 for that)"
        )


@pytest.fixture(scope="session")
def server_urls() -> Iterator[tuple[str, str]]:
    """(admin PostgreSQL URL, Redis base URL) of real servers."""
    pg, redis = chosen_servers()
    if pg.usable and redis.usable:
        yield pg.url, redis.url
        return
    home = Path(tempfile.mkdtemp(prefix="qs-test-stores-"))
    with embedded_stores(home, need_database=not pg.usable, need_redis=not redis.usable) as urls:
        yield (pg.url if pg.usable else urls.database_url), (redis.url if redis.usable else urls.redis_url)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
async def database_url(server_urls: tuple[str, str]) -> AsyncIterator[str]:
    """A freshly created and migrated database for this test session."""
    admin_url = server_urls[0]
    name = f"qs_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = _with_database(admin_url, name)
    await apply_migrations(url)
    yield url
    held = _EMPTYING.pop(url, None)
    if held is not None and held[0] is asyncio.get_running_loop():
        held[1].terminate()
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


@pytest.fixture(scope="session")
async def single_redis_url(server_urls: tuple[str, str]) -> AsyncIterator[str]:
    """A Redis logical database (1-15) claimed for this session alone (`redis_url` of a test,
    unless it runs on the Redis Cluster: tests/cluster_fixtures.py).

    Claims live in db 0 as `qs-test:db:N` (SET NX with a TTL), so concurrent test sessions on
    one machine never flush each other's data; a crashed session's claim expires.
    """
    base = server_urls[1]
    claims = Redis.from_url(base)
    token = f"{os.getpid()}:{uuid.uuid4().hex}"
    number = None
    for candidate in range(1, 16):
        if await claims.set(f"qs-test:db:{candidate}", token, nx=True, ex=3 * 3600):
            number = candidate
            break
    if number is None:
        await claims.aclose()
        pytest.fail("all 15 Redis test databases are claimed by other test sessions")
    yield f"{base}?db={number}" if base.startswith("unix://") else f"{base.rstrip('/')}/{number}"
    if await claims.get(f"qs-test:db:{number}") == token.encode():
        await claims.delete(f"qs-test:db:{number}")
    await claims.aclose()


@pytest.fixture(scope="session")
def make_database(server_urls: tuple[str, str]) -> Iterator[object]:
    """Factory for extra empty databases (dropped at the end of the session)."""
    admin_url = server_urls[0]
    created: list[str] = []

    async def make() -> str:
        name = f"qs_extra_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(admin_url)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        created.append(name)
        return _with_database(admin_url, name)

    yield make

    async def drop() -> None:
        conn = await asyncpg.connect(admin_url)
        for name in created:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    asyncio.run(drop())


@pytest.fixture
async def clean_stores(database_url: str, redis_url: str) -> None:
    """Empty every table (but the migration log) and the Redis database before a test."""
    await empty_stores(database_url, redis_url)


KEPT_TABLES = ("schema_migrations", "config_version")
"""Never emptied: the migration log, and the configuration version, which only ever grows (a
running process never reloads a lower one)."""

_OWNED_SEQUENCES = """
SELECT s.oid::regclass::text AS sequence, t.relname AS table_name
  FROM pg_class s
  JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype IN ('a', 'i')
  JOIN pg_class t ON t.oid = d.refobjid
 WHERE s.relkind = 'S' AND t.relnamespace = 'public'::regnamespace
"""


_RESTART = "SELECT setval($1::regclass, (SELECT seqstart FROM pg_sequence WHERE seqrelid = $1::regclass), false)"


async def empty_stores(database_url: str, redis_url: str) -> None:
    """Empty every table (but KEPT_TABLES) and the Redis database, as TRUNCATE ... RESTART
    IDENTITY of them all would — at the cost of what the last test wrote: only the tables that
    hold a row are emptied, and the identity sequences that were used are restarted.

    The rows go by DELETE, with the triggers and foreign keys off for the transaction
    (`session_replication_role = replica`, a superuser's setting): a TRUNCATE cost 0.13-0.35 s
    a test (a new file for every table, partition and index it empties, and an ACCESS EXCLUSIVE
    lock that waits for the started app's loops), a DELETE of a test's few rows ~10 ms. A role
    that may not set it gets the TRUNCATE.

    The connection is kept for the next test (per database and event loop): a new one cost
    ~25 ms a test more, its backend planning the probe over every table and partition with a
    cold catalog cache (21 against 0.5 ms). One that broke (a test restarted or cut PostgreSQL)
    is replaced and the emptying run again."""
    conn, kept = await _emptying_connection(database_url)
    try:
        await _empty_tables_retrying_deadlocks(conn)
    except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError):
        if not kept:
            raise
        _EMPTYING.pop(database_url, None)
        conn.terminate()
        conn, kept = await _emptying_connection(database_url)
        await _empty_tables_retrying_deadlocks(conn)
    finally:
        if not kept:
            await conn.close()
    from tests.cluster_fixtures import flush

    await flush(redis_url)


_EMPTYING: dict[str, tuple[asyncio.AbstractEventLoop, asyncpg.Connection]] = {}
"""empty_stores' connection per database, with the event loop it belongs to."""


async def _emptying_connection(database_url: str) -> tuple[asyncpg.Connection, bool]:
    """The kept connection to `database_url` on this event loop (made and kept when there is none
    or its loop has ended), else a connection for this call alone: (connection, kept)."""
    loop = asyncio.get_running_loop()
    held = _EMPTYING.get(database_url)
    if held is not None:
        held_loop, conn = held
        if held_loop is loop and not conn.is_closed():
            return conn, True
        if held_loop is not loop and not held_loop.is_closed():  # another loop's, still running: leave it
            return await asyncpg.connect(database_url), False
        del _EMPTYING[database_url]  # its loop ended (an asyncio.run of a synchronous test) or it closed
    conn = await asyncpg.connect(database_url)
    _EMPTYING[database_url] = (loop, conn)
    return conn, True


DEADLOCK_TRIES = 5


async def _empty_tables_retrying_deadlocks(conn: asyncpg.Connection) -> None:
    """_empty_tables, run again when PostgreSQL aborts it as one side of a deadlock: the DELETEs
    lock rows table by table while a started app's loop (a sweeper, the quote-log writer, a
    served process still draining) may lock two of them in the other order (CI, 2026-11-27:
    the reservation-caps set-up). The aborted transaction changed nothing, so running it again
    is exact; the other side of the cycle has gone on by then."""
    for attempt in range(1, DEADLOCK_TRIES + 1):
        try:
            await _empty_tables(conn)
            return
        except asyncpg.DeadlockDetectedError:
            if attempt == DEADLOCK_TRIES:
                raise
            await asyncio.sleep(0.05 * attempt)


async def _empty_tables(conn: asyncpg.Connection) -> None:
    """empty_stores' PostgreSQL part, on `conn`."""
    tables = [
        row["tablename"]
        for row in await conn.fetch(
            # The tables, not their time partitions (docs/data-lifecycle.md): emptying a
            # partitioned table empties its partitions.
            "SELECT relname AS tablename FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND relkind IN ('r', 'p') AND NOT relispartition AND relname <> ALL($1::text[])",
            list(KEPT_TABLES),
        )
    ]
    if not tables:
        return
    probe = " UNION ALL ".join(
        f"SELECT {_literal(name)} AS name WHERE EXISTS (SELECT 1 FROM {_identifier(name)})" for name in tables
    )
    filled = [row["name"] for row in await conn.fetch(probe)]
    superuser = await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    used = [
        row["sequence"]
        for row in await conn.fetch(
            f"SELECT o.sequence, o.table_name FROM ({_OWNED_SEQUENCES}) o"
            " JOIN pg_sequences p ON format('%I.%I', p.schemaname, p.sequencename)::regclass::text = o.sequence"
            " WHERE p.last_value IS NOT NULL AND o.table_name <> ALL($1::text[])",
            [*KEPT_TABLES, *([] if superuser else filled)],
        )
    ]
    async with conn.transaction():
        if filled and superuser:
            await conn.execute("SET LOCAL session_replication_role = replica")
            for name in filled:
                await conn.execute(f"DELETE FROM {_identifier(name)}")
        elif filled:
            await conn.execute(f"TRUNCATE {', '.join(map(_identifier, filled))} RESTART IDENTITY CASCADE")
        for sequence in used:
            await conn.execute(_RESTART, sequence)


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


@pytest.fixture
def settings(database_url: str, redis_url: str, clean_stores: None) -> Settings:
    """Settings pointing at this session's stores, with everything else at its default."""
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        log_format="json",
        log_level="WARNING",
        quote_log_spool_dir=SPOOL,
    )


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    from quote_service.db.pool import create_pool

    assert settings.database_url is not None
    pool = await create_pool(settings.database_url, min_size=1, max_size=5)
    yield pool
    await pool.close()


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
