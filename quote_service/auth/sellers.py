"""What a `seller` account may reach (docs/sellers.md): the routes of its own offers, nothing else.

A seller-role user or API key acts for one seller (`Principal.seller_id`). The authentication
middleware refuses it every route that is not listed here (403 FORBIDDEN), before the route runs:
a route added later is closed to sellers until it is listed, and the routes listed scope what they
read and write to the caller's seller (`owned_by`: another seller's anything is 404, as unknown).
"""

from __future__ import annotations

import re

from quote_service.auth.schemas import Principal
from quote_service.errors import Forbidden, NotFound

_ID = r"[^/]+"
_ROUTES: dict[str, list[str]] = {
    "GET": [
        "/api/v1/users/me",
        "/api/v1/sellers/me",
        "/api/v1/products",
        f"/api/v1/products/{_ID}",
        f"/api/v1/products/{_ID}/price-history",
        f"/api/v1/products/{_ID}/offers",
        "/api/v1/orders",
        f"/api/v1/orders/{_ID}",
        f"/api/v1/sellers/{_ID}/statement",
        f"/api/v1/sellers/{_ID}/statement/entries",
        f"/api/v1/sellers/{_ID}/balance",
        "/api/v1/payouts",
        f"/api/v1/payouts/{_ID}",
        "/api/v1/shipping-profiles",
        f"/api/v1/shipping-profiles/{_ID}",
        "/api/v1/promotions",
        f"/api/v1/promotions/{_ID}",
        "/api/v1/coupons",
        f"/api/v1/coupons/{_ID}",
        "/api/v1/offers",
        f"/api/v1/offers/{_ID}",
        f"/api/v1/offers/{_ID}/price-history",
    ],
    "POST": [
        "/api/v1/auth/logout",
        f"/api/v1/products/{_ID}/stock",
        f"/api/v1/sellers/{_ID}/payout-preview",
        "/api/v1/shipping-profiles",
        "/api/v1/promotions",
        "/api/v1/coupons",
        "/api/v1/offers",
    ],
    "PATCH": [f"/api/v1/products/{_ID}", f"/api/v1/shipping-profiles/{_ID}", f"/api/v1/offers/{_ID}"],
    "PUT": [
        f"/api/v1/products/{_ID}/price",
        f"/api/v1/shipping-profiles/{_ID}",
        f"/api/v1/promotions/{_ID}",
        f"/api/v1/coupons/{_ID}",
    ],
    "DELETE": [
        f"/api/v1/offers/{_ID}",
        f"/api/v1/shipping-profiles/{_ID}",
        f"/api/v1/promotions/{_ID}",
        f"/api/v1/coupons/{_ID}",
    ],
}
_ALLOWED = {method: re.compile("|".join(f"(?:{p})" for p in paths) + "/?") for method, paths in _ROUTES.items()}


def check_route(principal: Principal, method: str, path: str) -> None:
    """Refuse (403) a seller's request for a route sellers may not use; anyone else passes."""
    if principal.role == "seller" and not seller_may_use(method, path):
        raise Forbidden("A seller account may use only its own offers' routes (docs/sellers.md)")


def seller_may_use(method: str, path: str) -> bool:
    """Whether a seller may call `method` on `path` (a request's path, or a route's template)."""
    allowed = _ALLOWED.get("GET" if method == "HEAD" else method)
    return allowed is not None and allowed.fullmatch(path) is not None


def own_seller(principal: Principal) -> str | None:
    """The seller whose data alone `principal` may see: its own for a seller, None (any) otherwise."""
    return principal.seller_id if principal.role == "seller" else None


def owned_by(principal: Principal, seller_id: str | None, what: str) -> None:
    """404 (as an unknown id, never a 403 that confirms it exists) when a seller asks for `what`
    of another seller."""
    own = own_seller(principal)
    if own is not None and seller_id != own:
        raise NotFound(f"{what} not found")
