"""Order edits and exchanges: a preview priced under the order's own terms, and its commit, in one
transaction with every effect (docs/orders-and-refunds.md#edits-and-exchanges).

A preview (`preview`) reads the order, its terms (orders/terms.py) and its live lines, prices the
additions at today's prices (the quote service), builds the edited basket (`basket`), prices it under
the order's terms (`pricing`) and works out the money (`money`); it is stored, and answered, unchanged
by anything until its commit.

A commit (`commit`) claims its Idempotency-Key (db/idempotency.py), then, in one transaction and in the
global lock order every order writer keeps (the order's row, products by id, promotions by id):

1. lock the order's row; refuse a cancelled or fully refunded order (409 ORDER_NOT_EDITABLE), an expired
   preview (410 EDIT_EXPIRED), and one whose order moved on since (another edit, a refund: 409 ORDER_CHANGED);
2. move the stock by each product's change of units (removed units back, added ones taken: never
   oversold, 409 INSUFFICIENT_STOCK), with stock_movements;
3. move each promotion's budget by the change of the order's discount from it (a larger one must fit
   what is left: 409 PROMOTION_BUDGET_EXHAUSTED);
4. retire the order's live rows and write the edited basket's (lines, discounts, commission details,
   promotions, shipments), one ledger entry per seller, a refund of kind `edit` for a negative difference,
   the order at its next revision (`balance_due` grows by a positive difference), and `order.edited`.

Any refusal raises before the commit: nothing is written.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from msgspec import UNSET

from quote_service import fault_points, ids
from quote_service.auth.schemas import Principal
from quote_service.catalog import repository as catalog
from quote_service.db import idempotency
from quote_service.db.pool import Connection, Pool
from quote_service.errors import Conflict, FieldError, Gone, NotFound, ServiceError, ValidationFailed
from quote_service.order_edits import repository
from quote_service.order_edits.basket import BasketLine, KeptLine, additions, edited_basket
from quote_service.order_edits.money import (
    EditMoney,
    Fees,
    LineMoney,
    difference,
    quote_fees,
    quote_lines,
    remaining_lines,
    without_fees,
)
from quote_service.order_edits.pricing import Terms, price_basket, stored_quote
from quote_service.order_edits.schemas import EditCreate, EditLine, EditPreview, EditSeller, EditTotals
from quote_service.orders import record_math, refund_math, shipment_repository, tax_record
from quote_service.orders import refund_repository as refunds_sql
from quote_service.orders import repository as orders
from quote_service.orders.refunds import charged_lines
from quote_service.orders.schemas import Order, OrderEdit
from quote_service.orders.service import assemble, can_see, write_record
from quote_service.orders.terms import EditContext, OrderTerms, load_config, order_terms
from quote_service.pricing.lines import HeldPrice
from quote_service.pricing.money import ZERO, round_money
from quote_service.pricing.promotions import Gift, GiftStock
from quote_service.pricing.quote import (
    STOCKED_SOURCES,
    Address,
    AppliedCoupon,
    CatalogProduct,
    CustomerContext,
    Quote,
    QuoteRequest,
)
from quote_service.promotions import repository as promotions
from quote_service.quotes.quote_log import request_of_log
from quote_service.quotes.service import QuoteService
from quote_service.reservations.service import check_units
from quote_service.webhooks import events as webhooks

_CLOSED = ("cancelled", "refunded")
_RETURNED_SOURCES = frozenset({*STOCKED_SOURCES, "flash_sale"})
"""Lines whose units are the product's stock (a flash-sale line's units come back to the product, as a refund's)."""
_ENCODER = msgspec.json.Encoder()
_LOG_WAIT_SECONDS = 2.0
"""How long an edit waits for its order's quote in the quote log (written behind every 0.2 s)."""
_LOG_POLL_SECONDS = 0.05
_GIFT_STOCK = 1 << 30
"""A gift's stock as the edit's pricing sees it: the commit takes its units as any added units (never oversold)."""


class OrderEdits:
    """Previews and commits order edits; one per process."""

    def __init__(self, pool: Pool, quotes: QuoteService, *, window: timedelta, validity: timedelta) -> None:
        self.pool = pool
        self.quotes = quotes
        self.window = window
        """ORDER_EDIT_WINDOW_MINUTES: how long a shopper may edit its own order."""
        self.validity = validity
        """ORDER_EDIT_PREVIEW_SECONDS: how long a preview may be committed."""

    # --- preview ---------------------------------------------------------------------------

    async def preview(
        self, order_id: UUID, data: EditCreate, *, principal: Principal, actor: str, now: datetime
    ) -> EditPreview:
        """Price `data` against the order (201 preview), stored for its commit."""
        if data.is_empty():
            message = "name at least one of add, remove, replace or shipping"
            raise ValidationFailed(f"nothing to edit: {message}", details=[FieldError("add", message)])
        async with self.pool.acquire() as conn:
            order = await orders.get_order(conn, order_id=order_id)
            order = self._editable(order, order_id, principal, now)
            terms = await self._terms(conn, order)
            rows = await refunds_sql.lines_with_refunds(conn, order_id=order_id)
            shipped = await shipment_repository.shipments_of(conn, order_ids=[order_id])
            refund_count = await repository.refund_count(conn, order_id=order_id)
            live_promotions = await repository.live_promotions(conn, order_id=order_id)
        edit_id = ids.uuid4()
        quote = await self._price(order, terms, rows, shipped, data, principal=principal, edit_id=edit_id)
        money = _money(order, terms, rows, shipped, quote)
        was = live_promotions
        applied = {p.promotion_id for p in quote.applied_promotions}
        currency = order["currency"]
        basket_positions = _kept_flags(rows, quote)
        preview = EditPreview(
            edit_id=edit_id,
            order_id=order_id,
            revision=order["revision"],
            currency=currency,
            difference_due=round_money(money.difference_due, currency),
            tax_delta=round_money(money.tax_delta, currency),
            commission_delta=round_money(money.commission_delta, currency),
            sellers=[
                EditSeller(
                    seller_id=s.seller_id,
                    difference_due=round_money(s.difference_due, currency),
                    commission_delta=round_money(s.commission, currency),
                )
                for s in money.sellers
            ],
            promotions_kept=[pid for pid in was if pid in applied],
            promotions_lost=[pid for pid in was if pid not in applied],
            totals=EditTotals(
                subtotal=quote.subtotal,
                discount_amount=quote.discount_amount,
                tax_amount=quote.tax_amount,
                delivery_fee=quote.delivery_fee,
                small_basket_fee=quote.small_basket_fee,
                total_amount=quote.total_amount,
            ),
            items=[
                EditLine(
                    product_id=line.product_id,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    line_subtotal=line.line_subtotal,
                    discount=line.discount,
                    tax=line.tax,
                    price_source=line.price_source,
                    seller_id=line.seller_id,
                    kept=kept,
                )
                for line, kept in zip(quote.items, basket_positions, strict=True)
            ],
            expires_at=now + self.validity,
        )
        async with self.pool.acquire() as conn:
            await repository.insert_edit(
                conn,
                fields={
                    "id": edit_id,
                    "order_id": order_id,
                    "revision": order["revision"],
                    "refunds": refund_count,
                    "request": data,
                    "priced": {"quote": quote, "terms": _kept_terms(order, terms)},
                    "preview": preview,
                    "difference_due": preview.difference_due,
                    "principal_id": principal.id,
                    "created_by": actor,
                    "expires_at": preview.expires_at,
                },
            )
        return preview

    def _editable(
        self, order: asyncpg.Record | None, order_id: UUID, principal: Principal, now: datetime
    ) -> asyncpg.Record:
        """The order, when the caller may edit it now (else 404 as unknown, or 409 ORDER_NOT_EDITABLE)."""
        if order is None or not can_see(principal, order):
            raise NotFound(f"order {order_id} not found")
        if order["status"] in _CLOSED:
            raise Conflict(f"order {order_id} is {order['status']}: it cannot be edited", code="ORDER_NOT_EDITABLE")
        if principal.role == "user":
            if order["status"] != "confirmed":
                raise Conflict("a refund was already made: ask support to change the order", code="ORDER_NOT_EDITABLE")
            if now - order["created_at"] >= self.window:
                minutes = int(self.window.total_seconds() // 60)
                raise Conflict(f"the edit window ({minutes} minutes) has passed", code="ORDER_NOT_EDITABLE")
        return order

    async def _terms(self, conn: Connection, order: asyncpg.Record) -> Terms:
        """The terms the order was placed under (409 ORDER_TERMS_UNKNOWN: placed before orders kept them)."""
        own = order_terms(order["terms"])
        config = None if own is None else await load_config(conn, own.config)
        if own is None or config is None:
            raise _terms_unknown("it was placed before orders kept their pricing terms")
        context = own.context or await self._logged_context(conn, order)
        if context is None:
            raise _terms_unknown("its quote's request is no longer in the quote log")
        stored = order["tax_terms"] or {}
        return Terms(
            order=own,
            config=config,
            context=context,
            rounding=tax_record.rounding_of(stored) if "rounding" in stored else None,
            installment=tax_record.order_fields(stored, order["currency"]).get("installment"),
        )

    async def _logged_context(self, conn: Connection, order: asyncpg.Record) -> EditContext | None:
        """The context the order's quote was asked with: its quote-log row's request (None: not there). The log
        is written behind, within a fraction of a second of the quote (by whichever process answered it): an
        edit of an order placed a moment ago writes this process's rows and waits for the row a little. A
        flash "Buy now" purchase's order (a one-line quote delivered nowhere in particular, docs/flash-sales.md)
        has no log row and needs none."""
        if order["flash_purchase_id"] is not None:
            return EditContext(delivery_address=Address(city="", country=""))
        deadline = time.monotonic() + _LOG_WAIT_SECONDS
        while True:
            row = await repository.logged_request(conn, quote_id=order["quote_id"], placed_at=order["created_at"])
            if row is not None:
                return _context_of(row)
            if time.monotonic() >= deadline:
                return None
            await self.quotes.write_quote_log()
            await asyncio.sleep(_LOG_POLL_SECONDS)

    async def _price(
        self,
        order: asyncpg.Record,
        terms: Terms,
        rows: Sequence[asyncpg.Record],
        shipped: Sequence[asyncpg.Record],
        data: EditCreate,
        *,
        principal: Principal,
        edit_id: UUID,
    ) -> Quote:
        """The edited basket's quote under the order's terms (its refunded fees staying refunded)."""
        added, products = await self._additions(order, terms.context, data, principal)
        wanted = {r["product_id"] for r in rows} | {p.config.product_id for p in _gifts(terms.order)}
        products = {**(await self.quotes.catalog_products(wanted)), **products}
        basket = edited_basket(_kept(rows, products), data, added)
        choices = {s["seller_id"]: s["selected"] for s in shipped if s["seller_id"] is not None and s["selected"]}
        if isinstance(data.shipping, dict):
            choices.update(data.shipping)
        quote = price_basket(
            basket,
            terms,
            customer_id=order["customer_id"],
            currency=order["currency"],
            placed_at=order["created_at"],
            shipping=choices,
            products=products,
            gifts=_gift_stocks(terms.order, products),
            edit_id=edit_id,
        )
        if order["fees_refunded"]:
            return without_fees(quote, None)
        given = {s["seller_id"] for s in shipped if s["refund_id"] is not None}
        return without_fees(quote, given) if given else quote

    async def _additions(
        self, order: asyncpg.Record, context: EditContext, data: EditCreate, principal: Principal
    ) -> tuple[list[BasketLine], dict[str, CatalogProduct]]:
        """The edit's additions at today's prices, for the order's customer and address (`additions` order)."""
        wanted = additions(data)
        if not wanted:
            return [], {}
        items = [item for _, item in wanted]
        request = QuoteRequest(
            customer_id=order["customer_id"],
            items=items,
            delivery_address=context.delivery_address,
            currency=order["currency"],
            seller_id=context.seller_id,
            channel=context.channel,
            customer_group=context.customer_group,
        )
        customer = _customer(order["customer_id"], context)
        try:
            quote, products = await self.quotes.price_today(request, customer, principal)
        except ServiceError as refused:
            raise _renamed(refused, [field for field, _ in wanted]) from refused
        lines = []
        for item, line in zip(items, quote.items, strict=False):
            product = products.get(item.product_id)
            own = product is not None and product.currency == order["currency"]
            lines.append(
                BasketLine(
                    product_id=item.product_id,
                    quantity=item.quantity,
                    price=HeldPrice(
                        source=line.price_source,
                        list_unit=line.list_unit_price,
                        unit=line.unit_price,
                        min_price=product.min_price if own and product is not None else ZERO,
                        inclusive=line.prices_include_tax is True,
                        category_id=line.category_id,
                        seller_id=line.seller_id,
                        product=None if product is None else product.id,
                        price_list_id=line.price_list_id,
                    ),
                    weight=item.weight,
                )
            )
        return lines, products

    # --- commit ----------------------------------------------------------------------------

    async def commit(
        self, order_id: UUID, edit_id: UUID, *, principal: Principal, actor: str, key: str, now: datetime
    ) -> tuple[Order, bool]:
        """Apply a previewed edit once; returns (the order at its new revision, True when replayed for this key)."""
        fingerprint = hashlib.sha256(_ENCODER.encode([str(order_id), str(edit_id)])).digest()
        async with (
            self.pool.acquire() as conn,
            idempotency.claimed(conn, scope="order_edit", principal_id=principal.id, key=key, fingerprint=fingerprint),
        ):
            done = await repository.get_edit_by_key(conn, principal_id=principal.id, idempotency_key=key)
            if done is not None:
                idempotency.same_request(bytes(done["request_hash"]), fingerprint)
                return await _order(conn, done["order_id"]), True
            async with conn.transaction():
                order = await refunds_sql.lock_order(conn, order_id=order_id)
                edit = await repository.get_edit(conn, edit_id=edit_id)
                order = self._editable(order, order_id, principal, now)
                if edit is None or edit["order_id"] != order_id:
                    raise NotFound(f"edit {edit_id} of order {order_id} not found")
                if edit["committed_at"] is None and now >= edit["expires_at"]:
                    raise Gone("the edit's preview expired: preview it again")
                moved = order["revision"] != edit["revision"] or edit["committed_at"] is not None
                if moved or await repository.refund_count(conn, order_id=order_id) != edit["refunds"]:
                    raise Conflict(
                        "the order changed since this edit was previewed: preview it again", code="ORDER_CHANGED"
                    )
                await self._apply(
                    conn, order, edit, principal=principal, actor=actor, key=key, fingerprint=fingerprint, now=now
                )
            await fault_points.hit("order_edit.committed")
            return await _order(conn, order_id), False

    async def _apply(
        self,
        conn: Connection,
        order: asyncpg.Record,
        edit: asyncpg.Record,
        *,
        principal: Principal,
        actor: str,
        key: str,
        fingerprint: bytes,
        now: datetime,
    ) -> None:
        """Steps 2-4 of the module docstring."""
        order_id: UUID = order["id"]
        edit_id: UUID = edit["id"]
        currency: str = order["currency"]
        quote = stored_quote(edit["priced"]["quote"])
        terms = msgspec.convert(edit["priced"]["terms"], OrderTerms, strict=False)
        config = await load_config(conn, terms.config)
        assert config is not None
        rate = config.defaults.commission_tax_rate
        rows = await refunds_sql.lines_with_refunds(conn, order_id=order_id)
        shipped = await shipment_repository.shipments_of(conn, order_ids=[order_id])
        before, fees_before = _before(order, rows, shipped)
        after = quote_lines(quote, rate)
        money = difference(before, fees_before, after, quote_fees(quote))
        request = msgspec.convert(edit["request"], EditCreate, strict=False)
        fields = _addition_fields(request)
        await _move_stock(conn, rows, quote, fields, order_id=order_id, edit_id=edit_id, actor=actor, now=now)
        await _move_promotions(conn, order, quote)
        at = await repository.placement(conn, order_id=order_id, edit_id=edit_id)
        await repository.retire(conn, order_id=order_id, edit_id=edit_id)
        details = quote.commission_breakdown.details
        on_lines = record_math.detail_lines(
            [line.product_id for line in quote.items], [(d.product_id, d.dimension) for d in details]
        )
        await write_record(conn, order_id, quote, rate, on_lines, at)
        await orders.insert_commissions(conn, order_id=order_id, details=details, lines=on_lines, at=at)
        if quote.shipments is not UNSET and quote.sellers is not UNSET:
            await shipment_repository.insert_shipments(
                conn, order_id=order_id, shipments=quote.shipments, sellers=quote.sellers, first=at.shipment,
                edit_id=edit_id, refunded={s["seller_id"]: s["refund_id"] for s in shipped if s["refund_id"]},
            )  # fmt: skip
        await repository.insert_ledger(
            conn, edit_id=edit_id, order_id=order_id, currency=currency, at=now, sellers=money.sellers
        )
        await repository.update_coupon_amounts(
            conn, order_id=order_id, amounts={c.code.upper(): c.amount for c in _coupon_amounts(terms, quote)}
        )
        due = round_money(money.difference_due, currency)
        refund_id = None
        if due < 0:
            refund_id = await _refund(
                conn, order, edit, before, after, fees_before, quote, principal=principal, actor=actor,
                fingerprint=fingerprint,
            )  # fmt: skip
        breakdown = quote.commission_breakdown
        await repository.commit_order(
            conn,
            order_id=order_id,
            fields={
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
                "balance_due": order["balance_due"] + max(due, ZERO),
                "refunded_amount": order["refunded_amount"] - min(due, ZERO),
                "terms": terms,
                "tax_terms": tax_record.order_terms(quote),
            },
        )
        revision = order["revision"] + 1
        await repository.mark_committed(
            conn, edit_id=edit_id, revision=revision, at=now, principal_id=principal.id, key=key,
            fingerprint=fingerprint, refund_id=refund_id,
        )  # fmt: skip
        edited = await _order(conn, order_id)
        entry = OrderEdit(edit_id=edit_id, revision=revision, difference_due=due, at=now, refund_id=refund_id)
        await webhooks.emit(conn, "order.edited", {"order": edited, "edit": entry})
        await fault_points.hit("order_edit.writing")


def _terms_unknown(why: str) -> Conflict:
    return Conflict(f"the order cannot be edited: {why}", code="ORDER_TERMS_UNKNOWN")


async def _order(conn: Connection, order_id: UUID) -> Order:
    row = await orders.get_order(conn, order_id=order_id)
    assert row is not None
    return (await assemble(conn, [row]))[0]


def _kept_terms(order: asyncpg.Record, terms: Terms) -> OrderTerms:
    """The order's terms as its commit keeps them: with the request context its first edit read from the
    quote log (a flash purchase's order has none to keep: its context is always the same, `_logged_context`)."""
    if terms.order.context is not None or order["flash_purchase_id"] is not None:
        return terms.order
    return msgspec.structs.replace(terms.order, context=terms.context)


def _context_of(row: asyncpg.Record) -> EditContext:
    """The context a quote-log row's request was asked with."""
    request, customer = request_of_log(row["request"], row)
    return EditContext(
        delivery_address=request.delivery_address,
        pickup_address=request.pickup_address,
        is_express_delivery=request.is_express_delivery,
        seller_id=request.seller_id,
        logistics_provider=request.logistics_provider,
        channel=request.channel,
        tier=customer.tier,
        segment=customer.segment,
        customer_group=customer.customer_group,
        tax_exemption=request.tax_exemption,
        customer_tax_id=request.customer_tax_id,
    )


def _customer(customer_id: str, context: EditContext) -> CustomerContext:
    return CustomerContext(
        customer_id=customer_id, tier=context.tier, segment=context.segment, customer_group=context.customer_group
    )


def _renamed(error: ServiceError, fields: Sequence[str]) -> ServiceError:
    """A refusal of the additions' pricing with `items[i]` named as the edit's field it came from."""

    def rename(text: str) -> str:
        for index, field in enumerate(fields):
            text = text.replace(f"items[{index}]", field)
        return text

    renamed = type(error)(rename(error.message), code=error.code, details=[
        FieldError(rename(d.field), rename(d.message)) for d in error.details
    ])  # fmt: skip
    renamed.status_code = error.status_code
    return renamed


def _kept(rows: Sequence[asyncpg.Record], products: Mapping[str, CatalogProduct]) -> list[KeptLine]:
    """The order's live lines with units left, each at the price it charged."""
    kept = []
    for r in rows:
        product = products.get(r["product_id"])
        unit: Decimal = r["unit_price"]
        floor = ZERO if product is None or r["price_source"] == "request" else min(product.min_price, unit)
        kept.append(
            KeptLine(
                position=r["position"],
                product_id=r["product_id"],
                quantity=r["quantity"] - r["refunded_quantity"],
                price=HeldPrice(
                    source=r["price_source"],
                    list_unit=r["list_unit_price"],
                    unit=unit,
                    min_price=floor,
                    inclusive=r["prices_include_tax"],
                    category_id=r["category_id"],
                    seller_id=r["seller_id"],
                    product=None if product is None else product.id,
                    flash_sale_id=r["flash_sale_id"],
                    price_list_id=r["price_list_id"],
                ),
                is_gift=r["price_source"] == "gift",
            )
        )
    return kept


def _gifts(terms: OrderTerms) -> list[Any]:
    return [p for p in terms.promotions if isinstance(p.config, Gift)]


def _gift_stocks(terms: OrderTerms, products: Mapping[str, CatalogProduct]) -> dict[str, GiftStock] | None:
    """The gifts of the order's GIFT promotions, as the edit's pricing reads them (None: it has none)."""
    gifts = _gifts(terms)
    if not gifts:
        return None
    found = {}
    for promotion in gifts:
        product = products.get(promotion.config.product_id)
        if product is not None:
            found[str(product.id)] = GiftStock(
                id=str(product.id), category_id=product.category_id, seller_id=product.seller_id,
                is_active=product.is_active, stock=_GIFT_STOCK,
            )  # fmt: skip
    return found


def _kept_flags(rows: Sequence[asyncpg.Record], quote: Quote) -> list[bool]:
    """Whether each line of the edited basket's quote is at an order line's price."""
    charged = {(r["product_id"], r["seller_id"], r["unit_price"]) for r in rows if r["price_source"] != "gift"}
    return [
        line.is_gift is not True and (line.product_id, line.seller_id, line.unit_price) in charged
        for line in quote.items
    ]


def _before(
    order: asyncpg.Record, rows: Sequence[asyncpg.Record], shipped: Sequence[asyncpg.Record]
) -> tuple[list[LineMoney], Fees]:
    """What the order has left: each live line's parts no refund gave back, and the fees not given back."""
    lines = charged_lines(rows, tax_record.rounding_of(order["tax_terms"]))
    takes = refund_math.everything_left(lines, order["currency"])
    before = remaining_lines(takes, {r["position"]: r["seller_id"] for r in rows})
    refunded = bool(order["fees_refunded"])
    small = ZERO if refunded else order["small_basket_fee"]
    if shipped:
        fees = Fees(
            small_basket=small,
            shipments={
                s["seller_id"]: (s["delivery_fee"], s["logistics_commission"])
                for s in shipped
                if s["refund_id"] is None and not refunded
            },
        )
    else:
        fees = Fees(
            delivery=ZERO if refunded else order["delivery_fee"],
            small_basket=small,
            logistics=ZERO if refunded else order["logistics_commission"],
        )
    return before, fees


def _money(
    order: asyncpg.Record, terms: Terms, rows: Sequence[asyncpg.Record], shipped: Sequence[asyncpg.Record], quote: Quote
) -> EditMoney:
    before, fees = _before(order, rows, shipped)
    return difference(before, fees, quote_lines(quote, terms.config.defaults.commission_tax_rate), quote_fees(quote))


def _units(lines: Sequence[tuple[str, str, int]]) -> dict[UUID, int]:
    """Units of each catalog product among (product id, price source, units)."""
    units: dict[UUID, int] = {}
    for product_id, source, quantity in lines:
        if source in _RETURNED_SOURCES:
            try:
                pid = UUID(product_id)
            except ValueError:
                continue
            units[pid] = units.get(pid, 0) + quantity
    return units


def _addition_fields(request: EditCreate) -> dict[UUID, str]:
    """Where a refusal of an added product's units points: the first addition of it."""
    fields: dict[UUID, str] = {}
    for field, item in additions(request):
        try:
            fields.setdefault(UUID(item.product_id), field)
        except ValueError:
            continue
    return fields


async def _move_stock(
    conn: Connection,
    rows: Sequence[asyncpg.Record],
    quote: Quote,
    fields: Mapping[UUID, str],
    *,
    order_id: UUID,
    edit_id: UUID,
    actor: str,
    now: datetime,
) -> None:
    """Each product's stock moves by the edit's change of its units; added units must be in stock, less
    what other quotes hold (409 INSUFFICIENT_STOCK naming the product)."""
    old = _units([(r["product_id"], r["price_source"], r["quantity"] - r["refunded_quantity"]) for r in rows])
    new = _units([(line.product_id, line.price_source, line.quantity) for line in quote.items])
    deltas = {pid: new.get(pid, 0) - old.get(pid, 0) for pid in {*old, *new}}
    deltas = {pid: delta for pid, delta in deltas.items() if delta}
    if not deltas:
        return
    locked = await catalog.lock_products(conn, product_ids=sorted(deltas))
    present = {r["id"] for r in locked}
    wanted = {pid: delta for pid, delta in deltas.items() if delta > 0}
    if wanted:
        held = await catalog.held_units(conn, product_ids=sorted(wanted), now=now)
        check_units({pid: fields.get(pid, "add") for pid in wanted}, wanted, locked, held, verb="added")
    moved = {pid: -delta for pid, delta in deltas.items() if pid in present}
    after = {r["id"]: r["stock"] for r in await catalog.add_stock(conn, deltas=moved)}
    await catalog.insert_stock_movements(
        conn,
        movements=[(pid, n, after[pid]) for pid, n in sorted(moved.items())],
        reason=f"edit {edit_id} of order {order_id}",
        actor=actor,
    )


async def _move_promotions(conn: Connection, order: asyncpg.Record, quote: Quote) -> None:
    """Each promotion's budget (and the order's redemption of it) moves by the change of the order's discount
    from it: a larger one must fit what is left of the budget (409 PROMOTION_BUDGET_EXHAUSTED)."""
    uses = {r["promotion_id"]: r for r in await repository.promotion_uses(conn, order_id=order["id"])}
    new = {p.promotion_id: (p.kind, p.amount) for p in quote.applied_promotions}
    moves = []
    for pid in sorted({*uses, *new}):
        current = uses[pid]["amount"] - uses[pid]["returned"] if pid in uses else ZERO
        kind, target = new.get(pid, ("", ZERO))
        if target != current:
            moves.append((pid, kind, target - current))
    if not moves:
        return
    rows = {r["id"]: r for r in await promotions.lock_promotions(conn, promotion_ids=[m[0] for m in moves])}
    over = []
    for index, (pid, _, delta) in enumerate(moves):
        row = rows.get(pid)
        budget = None if row is None else row["budget_amount"]
        if delta > 0 and row is not None and budget is not None and row["budget_used"] + delta > budget:
            message = f"promotion {row['name']!r} has not {delta} of its budget left"
            over.append(FieldError(f"applied_promotions[{index}]", message))
    if over:
        raise Conflict(
            "promotion budget exhausted: " + "; ".join(e.message for e in over),
            code="PROMOTION_BUDGET_EXHAUSTED",
            details=over,
        )
    await repository.move_promotion_uses(
        conn, order_id=order["id"], customer_id=order["customer_id"], moves=[(p, k or "", d) for p, k, d in moves]
    )


def _coupon_amounts(terms: OrderTerms, quote: Quote) -> list[AppliedCoupon]:
    """Each of the order's coupons with what the edited basket applies of it (0: not any more)."""
    applied = {c.code.upper(): c for c in quote.applied_coupons}
    return [applied.get(c.code.upper()) or AppliedCoupon(code=c.code, type=c.type, amount=ZERO) for c in terms.coupons]


async def _refund(
    conn: Connection,
    order: asyncpg.Record,
    edit: asyncpg.Record,
    before: Sequence[LineMoney],
    after: Sequence[LineMoney],
    fees_before: Fees,
    quote: Quote,
    *,
    principal: Principal,
    actor: str,
    fingerprint: bytes,
) -> UUID:
    """The refund that pays a negative difference back: its parts what the edit reverses (the old lines'
    less the new ones'), with no refund lines (the edit's ledger entries carry them to the statements)."""
    fees_after = quote_fees(quote)

    def reversed_(part: str, inclusive: bool | None = None) -> Decimal:
        def total(lines: Sequence[LineMoney]) -> Decimal:
            return sum((line.part(part) for line in lines if inclusive is None or line.inclusive is inclusive), ZERO)

        return total(before) - total(after)

    delivery = fees_before.delivery + sum((f for f, _ in fees_before.shipments.values()), ZERO)
    delivery -= fees_after.delivery + sum((f for f, _ in fees_after.shipments.values()), ZERO)
    small = fees_before.small_basket - fees_after.small_basket
    logistics = fees_before.commission - fees_after.commission
    amount, discount, tax = reversed_("amount"), reversed_("discount"), reversed_("tax")
    included = reversed_("tax", inclusive=True)
    seller, category = reversed_("seller"), reversed_("category")
    installment = reversed_("installment_commission")
    row = await refunds_sql.insert_refund(
        conn,
        fields={
            "order_id": order["id"],
            "kind": "edit",
            "reason": edit["request"].get("reason"),
            "currency": order["currency"],
            "amount": amount,
            "discount": discount,
            "tax": tax,
            "tax_included": included,
            "seller_commission": seller,
            "category_commission": category,
            "delivery_fee": delivery,
            "small_basket_fee": small,
            "logistics_commission": logistics,
            "total_refunded": amount - discount + tax - included + delivery + small,
            "commission_reversed": seller + category + installment + logistics,
            "principal_id": principal.id,
            "idempotency_key": f"order-edit:{edit['id']}",
            "request_hash": fingerprint,
            "created_by": actor,
        },
        takes=[],
    )
    refund_id: UUID = row["id"]
    return refund_id
