"""Password hashing (argon2id), JWT issue/verify with a pinned algorithm, API key material."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from quote_service.config import Settings
from quote_service.errors import Unauthorized

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both failures cost the same time: a hash made
# once with this hasher's parameters, written here rather than made at import (an argon2 hash,
# ~0.2 s of CPU, in every process that imports the package: each CLI command and served worker).
# tests/unit/auth/test_credentials.py checks that it has the hasher's parameters.
DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$DinQ1WMF0RXBGW8GjiD93w$anKpmg8KSjU1fBnjpIba+pUh2FmTcn5U3RKl84hLfjY"
API_KEY_PREFIX = "qsk_"
MAX_JTI_LENGTH = 128
"""The revocation list's bound on a jti (tokens issued here carry 32 hex digits)."""


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (CPU- and memory-hard: call off the event loop)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; constant work whether or not the user exists."""
    try:
        return _hasher.verify(password_hash or DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def issue_token(
    settings: Settings, *, user_id: uuid.UUID, role: str, tier: str | None, segment: str | None, now: datetime
) -> str:
    """A signed access token carrying the claims of docs/authentication.md."""
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "tier": tier,
        "segment": segment,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=settings.access_token_expire_minutes)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.secret_key, algorithm=settings.algorithm)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What the service reads of a valid token: whose it is, which one it is, until when."""

    user_id: uuid.UUID
    jti: str
    expires_at: datetime
    issued_at: int = 0
    """The `iat` claim (Unix seconds): a token issued at or before its user's sessions ended is refused."""


def decode_claims(settings: Settings, token: str) -> TokenClaims:
    """The claims of a valid token; anything else (forged, expired, other alg) is 401."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[settings.algorithm],
            options={"require": ["sub", "exp", "iat", "jti"]},
        )
        jti = claims["jti"]
        if not isinstance(jti, str) or not 1 <= len(jti) <= MAX_JTI_LENGTH:
            raise ValueError("jti")
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
        return TokenClaims(uuid.UUID(str(claims["sub"])), jti, expires_at, int(claims["iat"]))
    except (jwt.InvalidTokenError, ValueError, TypeError, OverflowError, OSError) as exc:
        raise Unauthorized("Invalid or expired token") from exc


def decode_token(settings: Settings, token: str) -> uuid.UUID:
    """The user id of a valid token; anything else (forged, expired, other alg) is 401."""
    return decode_claims(settings, token).user_id


def new_api_key() -> tuple[str, bytes, str]:
    """A fresh key: (the key shown once, its hash to store, a prefix for display)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hash_api_key(key), key[:12]


def hash_api_key(key: str) -> bytes:
    """SHA-256 of a key: keys are 256 random bits, so a fast hash is enough and safe."""
    return hashlib.sha256(key.encode()).digest()
