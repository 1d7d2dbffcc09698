"""The UCP binding (Universal Commerce Protocol 2026-01-11) under /ucp (docs/agents.md).

`POST /ucp/checkout-sessions`, `GET` and `PUT` (a full replace) `/ucp/checkout-sessions/{id}`,
`.../complete`, `.../cancel`, and the profile at `/ucp/.well-known/ucp` (also `/.well-known/ucp`).
`UCP-Agent` is required. One fulfillment group per seller (`seller:<seller_id>`); totals as UCP's
(`subtotal` before discounts, each discount a positive amount that subtracts).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath
from msgspec import Meta

from quote_service.checkout_sessions.binding import Call, json_response, printable, stamp
from quote_service.checkout_sessions.schemas import Changes, Item, Message, Session
from quote_service.checkout_sessions.service import CheckoutSessions, Keyed
from quote_service.errors import ServiceError
from quote_service.pricing.quote import Address
from quote_service.web.deps import AuthedRequest

VERSION = "2026-01-11"
SPEC = "https://ucp.dev/specification/overview"
CAPABILITIES = ("dev.ucp.shopping.checkout", "dev.ucp.shopping.fulfillment", "dev.ucp.shopping.discount")
Text = Annotated[str, Meta(max_length=200)]


class UcpItemRef(msgspec.Struct, frozen=True, kw_only=True):
    id: Annotated[str, Meta(min_length=1, max_length=64)]


class UcpLine(msgspec.Struct, frozen=True, kw_only=True):
    item: UcpItemRef
    quantity: Annotated[int, Meta(ge=1, le=10_000)]
    id: str | None = None


class UcpAddress(msgspec.Struct, frozen=True, kw_only=True):
    address_locality: Annotated[str, Meta(min_length=1, max_length=100)]
    address_country: Annotated[str, Meta(pattern=r"^[A-Za-z]{2}\Z")]
    street_address: Text | None = None
    extended_address: Text | None = None
    address_region: Annotated[str, Meta(max_length=100)] | None = None
    postal_code: Annotated[str, Meta(max_length=20)] | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    full_name: Text | None = None
    phone_number: Text | None = None
    id: str | None = None


class UcpGroupChoice(msgspec.Struct, frozen=True, kw_only=True):
    id: Annotated[str, Meta(pattern=r"^seller:.+")]
    selected_option_id: Annotated[str, Meta(min_length=1, max_length=64)] | None = None


class UcpMethod(msgspec.Struct, frozen=True, kw_only=True):
    type: str = "shipping"
    destinations: list[UcpAddress] = []
    groups: list[UcpGroupChoice] = []


class UcpFulfillment(msgspec.Struct, frozen=True, kw_only=True):
    methods: list[UcpMethod] = []


class UcpCodes(msgspec.Struct, frozen=True, kw_only=True):
    codes: Annotated[list[Annotated[str, Meta(min_length=1, max_length=64)]], Meta(max_length=10)] = []


class UcpCheckout(msgspec.Struct, frozen=True, kw_only=True):
    """A create, or a PUT's full replace (what it leaves out is cleared)."""

    line_items: Annotated[list[UcpLine], Meta(min_length=1)]
    currency: Annotated[str, Meta(pattern=r"^[A-Za-z]{3}\Z")]
    buyer: dict[str, Any] | None = None
    payment: dict[str, Any] = {}
    fulfillment: UcpFulfillment | None = None
    discounts: UcpCodes | None = None
    id: str | None = None


class UcpAllowance(msgspec.Struct, frozen=True, kw_only=True):
    max_amount: Annotated[int, Meta(ge=0)]
    currency: Annotated[str, Meta(pattern=r"^[A-Za-z]{3}\Z")]
    expires_at: datetime


class UcpPaymentData(msgspec.Struct, frozen=True, kw_only=True):
    token: Annotated[str, Meta(min_length=1, max_length=512)]
    provider: Annotated[str, Meta(min_length=1, max_length=64)] = "ucp"
    allowance: UcpAllowance | None = None


class UcpComplete(msgspec.Struct, frozen=True, kw_only=True):
    payment_data: UcpPaymentData


def address_of(sent: UcpAddress) -> Address:
    street = ", ".join(part for part in (sent.street_address, sent.extended_address) if part) or None
    return Address(
        city=sent.address_locality,
        country=sent.address_country.upper(),
        street=street,
        district=sent.address_region or None,
        postal_code=sent.postal_code or None,
    )


def changes_of(body: UcpCheckout) -> Changes:
    method = body.fulfillment.methods[0] if body.fulfillment is not None and body.fulfillment.methods else None
    destination = method.destinations[0] if method is not None and method.destinations else None
    choices = {} if method is None else {g.id.removeprefix("seller:"): g.selected_option_id for g in method.groups}
    return Changes(
        items=[Item(id=line.item.id, quantity=line.quantity) for line in body.line_items],
        address=None if destination is None else address_of(destination),
        address_sent=None if destination is None else msgspec.to_builtins(destination),
        buyer=body.buyer,
        shipping={seller: code for seller, code in choices.items() if code is not None},
        codes=[] if body.discounts is None else body.discounts.codes,
    )


# -- answers ----------------------------------------------------------------------------------------


def status_of(session: Session) -> str:
    if session.status == "open":
        return "ready_for_complete" if session.ready else "incomplete"
    return session.status


def message(m: Message) -> dict[str, Any]:
    flat: dict[str, Any] = {"type": m.type, "code": m.code, "path": m.param, "content_type": "plain"}
    flat["content"] = m.content
    if m.type == "error":
        flat["severity"] = "recoverable"
    return flat


def _total(kind: str, amount: int) -> dict[str, Any]:
    return {"type": kind, "amount": amount}


def envelope() -> dict[str, Any]:
    return {"version": VERSION, "capabilities": [{"name": name, "version": VERSION} for name in CAPABILITIES]}


def render(session: Session, base_url: str) -> dict[str, Any]:
    """The session as UCP's `CheckoutResponse` with the fulfillment and discount extensions."""
    state = session.state
    summary = state.summary
    totals = summary.totals
    destination = None if state.address_sent is None else {**state.address_sent, "id": "destination_1"}
    answer: dict[str, Any] = {
        "ucp": envelope(),
        "id": str(session.id),
        "status": status_of(session),
        "currency": session.currency,
        "line_items": [
            {
                "id": line.id,
                "item": {"id": line.item.id, "title": line.item.id, "price": line.unit_price},
                "quantity": line.item.quantity,
                "seller_id": line.seller_id,
                "totals": [
                    _total("subtotal", line.base_amount),
                    _total("items_discount", line.discount),
                    _total("tax", line.tax),
                    _total("total", line.total),
                ],
            }
            for line in summary.lines
        ],
        "totals": [
            _total("subtotal", totals.items_base_amount),
            _total("items_discount", totals.items_discount),
            _total("discount", totals.discount),
            _total("fulfillment", totals.fulfillment),
            _total("tax", totals.tax),
            _total("fee", totals.fee),
            _total("total", totals.total),
        ],
        "messages": [message(m) for m in session.messages],
        "links": [],
        "expires_at": stamp(session.expires_at),
        "payment": {"handlers": []},
        "fulfillment": {
            "methods": [
                {
                    "id": "shipping",
                    "type": "shipping",
                    "line_item_ids": [line.id for line in summary.lines],
                    "destinations": [] if destination is None else [destination],
                    "selected_destination_id": None if destination is None else "destination_1",
                    "groups": [
                        {
                            "id": f"seller:{g.seller_id}",
                            "line_item_ids": g.line_ids,
                            "options": [
                                {
                                    "id": o.id,
                                    "title": o.title,
                                    "earliest_fulfillment_time": stamp(o.earliest),
                                    "latest_fulfillment_time": stamp(o.latest),
                                    "totals": [_total("fulfillment", o.amount), _total("total", o.amount)],
                                }
                                for o in g.options
                            ],
                            "selected_option_id": g.selected,
                        }
                        for g in summary.groups
                    ],
                }
            ]
        },
        "discounts": {
            "codes": state.codes,
            "applied": [msgspec.to_builtins(a) for a in summary.applied],
            "rejected": [msgspec.to_builtins(r) for r in summary.rejected],
        },
        "quote_id": None if summary.quote_id is None else str(summary.quote_id),
        "quote_expires_at": None if summary.quote_expires_at is None else stamp(summary.quote_expires_at),
    }
    if state.buyer is not None:
        answer["buyer"] = state.buyer
    if session.order_id is not None:
        answer["order"] = {"id": str(session.order_id), "permalink_url": f"{base_url}/api/v1/orders/{session.order_id}"}
    return answer


_CODES = {
    "IDEMPOTENCY_CONFLICT": (409, "idempotency_conflict"),
    "IDEMPOTENCY_IN_PROGRESS": (409, "idempotency_in_flight"),
    "SESSION_COMPLETED": (409, "session_completed"),
    "SESSION_CANCELED": (409, "session_canceled"),
    "SESSION_EXPIRED": (410, "session_expired"),
    "NOT_FOUND": (404, "not_found"),
}


def error_of(refused: ServiceError) -> tuple[int, dict[str, Any]]:
    status, code = _CODES.get(refused.code, (refused.status_code, refused.code.lower()))
    body: dict[str, Any] = {"code": code, "message": refused.message, "detail": refused.message}
    if refused.details:
        body["path"] = "$." + refused.details[0].field
    return status, body


def profile(base_url: str) -> dict[str, Any]:
    """The business profile: the version, the shopping service's REST endpoint, the capabilities."""
    return {
        "ucp": {
            "version": VERSION,
            "services": {
                "dev.ucp.shopping": {
                    "version": VERSION,
                    "spec": SPEC,
                    "rest": {
                        "schema": "https://ucp.dev/services/shopping/rest.openapi.json",
                        "endpoint": f"{base_url}/ucp",
                    },
                }
            },
            "capabilities": [
                {
                    "name": name,
                    "version": VERSION,
                    "spec": SPEC,
                    "schema": f"https://ucp.dev/schemas/shopping/{name.rsplit('.', 1)[1]}.json",
                    **({} if name == CAPABILITIES[0] else {"extends": CAPABILITIES[0]}),
                }
                for name in CAPABILITIES
            ],
        },
        "payment": {"handlers": []},
        "signing_keys": [],
    }


# -- routes -----------------------------------------------------------------------------------------


class UcpCall(Call):
    """A UCP request: `UCP-Agent` required; errors `{code, message, detail, path?}`."""

    protocol = "ucp"

    def check(self, headers: Any) -> Response[bytes] | None:
        agent = headers.get("ucp-agent")
        if not agent:
            return self.refuse(400, self.failed("ucp_agent_required", "send a UCP-Agent header", "UCP-Agent"))
        if not printable(agent):
            return self.refuse(400, self.failed("invalid", "UCP-Agent is printable ASCII", "UCP-Agent"))
        return None

    def render(self, session: Session) -> dict[str, Any]:
        return render(session, "" if session.order_id is None else self.base_url)  # (only an order links)

    def error_of(self, refused: ServiceError) -> tuple[int, dict[str, Any]]:
        return error_of(refused)

    def failed(self, code: str, message: str, param: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"code": code, "message": message, "detail": message}
        return body if param is None else {**body, "path": param}


_SessionsDep = NamedDependency[CheckoutSessions]


@get(["/ucp/.well-known/ucp", "/.well-known/ucp"], exclude_from_auth=True, tags=["agents"], summary="UCP profile")
async def ucp_profile(request: Request[Any, Any, Any]) -> Response[bytes]:
    return json_response(profile(str(request.base_url).rstrip("/")), 200)


class UcpCheckoutSessions(Controller):
    path = "/ucp/checkout-sessions"
    tags = ["agents"]
    # No guard: each route's `Call` checks the role (binding.py `AGENT_ROLES`).

    @post("/", status_code=201, summary="UCP: create a checkout session")
    async def create(self, request: AuthedRequest, checkout_sessions: _SessionsDep) -> Response[bytes]:
        async def run(data: UcpCheckout, keyed: Keyed) -> Session:
            currency = data.currency.upper()
            return await checkout_sessions.create(request.user, "ucp", currency, changes_of(data), keyed)

        return await UcpCall(request, keyed=True).write("ucp.create", None, UcpCheckout, run, 201)

    @get("/{session_id:uuid}", summary="UCP: a checkout session")
    async def read(
        self, session_id: FromPath[UUID], request: AuthedRequest, checkout_sessions: _SessionsDep
    ) -> Response[bytes]:
        return await UcpCall(request, keyed=False).read(checkout_sessions, session_id)

    @put("/{session_id:uuid}", summary="UCP: replace a checkout session's basket, address, choices and codes")
    async def replace(
        self, session_id: FromPath[UUID], request: AuthedRequest, checkout_sessions: _SessionsDep
    ) -> Response[bytes]:
        call = UcpCall(request, keyed=True)
        return await call.update(checkout_sessions, session_id, UcpCheckout, changes_of, replace=True)

    @post("/{session_id:uuid}/complete", status_code=200, summary="UCP: complete a checkout session (the order)")
    async def complete(
        self, session_id: FromPath[UUID], request: AuthedRequest, checkout_sessions: _SessionsDep
    ) -> Response[bytes]:
        return await UcpCall(request, keyed=True).complete(checkout_sessions, session_id, UcpComplete)

    @post("/{session_id:uuid}/cancel", status_code=200, summary="UCP: cancel a checkout session")
    async def cancel(
        self, session_id: FromPath[UUID], request: AuthedRequest, checkout_sessions: _SessionsDep
    ) -> Response[bytes]:
        return await UcpCall(request, keyed=True).cancel(checkout_sessions, session_id)
