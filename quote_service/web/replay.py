"""A keyed write's answer, written once and sent again byte for byte (docs/errors.md#idempotency-keys).

A route that takes an `Idempotency-Key` builds a `first_answer` for the request and hands it to its
service as `reply` (db/idempotency.py `Reply`). The service's `claimed(..., reply=reply)` lets it
write the answer for the write's result (`Claim.keep`, in the write's transaction) and for a
definitive refusal; the route then sends what was written and kept (`response`), so the first answer
and every replay are the same bytes by construction. A retry whose key has a kept answer is sent it
by the `Replayed` exception handler (web/errors.py), with `Idempotent-Replayed: true`.

Money is written as the first request asked (X-Money-Format or the API key's `money_format`): a
replay is those bytes, whatever format the retry asks for.

    @post("/{order_id:uuid}/payments")
    async def pay(self, ..., idempotency_key: IdempotencyKey, request: AuthedRequest) -> Response[Envelope[Payment]]:
        check_idempotency_key(idempotency_key)
        reply = first_answer(request, "Payment recorded", status=201)
        made, replayed = await service.pay(..., key=idempotency_key, reply=reply)
        if replayed:  # the key's work is on record without a kept answer: as it is now
            return answered_again(ok(made, "Payment already recorded with this Idempotency-Key"), status=201)
        return reply.response()

    # service.pay: the key held, the answer kept in the payment's transaction
    async with pool.acquire() as conn, idempotency.claimed(
        conn, scope="payment", principal_id=principal.id, key=key, fingerprint=fingerprint, reply=reply
    ) as claim:
        async with conn.transaction():
            made = ...  # the write
            await claim.keep(made)

(a new scope is a name added to `idempotency.Scope`; no migration).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.enums import MediaType
from litestar.serialization import default_serializer

from quote_service.db.idempotency import JSON, Answer
from quote_service.errors import ServiceError
from quote_service.web.envelope import Envelope
from quote_service.web.errors import REPLAYED_HEADERS, error_envelope
from quote_service.web.money_format import NUMBERS, MoneyResponse, wants_numbers

_STRINGS = msgspec.json.Encoder(enc_hook=default_serializer)
"""Litestar's encoder for JSON answers (money as strings)."""


class FirstAnswer:
    """The answers of one keyed request: its success envelope (`message`, or the message for the result,
    `status`) and its refusals, written as the route sends them; the success written last is the one
    `response` sends."""

    def __init__(self, message: str | Callable[[Any], str], *, status: int, numbers: bool) -> None:
        self.message = message
        self.status = status
        self.numbers = numbers
        self.answer: Answer | None = None

    def success(self, result: Any) -> Answer:
        encoder = NUMBERS if self.numbers else _STRINGS
        message = self.message if isinstance(self.message, str) else self.message(result)
        self.answer = Answer(self.status, encoder.encode(Envelope(message=message, data=result)), JSON)
        return self.answer

    def refusal(self, error: ServiceError) -> Answer:
        return Answer(
            error.status_code, _STRINGS.encode(error_envelope(error.code, error.message, error.details)), JSON
        )

    def written(self) -> Answer:
        """The answer written for the write that committed (as kept for its key)."""
        assert self.answer is not None, "the service did not write its answer"
        return self.answer

    def response(self) -> Response[Any]:
        """`written` as the route's response (the route declares it `Response[Envelope[...]]`, what the bytes
        hold, for its OpenAPI schema)."""
        answer = self.written()
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)


def first_answer(request: Request[Any, Any, Any], message: str | Callable[[Any], str], *, status: int) -> FirstAnswer:
    """The answers of a keyed request to this route, money as the request asks."""
    return FirstAnswer(message, status=status, numbers=wants_numbers(request.scope))


def answered_again(content: Any, *, status: int) -> MoneyResponse:
    """A key whose work is on record without a kept answer (made before answers were kept, or kept past
    IDEMPOTENCY_RETENTION_DAYS): that record as it is now, marked as a replay."""
    return MoneyResponse(content, status_code=status, media_type=MediaType.JSON, headers=REPLAYED_HEADERS)


def answered(content: Any, *, status: int) -> MoneyResponse:
    """The answer of a write that took no key (nothing kept), beside a keyed route's `response`."""
    return MoneyResponse(content, status_code=status, media_type=MediaType.JSON)
