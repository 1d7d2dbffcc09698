"""Authentication: logins, user and key creation, and resolving a request's principal.

Principals are cached in-process for `PRINCIPAL_TTL_SECONDS` so the hot path (a quote per
request) does not hit PostgreSQL for every call. A revoked API key is refused at once by the
process that revoked it and by every other process within that TTL; a user removed or
deactivated in the database is refused within the TTL.

While PostgreSQL cannot be asked (down, unreachable, no connection within
`PRINCIPAL_REFRESH_TIMEOUT_SECONDS`), a principal seen before is served from its last good
value, so warm quotes keep flowing through an outage; after a failed attempt the process
waits `PRINCIPAL_RETRY_SECONDS` before asking again (no request waits on a dead database in
between). A principal never seen before cannot be served (the error stands). A revocation
committed before the outage therefore takes effect at most `PRINCIPAL_RETRY_SECONDS` after
PostgreSQL answers again (docs/consistency.md).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

import asyncpg
import msgspec
import structlog
from msgspec import UNSET, UnsetType

from quote_service.auth import credentials, repository
from quote_service.auth.credentials import TokenClaims
from quote_service.auth.gate import HashingGate, default_slots
from quote_service.auth.last_admin import check_admins_remain
from quote_service.auth.passwords import check_password
from quote_service.auth.policy import check_seller_binding
from quote_service.auth.schemas import (
    ApiKey,
    ApiKeyCreated,
    Jwk,
    KeyWebhook,
    Principal,
    SessionsEnded,
    Token,
    User,
    UserCreate,
    UserUpdate,
)
from quote_service.auth.throttle import LoginThrottle
from quote_service.cache.local import local_cache
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.db.rows import found, row_as
from quote_service.errors import NotFound, Unauthorized
from quote_service.event_loop import running_loop
from quote_service.patch import sent_fields

if TYPE_CHECKING:  # at run time it comes from the app; importing it here would load prometheus_client
    # (background loops count failures) before `serve` sets PROMETHEUS_MULTIPROC_DIR
    from quote_service.auth.revocations import Revocations

log = structlog.get_logger("quote_service.auth")

PRINCIPAL_TTL_SECONDS = 10
MAX_KNOWN_API_KEYS = 10_000
PRINCIPAL_REFRESH_TIMEOUT_SECONDS = 1.0
"""A refresh of a known principal that takes longer is abandoned for its last good value."""
PRINCIPAL_RETRY_SECONDS = 1.0
"""After a failed refresh, known principals are served without asking for this long."""
LAST_GOOD_LIMIT = 100_000
"""Last good principals kept for outages (least recently refreshed dropped first)."""
LOGIN_QUEUE_PER_SLOT = 4


def user_from_row(row: asyncpg.Record) -> User:
    return row_as(User, row, seller_id=row["seller_id"] or UNSET)


def user_principal(row: asyncpg.Record) -> Principal:
    """The principal of a user's row."""
    return Principal(
        id=row["id"],
        name=row["username"],
        role=row["role"],
        kind="user",
        tier=row["tier"],
        segment=row["segment"],
        customer_group=row["customer_group"],
        seller_id=row["seller_id"],
        made_by=_seller_maker(row),
    )


def _seller_maker(row: asyncpg.Record) -> UUID | None:
    """Who made a seller account over HTTP (its `created_by`): the admin it writes as; None otherwise."""
    maker: UUID | None = row["created_by"] if row["role"] == "seller" else None
    return maker


def key_principal(row: asyncpg.Record) -> Principal:
    """The principal of an API key's row."""
    return Principal(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        kind="api_key",
        money_format=row["money_format"],
        customer_group=row["customer_group"],
        seller_id=row["seller_id"],
        made_by=_seller_maker(row),
        public_key=_public_key(row),
        webhook_url=row["webhook_url"],
    )


def _public_key(row: asyncpg.Record) -> Jwk | None:
    return None if row["public_key"] is None else msgspec.convert(row["public_key"], Jwk)


def api_key_from_row(row: asyncpg.Record) -> ApiKey:
    return row_as(
        ApiKey,
        row,
        seller_id=row["seller_id"] or UNSET,
        public_key=_public_key(row) or UNSET,
        webhook_url=row["webhook_url"] or UNSET,
    )


class AuthService:
    """Owns credentials checks; one per process."""

    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        *,
        throttle: LoginThrottle | None = None,
        revocations: Revocations | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.throttle = throttle
        self.revocations = revocations
        """Logged-out tokens (auth/revocations.py); None: logout is not available (tools, tests)."""
        slots = settings.login_concurrency or default_slots()
        self.hashing = HashingGate(slots, max_waiting=slots * LOGIN_QUEUE_PER_SLOT)
        self._principals = local_cache()
        self._loading: dict[str, asyncio.Task[Principal]] = {}
        self._last_good: OrderedDict[str, Principal] = OrderedDict()
        self._unreachable_until = 0.0
        # When each cached principal was loaded + the TTL (event-loop time), and the lean edge's
        # map from a raw X-API-Key header to its principal, valid until that same instant. A
        # last good value served during an outage is never put there.
        self._expires: dict[str, float] = {}
        self._by_api_key: dict[bytes, tuple[Principal, float]] = {}

    async def reset(self) -> None:
        """Forget every cached principal and API key, and the revocation list is loaded afresh,
        as at start (a started app the tests reuse)."""
        await self._principals.clear()
        self._last_good.clear()
        self._unreachable_until = 0.0
        self._expires.clear()
        self._by_api_key.clear()
        if self.revocations is not None:
            await self.revocations.reset()

    async def login(self, username: str, password: str, *, address: str = "unknown") -> Token:
        """Exchange a username and password for a bearer token (attempts limited, see auth/throttle.py)."""
        attempt = await self.throttle.begin(username, address) if self.throttle else None
        # The slot covers the lookup too: an attempt refused for want of one costs no query.
        async with self.hashing.slot(suspect=attempt is not None and attempt.suspect):
            async with self.pool.acquire() as conn:
                row = await repository.get_user_by_username(conn, username=username)
            password_hash = row["password_hash"] if row is not None and row["is_active"] else None
            verified = await asyncio.to_thread(credentials.verify_password, password_hash, password)
        if not verified:
            if self.throttle and attempt:
                await self.throttle.failed(attempt)
            raise Unauthorized("Invalid username or password")
        if self.throttle and attempt:
            await self.throttle.succeeded(attempt)
        assert row is not None
        token = credentials.issue_token(
            self.settings,
            user_id=row["id"],
            role=row["role"],
            tier=row["tier"],
            segment=row["segment"],
            now=utcnow(),
        )
        return Token(
            access_token=token,
            token_type="bearer",  # noqa: S106 - a token type, not a secret
            expires_in=self.settings.access_token_expire_minutes * 60,
            role=row["role"],
        )

    async def hash_new_password(self, data: UserCreate) -> str:
        """The argon2id hash of a new user's password; refuses weak passwords (auth/passwords.py)."""
        check_password(data.password, username=data.username)
        async with self.hashing.slot(suspect=False):
            return await asyncio.to_thread(credentials.hash_password, data.password)

    async def create_user(
        self,
        data: UserCreate,
        *,
        pool: asyncpg.Pool | None = None,
        created_by: UUID | None = None,
        password_hash: str | None = None,
    ) -> User:
        """Create a user with an argon2id password hash (`password_hash` when it was made already,
        for a change request: `data.password` is then not read).

        `pool` here and in the key writes below: an admin's audited pool (audit/admin.py).
        `created_by`: the person who asked for it (docs/authentication.md).
        """
        check_seller_binding(data.role, data.seller_id)
        if password_hash is None:
            password_hash = await self.hash_new_password(data)
        async with (pool or self.pool).acquire() as conn:
            row = await repository.insert_user(
                conn,
                username=data.username,
                password_hash=password_hash,
                role=data.role,
                tier=data.tier,
                segment=data.segment,
                customer_group=data.customer_group,
                created_by=created_by,
                seller_id=data.seller_id,
            )
        return user_from_row(row)

    async def update_user(
        self,
        user_id: UUID,
        data: UserUpdate,
        *,
        pool: asyncpg.Pool,
        after_commit: list[Callable[[], Awaitable[None]]] | None = None,
    ) -> User:
        """Change the fields sent (a 422 when none is); the user's next request sees them here at
        once, elsewhere within PRINCIPAL_TTL_SECONDS. Deactivating a user ends their sessions too;
        a change that would leave no active admin user is 409 LAST_ADMIN. `after_commit`: where a
        change request's replay, whose transaction commits later, leaves the announcement."""
        fields = sent_fields(data)
        if fields.get("is_active") is False:
            fields["sessions_ended_at"] = utcnow()
        async with pool.acquire() as conn, conn.transaction():
            current = await repository.get_user(conn, user_id=user_id)
            if current is None:
                raise NotFound("user not found")
            role = fields.get("role", current["role"])
            check_seller_binding(role, fields["seller_id"] if "seller_id" in fields else current["seller_id"])
            await check_admins_remain(conn, current, fields)
            row = await repository.update_user(conn, user_id=user_id, fields=fields)
        row = found(row, "user")
        await self._forget(f"u:{user_id}")
        if "sessions_ended_at" in fields:
            announce = functools.partial(self._sessions_ended, user_id, fields["sessions_ended_at"])
            if after_commit is None:
                await announce()
            else:
                after_commit.append(announce)
        return user_from_row(row)

    async def leaves_admins(self, user_id: UUID, data: UserUpdate) -> None:
        """409 LAST_ADMIN now when this PATCH would leave no active admin user (before it is
        asked for as a change request; applying it checks again, under lock)."""
        async with self.pool.acquire() as conn, conn.transaction():
            current = await repository.get_user(conn, user_id=user_id)
            if current is not None:
                await check_admins_remain(conn, current, sent_fields(data))

    async def end_sessions(self, user_id: UUID, *, pool: asyncpg.Pool) -> SessionsEnded:
        """Refuse every token of the user issued until now, on every process (docs/authentication.md)."""
        ended = utcnow()
        async with pool.acquire() as conn:
            row = await repository.update_user(conn, user_id=user_id, fields={"sessions_ended_at": ended})
        row = found(row, "user")
        await self._sessions_ended(user_id, ended)
        return SessionsEnded(user_id=user_id, sessions_ended_at=ended)

    async def _sessions_ended(self, user_id: UUID, at: datetime) -> None:
        if self.revocations is None:  # the app always has one; the command-line tools end no sessions
            raise RuntimeError("this AuthService was built without a revocation list")
        await self.revocations.sessions_ended(user_id, at)

    async def acting_for(self, principal: Principal) -> UUID:
        """The person `principal` acts for (docs/authentication.md): a user itself, a key its maker."""
        if principal.kind == "user":
            return principal.id
        async with self.pool.acquire() as conn:
            return await repository.person_of(conn, principal_id=principal.id)

    async def get_user(self, user_id: UUID) -> User:
        async with self.pool.acquire() as conn:
            row = await repository.get_user(conn, user_id=user_id)
        return user_from_row(found(row, "user"))

    async def create_api_key(
        self,
        *,
        name: str,
        role: str,
        created_by: UUID | None,
        money_format: str = "string",
        customer_group: str | None = None,
        pool: asyncpg.Pool | None = None,
        sealed: tuple[bytes, str] | None = None,
        seller_id: str | None = None,
        public_key: Jwk | None = None,
        webhook: KeyWebhook | None = None,
    ) -> ApiKeyCreated:
        """Create a key; the plaintext is returned here and never stored. `created_by`: the person
        it acts for. `sealed`: the hash and prefix of a key made when a change request was asked
        for (its author holds the plaintext; the answer's `key` is then empty). An agent key's
        `public_key` and `webhook` (its URL, checked, and the secret its events are signed with:
        docs/agents.md) are written with it, in one transaction."""
        check_seller_binding(role, seller_id)
        key: str | UnsetType = UNSET
        if sealed is None:
            key, key_hash, prefix = credentials.new_api_key()
        else:
            key_hash, prefix = sealed
        async with (pool or self.pool).acquire() as conn, conn.transaction():
            row = await repository.insert_api_key(
                conn,
                name=name,
                role=role,
                key_hash=key_hash,
                prefix=prefix,
                created_by=created_by,
                money_format=money_format,
                customer_group=customer_group,
                seller_id=seller_id,
                public_key=None if public_key is None else msgspec.to_builtins(public_key),
            )
            if webhook is not None:
                await webhook.subscribe(conn, key_id=row["id"], key_name=name)
        return ApiKeyCreated(
            id=row["id"],
            name=row["name"],
            role=row["role"],
            prefix=row["prefix"],
            money_format=row["money_format"],
            key=key,
            created_at=row["created_at"],
            customer_group=row["customer_group"],
            created_by=row["created_by"],
            seller_id=row["seller_id"] or UNSET,
            public_key=public_key or UNSET,
            webhook_url=UNSET if webhook is None else webhook.url,
            webhook_secret=UNSET if webhook is None else webhook.secret,
        )

    async def revoke_api_key(self, key_id: UUID, *, pool: asyncpg.Pool | None = None) -> ApiKey:
        async with (pool or self.pool).acquire() as conn:
            row = await repository.revoke_api_key(conn, key_id=key_id)
        row = found(row, "API key")
        await self._forget(_key_cache_key(bytes(row["key_hash"])))
        self._by_api_key.clear()
        return api_key_from_row(row)

    async def _forget(self, cache_key: str) -> None:
        """Drop a cached principal: the next request reads it again."""
        await self._principals.delete(cache_key)
        self._last_good.pop(cache_key, None)
        self._expires.pop(cache_key, None)

    async def logout(self, token: str) -> TokenClaims:
        """End the session of a valid token: refused from now on, on every process, after restarts."""
        if self.revocations is None:  # the app always has one; the command-line tools never log out
            raise RuntimeError("this AuthService was built without a revocation list")
        claims = credentials.decode_claims(self.settings, token)
        await self.revocations.revoke(claims)
        return claims

    async def principal_from_bearer(self, token: str) -> Principal:
        """The active user a valid bearer token names, unless that token was logged out."""
        claims = credentials.decode_claims(self.settings, token)
        if self.revocations is not None and self.revocations.is_revoked(claims):
            raise Unauthorized("Token has been revoked (logged out, or an admin ended its sessions); log in again")
        user_id = claims.user_id

        async def load() -> Principal:
            async with self.pool.acquire() as conn:
                row = await repository.get_user(conn, user_id=user_id)
            if row is None or not row["is_active"]:
                raise Unauthorized("Token names an unknown or inactive user")
            return user_principal(row)

        return await self._cached(f"u:{user_id}", load)

    async def principal_from_api_key(self, key: str) -> Principal:
        """The machine client an API key belongs to."""
        key_hash = credentials.hash_api_key(key)

        async def load() -> Principal:
            async with self.pool.acquire() as conn:
                row = await repository.get_active_api_key(conn, key_hash=key_hash)
            if row is None:
                raise Unauthorized("Unknown or revoked API key")
            return key_principal(row)

        return await self._cached(_key_cache_key(key_hash), load)

    def known_api_key(self, raw: bytes) -> Principal | None:
        """The principal of a raw X-API-Key header value, without hashing it or awaiting: only
        while the principal cache's entry for that key is fresh (never longer than the TTL, and
        forgotten at once when this process revokes a key). None sends the caller the long way."""
        entry = self._by_api_key.get(raw)
        if entry is None:
            return None
        if entry[1] <= running_loop().time():
            del self._by_api_key[raw]
            return None
        return entry[0]

    def learn_api_key(self, raw: bytes, principal: Principal) -> None:
        """Remember for `known_api_key` a key the normal path just authenticated, until its
        cache entry expires (nothing is kept when the entry's age is unknown)."""
        if principal.role == "seller":
            return  # the lean edge serves quotes and purchases, which a seller may not make (docs/sellers.md)
        try:
            key = raw.decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
            return
        expires = self._expires.get(_key_cache_key(credentials.hash_api_key(key)))
        if expires is None or expires <= running_loop().time():
            return
        if len(self._by_api_key) >= MAX_KNOWN_API_KEYS:
            self._by_api_key.clear()
        self._by_api_key[raw] = (principal, expires)

    async def _cached(self, cache_key: str, load: Callable[[], Awaitable[Principal]]) -> Principal:
        """From the cache, else loaded once: concurrent misses for one key share a single
        lookup (when the entry expires under load, 64 requests in flight make one query).
        While PostgreSQL cannot be asked, a known principal's last good value stands in.

        The shared lookup is a task of its own, which each waiter awaits through a shield: a
        waiter cancelled (a quote past its deadline) stops waiting, and the lookup goes on for
        the others (an order sharing it), who get its answer rather than a stray cancellation."""
        cached: Principal | None = await self._principals.get(cache_key)
        if cached is not None:
            return cached
        last_good = self._last_good.get(cache_key)
        if last_good is not None and time.monotonic() < self._unreachable_until:
            return last_good
        lookup = self._loading.get(cache_key)
        if lookup is None:
            lookup = running_loop().create_task(self._load_or_last_good(cache_key, load, last_good))
            self._loading[cache_key] = lookup
            lookup.add_done_callback(lambda done: self._lookup_done(cache_key, done))
        return await asyncio.shield(lookup)

    def _lookup_done(self, cache_key: str, lookup: asyncio.Task[Principal]) -> None:
        """A shared lookup ended: the next miss starts a new one."""
        if self._loading.get(cache_key) is lookup:
            del self._loading[cache_key]
        if not lookup.cancelled():
            lookup.exception()  # retrieved here: no "never retrieved" warning when every waiter left

    async def _load_or_last_good(
        self, cache_key: str, load: Callable[[], Awaitable[Principal]], last_good: Principal | None
    ) -> Principal:
        if last_good is None:
            principal = await load()
        else:
            try:
                async with asyncio.timeout(PRINCIPAL_REFRESH_TIMEOUT_SECONDS):
                    principal = await load()
            except Unauthorized:
                self._last_good.pop(cache_key, None)  # revoked, removed or deactivated: an answer
                raise
            except Exception as exc:
                # No answer from PostgreSQL (refused, timed out, connection lost, pool exhausted).
                self._unreachable_until = time.monotonic() + PRINCIPAL_RETRY_SECONDS
                log.warning("principal_served_from_last_good", error=type(exc).__name__)
                return last_good
        await self._principals.set(cache_key, principal, ttl=PRINCIPAL_TTL_SECONDS)
        if len(self._expires) >= MAX_KNOWN_API_KEYS:
            self._expires.clear()
        self._expires[cache_key] = running_loop().time() + PRINCIPAL_TTL_SECONDS
        self._last_good[cache_key] = principal
        self._last_good.move_to_end(cache_key)
        if len(self._last_good) > LAST_GOOD_LIMIT:
            self._last_good.popitem(last=False)
        return principal


def _key_cache_key(key_hash: bytes) -> str:
    return f"k:{key_hash.hex()}"
