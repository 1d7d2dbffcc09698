"""HTTP: /api/v1/repricing — the inventory repricer's decisions (admin)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from uuid import UUID

import asyncpg
from litestar import get
from litestar.params import FromQuery

from quote_service.auth.guards import AdminController
from quote_service.db.rows import row_as
from quote_service.pagination import Keyset, Page, by_created
from quote_service.pricing.money import round_money
from quote_service.repricing import repository
from quote_service.repricing.schemas import Reason, RepricingEvent
from quote_service.web.deps import ListingDep
from quote_service.web.envelope import Envelope, ok


def event_from_row(row: asyncpg.Record) -> RepricingEvent:
    currency = row["currency"]
    return row_as(
        RepricingEvent,
        row,
        old_price=round_money(row["old_price"], currency),
        new_price=round_money(row["new_price"], currency),
    )


class RepricingController(AdminController):
    path = "/api/v1/repricing"

    @get("/events", summary="Inventory repricing decisions, newest first (keyset-paginated)")
    async def events(
        self,
        listing: ListingDep,
        product_id: FromQuery[UUID | None] = None,
        reason: FromQuery[Reason | None] = None,
    ) -> Envelope[Page[RepricingEvent]]:
        fetch = partial(repository.list_events, product_id=product_id, reason=reason)
        return ok(
            await listing.page(
                "repricing-events",
                fetch,
                event_from_row,
                Keyset(by_created, tuple[datetime, int], "before"),
            )
        )
