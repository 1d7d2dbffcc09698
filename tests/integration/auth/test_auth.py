"""Authentication and roles over HTTP (docs/authentication.md): tokens, API keys, users, admin-only routes."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import jwt
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.auth import credentials
from quote_service.clock import utcnow
from quote_service.config import Settings
from tests.integration.conftest import PASSWORD, Caller, make_caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.waiting import until

Client = AsyncTestClient[Litestar]
ME = "/api/v1/users/me"
PRODUCT = {
    "sku": "SKU-1",
    "name": "Kettle",
    "category_id": "kitchen",
    "seller_id": "seller-1",
    "currency": "EUR",
    "base_price": "25.00",
    "min_price": "20.00",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")


def _claims(caller: Caller) -> dict[str, Any]:
    now = utcnow()
    return {
        "sub": str(caller.id),
        "role": "admin",
        "tier": None,
        "segment": None,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": uuid.uuid4().hex,
    }


async def login(client: Client, username: str, password: str = PASSWORD) -> Any:
    return await client.post("/api/v1/auth/token", json={"username": username, "password": password})


# --- POST /auth/token ---------------------------------------------------------------------------


async def test_login_issues_a_token_with_the_documented_claims(
    client: Client, shopper: Caller, settings: Settings
) -> None:
    data = expect_ok(await login(client, "shopper"))

    assert data["token_type"] == "bearer"
    assert data["role"] == "user"
    assert data["expires_in"] == settings.access_token_expire_minutes * 60
    claims = jwt.decode(data["access_token"], settings.secret_key, algorithms=[settings.algorithm])
    assert set(claims) >= {"sub", "role", "tier", "segment", "exp", "iat", "jti"}
    assert claims["sub"] == str(shopper.id)
    assert claims["role"] == "user"
    assert claims["tier"] == "gold"
    assert claims["segment"] == "vip"
    assert claims["exp"] - claims["iat"] == settings.access_token_expire_minutes * 60
    assert abs(claims["iat"] - utcnow().timestamp()) < 60
    assert claims["jti"]


async def test_issued_token_authenticates_the_user(client: Client, shopper: Caller) -> None:
    token = expect_ok(await login(client, "shopper"))["access_token"]

    me = expect_ok(await client.get(ME, headers=bearer(token)))

    assert me == {
        "id": str(shopper.id),
        "name": "shopper",
        "kind": "user",
        "role": "user",
        "tier": "gold",
        "segment": "vip",
        "customer_group": None,
    }


async def test_login_username_is_case_insensitive(client: Client, shopper: Caller) -> None:
    expect_ok(await login(client, "SHOPPER"))


async def test_wrong_password_and_unknown_user_are_the_same_401(client: Client, shopper: Caller) -> None:
    wrong_password = expect_error(await login(client, "shopper", "not-the-password"), 401, "UNAUTHORIZED")
    unknown_user = expect_error(await login(client, "nobody"), 401, "UNAUTHORIZED")

    # The same answer either way: the endpoint does not reveal which usernames exist.
    assert wrong_password == unknown_user


async def test_inactive_user_cannot_log_in(client: Client, shopper: Caller, pool: asyncpg.Pool) -> None:
    await pool.execute("UPDATE users SET is_active = false WHERE id = $1", shopper.id)

    expect_error(await login(client, "shopper"), 401, "UNAUTHORIZED")


async def test_login_body_is_validated(client: Client) -> None:
    body = expect_error(await client.post("/api/v1/auth/token", json={"username": "shopper"}), 422, "VALIDATION_FAILED")

    assert "password" in field_errors(body)


# --- Bearer tokens ------------------------------------------------------------------------------


async def test_missing_credentials_are_refused(client: Client) -> None:
    expect_error(await client.get(ME), 401, "UNAUTHORIZED")


@pytest.mark.parametrize(
    "authorization",
    ["Basic c2hvcHBlcjpwYXNzd29yZA==", "Token abc", "Bearer", "Bearer ", "bearer-token-without-scheme"],
)
async def test_wrong_authorization_scheme_is_refused(client: Client, shopper: Caller, authorization: str) -> None:
    expect_error(await client.get(ME, headers={"Authorization": authorization}), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA"])
async def test_garbage_token_is_refused(client: Client, token: str) -> None:
    expect_error(await client.get(ME, headers=bearer(token)), 401, "UNAUTHORIZED")


async def test_expired_token_is_refused(client: Client, shopper: Caller, settings: Settings) -> None:
    issued = utcnow() - timedelta(minutes=settings.access_token_expire_minutes + 1)
    token = credentials.issue_token(settings, user_id=shopper.id, role="user", tier=None, segment=None, now=issued)

    expect_error(await client.get(ME, headers=bearer(token)), 401, "UNAUTHORIZED")


async def test_token_signed_with_another_key_is_refused(client: Client, shopper: Caller) -> None:
    token = jwt.encode(_claims(shopper), "another-secret-key-that-is-long-enough-0123456789", algorithm="HS256")

    expect_error(await client.get(ME, headers=bearer(token)), 401, "UNAUTHORIZED")


async def test_alg_none_token_is_refused(client: Client, shopper: Caller) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(shopper))}."

    expect_error(await client.get(ME, headers=bearer(token)), 401, "UNAUTHORIZED")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the HS384 token uses the real key
async def test_token_signed_with_another_algorithm_is_refused(
    client: Client, shopper: Caller, settings: Settings
) -> None:
    assert settings.algorithm == "HS256"
    key = settings.secret_key.ljust(64, "#")  # padded so HS512 has a full-length key
    token = jwt.encode(_claims(shopper), key, algorithm="HS512")
    same_key = jwt.encode(_claims(shopper), settings.secret_key, algorithm="HS384")

    expect_error(await client.get(ME, headers=bearer(token)), 401, "UNAUTHORIZED")
    expect_error(await client.get(ME, headers=bearer(same_key)), 401, "UNAUTHORIZED")


async def test_valid_token_of_a_deleted_user_is_refused(client: Client, shopper: Caller, pool: asyncpg.Pool) -> None:
    await pool.execute("DELETE FROM users WHERE id = $1", shopper.id)

    expect_error(await client.get(ME, headers=shopper.headers), 401, "UNAUTHORIZED")


async def test_valid_token_of_an_inactive_user_is_refused(
    client: Client, settings: Settings, password_hash: str, pool: asyncpg.Pool
) -> None:
    former = await make_caller(settings, password_hash, "former", "user")
    await pool.execute("UPDATE users SET is_active = false WHERE id = $1", former.id)

    expect_error(await client.get(ME, headers=former.headers), 401, "UNAUTHORIZED")


# --- API keys -----------------------------------------------------------------------------------


async def test_api_key_is_shown_once_and_stored_only_as_its_hash(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    created = expect_ok(await client.post("/api/v1/api-keys", json={"name": "checkout"}, headers=admin.headers), 201)

    key = created["key"]
    assert key.startswith("qsk_")
    assert created["prefix"] == key[:12]
    assert created["role"] == "service"
    assert created["name"] == "checkout"
    row = await pool.fetchrow("SELECT * FROM api_keys WHERE id = $1", uuid.UUID(created["id"]))
    assert row is not None
    assert bytes(row["key_hash"]) == hashlib.sha256(key.encode()).digest()
    assert row["created_by"] == admin.id
    assert all(key not in str(value) for value in row.values())
    listed = expect_ok(await client.get("/api/v1/api-keys", headers=admin.headers))
    assert [item["id"] for item in listed["items"]] == [created["id"]]
    assert "key" not in listed["items"][0]
    assert key not in json.dumps(listed)


async def test_api_key_authenticates_as_its_machine_client(client: Client, service_key: dict[str, str]) -> None:
    me = expect_ok(await client.get(ME, headers=service_key))

    assert me["kind"] == "api_key"
    assert me["role"] == "service"
    assert me["name"] == "checkout"
    assert me["tier"] is None
    assert me["segment"] is None


async def test_revoked_api_key_is_refused(client: Client, admin: Caller) -> None:
    created = expect_ok(await client.post("/api/v1/api-keys", json={"name": "pos"}, headers=admin.headers), 201)
    headers = {"X-API-Key": created["key"]}
    expect_ok(await client.get(ME, headers=headers))  # now cached as a known principal

    revoked = expect_ok(await client.delete(f"/api/v1/api-keys/{created['id']}", headers=admin.headers))

    assert revoked["id"] == created["id"]
    assert revoked["revoked_at"] is not None
    expect_error(await client.get(ME, headers=headers), 401, "UNAUTHORIZED")


async def test_revoking_an_unknown_key_is_404(client: Client, admin: Caller) -> None:
    expect_error(await client.delete(f"/api/v1/api-keys/{uuid.uuid4()}", headers=admin.headers), 404, "NOT_FOUND")


@pytest.mark.parametrize(  # fixed ids: a random id differs between pytest-xdist workers
    "key", ["qsk_unknown", "garbage", credentials.new_api_key()[0]], ids=["unknown", "garbage", "well-formed"]
)
async def test_unknown_api_key_is_refused(client: Client, key: str) -> None:
    expect_error(await client.get(ME, headers={"X-API-Key": key}), 401, "UNAUTHORIZED")


async def test_unknown_api_key_is_refused_even_with_a_valid_token(client: Client, shopper: Caller) -> None:
    headers = {**shopper.headers, "X-API-Key": "qsk_unknown"}

    expect_error(await client.get(ME, headers=headers), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("authorization", ["Bearer garbage", "Basic dXNlcjpwYXNz", "Bearer ", "Bearer qsk_unknown", ""])
async def test_a_valid_key_beside_an_invalid_authorization_is_refused(
    client: Client, service_key: dict[str, str], authorization: str
) -> None:
    """docs/http.md: the key does not win over a header the client also sent (ambiguous credentials)."""
    body = expect_error(
        await client.get(ME, headers={**service_key, "Authorization": authorization}), 401, "UNAUTHORIZED"
    )
    assert "Ambiguous credentials" in body["message"]


async def test_a_key_and_a_token_of_different_callers_are_refused(
    client: Client, service_key: dict[str, str], shopper: Caller, admin: Caller
) -> None:
    other = expect_ok(await client.post("/api/v1/api-keys", json={"name": "other"}, headers=admin.headers), 201)
    for authorization in (shopper.headers["Authorization"], f"Bearer {other['key']}"):
        headers = {**service_key, "Authorization": authorization}
        body = expect_error(await client.get(ME, headers=headers), 401, "UNAUTHORIZED")
        assert "different callers" in body["message"]
    quote = {"customer_id": "c", "items": [], "delivery_address": {"city": "Istanbul", "country": "TR"}}
    headers = {**service_key, "Authorization": shopper.headers["Authorization"]}
    expect_error(await client.post("/api/v1/quote", json=quote, headers=headers), 401, "UNAUTHORIZED")


async def test_the_same_key_in_both_headers_is_one_caller(client: Client, service_key: dict[str, str]) -> None:
    headers = {**service_key, "Authorization": f"Bearer {service_key['X-API-Key']}"}
    assert expect_ok(await client.get(ME, headers=headers))["name"] == "checkout"


async def test_admin_api_key_can_use_admin_routes(client: Client, admin: Caller) -> None:
    created = expect_ok(
        await client.post("/api/v1/api-keys", json={"name": "ops", "role": "admin"}, headers=admin.headers), 201
    )
    headers = {"X-API-Key": created["key"]}

    expect_ok(await client.post("/api/v1/api-keys", json={"name": "made-by-key"}, headers=headers), 201)


async def test_api_key_role_is_validated(client: Client, admin: Caller) -> None:
    response = await client.post("/api/v1/api-keys", json={"name": "x", "role": "user"}, headers=admin.headers)

    assert "role" in field_errors(expect_error(response, 422, "VALIDATION_FAILED"))


# --- Roles --------------------------------------------------------------------------------------

ADMIN_WRITES = [
    ("/api/v1/users", {"username": "mallory", "password": "long-enough-password", "role": "admin"}),
    ("/api/v1/products", PRODUCT),
    ("/api/v1/api-keys", {"name": "sneaky", "role": "admin"}),
]


async def test_users_and_service_keys_read_the_catalog(
    client: Client, shopper: Caller, service_key: dict[str, str]
) -> None:
    for headers in (shopper.headers, service_key):
        assert expect_ok(await client.get("/api/v1/products", headers=headers)) == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(("path", "body"), ADMIN_WRITES)
async def test_user_token_cannot_use_admin_routes(
    client: Client, shopper: Caller, pool: asyncpg.Pool, path: str, body: dict[str, Any]
) -> None:
    expect_error(await client.post(path, json=body, headers=shopper.headers), 403, "FORBIDDEN")

    assert await pool.fetchval("SELECT count(*) FROM users WHERE username = 'mallory'") == 0
    assert await pool.fetchval("SELECT count(*) FROM products") == 0


@pytest.mark.parametrize(("path", "body"), ADMIN_WRITES)
async def test_service_key_cannot_use_admin_routes(
    client: Client, service_key: dict[str, str], pool: asyncpg.Pool, path: str, body: dict[str, Any]
) -> None:
    expect_error(await client.post(path, json=body, headers=service_key), 403, "FORBIDDEN")

    assert await pool.fetchval("SELECT count(*) FROM api_keys") == 1  # only the service key itself
    assert await pool.fetchval("SELECT count(*) FROM products") == 0


async def test_only_admins_list_or_revoke_api_keys(
    client: Client, shopper: Caller, service_key: dict[str, str]
) -> None:
    for headers in (shopper.headers, service_key):
        expect_error(await client.get("/api/v1/api-keys", headers=headers), 403, "FORBIDDEN")
        expect_error(await client.delete(f"/api/v1/api-keys/{uuid.uuid4()}", headers=headers), 403, "FORBIDDEN")


# --- Users --------------------------------------------------------------------------------------


async def test_admin_creates_a_user_who_can_log_in(client: Client, admin: Caller) -> None:
    body = {"username": "alice", "password": "wonderland-tea-party", "role": "user", "tier": "silver", "segment": "b2b"}

    user = expect_ok(await client.post("/api/v1/users", json=body, headers=admin.headers), 201)

    assert user["username"] == "alice"
    assert user["role"] == "user"
    assert user["tier"] == "silver"
    assert user["segment"] == "b2b"
    assert user["is_active"] is True
    assert "password" not in user
    assert "password_hash" not in user
    token = expect_ok(await login(client, "alice", "wonderland-tea-party"))["access_token"]
    me = expect_ok(await client.get(ME, headers=bearer(token)))
    assert me["id"] == user["id"]
    assert me["tier"] == "silver"


async def test_created_user_password_is_stored_hashed(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    body = {"username": "bob", "password": "builder-crane-42", "role": "admin"}
    expect_ok(await client.post("/api/v1/users", json=body, headers=admin.headers), 201)

    stored = await pool.fetchval("SELECT password_hash FROM users WHERE username = 'bob'")

    assert stored.startswith("$argon2id$")
    assert "builder-crane-42" not in stored


@pytest.mark.parametrize("username", ["shopper", "Shopper", "SHOPPER"])
async def test_duplicate_username_is_409(client: Client, admin: Caller, shopper: Caller, username: str) -> None:
    body = {"username": username, "password": "another-password", "role": "user"}

    expect_error(await client.post("/api/v1/users", json=body, headers=admin.headers), 409, "DUPLICATE_KEY")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "carol", "password": "long-enough", "role": "superuser"}, "role"),
        ({"username": "carol", "password": "short", "role": "user"}, "password"),
        ({"username": "carol", "role": "user"}, "password"),
        ({"username": "no spaces", "password": "long-enough", "role": "user"}, "username"),
        ({"username": "", "password": "long-enough", "role": "user"}, "username"),
        ({"username": 42, "password": "long-enough", "role": "user"}, "username"),
        ({"username": "carol", "password": "long-enough", "role": "user", "is_admin": True}, "is_admin"),
        ({"username": "carol", "password": "long-enough", "role": "user", "tier": ""}, "tier"),
    ],
)
async def test_invalid_user_is_422_naming_the_field(
    client: Client, admin: Caller, pool: asyncpg.Pool, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/users", json=body, headers=admin.headers)

    assert field in field_errors(expect_error(response, 422, "VALIDATION_FAILED"))
    assert await pool.fetchval("SELECT count(*) FROM users WHERE username = 'carol'") == 0


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        (" " * 8, "whitespace"),
        ("zzzzzzzzzzzz", "repeated"),
        ("password", "common"),
        ("12345678", "common"),
        ("Password1", "common"),
        ("carol-rocks-2024", "username"),
        ("xxCAROLxx-2024", "username"),
    ],
)
async def test_weak_password_is_422_naming_password(
    client: Client, admin: Caller, pool: asyncpg.Pool, password: str, reason: str
) -> None:
    body = {"username": "carol", "password": password, "role": "user"}

    error = expect_error(await client.post("/api/v1/users", json=body, headers=admin.headers), 422, "VALIDATION_FAILED")

    assert reason in field_errors(error)["password"]
    assert await pool.fetchval("SELECT count(*) FROM users WHERE username = 'carol'") == 0


async def test_me_for_an_admin(client: Client, admin: Caller) -> None:
    me = expect_ok(await client.get(ME, headers=admin.headers))

    assert me == {
        "id": str(admin.id),
        "name": "admin",
        "kind": "user",
        "role": "admin",
        "tier": None,
        "segment": None,
        "customer_group": None,
    }


async def test_concurrent_first_uses_of_an_api_key_share_one_lookup(
    settings: Settings, service_key: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from quote_service.auth import repository as auth_repository
    from quote_service.auth.service import AuthService
    from quote_service.db.pool import create_pool

    calls = 0
    real = auth_repository.get_active_api_key
    answer = asyncio.Event()  # the database answers only when the test says so

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        await answer.wait()
        return await real(*args, **kwargs)

    async def all_at_once(key: str, n: int) -> list[Any]:
        """`n` concurrent first uses of `key`, all of them asking before the database answers."""
        asked = calls
        callers = asyncio.gather(*(auth.principal_from_api_key(key) for _ in range(n)), return_exceptions=True)
        # The callers start together; once one reaches the database, the others (started in the
        # same loop pass, with nothing to wait for before the shared lookup) have joined it.
        await until(lambda: calls > asked, "a caller reaches the database")
        answer.set()
        results = await callers
        answer.clear()
        return results

    monkeypatch.setattr(auth_repository, "get_active_api_key", counting)
    pool = await create_pool(settings.database_url or "", min_size=1, max_size=4)
    try:
        auth = AuthService(settings, pool)
        principals = await all_at_once(service_key["X-API-Key"], 30)
        assert calls == 1
        assert len({p.id for p in principals}) == 1
        failures = await all_at_once("qsk_unknown", 10)
        assert calls == 2
        assert all(type(f).__name__ == "Unauthorized" for f in failures)
    finally:
        await pool.close()
