"""What an agent key may carry (docs/agents.md#agent-keys): its public key and its webhook URL.

A public key is a JWK (RFC 7517) of one of the two algorithms agents sign with: Ed25519
(`{kty: OKP, crv: Ed25519, x}`) or ES256 (`{kty: EC, crv: P-256, x, y}`), with a `kid` (the
`keyid` RFC 9421 signatures name). Its coordinates must decode to a real point (the
`cryptography` library loads it here, as verification will), and a private key (`d`) is refused:
the service must never hold an agent's signing key. Each refusal is a 422 naming the member.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from quote_service.auth.schemas import ApiKeyCreate, Jwk
from quote_service.db.pool import Connection
from quote_service.errors import invalid
from quote_service.webhooks import repository as webhooks
from quote_service.webhooks import signing, urls

MAX_KID_LENGTH = 256
_FIELD = "public_key"
_CURVES = {"OKP": "Ed25519", "EC": "P-256"}
_ALGORITHMS = {"OKP": "EdDSA", "EC": "ES256"}
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class AgentWebhook:
    """An agent key's webhook (auth/schemas.py `KeyWebhook`): a subscription of its own, its events
    signed as ACP signs them (webhooks.signing `merchant_signature`)."""

    url: str
    secret: str

    @classmethod
    def new(cls, url: str, secret: str | None = None) -> AgentWebhook:
        """The webhook of a checked URL, with a fresh secret unless one was made already (a change request's)."""
        return cls(url=url, secret=secret or signing.new_secret())

    async def subscribe(self, conn: Connection, *, key_id: UUID, key_name: str) -> None:
        await webhooks.insert_agent_webhook(
            conn, agent_key_id=key_id, url=self.url, secret=self.secret, actor=f"api-key:{key_name}"
        )


async def agent_fields(data: ApiKeyCreate, *, allow_private: bool) -> tuple[Jwk | None, str | None]:
    """A new key's public key and webhook URL, checked (a 422 naming the field; only an agent key
    carries either)."""
    for name in ("public_key", "webhook_url"):
        if getattr(data, name) is not None and data.role != "agent":
            raise invalid(name, "only an agent key (role agent) carries one")
    public_key = None if data.public_key is None else check_public_key(data.public_key)
    url = None if data.webhook_url is None else await check_webhook_url(data.webhook_url, allow_private=allow_private)
    return public_key, url


def check_public_key(jwk: dict[str, Any]) -> Jwk:
    """The JWK as stored, or a 422 naming the member that is wrong (`public_key.crv`, ...)."""
    if "d" in jwk:
        raise invalid(f"{_FIELD}.d", "is a private key member: send the public key only")
    kty = jwk.get("kty")
    if kty not in _CURVES:
        raise invalid(f"{_FIELD}.kty", "must be OKP (Ed25519) or EC (ES256, P-256)")
    if jwk.get("crv") != _CURVES[kty]:
        raise invalid(f"{_FIELD}.crv", f"must be {_CURVES[kty]} with kty {kty}")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not 1 <= len(kid) <= MAX_KID_LENGTH:
        raise invalid(f"{_FIELD}.kid", f"is required: a string of 1 to {MAX_KID_LENGTH} characters")
    alg = jwk.get("alg")
    if alg is not None and alg != _ALGORITHMS[kty]:
        raise invalid(f"{_FIELD}.alg", f"must be {_ALGORITHMS[kty]} with kty {kty} (or absent)")
    stored = Jwk(kty=kty, crv=_CURVES[kty], x=_member(jwk, "x"), kid=kid, alg=alg)  # type: ignore[arg-type]
    if kty == "EC":
        stored = msgspec.structs.replace(stored, y=_member(jwk, "y"))
    load_public_key(stored)
    return stored


def load_public_key(jwk: Jwk) -> PublicKey:
    """The key a JWK checked by `check_public_key` holds (a 422 on `public_key` when it holds none)."""
    try:
        x = _decode(jwk.x)
        if jwk.kty == "OKP":
            return ed25519.Ed25519PublicKey.from_public_bytes(x)
        y = _decode(jwk.y or "")
        if len(x) != 32 or len(y) != 32:
            raise ValueError("P-256 coordinates are 32 bytes each")
        numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1())
        return numbers.public_key()
    except (ValueError, binascii.Error) as exc:
        raise invalid(_FIELD, f"is not a valid {jwk.crv} public key ({exc})") from exc


async def check_webhook_url(url: str, *, allow_private: bool) -> str:
    """The URL as stored, or a 422 on `webhook_url`: the checks a webhook subscription's URL gets."""
    return await urls.check(url, allow_private=allow_private, field="webhook_url")


def _member(jwk: dict[str, Any], name: str) -> str:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise invalid(f"{_FIELD}.{name}", "is required: the coordinate, base64url without padding")
    try:
        _decode(value)
    except (ValueError, binascii.Error) as exc:
        raise invalid(f"{_FIELD}.{name}", "must be base64url without padding") from exc
    return value


def _decode(value: str) -> bytes:
    """base64url without padding (RFC 7515 §2), strictly: no padding, no other alphabet."""
    if "=" in value or "+" in value or "/" in value:
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
