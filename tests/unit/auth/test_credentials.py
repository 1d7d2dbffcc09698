"""Tokens with a pinned algorithm, API key material, and password checks."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from quote_service.auth import credentials
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.errors import Unauthorized

# 64 bytes: long enough for HS512 too, so PyJWT does not warn about short HMAC keys.
SECRET = "unit-test-secret-key-".ljust(64, "x")
SETTINGS = Settings(secret_key=SECRET, access_token_expire_minutes=30)
USER_ID = uuid.UUID("3f0c9d7e-7d3c-4b8e-9a53-2b1f0c6e8a11")


def _token(now: datetime, settings: Settings = SETTINGS) -> str:
    return credentials.issue_token(settings, user_id=USER_ID, role="user", tier="gold", segment="vip", now=now)


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")


def _claims(now: datetime) -> dict[str, Any]:
    return {
        "sub": str(USER_ID),
        "role": "admin",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": uuid.uuid4().hex,
    }


def test_issued_token_round_trips_to_its_user() -> None:
    token = _token(utcnow())

    assert credentials.decode_token(SETTINGS, token) == USER_ID


def test_issued_token_carries_the_documented_claims() -> None:
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

    claims = jwt.decode(
        _token(now), SETTINGS.secret_key, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )

    assert claims["sub"] == str(USER_ID)
    assert claims["role"] == "user"
    assert claims["tier"] == "gold"
    assert claims["segment"] == "vip"
    assert claims["iat"] == int(now.timestamp())
    assert claims["exp"] == int(now.timestamp()) + 30 * 60
    assert len(claims["jti"]) == 32
    assert jwt.get_unverified_header(_token(now))["alg"] == "HS256"


def test_every_token_gets_its_own_jti() -> None:
    now = utcnow()
    first, second = (jwt.decode(_token(now), SETTINGS.secret_key, algorithms=["HS256"]) for _ in range(2))

    assert first["jti"] != second["jti"]


def test_configured_algorithm_signs_the_token() -> None:
    settings = Settings(secret_key=SETTINGS.secret_key, algorithm="HS384")
    token = _token(utcnow(), settings)

    assert jwt.get_unverified_header(token)["alg"] == "HS384"
    assert credentials.decode_token(settings, token) == USER_ID


def test_expired_token_is_refused() -> None:
    issued = utcnow() - timedelta(minutes=31)

    with pytest.raises(Unauthorized):
        credentials.decode_token(SETTINGS, _token(issued))


def test_token_signed_with_another_key_is_refused() -> None:
    other = Settings(secret_key="another-secret-key-".ljust(64, "y"))

    with pytest.raises(Unauthorized):
        credentials.decode_token(SETTINGS, _token(utcnow(), other))


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_token_signed_with_another_algorithm_is_refused(algorithm: str) -> None:
    token = jwt.encode(_claims(utcnow()), SETTINGS.secret_key, algorithm=algorithm)

    with pytest.raises(Unauthorized):
        credentials.decode_token(SETTINGS, token)


def test_unsigned_alg_none_token_is_refused() -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(utcnow()))}."

    with pytest.raises(Unauthorized):
        credentials.decode_token(SETTINGS, token)


def test_tampered_claims_are_refused() -> None:
    header, _, signature = _token(utcnow()).split(".")
    forged = _claims(utcnow())  # claims role admin under the user's signature

    with pytest.raises(Unauthorized):
        credentials.decode_token(SETTINGS, f"{header}.{_b64(forged)}.{signature}")


@pytest.mark.parametrize("missing", ["sub", "exp", "iat", "jti"])
def test_token_missing_a_required_claim_is_refused(missing: str) -> None:
    claims = _claims(utcnow())
    del claims[missing]

    with pytest.raises(Unauthorized):
        credentials.decode_token(SETTINGS, jwt.encode(claims, SETTINGS.secret_key, algorithm="HS256"))


def test_token_whose_subject_is_not_a_user_id_is_refused() -> None:
    claims = {**_claims(utcnow()), "sub": "admin"}

    with pytest.raises(Unauthorized):
        credentials.decode_token(SETTINGS, jwt.encode(claims, SETTINGS.secret_key, algorithm="HS256"))


@pytest.mark.parametrize("garbage", ["", "not-a-token", "a.b.c", "...."])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(Unauthorized):
        credentials.decode_token(SETTINGS, garbage)


def test_api_keys_are_random_and_stored_as_their_sha256() -> None:
    key, key_hash, prefix = credentials.new_api_key()
    other_key, other_hash, _ = credentials.new_api_key()

    assert key.startswith(credentials.API_KEY_PREFIX)
    assert len(key) > 40
    assert prefix == key[:12]
    assert key_hash == hashlib.sha256(key.encode()).digest()
    assert credentials.hash_api_key(key) == key_hash
    assert key != other_key
    assert key_hash != other_hash


def test_password_verifies_only_against_its_own_hash() -> None:
    password_hash = credentials.hash_password("correct-horse-battery")

    assert password_hash.startswith("$argon2id$")
    assert "correct-horse-battery" not in password_hash
    assert credentials.verify_password(password_hash, "correct-horse-battery")
    assert not credentials.verify_password(password_hash, "correct-horse-batterY")


def test_unknown_user_or_corrupt_hash_never_verifies() -> None:
    assert not credentials.verify_password(None, "not-a-real-password")
    assert not credentials.verify_password("not-an-argon2-hash", "anything")


def test_the_unknown_users_hash_costs_what_a_users_hash_costs() -> None:
    """An unknown username is verified against DUMMY_HASH so that both failures take the same time:
    it must carry the parameters every stored hash is made with (argon2-cffi's defaults may move)."""
    assert not credentials._hasher.check_needs_rehash(credentials.DUMMY_HASH)
    assert credentials.verify_password("not-a-real-password", None) is False
