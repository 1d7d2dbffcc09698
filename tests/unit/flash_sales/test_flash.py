"""The status a flash sale has at a moment, and which sale offers a product."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import msgspec
import pytest

from quote_service.auth.schemas import Principal
from quote_service.errors import Forbidden, ValidationFailed
from quote_service.flash_sales.counters import SaleCounters
from quote_service.flash_sales.purchases import customer_of, fingerprint
from quote_service.flash_sales.schemas import PurchaseCreate
from quote_service.flash_sales.service import marker_ttl
from quote_service.pricing.flash import FlashItem, FlashSale, FlashSaleBook, effective_status, parse_slot, slot

T = datetime(2030, 1, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("stored", "now", "expected"),
    [
        ("scheduled", T - timedelta(microseconds=1), "scheduled"),
        ("scheduled", T, "active"),  # [starts_at, ends_at): the start belongs to the sale
        ("scheduled", T + HOUR - timedelta(microseconds=1), "active"),
        ("scheduled", T + HOUR, "ended"),  # ... and the end does not
        ("active", T - HOUR, "active"),  # activated early by an admin
        ("active", T + HOUR, "ended"),
        ("ended", T + timedelta(minutes=5), "ended"),  # ended early: never back
        ("ended", T - HOUR, "ended"),
    ],
)
def test_the_clock_decides_the_status(stored: str, now: datetime, expected: str) -> None:
    assert effective_status(stored, T, T + HOUR, now) == expected  # type: ignore[arg-type]


def sale(starts: datetime, product: uuid.UUID, *, status: str = "scheduled") -> FlashSale:
    item = FlashItem(
        product_id=product, flash_price=Decimal("9.99"), allocated_stock=5, per_user_limit=1, currency="EUR"
    )
    return FlashSale(
        id=uuid.uuid4(),
        name="s",
        status=status,
        starts_at=starts,
        ends_at=starts + HOUR,
        items=(item,),  # type: ignore[arg-type]
    )


def test_a_product_is_offered_by_the_sale_active_at_that_moment() -> None:
    product = uuid.uuid4()
    morning, evening = sale(T, product), sale(T + 6 * HOUR, product)
    book = FlashSaleBook([morning, evening])
    assert book.active_for(str(product), T - HOUR) is None
    found = book.active_for(str(product), T + timedelta(minutes=1))
    assert found is not None
    assert found[0] is morning
    assert book.active_for(str(product), T + 2 * HOUR) is None
    found = book.active_for(str(product), T + 6 * HOUR)
    assert found is not None
    assert found[0] is evening
    assert book.active_for(str(uuid.uuid4()), T) is None
    assert len(book) == 2


def test_counters_hash_fields() -> None:
    product = uuid.uuid4()
    counters = SaleCounters(
        status="active",
        starts_at=T,
        ends_at=T + HOUR,
        remaining={str(product): 7},
        limits={str(product): 2},
        bought={(str(product), "c-1"): 2},
    )
    fields = counters.fields("g1")
    pairs = dict(zip(fields[::2], fields[1::2], strict=True))
    assert pairs == {
        "gen": "g1",
        "status": "active",
        "starts": str(int(T.timestamp() * 1000)),
        "ends": str(int((T + HOUR).timestamp() * 1000)),
        f"s:{product}": "7",
        f"l:{product}": "2",
        f"b:{product}:c-1": "2",
    }


def test_an_item_naming_an_offer_has_a_slot_of_its_own_and_the_default_one_keeps_the_products_id() -> None:
    product, offer = uuid.uuid4(), uuid.uuid4()
    assert slot(product, None) == str(product)
    assert slot(product, offer) == f"{product}/{offer}"
    assert parse_slot(slot(product, None)) == (product, None)
    assert parse_slot(slot(product, offer)) == (product, offer)


def test_a_sale_sells_the_default_offer_and_one_offer_as_two_items() -> None:
    product, offer = uuid.uuid4(), uuid.uuid4()
    own = FlashItem(product_id=product, flash_price=Decimal("9"), allocated_stock=5, per_user_limit=1, currency="EUR")
    theirs = FlashItem(
        product_id=product, flash_price=Decimal("8"), allocated_stock=5, per_user_limit=1, currency="EUR",
        offer_id=offer,
    )  # fmt: skip
    both = FlashSale(id=uuid.uuid4(), name="s", status="active", starts_at=T, ends_at=T + HOUR, items=(own, theirs))
    only_offer = FlashSale(id=uuid.uuid4(), name="o", status="active", starts_at=T, ends_at=T + HOUR, items=(theirs,))
    assert both.item(product) is own
    assert both.item(product, offer) is theirs
    assert both.item(product, uuid.uuid4()) is None
    assert FlashSaleBook([both]).active_for(str(product), T) == (both, own)
    assert [pair[1] for pair in FlashSaleBook([both]).active_items(str(product), T)] == [own, theirs]
    # A sale of one offer only does not price the product's default offer.
    assert FlashSaleBook([only_offer]).active_for(str(product), T) is None
    assert FlashSaleBook([only_offer]).active_items(str(product), T + HOUR) == []


def test_markers_outlive_the_sale_by_a_day_within_bounds() -> None:
    assert marker_ttl(T + HOUR, T) == 3600 + 86_400
    assert marker_ttl(T - HOUR, T) == 86_400
    assert marker_ttl(T + timedelta(days=365), T) == 30 * 86_400


def test_the_fingerprint_ignores_how_numbers_are_spelled() -> None:
    sale_id, product = uuid.uuid4(), uuid.uuid4()
    a = PurchaseCreate(product_id=product, quantity=1, expected_unit_price=Decimal("15"))
    b = PurchaseCreate(product_id=product, quantity=1, expected_unit_price=Decimal("15.00"))
    c = PurchaseCreate(product_id=product, quantity=2, expected_unit_price=Decimal("15"))
    assert fingerprint(sale_id, a, "c") == fingerprint(sale_id, b, "c")
    assert fingerprint(sale_id, a, "c") != fingerprint(sale_id, c, "c")
    assert fingerprint(sale_id, a, "c") != fingerprint(sale_id, a, "d")
    offer = uuid.uuid4()
    named = PurchaseCreate(product_id=product, quantity=1, expected_unit_price=Decimal("15"), offer_id=offer)
    assert fingerprint(sale_id, named, "c") != fingerprint(sale_id, a, "c")
    # A default item's purchase hashes as before offer_id existed (a retry across the upgrade replays).
    before = hashlib.sha256(msgspec.msgpack.encode((str(sale_id), str(product), 1, None, "c"))).hexdigest()
    assert fingerprint(sale_id, PurchaseCreate(product_id=product, quantity=1), "c") == before


def test_who_buys() -> None:
    user = Principal(id=uuid.uuid4(), name="u", role="user", kind="user")
    key = Principal(id=uuid.uuid4(), name="k", role="service", kind="api_key")
    admin = Principal(id=uuid.uuid4(), name="a", role="admin", kind="user")
    assert customer_of(user, None) == str(user.id)
    assert customer_of(user, str(user.id)) == str(user.id)
    with pytest.raises(Forbidden):
        customer_of(user, "someone-else")
    assert customer_of(key, "c-9") == "c-9"
    with pytest.raises(ValidationFailed):
        customer_of(key, None)
    assert customer_of(admin, None) == str(admin.id)
    assert customer_of(admin, "c-1") == "c-1"
