"""A seller reads its own statement and ledger, never another seller's (docs/sellers.md)."""

from __future__ import annotations

from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.sellers.conftest import Client


async def test_a_seller_reads_its_own_statement_and_ledger_only(
    client: Client, seller: Caller, service_key: dict[str, str]
) -> None:
    for path in ("statement", "statement/entries"):
        own = f"/api/v1/sellers/seller-1/{path}"
        expect_ok(await client.get(own, headers=seller.headers))
        csv = await client.get(own, params={"format": "csv"}, headers=seller.headers)
        assert csv.status_code == 200
        assert csv.headers["content-type"].startswith("text/csv")
        for other in ("seller-2", "seller-1x", "SELLER-1"):
            url = f"/api/v1/sellers/{other}/{path}"
            for params in ({}, {"format": "csv"}):
                found = expect_error(await client.get(url, params=params, headers=seller.headers), 404, "NOT_FOUND")
                assert found["message"] == f"seller {other} not found"
            # A service key (checkout, finance) still reads any seller's.
            expect_ok(await client.get(url, headers=service_key))
