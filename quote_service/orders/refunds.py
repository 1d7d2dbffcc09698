"""Refunds and cancels: money back, exactly, in one transaction with every effect.

The transaction, in this order (the same global lock order as placing an order: an order's
row, then products by id, then campaigns by trigger, then coupons by code):

1. lock the order's row — refunds of one order queue here, so two racing for its last units
   see each other's result and exactly one wins (before it, the Idempotency-Key was claimed,
   db/idempotency.py: a retry that races its first attempt waits for it and answers its refund);
2. split the money (`refund_math`, pure) from the lines as refunded so far;
3. give the units back to their products' stock (flash-sale lines too: to the product, not the
   sale), with stock_movements — inventory repricing runs on that change (docs/repricing.md) — write the
   refund and its lines (campaign sales are counted down by trigger), update the order;
4. a refund gives the refunded units' share of each promotion's discount back to its budget; a
   cancel also releases the order's coupon uses and its promotion uses (docs/promotions.md),
   and deletes the customer's coupon counters in Redis (coupons/counters.py): a Redis that
   refuses that answers 503 with nothing written, so a counter is never left too high.

Any refusal raises before the commit: nothing is written.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, NamedTuple
from uuid import UUID

import asyncpg
import msgspec
from msgspec import UNSET, UnsetType

from quote_service.auth.schemas import Principal
from quote_service.cache.redis import RedisClient
from quote_service.catalog import repository as catalog
from quote_service.clock import utcnow
from quote_service.coupons import codes as coupon_codes
from quote_service.coupons import counters as coupon_counters
from quote_service.db import idempotency
from quote_service.db.pool import Connection, Pool
from quote_service.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from quote_service.offers import stock as offer_stock
from quote_service.orders import agent_events, commission_record, ledger_repository, shipment_repository, tax_record
from quote_service.orders import refund_math as math
from quote_service.orders import refund_repository as repository
from quote_service.orders import repository as orders
from quote_service.orders.money import (
    NOTHING,
    Change,
    Fees,
    OrderMoney,
    change,
    ledger_entries,
    order_once_fees,
    taken,
)
from quote_service.orders.schemas import (
    CancelCreate,
    LineCommission,
    Order,
    Refund,
    RefundCreate,
    RefundLine,
    RefundTax,
)
from quote_service.orders.service import assemble, can_see, order_row_limited
from quote_service.pricing.commission import PARTS
from quote_service.pricing.money import ZERO, quantum, round_money
from quote_service.pricing.quote import STOCKED_SOURCES
from quote_service.pricing.taxes import ROUNDINGS, Rounding
from quote_service.promotions import repository as promotions
from quote_service.unit_limits.service import publish_units
from quote_service.webhooks import events as webhooks

Kind = Literal["refund", "cancel"]
"""What this module makes (an order edit makes the refunds of kind `edit`: order_edits/service.py)."""
_ENCODER = msgspec.json.Encoder()
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_CLOSED = ("cancelled", "refunded")


def request_hash(order_id: UUID, kind: Kind, data: RefundCreate | CancelCreate) -> bytes:
    """Fingerprint of a request: the same key for another order, kind or body is a conflict."""
    return hashlib.sha256(_ENCODER.encode([str(order_id), kind, data])).digest()


async def refund(
    pool: Pool,
    order_id: UUID,
    data: RefundCreate,
    *,
    principal: Principal,
    actor: str,
    idempotency_key: str,
    redis: RedisClient | None = None,
    reply: idempotency.Reply | None = None,
) -> tuple[Refund, bool]:
    """Give back units (and the fees, once); returns (refund, True when replayed for this key).
    Without `redis` (a command line tool) the quote path's unit counters learn the units given back
    at the customer's next order or refused quote. `reply`: as `orders.service.place_order`'s."""
    if principal.role == "user":
        raise Forbidden("only an admin or a service key may refund; a shopper may cancel")
    if not data.lines and not data.include_fees and not data.shipments:
        raise ValidationFailed("nothing to refund", details=[FieldError("lines", "name at least one line")])
    made, replayed = await _run(
        pool, order_id, "refund", data, principal=principal, actor=actor, key=idempotency_key, now=None, reply=reply
    )
    assert isinstance(made, Refund)
    if not replayed and redis is not None:
        async with pool.acquire() as conn:
            await _units_given_back(conn, redis, made.order_id)
    return made, replayed


async def cancel(
    pool: Pool,
    redis: RedisClient | None,
    order_id: UUID,
    data: CancelCreate,
    *,
    principal: Principal,
    actor: str,
    idempotency_key: str,
    now: datetime,
    window: timedelta,
    reply: idempotency.Reply | None = None,
) -> tuple[Order, bool]:
    """Refund the whole order (fees included) and release its coupons; returns (order, replayed).
    Without `redis` (a command line tool), the quote path's coupon counters are left to repair."""
    order, replayed = await _run(
        pool, order_id, "cancel", data, principal=principal, actor=actor, key=idempotency_key, now=now, window=window,
        redis=redis, reply=reply,
    )  # fmt: skip
    assert isinstance(order, Order)
    if not replayed and redis is not None:
        async with pool.acquire() as conn:
            codes = [c.code for c in order.applied_coupons]
            await coupon_counters.publish_released(conn, redis, order.customer_id, codes)
            await _units_given_back(conn, redis, order.id)
    return order, replayed


async def _units_given_back(
    conn: Connection, redis: RedisClient, order_id: UUID, order: asyncpg.Record | None = None
) -> None:
    """After a refund or cancel of an order under per-customer quantity limits: the quote path's
    counters learn the customer's units of those products (docs/pricing.md#quantity-rules)."""
    order = order or await _order_row(conn, order_id)
    limited = order_row_limited(order)
    if limited:
        await publish_units(conn, redis, order["customer_id"], limited, utcnow())


async def _order_row(conn: Connection, order_id: UUID) -> asyncpg.Record:
    found = await orders.get_order(conn, order_id=order_id)
    assert found is not None
    return found


async def _run(
    pool: Pool,
    order_id: UUID,
    kind: Kind,
    data: RefundCreate | CancelCreate,
    *,
    principal: Principal,
    actor: str,
    key: str,
    now: datetime | None,
    window: timedelta | None = None,
    redis: RedisClient | None = None,
    reply: idempotency.Reply | None = None,
) -> tuple[Refund | Order, bool]:
    """The refund (or the cancelled order) made under `key`, and True when replayed."""
    fingerprint = request_hash(order_id, kind, data)
    async with (
        pool.acquire() as conn,
        idempotency.claimed(
            conn, scope="refund", principal_id=principal.id, key=key, fingerprint=fingerprint, reply=reply
        ) as claim,
    ):
        existing = await repository.get_refund_by_key(conn, principal_id=principal.id, idempotency_key=key)
        if existing is not None:
            idempotency.same_request(bytes(existing["request_hash"]), fingerprint)
            return await _made(conn, kind, existing), True
        async with conn.transaction():
            order = await repository.lock_order(conn, order_id=order_id)
            if order is None or not can_see(principal, order):
                raise NotFound(f"order {order_id} not found")
            if order["status"] in _CLOSED:
                raise Conflict(f"order {order_id} is {order['status']}", code="ORDER_CLOSED")
            if kind == "cancel":
                _check_cancel(order, principal, now, window)
            row = await _write(conn, order, kind, data, principal=principal, actor=actor, key=key,
                               fingerprint=fingerprint, now=now, redis=redis)  # fmt: skip
            made = await _made(conn, kind, row)
            await claim.keep(made)
    return made, False


async def _made(conn: Connection, kind: Kind, row: asyncpg.Record) -> Refund | Order:
    """What a refund answers (the refund) or a cancel (the order it cancelled), as the API shows it."""
    if kind == "refund":
        return (await refunds_of(conn, [row]))[0]
    return (await assemble(conn, [await _order_row(conn, row["order_id"])]))[0]


def _check_cancel(order: asyncpg.Record, principal: Principal, now: datetime | None, window: timedelta | None) -> None:
    if order["status"] != "confirmed":
        raise Conflict("a refund was already made: refund the rest instead", code="CANCEL_NOT_ALLOWED")
    if principal.role == "admin":
        return
    if order["principal_id"] != principal.id:
        raise Forbidden("only who placed the order (or an admin) may cancel it")
    assert now is not None
    assert window is not None
    if now - order["created_at"] > window:
        minutes = int(window.total_seconds() // 60)
        raise Conflict(f"the cancel window ({minutes} minutes) has passed", code="CANCEL_NOT_ALLOWED")


class Asked(NamedTuple):
    """What a refund or cancel gives back: each line's take, whether it asks for the fees, and the shipments it
    names (their positions)."""

    takes: list[math.LineTake]
    include: bool
    named: list[int]


def _asked(
    order: asyncpg.Record,
    lines: list[math.ChargedLine],
    shipped: Sequence[asyncpg.Record],
    data: RefundCreate | CancelCreate,
) -> Asked:
    """The takes of a refund's lines (a cancel: every unit left, and the fees), or 409 for fees given back already."""
    currency: str = order["currency"]
    if not isinstance(data, RefundCreate):
        return Asked(math.everything_left(lines, currency), True, [])
    takes = _plan(lines, data, currency)
    named = _named_shipments(shipped, data.shipments or [])
    if data.include_fees and order["fees_refunded"] and not takes and not named:
        raise Conflict(
            "the fees were already refunded",
            code="REFUND_EXCEEDS_ORDER",
            details=[FieldError("include_fees", "the fees were already refunded")],
        )
    return Asked(takes, data.include_fees, named)


def _fees_given(
    order: asyncpg.Record, shipped: Sequence[asyncpg.Record], asked: Asked
) -> tuple[dict[str, Decimal], list[int]]:
    """The fees this refund gives back (refund_math.FEE_PARTS) and the shipments whose fee it gives back."""
    if shipped:  # each shipment's fee comes back on its own (docs/shipping.md)
        return math.shipment_fee_refund(
            order["small_basket_fee"],
            [(r["position"], *shipment_repository.fees(r), r["refund_id"] is not None) for r in shipped],
            asked.named,
            include=asked.include,
            already_refunded=order["fees_refunded"],
        )
    fees = math.fee_refund(
        {part: order[part] for part in math.FEE_PARTS}, already_refunded=order["fees_refunded"], include=asked.include
    )
    return fees, []


def _given_back(
    lines: Sequence[math.ChargedLine],
    takes: Sequence[math.LineTake],
    fees: Mapping[str, Decimal],
    shipments: Sequence[asyncpg.Record],
    once: Sequence[asyncpg.Record],
) -> Change:
    """The refund as a change of the order's money (orders/money.py): its takes, the fees and the `shipments`
    whose fees it gives back, and the fees charged `once` it reverses, all taken off."""
    by_position = {line.position: line for line in lines}
    if shipments:
        given = Fees(
            small_basket=fees["small_basket_fee"],
            shipments={r["seller_id"]: shipment_repository.fees(r) for r in shipments},
            once=order_once_fees(once),
        )
    else:
        given = Fees(
            delivery=fees["delivery_fee"],
            small_basket=fees["small_basket_fee"],
            logistics=fees["logistics_commission"],
            once=order_once_fees(once),
        )
    return change(OrderMoney([taken(t, by_position[t.position]) for t in takes], given), NOTHING)


async def _write(
    conn: Connection,
    order: asyncpg.Record,
    kind: Kind,
    data: RefundCreate | CancelCreate,
    *,
    principal: Principal,
    actor: str,
    key: str,
    fingerprint: bytes,
    now: datetime | None,
    redis: RedisClient | None = None,
) -> asyncpg.Record:
    """Steps 2-4 of the module docstring."""
    order_id: UUID = order["id"]
    currency: str = order["currency"]
    rows = await repository.lines_with_refunds(conn, order_id=order_id)
    lines = charged_lines(rows, tax_record.rounding_of(order["tax_terms"]))
    shipped = await shipment_repository.shipments_of(conn, order_ids=[order_id])
    asked = _asked(order, lines, shipped, data)
    takes = asked.takes
    fees, given = _fees_given(order, shipped, asked)
    await _restock(conn, rows, takes, order_id=order_id, actor=actor)
    status, fees_refunded = _status_after(kind, order, lines, takes, shipped, given, include=asked.include)
    reversed_once = await _charged_once_reversed(conn, order_id, lines, takes, cancel=kind == "cancel")
    made = _given_back(lines, takes, fees, [r for r in shipped if r["position"] in given], reversed_once)
    # What is still due was never paid: it is cancelled first (docs/orders-and-refunds.md#money-due-and-payments).
    settled = math.against_due(
        made.removed.customer_total, order["balance_due"], closing=status in ("cancelled", "refunded")
    )
    once = {part: sum((r["amount"] for r in reversed_once if r["dimension"] == part), ZERO) for part in PARTS}
    row = await repository.insert_refund(
        conn,
        fields={
            "order_id": order_id,
            "kind": kind,
            "reason": data.reason,
            "currency": currency,
            "amount": made.reversed_("amount"),
            "discount": made.reversed_("discount"),
            "tax": made.reversed_("tax"),
            "tax_included": made.reversed_("tax", inclusive=True),
            "seller_commission": made.reversed_("seller") + once["seller"],
            "category_commission": made.reversed_("category") + once["category"],
            **fees,
            "total_refunded": settled.back,
            "balance_reduced": settled.reduced,
            "commission_reversed": -made.commission_delta,
            "principal_id": principal.id,
            "idempotency_key": key,
            "request_hash": fingerprint,
            "created_by": actor,
        },
        takes=takes,
    )
    await ledger_repository.write(
        conn, kind="refund", entry_id=row["id"], order_id=order_id, currency=currency, at=row["created_at"],
        entries=ledger_entries(made, "refund"),
    )  # fmt: skip
    if given:
        await shipment_repository.give_back(conn, order_id=order_id, positions=given, refund_id=row["id"])
    if reversed_once:
        await repository.reverse_charged_once(
            conn, order_id=order_id, positions=[r["position"] for r in reversed_once], refund_id=row["id"]
        )
    if kind == "refund" and takes:  # the refunded units' share of each promotion's discount back to its budget
        await promotions.give_back_refunded(conn, order_id=order_id, cent=quantum(currency))
    await repository.update_order(
        conn, order_id=order_id, status=status, refunded=settled.back, fees_refunded=fees_refunded,
        reduced=settled.reduced,
    )  # fmt: skip
    await _announce(conn, kind, row)
    if kind == "cancel":
        await _released(conn, order, redis, now)
    return row


async def _released(conn: Connection, order: asyncpg.Record, redis: RedisClient | None, now: datetime | None) -> None:
    """A cancel gives back the order's coupon uses and promotion uses (and its customer's coupon counters)."""
    assert now is not None
    released = await repository.release_coupons(conn, order_id=order["id"], now=now)
    await promotions.release_order_uses(conn, order_id=order["id"])
    await coupon_codes.release(conn, order_id=order["id"])
    if redis is not None:  # last, before the commit: a Redis that refuses even a DEL fails the cancel
        await coupon_counters.forget(redis, order["customer_id"], [r["coupon_code"] for r in released])


def _status_after(
    kind: Kind,
    order: asyncpg.Record,
    lines: Sequence[math.ChargedLine],
    takes: Sequence[math.LineTake],
    shipped: Sequence[asyncpg.Record],
    given: Sequence[int],
    *,
    include: bool,
) -> tuple[str, bool]:
    """The order's status after this refund or cancel, and whether its fees are all given back then."""
    fees_refunded = bool(order["fees_refunded"]) or include
    if shipped and not order["small_basket_fee"]:  # every shipment's fee given back: nothing else is due
        fees_refunded = fees_refunded or all(r["refund_id"] is not None or r["position"] in given for r in shipped)
    taken = {t.position: t.quantity for t in takes}
    everything = all(line.remaining_units == taken.get(line.position, 0) for line in lines)
    # A flat logistics commission may be charged with no delivery fee: it too must come back first.
    fees_due = any(order[part] != ZERO for part in math.FEE_PARTS)
    if kind == "cancel":
        return "cancelled", fees_refunded
    if everything and (fees_refunded or not fees_due):
        return "refunded", fees_refunded
    return "partially_refunded", fees_refunded


async def _charged_once_reversed(
    conn: Connection, order_id: UUID, lines: Sequence[math.ChargedLine], takes: Sequence[math.LineTake], *, cancel: bool
) -> list[asyncpg.Record]:
    """The fees charged once per shipment or order (docs/commission.md) this refund reverses: a shipment's with
    its seller's last unit, the order's with its last unit, every one with a cancel."""
    charged = await repository.charged_once(conn, order_id=order_id)
    if not charged:
        return []
    taken = {t.position: t.quantity for t in takes}
    left = {line.position: line.remaining_units - taken.get(line.position, 0) for line in lines}
    sellers = {line.position: line.seller_id for line in lines}
    chosen = set(
        commission_record.reversible(
            [(r["position"], r["per"], r["seller_id"]) for r in charged], left, sellers, cancel=cancel
        )
    )
    return [r for r in charged if r["position"] in chosen]


async def _announce(conn: Connection, kind: Kind, row: asyncpg.Record) -> None:
    """The webhook event of this refund or cancel, in its transaction (docs/webhooks.md#events)."""
    order = (await assemble(conn, [await _order_row(conn, row["order_id"])]))[0]
    refund = (await refunds_of(conn, [row]))[0]
    await webhooks.emit(
        conn, "order.cancelled" if kind == "cancel" else "order.refunded", {"order": order, "refund": refund}
    )
    await agent_events.announce(conn, order, "order_update")


def _tax_parts(row: asyncpg.Record) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """A line's parts beyond LINE_PARTS (docs/taxes.md, docs/commission.md): charged (each component, what an
    exempt tax-inclusive line did not charge, its installment commission, each named commission fee) and what
    earlier refunds gave back of each."""
    stored = row["taxes"]
    charged = {f"tax:{part.code}": part.amount for part in tax_record.components(stored)}
    if exempted := tax_record.exempted(stored):
        charged["exempted"] = exempted
    if row["installment_commission"]:
        charged["installment_commission"] = row["installment_commission"]
    fees = commission_record.read_fees(row["commission_fees"])
    charged.update((f"{commission_record.FEE_PART}{name}", amount) for name, amount in fees.items())
    if not charged:
        return {}, {}
    refunded: dict[str, Decimal] = {}
    for prefix, column in (("tax:", "r_tax_components"), (commission_record.FEE_PART, "r_commission_fees")):
        for earlier in row[column] or []:
            for name, amount in earlier.items():
                refunded[prefix + name] = refunded.get(prefix + name, ZERO) + Decimal(amount)
    for part, column in (("exempted", "r_tax_exempted"), ("installment_commission", "r_installment_commission")):
        if row[column] is not None:
            refunded[part] = row[column]
    return charged, refunded


def charged_lines(rows: Sequence[asyncpg.Record], rounding: Rounding) -> list[math.ChargedLine]:
    """The order's lines as charged, each with its own commission parts (kept per line, never per product)."""
    mode = ROUNDINGS[rounding.mode]
    extras = [_tax_parts(r) for r in rows]
    return [
        math.ChargedLine(
            position=r["position"],
            product_id=r["product_id"],
            seller_id=r["seller_id"],
            quantity=r["quantity"],
            charged={
                "amount": r["line_subtotal"],
                "discount": r["discount"],
                "tax": r["tax"],
                "seller": r["commission_seller"],
                "category": r["commission_category"],
                "platform": r["platform_contribution"],
                "commission_tax": r["commission_tax"],
                **extras[index][0],
            },
            extras=tuple(extras[index][0]),
            kept=tax_record.kept(r["taxes"]),
            external=tax_record.external(r["taxes"]),
            tax_rounding=mode,
            refunded_units=r["refunded_quantity"],
            prices_include_tax=r["prices_include_tax"],
            refunded={
                "amount": r["r_amount"],
                "discount": r["r_discount"],
                "tax": r["r_tax"],
                "seller": r["r_seller"],
                "category": r["r_category"],
                "platform": r["r_platform"],
                "commission_tax": r["r_commission_tax"],
                **extras[index][1],
            },
        )
        for index, r in enumerate(rows)
    ]


def _named_shipments(shipped: Sequence[asyncpg.Record], sellers: Sequence[str]) -> list[int]:
    """The positions of the shipments a refund names by seller: 422 naming `shipments[i]` for a seller
    without a shipment in the order, 409 for one whose fee was already given back."""
    by_seller = {r["seller_id"]: r for r in shipped}
    unknown, refunded = [], []
    for index, seller in enumerate(sellers):
        found = by_seller.get(seller)
        if found is None:
            unknown.append(FieldError(f"shipments[{index}]", f"no shipment of seller {seller} in this order"))
        elif found["refund_id"] is not None:
            refunded.append(
                FieldError(f"shipments[{index}]", f"the delivery fee of seller {seller} was already refunded")
            )
    if unknown:
        raise ValidationFailed("; ".join(e.message for e in unknown), details=unknown)
    if refunded:
        raise Conflict("; ".join(e.message for e in refunded), code="REFUND_EXCEEDS_ORDER", details=refunded)
    return sorted({by_seller[seller]["position"] for seller in sellers})


def _plan(lines: list[math.ChargedLine], data: RefundCreate, currency: str) -> list[math.LineTake]:
    wanted = [
        math.Wanted(line.product_id, line.quantity, None if isinstance(line.line, UnsetType) else line.line)
        for line in data.lines
    ]
    try:
        return math.plan_refund(lines, wanted, currency)
    except math.UnknownProduct as exc:
        raise ValidationFailed(
            f"product {exc.product_id} is not in this order",
            details=[FieldError(f"lines[{exc.index}].product_id", f"product {exc.product_id} is not in this order")],
        ) from exc
    except (math.UnknownLine, math.AmbiguousProduct) as exc:
        raise ValidationFailed(str(exc), details=[FieldError(f"lines[{exc.index}].line", str(exc))]) from exc
    except math.ExceedsOrder as exc:
        raise Conflict(
            str(exc), code="REFUND_EXCEEDS_ORDER", details=[FieldError(f"lines[{exc.index}].quantity", str(exc))]
        ) from exc


async def _restock(
    conn: Connection, rows: Sequence[asyncpg.Record], takes: Sequence[math.LineTake], *, order_id: UUID, actor: str
) -> None:
    """Units of catalog, price-list and flash-sale lines go back to their product's stock (request-priced lines
    have none); the product's row lock is taken in id order, as every stock writer does."""
    source = {r["position"]: r["price_source"] for r in rows}
    sold_from = {r["position"]: r["offer_id"] for r in rows if r["offer_id"] is not None}
    back: dict[UUID, int] = {}
    to_offers: dict[UUID, int] = {}
    for take in takes:
        offer_id = sold_from.get(take.position)
        if offer_id is not None:  # docs/offers.md: back to the offer that sold it
            to_offers[offer_id] = to_offers.get(offer_id, 0) + take.quantity
            continue
        if (source[take.position] in STOCKED_SOURCES or source[take.position] == "flash_sale") and _UUID.match(
            take.product_id
        ):
            pid = UUID(take.product_id)
            back[pid] = back.get(pid, 0) + take.quantity
    if not back:
        await offer_stock.give_back(conn, to_offers)
        return
    present = {r["id"] for r in await catalog.lock_products(conn, product_ids=sorted(back))}
    back = {pid: n for pid, n in back.items() if pid in present}
    await offer_stock.give_back(conn, to_offers)  # after the products' locks, as an order takes them
    if not back:
        return
    await catalog.move_stock(conn, deltas=back, reason=f"refund of order {order_id}", actor=actor)


async def list_refunds(pool: Pool, order_id: UUID, *, principal: Principal) -> list[Refund]:
    """An order's refunds (a cancel is one), oldest first, to whoever may see the order."""
    async with pool.acquire() as conn:
        order = await orders.get_order(conn, order_id=order_id)
        if order is None or not can_see(principal, order):
            raise NotFound(f"order {order_id} not found")
        return await refunds_of(conn, await repository.refunds_of_order(conn, order_id=order_id))


async def refunds_of(conn: Connection, rows: Sequence[asyncpg.Record]) -> list[Refund]:
    """Refunds as the API shows them: money with exactly the currency's digits."""
    lines = await repository.lines_of(conn, refund_ids=[r["id"] for r in rows])
    by_refund: dict[UUID, list[asyncpg.Record]] = {}
    for line in lines:
        by_refund.setdefault(line["refund_id"], []).append(line)
    shipments = await shipment_repository.sellers_refunded(conn, refund_ids=[r["id"] for r in rows])
    once: dict[UUID, list[asyncpg.Record]] = {}
    for reversal in await repository.charged_once_reversed(conn, refund_ids=[r["id"] for r in rows]):
        once.setdefault(reversal["refund_id"], []).append(reversal)
    return [
        _refund(row, by_refund.get(row["id"], []), shipments.get(row["id"]), once.get(row["id"], [])) for row in rows
    ]


def _refund_taxes(line: asyncpg.Record, currency: str) -> dict[str, Any]:
    """A refund line's `taxes` (what it gave back of each component), `tax_exempted` and `installment_commission`,
    when it has them."""
    shown: dict[str, Any] = {}
    components = line["tax_components"]
    if components:
        shown["taxes"] = [
            RefundTax(code=code, amount=round_money(Decimal(amount), currency)) for code, amount in components.items()
        ]
    for name in ("tax_exempted", "installment_commission"):
        if line[name] is not None:
            shown[name] = round_money(line[name], currency)
    return shown


def _refund(
    row: asyncpg.Record,
    lines: Sequence[asyncpg.Record],
    shipments: list[str | None] | None,
    once: Sequence[asyncpg.Record] = (),
) -> Refund:
    currency = row["currency"]

    def money(value: Decimal) -> Decimal:
        return round_money(value, currency)

    split = any(line["prices_include_tax"] for line in lines)
    fees: dict[str, Decimal] = {}  # docs/commission.md: the named fees it reversed, on lines and charged once
    for line in lines:
        for name, amount in commission_record.read_fees(line["commission_fees"]).items():
            fees[name] = fees.get(name, ZERO) + amount
    for name, amount in commission_record.order_fees((r["dimension"], r["amount"]) for r in once).items():
        fees[name] = fees.get(name, ZERO) + amount
    fees = {name: amount for name, amount in fees.items() if amount or row["kind"] != "edit"}
    return Refund(
        id=row["id"],
        order_id=row["order_id"],
        kind=row["kind"],
        reason=row["reason"],
        currency=currency,
        lines=[
            RefundLine(
                line=line["position"],
                product_id=line["product_id"],
                quantity=line["quantity"],
                amount=money(line["amount"]),
                discount=money(line["discount"]),
                tax=money(line["tax"]),
                commission=LineCommission(
                    seller=money(line["seller_commission"]),
                    category=money(line["category_commission"]),
                    **commission_record.line_fields(line["commission_fees"], currency),
                ),
                **({"prices_include_tax": line["prices_include_tax"]} if split else {}),
                **_refund_taxes(line, currency),
            )
            for line in lines
        ],
        delivery_fee=money(row["delivery_fee"]),
        small_basket_fee=money(row["small_basket_fee"]),
        logistics_commission=money(row["logistics_commission"]),
        total_refunded=money(row["total_refunded"]),
        balance_reduced=money(row["balance_reduced"]),
        commission_reversed=money(row["commission_reversed"]),
        created_at=row["created_at"],
        tax_included=money(row["tax_included"]) if split else UNSET,
        shipments=UNSET if shipments is None else shipments,
        **({"commission_fees": commission_record.shown(fees, currency)} if fees else {}),
    )
