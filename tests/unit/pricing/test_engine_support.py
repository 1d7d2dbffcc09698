"""Builders for the quote-engine tests: real model Structs and snapshots, sensible defaults.

Every quote is made for customer `c-1` in Istanbul, TR, in EUR, at NOW (a Monday, 12:00 UTC),
with no configuration unless a test adds some.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import msgspec

from quote_service.pricing.commission import CommissionRate
from quote_service.pricing.coupons import Coupon
from quote_service.pricing.engine import price_quote
from quote_service.pricing.flags import FeatureFlag, Rollout
from quote_service.pricing.installments import Paying
from quote_service.pricing.promotions import Conditions, GiftStock, Promotion, PromotionConfig
from quote_service.pricing.quote import (
    Address,
    CatalogProduct,
    CustomerContext,
    EngineDefaults,
    FlashOffer,
    Quote,
    QuoteItemIn,
    QuoteRequest,
)
from quote_service.pricing.rules import PricingRule, RuleConfig
from quote_service.pricing.shipping import ShippingProfile
from quote_service.pricing.snapshot import ConfigSnapshot

D = Decimal
NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)  # a Monday
SINCE = NOW - timedelta(days=30)
QUOTE_ID = UUID("00000000-0000-4000-8000-000000000001")
CITY, COUNTRY = "Istanbul", "TR"


def rule(config: RuleConfig, *, name: str | None = None, version: int = 1, **fields: Any) -> PricingRule:
    """A rule version effective since last month."""
    rule_type = type(config).__struct_config__.tag
    values: dict[str, Any] = {
        "id": uuid4(),
        "name": name or f"{rule_type}-{uuid4().hex[:6]}".lower(),
        "version": version,
        "type": rule_type,
        "configuration": config,
        "effective_from": SINCE,
    }
    values.update(fields)
    return PricingRule(**values)


def rate(**fields: Any) -> CommissionRate:
    """A 10 % EUR PERCENTAGE rate effective since last month, changed by `fields`."""
    values: dict[str, Any] = {
        "id": uuid4(),
        "commission_type": "PERCENTAGE",
        "rate": D(10),
        "currency": "EUR",
        "effective_from": SINCE,
        "created_at": SINCE,
    }
    values.update(fields)
    return CommissionRate(**values)


def flag(key: str, value: Any, *, rollout: Rollout | None = None, **fields: Any) -> FeatureFlag:
    """An enabled flag serving `value` to everyone (default_value False)."""
    values: dict[str, Any] = {
        "key": key,
        "type": "BOOLEAN" if isinstance(value, bool) else "NUMBER",
        "value": value,
        "default_value": False if isinstance(value, bool) else None,
        "is_enabled": True,
        "rollout": rollout or Rollout(),
    }
    values.update(fields)
    return FeatureFlag(**values)


def coupon(code: str, kind: str = "PERCENTAGE", value: str = "10", **fields: Any) -> Coupon:
    """An active coupon valid since last month, unlimited."""
    values: dict[str, Any] = {"code": code, "type": kind, "value": D(value), "valid_from": SINCE}
    if kind == "FIXED":
        values["currency"] = "EUR"
    values.update(fields)
    return Coupon(**values)


def promotion(config: PromotionConfig, *, name: str | None = None, **fields: Any) -> Promotion:
    """An active promotion running since last month; `conditions` may be given as a dict."""
    conditions = fields.pop("conditions", None)
    values: dict[str, Any] = {
        "id": uuid4(),
        "name": name or type(config).__struct_config__.tag,
        "config": config,
        "starts_at": SINCE,
        "conditions": msgspec.convert(conditions or {}, Conditions),
    }
    values.update(fields)
    return Promotion(**values)


def product(
    price: str,
    *,
    min_price: str = "0",
    category: str = "books",
    seller: str = "seller-1",
    currency: str = "EUR",
    active: bool = True,
) -> CatalogProduct:
    """An active catalog product."""
    return CatalogProduct(
        id=uuid4(),
        currency=currency,
        current_price=D(price),
        min_price=D(min_price),
        category_id=category,
        seller_id=seller,
        is_active=active,
    )


def item(of: CatalogProduct | str, quantity: int = 1, **fields: Any) -> QuoteItemIn:
    """A request line for a catalog product, or for a free-form product id (then give unit_price)."""
    product_id = str(of.id) if isinstance(of, CatalogProduct) else of
    if isinstance(fields.get("unit_price"), str):
        fields["unit_price"] = D(fields["unit_price"])
    return QuoteItemIn(product_id=product_id, quantity=quantity, **fields)


def address(city: str = CITY, country: str = COUNTRY, **fields: Any) -> Address:
    return Address(city=city, country=country, **fields)


def request(*items: QuoteItemIn, **fields: Any) -> QuoteRequest:
    values: dict[str, Any] = {
        "customer_id": "c-1",
        "items": list(items),
        "delivery_address": address(),
        "currency": "EUR",
    }
    values.update(fields)
    return QuoteRequest(**values)


def offer(of: CatalogProduct, price: str, *, stock: int = 100, limit: int = 100) -> FlashOffer:
    return FlashOffer(
        flash_sale_id=uuid4(),
        product_id=of.id,
        flash_price=D(price),
        remaining_stock=stock,
        customer_remaining_limit=limit,
    )


def snapshot(
    *,
    rules: Iterable[PricingRule] = (),
    rates: Iterable[CommissionRate] = (),
    flags: Iterable[FeatureFlag] = (),
    coupons: Iterable[Coupon] = (),
    promotions: Iterable[Promotion] = (),
    shipping_profiles: Iterable[ShippingProfile] = (),
    version: int = 1,
) -> ConfigSnapshot:
    return ConfigSnapshot.build(
        version=version,
        rates=rates,
        rules=rules,
        flags=flags,
        coupons=coupons,
        promotions=promotions,
        shipping_profiles=shipping_profiles,
    )


EUR_DEFAULTS = EngineDefaults(currency="EUR")
"""The defaults of these tests' quotes, which are in EUR: their default fees too (docs/markets.md)."""


def quote(
    req: QuoteRequest,
    *,
    config: ConfigSnapshot | None = None,
    products: Iterable[CatalogProduct] = (),
    flash: Mapping[CatalogProduct, FlashOffer] | None = None,
    customer: CustomerContext | None = None,
    defaults: EngineDefaults | None = None,
    now: datetime = NOW,
    gifts: Mapping[str, GiftStock] | None = None,
    installments: Paying | None = None,
    **configuration: Any,
) -> Quote:
    """Price `req`; `configuration` (rules=, rates=, flags=, coupons=) builds the snapshot; `installments`: the
    card and plans it is paid with (an input of the engine)."""
    return price_quote(
        req,
        snapshot=config or snapshot(**configuration),
        products={str(p.id): p for p in products},
        flash={str(p.id): o for p, o in (flash or {}).items()},
        customer=customer or CustomerContext(customer_id="c-1"),
        defaults=defaults or EUR_DEFAULTS,
        now=now,
        quote_id=QUOTE_ID,
        gifts=gifts,
        installments=installments,
    )
