"""Clients that send their body slowly or not at all, against a real server (granian).

A client that hangs up mid-body is not a server error: no ERROR log line, no 500 in the
request metrics, one count in qs_http_client_disconnects_total. A body trickled past
BODY_READ_TIMEOUT is answered 408 and the connection closed.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from quote_service.config import Settings
from tests.integration.servers import cli_env, running_server_logged
from tests.waiting import until_sync

pytestmark = [pytest.mark.long, pytest.mark.slow]

BODY_READ_TIMEOUT = 1.0
_HEAD = (
    "POST /api/v1/auth/token HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
    "Content-Length: {length}\r\n\r\n"
)


@pytest.fixture
def server(settings: Settings) -> Iterator[tuple[str, Path]]:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        BODY_READ_TIMEOUT=str(BODY_READ_TIMEOUT),
        LOG_LEVEL="INFO",
        METRICS_PUBLIC="true",
    )
    with running_server_logged(env) as (base, log_file):
        yield base, log_file


def _connect(base: str) -> socket.socket:
    parts = urlsplit(base)
    assert parts.hostname is not None
    assert parts.port is not None
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def _metric(base: str, name: str) -> dict[str, float]:
    """Every sample of `name` in /metrics, by its label text."""
    text = httpx.get(f"{base}/metrics", timeout=5).text
    return {m[1] or "": float(m[2]) for m in re.finditer(rf"^{name}(\{{[^}}]*\}})? (\S+)$", text, re.MULTILINE)}


def _disconnects(base: str) -> float:
    return _metric(base, "qs_http_client_disconnects_total").get("", 0.0)


def _server_errors(base: str) -> float:
    samples = _metric(base, "qs_http_request_duration_seconds_count")
    return sum(value for labels, value in samples.items() if 'status="5' in labels)


def _error_lines(log_file: Path) -> list[str]:
    lines = []
    for line in log_file.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if str(entry.get("level", "")).lower() in {"error", "critical"}:
            lines.append(line)
    return lines


def test_a_client_hanging_up_mid_body_is_counted_not_a_server_error(server: tuple[str, Path]) -> None:
    base, log_file = server
    before = _disconnects(base)

    with _connect(base) as sock:
        # `Expect: 100-continue`: the server says "100 Continue" once the service reads the body.
        sock.sendall(_HEAD.format(length=200).replace("\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n").encode())
        assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue"), "the service never asked for the body"
        sock.sendall(b'{"username": "someone", ')  # part of it, then hang up

    until_sync(lambda: _disconnects(base) > before, "the hang-up is counted")
    assert _disconnects(base) == before + 1
    assert _server_errors(base) == 0
    assert _error_lines(log_file) == []
    assert '"client_disconnected"' in log_file.read_text()


def test_a_trickled_body_is_answered_408_and_closed(server: tuple[str, Path]) -> None:
    base, _ = server
    started = time.monotonic()
    answer = b""
    with _connect(base) as sock:
        sock.sendall(_HEAD.format(length=1000).encode())
        sock.settimeout(0.2)
        for _ in range(100):  # one byte every 0.2 s: a 20 s body if nobody stopped it
            try:
                sock.sendall(b" ")
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            answer += chunk
    elapsed = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"REQUEST_TIMEOUT"' in answer
    assert elapsed < BODY_READ_TIMEOUT + 6  # generous: the box is shared
    assert _server_errors(base) == 0
