"""What the users share, fetched once per locust process on test_start, and undone on test_stop.

Setup and cleanup calls go through a plain `requests` session, so they never appear in
locust's statistics; only the users' traffic does.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import requests

from scenarios.admin import NUDGEABLE, FlagTarget, RuleTarget
from scenarios.baskets import Product, Sale
from scenarios.options import Settings

log = logging.getLogger("loadtest")

TOKEN_REFRESH_SECONDS = 20 * 60  # tokens live ACCESS_TOKEN_EXPIRE_MINUTES (60 by default)
SALE_HOURS = 2  # a sale this test creates; it is ended at test_stop
FLASH_DISCOUNT = Decimal("0.80")


class SetupError(Exception):
    """The service cannot be load-tested as configured (the message says what to change)."""


class Api:
    """Blocking JSON calls for setup and cleanup (cooperative under gevent's monkey patching)."""

    def __init__(self, host: str) -> None:
        self.host = host.rstrip("/")
        self.session = requests.Session()

    def call(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> Any:
        try:
            response = self.session.request(
                method, self.host + path, headers=headers, json=json, params=params, timeout=30
            )
        except requests.RequestException as exc:
            raise SetupError(f"{method} {path}: {exc}") from exc
        if response.status_code not in ok:
            raise SetupError(f"{method} {path} -> HTTP {response.status_code}: {response.text[:300]}")
        return response.json()["data"]

    def pages(self, path: str, *, headers: dict[str, str], params: dict[str, Any], wanted: int) -> list[Any]:
        """Up to `wanted` items of a keyset-paginated list."""
        items: list[Any] = []
        cursor = None
        while len(items) < wanted:
            query = {**params, "limit": min(500, wanted - len(items))}
            if cursor:
                query["cursor"] = cursor
            page = self.call("GET", path, headers=headers, params=query)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return items


class Login:
    """A bearer token for a username, renewed before it expires."""

    def __init__(self, api: Api, username: str, password: str) -> None:
        self.api = api
        self.username = username
        self.password = password
        self._headers: dict[str, str] = {}
        self._at = 0.0
        self.headers()  # fail at setup, not in the middle of the run

    def headers(self) -> dict[str, str]:
        if not self._headers or time.monotonic() - self._at > TOKEN_REFRESH_SECONDS:
            token = self.api.call(
                "POST", "/api/v1/auth/token", json={"username": self.username, "password": self.password}
            )
            self._headers = {"Authorization": f"Bearer {token['access_token']}"}
            self._at = time.monotonic()
        return self._headers


@dataclass
class World:
    """Everything the simulated users need, shared by every user of this process."""

    settings: Settings
    api: Api
    run_tag: str
    currency: str
    products: list[Product]
    service_headers: list[dict[str, str]]
    admin: Login | None = None
    shopper: Login | None = None
    shopper_id: str | None = None
    sale: Sale | None = None
    rules: list[RuleTarget] = field(default_factory=list)
    flags: list[FlagTarget] = field(default_factory=list)
    created_key_ids: list[str] = field(default_factory=list)
    created_sale_id: str | None = None


def provision(host: str, settings: Settings) -> World:
    api = Api(host)
    admin = _login(api, settings.admin_username, settings.admin_password, "admin")
    keys, created_key_ids = _service_keys(api, settings, admin)
    try:
        service = keys[0]
        products = api.pages("/api/v1/products", headers=service, params={}, wanted=settings.catalog_size)
        catalog = [Product.from_api(p) for p in products if p.get("is_active", True)]
        if not catalog:
            raise SetupError("the catalog is empty: seed it first (`quote-service seed-demo`, or `serve --demo`)")
        currency, _count = Counter(p.currency for p in catalog).most_common(1)[0]
        world = World(
            settings=settings,
            api=api,
            run_tag=uuid.uuid4().hex[:6],
            currency=currency,
            products=[p for p in catalog if p.currency == currency],
            service_headers=keys,
            admin=admin,
            created_key_ids=created_key_ids,
        )
        if settings.checkout_weight and settings.token_ratio > 0 and settings.shopper_username:
            _shopper(world)
        if settings.flash_weight:
            _flash_sale(world)
        if settings.admin_users:
            if admin is None:
                raise SetupError("admin users need --admin-username/--admin-password (or pass --admin-users 0)")
            _admin_targets(world)
    except BaseException:
        _revoke_keys(api, admin, created_key_ids)
        raise
    log.info(
        "load test ready: %d %s products, %d API key(s)%s, sale %s, %d rule(s) and %d flag(s) to change",
        len(world.products),
        world.currency,
        len(keys),
        f", shopper {world.shopper_id}" if world.shopper_id else "",
        f"{world.sale.id} ({world.sale.status}, {world.sale.remaining} units left)" if world.sale else "none",
        len(world.rules),
        len(world.flags),
    )
    return world


def _login(api: Api, username: str, password: str, what: str) -> Login | None:
    if not username:
        return None
    try:
        return Login(api, username, password)
    except SetupError as exc:
        raise SetupError(
            f"{what} login {username!r} failed ({exc}); seed the demo data or pass other credentials"
        ) from exc


def _service_keys(api: Api, settings: Settings, admin: Login | None) -> tuple[list[dict[str, str]], list[str]]:
    if settings.api_key:
        return [{"X-API-Key": settings.api_key}], []
    if admin is None:
        raise SetupError("pass --api-key, or admin credentials so the test can create service keys")
    keys: list[dict[str, str]] = []
    ids: list[str] = []
    name = f"locust-{socket.gethostname()}-{os.getpid()}"
    try:
        for index in range(settings.api_keys):
            created = api.call(
                "POST", "/api/v1/api-keys", headers=admin.headers(), json={"name": f"{name}-{index}", "role": "service"}
            )
            keys.append({"X-API-Key": created["key"]})
            ids.append(created["id"])
    except BaseException:
        _revoke_keys(api, admin, ids)
        raise
    return keys, ids


def _shopper(world: World) -> None:
    settings = world.settings
    try:
        world.shopper = Login(world.api, settings.shopper_username, settings.shopper_password)
        world.shopper_id = str(world.api.call("GET", "/api/v1/users/me", headers=world.shopper.headers())["id"])
    except SetupError as exc:  # optional: API keys carry the checkout traffic alone
        world.shopper = None
        log.warning("shopper login %r failed (%s): checkout uses API keys only", settings.shopper_username, exc)


def _flash_sale(world: World) -> None:
    """--sale-id, else an active sale with units left, else a new sale (admin), else an active sold-out one."""
    api, service = world.api, world.service_headers[0]
    if world.settings.sale_id:
        world.sale = Sale.from_api(api.call("GET", f"/api/v1/flash-sales/{world.settings.sale_id}", headers=service))
        if world.sale.status != "active":
            log.warning("flash sale %s is %s: purchases will be refused", world.sale.id, world.sale.status)
        return
    for attempt in range(2):
        active = [
            Sale.from_api(s)
            for s in api.call("GET", "/api/v1/flash-sales", headers=service, params={"status": "active", "limit": 100})[
                "items"
            ]
        ]
        with_stock = [s for s in active if s.remaining > 0]
        if with_stock:
            world.sale = max(with_stock, key=lambda s: s.remaining)
            return
        if world.admin is None:
            break
        try:
            world.sale = _create_sale(world)
            world.created_sale_id = world.sale.id
            return
        except SetupError as exc:  # another locust process may have created one meanwhile
            if attempt or "409" not in str(exc):
                raise
    if active:
        world.sale = active[0]
        log.warning("flash sale %s has no units left: every purchase will be refused", world.sale.id)
        return
    raise SetupError(
        "no active flash sale: pass --sale-id, admin credentials (the test creates one), or --flash-weight 0"
    )


def _create_sale(world: World) -> Sale:
    assert world.admin is not None
    api, admin = world.api, world.admin.headers()
    busy: set[str] = set()
    for status in ("active", "scheduled"):
        for sale in api.call("GET", "/api/v1/flash-sales", headers=admin, params={"status": status, "limit": 100})[
            "items"
        ]:
            busy.update(item["product_id"] for item in sale["items"])
    candidates = sorted(
        (p for p in world.products if p.id not in busy and p.stock >= 10), key=lambda p: p.stock, reverse=True
    )[:3]
    if not candidates:
        raise SetupError("no product with stock outside other flash sales to put in a new sale")
    now = datetime.now(UTC)
    items = []
    for product in candidates:
        price = (product.current_price * FLASH_DISCOUNT).quantize(product.current_price, rounding=ROUND_HALF_UP)
        items.append(
            {
                "product_id": product.id,
                "flash_price": str(max(price, product.min_price)),
                "allocated_stock": min(world.settings.flash_stock, product.stock // 2),
                "per_user_limit": 2,
            }
        )
    created = api.call(
        "POST",
        "/api/v1/flash-sales",
        headers=admin,
        json={
            "name": f"locust flash sale {world.run_tag}",
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(hours=SALE_HOURS)).isoformat(),
            "items": items,
        },
    )
    log.info("created flash sale %s (%d products)", created["id"], len(items))
    return Sale.from_api(created)


def _admin_targets(world: World) -> None:
    assert world.admin is not None
    headers = world.admin.headers()
    rules = world.api.pages("/api/v1/pricing-rules", headers=headers, params={}, wanted=500)
    world.rules = [RuleTarget(r) for r in rules if r["type"] in NUDGEABLE and r["is_active"] and not r["retired_at"]]
    wanted = set(world.settings.admin_flags)
    flags = world.api.pages("/api/v1/feature-flags", headers=headers, params={}, wanted=500)
    world.flags = [FlagTarget(f) for f in flags if f["key"] in wanted]
    if not world.rules and not world.flags:
        log.warning("no pricing rule or listed feature flag to change: the admin user only restocks")


def cleanup(world: World) -> None:
    """Put back the original rules and flags, end the sale this test created, revoke its keys."""
    api, admin = world.api, world.admin
    if admin is not None:
        for rule in world.rules:
            if rule.touched:
                _quietly(api, "PUT", f"/api/v1/pricing-rules/{rule.rule['id']}", admin, rule.original_body())
        for flag in world.flags:
            if flag.touched:
                _quietly(api, "PUT", f"/api/v1/feature-flags/{flag.flag['id']}", admin, flag.original_body())
        if world.created_sale_id:
            _quietly(api, "POST", f"/api/v1/flash-sales/{world.created_sale_id}/end", admin, None)
    _revoke_keys(api, admin, world.created_key_ids)
    log.info(
        "cleanup: restored %d rule(s) and %d flag(s)%s, revoked %d API key(s)",
        sum(r.touched for r in world.rules),
        sum(f.touched for f in world.flags),
        ", ended the flash sale it created" if world.created_sale_id else "",
        len(world.created_key_ids),
    )


def _revoke_keys(api: Api, admin: Login | None, ids: list[str]) -> None:
    if admin is None:
        return
    for key_id in ids:
        _quietly(api, "DELETE", f"/api/v1/api-keys/{key_id}", admin, None)


def _quietly(api: Api, method: str, path: str, admin: Login, body: Any) -> None:
    try:
        api.call(method, path, headers=admin.headers(), json=body)
    except SetupError as exc:
        log.warning("cleanup step failed: %s", exc)
