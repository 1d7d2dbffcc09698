"""Calls a quote's tax and shipping extensions: once each, concurrently, within the quote's deadline.

One `httpx.AsyncClient` per process keeps connections to the extensions alive (a call costs no TCP or
TLS handshake once warm) and never follows a redirect. Each call is signed as webhooks are (Standard
Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`; webhooks/signing.py) and may take the
extension's `timeout_ms`, never past the quote's deadline less a margin for pricing and storing.

    failure reason      what happened
    timeout             no answer within the time above
    connection_error    refused, reset, DNS: any transport error; an address the URL rules refuse
    http_error          an answer other than 2xx (a redirect included)
    too_large           an answer of more than MAX_ANSWER_BYTES, decoded (a compressed one counted as decoded)
    malformed           not JSON of the answer's shape; a Content-Encoding other than gzip or deflate
    invalid             an amount, rate or line the quote cannot use (pricing/external.py)
    circuit_open        not called: 5 failures in a row opened its circuit for 30 s

An answer is read as it streams in, never whole before it is checked: the size cap counts its decoded bytes
and the read ends as soon as they pass it, and the whole call (connection, answer and body) stays within its
time. Calls ask for no compression (`Accept-Encoding: identity`: answers are small, and decoding one costs
the event loop CPU); one compressed anyway with gzip or deflate is decoded a chunk at a time, each chunk's
output bounded by what the cap leaves, so a small compressed body that would decode to hundreds of MB costs
at most the cap (`_read_capped`).

A circuit (`Breaker`) per extension: after 5 failures in a row it opens for 30 s (no call; the
extension's `on_failure` applies at once), then lets one trial call through; its success closes it,
its failure opens it again.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

import httpcore
import httpx
import msgspec

from quote_service import ids
from quote_service.observability.metrics import (
    EXTENSION_CALLS,
    EXTENSION_CIRCUIT,
    EXTENSION_FAILURES,
    EXTENSION_LATENCY,
)
from quote_service.pricing.extensions import Call, Extension
from quote_service.pricing.external import BadAnswer, ExternalPricing, read_shipping, read_taxes
from quote_service.pricing.quote import Quote, QuoteRequest
from quote_service.pricing.shipping import ShippingProfile
from quote_service.pricing.taxes import LineTax
from quote_service.webhooks import signing
from quote_service.webhooks.transport import GuardedBackend

FAILURES_TO_OPEN = 5
OPEN_SECONDS = 30.0
DEADLINE_MARGIN = 0.1
"""Seconds of the quote's deadline left for pricing again and storing after the extensions answered."""
MAX_ANSWER_BYTES = 1 << 20
"""The most an answer may hold, decoded (its compressed bytes too: no answer need be larger on the wire)."""

CircuitState = Literal["closed", "open", "half_open"]
_STATE_VALUE = {"closed": 0, "open": 1, "half_open": 2}
_ENCODER = msgspec.json.Encoder()
_IDENTITY = (b"accept-encoding", b"identity")
"""No compression asked for (module docstring)."""


class Breaker:
    """One extension's circuit: closed, open for OPEN_SECONDS after FAILURES_TO_OPEN failures in a row,
    then half-open (one trial call at a time). `clock`: monotonic seconds (tests move it)."""

    __slots__ = ("_clock", "failures", "opened_at", "trial")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.trial = False

    @property
    def state(self) -> CircuitState:
        if self.opened_at is None:
            return "closed"
        if self.trial or self._clock() - self.opened_at >= OPEN_SECONDS:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """Whether a call may go now (taking the one trial call of a half-open circuit)."""
        if self.opened_at is None:
            return True
        if self.trial or self._clock() - self.opened_at < OPEN_SECONDS:
            return False
        self.trial = True
        return True

    def succeeded(self) -> None:
        self.failures, self.opened_at, self.trial = 0, None, False

    def failed(self) -> None:
        self.failures += 1
        if self.trial or self.failures >= FAILURES_TO_OPEN:
            self.opened_at, self.trial = self._clock(), False


@dataclass
class Answers:
    """What a quote's extensions gave: the amounts to price with, and those that failed."""

    external: ExternalPricing
    failed: list[Extension] = field(default_factory=list)
    taxed: bool = False
    """Some line's tax came from an extension."""


class _Failed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def guarded_client(*, allow_private: bool) -> httpx.AsyncClient:
    """The kept-alive client, connecting only to addresses the webhook URL rules allow, checked when it
    connects (webhooks/transport.py: the host resolved once, the TCP connection made to a checked address),
    so a name re-pointed at an internal address after the extension was saved is still refused."""
    transport = httpx.AsyncHTTPTransport(retries=0)
    # httpx takes no network backend of its own: its connection pool, made with the guarded one.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=200,
        max_keepalive_connections=100,
        keepalive_expiry=60.0,
        retries=0,
        network_backend=GuardedBackend(allow_private=allow_private),
    )
    return httpx.AsyncClient(
        transport=transport, follow_redirects=False, trust_env=False, headers={"user-agent": "quote-service-extensions"}
    )


class ExtensionCaller:
    """The process's caller of extensions (one client, one circuit per extension)."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._client = client or guarded_client(allow_private=allow_private)
        self.clock = clock
        """Monotonic seconds the circuits read (tests move it)."""
        self._wall = wall
        self._breakers: dict[UUID, Breaker] = {}

    async def aclose(self) -> None:
        await self._client.aclose()

    def reset(self) -> None:
        """Close every circuit (a started app the tests reuse)."""
        for extension_id in self._breakers:
            EXTENSION_CIRCUIT.labels(str(extension_id)).set(0)
        self._breakers.clear()

    def circuit(self, extension_id: UUID) -> CircuitState:
        """An extension's circuit state now."""
        breaker = self._breakers.get(extension_id)
        return "closed" if breaker is None else breaker.state

    async def ask(self, calls: Sequence[Call], quote: Quote, request: QuoteRequest, deadline: float) -> Answers:
        """Call each extension once, concurrently, and read what they answered; `deadline`: the quote's
        (event-loop time)."""
        lines = _lines(quote)
        results = await asyncio.gather(*(self._one(call, quote, request, lines, deadline) for call in calls))
        taxes: dict[int, tuple[LineTax, ...]] = {}
        shipping: dict[str | None, ShippingProfile] = {}
        answers = Answers(ExternalPricing(taxes, shipping))
        for call, result in zip(calls, results, strict=True):
            if result is None:
                answers.failed.append(call.extension)
            elif call.extension.kind == "tax":
                taxes.update(result)
                answers.taxed = True
            else:
                shipping.update(result)
        return answers

    async def _one(
        self, call: Call, quote: Quote, request: QuoteRequest, lines: list[dict[str, Any]], deadline: float
    ) -> dict[Any, Any] | None:
        """One extension's answer, read; None when it failed (counted, and its circuit told)."""
        extension = call.extension
        key = str(extension.id)
        breaker = self._breakers.get(extension.id)
        if breaker is None:
            breaker = self._breakers[extension.id] = Breaker(lambda: self.clock())
        if not breaker.allow():
            EXTENSION_FAILURES.labels(key, "circuit_open").inc()
            return None
        if breaker.trial:
            EXTENSION_CIRCUIT.labels(key).set(_STATE_VALUE["half_open"])
        loop = asyncio.get_running_loop()
        started = loop.time()
        budget = min(extension.timeout_ms / 1000, deadline - started - DEADLINE_MARGIN)
        try:
            if budget <= 0:
                raise _Failed("timeout")
            body = _ENCODER.encode(_payload(call, quote, request, lines))
            answer = await self._post(extension, body, budget)
            result: dict[Any, Any]
            if extension.kind == "tax":
                asked = {index: _net(lines[index]) for index in call.lines}
                result = read_taxes(answer, asked=asked, currency=quote.currency)
            else:
                sellers = {lines[index]["seller_id"] for index in call.lines}
                result = read_shipping(answer, asked=sellers, currency=quote.currency, extension_id=extension.id)
        except (_Failed, BadAnswer) as exc:
            EXTENSION_LATENCY.labels(key).observe(loop.time() - started)
            EXTENSION_CALLS.labels(key, extension.kind, "failed").inc()
            EXTENSION_FAILURES.labels(key, exc.reason).inc()
            breaker.failed()
            EXTENSION_CIRCUIT.labels(key).set(_STATE_VALUE[breaker.state])
            return None
        EXTENSION_LATENCY.labels(key).observe(loop.time() - started)
        EXTENSION_CALLS.labels(key, extension.kind, "ok").inc()
        if breaker.opened_at is not None or breaker.failures:
            breaker.succeeded()
            EXTENSION_CIRCUIT.labels(key).set(0)
        return result

    async def _post(self, extension: Extension, body: bytes, budget: float) -> bytes:
        """The answer's body of a signed POST, or `_Failed` with the reason."""
        msg_id = f"msg_{ids.uuid4().hex}"
        headers = [*signing.headers([extension.secret], msg_id, int(self._wall()), body), _IDENTITY]
        try:
            async with (
                asyncio.timeout(budget),  # the whole call, the answer's body included
                self._client.stream(
                    "POST", extension.url, content=body, headers=headers, timeout=httpx.Timeout(budget)
                ) as response,
            ):
                if not 200 <= response.status_code < 300:
                    raise _Failed("http_error")
                return await _read_capped(response)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise _Failed("timeout") from exc
        except (httpx.TransportError, OSError) as exc:
            raise _Failed("connection_error") from exc


_DECODERS: dict[str, int] = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}
"""zlib's window bits for each Content-Encoding an answer may come in although none was asked for."""


async def _read_capped(response: httpx.Response) -> bytes:
    """The answer's body, decoded, read a chunk at a time; `_Failed("too_large")` as soon as it passes
    MAX_ANSWER_BYTES, on the wire or decoded (so at most that much is ever held or decompressed), and
    `_Failed("malformed")` for an encoding it cannot decode (or a body that does not decode)."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    decoder = None
    if encoding not in ("", "identity"):
        bits = _DECODERS.get(encoding)
        if bits is None:
            raise _Failed("malformed")
        decoder = zlib.decompressobj(bits)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
        raise _Failed("too_large")
    parts: list[bytes] = []
    received = decoded = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > MAX_ANSWER_BYTES:
            raise _Failed("too_large")
        if decoder is not None:
            try:  # at most one byte past the cap comes out of this chunk, whatever it holds
                chunk = decoder.decompress(chunk, MAX_ANSWER_BYTES - decoded + 1)
            except zlib.error as exc:
                raise _Failed("malformed") from exc
        decoded += len(chunk)
        if decoded > MAX_ANSWER_BYTES:
            raise _Failed("too_large")
        parts.append(chunk)
    return b"".join(parts)


def _lines(quote: Quote) -> list[dict[str, Any]]:
    """Each quote line as an extension reads it: net (after discounts, without tax) and gross (= net for a
    tax-exclusive line)."""
    shown = []
    for index, item in enumerate(quote.items):
        after = item.line_subtotal - item.discount
        net = after - item.tax if item.prices_include_tax is True else after
        shown.append(
            {
                "line": index,
                "product_id": item.product_id,
                "seller_id": item.seller_id,
                "category_id": item.category_id,
                "quantity": item.quantity,
                "net": net,
                "gross": after,
            }
        )
    return shown


def _net(line: dict[str, Any]) -> Decimal:
    net: Decimal = line["net"]
    return net


def _payload(call: Call, quote: Quote, request: QuoteRequest, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """What an extension is sent: the matching lines only, and their sellers' shipments."""
    mine = [lines[index] for index in call.lines]
    sellers = {line["seller_id"] for line in mine}
    shipments: list[dict[str, Any]] = []
    for seller in dict.fromkeys(line["seller_id"] for line in mine):
        own = [line for line in mine if line["seller_id"] == seller]
        shipments.append(
            {
                "seller_id": seller,
                "lines": [line["line"] for line in own],
                "goods": sum((line["gross"] for line in own), Decimal(0)),
            }
        )
    if quote.shipments is not msgspec.UNSET:
        shown = {s.seller_id: s for s in quote.shipments if s.seller_id in sellers}
        for shipment in shipments:
            found = shown.get(shipment["seller_id"])
            if found is not None:
                shipment["selected"] = found.selected
                shipment["delivery_fee"] = found.delivery_fee
    return {
        "currency": quote.currency,
        "delivery_address": request.delivery_address,
        "lines": mine,
        "shipments": shipments,
    }
