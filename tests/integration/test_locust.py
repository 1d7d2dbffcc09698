"""The load test itself: the documented headless locust command against a real `serve --demo`.

Runs loadtests/locustfile.py for a few seconds with a handful of users (checkout, flash buyers,
the admin) and checks that the run is clean and complete: exit code 0 (locust's
`--exit-code-on-error 1` turns any failure into 1), CSV and HTML reports written, requests on
every scenario's endpoints, no failure at all; and that the test cleaned up after itself.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from quote_service.config import Settings
from tests.integration.servers import cli_env, running_server

pytestmark = [pytest.mark.long, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
_SCRIPT = Path(sys.executable).with_name("locust")
LOCUST = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "locust"]
RUN_SECONDS = 12
ENDPOINTS = (
    "POST /api/v1/quote",
    "POST /api/v1/orders",
    "POST /api/v1/flash-sales/{id}/purchases",
    "PUT /api/v1/pricing-rules/{id}",
    "PUT /api/v1/feature-flags/{id}",
    "POST /api/v1/products/{id}/stock",
)
ADMIN = {"username": "demo-admin", "password": "quote-service-admin"}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as source:
        return list(csv.DictReader(source))


def test_the_documented_headless_run_is_clean_and_covers_every_scenario(settings: Settings, tmp_path: Path) -> None:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    server_env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING")
    reports = tmp_path / "reports"
    # Short think times and intervals so a 12 s run has every kind of request; set through the
    # environment (LOCUST_*) and the command line, the two ways the README documents.
    locust_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")},
        "LOCUST_THINK_MIN": "0.1",
        "LOCUST_THINK_MAX": "0.4",
        "LOCUST_ADMIN_INTERVAL": "1",
        "LOCUST_RESTOCK_BELOW": "100000",  # every product counts as low: each restock action restocks
    }
    with running_server(server_env, "--demo") as base:
        # The documented command, with a small user count and a short run.
        command = [
            *LOCUST, "-f", str(LOCUSTFILE), "--headless", "-u", "8", "-r", "8", "-t", f"{RUN_SECONDS}s",
            "--host", base, "--csv", str(reports / "locust"), "--html", str(reports / "locust.html"),
            "--exit-code-on-error", "1", "--only-summary", "--flash-interval", "2", "--flash-burst", "4",
        ]  # fmt: skip
        done = subprocess.run(  # noqa: S603 - locust from this virtualenv
            command, env=locust_env, cwd=ROOT, capture_output=True, text=True, timeout=RUN_SECONDS + 60, check=False
        )
        output = done.stdout + done.stderr
        with httpx.Client(base_url=base, timeout=10) as http:
            token = http.post("/api/v1/auth/token", json=ADMIN).json()["data"]["access_token"]
            admin = {"Authorization": f"Bearer {token}"}
            flag = http.get("/api/v1/feature-flags/key/dynamic_pricing", headers=admin).json()["data"]
            keys = http.get("/api/v1/api-keys", headers=admin).json()["data"]["items"]
            active = http.get("/api/v1/flash-sales", params={"status": "active"}, headers=admin).json()["data"]

    assert done.returncode == 0, output
    assert "load test ready" in output, output
    stats_file, failures_file = reports / "locust_stats.csv", reports / "locust_failures.csv"
    for path in (stats_file, failures_file, reports / "locust.html", reports / "locust_outcomes.csv"):
        assert path.is_file(), f"{path.name} missing\n{output}"
        assert path.stat().st_size > 0, f"{path.name} empty\n{output}"
    assert "POST /api/v1/quote" in (reports / "locust.html").read_text(encoding="utf-8")

    stats = {row["Name"]: row for row in _rows(stats_file)}
    for name in ENDPOINTS:
        assert name in stats, f"no {name} requests\n{output}"
        assert int(stats[name]["Request Count"]) > 0, f"no {name} requests\n{output}"
    assert int(stats["Aggregated"]["Failure Count"]) == 0, output
    assert _rows(failures_file) == [], output
    outcomes = {(row["Name"], row["Outcome"]) for row in _rows(reports / "locust_outcomes.csv")}
    assert not [o for o in outcomes if o[1].startswith("FAILED")], outcomes
    assert ("POST /api/v1/quote", "200") in outcomes

    # Cleanup: the flag is back to its seeded value, the test's API keys are revoked, and the
    # flash sale it created (the demo sale starts only a minute after seeding) has ended.
    assert flag["value"] is True
    assert flag["is_enabled"] is True
    ours = [key for key in keys if key["name"].startswith("locust-")]
    assert ours
    assert all(key["revoked_at"] for key in ours), ours
    assert [sale["name"] for sale in active["items"] if sale["name"].startswith("locust flash sale")] == []
