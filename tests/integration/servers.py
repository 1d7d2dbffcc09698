"""Running `quote-service` as a real process, for tests that need more than one app, or a race.

Races go to a real server, not Litestar's in-process test client (which answers one request at
a time): `race_server` starts one that logs every request, and `RaceServer.race` fires requests
at it all at once and checks, from that log, that the server really was handling several of
them at the same moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from quote_service.config import Settings
from tests.conftest import free_port
from tests.waiting import until

READY_TIMEOUT = 60.0
_CONSOLE_SCRIPT = Path(sys.executable).with_name("quote-service")
CLI = [str(_CONSOLE_SCRIPT)] if _CONSOLE_SCRIPT.exists() else [sys.executable, "-m", "quote_service.cli"]


def cli_env(**extra: str) -> dict[str, str]:
    """The current environment without any store URL, in development (serve needs no SECRET_KEY
    there), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update({"LOG_FORMAT": "json", "LOG_LEVEL": "INFO", "ENVIRONMENT": "development", **extra})
    return env


def wait_until_ready(process: subprocess.Popen[bytes], base: str, log_file: Path) -> None:
    """Block until GET /health/ready answers 200, or fail with the process's log."""
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(base_url=base, timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"serve exited with {process.returncode}:\n{log_file.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if http.get("/health/ready").status_code == 200:
                    return
            time.sleep(0.2)
    raise AssertionError(f"not ready after {READY_TIMEOUT}s:\n{log_file.read_text()}")


@contextlib.contextmanager
def running_server(env: dict[str, str], *serve_args: str) -> Iterator[str]:
    """`quote-service serve` on a free port until the block ends (then SIGTERM); yields its URL."""
    with running_server_logged(env, *serve_args) as (base, _):
        yield base


@contextlib.contextmanager
def running_server_logged(env: dict[str, str], *serve_args: str) -> Iterator[tuple[str, Path]]:
    """As running_server, also yielding the file the server logs to (deleted afterwards)."""
    with served(env, *serve_args) as (base, _, log_file):
        yield base, log_file


@contextlib.contextmanager
def served(env: dict[str, str], *serve_args: str) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """As running_server_logged, also yielding the process (a test that signals it itself); whatever
    the test left running is stopped by `stop_server` at the end."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.NamedTemporaryFile(prefix="qs-serve-", suffix=".log", delete=False) as log:
        log_file = Path(log.name)
    with log_file.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [*CLI, "serve", "--port", str(port), *serve_args],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: `stop_server` reaches its workers too
        )
    try:
        wait_until_ready(process, base, log_file)
        yield base, process, log_file
    finally:
        stop_server(process)
        log_file.unlink(missing_ok=True)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop a `serve` started with `start_new_session=True` as a supervisor would (SIGTERM, 30 s),
    then SIGKILL whatever of its process group is left. A SIGKILL of the master alone left its
    workers running, consuming the test Redis database's competitor-price stream and failing the
    intelligence tests after them (2026-11-27)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


class RaceServer:
    """A real server for racing requests, and the access log that tells whether they overlapped."""

    def __init__(self, base: str, log_file: Path) -> None:
        self.base = base
        self.log_file = log_file
        self._sent: Counter[str] = Counter()

    def client(self, tag: str, **options: Any) -> httpx.AsyncClient:
        """An httpx client to the server that names its requests (X-Request-ID) `<tag><n>`, so that
        `peak_in_flight(tag)` finds them in the server's log."""

        async def name(request: httpx.Request) -> None:
            request.headers["X-Request-ID"] = f"{tag}{self._sent[tag]}"
            self._sent[tag] += 1

        options.setdefault("timeout", 60)
        return httpx.AsyncClient(base_url=self.base, event_hooks={"request": [name]}, **options)

    async def race(
        self, times: int, send: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]
    ) -> list[httpx.Response]:
        """`send(http, n)` for every n below `times`, all at once, each on a connection of its own;
        fails unless the server was handling at least two of them at one moment."""
        tag = new_tag()
        limits = httpx.Limits(max_connections=times, max_keepalive_connections=times)
        async with self.client(tag, limits=limits) as http:
            responses = list(await asyncio.gather(*(send(http, n) for n in range(times))))
        peak = await self.peak_in_flight(tag)
        assert peak >= 2, f"the server handled these {times} requests one at a time: nothing raced"
        return responses

    async def peak_in_flight(self, tag: str) -> int:
        """The most requests named `tag...` that the server was handling at one moment, once every
        one sent is in its log (a request is logged just after its answer)."""
        spans: list[tuple[datetime, datetime]] = []
        count = self._sent[tag]

        def all_logged() -> bool:
            spans[:] = request_spans(self.log_file, tag)
            return len(spans) >= count

        await until(all_logged, f"the {count} requests named {tag}... in the server's log")
        return most_at_once(spans)


def new_tag() -> str:
    """A request-id prefix no other test uses."""
    return f"race-{uuid.uuid4().hex[:12]}-"


def request_spans(log_file: Path, tag: str) -> list[tuple[datetime, datetime]]:
    """(start, end) of every request whose id starts with `tag`, from the server's JSON access log:
    each line is written as a request ends and carries how long it took."""
    spans = []
    for line in log_file.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:  # the server's own lines before logging is set up
            continue
        if isinstance(entry, dict) and entry.get("event") == "request" and entry.get("request_id", "").startswith(tag):
            end = datetime.fromisoformat(entry["timestamp"])
            spans.append((end - timedelta(milliseconds=entry["duration_ms"]), end))
    return spans


def most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    """The largest number of spans that share one instant."""
    # At the same instant an end sorts before a start (-1 < 1): touching spans do not overlap.
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    return max(itertools.accumulate(step for _, step in edges), default=0)


# A race queues every request on one row lock and a pool of 10 connections; on a loaded machine
# the default one-second waits would answer some of them 503 (as they should in production) and
# the outcome a test counts would depend on the load. Patient waits keep it exact.
PATIENT = {"DB_ACQUIRE_TIMEOUT": "30", "DB_LOCK_TIMEOUT": "30", "DB_STATEMENT_TIMEOUT": "30"}


@contextlib.contextmanager
def race_server(settings: Settings, **extra: str) -> Iterator[RaceServer]:
    """`quote-service serve` on a test's stores, logging every request (INFO), waiting patiently for
    connections and locks (`extra` overrides), until the block ends.

    Start it for one test, after `settings` cleaned the stores, not once per module: a server's
    background loops, left running while the next test empties every table, deadlocked with that
    TRUNCATE (seen on the loaded development machine).
    """
    assert settings.database_url is not None
    assert settings.redis_url is not None
    stores = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    env = cli_env(**stores, LOG_LEVEL="INFO", **{**PATIENT, **extra})
    with running_server_logged(env) as (base, log_file):
        yield RaceServer(base, log_file)
