"""A tax extension that dies mid-load (docs/extensions.md#failures): a real `quote-service serve` on private
PostgreSQL and Redis calls the example tax engine (examples/tax_extension.py, its own process), which the
test kills with SIGKILL while quotes stream in, then starts again.

What must hold: with `on_failure: fallback` no quote fails — every one is answered 200, priced by the
engine while it lives (`tax_source: extension`) and by the service's own rules with a warning after.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.doc_blocks import ROOT
from tests.faults.private import PrivatePostgres, PrivateRedis, free_port, service_env, serving
from tests.faults.scenario import QUOTE, basket, seed
from tests.waiting import until

pytestmark = pytest.mark.slow  # ~16 s: a service process and the engine started twice

CONCURRENCY = 8


@contextmanager
def tax_engine(port: int, secret: str) -> Iterator[subprocess.Popen[bytes]]:
    """The example tax engine as its own process on `port`."""
    process = subprocess.Popen(  # noqa: S603 - our own example
        [sys.executable, str(ROOT / "examples" / "tax_extension.py"), "--port", str(port), "--secret", secret],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.kill()
        process.wait()


async def listening(port: int) -> bool | None:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    writer.close()
    return True


async def test_quotes_never_fail_while_a_fallback_extension_dies_and_comes_back(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    env = service_env(private_pg.url, private_redis.url, WEBHOOK_ALLOW_PRIVATE="true", LOG_LEVEL="WARNING")
    port = free_port()
    with serving(env) as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=10) as http:
            data = await seed(http, private_pg.url)
            body = {"kind": "tax", "url": f"http://127.0.0.1:{port}/tax", "timeout_ms": 300}
            made = await http.post("/api/v1/extensions", json=body, headers=data.admin)
            assert made.status_code == 201, made.text
            secret = made.json()["data"]["secret"]
            answers: list[dict[str, Any]] = []
            failures: list[str] = []
            phase = {"name": "alive"}

            async def client(worker: int) -> None:
                n = worker
                while phase["name"] != "done":
                    response = await http.post(QUOTE, json=basket(n, data.products, f"c-{n}"), headers=data.service_key)
                    n += CONCURRENCY
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text}")
                        continue
                    answers.append({"phase": phase["name"], **response.json()["data"]})

            with tax_engine(port, secret) as engine:
                await until(lambda: listening(port), "the tax engine listens")
                workers = [asyncio.create_task(client(w)) for w in range(CONCURRENCY)]
                await until(lambda: len(answers) >= 40 or None, "quotes while the engine lives", within=30)
                engine.kill()  # mid-load: connections cut, then refused
                engine.wait()
                phase["name"] = "dead"
                at_death = len(answers)
                await until(lambda: len(answers) >= at_death + 80 or None, "quotes after it died", within=30)
            with tax_engine(port, secret):
                await until(lambda: listening(port), "the tax engine listens again")
                phase["name"] = "back"
                at_return = len(answers)
                await until(lambda: len(answers) >= at_return + 40 or None, "quotes after it came back", within=30)
                phase["name"] = "done"
                await asyncio.gather(*workers)

    assert failures == []
    alive = [a for a in answers if a["phase"] == "alive"]
    dead = [a for a in answers if a["phase"] == "dead"]
    assert any(a["tax_source"] == "extension" for a in alive)
    # Dead: each quote priced by the service's rules, with the warning (a call in flight at the kill too).
    assert dead
    assert all(a["tax_source"] == "internal" for a in dead[CONCURRENCY:])
    assert all(a["warnings"][0]["code"] == "EXTENSION_FALLBACK" for a in dead[CONCURRENCY:])
    for answer in answers:  # whichever source, the totals are exact sums
        parts = [Decimal(answer[k]) for k in ("subtotal", "tax_amount", "delivery_fee", "small_basket_fee")]
        assert Decimal(answer["total_amount"]) == sum(parts, -Decimal(answer["discount_amount"]))
