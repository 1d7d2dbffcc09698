"""The published OpenAPI document is true: schemathesis over it against a live server.

Three callers (admin, user, none) at once, and a fourth session that only logs out, every check
(`--checks all`): no answer may be a 5xx, have an undocumented status or content type, or break
its documented schema, and the server must log no error. Example counts are bounded to keep
the test near a minute on two cores (the deterministic `coverage` phase alone takes a minute more: run it by hand with
`st run ... --phases coverage` after changing the document); `st run` with the same
arguments reproduces any failure (its output is shown).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from quote_service.auth import credentials
from quote_service.clock import utcnow
from quote_service.config import Settings
from tests.integration.conftest import Caller
from tests.integration.servers import cli_env, running_server_logged

pytestmark = [pytest.mark.long, pytest.mark.slow]

CONFIG = Path(__file__).with_name("schemathesis.toml")
ST = Path(sys.executable).with_name("st")
# Logging out would end the admin's and the user's sessions for the rest of their runs (every
# later request a documented 401): a session of its own is logged out instead. Ending a user's
# sessions (admin) could end the admin's own the same way.
LOGOUT = "/api/v1/auth/logout"
END_SESSIONS = "/api/v1/users/{user_id}/sessions/revoke"
RUNS = {
    "admin": [
        *("--phases", "fuzzing,stateful", "--max-examples", "10"),
        *("--exclude-path", LOGOUT, "--exclude-path", END_SESSIONS),
    ],
    "user": ["--phases", "fuzzing", "--max-examples", "5", "--exclude-path", LOGOUT],
    "none": ["--phases", "fuzzing", "--max-examples", "3"],
    "logout": ["--phases", "fuzzing", "--max-examples", "3", "--include-path", LOGOUT],
}


def _run(base: str, headers: dict[str, str], arguments: list[str], workdir: Path) -> subprocess.Popen[str]:
    command = [str(ST), "--config-file", str(CONFIG), "run", f"{base}/openapi.json", "--checks", "all"]
    command += ["--seed", "1", "--no-color", "--workers", "1", *arguments]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    # Run in a scratch directory: schemathesis keeps a cache of failures in `.schemathesis/`.
    return subprocess.Popen(  # noqa: S603 - schemathesis's console script
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=workdir
    )


def _logged_errors(log_file: Path) -> list[str]:
    errors = []
    for line in log_file.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if str(entry.get("level", "")).lower() in {"error", "critical"}:
            errors.append(line)
    return errors


def test_the_document_holds_for_admin_user_and_anonymous_callers(
    settings: Settings, admin: Caller, shopper: Caller, tmp_path: Path
) -> None:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, RATE_LIMIT_PER_MINUTE="1000000")
    session = credentials.issue_token(
        settings, user_id=shopper.id, role=shopper.role, tier=None, segment=None, now=utcnow()
    )
    callers = {
        "admin": admin.headers,
        "user": shopper.headers,
        "none": {},
        "logout": {"Authorization": f"Bearer {session}"},
    }
    with running_server_logged(env, "--workers", "2") as (base, log_file):
        runs = {who: _run(base, callers[who], arguments, tmp_path) for who, arguments in RUNS.items()}
        outputs = {who: run.communicate(timeout=300)[0] for who, run in runs.items()}
        errors = _logged_errors(log_file)

    for who, run in runs.items():
        assert run.returncode == 0, f"schemathesis as {who}:\n{outputs[who]}"
    assert errors == []
