"""An order's own pricing terms: what an edit prices its basket under (docs/orders-and-refunds.md#the-orders-own-terms).

An edit must price the order's basket as it was priced, not as today's configuration would: the rates,
tax rules, fee rules, shipping profiles and engine defaults in force when the order was placed, and the
coupons and promotions its quote applied as they were then. Only pricing *rules* are versioned in the
tables (rates, coupons, promotions and profiles are edited in place), so each order keeps them:

- `ConfigTerms`: the non-price configuration of one configuration version, taken from the snapshot the
  process priced with (fee and TAX_RATE rule versions, commission rates, shipping profiles, defaults).
  Stored once per distinct content in `pricing_terms`, keyed by its SHA-256: every order placed under
  the same configuration shares one row, and a process stores it once (`TermsRecorder`).
- `OrderTerms`: the order's own part (`orders.terms`, a few hundred bytes): that digest, the version, the
  quote's coupons and promotions as the engine read them (their usage limits and budgets left out: the
  order's own redemption is never counted against it again), and the flags its quote was served that
  the engine reads for fees. The request context (the address, express delivery, channel, the customer's
  tier, segment and group) is in the quote log, not the stored quote: the first edit reads it from there
  and keeps it here (`EditContext`).

The snapshot a process holds when the order is placed is the one it records (a rate changed between the
quote and its order: the order's time wins). Price rules, price lists and flash sales are left out: an
edit keeps every line's price and prices an added line at today's price.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import msgspec

from quote_service.db.pool import Connection
from quote_service.pricing.commission import CommissionRate
from quote_service.pricing.coupons import Coupon
from quote_service.pricing.engine import EXPRESS_MULTIPLIER, SMALL_BASKET_THRESHOLD
from quote_service.pricing.promotions import Promotion
from quote_service.pricing.quote import Address, EngineDefaults, Quote
from quote_service.pricing.rules import PricingRule
from quote_service.pricing.shipping import ShippingProfile
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.pricing.taxes import TaxExemption
from quote_service.structs import Frozen

TERMS_RULE_TYPES = frozenset(
    {"DELIVERY_FEE", "EXPRESS_FEE", "SMALL_BASKET", "FREE_DELIVERY", "REGIONAL_FEE", "TAX_RATE"}
)
"""The rule types an edit reads: fees and taxes (price rules never: an edit keeps each line's price)."""
FEE_FLAGS = (EXPRESS_MULTIPLIER, SMALL_BASKET_THRESHOLD)
_MEMO = 4
"""Configuration versions whose terms a process remembers (a quote is ordered within minutes)."""


class ConfigTerms(Frozen):
    """The non-price configuration of one version (`pricing_terms.body`)."""

    defaults: EngineDefaults
    rules: list[PricingRule] = []
    rates: list[CommissionRate] = []
    profiles: list[ShippingProfile] = []


class EditContext(Frozen):
    """What the order's quote was asked with, besides its items (read from the quote log)."""

    delivery_address: Address
    pickup_address: Address | None = None
    is_express_delivery: bool = False
    seller_id: str | None = None
    logistics_provider: str | None = None
    channel: str | None = None
    tier: str | None = None
    segment: str | None = None
    customer_group: str | None = None
    tax_exemption: TaxExemption | None = None
    customer_tax_id: str | None = None


class OrderTerms(Frozen):
    """An order's own part of its terms (`orders.terms`)."""

    config: str
    """The hex SHA-256 of its `ConfigTerms` (`pricing_terms.digest`)."""
    version: int
    """The configuration version they were taken from."""
    coupons: list[Coupon] = []
    promotions: list[Promotion] = []
    flags: dict[str, Any] = {}
    """The fee flags its quote was served (`express_delivery_multiplier`, `small_basket_threshold`)."""
    context: EditContext | None = None
    """The quote's request context, kept by the order's first edit (None until then)."""


def config_terms(snapshot: ConfigSnapshot, defaults: EngineDefaults) -> ConfigTerms:
    """The non-price part of `snapshot`, in a stable order (so equal configurations hash equal)."""
    rules = sorted(
        (rule for rule in snapshot.rules.all_versions() if rule.type in TERMS_RULE_TYPES),
        key=lambda rule: (rule.name, rule.version),
    )
    rates = sorted(snapshot.commissions.rates(), key=lambda rate: (str(rate.id), rate.created_at))
    profiles = [] if snapshot.shipping is None else sorted(snapshot.shipping.profiles(), key=lambda p: str(p.id))
    return ConfigTerms(defaults=defaults, rules=rules, rates=rates, profiles=profiles)


def owned(coupon: Coupon) -> Coupon:
    """A coupon the order applied, as its edits price it: its use is the order's, never counted again."""
    return msgspec.structs.replace(coupon, usage_limit=None, per_customer_limit=None, times_used=0)


def owned_promotion(promotion: Promotion) -> Promotion:
    """A promotion the order's quote applied, as its edits price it: its use and the budget it took are the
    order's (a larger discount is checked against the budget at commit)."""
    return msgspec.structs.replace(
        promotion, usage_limit=None, per_customer_limit=None, times_used=0, budget_remaining=None
    )


class Recorded(NamedTuple):
    """An order's terms as `TermsRecorder.terms_of` made them, with their shared part to store."""

    terms: OrderTerms
    digest: bytes
    body: ConfigTerms
    snapshot: ConfigSnapshot


class TermsRecorder:
    """Writes each order's terms as it is placed; one per process."""

    def __init__(self, snapshot: Any, defaults: EngineDefaults) -> None:
        self._config = snapshot
        """The config store: its `snapshot` attribute is the configuration quotes are priced with now."""
        self.defaults = defaults
        self._bodies: dict[int, tuple[bytes, ConfigTerms]] = {}
        self._stored: set[bytes] = set()
        """Digests this process saw in `pricing_terms` (committed: they are never deleted)."""

    def reset(self) -> None:
        """Forget what was seen stored (the tests empty the tables under a started app)."""
        self._stored.clear()
        self._bodies.clear()

    def terms_of(self, quote: Quote) -> Recorded:
        """The terms of the order `quote` is placed as (no I/O: `store` writes their shared part)."""
        snapshot: ConfigSnapshot = self._config.snapshot
        digest, body = self._body(snapshot)
        terms = OrderTerms(
            config=digest.hex(),
            version=snapshot.version,
            coupons=_coupons(snapshot, [c.code for c in quote.applied_coupons], {}),
            promotions=_promotions(snapshot, [p.promotion_id for p in quote.applied_promotions]),
            flags={key: quote.feature_flags[key] for key in FEE_FLAGS if key in quote.feature_flags},
        )
        return Recorded(terms, digest, body, snapshot)

    async def store(self, conn: Connection, recorded: Recorded) -> None:
        """Write the shared part in `conn`'s transaction unless an order stored it already."""
        digest = recorded.digest
        if digest in self._stored:
            return
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pricing_terms WHERE digest = $1)", digest):
            self._stored.add(digest)
        else:  # seen as stored only once found committed: this transaction may still roll back
            await conn.execute(
                "INSERT INTO pricing_terms (digest, body) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                digest,
                recorded.body,
            )

    @staticmethod
    def with_codes(recorded: Recorded, codes: Sequence[str], generated: Mapping[str, str]) -> OrderTerms:
        """The terms with the quote's batch codes (`generated`: code → its coupon's code) as their coupons."""
        return msgspec.structs.replace(recorded.terms, coupons=_coupons(recorded.snapshot, codes, generated))

    def _body(self, snapshot: ConfigSnapshot) -> tuple[bytes, ConfigTerms]:
        found = self._bodies.get(snapshot.version)
        if found is None:
            body = config_terms(snapshot, self.defaults)
            found = (hashlib.sha256(msgspec.json.encode(body)).digest(), body)
            if len(self._bodies) >= _MEMO:
                self._bodies.pop(next(iter(self._bodies)))
            self._bodies[snapshot.version] = found
        return found


def _coupons(snapshot: ConfigSnapshot, codes: Sequence[str], generated: Mapping[str, str]) -> list[Coupon]:
    """The applied coupons as the snapshot has them (a batch code as its coupon, under its own code)."""
    found = []
    for code in codes:
        coupon = snapshot.coupons.get(generated.get(code.upper(), code))
        if coupon is not None:
            found.append(owned(msgspec.structs.replace(coupon, code=code.upper())))
    return found


def _promotions(snapshot: ConfigSnapshot, ids: Iterable[Any]) -> list[Promotion]:
    wanted = set(ids)
    return [owned_promotion(p) for p in snapshot.promotions.ordered if p.id in wanted]


async def load_config(conn: Connection, digest: str) -> ConfigTerms | None:
    """The shared part an order's terms name (None: not found)."""
    body = await conn.fetchval("SELECT body FROM pricing_terms WHERE digest = $1", bytes.fromhex(digest))
    return None if body is None else msgspec.convert(body, ConfigTerms, strict=False)


def order_terms(stored: object) -> OrderTerms | None:
    """An order's `terms` column as kept (None: an order placed before orders kept them)."""
    return None if stored is None else msgspec.convert(stored, OrderTerms, strict=False)
