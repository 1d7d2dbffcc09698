"""The seller role (docs/sellers.md): accounts bound to one seller, and the routes it may reach."""

from __future__ import annotations

from tests.integration.conftest import PASSWORD, Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.sellers.conftest import Client


async def test_a_seller_user_names_its_seller_and_no_other_role_does(client: Client, admin: Caller) -> None:
    users = "/api/v1/users"
    body = {"username": "anatolia", "password": PASSWORD, "role": "seller"}
    missing = expect_error(await client.post(users, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
    assert set(field_errors(missing)) == {"seller_id"}
    stray = {**body, "role": "user", "seller_id": "seller-9"}
    refused = expect_error(await client.post(users, json=stray, headers=admin.headers), 422, "VALIDATION_FAILED")
    assert set(field_errors(refused)) == {"seller_id"}

    made = expect_ok(await client.post(users, json={**body, "seller_id": "seller-9"}, headers=admin.headers), 201)
    assert (made["role"], made["seller_id"]) == ("seller", "seller-9")
    login = {"username": "anatolia", "password": PASSWORD}
    token = expect_ok(await client.post("/api/v1/auth/token", json=login))
    assert token["role"] == "seller"
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    me = expect_ok(await client.get("/api/v1/sellers/me", headers=headers))
    assert me == {
        "seller_id": "seller-9",
        "account_id": made["id"],
        "account_name": "anatolia",
        "account_kind": "user",
        "products": 0,
        "active_products": 0,
    }
    assert expect_ok(await client.get("/api/v1/users/me", headers=headers))["seller_id"] == "seller-9"
    moved = {"role": "user"}  # a seller made a shopper keeps no seller: refused until it is cleared too
    url = f"{users}/{made['id']}"
    expect_error(await client.patch(url, json=moved, headers=admin.headers), 422, "VALIDATION_FAILED")
    cleared = expect_ok(await client.patch(url, json={**moved, "seller_id": None}, headers=admin.headers))
    assert cleared["role"] == "user"
    assert "seller_id" not in cleared


async def test_a_seller_api_key_acts_for_its_seller(client: Client, admin: Caller, own: dict[str, str]) -> None:
    keys = "/api/v1/api-keys"
    missing = await client.post(keys, json={"name": "feed", "role": "seller"}, headers=admin.headers)
    assert set(field_errors(expect_error(missing, 422, "VALIDATION_FAILED"))) == {"seller_id"}
    made = expect_ok(
        await client.post(
            keys, json={"name": "feed", "role": "seller", "seller_id": "seller-1"}, headers=admin.headers
        ),
        201,
    )
    assert made["seller_id"] == "seller-1"
    headers = {"X-API-Key": made["key"]}
    me = expect_ok(await client.get("/api/v1/sellers/me", headers=headers))
    assert (me["seller_id"], me["account_kind"], me["products"]) == ("seller-1", "api_key", 1)
    listed = expect_ok(await client.get(keys, headers=admin.headers))["items"]
    assert [k["seller_id"] for k in listed] == ["seller-1"]


async def test_sellers_me_is_for_sellers(client: Client, admin: Caller, shopper: Caller) -> None:
    for caller in (admin, shopper):
        expect_error(await client.get("/api/v1/sellers/me", headers=caller.headers), 403, "FORBIDDEN")


ADMIN_AND_SHOPPER_ROUTES = [
    ("POST", "/api/v1/quote"),
    ("POST", "/api/v1/products"),
    ("PUT", "/api/v1/products/00000000-0000-0000-0000-000000000001"),
    ("DELETE", "/api/v1/products/00000000-0000-0000-0000-000000000001"),
    ("GET", "/api/v1/commission-rates"),
    ("POST", "/api/v1/commission-rates"),
    ("GET", "/api/v1/pricing-rules"),
    ("PATCH", "/api/v1/users/00000000-0000-0000-0000-000000000001"),
    ("POST", "/api/v1/users"),
    ("POST", "/api/v1/api-keys"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/change-requests"),
    ("POST", "/api/v1/change-requests/00000000-0000-0000-0000-000000000001/approve"),
    ("GET", "/api/v1/analytics/commission"),
    ("POST", "/api/v1/orders"),
    ("POST", "/api/v1/orders/00000000-0000-0000-0000-000000000001/refunds"),
    ("POST", "/api/v1/orders/00000000-0000-0000-0000-000000000001/cancel"),
    ("GET", "/api/v1/flash-sales"),
    ("GET", "/api/v1/feature-flags"),
    ("GET", "/api/v1/webhooks"),
    ("POST", "/api/v1/simulations"),
]


async def test_everything_else_is_forbidden_to_a_seller(client: Client, seller: Caller) -> None:
    for method, path in ADMIN_AND_SHOPPER_ROUTES:
        response = await client.request(method, path, json={}, headers=seller.headers)
        assert response.status_code == 403, (method, path, response.text)
        expect_error(response, 403, "FORBIDDEN")


async def test_a_seller_reads_a_products_offers_as_any_role_does(
    client: Client, admin: Caller, seller: Caller, theirs: dict[str, str], shopper: Caller
) -> None:
    """`GET /products/{id}/offers` is any role's (the landed-price ranking a store shows); a seller was 403."""
    offers = f"/api/v1/products/{theirs['id']}/offers"
    params = {"city": "Istanbul", "country": "TR"}
    seen = {}
    for caller in (shopper, seller):
        ranked = expect_ok(await client.get(offers, params=params, headers=caller.headers))
        seen[caller.username] = [(o["seller_id"], o["is_default"]) for o in ranked]
    assert seen == {"shopper": [("seller-2", True)], "bosphorus": [("seller-2", True)]}
