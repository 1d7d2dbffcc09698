"""What a newcomer meets at the command line: clear refusals, quiet output, clean stops.

Each test runs `quote-service` as a real process: a second server on a taken port, production
without store URLs, validation messages, and Ctrl-C pressed more than once while the embedded
servers stop.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from quote_service.config import Settings
from tests.conftest import free_port
from tests.integration.servers import CLI, cli_env, running_server, wait_until_ready

pytestmark = [pytest.mark.long, pytest.mark.slow]

STRONG_KEY = "a-production-secret-that-is-long-enough-0123456789"


def run(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own console script
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def home() -> Iterator[Path]:
    """A QUOTE_SERVICE_HOME of its own, short enough for a Unix socket path."""
    path = Path(tempfile.mkdtemp(prefix="qs-home-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_second_server_on_a_taken_port_refuses_to_start(settings: Settings) -> None:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING")
    with running_server(env) as base, httpx.Client(base_url=base, timeout=5) as http:
        port = urlsplit(base).port
        assert port is not None

        second = subprocess.Popen(  # noqa: S603 - our own console script
            [*CLI, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = second.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)  # its granian workers too
            second.communicate()
            pytest.fail("the second server started on the taken port")

        assert second.returncode == 1, out + err
        assert f"quote-service: port {port} on 127.0.0.1 is already in use by another process" in err
        assert "--port" in err
        assert "listening" not in out
        for _ in range(5):  # the first server still answers every request
            assert http.get("/health/ready").status_code == 200


def test_production_without_store_urls_refuses_instead_of_starting_embedded_servers(home: Path) -> None:
    env = cli_env(ENVIRONMENT="production", SECRET_KEY=STRONG_KEY, QUOTE_SERVICE_HOME=str(home / "stores"))

    refused = run("migrate", env=env)

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr == (
        "quote-service: ENVIRONMENT=production needs DATABASE_URL and REDIS_URL: "
        "the embedded PostgreSQL and Redis are for development only\n"
    )
    assert not (home / "stores").exists(), "no embedded server may have started"


def test_serve_without_a_secret_key_refuses_unless_development_is_asked_for(home: Path) -> None:
    env = cli_env(QUOTE_SERVICE_HOME=str(home / "stores"))
    for name in ("ENVIRONMENT", "SECRET_KEY"):
        env.pop(name, None)

    refused = run("serve", "--port", str(free_port()), env=env)

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.startswith("quote-service: SECRET_KEY is not set: "), refused.stderr
    assert "listening" not in refused.stdout
    assert not (home / "stores").exists(), "no embedded server may have started"


def test_validation_errors_read_as_field_and_rule(settings: Settings) -> None:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url)

    refused = run(
        "create-user", "--username", "carol", "--password", "long-enough-password", "--role", "user",
        "--tier", "t" * 65, env=env,
    )  # fmt: skip

    assert refused.returncode == 1
    assert refused.stderr == "quote-service: tier: must be at most 64 characters\n"


def test_ctrl_c_pressed_again_while_stopping_stops_cleanly_and_quietly(home: Path) -> None:
    """Ctrl-C reaches the terminal's whole foreground process group, again and again."""
    env = cli_env(QUOTE_SERVICE_HOME=str(home), LOG_FORMAT="console")
    env.pop("XDG_RUNTIME_DIR", None)  # as in containers, ssh sessions and cron
    port = free_port()
    log_file = home / "serve.log"
    with log_file.open("wb") as sink:
        server = subprocess.Popen(  # noqa: S603 - our own console script
            [*CLI, "serve", "--port", str(port)], env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until_ready(server, f"http://127.0.0.1:{port}", log_file)
        deadline = time.monotonic() + 90
        while server.poll() is None and time.monotonic() < deadline:
            os.killpg(server.pid, signal.SIGINT)
            time.sleep(0.1)
        code = server.wait(timeout=5)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    log = log_file.read_text()

    assert code == 0, log
    assert "XDG_RUNTIME_DIR" not in log
    assert "Traceback" not in log
    assert "ERROR" not in log
    assert "Failed" not in log
    assert "killing it instead" not in log
    pgdata = home / "postgres"
    assert not (pgdata / "postmaster.pid").exists(), "PostgreSQL is still running or died uncleanly"
    assert "database system is shut down" in (pgdata / "log").read_text()


def test_psql_opens_the_services_database_and_passes_psql_options_through(settings: Settings) -> None:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url)

    answer = run("psql", "-At", "-c", "SELECT count(*) > 0 FROM schema_migrations", env=env)

    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "t"
    assert run("migrate", "-c", "x", env=env).returncode == 2  # other commands still refuse unknown options
