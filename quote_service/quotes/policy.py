"""What a caller's role allows on a quote and on its order.

A `user` (a shopper's bearer token) quotes only for itself, at its account's tier and segment,
and only catalog products. `service` keys and admins (checkout systems and operators) quote for
any customer, may state the tier and segment, and may price items that are not in the catalog
themselves (`price_source: request`). An inactive catalog product is refused to everyone. A
quote is its maker's: only the caller that made it, or an admin, reads or orders it
(auth/policy.py: `acts_for`); to anyone else it does not exist. An `agent` key quotes as a service
key does, for the channel `agent` whatever its request states, and its quote says whose it is
(docs/agents.md#quotes-and-orders).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec

from quote_service.auth.policy import acts_for, foreign_labels
from quote_service.auth.schemas import Principal
from quote_service.errors import (
    ClientPriceNotAllowed,
    FieldError,
    Forbidden,
    NotFound,
    ProductUnavailable,
    ValidationFailed,
    invalid,
)
from quote_service.pricing.money import MAX_AMOUNT
from quote_service.pricing.quote import AgentRef, CatalogProduct, QuoteRequest
from quote_service.quotes.store import StoredQuote
from quote_service.quotes.tax_ids import tax_id_problem


def check_request(request: QuoteRequest, caller: Principal) -> None:
    """Refuse `replaces_quote_id` without `reserve_stock` (422: it moves a hold), and what a user
    may not state: another customer (403), another tier, segment or customer group (422)."""
    if request.replaces_quote_id is not None and not request.reserve_stock:
        raise invalid("replaces_quote_id", "moves a quote's stock hold to this quote: send it with reserve_stock: true")
    stated_exemption = request.tax_exemption not in (None, "none")
    if caller.role == "user" and stated_exemption:
        raise invalid("tax_exemption", "a tax exemption is stated by a service key or an admin, not by a shopper")
    if request.tax_exemption == "reverse_charge":
        if request.customer_tax_id is None:
            raise invalid("customer_tax_id", "required with tax_exemption: reverse_charge (the buyer's VAT id)")
        problem = tax_id_problem(request.customer_tax_id, request.delivery_address.country)
        if problem is not None:
            raise invalid("customer_tax_id", problem)
    if request.installments is not None and request.card_bin is None:
        raise invalid("installments", "choose installments with the card's card_bin")
    if caller.role != "user":
        return
    if request.customer_id != str(caller.id):
        # Orders hold users to their own quotes; refusing here saves a quote that could never be ordered.
        raise Forbidden("A user may quote only for itself: customer_id must be your user id")
    problems = foreign_labels(
        [
            ("customer_tier", "tier", request.customer_tier, caller.tier),
            ("customer_segment", "segment", request.customer_segment, caller.segment),
            ("customer_group", "customer group", request.customer_group, caller.customer_group),
        ]
    )
    if problems:
        raise ValidationFailed("; ".join(f"{p.field}: {p.message}" for p in problems), details=problems)


def customer_profile(request: QuoteRequest, caller: Principal) -> tuple[str | None, str | None]:
    """(tier, segment) to price at: a user's own; otherwise as stated, else the calling account's."""
    if caller.role == "user":
        return caller.tier, caller.segment
    own = caller.kind == "user"  # an admin with a bearer token; API keys have no tier
    return (
        request.customer_tier or (caller.tier if own else None),
        request.customer_segment or (caller.segment if own else None),
    )


def customer_group(request: QuoteRequest, caller: Principal) -> str | None:
    """The customer group to price at (docs/markets.md#customer-group-per-quote): a user's own; otherwise
    as stated, else the calling account's (a service key's own group, when it has one)."""
    if caller.role == "user":
        return caller.customer_group
    return request.customer_group or caller.customer_group


def test_group(request: QuoteRequest, caller: Principal) -> str | None:
    """The A/B variant the caller forces (`context.ab_test_group`): a checkout that assigns its own
    groups, or QA. A shopper cannot choose its variant: its ab_test_group is ignored."""
    if caller.role == "user" or request.context is None:
        return None
    return request.context.ab_test_group


def check_items(request: QuoteRequest, products: Mapping[str, CatalogProduct], caller: Principal) -> None:
    """Refuse inactive catalog products (409), and items a user would price itself (422)."""
    inactive = [
        (index, item.product_id)
        for index, item in enumerate(request.items)
        if (product := products.get(item.product_id)) is not None and not product.is_active
    ]
    if inactive:
        raise ProductUnavailable(
            "product(s) not available: " + ", ".join(product_id for _, product_id in inactive),
            details=[FieldError(f"items[{index}].product_id", "the product is inactive") for index, _ in inactive],
        )
    if caller.role == "user":
        _refuse_client_prices([index for index, item in enumerate(request.items) if item.product_id not in products])


def check_orderable(stored: StoredQuote, caller: Principal) -> None:
    """Refuse the order of a quote the caller did not make (404, as an unknown quote; admins order
    any), and of a quote whose amounts reach the money ceiling (priced before it was enforced; its
    order could not be stored: docs/quotes-and-orders.md#the-money-ceiling). A user's own quotes hold
    no request-priced lines: `check_items` refused them when it quoted."""
    quote = stored.quote
    if not acts_for(caller, stored.maker):
        raise NotFound(f"quote {quote.quote_id} not found")
    largest = max(quote.subtotal, quote.pricing_breakdown.item_total, quote.total_amount)
    largest = max(largest, quote.commission_breakdown.total_commission)
    if largest >= MAX_AMOUNT:
        message = f"the quote's amounts reach {largest}, not below {MAX_AMOUNT:f}, the ceiling of every amount"
        raise ValidationFailed(message, details=[FieldError("quote_id", message)])


def _refuse_client_prices(indexes: list[int]) -> None:
    """ClientPriceNotAllowed naming each of the lines at `indexes`, if any."""
    if indexes:
        raise ClientPriceNotAllowed(
            "only service and admin callers may quote or order items priced by the client",
            details=[
                FieldError(f"items[{index}].product_id", "not an active catalog product; a user may not set its price")
                for index in indexes
            ],
        )


AGENT_CHANNEL: Final = "agent"


def agent_request(request: QuoteRequest) -> QuoteRequest:
    """An agent key's request: priced for the channel `agent` (price lists and promotions may target it)."""
    return request if request.channel == AGENT_CHANNEL else msgspec.structs.replace(request, channel=AGENT_CHANNEL)


def agent_of(caller: Principal) -> AgentRef | None:
    """The agent an agent key's quote names (`channel: agent`, `agent: {name, key_id}`); None for any other caller."""
    return AgentRef(name=caller.name, key_id=caller.id) if caller.role == "agent" else None
