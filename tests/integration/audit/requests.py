"""Asking for and approving change requests in tests (docs/governance.md)."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.expect import expect_ok

Client = AsyncTestClient[Litestar]
RATES = "/api/v1/commission-rates"
CHANGES = "/api/v1/change-requests"
RATE = {
    "category_id": "books",
    "commission_type": "PERCENTAGE",
    "rate": "12.5",
    "currency": "EUR",
    "effective_from": "2025-01-01T00:00:00Z",
}


async def requested(response: httpx.Response) -> str:
    """The id of the change request a write answered 202 with."""
    data = expect_ok(response, 202)
    change_id: str = data["change_request_id"]
    assert data["status"] == "pending"
    return change_id


async def approve(client: httpx.AsyncClient, change_id: str, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post(f"{CHANGES}/{change_id}/approve", json=body or None, headers=headers)
