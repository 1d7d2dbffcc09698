"""Auth payloads: tokens, users, API keys, and the authenticated principal."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.structs import Frozen, Strict

Role = Literal["admin", "user", "service", "seller", "agent"]
"""Every role a caller can hold; `agent` only an API key (docs/agents.md)."""
UserRole = Literal["admin", "user", "service", "seller"]
"""The roles a user (a login) can hold."""
MoneyFormat = Literal["string", "number"]
"""How money and decimals are written in responses: "51.00" (string) or 51.00 (number)."""
Username = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@+-]+\Z")]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
SellerId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="A seller account's seller.")]


if TYPE_CHECKING:
    from quote_service.db.pool import Connection


class KeyWebhook(Protocol):
    """An agent key's webhook (docs/agents.md#order-events): its URL, the secret its events are signed
    with, and the write that subscribes it, made in the key's own transaction (agents/keys.py)."""

    @property
    def url(self) -> str: ...

    @property
    def secret(self) -> str: ...

    async def subscribe(self, conn: Connection, *, key_id: UUID, key_name: str) -> None: ...


class Jwk(Frozen, omit_defaults=True):
    """An agent's public key as a JWK (RFC 7517): Ed25519 (`kty: OKP, crv: Ed25519, x`) or ES256
    (`kty: EC, crv: P-256, x, y`), named by `kid` (RFC 9421's `keyid`). Checked by agents/keys.py."""

    kty: Literal["OKP", "EC"]
    crv: Literal["Ed25519", "P-256"]
    x: str
    y: str | None = None
    kid: str
    alg: Literal["EdDSA", "ES256"] | None = None


class Principal(Frozen):
    """Who is calling: a user (bearer token) or a machine client (API key)."""

    id: UUID
    name: str
    role: Role
    kind: Literal["user", "api_key"]
    tier: str | None = None
    segment: str | None = None
    customer_group: str | None = None
    """The customer group price lists see: a user's account's, or what its API key states."""
    money_format: MoneyFormat = "string"
    """The caller's default for responses (an API key's `money_format`); X-Money-Format overrides it."""
    seller_id: str | None = None
    """The seller a `seller` account acts for (docs/sellers.md); None for every other role."""
    made_by: UUID | None = None
    """For a `seller` account an admin made over HTTP, that admin (the person its `created_by` names):
    it writes as them in approvals (docs/governance.md#admins-are-made-by-two). None: made on the
    command line, or not a seller."""
    public_key: Jwk | None = None
    """An `agent` key's public key: every request it makes must be signed with it (docs/agents.md);
    None: the key alone authenticates."""
    webhook_url: str | None = None
    """Where an `agent` key's order events go (docs/agents.md#order-events); None: nowhere."""

    @property
    def key_id(self) -> UUID | None:
        """The API key's id (None for a user)."""
        return self.id if self.kind == "api_key" else None


class TokenRequest(Strict):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class Token(Frozen):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int
    role: Role


class UserCreate(Strict):
    username: Username
    password: Password
    role: UserRole
    tier: Label | None = None
    segment: Label | None = None
    customer_group: Label | None = None
    """Price lists for this group apply to the user's quotes (only an admin sets it)."""
    seller_id: SellerId | None = None
    """The seller a `seller` user acts for: required with that role, refused with any other."""


class UserUpdate(Strict):
    """PATCH /users/{id}: the fields sent change (`null` clears one); making or unmaking an admin
    (its role, or deactivating one) may need approval (docs/governance.md)."""

    role: UserRole | UnsetType = UNSET
    tier: Label | UnsetType | None = UNSET
    segment: Label | UnsetType | None = UNSET
    customer_group: Label | UnsetType | None = UNSET
    seller_id: SellerId | UnsetType | None = UNSET
    """The seller of a `seller` user (required with that role, null for any other)."""
    is_active: bool | UnsetType = UNSET
    """false: the user can no longer log in and every session of theirs ends; true: they may
    log in again (their old tokens stay refused)."""


class User(Frozen):
    id: UUID
    username: str
    role: Role
    tier: str | None
    segment: str | None
    is_active: bool
    created_at: datetime
    customer_group: str | None = None
    created_by: UUID | None = None
    """The person who made this user (docs/authentication.md); null: the command line."""
    seller_id: str | UnsetType = UNSET
    """The seller a `seller` user acts for (docs/sellers.md); absent for other roles."""
    sessions_ended_at: datetime | None = None
    """When an admin last ended every session of this user (or deactivated them): tokens issued
    until then are refused."""


class SessionsEnded(Frozen):
    """POST /users/{id}/sessions/revoke: every token of the user issued until now is refused."""

    user_id: UUID
    sessions_ended_at: datetime


class Me(Frozen):
    id: UUID
    name: str
    kind: Literal["user", "api_key"]
    role: Role
    tier: str | None
    segment: str | None
    customer_group: str | None = None
    seller_id: str | UnsetType = UNSET
    """The seller a `seller` caller acts for (docs/sellers.md); absent for other roles."""


class ApiKeyCreate(Strict):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    role: Literal["service", "admin", "seller", "agent"] = "service"
    money_format: MoneyFormat = "string"
    """How this key's responses write money and decimals, unless a request sends X-Money-Format:
    "string" ("51.00") or "number" (51.00, the Go service's format)."""
    customer_group: Label | None = None
    """The customer group this key's quotes are priced for (price lists); none: no group."""
    seller_id: SellerId | None = None
    """The seller a `seller` key acts for: required with that role, refused with any other."""
    public_key: dict[str, Any] | None = None
    """An `agent` key's public key (a JWK, Ed25519 or ES256 with a `kid`): its requests must then be
    signed (docs/agents.md#signed-requests). Refused with any other role."""
    webhook_url: str | None = None
    """Where an `agent` key's order events go (an http(s) URL, checked as a webhook's): the answer
    shows its `webhook_secret` once. Refused with any other role."""


class ApiKey(Frozen):
    id: UUID
    name: str
    role: Role
    prefix: str
    money_format: MoneyFormat
    created_at: datetime
    revoked_at: datetime | None
    customer_group: str | None = None
    created_by: UUID | None = None
    """The person this key acts for, whose request made it (docs/authentication.md); null: made
    on the command line, the key is its own person."""
    seller_id: str | UnsetType = UNSET
    """The seller a `seller` key acts for (docs/sellers.md); absent for other roles."""
    public_key: Jwk | UnsetType = UNSET
    """An `agent` key's public key (docs/agents.md); absent when it has none."""
    webhook_url: str | UnsetType = UNSET
    """Where an `agent` key's order events go; absent when nowhere."""


class ApiKeyCreated(Frozen):
    """Returned once, at creation: `key` is never shown again. A key made by an approved change
    request has none here: its author was shown it when asking."""

    id: UUID
    name: str
    role: Role
    prefix: str
    money_format: MoneyFormat
    key: str | UnsetType
    created_at: datetime
    customer_group: str | None = None
    created_by: UUID | None = None
    """The person this key acts for (as `ApiKey.created_by`)."""
    seller_id: str | UnsetType = UNSET
    """The seller a `seller` key acts for (docs/sellers.md); absent for other roles."""
    public_key: Jwk | UnsetType = UNSET
    """An `agent` key's public key (docs/agents.md); absent when it has none."""
    webhook_url: str | UnsetType = UNSET
    """Where an `agent` key's order events go; absent when nowhere."""
    webhook_secret: str | UnsetType = UNSET
    """The secret an `agent` key's order events are signed with (`Merchant-Signature`,
    docs/agents.md#order-events): shown here once, with a `webhook_url`."""


class LoggedOut(Frozen):
    """A session ended by POST /auth/logout."""

    token_expires_at: datetime
    """When the token would have expired; it is refused from now on."""
