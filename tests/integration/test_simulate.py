"""`quote-service simulate` against a real server: every kind of request, and the price moves."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any

import httpx
import pytest

from quote_service.config import Settings
from tests.integration.conftest import PASSWORD, make_caller
from tests.integration.flash import at
from tests.integration.servers import CLI, cli_env, running_server

pytestmark = pytest.mark.slow


async def test_simulate_sends_every_kind_and_reports_price_moves(settings: Settings, password_hash: str) -> None:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    admin = await make_caller(settings, password_hash, "boss", "admin")
    await make_caller(settings, password_hash, "ayse", "user")
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING")
    out = await asyncio.to_thread(drive, env, admin.headers)
    moves = [line for line in out.splitlines() if line.startswith("price move: Item A-1 ")]
    assert len(moves) == 1, out
    assert "→ 111" in moves[0], out
    assert "(manual: manual update)" in moves[0], out
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("simulate: "), out
    for kind in ("quotes", "orders", "flash purchases"):
        count = summary.split(f"{kind} ")[1].split(" ")[0]
        assert int(count) > 0, summary
    assert "price moves" in summary
    assert " 0 price moves" not in summary


def drive(env: dict[str, str], admin: dict[str, str]) -> str:
    """A server with two products and a flash sale; simulate for 6 s; a manual price move meanwhile."""
    with running_server(env) as base, httpx.Client(base_url=base, timeout=10) as http:
        ids: list[str] = []
        for sku, price in (("A-1", "100.00"), ("B-1", "40.00")):
            body: dict[str, Any] = {
                "sku": sku, "name": f"Item {sku}", "category_id": "c1", "seller_id": "s1", "currency": "TRY",
                "base_price": price, "min_price": "10.00", "stock": 500,
            }  # fmt: skip
            response = http.post("/api/v1/products", json=body, headers=admin)
            assert response.status_code == 201, response.text
            ids.append(response.json()["data"]["id"])
        sale = {
            "name": "Sim sale",
            "starts_at": at(-1),
            "ends_at": at(60),
            "items": [{"product_id": ids[1], "flash_price": "20.00", "allocated_stock": 100, "per_user_limit": 2}],
        }
        assert http.post("/api/v1/flash-sales", json=sale, headers=admin).status_code == 201
        command = [*CLI, "simulate", "--base-url", base, "--rate", "15", "--duration", "6"]
        command += ["--admin", f"boss:{PASSWORD}", "--shopper", f"ayse:{PASSWORD}"]
        with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as sim:  # noqa: S603
            assert sim.stdout is not None
            # Printed once the simulator has its baseline of moves: any move from now on is news to it.
            first = sim.stdout.readline()
            assert first.startswith("simulate: "), first
            patch = {"current_price": "111.00"}
            assert http.patch(f"/api/v1/products/{ids[0]}", json=patch, headers=admin).status_code == 200
            out, _ = sim.communicate(timeout=60)
        assert sim.returncode == 0, out
        return first + out
