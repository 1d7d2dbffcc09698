"""A property (docs/sellers.md): no sequence of a seller's calls, on any route it reaches, with its own,
another seller's, the platform's or unknown ids in paths, filters and bodies, changes anything of
another seller's or the platform's, nor answers 5xx.

The database outlives the examples (hypothesis runs them on one set of fixtures): the world is made
once, and each example compares the other seller's and the platform's rows before and after it.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from hypothesis import HealthCheck, example, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.coupons.test_coupons_api import coupon_body, create_coupon
from tests.integration.expect import expect_ok
from tests.integration.promotions.test_promotions_api import create_promotion
from tests.integration.sellers.conftest import Client
from tests.integration.sellers.test_seller_promotions import ten_off
from tests.integration.shipping.test_shipping_profiles_api import create_profile, profile_body

TARGETS = ("own", "theirs", "platform", "unknown")
PRICES = st.sampled_from(["0.01", "9.99", "20.00", "24.00", "25.50", "30.00", "99.00", "-1", "abc"])
PATCHES = st.dictionaries(
    st.sampled_from(["current_price", "base_price", "min_price", "cost_price", "seller_id", "name", "stock"]),
    st.one_of(PRICES, st.just("seller-2")),
    max_size=3,
)
CALLS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "product.get", "product.patch", "product.price", "product.stock", "product.history", "products.list",
                "promotion.create", "promotion.get", "promotion.put", "promotion.delete", "promotions.list",
                "profile.create", "profile.get", "profile.patch", "profile.put", "profile.delete", "profiles.list",
                "coupon.create", "coupon.get", "coupon.put", "coupon.delete", "coupons.list",
                "orders.list", "statement", "ledger",
            ]
        ),
        st.sampled_from(TARGETS),
        st.sampled_from(TARGETS),
        PATCHES,
        PRICES,
    ),
    min_size=1,
    max_size=8,
)  # fmt: skip
"""(route, the id in its path, a second id in its body or filter, a PATCH body, a price)."""

_OTHERS = {
    "products": "SELECT * FROM products WHERE seller_id <> 'seller-1' ORDER BY id",
    "price_history": """SELECT h.* FROM price_history h JOIN products p ON p.id = h.product_id
                        WHERE p.seller_id <> 'seller-1' ORDER BY h.id""",
    "promotions": "SELECT * FROM promotions WHERE seller_id IS DISTINCT FROM 'seller-1' ORDER BY id",
    "shipping_profiles": "SELECT * FROM shipping_profiles WHERE seller_id IS DISTINCT FROM 'seller-1' ORDER BY id",
    "coupons": "SELECT * FROM coupons WHERE seller_id IS DISTINCT FROM 'seller-1' ORDER BY code",
}


async def _others(pool: asyncpg.Pool) -> dict[str, list[dict[str, Any]]]:
    return {name: [dict(r) for r in await pool.fetch(sql)] for name, sql in _OTHERS.items()}


async def _world(client: Client, admin: Caller, seller: Caller, rival: Caller) -> dict[str, dict[str, str]]:
    """Each kind of thing, as seller-1's, seller-2's and the platform's (where there is one)."""
    own = await create_product(client, admin, seller_id="seller-1")
    theirs = await create_product(client, admin, seller_id="seller-2")
    promotions = {
        "own": expect_ok(await client.post("/api/v1/promotions", json=ten_off(own["id"]), headers=seller.headers), 201),
        "theirs": expect_ok(
            await client.post("/api/v1/promotions", json=ten_off(theirs["id"]), headers=rival.headers), 201
        ),
        "platform": await create_promotion(client, admin),
    }
    profiles = {
        "own": await create_profile(client, admin, seller_id="seller-1"),
        "theirs": await create_profile(client, admin, seller_id="seller-2"),
        "platform": await create_profile(client, admin, seller_id=None),
    }
    coupons = "/api/v1/coupons"
    for code, product, caller in (("OWN1", own, seller), ("THEIRS1", theirs, rival)):
        body = coupon_body(code=code, product_ids=[product["id"]])
        expect_ok(await client.post(coupons, json=body, headers=caller.headers), 201)
    await create_coupon(client, admin, code="PLATFORM1")
    unknown = str(uuid.uuid4())
    return {
        "coupon": {"own": "OWN1", "theirs": "THEIRS1", "platform": "platform1", "unknown": "NOSUCH"},
        "product": {"own": own["id"], "theirs": theirs["id"], "platform": theirs["id"], "unknown": unknown},
        "promotion": {**{k: v["id"] for k, v in promotions.items()}, "unknown": unknown},
        "profile": {**{k: v["id"] for k, v in profiles.items()}, "unknown": unknown},
        "seller": {"own": "seller-1", "theirs": "seller-2", "platform": "seller-2", "unknown": "seller-x"},
    }


def _request(call: tuple[str, str, str, dict[str, Any], str], ids: dict[str, dict[str, str]]) -> tuple[str, str, Any]:
    route, target, other, patch, price = call
    product, product_other = ids["product"][target], ids["product"][other]
    promotion, profile, seller = ids["promotion"][target], ids["profile"][target], ids["seller"][other]
    coupon = ids["coupon"][target]
    coupon_body_of = {k: v for k, v in coupon_body(product_ids=[product_other]).items() if k != "code"}
    products, promotions, profiles = "/api/v1/products", "/api/v1/promotions", "/api/v1/shipping-profiles"
    requests: dict[str, tuple[str, str, Any]] = {
        "product.get": ("GET", f"{products}/{product}", None),
        "product.patch": ("PATCH", f"{products}/{product}", patch),
        "product.price": ("PUT", f"{products}/{product}/price", {"price": price}),
        "product.stock": ("POST", f"{products}/{product}/stock", {"delta": -1, "reason": "p"}),
        "product.history": ("GET", f"{products}/{product}/price-history", None),
        "products.list": ("GET", f"{products}?seller_id={seller}", None),
        "promotion.create": ("POST", promotions, ten_off(product, product_other)),
        "promotion.get": ("GET", f"{promotions}/{promotion}", None),
        "promotion.put": ("PUT", f"{promotions}/{promotion}", ten_off(product_other)),
        "promotion.delete": ("DELETE", f"{promotions}/{promotion}", None),
        "promotions.list": ("GET", promotions, None),
        "profile.create": ("POST", profiles, profile_body(seller_id=seller)),
        "profile.get": ("GET", f"{profiles}/{profile}", None),
        "profile.patch": ("PATCH", f"{profiles}/{profile}", {"seller_id": seller, "regions": ["Izmir"]}),
        "profile.put": ("PUT", f"{profiles}/{profile}", profile_body(seller_id=seller)),
        "profile.delete": ("DELETE", f"{profiles}/{profile}", None),
        "profiles.list": ("GET", f"{profiles}?seller_id={seller}", None),
        "coupon.create": (
            "POST",
            "/api/v1/coupons",
            coupon_body(code=f"C{price[:2]}", product_ids=[product, product_other]),
        ),
        "coupon.get": ("GET", f"/api/v1/coupons/{coupon}", None),
        "coupon.put": ("PUT", f"/api/v1/coupons/{coupon}", coupon_body_of),
        "coupon.delete": ("DELETE", f"/api/v1/coupons/{coupon}", None),
        "coupons.list": ("GET", "/api/v1/coupons", None),
        "orders.list": ("GET", f"/api/v1/orders?seller_id={seller}", None),
        "statement": ("GET", f"/api/v1/sellers/{seller}/statement", None),
        "ledger": ("GET", f"/api/v1/sellers/{seller}/statement/entries?format=csv", None),
    }
    return requests[route]


_NAMED = {
    "promotion.create": (1, 2), "promotion.put": (1, 2), "profile.create": (2,), "profile.patch": (1, 2),
    "profile.put": (1, 2), "coupon.create": (1, 2), "coupon.put": (1, 2),
}  # fmt: skip
"""Which of a call's two ids (1: the one in its path, 2: the one in its body) it names, where not only
the path's: a create names no id in its path, only in its body (`profile.create`: the body's seller)."""


def _names_others(call: tuple[str, str, str, dict[str, Any], str]) -> bool:
    """Whether a call on one thing (a product, a promotion, a profile, a coupon; not a list, a statement) names
    another seller's, the platform's or an unknown one: then only 404 or 422 may answer it. A
    seller's own profile created with its own seller id is 201 whatever the path's target (which a
    create does not read), lower-case `countries` and `currency` too (docs/shipping.md)."""
    route = call[0]
    if route.split(".")[0] not in ("product", "promotion", "profile", "coupon"):
        return False
    return any(call[at] != "own" for at in _NAMED.get(route, (1,)))


_WORLD: dict[str, dict[str, dict[str, str]]] = {}


@examples(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=CALLS)
# A seller creating its own profile (the path's target unread): 201, not a refusal; the same body
# naming another seller, and its own profile moved to another seller: 422.
@example(calls=[("profile.create", "theirs", "own", {}, "9.99"), ("profile.create", "own", "theirs", {}, "9.99")])
@example(calls=[("profile.put", "own", "theirs", {}, "9.99"), ("promotion.put", "own", "theirs", {}, "9.99")])
@example(calls=[("coupon.create", "own", "own", {}, "9.99"), ("coupon.create", "own", "theirs", {}, "9.99")])
async def test_no_sequence_of_seller_calls_changes_another_sellers_data(
    client: Client, admin: Caller, seller: Caller, rival: Caller, pool: asyncpg.Pool, calls: Any
) -> None:
    world = str(await pool.fetchval("SELECT current_database()"))
    if world not in _WORLD or not await pool.fetchval("SELECT count(*) FROM products"):
        _WORLD[world] = await _world(client, admin, seller, rival)
    ids = _WORLD[world]
    before = await _others(pool)
    for call in calls:
        method, path, body = _request(call, ids)
        response = await client.request(method, path, json=body, headers=seller.headers)
        assert response.status_code < 500, (method, path, body, response.text)
        if _names_others(call):
            assert response.status_code in (404, 422), (method, path, body, response.text)
    assert await _others(pool) == before
