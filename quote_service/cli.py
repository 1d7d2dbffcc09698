"""The `quote-service` command: serve, migrate, create-user, create-api-key, seed-demo, generate-data,
rebuild-rollups."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from uuid import UUID

import msgspec

from quote_service.auth.gate import default_slots
from quote_service.auth.passwords import password_problem
from quote_service.auth.schemas import UserCreate
from quote_service.auth.service import AuthService
from quote_service.cache.redis import create_redis
from quote_service.clock import utcnow
from quote_service.config import ConfigError, Settings, require_secret_key_to_serve
from quote_service.db.migrate import MigrationError, apply_migrations
from quote_service.db.pool import Pool, create_pool
from quote_service.embedded import embedded_stores
from quote_service.errors import ServiceError
from quote_service.observability.logging import configure_logging
from quote_service.snapshot.bus import announce_change, read_version
from quote_service.validation import describe_validation_error

# The application's modules (demo, flash sales, anything that creates Prometheus metrics) are
# imported inside the commands that need them: `serve` must set PROMETHEUS_MULTIPROC_DIR before
# prometheus_client is first imported, because granian forks the workers from this process.

T = TypeVar("T")


class CommandError(Exception):
    """The command cannot run as asked; the message tells the operator why and what to do."""


@contextlib.contextmanager
def stores(settings: Settings) -> Iterator[Settings]:
    """Settings with both URLs set, starting the embedded servers for any that are missing."""
    if settings.database_url and settings.redis_url:
        yield settings
        return
    with embedded_stores(
        settings.home, need_database=not settings.database_url, need_redis=not settings.redis_url
    ) as urls:
        yield msgspec.structs.replace(
            settings,
            database_url=settings.database_url or urls.database_url,
            redis_url=settings.redis_url or urls.redis_url,
        )


def _dsn(settings: Settings) -> str:
    assert settings.database_url is not None, "stores() sets both URLs"
    return settings.database_url


def _migrate(settings: Settings) -> list[str]:
    return asyncio.run(apply_migrations(_dsn(settings)))


def _with_pool(settings: Settings, work: Callable[[Pool], Awaitable[T]]) -> T:
    """Migrate, then run `work` with a small pool."""
    _migrate(settings)

    async def run() -> T:
        pool = await create_pool(_dsn(settings), min_size=1, max_size=2, server_settings=settings.database_session())
        try:
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(run())


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    applied = _migrate(settings)
    print(f"migrations applied: {', '.join(applied) if applied else 'none pending'}")
    return 0


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    problem = password_problem(args.password, username=args.username)
    if problem is not None:  # before msgspec, whose message names `$.password` and a length rule
        print(f"quote-service: password {problem}", file=sys.stderr)
        return 1
    try:
        data = msgspec.convert(
            {
                "username": args.username,
                "password": args.password,
                "role": args.role,
                "tier": args.tier,
                "segment": args.segment,
            },
            UserCreate,
        )
    except msgspec.ValidationError as exc:
        print(f"quote-service: {describe_validation_error(exc, rules=_USER_RULES)}", file=sys.stderr)
        return 1
    user = _with_pool(settings, lambda pool: AuthService(settings, pool).create_user(data))
    print(f"created {user.role} {user.username} ({user.id})")
    return 0


_USER_RULES = {"username": "must be 1-64 characters: letters, digits and _ . @ + -"}


def cmd_create_api_key(settings: Settings, args: argparse.Namespace) -> int:
    created = _with_pool(
        settings,
        lambda pool: AuthService(settings, pool).create_api_key(
            name=args.name, role=args.role, created_by=None, money_format=args.money_format
        ),
    )
    # The key alone on stdout (`KEY=$(quote-service create-api-key ...)`); everything else on stderr.
    print(f"API key {created.name} ({created.id}), role {created.role}; shown once, store it now:", file=sys.stderr)
    print(created.key)
    return 0


def cmd_seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from quote_service import demo

    admin, user = demo.DEMO_ADMIN, demo.DEMO_USER
    if settings.is_production:
        if not getattr(args, "force", False):
            print(
                "quote-service: seed-demo refused: ENVIRONMENT=production, and the demo accounts are "
                "meant for trying the service out. Add --force to seed anyway (the accounts then get "
                "random passwords, printed once).",
                file=sys.stderr,
            )
            return 2
        admin, user = demo.random_credentials()
    summary = _with_pool(settings, lambda pool: demo.seed_demo(settings, pool, admin=admin, user=user))
    if summary.configuration_created or summary.history is not None:
        asyncio.run(_announce_configuration(settings))
    print(
        f"demo data: {summary.products_created} products created ({summary.products_total} in the demo catalog), "
        f"{len(summary.users_created)} users created, pricing configuration "
        f"{'created' if summary.configuration_created else 'already present'}"
    )
    if summary.history is not None:
        history = summary.history
        print(
            f"demo history: {history.quotes} quotes, {history.orders} orders, {history.flash_sales} ended flash "
            f"sales over {demo.DEMO_HISTORY['days']} days (analytics, the checkout_banner experiment)"
        )
    else:
        print("demo history: already present")
    seeded = asyncio.run(_seed_flash_sale(settings))
    if seeded is None:
        print("demo flash sale: one is already scheduled or running")
    else:
        sale_id, starts_at = seeded
        print(f"demo flash sale {sale_id} starts at {starts_at:%H:%M:%S} UTC (in a minute), for an hour:")
        print(f"  GET /api/v1/flash-sales/{sale_id}")
    _print_demo_credentials(settings, summary.users_created, [("demo admin", admin), ("demo user", user)])
    return 0


async def _seed_flash_sale(settings: Settings) -> tuple[UUID, datetime] | None:
    """The demo sale goes through the same service as an admin's (allocation, counters, announcement)."""
    from quote_service import demo
    from quote_service.flash_sales.counters import Counters
    from quote_service.flash_sales.service import FlashSales
    from quote_service.snapshot.loader import load_snapshot
    from quote_service.snapshot.store import ConfigStore

    pool = await create_pool(_dsn(settings), min_size=1, max_size=2, server_settings=settings.database_session())
    redis = create_redis(settings.redis_url or "", cluster=settings.redis_cluster)
    now = utcnow()
    try:
        config = ConfigStore(pool, redis, load_snapshot)
        # The sale's announcement reloads this store: it must hold a snapshot (no need to follow changes).
        await config.refresh(force=True, background=False)
        sales = FlashSales(pool, Counters(redis), config)
        return await demo.seed_flash_sale(sales, now=now)
    finally:
        await redis.aclose()
        await pool.close()


async def _announce_configuration(settings: Settings) -> None:
    """Tell running servers that configuration changed (they reload their snapshots; without
    this they would see PostgreSQL's new version within a second anyway)."""
    pool = await create_pool(_dsn(settings), min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            version = await read_version(conn)
    finally:
        await pool.close()
    redis = create_redis(settings.redis_url or "", cluster=settings.redis_cluster)
    try:
        await announce_change(redis, version, domain="seed-demo")
    finally:
        await redis.aclose()


def _print_demo_credentials(
    settings: Settings, created: tuple[str, ...], accounts: list[tuple[str, tuple[str, str]]]
) -> None:
    """Development: the public credentials. Production: generated passwords, for new accounts only."""
    for label, (username, password) in accounts:
        if not settings.is_production:
            print(f"{label + ':':<12}{username} / {password}")
        elif username in created:
            print(f"{label + ':':<12}{username} / {password}   (generated: store it now, it is not shown again)")
        else:
            print(f"{label + ':':<12}{username} already existed; its password is unchanged")


def _print_pages(base: str, *, demo_accounts: bool) -> None:
    from quote_service import demo

    admin = f"  (log in as {demo.DEMO_ADMIN[0]} / {demo.DEMO_ADMIN[1]})" if demo_accounts else ""
    shopper = f"  (log in as {demo.DEMO_USER[0]} / {demo.DEMO_USER[1]})" if demo_accounts else ""
    print(f"dashboard: {base}/dashboard{admin}", flush=True)
    print(f"store:     {base}/store{shopper}", flush=True)


def cmd_generate_data(settings: Settings, args: argparse.Namespace) -> int:
    """Write a reproducible history (COPY), recomputing the analytics rollups of its hours."""
    from quote_service.analytics.generate import generate

    for name in ("products", "days", "quotes_per_day"):
        if getattr(args, name) < 1:
            print(f"quote-service: --{name.replace('_', '-')} must be at least 1", file=sys.stderr)
            return 2

    async def work(pool: Pool) -> object:
        return await generate(
            pool, products=args.products, days=args.days, quotes_per_day=args.quotes_per_day, seed=args.seed,
            now=utcnow(), progress=not args.quiet,
            on_rollups=lambda: print("finishing the analytics rollups ...", file=sys.stderr, flush=True),
        )  # fmt: skip

    try:
        summary = _with_pool(settings, work)
    except ValueError as exc:
        print(f"quote-service: {exc}", file=sys.stderr)
        return 1
    print(f"generated: {summary}")
    return 0


def cmd_rebuild_rollups(settings: Settings, _: argparse.Namespace) -> int:
    """Recompute every analytics rollup from the raw quote log and orders."""
    from quote_service.analytics.rollups import rebuild

    hours = _with_pool(settings, lambda pool: rebuild(pool, now=utcnow()))
    print(f"rollups rebuilt: {hours} (kind, hour) pairs")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    with _metrics_directory(args.workers):  # first: before anything imports prometheus_client
        applied = _migrate(settings)
        if applied:
            print(f"migrations applied: {', '.join(applied)}")
        if args.demo and cmd_seed_demo(settings, args) != 0:
            return 2
        # Workers are separate processes: they read the (possibly embedded) URLs from the environment.
        os.environ["DATABASE_URL"] = _dsn(settings)
        os.environ["REDIS_URL"] = settings.redis_url or ""
        # argon2 is CPU-bound: the workers share the CPUs' worth of concurrent password checks.
        os.environ.setdefault("LOGIN_CONCURRENCY", str(max(1, default_slots() // args.workers)))
        base = f"http://{args.host}:{args.port}"
        print(f"quote-service listening on {base}  (API docs: {base}/docs, health: {base}/health/ready)", flush=True)
        _print_pages(base, demo_accounts=args.demo and settings.environment != "production")
        _granian(settings, args)
        # Stopping from here on: a further Ctrl-C must not cut the embedded servers' clean stop
        # short, nor kill the interpreter while it exits (Python keeps an ignored signal ignored).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return 0


@contextlib.contextmanager
def _metrics_directory(workers: int) -> Iterator[None]:
    """With several workers, /metrics must add up every worker: prometheus_client's multiprocess
    mode, in a fresh directory (unless the operator chose one), removed at exit."""
    if workers <= 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    if "prometheus_client" in sys.modules:  # a forked worker would keep single-process values
        raise RuntimeError("prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR was set")
    directory = tempfile.mkdtemp(prefix="quote-service-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _refuse_a_taken_port(host: str, port: int) -> None:
    """Fail when another process listens on host:port.

    granian binds with SO_REUSEPORT, so a second server on a taken port would start without a
    word and the kernel would split connections between the two. A probe bound without
    SO_REUSEPORT fails on a live listener; SO_REUSEADDR lets a restart pass despite connections
    of the previous run still in TIME_WAIT.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return  # not ours to judge (a privileged port, an address not on this host): granian reports it
            raise CommandError(
                f"port {port} on {host} is already in use by another process (another quote-service?); "
                "stop it or choose another port with --port"
            ) from exc


def _granian(settings: Settings, args: argparse.Namespace) -> None:
    from quote_service.server import ServeOptions, serve

    options = ServeOptions(
        host=args.host, port=args.port, workers=args.workers, shutdown_timeout=settings.shutdown_timeout_seconds
    )
    serve("quote_service.app:create_app", options)


def cmd_campaign_script(settings: Settings, args: argparse.Namespace) -> int:
    """Replay a campaign script on a scratch database; print each command's line."""
    from quote_service.campaigns.script import run_script

    try:
        lines = sys.stdin.read().splitlines() if args.file == "-" else Path(args.file).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"quote-service: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    configure_logging(msgspec.structs.replace(settings, log_level="WARNING"))  # stdout is the script's output
    asyncio.run(run_script(settings, lines, lambda line: print(line, flush=True)))
    return 0


def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    """Competitor observations from a CSV or JSON-lines file onto the ingestion stream."""
    from quote_service.cache.redis import create_redis
    from quote_service.intelligence.ingest_file import ingest_file

    path = Path(args.file)
    if not path.is_file():
        print(f"quote-service: no such file: {args.file}", file=sys.stderr)
        return 2
    assert settings.redis_url is not None, "stores() sets both URLs"

    async def run() -> int:
        redis = create_redis(settings.redis_url or "", cluster=settings.redis_cluster)
        try:
            return await ingest_file(redis, path)
        finally:
            await redis.aclose()

    return 1 if asyncio.run(run()) else 0


def _psql_binary() -> str:
    """psql from PATH, else the one the pgserver package ships (the embedded server's own)."""
    found = shutil.which("psql")
    if found is not None:
        return found
    try:
        import pgserver  # the embedded default ships PostgreSQL's client programs too
    except ImportError as exc:
        raise CommandError("psql is not installed (Debian: apt-get install postgresql-client)") from exc
    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
    if not bundled.exists():
        raise CommandError("psql is not installed (Debian: apt-get install postgresql-client)")
    return str(bundled)


def cmd_psql(settings: Settings, args: argparse.Namespace) -> int:
    """psql on the database the service uses (embedded or DATABASE_URL); extra arguments go to psql."""
    extra = [a for a in args.psql_args if a != "--"]
    return subprocess.call([_psql_binary(), _dsn(settings), *extra])  # noqa: S603 - the operator's own psql


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="quote-service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="apply migrations, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true", help="seed the demo data first and print its credentials")
    serve.set_defaults(handler=cmd_serve)
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(handler=cmd_migrate)
    user = sub.add_parser("create-user", help="create a user")
    user.add_argument("--username", required=True)
    user.add_argument("--password", required=True)
    user.add_argument("--role", required=True, choices=["admin", "user", "service"])
    user.add_argument("--tier")
    user.add_argument("--segment")
    user.set_defaults(handler=cmd_create_user)
    key = sub.add_parser("create-api-key", help="create an API key and print it once")
    key.add_argument("--name", required=True)
    key.add_argument("--role", default="service", choices=["service", "admin"])
    key.add_argument(
        "--money-format",
        default="string",
        choices=["string", "number"],
        help="how the key's responses write money unless a request sends X-Money-Format (default: string)",
    )
    key.set_defaults(handler=cmd_create_api_key)
    seed = sub.add_parser("seed-demo", help="load the demo catalog and accounts")
    seed.add_argument(
        "--force", action="store_true", help="seed even when ENVIRONMENT=production (accounts get random passwords)"
    )
    seed.set_defaults(handler=cmd_seed_demo)
    sim = sub.add_parser("simulate", help="send live shoppers through a running service and print price moves")
    sim.add_argument("--rate", type=float, default=5.0, help="actions per second (default 5)")
    sim.add_argument("--duration", type=float, default=60.0, help="seconds to run (default 60; Ctrl-C stops)")
    sim.add_argument("--base-url", default="http://127.0.0.1:8000")
    sim.add_argument("--admin", default=None, help="admin USERNAME:PASSWORD (default: the demo admin)")
    sim.add_argument("--shopper", default=None, help="shopper USERNAME:PASSWORD (default: the demo shopper)")
    sim.set_defaults(handler=cmd_simulate)  # run by main() before any store starts
    script = sub.add_parser("campaign-script", help="replay a campaign script with a simulated clock")
    script.add_argument("file", help="the script, or - for standard input")
    script.set_defaults(handler=cmd_campaign_script)
    ingest = sub.add_parser("ingest", help="queue competitor observations from a CSV or JSON-lines file")
    ingest.add_argument("file", help="a .csv file with a header row, or JSON lines (one observation per line)")
    ingest.set_defaults(handler=cmd_ingest)
    psql = sub.add_parser("psql", help="open psql on the service's database (extra arguments go to psql)")
    psql.add_argument("psql_args", nargs=argparse.REMAINDER, help="e.g. -c 'SELECT count(*) FROM quote_log'")
    psql.set_defaults(handler=cmd_psql)
    gen = sub.add_parser("generate-data", help="write a reproducible history of quotes, orders and sales (COPY)")
    gen.add_argument("--products", type=int, default=1000)
    gen.add_argument("--days", type=int, default=30)
    gen.add_argument("--quotes-per-day", type=int, default=10_000)
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(handler=cmd_generate_data)
    sub.add_parser("rebuild-rollups", help="recompute the analytics rollups from the raw tables").set_defaults(
        handler=cmd_rebuild_rollups
    )
    return parser


def cmd_simulate(args: argparse.Namespace) -> int:
    import httpx

    from quote_service import demo
    from quote_service.simulate import simulate

    def account(text: str | None, default: tuple[str, str]) -> tuple[str, str]:
        if text is None:
            return default
        username, _, password = text.partition(":")
        return username, password

    if args.rate <= 0 or args.duration <= 0:
        print("quote-service: --rate and --duration must be positive", file=sys.stderr)
        return 2
    try:
        asyncio.run(
            simulate(
                base_url=args.base_url,
                rate=args.rate,
                duration=args.duration,
                admin=account(args.admin, demo.DEMO_ADMIN),
                shopper=account(args.shopper, demo.DEMO_USER),
            )
        )
    except KeyboardInterrupt:
        return 130
    except httpx.HTTPError as exc:
        print(f"quote-service: simulate cannot reach {args.base_url}: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `quote-service` console script."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.handler is not cmd_psql:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.handler is cmd_psql:  # psql's own options (-c, -f, ...) pass through untouched
        args.psql_args = [*unknown, *args.psql_args]
    if args.command == "simulate":  # an HTTP client of a running service: no stores, no settings
        return cmd_simulate(args)
    try:
        settings = Settings.from_env()
        if args.handler is cmd_serve:
            require_secret_key_to_serve(os.environ, demo=args.demo)
    except ConfigError as exc:
        print(f"quote-service: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    try:
        if args.handler is cmd_serve:
            _refuse_a_taken_port(args.host, args.port)
        with stores(settings) as resolved:
            code: int = args.handler(resolved, args)
            return code
    except msgspec.ValidationError as exc:
        print(f"quote-service: {describe_validation_error(exc)}", file=sys.stderr)
        return 1
    except (CommandError, MigrationError, ServiceError) as exc:
        print(f"quote-service: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before serving started: the stores were stopped on the way out
        return 130


if __name__ == "__main__":
    sys.exit(main())
