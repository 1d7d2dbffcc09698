"""Order edits and exchanges: a preview priced under the order's own terms, and its commit, in one
transaction with every effect (docs/orders-and-refunds.md#edits-and-exchanges).

A preview (`preview`) reads the order, its terms (orders/terms.py) and its live lines, prices the
additions at today's prices (the quote service), builds the edited basket (`basket`), prices it under
the order's terms (`pricing`) and works out the money (`money`); it is stored, and answered, unchanged
by anything until its commit.

A commit (`commit`) claims its Idempotency-Key (db/idempotency.py), then, in one transaction and in the
global lock order every order writer keeps (the order's row, products by id, offers by id, promotions by id):

1. lock the order's row; refuse a cancelled or fully refunded order (409 ORDER_NOT_EDITABLE), an expired
   preview (410 EDIT_EXPIRED), and one whose order moved on since (another edit, a refund: 409 ORDER_CHANGED);
2. move the stock by each product's change of units (removed units back, added ones taken: never
   oversold, 409 INSUFFICIENT_STOCK), with stock_movements, then each offer's by its change of units
   (docs/offers.md: locked after the products, in id order, never oversold either);
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
from uuid import UUID

import asyncpg
import msgspec

from quote_service import fault_points, ids
from quote_service.auth.schemas import Principal
from quote_service.db import idempotency
from quote_service.db.pool import Connection, Pool
from quote_service.errors import (
    Conflict,
    FieldError,
    Gone,
    NotFound,
    QuantityRuleBroken,
    ServiceError,
    ValidationFailed,
)
from quote_service.offers import repository as offers_repository
from quote_service.order_edits import quantities, repository
from quote_service.order_edits.basis import (
    context_of,
    edit_money,
    gift_products,
    gift_stocks,
    kept_flags,
    kept_lines,
    kept_terms,
)
from quote_service.order_edits.basket import BasketLine, additions, edited_basket, with_additions
from quote_service.order_edits.commit import apply_edit, read_order
from quote_service.order_edits.pricing import Terms, price_basket
from quote_service.order_edits.schemas import EditCreate, EditLine, EditPreview, EditSeller, EditTotals
from quote_service.orders import refund_repository as refunds_sql
from quote_service.orders import repository as orders
from quote_service.orders import shipment_repository, tax_record
from quote_service.orders.money import order_once_fees
from quote_service.orders.schemas import Order
from quote_service.orders.service import can_see, order_row_limited
from quote_service.orders.terms import EditContext, load_config, order_terms
from quote_service.pricing.fx_convert import QuoteFx
from quote_service.pricing.fx_rates import FxBook
from quote_service.pricing.lines import HeldPrice
from quote_service.pricing.money import ZERO, round_money
from quote_service.pricing.once_fees import EditFees
from quote_service.pricing.quote import (
    STOCKED_SOURCES,
    Address,
    CatalogProduct,
    CustomerContext,
    QuantityLimit,
    Quote,
    QuoteItemIn,
    QuoteRequest,
)
from quote_service.quotes.service import QuoteService
from quote_service.unit_limits import repository as unit_limits

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
        # Additions naming only their offer name its product from here on: priced, stored and committed so.
        wanted = additions(data)
        named = self.quotes.offer_products([item for _, item in wanted], [field for field, _ in wanted])
        if named is not None:
            data = with_additions(data, named)
        async with self.pool.acquire() as conn:
            order = await orders.get_order(conn, order_id=order_id)
            order = self._editable(order, order_id, principal, now)
            terms = await self._terms(conn, order)
            rows = await refunds_sql.lines_with_refunds(conn, order_id=order_id)
            shipped = await shipment_repository.shipments_of(conn, order_ids=[order_id])
            once = await refunds_sql.charged_once(conn, order_id=order_id)
            refund_count = await repository.refund_count(conn, order_id=order_id)
            live_promotions = await repository.live_promotions(conn, order_id=order_id)
            sold_from = sorted({r["offer_id"] for r in rows if r["offer_id"] is not None})
            floors = await offers_repository.min_prices(conn, offer_ids=sold_from) if sold_from else {}
        edit_id = ids.uuid4()
        quote = await self._price(
            order, terms, rows, shipped, data, principal=principal, edit_id=edit_id, offer_floors=floors, once=once
        )
        money = edit_money(order, terms, rows, shipped, quote, once)
        was = live_promotions
        applied = {p.promotion_id for p in quote.applied_promotions}
        currency = order["currency"]
        basket_positions = kept_flags(rows, quote)
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
                    **({"offer_id": line.offer_id} if isinstance(line.offer_id, UUID) else {}),
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
                    "priced": {"quote": quote, "terms": kept_terms(order, terms)},
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
                return context_of(row)
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
        offer_floors: Mapping[UUID, Decimal],
        once: Sequence[asyncpg.Record],
    ) -> Quote:
        """The edited basket's quote under the order's terms (its refunded fees staying refunded, its fees charged
        once as charged: `once_fees.EditFees`); `offer_floors`: the `min_price` of each offer that sold a line of the
        order; `once`: its fees charged once not reversed (`refunds_sql.charged_once`)."""
        added, products = await self._additions(order, terms.context, data, principal)
        wanted = {r["product_id"] for r in rows} | set(gift_products(terms.order))
        products = {**(await self.quotes.catalog_products(wanted)), **products}
        basket = edited_basket(kept_lines(rows, products, offer_floors), data, added)
        limits = await self._quantities(order, terms.context, rows, basket, data, products)
        # The order's choices hold for the sellers still in the edited basket (one the edit takes out leaves
        # its choice behind; one it brings in gets a quote's default), the edit's own `shipping` over them.
        sellers = {line.price.seller_id for line in basket} - {None}
        choices = {s["seller_id"]: s["selected"] for s in shipped if s["seller_id"] in sellers and s["selected"]}
        if isinstance(data.shipping, dict):
            choices.update(data.shipping)
        # docs/commission.md: fees charged once stay as charged, fees given back stay given back (inputs of pricing)
        given = None if order["fees_refunded"] else {s["seller_id"] for s in shipped if s["refund_id"] is not None}
        quote = price_basket(
            basket,
            terms,
            customer_id=order["customer_id"],
            currency=order["currency"],
            placed_at=order["created_at"],
            shipping=choices,
            products=products,
            gifts=gift_stocks(terms.order, products),
            edit_id=edit_id,
            quantity_limits=limits,  # counted again at the commit, under the per-customer lock
            fx=self._locked(order, order["created_at"]),  # its fees and commission convert as its quote's did
            fees=EditFees(order_once_fees(once), given),
        )
        return quote

    async def _quantities(
        self,
        order: asyncpg.Record,
        context: EditContext,
        rows: Sequence[asyncpg.Record],
        basket: Sequence[BasketLine],
        data: EditCreate,
        products: Mapping[str, CatalogProduct],
    ) -> list[QuantityLimit]:
        """The edited basket against today's quantity rules (order_edits/quantities.py): 422 QUANTITY_RULE naming
        the edit's fields; the per-customer limits its commit counts again."""
        items = [(line.product_id, line.quantity, line.offer_id) for line in basket]
        request = QuoteRequest(
            customer_id=order["customer_id"],
            items=[
                QuoteItemIn(product_id=line.product_id, quantity=line.quantity, seller_id=line.price.seller_id)
                for line in basket
            ],
            delivery_address=context.delivery_address,
            currency=order["currency"],
            channel=context.channel,
            customer_group=context.customer_group,
        )

        async def bought(keys: list[str]) -> dict[str, list[tuple[int, int]]]:
            async with self.pool.acquire() as conn:
                found = await unit_limits.purchases(
                    conn, customer_id=order["customer_id"], product_ids=keys, now=self.quotes.now(),
                    other_than=order["id"],
                )  # fmt: skip
            return {key: purchases.entries for key, purchases in found.items()}

        customer = _customer(order["customer_id"], context)
        problems, limits = await self.quotes.basket_quantities(
            request, products, customer, [line.offer_id for line in basket], bought
        )
        live = [(r["product_id"], r["quantity"] - r["refunded_quantity"], r["offer_id"]) for r in rows]
        before, after = quantities.units_by_key(live), quantities.units_by_key(items)
        found = quantities.named(
            quantities.refused(problems, items, before, after), items, quantities.edit_fields(data)
        )
        if found:
            raise QuantityRuleBroken(
                "quantity rules: " + "; ".join(f"{p.field} {p.message}" for p in found), details=found
            )
        return quantities.grown(limits, before, after)

    def _locked(self, order: asyncpg.Record, at: datetime | None = None) -> FxBook | None:
        """The rates an edit of a converted order converts at: the order's locked ones over those in force at
        `at` (default now; docs/currencies.md); None: the order converted nothing (the rates in force)."""
        if order["fx"] is None:
            return None
        book = self.quotes.snapshot_fx()
        locked = msgspec.convert(order["fx"], QuoteFx)
        rates = [(r.base, r.quote, r.rate, r.rate_id, r.source) for r in locked.rates]
        return (FxBook() if book is None else book).locked(rates, self.quotes.now() if at is None else at)

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
            quote, products = await self.quotes.price_today(request, customer, principal, fx=self._locked(order))
        except ServiceError as refused:
            raise _renamed(refused, [field for field, _ in wanted]) from refused
        lines = []
        for item, line in zip(items, quote.items, strict=False):
            product = products.get(item.product_id)
            own = product is not None and product.currency == order["currency"]
            offer_id = line.offer_id if isinstance(line.offer_id, UUID) else None
            floor = product.min_price if own and product is not None else ZERO
            if offer_id is not None:  # docs/offers.md: the offer's floor, as a quote of it has
                offer = self.quotes.offer(offer_id)
                floor = offer.min_price if offer is not None else ZERO
            lines.append(
                BasketLine(
                    product_id=item.product_id,
                    quantity=item.quantity,
                    price=HeldPrice(
                        source=line.price_source,
                        list_unit=line.list_unit_price,
                        unit=line.unit_price,
                        min_price=floor,
                        inclusive=line.prices_include_tax is True,
                        category_id=line.category_id,
                        seller_id=line.seller_id,
                        product=None if product is None else product.id,
                        price_list_id=line.price_list_id,
                    ),
                    weight=item.weight,
                    offer_id=offer_id,
                )
            )
        return lines, products

    # --- commit ----------------------------------------------------------------------------

    async def commit(
        self,
        order_id: UUID,
        edit_id: UUID,
        *,
        principal: Principal,
        actor: str,
        key: str,
        now: datetime,
        reply: idempotency.Reply | None = None,
    ) -> tuple[Order, bool]:
        """Apply a previewed edit once; returns (the order at its new revision, True when replayed for this key).
        `reply`: as `orders.service.place_order`'s."""
        fingerprint = hashlib.sha256(_ENCODER.encode([str(order_id), str(edit_id)])).digest()
        async with (
            self.pool.acquire() as conn,
            idempotency.claimed(
                conn, scope="order_edit", principal_id=principal.id, key=key, fingerprint=fingerprint, reply=reply
            ) as claim,
        ):
            done = await repository.get_edit_by_key(conn, principal_id=principal.id, idempotency_key=key)
            if done is not None:
                idempotency.same_request(bytes(done["request_hash"]), fingerprint)
                return await read_order(conn, done["order_id"]), True
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
                edited = await apply_edit(
                    conn, order, edit, principal=principal, actor=actor, key=key, fingerprint=fingerprint, now=now
                )
                await claim.keep(edited)
            await fault_points.hit("order_edit.committed")
            limited = order_row_limited(await _order_row(conn, order_id))
        # The quote path's counters learn the customer's units the edit moved (docs/pricing.md#quantity-rules).
        await self.quotes.learn_units(edited.customer_id, limited)
        return edited, False


async def _order_row(conn: Connection, order_id: UUID) -> asyncpg.Record:
    row = await orders.get_order(conn, order_id=order_id)
    assert row is not None
    return row


def _terms_unknown(why: str) -> Conflict:
    return Conflict(f"the order cannot be edited: {why}", code="ORDER_TERMS_UNKNOWN")


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
