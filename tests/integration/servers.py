"""Running `quote-service` as a real process, for tests that need more than one app."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.conftest import free_port

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
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.NamedTemporaryFile(prefix="qs-serve-", suffix=".log", delete=False) as log:
        log_file = Path(log.name)
    with log_file.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [*CLI, "serve", "--port", str(port), *serve_args], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        wait_until_ready(process, base, log_file)
        yield base, log_file
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.unlink(missing_ok=True)
