"""`quote-service serve`: migrate, optionally seed the demo, then serve with granian (server.py)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator

from quote_service import __version__
from quote_service.auth.gate import default_slots
from quote_service.cli.common import CommandError, dsn, migrate_database
from quote_service.cli.seed_demo import cmd_seed_demo, print_pages
from quote_service.config import Settings


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    with _metrics_directory(args.workers):  # first: before anything imports prometheus_client
        applied = migrate_database(settings)
        if applied:
            print(f"migrations applied: {', '.join(applied)}")
        if args.demo and cmd_seed_demo(settings, args) != 0:
            return 2
        # Workers are separate processes: they read the (possibly embedded) URLs from the environment.
        os.environ["DATABASE_URL"] = dsn(settings)
        os.environ["REDIS_URL"] = settings.redis_url or ""
        # argon2 is CPU-bound: the workers share the CPUs' worth of concurrent password checks.
        os.environ.setdefault("LOGIN_CONCURRENCY", str(max(1, default_slots() // args.workers)))
        if args.demo:  # the demo sells to EUR (USD, JPY, KWD) buyers from its TRY prices (docs/currencies.md)
            os.environ.setdefault("FX_CONVERSION", "true")
        base = f"http://{args.host}:{args.port}"
        where = f"(API docs: {base}/docs, health: {base}/health/ready)"
        print(f"quote-service {__version__} listening on {base}  {where}", flush=True)
        print_pages(base, demo_accounts=args.demo and settings.environment != "production")
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


def refuse_a_taken_port(host: str, port: int) -> None:
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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="apply pending migrations, then serve the API")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0: every interface)"
    )
    serve.add_argument("--port", type=int, default=8000, help="TCP port to listen on (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument("--demo", action="store_true", help="seed the demo data first and print its credentials")
    serve.set_defaults(handler=cmd_serve)
