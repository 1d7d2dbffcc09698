"""An order edit's commit, the writing part: steps 2-4 of order_edits/service.py's docstring, in the
transaction that locked the order's row (stock, promotion budgets, the order's rows anew, the ledger, the
refund of a negative difference, the order's next revision, `order.edited`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from quote_service import fault_points
from quote_service.auth.schemas import Principal
from quote_service.catalog import repository as catalog
from quote_service.db.pool import Connection
from quote_service.errors import Conflict, FieldError, QuantityLimitReached
from quote_service.offers import repository as offers_repository
from quote_service.order_edits import quantities, repository
from quote_service.order_edits.basis import what_is_left
from quote_service.order_edits.basket import additions
from quote_service.order_edits.pricing import stored_quote
from quote_service.order_edits.schemas import EditCreate
from quote_service.orders import ledger_repository, shipment_repository, tax_record
from quote_service.orders import refund_repository as refunds_sql
from quote_service.orders import repository as orders
from quote_service.orders.money import Change, change, ledger_entries, record_of
from quote_service.orders.refund_math import Settled, against_due
from quote_service.orders.schemas import Order, OrderEdit
from quote_service.orders.service import assemble, quote_totals, write_priced
from quote_service.orders.terms import OrderTerms, load_config
from quote_service.pricing.money import ZERO, round_money
from quote_service.pricing.quantity_rules import QuantityProblem
from quote_service.pricing.quote import STOCKED_SOURCES, AppliedCoupon, Quote, QuoteLine
from quote_service.promotions import repository as promotions
from quote_service.reservations import repository as reservations
from quote_service.reservations.service import check_units
from quote_service.unit_limits.service import check_order as check_unit_limits
from quote_service.webhooks import events as webhooks

_RETURNED_SOURCES = frozenset({*STOCKED_SOURCES, "flash_sale"})
"""Lines whose units are the product's stock (a flash-sale line's units come back to the product, as a refund's)."""


async def apply_edit(
    conn: Connection,
    order: asyncpg.Record,
    edit: asyncpg.Record,
    *,
    principal: Principal,
    actor: str,
    key: str,
    fingerprint: bytes,
    now: datetime,
) -> Order:
    """Steps 2-4 of order_edits/service.py's docstring, in `conn`'s transaction (the order's row locked); the
    order at its new revision, as the API shows it."""
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
    charged = await refunds_sql.charged_once(conn, order_id=order_id)
    money = change(what_is_left(order, rows, shipped, charged), record_of(quote, rate))
    request = msgspec.convert(edit["request"], EditCreate, strict=False)
    fields = _addition_fields(request, quote)
    await _move_stock(conn, rows, quote, fields, order_id=order_id, edit_id=edit_id, actor=actor, now=now)
    await _count_units(conn, quote, request, order_id=order_id, now=now)
    await _move_promotions(conn, order, quote)
    at = await repository.placement(conn, order_id=order_id, edit_id=edit_id)
    await repository.retire(conn, order_id=order_id, edit_id=edit_id)
    refunded = {s["seller_id"]: s["refund_id"] for s in shipped if s["refund_id"]}
    await write_priced(conn, order_id, quote, rate, at, refunded)
    await ledger_repository.write(
        conn, kind="edit", entry_id=edit_id, order_id=order_id, currency=currency, at=now,
        entries=ledger_entries(money, "edit"),
    )  # fmt: skip
    await repository.update_coupon_amounts(
        conn, order_id=order_id, amounts={c.code.upper(): c.amount for c in _coupon_amounts(terms, quote)}
    )
    due = round_money(money.difference_due, currency)
    # A negative difference first cancels what is still due (never paid); only the rest is refunded.
    settled = against_due(-due, order["balance_due"]) if due < 0 else Settled(back=ZERO, reduced=ZERO)
    refund_id = None
    if settled.back > 0:
        refund_id = await _refund(
            conn, order, edit, money, settled, principal=principal, actor=actor, fingerprint=fingerprint
        )
    await repository.commit_order(
        conn,
        order_id=order_id,
        fields={
            **quote_totals(quote),
            "balance_due": order["balance_due"] + max(due, ZERO) - settled.reduced,
            "refunded_amount": order["refunded_amount"] + settled.back,
            "terms": terms,
            "tax_terms": tax_record.order_terms(quote),
            "limited_products": _limited(order, quote),
        },
    )
    revision = order["revision"] + 1
    await repository.mark_committed(
        conn, edit_id=edit_id, revision=revision, at=now, principal_id=principal.id, key=key,
        fingerprint=fingerprint, refund_id=refund_id,
    )  # fmt: skip
    edited = await read_order(conn, order_id)
    entry = OrderEdit(edit_id=edit_id, revision=revision, difference_due=due, at=now, refund_id=refund_id)
    await webhooks.emit(conn, "order.edited", {"order": edited, "edit": entry})
    await fault_points.hit("order_edit.writing")
    return edited


async def read_order(conn: Connection, order_id: UUID) -> Order:
    """The order as the API shows it."""
    row = await orders.get_order(conn, order_id=order_id)
    assert row is not None
    return (await assemble(conn, [row]))[0]


def _units(lines: Sequence[tuple[str, str, int, UUID | None]]) -> dict[UUID, int]:
    """Units of each catalog product's own stock among (product id, price source, units, offer id): a line
    sold from another seller's offer takes its offer's stock instead (`_offer_units`)."""
    units: dict[UUID, int] = {}
    for product_id, source, quantity, offer_id in lines:
        if source in _RETURNED_SOURCES and offer_id is None:
            try:
                pid = UUID(product_id)
            except ValueError:
                continue
            units[pid] = units.get(pid, 0) + quantity
    return units


def _offer_units(lines: Sequence[tuple[str, str, int, UUID | None]]) -> dict[UUID, int]:
    """Units of each offer among (product id, price source, units, offer id) (docs/offers.md)."""
    units: dict[UUID, int] = {}
    for _, _, quantity, offer_id in lines:
        if offer_id is not None:
            units[offer_id] = units.get(offer_id, 0) + quantity
    return units


def _addition_fields(request: EditCreate, quote: Quote) -> dict[UUID, str]:
    """Where a refusal of an added product's (or offer's) units points: the first addition of it (an offer
    by the line the addition's product has in `quote` from an offer, as its preview priced it)."""
    sold = [(line.product_id, line.seller_id, line.offer_id) for line in quote.items if isinstance(line.offer_id, UUID)]
    fields: dict[UUID, str] = {}
    for field, item in additions(request):
        for product_id, seller_id, offer_id in sold:
            named = item.offer_id is None or item.offer_id == str(offer_id)
            if product_id == item.product_id and named and item.seller_id in (None, seller_id):
                fields.setdefault(offer_id, field)
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
    what other quotes hold (409 INSUFFICIENT_STOCK naming the product). Then each offer's stock moves by the
    change of the units sold from it (docs/offers.md), locked after the products in id order as an order
    locks them: added units must be in the offer's stock (409 INSUFFICIENT_STOCK), from an offer still
    active (409 PRODUCT_UNAVAILABLE naming the addition's `offer_id`); an offer's units other quotes hold
    (migration 0780) are not in its stock for an edit either."""
    old_lines = [
        (r["product_id"], r["price_source"], r["quantity"] - r["refunded_quantity"], r["offer_id"]) for r in rows
    ]
    new_lines = [
        (line.product_id, line.price_source, line.quantity, line.offer_id if isinstance(line.offer_id, UUID) else None)
        for line in quote.items
    ]
    old, new = _units(old_lines), _units(new_lines)
    deltas = {pid: new.get(pid, 0) - old.get(pid, 0) for pid in {*old, *new}}
    deltas = {pid: delta for pid, delta in deltas.items() if delta}
    old, new = _offer_units(old_lines), _offer_units(new_lines)
    offer_deltas = {oid: new.get(oid, 0) - old.get(oid, 0) for oid in {*old, *new}}
    offer_deltas = {oid: delta for oid, delta in offer_deltas.items() if delta}
    if deltas:
        locked = await catalog.lock_products(conn, product_ids=sorted(deltas))
        present = {r["id"] for r in locked}
        wanted = {pid: delta for pid, delta in deltas.items() if delta > 0}
        if wanted:
            held = await catalog.held_units(conn, product_ids=sorted(wanted), now=now)
            check_units({pid: fields.get(pid, "add") for pid in wanted}, wanted, locked, held, verb="added")
        moved = {pid: -delta for pid, delta in deltas.items() if pid in present}
        await catalog.move_stock(conn, deltas=moved, reason=f"edit {edit_id} of order {order_id}", actor=actor)
    if offer_deltas:
        await _move_offer_stock(conn, offer_deltas, fields, now=now)


async def _move_offer_stock(
    conn: Connection, deltas: Mapping[UUID, int], fields: Mapping[UUID, str], *, now: datetime
) -> None:
    """Each offer's stock moved by `deltas` (units the order gains: taken; units it gives up: back), under the
    offers' row locks in id order; refused (409, nothing moved) as `_move_stock` says."""
    locked = await offers_repository.lock_offers(conn, offer_ids=sorted(deltas))
    present = {r["id"] for r in locked}
    wanted = {oid: delta for oid, delta in deltas.items() if delta > 0}
    if wanted:
        held = await reservations.held_offer_units(conn, offer_ids=sorted(wanted), now=now)
        check_units({oid: fields.get(oid, "add") for oid in wanted}, wanted, locked, held, verb="added", what="offer")
    moved = {oid: -delta for oid, delta in sorted(deltas.items()) if oid in present}
    if moved:
        await offers_repository.add_stock(conn, deltas=moved)


async def _count_units(conn: Connection, quote: Quote, request: EditCreate, *, order_id: UUID, now: datetime) -> None:
    """The per-customer limits the edit's additions are under (its preview's), counted again under the lock an
    order takes (after the products' and offers' row locks): the customer's units in its other orders and the
    edited basket's must fit (409 QUANTITY_RULE naming the edit's field; order_edits/quantities.py)."""
    if not quote.quantity_limits:
        return
    try:
        await check_unit_limits(conn, quote, now, edited=order_id)
    except QuantityLimitReached as refused:
        items = [(line.product_id, line.quantity, _offer_of(line)) for line in quote.items]
        problems = [d for d in refused.details if isinstance(d, QuantityProblem)]
        found = quantities.named(problems, items, quantities.edit_fields(request))
        raise QuantityLimitReached(
            "quantity limit reached: " + "; ".join(f"{p.field} {p.message}" for p in found), details=found
        ) from refused


def _offer_of(line: QuoteLine) -> UUID | None:
    return line.offer_id if isinstance(line.offer_id, UUID) else None


def _limited(order: asyncpg.Record, quote: Quote) -> list[str] | None:
    """The keys the order is under a per-customer limit for: its own, and those of the edit's additions (a
    refund or cancel then tells the quote path's counters the units it gives back)."""
    keys = set(order["limited_products"] or []) | {limit.key for limit in quote.quantity_limits or []}
    return sorted(keys) or None


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
    money: Change,
    settled: Settled,
    *,
    principal: Principal,
    actor: str,
    fingerprint: bytes,
) -> UUID:
    """The refund that pays a negative difference back: its parts what the edit reverses (the old lines'
    less the new ones', their named fees and those charged once included), with no refund lines (the edit's
    ledger entries carry them to the statements); what it pays back is what exceeded the balance due
    (`settled`)."""
    was, now = money.removed.fees, money.added.fees
    delivery = was.delivery + sum((f for f, _ in was.shipments.values()), ZERO)
    delivery -= now.delivery + sum((f for f, _ in now.shipments.values()), ZERO)
    row = await refunds_sql.insert_refund(
        conn,
        fields={
            "order_id": order["id"],
            "kind": "edit",
            "reason": edit["request"].get("reason"),
            "currency": order["currency"],
            "amount": money.reversed_("amount"),
            "discount": money.reversed_("discount"),
            "tax": money.reversed_("tax"),
            "tax_included": money.reversed_("tax", inclusive=True),
            "seller_commission": money.reversed_("seller"),
            "category_commission": money.reversed_("category"),
            "delivery_fee": delivery,
            "small_basket_fee": was.small_basket - now.small_basket,
            "logistics_commission": was.commission - now.commission,
            "total_refunded": settled.back,
            "balance_reduced": settled.reduced,
            "commission_reversed": -money.commission_delta,
            "principal_id": principal.id,
            "idempotency_key": f"order-edit:{edit['id']}",
            "request_hash": fingerprint,
            "created_by": actor,
        },
        takes=[],
    )
    refund_id: UUID = row["id"]
    return refund_id
