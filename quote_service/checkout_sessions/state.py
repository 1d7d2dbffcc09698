"""A checkout session's state, pure: the agent's changes applied, whether it is ready, what a quote's
refusal names, why an allowance declines, and the session as the bindings render it (docs/agents.md)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import msgspec

from quote_service.checkout_sessions.schemas import Allowance, Changes, Item, Message, Session, State
from quote_service.errors import ServiceError
from quote_service.pricing.coupons import normalize_code

ITEM_FIELD = re.compile(r"^items\[(\d+)\]")
CODE_FIELD = re.compile(r"^coupon_codes\[(\d+)\]")
SHIPPING_FIELD = re.compile(r"^shipping\.(.+)$")
OUT_OF_STOCK = frozenset({"INSUFFICIENT_STOCK", "SOLD_OUT", "PRODUCT_UNAVAILABLE"})


def error(code: str, param: str, content: str) -> Message:
    return Message(type="error", code=code, param=param, content=content)


def blame(
    refused: ServiceError,
    keep: list[tuple[int, Item]],
    shipping: dict[str, str],
    codes: list[str],
    sent_codes: list[str],
    messages: list[Message],
) -> bool:
    """Leave out what the quote's refusal names (a line, a code, a seller's choice), with a message for
    each; False when it names none of them."""
    blamed = False
    code = "out_of_stock" if refused.code in OUT_OF_STOCK else "invalid"
    lines: dict[int, str] = {}
    for detail in refused.details:
        if (found := ITEM_FIELD.match(detail.field)) is not None and int(found[1]) < len(keep):
            lines.setdefault(int(found[1]), detail.message)
        elif (found := CODE_FIELD.match(detail.field)) is not None and int(found[1]) < len(codes):
            sent = codes.pop(int(found[1]))
            messages.append(error("invalid", f"$.discounts.codes[{code_index(sent_codes, sent)}]", detail.message))
            blamed = True
        elif (found := SHIPPING_FIELD.match(detail.field)) is not None and found[1] in shipping:
            del shipping[found[1]]
            messages.append(error("invalid", f"$.fulfillment_groups[?(@.id=='seller:{found[1]}')]", detail.message))
            blamed = True
    for n in sorted(lines, reverse=True):
        index, _ = keep.pop(n)
        messages.append(error(code, f"$.line_items[{index}]", f"{refused.code}: {lines[n]}"))
        blamed = True
    return blamed


def code_index(sent: list[str], code: str) -> int:
    """Where the agent sent `code` (as the quote normalized it) among its codes."""
    wanted = normalize_code(code)
    return next((n for n, each in enumerate(sent) if normalize_code(each) == wanted), 0)


def changed(state: State, changes: Changes) -> State:
    fields: dict[str, Any] = {}
    if not isinstance(changes.items, msgspec.UnsetType):
        fields["items"] = changes.items
    if not isinstance(changes.address, msgspec.UnsetType):
        fields["address"] = changes.address
        fields["address_sent"] = None if isinstance(changes.address_sent, msgspec.UnsetType) else changes.address_sent
    if not isinstance(changes.buyer, msgspec.UnsetType):
        fields["buyer"] = changes.buyer
    if not isinstance(changes.codes, msgspec.UnsetType):
        fields["codes"] = changes.codes
    shipping = dict(state.shipping)
    if not isinstance(changes.shipping, msgspec.UnsetType):
        shipping.update(changes.shipping)
    if not isinstance(changes.shipping_all, msgspec.UnsetType):
        # In the shipments' order (a set's order would follow the process's hash seed, and the messages
        # naming the sellers a choice missed with it: one update, two answers).
        sellers = [g.seller_id for g in state.summary.groups if g.options] or list(shipping)
        shipping = {**shipping, **dict.fromkeys(sellers, changes.shipping_all)}
    fields["shipping"] = shipping
    return msgspec.structs.replace(state, **fields)


def not_ready(state: State) -> list[Message]:
    """What a complete of a session that is not ready lacks, as messages."""
    lacking = []
    if not state.summary.lines:
        lacking.append(error("missing", "$.line_items", "no line of the session is priced"))
    if state.address is None:
        lacking.append(error("missing", "$.fulfillment_address", "set a fulfillment address first"))
    lacking += [
        error("missing", f"$.fulfillment_groups[{n}]", f"choose a fulfillment option for seller {g.seller_id}")
        for n, g in enumerate(state.summary.groups)
        if g.options and g.selected is None
    ]
    return lacking


def declined(allowance: Allowance | None, total: int, currency: str, now: datetime) -> str | None:
    """Why the delegated allowance does not cover `total` (minor units of `currency`); None: it does."""
    if allowance is None:
        return None
    if allowance.currency.upper() != currency:
        return f"payment_declined: the allowance is in {allowance.currency}, the total in {currency}"
    if allowance.expires_at <= now:
        return "payment_declined: the allowance has expired"
    if total > allowance.max_amount:
        return f"payment_declined: the total {total} is above the allowance's {allowance.max_amount}"
    return None


def quote_expired(row: Any, now: datetime) -> bool:
    expires = row["quote_expires_at"]
    return expires is None or expires <= now


def ready(state: State) -> bool:
    """Priced (some lines), addressed, and every seller with options given one. A message (a line left out, a
    rejected code) tells the agent what the total leaves out; it does not hold the payment back."""
    summary = state.summary
    return (
        summary.quote_id is not None
        and bool(summary.lines)
        and state.address is not None
        and all(g.selected is not None for g in summary.groups if g.options)
    )


def session_of(row: Any, state: State, shown: list[Message] | None = None) -> Session:
    return Session(
        id=row["id"],
        protocol=row["protocol"],
        status=row["status"],
        ready=ready(state),
        currency=row["currency"],
        state=state,
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        order_id=row["order_id"],
        shown=shown or [],
    )
