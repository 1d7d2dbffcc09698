"""The ACP binding (Agentic Commerce Protocol 2025-09-29) under /acp/checkout_sessions (docs/agents.md).

Flat `messages` and `fulfillment_options` as ACP's OpenAPI writes them; errors ACP's flat
`{type, code, message, param?}`; `Idempotency-Key` required on every POST; `API-Version` absent
means the newest supported; `Request-Id` echoed. ACP has one `fulfillment_option_id` a session: its
options are the codes every seller offers, each combined over the sellers (choosing one picks it
for every seller); the extra `fulfillment_groups` shows and takes each seller's choice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from msgspec import UNSET, Meta, UnsetType

from quote_service.checkout_sessions.binding import Call, stamp
from quote_service.checkout_sessions.schemas import Changes, Item, Message, Session, Totals
from quote_service.checkout_sessions.service import CheckoutSessions, Keyed
from quote_service.errors import ServiceError
from quote_service.pricing.quote import Address
from quote_service.web.deps import AuthedRequest

VERSION = "2025-09-29"
SUPPORTED = (VERSION,)
Text = Annotated[str, Meta(min_length=1, max_length=200)]
Country = Annotated[str, Meta(pattern=r"^[A-Za-z]{2}\Z")]


class AcpItem(msgspec.Struct, frozen=True, kw_only=True):
    id: Annotated[str, Meta(min_length=1, max_length=64)]
    quantity: Annotated[int, Meta(ge=1, le=10_000)]


class AcpAddress(msgspec.Struct, frozen=True, kw_only=True):
    name: Text
    line_one: Text
    line_two: Annotated[str, Meta(max_length=200)] | None = None
    city: Annotated[str, Meta(min_length=1, max_length=100)]
    state: Annotated[str, Meta(max_length=100)]
    country: Country
    postal_code: Annotated[str, Meta(max_length=20)]


class AcpBuyer(msgspec.Struct, frozen=True, kw_only=True):
    first_name: Text
    last_name: Text
    email: Text
    phone_number: Text | None = None


class GroupChoice(msgspec.Struct, frozen=True, kw_only=True):
    id: Annotated[str, Meta(pattern=r"^seller:.+")]
    selected_option_id: Annotated[str, Meta(min_length=1, max_length=64)]


class Codes(msgspec.Struct, frozen=True, kw_only=True):
    codes: Annotated[list[Annotated[str, Meta(min_length=1, max_length=64)]], Meta(max_length=10)]


class AcpUpdate(msgspec.Struct, frozen=True, kw_only=True):
    items: Annotated[list[AcpItem], Meta(min_length=1)] | UnsetType = UNSET
    buyer: AcpBuyer | UnsetType = UNSET
    fulfillment_address: AcpAddress | UnsetType = UNSET
    fulfillment_option_id: Annotated[str, Meta(min_length=1, max_length=64)] | UnsetType = UNSET
    fulfillment_groups: list[GroupChoice] | UnsetType = UNSET
    discounts: Codes | UnsetType = UNSET


class AcpCreate(AcpUpdate, frozen=True, kw_only=True):
    items: Annotated[list[AcpItem], Meta(min_length=1)]


class AcpAllowance(msgspec.Struct, frozen=True, kw_only=True):
    max_amount: Annotated[int, Meta(ge=0)]
    currency: Annotated[str, Meta(pattern=r"^[A-Za-z]{3}\Z")]
    expires_at: datetime


class AcpPaymentData(msgspec.Struct, frozen=True, kw_only=True):
    token: Annotated[str, Meta(min_length=1, max_length=512)]
    provider: Annotated[str, Meta(min_length=1, max_length=64)]
    billing_address: AcpAddress | None = None
    allowance: AcpAllowance | None = None


class AcpComplete(msgspec.Struct, frozen=True, kw_only=True):
    buyer: AcpBuyer | None = None
    payment_data: AcpPaymentData


def address_of(sent: AcpAddress) -> Address:
    street = sent.line_one if not sent.line_two else f"{sent.line_one}, {sent.line_two}"
    return Address(
        city=sent.city,
        country=sent.country.upper(),
        street=street[:200],
        district=sent.state or None,
        postal_code=sent.postal_code or None,
    )


def changes_of(body: AcpUpdate) -> Changes:
    fields: dict[str, Any] = {}
    if not isinstance(body.items, UnsetType):
        fields["items"] = [Item(id=i.id, quantity=i.quantity) for i in body.items]
    if not isinstance(body.fulfillment_address, UnsetType):
        fields["address"] = address_of(body.fulfillment_address)
        fields["address_sent"] = msgspec.to_builtins(body.fulfillment_address)
    if not isinstance(body.buyer, UnsetType):
        fields["buyer"] = msgspec.to_builtins(body.buyer)
    if not isinstance(body.fulfillment_option_id, UnsetType):
        fields["shipping_all"] = body.fulfillment_option_id
    if not isinstance(body.fulfillment_groups, UnsetType):
        fields["shipping"] = {g.id.removeprefix("seller:"): g.selected_option_id for g in body.fulfillment_groups}
    if not isinstance(body.discounts, UnsetType):
        fields["codes"] = body.discounts.codes
    return Changes(**fields)


# -- answers ----------------------------------------------------------------------------------------

_TOTALS = Totals.__struct_fields__  # its fields in order, as `astuple` gives their values
_TITLES = {
    "items_base_amount": "Items",
    "items_discount": "Item discounts",
    "subtotal": "Subtotal",
    "discount": "Discount",
    "fulfillment": "Shipping",
    "tax": "Tax",
    "fee": "Fees",
    "total": "Total",
}
_TITLED = [(name, _TITLES[name]) for name in _TOTALS]
"""Each total's type and title, in `Totals`'s field order (its values read in one `astuple`)."""


def status_of(session: Session) -> str:
    if session.status == "open":
        return "ready_for_payment" if session.ready else "not_ready_for_payment"
    return session.status


def message(m: Message) -> dict[str, Any]:
    flat: dict[str, Any] = {"type": m.type, "param": m.param, "content_type": "plain", "content": m.content}
    if m.type == "error":
        flat["code"] = m.code
    return flat


def render(session: Session, base_url: str) -> dict[str, Any]:
    """The session as ACP's `CheckoutSession` (flat lists) with the service's extra fields. Plain loops: an
    update renders its session, and a comprehension or a helper call per line or option is a call each."""
    state = session.state
    summary = state.summary
    line_items: list[dict[str, Any]] = []
    for line in summary.lines:
        line_items.append(
            {
                "id": line.id,
                "item": {"id": line.item.id, "quantity": line.item.quantity},
                "base_amount": line.base_amount,
                "discount": line.discount,
                "subtotal": line.subtotal,
                "tax": line.tax,
                "total": line.total,
                "seller_id": line.seller_id,
            }
        )
    fulfillment_groups: list[dict[str, Any]] = []
    offering: list[Any] = []  # the groups with options
    chosen: str | None = None
    one_choice = True  # every group with options has the same option chosen
    for g in summary.groups:
        options: list[dict[str, Any]] = []
        for o in g.options:
            options.append(_option(o.id, o.title, o.amount, o.earliest, o.latest))
        if options:
            if not offering:
                chosen = g.selected
            elif g.selected != chosen:
                one_choice = False
            offering.append(g)
        fulfillment_groups.append(
            {
                "id": f"seller:{g.seller_id}",
                "line_item_ids": g.line_ids,
                "options": options,
                "selected_option_id": g.selected,
            }
        )
    totals: list[dict[str, Any]] = []
    for (name, title), amount in zip(_TITLED, msgspec.structs.astuple(summary.totals), strict=True):
        totals.append({"type": name, "display_text": title, "amount": amount})
    messages: list[dict[str, Any]] = []
    for m in session.messages:
        messages.append(message(m))
    answer: dict[str, Any] = {
        "id": str(session.id),
        "status": status_of(session),
        "currency": session.currency.lower(),
        "payment_provider": {"provider": "stripe", "supported_payment_methods": ["card"]},
        "line_items": line_items,
        "fulfillment_options": _combined(offering),
        "fulfillment_option_id": chosen if offering and one_choice else None,
        "fulfillment_groups": fulfillment_groups,
        "totals": totals,
        "messages": messages,
        "links": [],
        "discounts": {
            "codes": state.codes,
            "applied": [msgspec.to_builtins(a) for a in summary.applied] if summary.applied else [],
            "rejected": [msgspec.to_builtins(r) for r in summary.rejected] if summary.rejected else [],
        },
        "quote_id": None if summary.quote_id is None else str(summary.quote_id),
        "quote_expires_at": None if summary.quote_expires_at is None else stamp(summary.quote_expires_at),
        "expires_at": stamp(session.expires_at),
    }
    if state.address_sent is not None:
        answer["fulfillment_address"] = state.address_sent
    if state.buyer is not None:
        answer["buyer"] = state.buyer
    if session.order_id is not None:
        answer["order"] = {
            "id": str(session.order_id),
            "checkout_session_id": str(session.id),
            "permalink_url": f"{base_url}/api/v1/orders/{session.order_id}",
        }
    return answer


def _option(code: str, title: str, amount: int, earliest: datetime, latest: datetime) -> dict[str, Any]:
    return {
        "type": "shipping",
        "id": code,
        "title": title,
        "subtotal": amount,
        "tax": 0,
        "total": amount,
        "earliest_delivery_time": stamp(earliest),
        "latest_delivery_time": stamp(latest),
    }


def _combined(groups: list[Any]) -> list[dict[str, Any]]:
    """For each option code every seller offers (in the first seller's order): one option, the sellers' fees
    summed, the latest times."""
    if not groups:
        return []
    offered: list[dict[str, Any]] = []
    for g in groups:
        by_code: dict[str, Any] = {}
        for o in g.options:
            by_code[o.id] = o  # a code offered twice: its last option, as a dict built in order keeps
        offered.append(by_code)
    combined: list[dict[str, Any]] = []
    for first in groups[0].options:
        code = first.id
        head = offered[0][code]
        title, earliest, latest, amount = head.title, head.earliest, head.latest, 0
        for each in offered:
            if code not in each:
                break
            part = each[code]
            if part.earliest > earliest:
                earliest = part.earliest
            if part.latest > latest:
                latest = part.latest
            amount += part.amount
        else:
            combined.append(_option(code, title, amount, earliest, latest))
    return combined


_CODES = {
    "IDEMPOTENCY_CONFLICT": (422, "idempotency_conflict"),
    "IDEMPOTENCY_IN_PROGRESS": (409, "idempotency_in_flight"),
    "SESSION_COMPLETED": (409, "session_completed"),
    "SESSION_CANCELED": (409, "session_canceled"),
    "SESSION_EXPIRED": (410, "session_expired"),
    "NOT_FOUND": (404, "not_found"),
}


def error_of(refused: ServiceError, *, canceling: bool = False) -> tuple[int, dict[str, Any]]:
    """A service refusal as ACP's flat error."""
    status, code = _CODES.get(refused.code, (refused.status_code, refused.code.lower()))
    if canceling and refused.code == "SESSION_COMPLETED":
        status = 405
    kind = "invalid_request" if status < 500 else "service_unavailable" if status == 503 else "processing_error"
    body: dict[str, Any] = {"type": kind, "code": code, "message": refused.message}
    if refused.details:
        body["param"] = "$." + refused.details[0].field
    return status, body


class AcpCall(Call):
    """An ACP request: `API-Version` (absent: the newest), `Request-Id` echoed, ACP's flat errors."""

    protocol = "acp"

    canceling = False

    def check(self, headers: Any) -> Response[bytes] | None:
        version = headers.get("api-version")
        if version is None or version in SUPPORTED:  # absent: the newest; an empty one names no version
            return None
        named = version or "(empty)"
        body = self.failed("unsupported_api_version", f"API-Version {named} is not supported", "API-Version")
        return self.refuse(400, {**body, "supported_versions": list(SUPPORTED)})

    @property
    def headers(self) -> dict[str, str]:
        return {"API-Version": VERSION, **super().headers}

    def render(self, session: Session) -> dict[str, Any]:
        return render(session, "" if session.order_id is None else self.base_url)  # (only an order links)

    def error_of(self, refused: ServiceError) -> tuple[int, dict[str, Any]]:
        return error_of(refused, canceling=self.canceling)

    def failed(self, code: str, message: str, param: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": "invalid_request", "code": code, "message": message}
        return body if param is None else {**body, "param": param}


class CancelCall(AcpCall):
    canceling = True  # ACP: 405 for a completed session


_SessionsDep = NamedDependency[CheckoutSessions]


class AcpCheckoutSessions(Controller):
    path = "/acp/checkout_sessions"
    tags = ["agents"]
    # No guard: each route's `Call` checks the role (binding.py `AGENT_ROLES`).

    @post("/", status_code=201, summary="ACP: create a checkout session (Idempotency-Key required)")
    async def create(self, request: AuthedRequest, checkout_sessions: _SessionsDep) -> Response[bytes]:
        currency = checkout_sessions.settings.default_currency.upper()

        async def run(data: AcpCreate, keyed: Keyed) -> Session:
            return await checkout_sessions.create(request.user, "acp", currency, changes_of(data), keyed)

        return await AcpCall(request, keyed=True).write("acp.create", None, AcpCreate, run, 201)

    @get("/{session_id:uuid}", summary="ACP: a checkout session")
    async def read(
        self, session_id: FromPath[UUID], request: AuthedRequest, checkout_sessions: _SessionsDep
    ) -> Response[bytes]:
        return await AcpCall(request, keyed=False).read(checkout_sessions, session_id)

    @post("/{session_id:uuid}", status_code=200, summary="ACP: update a checkout session")
    async def update(
        self, session_id: FromPath[UUID], request: AuthedRequest, checkout_sessions: _SessionsDep
    ) -> Response[bytes]:
        return await AcpCall(request, keyed=True).update(checkout_sessions, session_id, AcpUpdate, changes_of)

    @post("/{session_id:uuid}/complete", status_code=200, summary="ACP: complete a checkout session (the order)")
    async def complete(
        self, session_id: FromPath[UUID], request: AuthedRequest, checkout_sessions: _SessionsDep
    ) -> Response[bytes]:
        return await AcpCall(request, keyed=True).complete(checkout_sessions, session_id, AcpComplete)

    @post("/{session_id:uuid}/cancel", status_code=200, summary="ACP: cancel a checkout session")
    async def cancel(
        self, session_id: FromPath[UUID], request: AuthedRequest, checkout_sessions: _SessionsDep
    ) -> Response[bytes]:
        return await CancelCall(request, keyed=True).cancel(checkout_sessions, session_id)
