"""Which shipping profile a shipment takes (docs/shipping.md#which-profile-applies)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from quote_service.pricing.shipping import ShippingBook, ShippingOption, ShippingProfile

T0 = datetime(2026, 1, 1, tzinfo=UTC)
OPTION = ShippingOption(code="standard", name="Standard", base_fee=Decimal(5), eta_days_min=1, eta_days_max=3)


def profile(
    n: int,
    seller_id: str | None = "s1",
    *,
    countries: set[str] | None = None,
    regions: set[str] | None = None,
    currency: str = "TRY",
    active: bool = True,
    age_days: int = 0,
) -> ShippingProfile:
    return ShippingProfile(
        id=UUID(int=n),
        seller_id=seller_id,
        countries=None if countries is None else frozenset(countries),
        regions=None if regions is None else frozenset(regions),
        currency=currency,
        options=(OPTION,),
        is_active=active,
        created_at=T0 - timedelta(days=age_days),
    )


def chosen(
    book: ShippingBook | None, seller: str | None = "s1", city: str = "Istanbul", country: str = "TR"
) -> int | None:
    assert book is not None
    found = book.profile_for(seller, city=city, country=country, currency="TRY")
    return None if found is None else found.id.int


def test_no_active_profile_is_no_book() -> None:
    assert ShippingBook.of([]) is None
    assert ShippingBook.of([profile(1, active=False)]) is None


def test_the_city_beats_the_country_which_beats_everywhere_whatever_their_age() -> None:
    everywhere = profile(1)
    country = profile(2, countries={"TR"}, age_days=5)
    city = profile(3, regions={"istanbul"}, age_days=9)
    book = ShippingBook.of([everywhere, country, city])

    assert chosen(book) == 3
    assert chosen(book, city=" ISTANBUL ") == 3
    assert chosen(book, city="Ankara") == 2
    assert chosen(book, city="Berlin", country="DE") == 1


def test_a_profile_naming_cities_and_countries_needs_both() -> None:
    book = ShippingBook.of([profile(1, countries={"DE"}, regions={"istanbul"})])

    assert chosen(book) is None
    assert chosen(book, city="Istanbul", country="DE") == 1


def test_the_sellers_own_profile_before_the_platform_default() -> None:
    book = ShippingBook.of([profile(1, None, regions={"istanbul"}), profile(2, countries={"DE"})])

    assert chosen(book) == 1  # the seller has none for Istanbul: the default's
    assert chosen(book, city="Berlin", country="DE") == 2
    assert chosen(book, "s2", city="Berlin", country="DE") is None
    assert chosen(book, None) == 1  # a line without a seller: the default's


def test_other_currencies_and_inactive_profiles_never_apply() -> None:
    book = ShippingBook.of([profile(1, currency="EUR"), profile(2, active=False), profile(3, "s2")])

    assert chosen(book) is None


def test_ties_go_to_the_newest() -> None:
    book = ShippingBook.of([profile(1, countries={"TR"}, age_days=2), profile(2, countries={"TR"}, age_days=1)])

    assert chosen(book) == 2
