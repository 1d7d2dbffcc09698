"""The receiver example of docs/webhooks.md, run as written against real deliveries: it prints
each verified event once, skips a delivery sent again under the same webhook-id, refuses a forged
one with 401, applies no stale state from an event that arrives after a newer one of the same
resource, handles every type the service sends (the registry, webhooks/events.py) and answers a
delivery it could not handle with a non-2xx, so that the service sends it again."""

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
from quote_service.webhooks.events import SENT_TYPES
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


async def started(port: int, secret: str, example: list[ExampleProcess]) -> ExampleProcess:
    """The example, running and listening on `port`."""
    receiver = ExampleProcess(port, secret)
    example.append(receiver)
    async with httpx.AsyncClient(timeout=1) as http:

        async def listening() -> bool:  # the example's port opens once its interpreter is up
            try:
                await http.get(f"http://127.0.0.1:{port}/")
            except httpx.TransportError:
                return False
            return True

        await until(listening, "the example listening")
    return receiver


async def test_the_documented_receiver_verifies_dedupes_and_refuses_forgeries(
    client: Client, admin: Caller, port: int, example: list[ExampleProcess]
) -> None:
    hook = await subscribe(client, admin, f"http://127.0.0.1:{port}/hooks", ["config.changed"])
    receiver = await started(port, hook["secret"], example)
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


ORDER = {"id": "5f0c7a52-3b7e-4d43-9a57-0f1f2d3c4b5a", "status": "confirmed", "refunded_amount": "0.00"}
REFUND = {"id": "8a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "amount": "30.09", "lines": []}
AT = "2026-01-02T03:04:05.000000Z"
PAYOUT = {"id": "2b3c", "seller_id": "s-1", "amount": "90.04", "currency": "TRY", "status": "pending", "entries": []}
SAMPLES: dict[str, dict[str, Any]] = {
    "order.created": {"sequence": 101, "order": ORDER},
    "order.cancelled": {"sequence": 140, "order": {**ORDER, "status": "cancelled"}, "refund": REFUND},
    "order.refunded": {"sequence": 117, "order": {**ORDER, "id": "0b9e", "refunded_amount": "30.09"}, "refund": REFUND},
    "order.edited": {
        "sequence": 150, "order": {**ORDER, "id": "7c3e", "revision": 2},
        "edit": {"edit_id": "e-1", "revision": 2, "difference_due": "14.16", "at": AT, "refund_id": None},
    },
    "product.price_changed": {
        "sequence": 7, "product_id": "p-1", "currency": "TRY", "old_price": "10.00", "new_price": "12.00",
        "source": "manual", "reason": None, "actor": "admin", "ref_id": None, "changed_at": AT,
    },
    "offer.updated": {
        "sequence": 17, "offer": {"id": "o-1", "product_id": "p-1", "seller_id": "seller-b", "current_price": "35.00"},
    },
    "flash_sale.sold_out": {
        "sequence": 8, "flash_sale_id": "f-1", "name": "Spring", "product_id": "p-1", "allocated_stock": 5, "sold": 5,
    },
    "experiment.rolled_back": {
        "sequence": 9, "key": "new-checkout", "flag_id": "g-1", "reason": "guardrail", "actor": "guardrail",
        "rolled_back_at": AT,
    },
    "reservation.expired": {"sequence": 10, "quote_id": "q-1", "customer_id": "c-1", "expires_at": AT, "lines": []},
    "config.changed": {"sequence": 11, "entity_type": "coupon", "entity_id": "SPRING", "action": "create"},
    "webhook.disabled": {
        "sequence": 12, "webhook_id": "w-1", "url": "https://erp.example/hook", "failing_since": AT,
        "disabled_reason": "every delivery attempt failed since ...", "disabled_at": AT,
    },
    "flag.potentially_stale": {
        "sequence": 13, "flag_id": "g-2", "key": "old-banner", "lifecycle": "potentially_stale",
        "unchanged_since": AT, "stale_flag_days": 30,
    },
    "payout.created": {"sequence": 14, "payout": PAYOUT},
    "payout.paid": {"sequence": 15, "payout": {**PAYOUT, "status": "paid", "reference": "TR-1"}},
    "payout.failed": {"sequence": 16, "payout": {**PAYOUT, "id": "3c4d", "status": "failed"}},
    "webhook.test": {"webhook_id": "w-1"},
}  # fmt: skip
"""A delivery of each type as docs/webhooks.md#events describes it."""


async def test_the_documented_receiver_handles_every_type_the_service_sends(
    client: Client, admin: Caller, port: int, example: list[ExampleProcess]
) -> None:
    assert set(SAMPLES) == set(SENT_TYPES), "a new event type: add its sample here, and handle it in the docs' receiver"
    hook = await subscribe(client, admin, f"http://127.0.0.1:{port}/hooks", ["*"])
    receiver = await started(port, hook["secret"], example)

    # The service's own test ping first: its data has no sequence.
    ping = expect_ok(await client.post(f"{WEBHOOKS}/{hook['id']}/test", headers=admin.headers))
    assert (ping["delivered"], ping["status_code"]) == (True, 204)
    for n, (kind, data) in enumerate(SAMPLES.items()):
        sent = await send_signed(port, hook["secret"], f"msg_{n}", {"type": kind, "data": data})
        assert sent.status_code == 204, kind
    unknown = await send_signed(port, hook["secret"], "msg_new", {"type": "order.exploded", "data": {"sequence": 1}})
    assert unknown.status_code == 204, "a type added after the receiver was written: answered, ignored"

    expected = [f"{ping['message_id']} webhook.test ", *(f"msg_{n} {kind} " for n, kind in enumerate(SAMPLES))]
    await until(lambda: len(receiver.lines()) == len(expected) + 1, "a line for every delivery")
    lines = receiver.lines()
    for line, start in zip(lines, expected, strict=False):
        assert line.startswith(start), (line, start)
    assert lines[-1] == "msg_new order.exploded: a type this receiver does not know, ignored"


async def test_a_delivery_the_documented_receiver_cannot_handle_is_answered_non_2xx_and_handled_when_sent_again(
    client: Client, admin: Caller, port: int, example: list[ExampleProcess]
) -> None:
    hook = await subscribe(client, admin, f"http://127.0.0.1:{port}/hooks", ["*"])
    receiver = await started(port, hook["secret"], example)

    broken = await send_signed(port, hook["secret"], "msg_1", {"type": "order.created", "data": {"sequence": 5}})
    assert broken.status_code == 500, "not handled: the service must send it again, so no 2xx"
    whole = {"type": "order.created", "data": SAMPLES["order.created"]}
    again = await send_signed(port, hook["secret"], "msg_1", whole)
    assert again.status_code == 204

    lines = receiver.lines()
    assert lines[0] == "msg_1 not handled: KeyError('order')"
    assert lines[1].startswith("msg_1 order.created "), "the id was not marked handled by the failed attempt"
    assert len(lines) == 2


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
