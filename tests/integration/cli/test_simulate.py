"""`quote-service simulate` against a real server: every kind of request, the price moves it
prints, and on the demo data the moves and decisions it makes itself."""

from __future__ import annotations

import asyncio
import queue
import signal
import socket
import subprocess
import threading
import time
from typing import Any

import asyncpg
import httpx
import pytest

from quote_service.catalog import service as catalog
from quote_service.catalog.schemas import StockAdjust
from quote_service.cli import demo
from quote_service.config import Settings
from tests.integration.conftest import PASSWORD, make_caller
from tests.integration.flash import at
from tests.integration.servers import CLI, cli_env, running_server

pytestmark = [pytest.mark.long, pytest.mark.slow]


async def test_simulate_sends_every_kind_and_reports_price_moves(
    settings: Settings, password_hash: str, pool: asyncpg.Pool
) -> None:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    admin = await make_caller(settings, password_hash, "boss", "admin")
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
    # An audience, not one shopper: many customers, each in the experiment's arm its id buckets to.
    logged = await pool.fetch("SELECT customer_id, experiments ->> 'banner' AS arm FROM quote_log")
    arms = {row["customer_id"]: row["arm"] for row in logged}
    assert len(arms) >= 10, sorted(arms)
    assert set(arms.values()) == {"control", "savings"}, arms
    purchases = await pool.fetchval("SELECT count(DISTINCT customer_id) FROM flash_purchases")
    assert purchases > 1
    ordered = await pool.fetchval("SELECT count(DISTINCT customer_id) FROM orders")
    assert ordered > 1
    assert await pool.fetchval("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL") == 0  # its key is revoked
    # Half of each flash item's units are left for the people at the store: of "Few left"'s 4, at most 2 sold.
    few_left = """SELECT coalesce(sum(p.quantity), 0) FROM flash_purchases p
                  JOIN flash_sales s ON s.id = p.flash_sale_id WHERE s.name = 'Few left'"""
    assert await pool.fetchval(few_left) <= 2


BANNER = {
    "key": "banner",
    "name": "Banner A/B test",
    "type": "STRING",
    "value": "control",
    "rollout": {
        "variants": [
            {"key": "control", "weight": 50, "value": "control"},
            {"key": "savings", "weight": 50, "value": "savings"},
        ]
    },
}


def drive(env: dict[str, str], admin: dict[str, str]) -> str:
    """A server with three products and two flash sales (one of 4 units); simulate for 6 s; a manual
    price move meanwhile."""
    with running_server(env) as base, httpx.Client(base_url=base, timeout=10) as http:
        ids: list[str] = []
        for sku, price in (("A-1", "100.00"), ("B-1", "40.00"), ("C-1", "30.00")):
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
        item = {"product_id": ids[2], "flash_price": "20.00", "allocated_stock": 4, "per_user_limit": 2}
        few = {"name": "Few left", "starts_at": at(-1), "ends_at": at(60), "items": [item]}
        assert http.post("/api/v1/flash-sales", json=few, headers=admin).status_code == 201
        assert http.post("/api/v1/feature-flags", json=BANNER, headers=admin).status_code == 201
        command = [*CLI, "simulate", "--base-url", base, "--rate", "15", "--duration", "6", "--decide-every", "0"]
        command += ["--admin", f"boss:{PASSWORD}"]
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


BOUND = 90.0
"""Seconds the demo run may take to show a price move and a decision (a bound, not a guess: the
test goes on as soon as both are printed)."""


async def test_simulate_on_the_demo_moves_prices_and_decides(settings: Settings, pool: asyncpg.Pool) -> None:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    await demo.seed_demo(settings, pool)
    # The HDMI cable closest to the low threshold of all: the bestseller, were it not left alone.
    hdmi = await pool.fetchval("SELECT id FROM products WHERE sku = 'DEMO-ELEC-006'")
    await catalog.adjust_stock(pool, hdmi, StockAdjust(delta=-39, reason="test: nearly sold out"), actor="test")
    walkthrough = "SELECT sku, current_price, stock FROM products WHERE sku = any($1::text[]) ORDER BY sku"
    before = await pool.fetch(walkthrough, list(demo.WALKTHROUGH_SKUS))
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING")
    lines = await asyncio.to_thread(run_until_moved, env)
    assert any(line.startswith("price move: ") for line in lines), lines
    assert any(line.startswith("decision: ") for line in lines), lines
    summary = lines[-1]
    assert summary.startswith("simulate: "), lines
    assert " 0 price moves" not in summary, summary
    assert " 0 decisions proposed" not in summary, summary
    # The README's first quote and the repricing walkthrough keep their prices and stock.
    assert await pool.fetch(walkthrough, list(demo.WALKTHROUGH_SKUS)) == before


def run_until_moved(env: dict[str, str]) -> list[str]:
    """Serve the seeded demo, simulate until it printed a price move and a decision, then Ctrl-C it."""
    with running_server(env) as base:
        command = [*CLI, "simulate", "--base-url", base, "--rate", "10", "--duration", "600", "--decide-every", "2"]
        with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as sim:  # noqa: S603
            printed = _lines_of(sim)
            seen: list[str] = []
            deadline = time.monotonic() + BOUND
            while not (_has(seen, "price move: ") and _has(seen, "decision: ")):
                try:
                    line = printed.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise AssertionError(f"no price move and decision within {BOUND:g} s:\n{''.join(seen)}") from None
                assert line is not None, f"simulate ended early (exit {sim.wait()}):\n{''.join(seen)}"
                seen.append(line)
            sim.send_signal(signal.SIGINT)
            while (line := printed.get(timeout=30)) is not None:
                seen.append(line)
            assert sim.wait(timeout=30) == 0, "".join(seen)
    return [line.rstrip("\n") for line in seen]


def _lines_of(process: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The process's output lines as they come (None at its end), read by a thread."""
    assert process.stdout is not None
    stdout = process.stdout
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _has(lines: list[str], prefix: str) -> bool:
    return any(line.startswith(prefix) for line in lines)


def test_simulate_talks_to_base_when_no_base_url_is_given() -> None:
    """A reader who ran `make run PORT=8001` and set BASE to match is not sent to port 8000."""
    with socket.socket() as probe:  # a port nothing listens on: the refusal names where it went
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    command = [*CLI, "simulate", "--rate", "1", "--duration", "1"]
    ran = subprocess.run(command, env=cli_env(BASE=closed), capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert f"simulate cannot reach {closed}:" in ran.stderr
    given = subprocess.run(  # noqa: S603
        [*command, "--base-url", closed + "/"],
        env=cli_env(BASE="http://127.0.0.1:1"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert f"simulate cannot reach {closed}/:" in given.stderr
