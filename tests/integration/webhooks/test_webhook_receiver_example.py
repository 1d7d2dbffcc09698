"""The receiver example of docs/webhooks.md, run as written against real deliveries: it prints
each verified event once, skips a delivery sent again under the same webhook-id, and refuses a
forged one with 401, and applies no stale state from an event that arrives after a newer one of
the same resource."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from standardwebhooks import Webhook

from quote_service.config import Settings
from tests.doc_blocks import ROOT, fenced_blocks
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.webhooks.test_webhooks_api import WEBHOOKS, deliveries, subscribe
from tests.waiting import until
from tests.webhook_receiver import free_port

Client = AsyncTestClient[Litestar]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, webhook_allow_private=True, webhook_poll_interval=0.05)


def example_code() -> str:
    [block] = [b for b in fenced_blocks(ROOT / "docs" / "webhooks.md") if b.language == "python"]
    return block.code


class ExampleProcess:
    def __init__(self, port: int, secret: str) -> None:
        self.port = port
        folder = Path(tempfile.mkdtemp(prefix="qs-receiver-example-"))
        (folder / "receiver.py").write_text(example_code())
        self.output = folder / "output.txt"
        self._sink = self.output.open("wb")
        env = {"WEBHOOK_SECRET": secret, "PORT": str(port), "HOST": "127.0.0.1", "PATH": "/usr/bin:/bin"}
        self.process = subprocess.Popen(  # noqa: S603 - the docs' own example
            [sys.executable, str(folder / "receiver.py")], env=env, stdout=self._sink, stderr=subprocess.DEVNULL
        )

    def lines(self) -> list[str]:
        return self.output.read_text().splitlines()

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self._sink.close()


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def example(port: int) -> Iterator[list[ExampleProcess]]:
    started: list[ExampleProcess] = []
    yield started
    for process in started:
        process.close()


async def test_the_documented_receiver_verifies_dedupes_and_refuses_forgeries(
    client: Client, admin: Caller, port: int, example: list[ExampleProcess]
) -> None:
    hook = await subscribe(client, admin, f"http://127.0.0.1:{port}/hooks", ["config.changed"])
    receiver = ExampleProcess(port, hook["secret"])
    example.append(receiver)
    async with httpx.AsyncClient(timeout=1) as http:

        async def listening() -> bool:  # the example's port opens once its interpreter is up
            try:
                await http.get(f"http://127.0.0.1:{port}/")
            except httpx.TransportError:
                return False
            return True

        await until(listening, "the example listening")
    coupon = {"code": "DOCS1", "type": "PERCENTAGE", "value": "5", "valid_from": "2024-01-01T00:00:00Z"}
    expect_ok(await client.post("/api/v1/coupons", json=coupon, headers=admin.headers), 201)

    async def delivered() -> bool:
        items = (await deliveries(client, admin, hook["id"]))["items"]
        return bool(items) and items[0]["status"] == "delivered"

    await until(delivered, "the delivery answered by the example")
    [row] = (await deliveries(client, admin, hook["id"]))["items"]
    assert row["last_status_code"] == 204
    await until(lambda: len(receiver.lines()) == 1, "the example's line for the event")
    assert receiver.lines()[0].startswith(f"{row['id']} config.changed ")
    assert '"entity_id": "DOCS1"' in receiver.lines()[0]

    expect_ok(await client.post(f"{WEBHOOKS}/{hook['id']}/deliveries/{row['id']}/retry", headers=admin.headers))
    await until(lambda: len(receiver.lines()) == 2, "the example's line for the repeat")
    assert receiver.lines()[1] == f"{row['id']} seen before: skipped"

    async with httpx.AsyncClient(timeout=5) as http:
        forged = await http.post(
            f"http://127.0.0.1:{port}/hooks",
            content=b'{"type":"order.created","timestamp":"2024-01-01T00:00:00Z","data":{}}',
            headers={
                "webhook-id": "msg_forged",
                "webhook-timestamp": str(int(time.time())),
                "webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            },
        )
    assert forged.status_code == 401
    assert len(receiver.lines()) == 2

    # Two changes of one coupon arriving newest first: the older one's state is not applied.
    for webhook_id, sequence, action in (("msg_newer", 10**12 + 2, "delete"), ("msg_older", 10**12 + 1, "update")):
        data = {"sequence": sequence, "entity_type": "coupon", "entity_id": "DOCS1", "action": action}
        sent = await send_signed(port, hook["secret"], webhook_id, {"type": "config.changed", "data": data})
        assert sent.status_code == 204
    await until(lambda: len(receiver.lines()) == 4, "the example's lines for the two")
    assert receiver.lines()[2].startswith("msg_newer config.changed ")
    assert receiver.lines()[3] == "msg_older older than coupon DOCS1's state: not applied"


async def send_signed(port: int, secret: str, webhook_id: str, event: dict[str, Any]) -> httpx.Response:
    """A delivery signed with the subscription's secret, as the service signs one."""
    body = json.dumps({**event, "timestamp": "2024-01-01T00:00:00Z"})
    now = datetime.now(UTC)
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
        "content-type": "application/json",
    }
    async with httpx.AsyncClient(timeout=5) as http:
        return await http.post(f"http://127.0.0.1:{port}/hooks", content=body, headers=headers)
