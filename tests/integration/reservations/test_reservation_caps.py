"""How much one customer may hold, and a hold moved to a refreshed quote (docs/reservations.md).

A customer holds at most MAX_HELD_UNITS_PER_PRODUCT units of a product and MAX_ACTIVE_RESERVATIONS
live reservations, across all its quotes, whoever asks for it (its shopper token, or a service key
stating its customer_id); beyond → 409 HOLD_LIMIT_EXCEEDED naming the line, nothing held. A quote
with `replaces_quote_id` takes over the customer's live hold in one step: its units counted once,
never free for anyone else in between. The races go to a real server (servers.race_server).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.orders.test_orders_concurrency import outcomes
from tests.integration.reservations.test_reservations import (
    QUOTE,
    Client,
    Clock,
    basket,
    clock,
    order,
    reservation_url,
    reserve,
    timed,
    units,
)
from tests.integration.servers import RaceServer, race_server

__all__ = ["clock", "timed"]  # fixtures, shared with test_reservations


def refresh(
    client: Client | httpx.AsyncClient,
    headers: dict[str, str],
    customer: str,
    *lines: tuple[dict[str, Any], int],
    replaces: str,
    **fields: Any,
) -> Any:
    """A reserving quote of `lines` for `customer` taking over the hold of quote `replaces`."""
    body = {**basket(customer, *lines), "replaces_quote_id": replaces, **fields}
    return client.post(QUOTE, json=body, headers=headers)


async def status_of(client: Client, headers: dict[str, str], quote: dict[str, Any]) -> str:
    reservation = expect_ok(await client.get(reservation_url(quote["quote_id"]), headers=headers))
    return str(reservation["status"])


# --- the caps ------------------------------------------------------------------------------------


async def test_one_quote_over_the_unit_cap_is_refused_naming_its_line_and_holds_nothing(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    cap = settings.max_held_units_per_product
    small = await create_product(client, admin, stock=5 * cap)
    large = await create_product(client, admin, stock=5 * cap)

    response = await client.post(QUOTE, json=basket("alice", (small, 1), (large, cap + 1)), headers=service_key)

    refused = expect_error(response, 409, "HOLD_LIMIT_EXCEEDED")
    assert list(field_errors(refused)) == ["items[1].quantity"]
    assert f"at most {cap} units" in field_errors(refused)["items[1].quantity"]
    assert await units(client, admin, small) == (5 * cap, 0, 5 * cap)  # nothing of the basket is held
    assert await units(client, admin, large) == (5 * cap, 0, 5 * cap)
    await reserve(client, service_key, (large, cap), customer="alice")  # the cap itself may be held
    assert await units(client, admin, large) == (5 * cap, cap, 4 * cap)


async def test_units_are_counted_across_a_shopper_and_a_key_stating_its_id(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    cap = settings.max_held_units_per_product
    product = await create_product(client, admin, stock=5 * cap)
    me = str(shopper.id)
    await reserve(client, shopper.headers, (product, cap - 2), customer=me)

    over = await client.post(QUOTE, json=basket(me, (product, 3)), headers=service_key)

    assert list(field_errors(expect_error(over, 409, "HOLD_LIMIT_EXCEEDED"))) == ["items[0].quantity"]
    await reserve(client, service_key, (product, 2), customer=me)  # up to the cap, through the key
    over_again = await client.post(QUOTE, json=basket(me, (product, 1)), headers=shopper.headers)
    expect_error(over_again, 409, "HOLD_LIMIT_EXCEEDED")
    await reserve(client, service_key, (product, cap), customer="bob")  # another customer's own cap
    assert await units(client, admin, product) == (5 * cap, 2 * cap, 3 * cap)


async def test_a_customer_has_at_most_max_active_reservations_live(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    most = settings.max_active_reservations
    products = [await create_product(client, admin, stock=10) for _ in range(most + 1)]
    me = str(shopper.id)
    callers = [shopper.headers, service_key]
    held = [await reserve(client, callers[i % 2], (products[i], 1), customer=me) for i in range(most)]

    for headers in callers:
        response = await client.post(QUOTE, json=basket(me, (products[most], 1)), headers=headers)
        assert list(field_errors(expect_error(response, 409, "HOLD_LIMIT_EXCEEDED"))) == ["reserve_stock"]

    assert await units(client, admin, products[most]) == (10, 0, 10)
    await reserve(client, service_key, (products[most], 1), customer="bob")  # other customers are not counted
    expect_ok(await client.delete(reservation_url(held[0]["quote_id"]), headers=shopper.headers))
    await reserve(client, service_key, (products[most], 1), customer=me)  # a released hold no longer counts


async def test_an_expired_hold_no_longer_counts_nor_moves(
    timed: Client, admin: Caller, clock: Clock, settings: Settings
) -> None:
    created = expect_ok(await timed.post("/api/v1/api-keys", json={"name": "checkout"}, headers=admin.headers), 201)
    key = {"X-API-Key": created["key"]}
    product = await create_product(timed, admin, stock=100)
    held = [await reserve(timed, key, (product, 1), customer="alice") for _ in range(settings.max_active_reservations)]
    expect_error(await timed.post(QUOTE, json=basket("alice", (product, 1)), headers=key), 409, "HOLD_LIMIT_EXCEEDED")

    clock.offset = timedelta(seconds=settings.quote_validity_seconds + 1)

    moved = await refresh(timed, key, "alice", (product, 1), replaces=held[0]["quote_id"])
    assert list(field_errors(expect_error(moved, 409, "QUOTE_EXPIRED"))) == ["replaces_quote_id"]
    await reserve(timed, key, (product, settings.max_held_units_per_product), customer="alice")


# --- moving a hold to a refreshed quote ----------------------------------------------------------


async def test_a_refreshed_quote_takes_over_the_hold_counting_its_units_once(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    cap = settings.max_held_units_per_product
    product = await create_product(client, admin, stock=cap)  # the customer holds every unit, at its cap
    first = await reserve(client, service_key, (product, cap), customer="alice")

    moved = expect_ok(await refresh(client, service_key, "alice", (product, cap), replaces=first["quote_id"]))

    assert moved["reservation"]["lines"] == [{"product_id": product["id"], "quantity": cap}]
    assert await units(client, admin, product) == (cap, cap, 0)  # counted once: twice would pass stock and cap
    old = expect_ok(await client.get(reservation_url(first["quote_id"]), headers=service_key))
    assert (old["status"], old["replaced_by"]) == ("replaced", moved["quote_id"])
    assert await status_of(client, service_key, moved) == "held"
    expect_error(
        await client.post(QUOTE, json=basket("bob", (product, 1)), headers=service_key), 409, "INSUFFICIENT_STOCK"
    )
    # The old quote orders as a plain one: no free units. The new one orders its held units.
    expect_error(await order(client, service_key, first["quote_id"]), 409, "INSUFFICIENT_STOCK")
    expect_ok(await order(client, service_key, moved["quote_id"]), 201)
    assert await units(client, admin, product) == (0, 0, 0)


async def test_a_smaller_refresh_gives_back_the_difference_at_once(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    product = await create_product(client, admin, stock=6)
    me = str(shopper.id)
    first = await reserve(client, shopper.headers, (product, 5), customer=me)

    expect_ok(await refresh(client, shopper.headers, me, (product, 2), replaces=first["quote_id"]))

    assert await units(client, admin, product) == (6, 2, 4)


async def test_a_refused_refresh_keeps_the_hold_it_would_have_taken_over(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    cap = settings.max_held_units_per_product
    product = await create_product(client, admin, stock=5 * cap)
    scarce = await create_product(client, admin, stock=1)
    first = await reserve(client, service_key, (product, 2), customer="alice")

    too_many = await refresh(client, service_key, "alice", (product, cap + 1), replaces=first["quote_id"])
    short = await refresh(client, service_key, "alice", (product, 2), (scarce, 2), replaces=first["quote_id"])

    assert list(field_errors(expect_error(too_many, 409, "HOLD_LIMIT_EXCEEDED"))) == ["items[0].quantity"]
    assert list(field_errors(expect_error(short, 409, "INSUFFICIENT_STOCK"))) == ["items[1].quantity"]
    assert await status_of(client, service_key, first) == "held"
    assert await units(client, admin, product) == (5 * cap, 2, 5 * cap - 2)
    assert await units(client, admin, scarce) == (1, 0, 1)


async def test_a_replaces_quote_id_that_is_not_the_callers_live_hold_is_refused_on_that_field(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, stock=50)
    other = expect_ok(await client.post("/api/v1/api-keys", json={"name": "other"}, headers=admin.headers), 201)
    other_key = {"X-API-Key": other["key"]}
    me = str(shopper.id)
    mine = await reserve(client, service_key, (product, 1), customer="alice")
    plain = expect_ok(await client.post(QUOTE, json=basket("alice", (product, 1), reserve=False), headers=service_key))
    theirs = await reserve(client, other_key, (product, 1), customer="alice")  # another caller's, same customer
    shoppers = await reserve(client, shopper.headers, (product, 1), customer=me)
    bobs = await reserve(client, service_key, (product, 1), customer="bob")
    released = await reserve(client, service_key, (product, 1), customer="carol")
    expect_ok(await client.delete(reservation_url(released["quote_id"]), headers=service_key))
    ordered = await reserve(client, service_key, (product, 1), customer="dave")
    expect_ok(await order(client, service_key, ordered["quote_id"]), 201)
    replaced = await reserve(client, service_key, (product, 1), customer="erin")
    expect_ok(await refresh(client, service_key, "erin", (product, 1), replaces=replaced["quote_id"]))
    before = (await units(client, admin, product), await pool.fetch("SELECT * FROM reservations ORDER BY quote_id"))
    unknown = str(uuid.uuid4())

    cases = [
        (refresh(client, service_key, "alice", (product, 1), replaces=unknown), 422, "VALIDATION_FAILED"),
        (refresh(client, service_key, "alice", (product, 1), replaces=plain["quote_id"]), 422, "VALIDATION_FAILED"),
        (refresh(client, service_key, "alice", (product, 1), replaces=theirs["quote_id"]), 422, "VALIDATION_FAILED"),
        (refresh(client, service_key, me, (product, 1), replaces=shoppers["quote_id"]), 422, "VALIDATION_FAILED"),
        (refresh(client, service_key, "alice", (product, 1), replaces=bobs["quote_id"]), 422, "VALIDATION_FAILED"),
        (refresh(client, service_key, "carol", (product, 1), replaces=released["quote_id"]), 409, "CONFLICT"),
        (
            refresh(client, service_key, "dave", (product, 1), replaces=ordered["quote_id"]),
            409,
            "QUOTE_ALREADY_ORDERED",
        ),
        (refresh(client, service_key, "erin", (product, 1), replaces=replaced["quote_id"]), 409, "CONFLICT"),
        (refresh(client, service_key, "alice", (product, 1), replaces="not-a-uuid"), 422, "VALIDATION_FAILED"),
        (
            refresh(client, service_key, "alice", (product, 1), replaces=mine["quote_id"], reserve_stock=False),
            422,
            "VALIDATION_FAILED",
        ),
    ]
    messages = []
    for sending, status, code in cases:
        errors = field_errors(expect_error(await sending, status, code))
        assert list(errors) == ["replaces_quote_id"], (status, code, errors)
        messages.append(errors["replaces_quote_id"])

    # Another caller's hold reads exactly as an unknown quote, the shopper's too.
    assert messages[2].replace(theirs["quote_id"], unknown) == messages[0]
    assert messages[3].replace(shoppers["quote_id"], unknown) == messages[0]
    assert "bob" in messages[4]
    assert (await units(client, admin, product), await pool.fetch("SELECT * FROM reservations ORDER BY quote_id")) == (
        before
    )


# --- under concurrency: a real server --------------------------------------------------------------


@pytest.fixture
def server(settings: Settings) -> Iterator[RaceServer]:
    caps = {
        "MAX_HELD_UNITS_PER_PRODUCT": str(settings.max_held_units_per_product),
        "MAX_ACTIVE_RESERVATIONS": str(settings.max_active_reservations),
    }
    with race_server(settings, **caps) as running:
        yield running


async def test_racing_quotes_of_one_customer_never_hold_more_reservations_than_its_cap(
    client: Client,
    server: RaceServer,
    admin: Caller,
    service_key: dict[str, str],
    settings: Settings,
    pool: asyncpg.Pool,
) -> None:
    """A product per quote: no product lock orders them, only the customer's."""
    most = settings.max_active_reservations
    racers = 4 * most
    products = [await create_product(client, admin, stock=5) for _ in range(racers)]

    responses = await server.race(
        racers, lambda http, n: http.post(QUOTE, json=basket("alice", (products[n], 1)), headers=service_key)
    )

    assert outcomes(responses) == {(200, "ok"): most, (409, "HOLD_LIMIT_EXCEEDED"): racers - most}
    sql = "SELECT count(*) FROM reservations WHERE customer_id = 'alice' AND status = 'held'"
    assert await pool.fetchval(sql) == most


async def test_racing_quotes_of_a_shopper_and_its_key_never_hold_more_units_than_the_cap(
    client: Client,
    server: RaceServer,
    admin: Caller,
    shopper: Caller,
    service_key: dict[str, str],
    settings: Settings,
) -> None:
    cap, quantity = settings.max_held_units_per_product, 4
    fit = cap // quantity
    assert fit < settings.max_active_reservations  # the unit cap is the one that refuses
    product = await create_product(client, admin, stock=10 * cap)
    me = str(shopper.id)
    callers = [shopper.headers, service_key]

    responses = await server.race(
        8, lambda http, n: http.post(QUOTE, json=basket(me, (product, quantity)), headers=callers[n % 2])
    )

    assert outcomes(responses) == {(200, "ok"): fit, (409, "HOLD_LIMIT_EXCEEDED"): 8 - fit}
    assert await units(client, admin, product) == (10 * cap, fit * quantity, 10 * cap - fit * quantity)


async def test_other_shoppers_never_see_a_moving_hold_free(
    client: Client, server: RaceServer, admin: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(client, admin, stock=4)
    first = await reserve(client, service_key, (product, 4), customer="alice")

    def send(http: httpx.AsyncClient, n: int) -> Any:
        if n == 0:
            return refresh(http, service_key, "alice", (product, 4), replaces=first["quote_id"])
        return http.post(QUOTE, json=basket(f"shopper-{n}", (product, 1)), headers=service_key)

    responses = await server.race(16, send)

    assert responses[0].status_code == 200, responses[0].text
    assert outcomes(responses[1:]) == {(409, "INSUFFICIENT_STOCK"): 15}
    assert await units(client, admin, product) == (4, 4, 0)
