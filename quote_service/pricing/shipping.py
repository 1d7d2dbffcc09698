"""Shipping profiles as the quote engine reads them (docs/shipping.md), and which one a shipment takes.

A profile belongs to a seller (or, `seller_id` None, to the platform: the default for every seller
without one of its own), names the places it serves (`countries`, `regions` = cities; None: every
one) and its currency, and offers delivery options. For a shipment of seller S to an address in a
currency, the profile that applies is S's most specific active one that matches the address and
the currency, else the platform default's, else none:

    specificity   a profile naming the city (regions) > one naming the country > one for everywhere
    ties          the newest (created_at, then id): the profile set up last speaks for the place

A profile that names both countries and regions matches only where both hold. The snapshot compiles
the active profiles into a `ShippingBook` (None when there are none: a quote then pays one `is None`
test for the feature); the answer for a (seller, city, country, currency) is kept in the book.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

import msgspec

MAX_REMEMBERED = 50_000
"""Answers a book keeps before it forgets them all (a stream of new places cannot grow it for ever)."""


class ShippingOption(msgspec.Struct, frozen=True, kw_only=True):
    """One way a profile delivers: its fee is `base_fee + per_kg x weight + per_km x km`, at most
    `max_fee`, rounded once; 0 when the shipment's goods after discounts reach `free_above`."""

    code: str
    name: str
    base_fee: Decimal
    per_kg: Decimal | None = None
    per_km: Decimal | None = None
    max_fee: Decimal | None = None
    eta_days_min: int
    eta_days_max: int
    free_above: Decimal | None = None
    express: bool = False

    def fee(self, goods: Decimal, weight: Decimal | None, km: Decimal | None, cent: Decimal) -> tuple[Decimal, bool]:
        """This option's fee for a shipment of `goods` weighing `weight` kg carried `km` (rounded half up once;
        None: that part adds nothing), and whether `goods` make it free. The one shipping-option fee: the
        shipments (`shipments.split_shipments`) and an offer's landed cost (`offers.Landing`) both charge it."""
        if self.free_above is not None and goods >= self.free_above:
            return Decimal(0).quantize(cent), True
        amount = self.base_fee
        if self.per_kg is not None and weight is not None:
            amount += self.per_kg * weight
        if self.per_km is not None and km is not None:
            amount += self.per_km * km
        if self.max_fee is not None and amount > self.max_fee:
            amount = self.max_fee
        return amount.quantize(cent, ROUND_HALF_UP), False


class ShippingProfile(msgspec.Struct, frozen=True, kw_only=True):
    """A profile as the engine reads it (places folded: countries upper-case, cities case-folded)."""

    id: UUID
    seller_id: str | None
    countries: frozenset[str] | None
    regions: frozenset[str] | None
    currency: str
    options: tuple[ShippingOption, ...]
    is_active: bool = True
    created_at: datetime


def fold_city(city: str) -> str:
    """A city as profiles compare it: case-insensitive, surrounding spaces ignored."""
    return city.strip().casefold()


def specificity(profile: ShippingProfile, *, city: str, country: str) -> int:
    """How well `profile` fits the (folded) city and (upper-case) country: 3 by its city, 2 by its
    country, 1 everywhere; 0 when it names another place."""
    if profile.countries is not None and country not in profile.countries:
        return 0
    if profile.regions is not None:
        return 3 if city in profile.regions else 0
    return 2 if profile.countries is not None else 1


class ShippingBook:
    """The active profiles by (seller, currency); `profile_for` answers once per place and seller."""

    __slots__ = ("_answers", "_by_seller", "served")

    def __init__(self, profiles: Iterable[ShippingProfile]) -> None:
        by_seller: dict[tuple[str | None, str], list[ShippingProfile]] = {}
        for profile in profiles:
            if profile.is_active:
                by_seller.setdefault((profile.seller_id, profile.currency), []).append(profile)
        self._by_seller = {key: tuple(found) for key, found in by_seller.items()}
        self.served: frozenset[tuple[str | None, str]] = frozenset(self._by_seller)
        """(seller, currency) of every active profile, (None, currency) for a platform default: a quote
        none of whose sellers is here, in its currency, skips the shipments (docs/hot-path.md#the-cost-budget)."""
        self._answers: dict[tuple[Any, ...], ShippingProfile | None] = {}

    @classmethod
    def of(cls, profiles: Iterable[ShippingProfile]) -> ShippingBook | None:
        """The book of the active `profiles`; None when there is none (the feature is then off)."""
        book = cls(profiles)
        return book if book._by_seller else None

    def __len__(self) -> int:
        return sum(map(len, self._by_seller.values()))

    def profiles(self) -> Iterator[ShippingProfile]:
        """Every active profile (in no particular order)."""
        for found in self._by_seller.values():
            yield from found

    def profile_for(self, seller_id: str | None, *, city: str, country: str, currency: str) -> ShippingProfile | None:
        """The profile of a shipment of `seller_id` to (city, country) in `currency`: the seller's best
        match, else the platform default's best match, else None."""
        key = (seller_id, city, country, currency)
        answers = self._answers
        if key in answers:
            return answers[key]
        folded, upper = fold_city(city), country.strip().upper()
        found = self._best(seller_id, folded, upper, currency) if seller_id is not None else None
        if found is None:
            found = self._best(None, folded, upper, currency)
        if len(answers) >= MAX_REMEMBERED:
            answers.clear()
        answers[key] = found
        return found

    def _best(self, seller_id: str | None, city: str, country: str, currency: str) -> ShippingProfile | None:
        best: ShippingProfile | None = None
        best_key: tuple[int, datetime, int] | None = None
        for profile in self._by_seller.get((seller_id, currency), ()):
            fit = specificity(profile, city=city, country=country)
            if fit:
                key = (fit, profile.created_at, profile.id.int)
                if best_key is None or key > best_key:
                    best, best_key = profile, key
        return best
