"""The container image itself, built and run: deploy/build-offline.sh builds the Dockerfile with
buildah (no Docker daemon, no image registry: a debootstrapped Debian base, uv's wheel from PyPI,
this machine's CA bundle as the build secret) and runs it with podman against a fresh database of
this session and its Redis, with ENVIRONMENT=production: migrate, ready, a quote with a service
key, an order and its replay, SIGTERM. The script checks what it sees over HTTP; this test then
reads PostgreSQL for what the container did.

It needs root and buildah, podman, runc and debootstrap (`.ci/run` installs them); without them it
skips, which `QS_REQUIRE_ALL_SUITES=1` (CI) turns into a failure. A cold build (a new base image,
uv and every package downloaded) takes a few minutes; the script caches all of it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from quote_service.db.migrate import load_migrations, migrations_dir
from tests.integration.test_container_contract import ROOT, parse_dockerfile

pytestmark = [pytest.mark.long, pytest.mark.slow]

SCRIPT = ROOT / "deploy" / "build-offline.sh"
TOOLS = ("buildah", "podman", "runc", "debootstrap", "curl")
BUILD_AND_RUN_TIMEOUT = 1800
MakeDatabase = Callable[[], Awaitable[str]]


def _unavailable() -> str:
    """Why the image cannot be built here, or ''."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not installed (Debian: apt-get install buildah podman runc debootstrap curl)"
    if os.geteuid() != 0:
        return "buildah's vfs storage and chroot isolation need root"
    return ""


def _image_uid() -> int:
    return int(parse_dockerfile(ROOT / "Dockerfile").final.last("USER").split(":")[0])


@pytest.mark.timeout(BUILD_AND_RUN_TIMEOUT + 60)
async def test_the_image_built_offline_serves_a_quote_and_an_order(
    make_database: MakeDatabase, single_redis_url: str, tmp_path: Path
) -> None:
    if problem := _unavailable():
        pytest.skip(problem)
    database_url = await make_database()  # empty: the container's `migrate` creates the schema
    report = tmp_path / "report.json"
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": single_redis_url, "QS_IMAGE_REPORT": str(report)}

    result = await asyncio.to_thread(
        subprocess.run,
        [str(SCRIPT)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_AND_RUN_TIMEOUT,
        check=False,
    )

    print(result.stderr[-6000:])  # the figures: build time, size, layers (pytest -s, or on failure)
    assert result.returncode == 0, f"deploy/build-offline.sh exited {result.returncode}:\n{result.stderr[-8000:]}"
    seen = json.loads(report.read_text())
    assert seen["uid"] == _image_uid() != 0, "the service runs as the image's unprivileged user"
    assert seen["exit_code"] == 0, "SIGTERM stops the service cleanly"
    assert seen["ready"]["status"] == "ready"

    quote, order = seen["quote"], seen["order"]
    parts = ("subtotal", "tax_amount", "delivery_fee", "small_basket_fee")
    assert Decimal(quote["total_amount"]) == sum(Decimal(quote[p]) for p in parts) - Decimal(quote["discount_amount"])
    # 2 x 25.50 priced by the client, express, nothing configured: docs/pricing.md's example.
    assert (quote["subtotal"], quote["tax_amount"], quote["delivery_fee"], quote["total_amount"]) == (
        "51.00", "9.18", "20.00", "80.18",
    )  # fmt: skip
    assert seen["replay"]["id"] == order["id"], "the same Idempotency-Key gives the same order"

    conn = await asyncpg.connect(database_url)
    try:
        applied = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        orders = await conn.fetch("SELECT id, quote_id, total_amount, currency, created_by FROM orders")
        logged = await conn.fetchrow("SELECT total_amount FROM quote_log WHERE quote_id = $1", quote["quote_id"])
        key = await conn.fetchrow("SELECT role, revoked_at FROM api_keys WHERE name = 'image-check'")
    finally:
        await conn.close()
    assert [row["version"] for row in applied] == [m.version for m in load_migrations(migrations_dir())]
    assert [(str(o["id"]), str(o["quote_id"]), o["total_amount"], o["currency"], o["created_by"]) for o in orders] == [
        (order["id"], quote["quote_id"], Decimal("80.18"), "TRY", "api-key:image-check")
    ], "one order, the quote's, placed with the service key made in the container"
    assert logged is not None, "the answered quote reached the quote log before the container stopped"
    assert logged["total_amount"] == Decimal("80.18")
    assert key is not None
    assert key["role"] == "service"
