"""A checkout session's live state and its updates' Idempotency-Keys, in Redis (docs/agents.md#cost).

An update is the hot path of a session: it must cost the quote of its basket and one Redis round trip
more. So an update never touches PostgreSQL: one script claims its key and reads the session (`claimed`),
the quote prices it, and the session goes back with the answer kept for the key in the quote's own Redis
call (`WriteBack`, a rider of quotes/store.py's group commit): the session and its answer are made of the
quote's JSON before that call is sent. Where the quote's call cannot carry it (a quote handed out again by
the identical-request cache, a cluster, no line priced) one script more writes them (`LiveClaim.keep`).

PostgreSQL keeps the durable record: the row written at create, complete and cancel
(with the state as it was then), which analytics and the order's key (complete stays on PostgreSQL,
under the order key: a Redis restart cannot complete a session twice) read.

Both keys of a session share the agent key's hash tag (one slot on a cluster):

- `qs:cs:{<principal>}:session:<id>`: the session as the service last wrote it (`Live`), until 24 h past
  its expiry. Lost (a Redis restart, an eviction) it is read again from PostgreSQL, as of its create or
  its last write there: the updates since are lost, nothing else.
- `qs:cs:{<principal>}:key:<Idempotency-Key>`: a key's claim while its request runs (`P` and the request's
  fingerprint, `PENDING_SECONDS`), then its first answer (`A`, the fingerprint, the answer) for 24 h. A
  keyed create, complete or cancel (on PostgreSQL) leaves its answer here too, so an update under the same
  key is refused as another request, as PostgreSQL would (and the other way round: `judge`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

import asyncpg
import msgspec

from quote_service.cache.redis import RedisClient, is_cluster
from quote_service.checkout_sessions.schemas import Protocol, Session, State, Status
from quote_service.db import idempotency
from quote_service.db.idempotency import Answer, Reply
from quote_service.errors import ServiceError
from quote_service.pricing.quote import Quote
from quote_service.quotes.store import Ride, lean_script

KEPT_SECONDS = 86_400
"""How long an update's first answer is replayed, and how long past its expiry a session's state stays."""
PENDING_SECONDS = 60
"""How long a claim outlives a request that died holding it: its retries answer 409 in progress meanwhile."""
_OPEN = b'"open"'
_PENDING = b"P"
_ANSWERED = b"A"
_FINGERPRINT = 32  # sha256

_CLAIM = """
local kept = redis.call('GET', KEYS[1])
if not kept then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return {kept or false, redis.call('GET', KEYS[2]) or false}
"""
"""KEYS: the key, the session. The key's claim or answer (none: claimed now) and the session."""
_KEEP = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if #KEYS > 1 then
  local stored = redis.call('GET', KEYS[2])
  local at = stored and string.find(stored, '"status":', 1, true)
  if ARGV[5] == '1' or not at or string.sub(stored, at + 9, at + 14) == '"open"' then
    redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
  end
end
return 1
"""
"""KEYS: the key, the session (if written). The key's answer and the session written at once; an update's
session (ARGV[5] '0') never over a completed or canceled one (a complete that finished while it priced)."""


class Live(msgspec.Struct, kw_only=True):
    """A session as its row has it (read as the row is: `live["status"]`)."""

    id: UUID
    protocol: Protocol
    status: Status
    currency: str
    quote_expires_at: datetime | None
    order_id: UUID | None
    expires_at: datetime
    created_at: datetime
    state: State

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)

    @classmethod
    def of(cls, row: asyncpg.Record) -> Live:
        """The session of its PostgreSQL row."""
        return msgspec.convert(dict(row), cls)

    def priced(self, state: State) -> Live:
        """The session holding `state` (and its quote's expiry)."""
        return msgspec.structs.replace(self, state=state, quote_expires_at=state.summary.quote_expires_at)


_LIVE = msgspec.json.Decoder(Live)
_ANSWER = msgspec.msgpack.Decoder(tuple[int, bytes, str])


def session_key(principal_id: UUID, session_id: UUID) -> str:
    return f"qs:cs:{{{principal_id}}}:session:{session_id}"


def idempotency_key(principal_id: UUID, key: str) -> str:
    return f"qs:cs:{{{principal_id}}}:key:{key}"


def _answered(fingerprint: bytes, answer: Answer) -> bytes:
    return _ANSWERED + fingerprint + msgspec.msgpack.encode((answer.status, answer.body, answer.content_type))


def judge(kept: bytes, fingerprint: bytes) -> None:
    """What a key's claim or answer in Redis makes of a request under it: 409 in progress, the first answer
    replayed, or 409/422 another request."""
    idempotency.same_request(kept[1 : 1 + _FINGERPRINT], fingerprint)
    if kept[:1] == _PENDING:
        raise idempotency.in_progress()
    status, body, content_type = _ANSWER.decode(kept[1 + _FINGERPRINT :])
    raise idempotency.Replayed(Answer(status, body, content_type))


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, int((moment + timedelta(seconds=KEPT_SECONDS) - now).total_seconds()))


def _ride(principal_id: UUID, key: str, fingerprint: bytes, answer: Answer, live: Live, now: datetime) -> Ride:
    """The key's answer and the session as now written (an update's: never over a finished session)."""
    return Ride(
        idempotency_key(principal_id, key),
        _answered(fingerprint, answer),
        KEPT_SECONDS,
        session_key(principal_id, live.id),
        msgspec.json.encode(live),
        _seconds_until(live.expires_at, now),
        _OPEN,
    )


class LiveClaim:
    """An update's key, claimed in Redis (`LiveSessions.claimed`): `keep` writes the session and the answer."""

    def __init__(self, owner: LiveSessions, principal_id: UUID, key: str, fingerprint: bytes, reply: Reply) -> None:
        self.owner = owner
        self.key = key
        self.principal_id = principal_id
        self.fingerprint = fingerprint
        self.reply = reply
        self.kept = False

    async def keep(self, session: Session, live: Live, now: datetime) -> None:
        """The session written back and the answer kept for the key: one round trip."""
        answer = self.reply.success(session)
        await self.owner.written(self.principal_id, self.key, self.fingerprint, answer, live, now, durable=False)
        self.kept = True

    def write_back(self, now: datetime, finish: Callable[[State], tuple[Session, Live]]) -> WriteBack:
        """The session and the answer `finish` makes of the priced state, to ride on the quote's own call."""
        return WriteBack(self, now, finish)


class WriteBack:
    """An update's session and answer written in its quote's own Redis call (quotes/store.py `Rider`).

    `settle` (set for each quote asked) makes the session's state of the quote's JSON as the store sends it,
    `finish` the session and its answer of that state; `session` and `state` are set once the call landed
    (None: it did not ride, and the update writes them itself: `LiveClaim.keep`). Landed, the answer is the
    key's even should the request fail after (its quote-log row not spooled: 503): the quote and the session
    are written, and a retry gets the answer that wrote them."""

    def __init__(self, claim: LiveClaim, now: datetime, finish: Callable[[State], tuple[Session, Live]]) -> None:
        self.claim = claim
        self.now = now
        self.finish = finish
        self.settle: Callable[[bytes, Quote | None], State] | None = None
        self.made: tuple[State, Session] | None = None
        self.state: State | None = None
        self.session: Session | None = None

    def ride(self, payload: bytes, quote: Quote | None) -> Ride:
        assert self.settle is not None
        claim = self.claim
        state = self.settle(payload, quote)
        session, live = self.finish(state)
        self.made = state, session
        answer = claim.reply.success(session)
        return _ride(claim.principal_id, claim.key, claim.fingerprint, answer, live, self.now)

    def landed(self) -> None:
        assert self.made is not None
        self.state, self.session = self.made
        self.claim.kept = True


class LiveSessions:
    """The live sessions of every agent key; one per process."""

    def __init__(self, redis: RedisClient) -> None:
        self.redis = redis
        self.claim_script = redis.register_script(_CLAIM)
        self.keep_script = redis.register_script(_KEEP)
        self.cluster = is_cluster(redis)

    @contextlib.asynccontextmanager
    async def claimed(
        self, principal_id: UUID, session_id: UUID, key: str, fingerprint: bytes, reply: Reply
    ) -> AsyncIterator[tuple[LiveClaim, Live | None]]:
        """The key claimed for this request and the session as last written (None: not in Redis), in one round
        trip; a key claimed or answered before is judged (`judge`). A definitive refusal is kept as the key's
        answer; any other end without an answer lets the key go."""
        claim = LiveClaim(self, principal_id, key, fingerprint, reply)
        keys = [idempotency_key(principal_id, key), session_key(principal_id, session_id)]
        args: list[Any] = [_PENDING + fingerprint, PENDING_SECONDS]
        # Sent as the quote store sends its group commit (a script run twice finds its own claim: 409 in
        # progress, as redis-py's own retry would); on a cluster by redis-py (both keys in one slot).
        claiming = (
            self.claim_script(keys=keys, args=args)
            if self.cluster
            else lean_script(self.redis, self.claim_script, keys, args)
        )
        kept, blob = await claiming
        if kept is not None:
            judge(kept, fingerprint)
        try:
            yield claim, None if blob is None else _LIVE.decode(blob)
        except ServiceError as refused:
            if idempotency.definitive(refused):
                await self.remember(principal_id, key, fingerprint, reply.refusal(refused))
                claim.kept = True
            raise
        finally:
            if not claim.kept:
                with contextlib.suppress(Exception):  # a claim left behind lapses in PENDING_SECONDS
                    await self.redis.delete(idempotency_key(principal_id, key))

    async def judged(self, principal_id: UUID, key: str, fingerprint: bytes) -> None:
        """A keyed write on PostgreSQL: an update's claim or answer under its key is judged as there."""
        kept = await self.redis.get(idempotency_key(principal_id, key))
        if kept is not None:
            judge(cast(bytes, kept), fingerprint)

    async def remember(self, principal_id: UUID, key: str, fingerprint: bytes, answer: Answer) -> None:
        """A key's answer (kept on PostgreSQL too for a create, complete or cancel) for 24 h."""
        await self.keep_script(
            keys=[idempotency_key(principal_id, key)], args=[_answered(fingerprint, answer), KEPT_SECONDS]
        )

    async def written(
        self,
        principal_id: UUID,
        key: str,
        fingerprint: bytes,
        answer: Answer,
        live: Live,
        now: datetime,
        *,
        durable: bool = True,
    ) -> None:
        """The session as now written and the answer kept for the key that wrote it, in one round trip;
        `durable`: as PostgreSQL has it now (else an update's, never written over a finished session)."""
        ride = _ride(principal_id, key, fingerprint, answer, live, now)
        args: list[bytes | int | str] = [ride.value, ride.seconds, ride.guarded_value, ride.guarded_seconds]
        args.append("1" if durable else "0")
        await self.keep_script(keys=[ride.key, ride.guarded], args=args)

    async def forget(self, principal_id: UUID, session_id: UUID) -> None:
        """Before a complete or cancel commits on PostgreSQL: a process that dies after its commit leaves no open
        session here for updates to go on with (they read the row, completed or canceled)."""
        await self.redis.delete(session_key(principal_id, session_id))

    async def get(self, principal_id: UUID, session_id: UUID) -> Live | None:
        blob = await self.redis.get(session_key(principal_id, session_id))
        return None if blob is None else _LIVE.decode(cast(bytes, blob))

    async def put(self, principal_id: UUID, live: Live, now: datetime) -> None:
        """The session as now written (after a create, a read that priced it again, a complete, a cancel)."""
        await self.redis.set(
            session_key(principal_id, live.id), msgspec.json.encode(live), ex=_seconds_until(live.expires_at, now)
        )
