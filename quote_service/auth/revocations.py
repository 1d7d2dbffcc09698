"""Ended sessions: tokens refused after logout, checked on every bearer request without I/O.

PostgreSQL (`revoked_tokens`, keyed by the token's `jti`) is the truth: a logout commits its
row before it answers, so a revocation survives any restart of any process. Each process keeps
the unexpired revoked jtis in memory, loaded before it serves, so the check on the request path
is one dictionary lookup (API keys never reach it: they are revoked by DELETE /api-keys/{id}).

How a logout reaches every process:

1. the process that handled it adds the jti before answering: the next request there is refused;
2. it publishes the jti on `qs:{auth}:revoked`; every other process adds it on hearing it
   (milliseconds);
3. every process also reads the rows revoked since its last look every `POLL_SECONDS`, and
   whenever its subscription is (re)established. Rows are stamped at insert and visible at
   commit, so each look re-reads `OVERLAP_SECONDS` before the previous one (a logout's insert
   is one autocommit statement, bounded by DB_STATEMENT_TIMEOUT, well within the overlap).

Whatever Redis does, a token is therefore refused everywhere within about `POLL_SECONDS` of
its logout. Entries whose token has expired are dropped from memory at each look (the token is
refused for its `exp` anyway), and their rows are deleted `CLEANUP_AFTER` later by whichever
process looks (idempotent).

An admin ending every session of a user (or deactivating the user) works the same way with one
entry per user instead of per token: `users.sessions_ended_at`, written by the route (so the
audit log has it), then `sessions_ended` here; every token of that user issued at or before that
moment (its `iat`, whole seconds) is refused. The message on the channel is
`<sessions_ended_at> user:<id>`, and each look reads the users updated since the previous one.
An entry is forgotten once every token it refuses has expired (ACCESS_TOKEN_EXPIRE_MINUTES later).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from uuid import UUID

import structlog
from redis.exceptions import RedisError

from quote_service.auth import repository
from quote_service.auth.credentials import TokenClaims
from quote_service.background import BackgroundLoop
from quote_service.cache.channel import ChannelFollower
from quote_service.cache.redis import RedisClient
from quote_service.db.pool import Pool

log = structlog.get_logger("quote_service.auth.revocations")

CHANNEL = "qs:{auth}:revoked"
POLL_SECONDS = 1.0
OVERLAP_SECONDS = 30.0
CLEANUP_AFTER = timedelta(hours=1)
CLEANUP_EVERY_POLLS = 300
_USER = "user:"
"""How a message on the channel names a user whose sessions ended (a token's jti is hex)."""


class Revocations(BackgroundLoop):
    """This process's copy of the revocation list, and the loop that keeps it current."""

    task_name = "token-revocations"
    failure_event = "token_revocations_look_failed"

    def __init__(
        self, pool: Pool, redis: RedisClient, *, interval: float = POLL_SECONDS, token_lifetime: float = 3600.0
    ) -> None:
        self.interval = interval
        self._pool = pool
        self._redis = redis
        self._revoked: dict[str, float] = {}
        """jti → the token's expiry (Unix seconds)."""
        self._ended: dict[UUID, float] = {}
        """user id → when their sessions ended (Unix seconds): their tokens issued until then are refused."""
        self._token_lifetime = token_lifetime
        """ACCESS_TOKEN_EXPIRE_MINUTES in seconds: an end older than that outlives every token it ended."""
        self._since: datetime | None = None
        """PostgreSQL's clock when the last complete look began (None: nothing loaded yet)."""
        self._looks = 0
        self._follower = ChannelFollower(
            redis, CHANNEL, self._heard, name="token-revocations-channel", on_subscribed=self.look
        )

    def __len__(self) -> int:
        return len(self._revoked)

    def is_revoked(self, claims: TokenClaims) -> bool:
        """Whether this token was logged out, or issued before its user's sessions were ended (no
        I/O: the request path calls it)."""
        if claims.jti in self._revoked:
            return True
        ended = self._ended.get(claims.user_id)
        return ended is not None and claims.issued_at <= ended

    async def open(self) -> None:
        """Load every unexpired revocation, then follow new ones (channel and poll)."""
        await self.look()
        self.start()
        self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()
        await super().stop()

    async def revoke(self, claims: TokenClaims) -> None:
        """End the session of the token `claims` describe: durable first, then known everywhere."""
        async with self._pool.acquire() as conn:
            await repository.revoke_token(conn, jti=claims.jti, user_id=claims.user_id, expires_at=claims.expires_at)
        expires = claims.expires_at.timestamp()
        self._revoked[claims.jti] = expires
        try:
            await self._redis.publish(CHANNEL, f"{expires:.0f} {claims.jti}")
        except (RedisError, OSError) as exc:  # the other processes' next look finds the row
            log.warning("token_revocation_not_published", error=repr(exc))

    async def sessions_ended(self, user_id: UUID, at: datetime) -> None:
        """Refuse the user's tokens issued until `at`, here at once and on the other processes
        (`users.sessions_ended_at`, which the caller committed, is the truth they also poll)."""
        self._ended[user_id] = at.timestamp()
        try:
            await self._redis.publish(CHANNEL, f"{at.timestamp():.6f} {_USER}{user_id}")
        except (RedisError, OSError) as exc:  # the other processes' next look finds the row
            log.warning("sessions_end_not_published", error=repr(exc))

    async def run_pass(self) -> None:
        await self.look()

    async def look(self) -> None:
        """Add what was revoked since the last look (everything unexpired, the first time)."""
        since = None if self._since is None else self._since - timedelta(seconds=OVERLAP_SECONDS)
        async with self._pool.acquire() as conn:
            now = await repository.database_now(conn)
            rows = await repository.revoked_tokens(conn, since=since)
            lifetime = timedelta(seconds=self._token_lifetime)
            ended = await repository.ended_sessions(conn, changed_since=since, ended_after=now - lifetime)
            self._looks += 1
            if self._looks % CLEANUP_EVERY_POLLS == 0:
                await repository.delete_expired_revocations(conn, before=now - CLEANUP_AFTER)
        for row in rows:
            self._revoked[row["jti"]] = row["expires_at"].timestamp()
        for row in ended:
            self._ended[row["id"]] = row["sessions_ended_at"].timestamp()
        self._since = now
        self._forget_expired()

    async def _heard(self, data: bytes) -> None:
        moment, _, jti = data.decode(errors="replace").partition(" ")
        try:
            if jti.startswith(_USER):
                self._ended[UUID(jti.removeprefix(_USER))] = float(moment)
            else:
                self._revoked[jti] = float(moment)
        except ValueError:
            log.warning("token_revocation_message_unreadable", message=data[:200])

    async def reset(self) -> None:
        """Load the list afresh, as at start (a started app the tests reuse)."""
        self._revoked.clear()
        self._ended.clear()
        self._since = None
        await self.look()

    def _forget_expired(self) -> None:
        now = time.time()
        expired = [jti for jti, expires in self._revoked.items() if expires <= now]
        for jti in expired:
            del self._revoked[jti]
        outlived = [user for user, ended in self._ended.items() if ended + self._token_lifetime <= now]
        for user in outlived:
            del self._ended[user]
