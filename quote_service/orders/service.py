"""Placing an order: a stored quote confirmed at its amounts, in one transaction.

First the Idempotency-Key is claimed (db/idempotency.py): a request with a key in flight waits
for it, then answers its order. Then the quote's flash units are taken in Redis, and the
transaction runs, in this order (every order takes its locks in the same global order, so
concurrent orders queue instead of deadlocking):

1. insert the order row — a concurrent order of the same quote (under another key) waits here
   on the unique index, before it holds any other lock;
2. lock the catalog lines' products (`ORDER BY id FOR UPDATE`), consume the quote's stock
   reservation when it has a live one, and check every line against stock - the units held
   for other quotes (reservations/service.py); then, for a quote under per-customer quantity
   limits, lock each (customer, product) and count the customer's units again (unit_limits/);
3. lock the applied coupons (`ORDER BY code FOR UPDATE`) and check `usage_limit` and
   `per_customer_limit` (redemptions counted under that lock), then the applied promotions
   (`ORDER BY id FOR UPDATE`) and their `usage_limit`;
4. take the stock (with stock_movements), count the coupons' and promotions' use, write lines
   and commissions.

Any refusal raises before the commit: nothing is written. After the commit, Redis learns each
customer's coupon use count for the quote path (never over a newer one); PostgreSQL remains the
source of truth, and a refusal at a coupon's limit teaches the count again (coupons/counters.py);
the same for a customer's units of products under a per-customer limit (unit_limits/counters.py).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg
import msgspec
from msgspec import UNSET, UnsetType

from quote_service import fault_points
from quote_service.auth.schemas import Principal
from quote_service.auth.sellers import own_seller, owned_by
from quote_service.cache.redis import RedisClient
from quote_service.catalog import repository as catalog
from quote_service.coupons import codes as coupon_codes
from quote_service.coupons import counters as coupon_counters
from quote_service.coupons import repository as coupon_repository
from quote_service.db import idempotency
from quote_service.db.pool import Connection, Pool
from quote_service.db.rows import row_as
from quote_service.errors import Conflict, FieldError, NotFound, QuantityLimitReached
from quote_service.flash_sales.purchases import Purchases
from quote_service.offers import stock as offer_stock
from quote_service.orders import (
    agent_events,
    commission_record,
    ledger_repository,
    money,
    payment_repository,
    record_math,
    refund_repository,
    repository,
    shipment_repository,
    tax_record,
)
from quote_service.orders.schemas import (
    LineCommission,
    LineDiscount,
    Order,
    OrderCreate,
    OrderEdit,
    OrderLine,
    OrderPromotion,
    OrderShipment,
    Payment,
)
from quote_service.orders.seller_view import seller_view
from quote_service.orders.terms import TermsRecorder
from quote_service.pagination import Page, page_of
from quote_service.pricing.coupons import CouponSet, normalize_code
from quote_service.pricing.fx_convert import QuoteFx
from quote_service.pricing.money import ZERO, quantum, round_money
from quote_service.pricing.once_fees import charged_once
from quote_service.pricing.quote import (
    STOCKED_SOURCES,
    AgentRef,
    AppliedCoupon,
    CommissionBreakdown,
    CommissionDetail,
    Quote,
    QuoteLine,
    SellerTotals,
    ShipmentOption,
)
from quote_service.promotions import repository as promotions
from quote_service.quotes import policy
from quote_service.quotes.store import QuoteStore
from quote_service.reservations import service as reservations
from quote_service.unit_limits.service import check_order as check_unit_limits
from quote_service.unit_limits.service import publish_units
from quote_service.webhooks import events as webhooks

_ENCODER = msgspec.json.Encoder()
SELLER_FUNDED = "seller"
"""Who funds a discount whose source does not say (promotions and coupons default to the seller)."""
PLATFORM_FUNDED = "platform"
NO_USES = coupon_repository.Uses()


def request_hash(data: OrderCreate) -> bytes:
    """Fingerprint of a request body: equal for the same quote id however it was spelled."""
    return hashlib.sha256(_ENCODER.encode(data)).digest()


async def place_order(
    pool: Pool,
    redis: RedisClient,
    quotes: QuoteStore,
    flash: Purchases,
    data: OrderCreate,
    *,
    principal: Principal,
    actor: str,
    idempotency_key: str,
    now: datetime,
    commission_tax_rate: Decimal = ZERO,
    terms: TermsRecorder | None = None,
    reply: idempotency.Reply | None = None,
    checkout_session_id: str | None = None,
) -> tuple[Order, bool]:
    """Confirm a stored quote as an order; returns (order, True when replayed for this key). `terms`
    records the order's own pricing terms, which its edits price under (orders/terms.py). `reply` writes
    the answer kept for the key with the order (a retry raises `idempotency.Replayed` with it).
    `checkout_session_id`: the checkout session it completes (docs/agents.md), kept with the order."""
    fingerprint = request_hash(data)
    async with (
        pool.acquire() as conn,
        # One request per key at a time (db/idempotency.py): a retry sent while the first is still
        # running waits for it here, then gets its answer, instead of racing it for the quote's
        # flash units and stock.
        idempotency.claimed(
            conn, scope="order", principal_id=principal.id, key=idempotency_key, fingerprint=fingerprint, reply=reply
        ) as claim,
    ):
        existing = await repository.get_order_by_key(conn, principal_id=principal.id, idempotency_key=idempotency_key)
        if existing is not None:
            return await _replay(conn, existing, fingerprint), True
        # Marks the quote ordered from here on: no process's identical-request cache hands it out again.
        taken = await quotes.take_for_order(data.quote_id, now=now)
        if taken is None:
            raise Conflict(f"quote {data.quote_id} is unknown or has expired", code="QUOTE_EXPIRED")
        quote = taken.quote
        policy.check_orderable(taken, principal)  # only its maker or an admin orders it (404)
        # Flash-priced units are bought from their sale like any flash purchase: taken in Redis
        # first (refusals answer 409 at once), recorded in the ledger inside the order's
        # transaction, given back if that transaction does not commit.
        held = await flash.hold(_flash_quantities(quote), customer=quote.customer_id, now=now)
        committed = False
        try:
            await fault_points.hit("order.flash_held")
            async with conn.transaction():
                placing = Placing(
                    principal, actor, idempotency_key, fingerprint, now, commission_tax_rate, terms,
                    checkout_session_id=checkout_session_id,
                )  # fmt: skip
                row, coupon_uses, consumed = await _write_order(conn, quote, placing)
                await flash.record(
                    conn, held, customer=quote.customer_id, principal_id=principal.id, order_id=row["id"]
                )
                order = (await assemble(conn, [row]))[0]
                await webhooks.emit(conn, "order.created", {"order": order})
                await agent_events.announce(conn, order, "order_create")
                await claim.keep(order)
            committed = True
            await fault_points.hit("order.committed")
            if consumed:
                reservations.counted_consumed()
        except Conflict as refused:
            if refused.code == "COUPON_LIMIT_REACHED":  # the quote path's counter was too low: lost or never told
                await coupon_counters.relearn(conn, redis, quote.customer_id, [c.code for c in _applied_coupons(quote)])
            elif isinstance(refused, QuantityLimitReached):  # the same for a customer's units
                await publish_units(conn, redis, quote.customer_id, _limited(quote), now)
            raise
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != repository.QUOTE_ONCE_CONSTRAINT:
                raise
            # Lost a race for the quote to a request with another key (one with this key waited above).
            raise Conflict(f"quote {data.quote_id} has already been ordered", code="QUOTE_ALREADY_ORDERED") from exc
        finally:
            if committed:
                await flash.settle(held)
            else:
                await flash.release(held, customer=quote.customer_id)
    await coupon_counters.publish(redis, quote.customer_id, coupon_uses)
    limited = order_row_limited(row)
    if limited:
        async with pool.acquire() as conn:
            await publish_units(conn, redis, quote.customer_id, limited, now)
    return order, False


def _limited(quote: Quote) -> list[str]:
    """The products (and offers: `QuantityLimit.key`) the quote is under a per-customer quantity limit for."""
    return [limit.key for limit in quote.quantity_limits or []]


def order_row_limited(row: asyncpg.Record) -> list[str]:
    """The products an order was under a per-customer quantity limit for (migration 0730)."""
    return list(row["limited_products"] or [])


def may_use_up_coupons(order: Order, coupons: CouponSet) -> bool:
    """Whether placing `order`, or cancelling it, may have taken a coupon's last use or given one
    back (one of its coupons has a total usage_limit): its transaction then moved the configuration
    version (a trigger, migration 0170), which the process must follow (`ConfigStore.follow`)."""
    return any((c := coupons.get(a.code)) is not None and c.usage_limit is not None for a in order.applied_coupons)


def _flash_quantities(quote: Quote) -> dict[tuple[UUID, UUID, UUID | None], int]:
    """Units to buy per (flash sale, product, offer): a line sold from an offer at its flash price buys from
    the sale's item naming that offer (docs/offers.md#price-lists-and-flash-sales), any other from the item
    without one (None)."""
    wanted: dict[tuple[UUID, UUID, UUID | None], int] = defaultdict(int)
    for line in quote.items:
        if line.price_source == "flash_sale" and line.flash_sale_id is not None:
            offer_id = line.offer_id if isinstance(line.offer_id, UUID) else None
            wanted[(line.flash_sale_id, UUID(line.product_id), offer_id)] += line.quantity
    return dict(wanted)


async def _replay(conn: Connection, row: asyncpg.Record, fingerprint: bytes) -> Order:
    idempotency.same_request(bytes(row["request_hash"]), fingerprint)
    return (await assemble(conn, [row]))[0]


class FlashPurchase(NamedTuple):
    """The flash-sale purchase an order records (its sale, and its id)."""

    flash_sale_id: UUID
    purchase_id: UUID


class Placing(NamedTuple):
    """Who places an order, under which key and request, when, and under which terms: what writing it needs
    beyond its quote."""

    principal: Principal
    actor: str
    key: str
    fingerprint: bytes
    now: datetime
    commission_tax_rate: Decimal
    terms: TermsRecorder | None = None
    flash_purchase: FlashPurchase | None = None
    """The flash-sale purchase the order is (docs/flash-sales.md#a-purchase-is-an-order)."""
    checkout_session_id: str | None = None
    """The checkout session the order completes (docs/agents.md), named in its agent's events."""


async def write_flash_order(conn: Connection, quote: Quote, placing: Placing) -> UUID:
    """A flash "Buy now" purchase's order (docs/flash-sales.md#a-purchase-is-an-order), in the purchase's
    transaction `conn`: `quote` (its one line, at the flash price) written as `place_order` writes a quote
    it confirms, with its `order.created` event; its id. The ledger row is the caller's: its units come
    from the sale, and `quote` neither reserved stock nor applied a coupon. The order is read back for
    the event only when a subscription wants it (or an agent bought: its ACP event, docs/agents.md#order-events):
    in a storm every winner holds a connection meanwhile."""
    row, _, _ = await _write_order(conn, quote, placing)
    order: Order | None = None
    if await webhooks.wanted(conn, "order.created"):
        order = (await assemble(conn, [row]))[0]
        await webhooks.emit(conn, "order.created", {"order": order})
    if quote.agent is not UNSET:  # an agent's purchase: its order event, as an order placed from its quote
        order = order or (await assemble(conn, [row]))[0]
        await agent_events.announce(conn, order, "order_create")
    order_id: UUID = row["id"]
    return order_id


async def _write_order(
    conn: Connection, quote: Quote, placing: Placing
) -> tuple[asyncpg.Record, dict[str, coupon_repository.Uses], bool]:
    """Steps 1-4 of the module docstring; returns the order row, each coupon's new count (with its
    version) for this customer, and whether the quote's stock reservation was consumed."""
    terms, flash_purchase, now = placing.terms, placing.flash_purchase, placing.now
    recorded = None if terms is None else terms.terms_of(quote)
    fields = {
        "quote_id": quote.quote_id,
        "customer_id": quote.customer_id,
        "currency": quote.currency,
        **quote_totals(quote),
        "principal_id": placing.principal.id,
        "idempotency_key": placing.key,
        "request_hash": placing.fingerprint,
        "created_by": placing.actor,
        "record": 1,
        "tax_terms": tax_record.order_terms(quote),
        "flash_sale_id": None if flash_purchase is None else flash_purchase.flash_sale_id,
        "flash_purchase_id": None if flash_purchase is None else flash_purchase.purchase_id,
        "limited_products": _limited(quote) or None,
        "terms": None if recorded is None else recorded.terms,
        "agent": None if quote.agent is UNSET else msgspec.to_builtins(quote.agent),
        "checkout_session_id": placing.checkout_session_id,
        "fx": None if quote.fx is UNSET else msgspec.to_builtins(quote.fx),
    }
    row = await repository.insert_order(conn, fields=fields)
    order_id: UUID = row["id"]
    if terms is not None and recorded is not None:
        await terms.store(conn, recorded)
    wanted = reservations.catalog_units(quote)
    from_offers = reservations.offer_units(quote)
    consumed = False
    if wanted:
        ids = sorted(wanted)
        locked = await catalog.lock_products(conn, product_ids=ids)
        offer_rows = await offer_stock.lock(conn, from_offers) if from_offers else None  # after the products
        consumed, held = await reservations.take_for_order(
            conn, quote_id=quote.quote_id, order_id=order_id, product_ids=ids, now=now
        )
        reservations.check_units(_first_lines(quote), wanted, locked, held, verb="ordered")
    elif from_offers:
        offer_rows = await offer_stock.lock(conn, from_offers)
        consumed, _ = await reservations.take_for_order(
            conn, quote_id=quote.quote_id, order_id=order_id, product_ids=[], now=now
        )
    if from_offers:  # docs/offers.md: locked after the products, in id order, and never oversold
        assert offer_rows is not None
        await offer_stock.take(conn, quote, from_offers, offer_rows, now=now)
    if quote.quantity_limits:  # docs/pricing.md#quantity-rules: counted again under the lock
        await check_unit_limits(conn, quote, now)
    coupons = _applied_coupons(quote)
    generated = await coupon_codes.coupon_for_codes(conn, [c.code for c in coupons]) if coupons else {}
    if generated and terms is not None and recorded is not None:  # their coupons' terms, under their own codes
        codes = [c.code for c in quote.applied_coupons]
        kept = terms.with_codes(recorded, codes, {code: parent for code, (parent, _) in generated.items()})
        await repository.set_terms(conn, order_id=order_id, terms=kept)
    if generated:  # single-use codes of batches: redeemed on their own rows (docs/promotions.md#code-batches)
        redeemed = [(c.code, c.type, c.amount, i) for i, c in enumerate(coupons) if c.code in generated]
        await coupon_codes.redeem(conn, order_id=order_id, used=redeemed)
        coupons = [c for c in coupons if c.code not in generated]
    codes = [coupon.code for coupon in coupons]
    new_counts: dict[str, coupon_repository.Uses] = {}
    if coupons:
        locked = await repository.lock_coupons(conn, codes=sorted(codes))
        uses = await coupon_repository.customer_uses(conn, customer_id=quote.customer_id, codes=codes)
        _check_coupons(codes, locked, uses)
        new_counts = coupon_counters.after_order(uses, codes)
    if wanted:
        taken = {pid: -quantity for pid, quantity in wanted.items()}
        await catalog.move_stock(conn, deltas=taken, reason=f"order {order_id}", actor=placing.actor)
    used = await _check_promotions(conn, quote)
    if coupons:
        await repository.count_coupon_use(conn, codes=codes)
        await repository.insert_redemptions(conn, order_id=order_id, customer_id=quote.customer_id, coupons=coupons)
    if used:
        await promotions.count_promotion_use(conn, order_id=order_id, customer_id=quote.customer_id, used=used)
    await _write_money(conn, row, quote, placing.commission_tax_rate)
    return row, new_counts, consumed


def quote_totals(quote: Quote) -> dict[str, Decimal]:
    """The order row's totals, as its quote priced them (placing writes them; an edit's commit, its basket's)."""
    breakdown = quote.commission_breakdown
    return {
        "subtotal": quote.subtotal,
        "discount_amount": quote.discount_amount,
        "tax_amount": quote.tax_amount,
        "tax_included": quote.tax_included if isinstance(quote.tax_included, Decimal) else ZERO,
        "delivery_fee": quote.delivery_fee,
        "small_basket_fee": quote.small_basket_fee,
        "total_amount": quote.total_amount,
        "total_commission": breakdown.total_commission,
        "seller_commission": breakdown.seller_commission,
        "category_commission": breakdown.category_commission,
        "logistics_commission": breakdown.logistics_commission,
    }


async def _write_money(conn: Connection, row: asyncpg.Record, quote: Quote, commission_tax_rate: Decimal) -> None:
    """The order's money (`write_priced`) and the entries placing it writes in its sellers' ledgers
    (orders/money.py: the change from nothing to its record)."""
    order_id: UUID = row["id"]
    record = await write_priced(conn, order_id, quote, commission_tax_rate)
    await ledger_repository.write(
        conn, kind="order", entry_id=order_id, order_id=order_id, currency=quote.currency, at=row["created_at"],
        entries=money.ledger_entries(money.change(money.NOTHING, record), "order"),
    )  # fmt: skip


async def write_priced(
    conn: Connection,
    order_id: UUID,
    quote: Quote,
    commission_tax_rate: Decimal,
    at: repository.Placement | None = None,
    refunded: Mapping[str | None, UUID] | None = None,
) -> money.OrderMoney:
    """The rows of `quote`'s money: its priced record (`write_record`), its commission details and its shipments;
    returns its money. `at`: where an edit writes its edited basket's, `refunded`: the sellers whose shipment fee
    a refund gave back already (shipment_repository.insert_shipments)."""
    details = quote.commission_breakdown.details
    on_lines = commission_record.details_on_lines([line.product_id for line in quote.items], details)
    record = await write_record(conn, order_id, quote, commission_tax_rate, on_lines, at)
    cent = quantum(quote.currency)
    once = [charged_once(detail, commission_tax_rate, cent) for detail in details]
    await repository.insert_commissions(conn, order_id=order_id, details=details, lines=on_lines, at=at, once=once)
    if quote.shipments and not isinstance(quote.sellers, UnsetType):
        await shipment_repository.insert_shipments(
            conn, order_id=order_id, shipments=quote.shipments, sellers=quote.sellers,
            first=0 if at is None else at.shipment, edit_id=None if at is None else at.edit_id, refunded=refunded,
        )  # fmt: skip
    return record


async def write_record(
    conn: Connection,
    order_id: UUID,
    quote: Quote,
    commission_tax_rate: Decimal,
    on_lines: Sequence[int | None],
    at: repository.Placement | None = None,
) -> money.OrderMoney:
    """The lines with their commission parts (each from the details on it, `on_lines`; and the tax on them
    at `commission_tax_rate` percent), each line's discount by source with its funder, and the promotions
    applied: the order's priced record, from the quote as it was priced (never recomputed); returns its money
    (orders/money.py). `at`: where an edit writes its edited basket's
    (docs/orders-and-refunds.md#edits-and-exchanges)."""
    charged = money.line_commissions(quote, commission_tax_rate, on_lines)
    cent = quantum(quote.currency)
    await repository.insert_lines(
        conn,
        order_id=order_id,
        lines=quote.items,
        commissions=[(c.category, c.seller) for c in charged],
        money=[(c.platform, c.tax) for c in charged],
        taxes=tax_record.line_taxes(quote),
        at=at,
        fees=[commission_record.stored_fees(c.fees) for c in charged],  # docs/commission.md: None without fees
    )
    # The goods discounts' sources, in the order the engine applied them: promotions, then coupons.
    # A FREE_DELIVERY promotion's or coupon's amount is the fee it waived, no line's discount.
    sources: list[tuple[str, str, str, str | None, Decimal]] = [
        ("promotion", str(p.promotion_id), p.name, None, p.amount)
        for p in quote.applied_promotions
        if p.kind != "FREE_DELIVERY" and p.amount > 0
    ]
    funders = [_funder(p.funded_by) for p in quote.applied_promotions if p.kind != "FREE_DELIVERY" and p.amount > 0]
    coupons = [c for c in _applied_coupons(quote) if c.type != "FREE_DELIVERY" and c.amount > 0]
    sources += [("coupon", c.code, c.code, c.code, c.amount) for c in coupons]
    funders += [_funder(c.funded_by) for c in coupons]
    scopes = await repository.discount_scopes(
        conn,
        codes=[source[1] for source in sources if source[0] == "coupon"],
        promotion_ids=[UUID(source[1]) for source in sources if source[0] == "promotion"],
    )
    discounts = [line.discount for line in quote.items]
    subtotals = [line.line_subtotal for line in quote.items]
    amounts = [source[4] for source in sources]
    applies = [[_applies(line, scopes.get((source[0], source[1]))) for source in sources] for line in quote.items]
    if any(funder == PLATFORM_FUNDED for funder in funders):  # each line's platform part is the engine's own
        funded = [money.platform_funded(line) for line in quote.items]
        platform = [funder == PLATFORM_FUNDED for funder in funders]
        shares = record_math.split_by_funder(discounts, funded, subtotals, amounts, platform, applies, cent)
    else:
        shares = record_math.split_discounts(discounts, subtotals, amounts, applies, cent)
    rows = [
        repository.DiscountRow(position, kind, source_id, name, code, funder, share)
        for position, row in enumerate(shares)
        for (kind, source_id, name, code, _), funder, share in zip(sources, funders, row, strict=True)
        if share > 0
    ]
    if rows:
        await repository.insert_line_discounts(
            conn, order_id=order_id, rows=rows, first_line=0 if at is None else at.line
        )
    if quote.applied_promotions:
        await repository.insert_promotions(
            conn,
            order_id=order_id,
            promotions=[
                (p.promotion_id, p.name, p.kind, p.amount, _funder(p.funded_by)) for p in quote.applied_promotions
            ],
            first=0 if at is None else at.promotion,
        )
    return money.OrderMoney(money.quote_lines(quote, charged), money.quote_fees(quote, commission_tax_rate))


def _finance(line: asyncpg.Record, currency: str) -> dict[str, Any]:
    """A line's platform contribution and commission tax, each only when there is some."""
    found = {name: line[name] for name in ("platform_contribution", "commission_tax")}
    return {name: round_money(amount, currency) for name, amount in found.items() if amount}


def _funder(funded_by: str | UnsetType) -> str:
    """Who funds a promotion or coupon the quote applied: only the platform's say so."""
    return SELLER_FUNDED if isinstance(funded_by, UnsetType) else funded_by


def _applies(line: QuoteLine, scope: tuple[frozenset[str], frozenset[str]] | None) -> bool:
    """Whether a promotion or coupon limited to `scope` (category ids, product ids) may discount the
    line: never a flash-priced one; any other when it names neither (or is gone)."""
    if line.flash_sale_id is not None or line.price_source == "flash_sale":
        return False
    if scope is None or not (scope[0] or scope[1]):
        return True
    categories, products = scope
    return line.product_id in products or (line.category_id is not None and line.category_id in categories)


def _first_lines(quote: Quote) -> dict[UUID, int]:
    """The first catalog line of each product: where a refusal points."""
    first_line: dict[UUID, int] = {}
    for index, line in enumerate(quote.items):
        if line.price_source in STOCKED_SOURCES:
            first_line.setdefault(UUID(line.product_id), index)
    return first_line


async def _check_promotions(conn: Connection, quote: Quote) -> list[tuple[UUID, str, Decimal]]:
    """Lock the quote's applied promotions and refuse the order when one reached its usage_limit or
    the customer's per_customer_limit (409 PROMOTION_LIMIT_REACHED), or when its discount would pass
    what is left of its budget (409 PROMOTION_BUDGET_EXHAUSTED); the uses to count (id, kind,
    amount). Their release on cancel: `promotions.release_order_uses`."""
    used = {p.promotion_id: (p.promotion_id, p.kind, p.amount) for p in quote.applied_promotions}
    if not used:
        return []
    rows = {row["id"]: row for row in await promotions.lock_promotions(conn, promotion_ids=sorted(used))}
    limited = [pid for pid, row in rows.items() if row["per_customer_limit"] is not None]
    uses = await promotions.customer_uses(conn, customer_id=quote.customer_id, promotion_ids=limited) if limited else {}
    problems: list[FieldError] = []
    over_budget: list[FieldError] = []
    for index, (promotion_id, _, amount) in enumerate(used.values()):
        row = rows.get(promotion_id)
        field = f"applied_promotions[{index}]"
        if row is None:
            problems.append(FieldError(field, f"promotion {promotion_id} no longer exists"))
        elif row["usage_limit"] is not None and row["times_used"] >= row["usage_limit"]:
            problems.append(
                FieldError(field, f"promotion {row['name']!r} reached its usage limit ({row['usage_limit']})")
            )
        elif row["per_customer_limit"] is not None and uses.get(promotion_id, 0) >= row["per_customer_limit"]:
            message = f"promotion {row['name']!r} reached its limit per customer ({row['per_customer_limit']})"
            problems.append(FieldError(field, message))
        elif row["budget_amount"] is not None and row["budget_used"] + amount > row["budget_amount"]:
            left = max(row["budget_amount"] - row["budget_used"], ZERO)
            message = (
                f"promotion {row['name']!r} has {round_money(left, row['budget_currency'])} {row['budget_currency']}"
                f" of its budget left, less than the {amount} this quote counted on"
            )
            over_budget.append(FieldError(field, message))
    if problems:
        raise Conflict(
            "promotion limit reached: " + "; ".join(p.message for p in problems),
            code="PROMOTION_LIMIT_REACHED",
            details=problems,
        )
    if over_budget:
        raise Conflict(
            "promotion budget exhausted: " + "; ".join(p.message for p in over_budget),
            code="PROMOTION_BUDGET_EXHAUSTED",
            details=over_budget,
        )
    return list(used.values())


def _applied_coupons(quote: Quote) -> list[AppliedCoupon]:
    """The quote's applied coupons by upper-case code, each once, in the order applied."""
    seen: dict[str, AppliedCoupon] = {}
    for coupon in quote.applied_coupons:
        code = normalize_code(coupon.code)
        if code not in seen:
            seen[code] = msgspec.structs.replace(coupon, code=code)
    return list(seen.values())


def _check_coupons(
    codes: Sequence[str], locked: Sequence[asyncpg.Record], uses: dict[str, coupon_repository.Uses]
) -> None:
    """Refuse the order when any coupon has reached its total or per-customer limit."""
    rows = {row["code"]: row for row in locked}
    problems: list[FieldError] = []
    for index, code in enumerate(codes):
        row = rows.get(code)
        if row is None:
            problems.append(FieldError(f"applied_coupons[{index}]", f"coupon {code} no longer exists"))
        elif row["usage_limit"] is not None and row["times_used"] >= row["usage_limit"]:
            problems.append(
                FieldError(f"applied_coupons[{index}]", f"coupon {code} reached its usage limit ({row['usage_limit']})")
            )
        elif row["per_customer_limit"] is not None and uses.get(code, NO_USES).count >= row["per_customer_limit"]:
            problems.append(
                FieldError(
                    f"applied_coupons[{index}]",
                    f"coupon {code} reached its limit per customer ({row['per_customer_limit']})",
                )
            )
    if problems:
        raise Conflict(
            "coupon limit reached: " + "; ".join(p.message for p in problems),
            code="COUPON_LIMIT_REACHED",
            details=problems,
        )


# --- reading -------------------------------------------------------------------------------


def can_see(principal: Principal, row: asyncpg.Record) -> bool:
    """Admins see every order, users their own (as customer), API keys those they placed (a seller
    sees those holding its lines: `get_order`)."""
    if principal.role == "admin":
        return True
    if principal.role == "user":
        return bool(row["customer_id"] == str(principal.id))
    return bool(row["principal_id"] == principal.id)


class OrderFilters(NamedTuple):
    """What `GET /orders` narrows the list to (each optional)."""

    customer_id: str | None = None
    seller_id: str | None = None
    """Orders with a line of this seller."""
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    """Created before this instant (excluded)."""


async def list_orders(
    pool: Pool,
    *,
    principal: Principal,
    filters: OrderFilters,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> Page[Order]:
    """Orders newest first: admins all (or one customer's), users their own, API keys those they
    placed; every filter narrows that, never widens it."""
    customer_id = filters.customer_id
    own_customer: str | None = None
    own_principal: UUID | None = None
    seller_id = filters.seller_id
    own = own_seller(principal)
    if own is not None:  # orders holding its lines, any customer's; naming another seller finds nothing
        owned_by(principal, seller_id or own, f"seller {seller_id}")
        seller_id = own
    elif principal.role == "user":
        own_customer = str(principal.id)
        if customer_id not in (None, own_customer):
            return Page(items=[], next_cursor=None)
    elif principal.role != "admin":
        own_principal = principal.id
    async with pool.acquire() as conn:
        rows = await repository.list_orders(
            conn,
            customer_id=own_customer or customer_id,
            principal_id=own_principal,
            seller_id=seller_id,
            status=filters.status,
            since=filters.since,
            until=filters.until,
            before=before,
            limit=limit,
        )
        orders = {order.id: order for order in await _as_seen(conn, await assemble(conn, rows[:limit]), own)}
    return page_of(
        rows, "orders", limit=limit, key=lambda r: (r["created_at"], r["id"]), item=lambda r: orders[r["id"]]
    )


async def get_order(pool: Pool, order_id: UUID, *, principal: Principal) -> Order:
    """One order, if the caller may see it (otherwise 404, as if it did not exist)."""
    async with pool.acquire() as conn:
        row = await repository.get_order(conn, order_id=order_id)
        own = own_seller(principal)
        if row is None or not (own is not None or can_see(principal, row)):
            raise NotFound(f"order {order_id} not found")
        order = (await assemble(conn, [row]))[0]
        if own is not None and not any(line.seller_id == own for line in order.items):
            raise NotFound(f"order {order_id} not found")
        return (await _as_seen(conn, [order], own))[0]


async def _as_seen(conn: Connection, orders: Sequence[Order], seller_id: str | None) -> list[Order]:
    """The orders as their reader sees them: whole, or a seller's part of each (orders/seller_view.py),
    with the refunds that gave back something of the seller's."""
    if seller_id is None:
        return list(orders)
    refunds: dict[UUID, list[tuple[UUID, Decimal]]] = defaultdict(list)
    for row in await refund_repository.seller_refunds(conn, order_ids=[o.id for o in orders], seller_id=seller_id):
        refunds[row["order_id"]].append((row["id"], row["refunded"]))
    edited = [order.id for order in orders if order.edits]
    moved = await ledger_repository.seller_edits(conn, order_ids=edited, seller_id=seller_id) if edited else {}
    return [seller_view(order, seller_id, refunds=refunds[order.id], edits=moved) for order in orders]


async def assemble(conn: Connection, rows: Sequence[asyncpg.Record]) -> list[Order]:
    """Orders with their lines, commissions and coupons, in the order of `rows`."""
    if not rows:
        return []
    parts = await repository.parts_of(
        conn, order_ids=[row["id"] for row in rows], edited=[row["id"] for row in rows if row["revision"] > 1]
    )
    lines: dict[UUID, list[asyncpg.Record]] = defaultdict(list)
    details: dict[UUID, list[asyncpg.Record]] = defaultdict(list)
    coupons: dict[UUID, list[asyncpg.Record]] = defaultdict(list)
    refunds: dict[UUID, list[UUID]] = defaultdict(list)
    discounts: dict[tuple[UUID, int], list[asyncpg.Record]] = defaultdict(list)
    promotions_of: dict[UUID, list[asyncpg.Record]] = defaultdict(list)
    for part in parts.discounts:
        discounts[(part["order_id"], part["line_position"])].append(part)
    for part in parts.promotions:
        promotions_of[part["order_id"]].append(part)
    for part in parts.refunds:
        refunds[part["order_id"]].append(part["id"])
    for part in parts.lines:
        lines[part["order_id"]].append(part)
    for part in parts.commissions:
        details[part["order_id"]].append(part)
    for part in parts.coupons:
        coupons[part["order_id"]].append(part)
    edits: dict[UUID, list[asyncpg.Record]] = defaultdict(list)
    for part in parts.edits:
        edits[part["order_id"]].append(part)
    shipments: dict[UUID, list[asyncpg.Record]] = defaultdict(list)
    for part in await shipment_repository.shipments_of(conn, order_ids=[row["id"] for row in rows]):
        shipments[part["order_id"]].append(part)
    paid: dict[UUID, list[Payment]] = defaultdict(list)
    settled = [row["id"] for row in rows if row["paid_amount"]]  # only orders with a payment ask for them
    for part in await payment_repository.payments_of(conn, order_ids=settled) if settled else []:
        paid[part["order_id"]].append(payment_of(part))
    return [
        order_from_rows(
            row,
            lines[row["id"]],
            details[row["id"]],
            coupons[row["id"]],
            refunds[row["id"]],
            Record(
                [discounts.get((row["id"], line["position"]), []) for line in lines[row["id"]]],
                promotions_of[row["id"]],
                edits[row["id"]],
                paid[row["id"]],
            ),
            shipments[row["id"]],
        )
        for row in rows
    ]


class Record(NamedTuple):
    """An order's priced-record rows: each line's discounts (in its lines' order), its promotions, its
    committed edits and its payments."""

    discounts: Sequence[Sequence[asyncpg.Record]] = ()
    promotions: Sequence[asyncpg.Record] = ()
    edits: Sequence[asyncpg.Record] = ()
    payments: Sequence[Payment] = ()


NO_RECORD = Record()


def order_from_rows(
    row: asyncpg.Record,
    lines: Sequence[asyncpg.Record],
    details: Sequence[asyncpg.Record],
    coupons: Sequence[asyncpg.Record],
    refunds: Sequence[UUID] = (),
    record: Record = NO_RECORD,
    shipments: Sequence[asyncpg.Record] = (),
) -> Order:
    """An order as the API shows it: money with exactly the currency's digits. An order with a
    tax-inclusive line shows every line's tax split and its `tax_included`, as its quote did."""
    currency = row["currency"]
    split = any(line["prices_include_tax"] for line in lines)
    commissions = _commissions(lines, details)
    line_discounts = record.discounts or [()] * len(lines)
    # A line's number is its position, the same in its items, its commission details, refunds and edits
    # (docs/orders-and-refunds.md#line-numbers): an edit writes lines anew, with numbers of their own.
    return Order(
        id=row["id"],
        quote_id=row["quote_id"],
        customer_id=row["customer_id"],
        status=row["status"],
        currency=currency,
        **_money(row, currency, "subtotal", "discount_amount", "tax_amount", "delivery_fee", "small_basket_fee"),
        total_amount=round_money(row["total_amount"], currency),
        items=[
            _line(line, currency, split, commissions[position], line_discounts[position])
            for position, line in enumerate(lines)
        ],
        commission_breakdown=_breakdown(row, details, currency),
        applied_coupons=[
            AppliedCoupon(code=c["coupon_code"], type=c["type"], amount=round_money(c["amount"], currency))
            for c in coupons
        ],
        applied_promotions=[
            OrderPromotion(
                promotion_id=p["promotion_id"],
                name=p["name"],
                kind=p["kind"],
                amount=round_money(p["amount"], currency),
                funded_by=p["funded_by"],
            )
            for p in record.promotions
        ],
        logistics_commission=round_money(row["logistics_commission"], currency),
        priced_record=row["record"] is not None,
        created_by=row["created_by"],
        created_at=row["created_at"],
        refunded_amount=round_money(row["refunded_amount"], currency),
        refunds=list(refunds),
        tax_included=round_money(row["tax_included"], currency) if split else UNSET,
        shipments=_shipments(shipments, currency) if shipments else UNSET,
        sellers=_sellers(shipments, currency, commission_record.seller_fees(lines, details)) if shipments else UNSET,
        **tax_record.order_fields(row["tax_terms"], currency),
        # docs/flash-sales.md#a-purchase-is-an-order: the flash purchase the order records, when it is one.
        flash_sale_id=UNSET if row["flash_purchase_id"] is None else row["flash_sale_id"],
        purchase_id=UNSET if row["flash_purchase_id"] is None else row["flash_purchase_id"],
        revision=row["revision"],
        edits=[
            OrderEdit(
                edit_id=e["id"],
                revision=e["committed_revision"],
                difference_due=round_money(e["difference_due"], currency),
                at=e["committed_at"],
                refund_id=e["refund_id"],
            )
            for e in record.edits
        ],
        balance_due=round_money(row["balance_due"], currency),
        paid_amount=round_money(row["paid_amount"], currency),
        payments=list(record.payments),
        channel=UNSET if row["agent"] is None else policy.AGENT_CHANNEL,
        agent=UNSET if row["agent"] is None else msgspec.convert(row["agent"], AgentRef),
        fx=UNSET if row["fx"] is None else msgspec.convert(row["fx"], QuoteFx),
        checkout_session_id=row["checkout_session_id"] or UNSET,
    )


def _line(
    line: asyncpg.Record,
    currency: str,
    split: bool,
    commission: tuple[Decimal, Decimal],
    discounts: Sequence[asyncpg.Record],
) -> OrderLine:
    """An order line as the API shows it (`split`: the order has a tax-inclusive line; `commission`: its
    (category, seller) commission; `discounts`: its discount by source)."""
    return OrderLine(
        line=line["position"],
        product_id=line["product_id"],
        quantity=line["quantity"],
        **_money(line, currency, "list_unit_price", "unit_price", "line_subtotal", "discount", "tax"),
        tax_rate=line["tax_rate"],
        price_source=line["price_source"],
        flash_sale_id=line["flash_sale_id"],
        category_id=line["category_id"],
        seller_id=line["seller_id"],
        price_list_id=line["price_list_id"],
        **({"offer_id": line["offer_id"]} if line["offer_id"] is not None else {}),
        discounts=[_discount(part, currency) for part in discounts],
        commission=LineCommission(
            category=round_money(commission[0], currency),
            seller=round_money(commission[1], currency),
            **commission_record.line_fields(line["commission_fees"], currency),
        ),
        **_split(line, currency, split),
        **_finance(line, currency),
        **tax_record.line_fields(line["taxes"], currency, line["installment_commission"]),
    )


def _breakdown(row: asyncpg.Record, details: Sequence[asyncpg.Record], currency: str) -> CommissionBreakdown:
    """An order's commission breakdown, as its quote showed it (its details in their order)."""
    return CommissionBreakdown(
        **tax_record.installment_breakdown(row["tax_terms"], currency),
        **commission_record.breakdown_fields(details, currency),
        **_money(row, currency, "total_commission", "seller_commission", "category_commission", "logistics_commission"),
        currency=currency,
        details=[
            CommissionDetail(
                **({} if detail["line_position"] is None else {"line": detail["line_position"]}),
                product_id=detail["product_id"],
                rate_id=detail["rate_id"],
                dimension=detail["dimension"],
                commission_type=detail["commission_type"],
                base=round_money(detail["base"], currency),
                rate=detail["rate"],
                amount=round_money(detail["amount"], currency),
                **commission_record.charged_once_fields(detail),
            )
            for detail in details
        ],
    )


def payment_of(row: asyncpg.Record) -> Payment:
    """A payment as the API shows it: money with exactly the currency's digits."""
    currency = row["currency"].strip()
    return row_as(Payment, row, currency=currency, **_money(row, currency, "amount", "balance_due"))


def _shipments(rows: Sequence[asyncpg.Record], currency: str) -> list[OrderShipment]:
    """An order's shipments, as its quote showed them (docs/shipping.md)."""
    return [
        OrderShipment(
            seller_id=r["seller_id"],
            product_ids=list(r["product_ids"]),
            goods=round_money(r["goods"], currency),
            options=[msgspec.convert(o, ShipmentOption, strict=False) for o in r["options"]],
            selected=r["selected"],
            delivery_fee=round_money(r["delivery_fee"], currency),
            free_delivery_remaining=None
            if r["free_delivery_remaining"] is None
            else round_money(r["free_delivery_remaining"], currency),
            logistics_commission=round_money(r["logistics_commission"], currency),
            refund_id=r["refund_id"],
        )
        for r in rows
    ]


def _sellers(
    rows: Sequence[asyncpg.Record], currency: str, fees: dict[str | None, dict[str, Decimal]] | None
) -> list[SellerTotals]:
    """An order's per-seller totals, as its quote showed them (`fees`: each seller's named fees, every name
    of the order's on each; None: the order has none)."""
    shown: list[SellerTotals] = []
    for r in rows:
        extra: dict[str, Any] = {
            name: round_money(r[f"seller_{name}"], currency)
            for name in ("platform_contribution", "tax_exempted")
            if r[f"seller_{name}"] is not None
        }
        if fees is not None:
            extra["fees"] = commission_record.shown(fees.get(r["seller_id"], {}), currency)
        shown.append(
            SellerTotals(
                seller_id=r["seller_id"],
                goods=round_money(r["seller_goods"], currency),
                discount=round_money(r["seller_discount"], currency),
                tax=round_money(r["seller_tax"], currency),
                tax_included=round_money(r["seller_tax_included"], currency),
                delivery_fee=round_money(r["delivery_fee"], currency),
                commission=round_money(r["seller_commission"], currency),
                commission_tax=round_money(r["seller_commission_tax"], currency),
                payout=round_money(r["seller_payout"], currency),
                **extra,
            )
        )
    return shown


def _money(row: asyncpg.Record, currency: str, *columns: str) -> dict[str, Any]:
    """The amounts of `columns` with exactly the currency's digits, each under its column's name."""
    return {column: round_money(row[column], currency) for column in columns}


def _split(line: asyncpg.Record, currency: str, gross: bool) -> dict[str, Any]:
    """An order line's tax split (docs/markets.md#the-lines-tax-split): net + tax = gross; `gross`
    shown only in an order with a tax-inclusive line, as its quote showed it."""
    left = round_money(line["line_subtotal"] - line["discount"], currency)
    tax = round_money(line["tax"], currency)  # an exempt line's is 0: its subtotal is its net (docs/taxes.md)
    inclusive: bool = line["prices_include_tax"]
    net = left - tax if inclusive else left
    split: dict[str, Any] = {"prices_include_tax": inclusive, "net": net}
    if gross:
        split["gross"] = left if inclusive else left + tax
    return split


def _commissions(lines: Sequence[asyncpg.Record], details: Sequence[asyncpg.Record]) -> list[tuple[Decimal, Decimal]]:
    """Each line's (category, seller) commission: as the line keeps it, or (a line written without, as
    generated data is) summed from the details on it (by line, never by product id)."""
    if all(line["commission_category"] is not None for line in lines):
        return [(line["commission_category"], line["commission_seller"]) for line in lines]
    found = record_math.line_commissions(
        len(lines), [(d["line_position"], d["dimension"], d["amount"]) for d in details]
    )
    return [
        found[at] if line["commission_category"] is None else (line["commission_category"], line["commission_seller"])
        for at, line in enumerate(lines)
    ]


def _discount(part: asyncpg.Record, currency: str) -> LineDiscount:
    code = part["code"]
    return LineDiscount(
        source=part["source"],
        id=part["source_id"],
        name=part["name"],
        funded_by=part["funded_by"],
        amount=round_money(part["amount"], currency),
        **({} if code is None else {"code": code}),
    )
