"""Checkout sessions over the quote and the order (docs/agents.md): one model, two protocol bindings.

A session holds what the agent asked for and prices it with the quote path (QuoteService.quote, the
agent's key as the caller): the session adds no pricing of its own. Every write runs under its
Idempotency-Key (db/idempotency.py, scope `checkout_session`): the first answer is kept with the
write and every retry gets it again. A business outcome (an unknown item, out of stock, a quantity
rule, a rejected code, a declined allowance) is a message on a 200 answer, never an error.

Complete makes the order exactly as POST /orders {quote_id} makes it (orders/service.py
`place_order`, under the order key `checkout-session:<id>` of the agent's key), then marks the
session completed. A process that dies between the two leaves an order and an open session: the
retry finds the order by that key and only marks the session (`checkout_session.ordered`).
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import NamedTuple

import asyncpg
import msgspec

from quote_service import fault_points
from quote_service.auth.schemas import Principal
from quote_service.cache.config_store import ConfigStore
from quote_service.cache.products import ProductCache
from quote_service.cache.redis import RedisClient
from quote_service.checkout_sessions import repository
from quote_service.checkout_sessions.live import Live, LiveSessions, WriteBack
from quote_service.checkout_sessions.schemas import (
    Changes,
    Item,
    Message,
    Payment,
    Protocol,
    Session,
    State,
    Summary,
)
from quote_service.checkout_sessions.state import (
    OUT_OF_STOCK,
    blame,
    changed,
    code_index,
    declined,
    error,
    not_ready,
    quote_expired,
    ready,
    session_of,
)
from quote_service.checkout_sessions.summary import summarize
from quote_service.config import Settings
from quote_service.db import idempotency
from quote_service.db.pool import Connection, Pool
from quote_service.errors import Conflict, Gone, NotFound, ServiceError
from quote_service.flash_sales.purchases import Purchases
from quote_service.orders import repository as orders_repository
from quote_service.orders import service as orders
from quote_service.orders.schemas import OrderCreate
from quote_service.orders.terms import TermsRecorder
from quote_service.pricing.quote import STOCKED_SOURCES, Address, Quote, QuoteItemIn, QuoteRequest
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.quotes.service import QuoteService
from quote_service.quotes.store import QuoteStore
from quote_service.web.deps import actor_name

_QUOTE = msgspec.json.Decoder(Quote)
_PASSING = frozenset({"RATE_LIMITED", "OVERLOADED", "DEPENDENCY_UNAVAILABLE", "QUOTE_TIMEOUT"})
"""Refusals a retry may turn around: raised to the agent, never made into a message."""
ORDER_KEY = "checkout-session:{}"
"""The order's Idempotency-Key under the agent's key: one order a session, whoever retries."""


class Keyed(NamedTuple):
    """A keyed write's Idempotency-Key, its request's fingerprint and how its answers are written."""

    key: str
    fingerprint: bytes
    reply: idempotency.Reply


def fingerprint(operation: str, session_id: uuid.UUID | None, body: bytes) -> bytes:
    """A keyed request's fingerprint: another operation, session or body under one key is another request."""
    return hashlib.sha256(f"{operation}:{session_id}:".encode() + body).digest()


class CheckoutSessions:
    """The sessions of every agent key; one per process."""

    def __init__(
        self,
        *,
        pool: Pool,
        redis: RedisClient,
        quotes: QuoteService,
        quote_store: QuoteStore,
        purchases: Purchases,
        product_cache: ProductCache,
        config_store: ConfigStore[ConfigSnapshot],
        settings: Settings,
        terms: TermsRecorder,
        clock: Callable[[], datetime],
    ) -> None:
        self.pool = pool
        self.redis = redis
        self.quotes = quotes
        self.quote_store = quote_store
        self.purchases = purchases
        self.product_cache = product_cache
        self.config_store = config_store
        self.settings = settings
        self.terms = terms
        self.clock = clock
        self.live = LiveSessions(redis)

    async def create(
        self,
        principal: Principal,
        protocol: Protocol,
        currency: str,
        changes: Changes,
        keyed: Keyed,
    ) -> Session:
        """A new session of `changes`, priced."""
        now = self.clock()
        session_id = uuid.uuid4()
        async with self._claimed(principal, keyed) as (conn, claim):
            state = await self._priced(principal, session_id, changed(State(), changes), currency, now)
            inserted = partial(
                repository.insert,
                conn,
                session_id=session_id,
                principal_id=principal.id,
                agent_name=principal.name,
                protocol=protocol,
                currency=currency,
                state=state,
                now=now,
                expires_at=now + timedelta(seconds=self.settings.checkout_session_ttl),
            )
            return await self._kept(conn, claim, keyed, inserted, state)

    async def get(self, principal: Principal, session_id: uuid.UUID) -> Session:
        """The session; priced again first when its quote has expired."""
        now = self.clock()
        live = await self._open(principal, session_id, now, writing=False)
        if live.status != "open" or not quote_expired(live, now):
            return session_of(live, live.state)
        state, shown = await self._repriced(principal, live, live.state, now)
        live = live.priced(state)
        await self.live.put(principal.id, live, now)
        return session_of(live, state, shown)

    async def update(
        self,
        principal: Principal,
        session_id: uuid.UUID,
        changes: Changes,
        keyed: Keyed,
        *,
        replace: bool = False,
    ) -> Session:
        """The session with `changes`, priced again; `replace`: what `changes` leaves out is cleared (UCP's PUT).

        The quote and one Redis round trip more (live.py): the key claimed and the session read in one script,
        written back with the kept answer in the quote's own call (`WriteBack`); PostgreSQL only when Redis has
        lost the session."""
        now = self.clock()
        key, print_, reply = keyed
        async with self.live.claimed(principal.id, session_id, key, print_, reply) as (claim, live):
            opened = _checked_open(live or await self._stored(principal, session_id), session_id, now, writing=True)
            before = opened.state
            state = changed(State(summary=before.summary) if replace else before, changes)
            total = state.summary.total_amount

            def finish(priced: State) -> tuple[Session, Live]:
                written = opened.priced(priced)
                return session_of(written, priced, _price_change(total, priced, opened.currency)), written

            write_back = claim.write_back(now, finish)
            state = await self._priced(principal, session_id, state, opened.currency, now, write_back)
            if write_back.session is not None:  # written with the quote
                return write_back.session
            session, written = finish(state)
            await claim.keep(session, written, now)
            return session

    async def cancel(self, principal: Principal, session_id: uuid.UUID, keyed: Keyed) -> Session:
        now = self.clock()
        async with self._claimed(principal, keyed) as (conn, claim):
            state = (await self._open(principal, session_id, now, writing=True)).state
            canceled = partial(
                repository.finish, conn, session_id=session_id, status="canceled", state=state, order_id=None, now=now
            )
            await self.live.forget(principal.id, session_id)
            return await self._kept(conn, claim, keyed, canceled, state)

    async def complete(
        self,
        principal: Principal,
        session_id: uuid.UUID,
        payment: Payment,
        keyed: Keyed,
    ) -> Session:
        """The order of the session's quote, or the session not completed with the reason as a message."""
        now = self.clock()
        async with self._claimed(principal, keyed) as (conn, claim):
            made = await orders_repository.get_order_by_key(
                conn, principal_id=principal.id, idempotency_key=ORDER_KEY.format(session_id)
            )
            row = await self._open(principal, session_id, now, writing=True)
            state = row.state
            if made is None:
                state, shown = await self._checked(principal, row, state, payment, now)
                if shown is None:  # it can complete: the order, or why not (as messages)
                    ordered = await self._order(principal, session_id, state, now)
                    if isinstance(ordered, list):
                        state, shown = msgspec.structs.replace(state, messages=ordered), []
                if shown is not None:  # not completed
                    saved = partial(repository.save, conn, session_id=session_id, state=state, now=now)
                    return await self._kept(conn, claim, keyed, saved, state, shown)
                await fault_points.hit("checkout_session.ordered")
                assert isinstance(ordered, uuid.UUID)
                order_id = ordered
            else:
                order_id = made["id"]
            state = msgspec.structs.replace(
                state, payment_reference=hashlib.sha256(payment.token.encode()).hexdigest()[:16]
            )
            finished = partial(
                repository.finish,
                conn,
                session_id=session_id,
                status="completed",
                state=state,
                order_id=order_id,
                now=now,
            )
            await self.live.forget(principal.id, session_id)
            return await self._kept(conn, claim, keyed, finished, state)

    # -- steps ------------------------------------------------------------------------------------

    async def _open(self, principal: Principal, session_id: uuid.UUID, now: datetime, *, writing: bool) -> Live:
        """The agent's session as last written (Redis; PostgreSQL when Redis lost it), checked (`_checked_open`)."""
        live = await self.live.get(principal.id, session_id)
        return _checked_open(live or await self._stored(principal, session_id), session_id, now, writing=writing)

    async def _stored(self, principal: Principal, session_id: uuid.UUID) -> Live | None:
        """The session's PostgreSQL row (only to its own agent key)."""
        async with self.pool.acquire() as conn:
            row = await repository.get(conn, session_id=session_id, principal_id=principal.id)
        return None if row is None else Live.of(row)

    async def _kept(
        self,
        conn: Connection,
        claim: idempotency.Claim,
        keyed: Keyed,
        write: Callable[[], Awaitable[asyncpg.Record]],
        state: State,
        shown: list[Message] | None = None,
    ) -> Session:
        """`write` the session and keep the answer for its key, in one transaction; then the session and the
        answer in Redis (live.py), where updates read them."""
        async with conn.transaction():
            row = await write()
            session = session_of(row, state, shown)
            await claim.keep(session)
        answer = keyed.reply.success(session)
        await self.live.written(row["principal_id"], keyed.key, keyed.fingerprint, answer, Live.of(row), self.clock())
        return session

    @contextlib.asynccontextmanager
    async def _claimed(self, principal: Principal, keyed: Keyed) -> AsyncIterator[tuple[Connection, idempotency.Claim]]:
        """A pooled connection holding the request's Idempotency-Key (db/idempotency.py `claimed`), judged
        against an update's claim or answer in Redis under the same key; a definitive refusal kept there too."""
        key, print_, reply = keyed
        async with (
            self.pool.acquire() as conn,
            idempotency.claimed(
                conn, scope="checkout_session", principal_id=principal.id, key=key, fingerprint=print_, reply=reply
            ) as claim,
        ):
            await self.live.judged(principal.id, key, print_)
            try:
                yield conn, claim
            except ServiceError as refused:
                if idempotency.definitive(refused) and refused.code != "IDEMPOTENCY_CONFLICT":
                    await self.live.remember(principal.id, key, print_, reply.refusal(refused))
                raise

    async def _repriced(
        self, principal: Principal, row: Live, state: State, now: datetime
    ) -> tuple[State, list[Message]]:
        """`state` priced again; a message when its total moved from the last quote's."""
        before = state.summary.total_amount
        state = await self._priced(principal, row["id"], state, row["currency"], now)
        return state, _price_change(before, state, row["currency"])

    async def _checked(
        self, principal: Principal, row: Live, state: State, payment: Payment, now: datetime
    ) -> tuple[State, list[Message] | None]:
        """The state to complete (priced again when its quote expired), and why it cannot complete now as
        the messages of this answer (None: it can)."""
        if quote_expired(row, now):
            state, shown = await self._repriced(principal, row, state, now)
            if shown:
                total = state.summary.total_amount
                expired = error("invalid", "$.totals", f"quote_expired: the total is now {total}; complete again")
                return state, [*shown, expired]
        if not ready(state):
            return state, not_ready(state)
        refusal = declined(payment.allowance, state.summary.totals.total, row["currency"], now)
        if refusal is not None:
            return state, [error("payment_declined", "$.payment_data", refusal)]
        return state, None

    async def _order(
        self, principal: Principal, session_id: uuid.UUID, state: State, now: datetime
    ) -> uuid.UUID | list[Message]:
        """The order of the session's quote, as POST /orders makes it; or why not, as messages."""
        quote_id = state.summary.quote_id
        assert quote_id is not None
        try:
            order, _ = await orders.place_order(
                self.pool,
                self.redis,
                self.quote_store,
                self.purchases,
                OrderCreate(quote_id=quote_id),
                principal=principal,
                actor=actor_name(principal),
                idempotency_key=ORDER_KEY.format(session_id),
                now=now,
                commission_tax_rate=self.settings.commission_tax_rate,
                terms=self.terms,
                checkout_session_id=str(session_id),
            )
        except ServiceError as refused:
            if refused.status_code >= 500 or refused.code in _PASSING:
                raise
            code = "out_of_stock" if refused.code in OUT_OF_STOCK else "invalid"
            return [*state.messages, error(code, "$.line_items", f"{refused.code}: {refused.message}")]
        # As POST /orders does after an order: stock taken may have repriced products; a coupon used up.
        await self.product_cache.invalidate(
            {line.product_id for line in order.items if line.price_source in STOCKED_SOURCES}
        )
        if orders.may_use_up_coupons(order, self.config_store.snapshot.coupons):
            await self.config_store.follow("orders")
        return order.id

    async def _priced(
        self,
        principal: Principal,
        session_id: uuid.UUID,
        state: State,
        currency: str,
        now: datetime,
        write_back: WriteBack | None = None,
    ) -> State:
        """`state` priced by the quote path: a line, code or choice the quote refuses is left out with a
        message naming it, and the rest is priced. `write_back`: rides on the quote's Redis call (live.py)."""
        messages: list[Message] = []
        keep = list(enumerate(state.items))
        shipping = dict(state.shipping)
        codes = list(state.codes)
        while keep:
            request = self._request(session_id, state, keep, shipping, codes, currency)
            settle = partial(_settled, state, keep, shipping, messages, now)
            if write_back is not None:
                write_back.settle = settle
            try:
                priced = await self.quotes.quote(request, principal, rider=write_back)
            except ServiceError as refused:
                if refused.status_code >= 500 or refused.code in _PASSING:
                    raise
                if not blame(refused, keep, shipping, codes, state.codes, messages):
                    messages.append(error("invalid", "$", f"{refused.code}: {refused.message}"))
                    break
                continue
            if write_back is not None and write_back.state is not None:  # settled as it was sent
                return write_back.state
            return settle(priced.json, None)
        if not state.items:
            messages.append(error("missing", "$.line_items", "the session has no items"))
        return msgspec.structs.replace(state, summary=Summary(), messages=messages)

    def _request(
        self,
        session_id: uuid.UUID,
        state: State,
        keep: list[tuple[int, Item]],
        shipping: dict[str, str],
        codes: list[str],
        currency: str,
    ) -> QuoteRequest:
        email = (state.buyer or {}).get("email")
        customer = email if isinstance(email, str) and 0 < len(email) <= 64 else str(session_id)
        return QuoteRequest(
            customer_id=customer,
            items=[self._item(item) for _, item in keep],
            delivery_address=state.address or Address(city="-", country=self.settings.checkout_default_country),
            currency=currency,
            coupon_codes=codes,
            shipping=shipping or None,
            channel="agent",
        )

    def _item(self, item: Item) -> QuoteItemIn:
        """An offer id names that offer (in any spelling of its UUID); any other id a product (its best landed
        offer). An id written as the service writes ids (lowercase, hyphenated) is looked up as it is; any
        other spelling is read as a UUID first (a UUID parsed a line cost an update ~2 µs a line)."""
        sent = item.id
        if _canonical(sent):
            if self.quotes.offer_named(sent) is not None:
                return QuoteItemIn(offer_id=sent, quantity=item.quantity)
        else:
            try:
                offer = self.quotes.offer(uuid.UUID(sent))
            except ValueError:
                offer = None
            if offer is not None:
                return QuoteItemIn(offer_id=str(offer.id), quantity=item.quantity)
        return QuoteItemIn(product_id=sent, quantity=item.quantity)


def _canonical(sent: str) -> bool:
    """Whether `sent` is spelled as `str(UUID(sent))` would spell it, were it a UUID."""
    return len(sent) == 36 and sent[8] == sent[13] == sent[18] == sent[23] == "-" and sent == sent.lower()


def _settled(
    state: State,
    keep: list[tuple[int, Item]],
    shipping: dict[str, str],
    messages: list[Message],
    now: datetime,
    payload: bytes,
    quote: Quote | None,
) -> State:
    """`state` holding the quote of `payload` (its JSON; `quote`: the quote it encodes, where the store had
    it: not decoded again) for the lines `keep`, `messages` and its codes' rejections among the messages."""
    summary = summarize(_QUOTE.decode(payload) if quote is None else quote, keep, shipping, now)
    rejected = [
        error("invalid", f"$.discounts.codes[{code_index(state.codes, r.code)}]", f"{r.code}: {r.reason}")
        for r in summary.rejected
    ]
    return msgspec.structs.replace(state, summary=summary, messages=[*messages, *rejected])


def _price_change(before: str | None, state: State, currency: str) -> list[Message]:
    """A message when the total of `state` moved from `before` (the last quote's)."""
    after = state.summary.total_amount
    if before is None or after is None or Decimal(before) == Decimal(after):
        return []
    change = f"price_changed: the total is now {after} {currency} (was {before})"
    return [Message(type="info", code="price_changed", param="$.totals", content=change)]


def _checked_open(live: Live | None, session_id: uuid.UUID, now: datetime, *, writing: bool) -> Live:
    """The agent's session (404 for another's or none); a write needs it open and unexpired."""
    if live is None:
        raise NotFound(f"checkout session {session_id} not found")
    if live.status == "open" and live.expires_at <= now:
        expired_at = live.expires_at.isoformat()
        raise Gone(f"checkout session {session_id} expired at {expired_at}", code="SESSION_EXPIRED")
    if not writing:
        return live
    if live.status == "completed":
        raise Conflict(f"checkout session {session_id} is completed", code="SESSION_COMPLETED")
    if live.status == "canceled":
        raise Conflict(f"checkout session {session_id} was canceled", code="SESSION_CANCELED")
    return live
