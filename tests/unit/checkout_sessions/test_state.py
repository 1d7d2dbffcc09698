"""A session's state after an update (quote_service/checkout_sessions/state.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from quote_service.checkout_sessions.schemas import Changes, Group, Option, State, Summary
from quote_service.checkout_sessions.state import changed

SELLERS = [f"seller-{n:04d}" for n in (7, 3, 11, 1, 42, 5, 19, 2, 8, 30)]


def test_one_option_for_every_shipment_follows_the_shipments_order() -> None:
    """The answer's messages about the sellers follow `shipping`'s order: it must not depend on the
    process's hash seed (a set of seller ids did: two workers, two answers to one update)."""
    day = datetime(2026, 11, 28, tzinfo=UTC)
    standard = Option(id="standard", title="Standard", amount=0, earliest=day, latest=day)
    groups = [
        Group(seller_id=s, line_ids=[f"l{n}"], options=[standard], selected=None, fee=0) for n, s in enumerate(SELLERS)
    ]
    groups.insert(3, Group(seller_id="seller-none", line_ids=["x"], options=[], selected=None, fee=0))  # offers none
    state = State(summary=Summary(groups=groups))
    after = changed(state, Changes(shipping_all="standard"))
    assert list(after.shipping) == SELLERS
    assert set(after.shipping.values()) == {"standard"}


def test_with_no_shipment_offering_options_the_chosen_sellers_keep_their_order() -> None:
    state = State(shipping=dict.fromkeys(reversed(SELLERS), "express"))
    after = changed(state, Changes(shipping_all="standard"))
    assert list(after.shipping) == list(reversed(SELLERS))
    assert set(after.shipping.values()) == {"standard"}
