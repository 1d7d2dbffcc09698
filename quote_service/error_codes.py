"""Every error code the service answers with: its HTTP status, what it means, whether a retry may help.

The table in docs/errors.md is this registry in prose; tests/unit/test_error_codes.py keeps the
two equal and checks that every code the package raises is registered here.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Retry = Literal["yes", "no", "after change"]


class ErrorCode(NamedTuple):
    status: int
    meaning: str
    retry: Retry
    """yes: the same request may succeed later (honour Retry-After); no: it will fail again;
    after change: only a different request (or a changed state) can succeed."""


ERROR_CODES: dict[str, ErrorCode] = {
    "MALFORMED_REQUEST": ErrorCode(400, "The body is not valid JSON (or not UTF-8), or is missing", "no"),
    "UNAUTHORIZED": ErrorCode(401, "No credentials, or a bad, expired or revoked token or API key", "after change"),
    "FORBIDDEN": ErrorCode(403, "The caller's role may not do this, or the resource is someone else's", "no"),
    "NOT_FOUND": ErrorCode(404, "No such route, id, or (for quotes) it expired", "no"),
    "METHOD_NOT_ALLOWED": ErrorCode(405, "The route exists but not with this method (see Allow)", "no"),
    "REQUEST_TIMEOUT": ErrorCode(408, "The body did not arrive within BODY_READ_TIMEOUT; connection closed", "yes"),
    "PAYLOAD_TOO_LARGE": ErrorCode(413, "The body is over 1 MiB", "no"),
    "UNSUPPORTED_MEDIA_TYPE": ErrorCode(415, "The body is not sent as application/json", "after change"),
    "CONFLICT": ErrorCode(409, "The request clashes with the current state", "after change"),
    "DUPLICATE_KEY": ErrorCode(409, "A unique value (SKU, code, key, username) is taken", "no"),
    "INSUFFICIENT_STOCK": ErrorCode(409, "Not enough catalog stock; nothing was deducted", "after change"),
    "VERSION_CONFLICT": ErrorCode(409, "Another version of the pricing rule landed first", "after change"),
    "RULE_RETIRED": ErrorCode(409, "The pricing rule was retired; POST it again to reinstate it", "no"),
    "QUOTE_EXPIRED": ErrorCode(409, "The quote is unknown or past valid_until: quote again", "after change"),
    "QUOTE_ALREADY_ORDERED": ErrorCode(409, "The quote was ordered under another Idempotency-Key", "no"),
    "IDEMPOTENCY_CONFLICT": ErrorCode(409, "The Idempotency-Key was used with a different body", "no"),
    "PRODUCT_UNAVAILABLE": ErrorCode(409, "A product of the basket is inactive", "after change"),
    "COUPON_LIMIT_REACHED": ErrorCode(409, "A coupon reached its usage or per-customer limit", "after change"),
    "INVALID_SALE_STATE": ErrorCode(409, "The flash sale's state does not allow this change", "no"),
    "FLASH_SALE_OVERLAP": ErrorCode(409, "The product is already in a sale during that window", "after change"),
    "PRICE_CHANGED": ErrorCode(409, "The price differs from expected_unit_price", "after change"),
    "SOLD_OUT": ErrorCode(409, "Not enough flash-sale units left for the quantity; nothing sold", "after change"),
    "PURCHASE_LIMIT_EXCEEDED": ErrorCode(409, "The customer's per-user limit would be exceeded", "no"),
    "SALE_NOT_ACTIVE": ErrorCode(409, "The sale is not active (not started or ended) or lacks it", "after change"),
    "VALIDATION_FAILED": ErrorCode(422, "Well-formed but invalid values; details name each field", "after change"),
    "CURRENCY_MISMATCH": ErrorCode(422, "A catalog product's currency differs from the quote's", "after change"),
    "CLIENT_PRICE_NOT_ALLOWED": ErrorCode(422, "A user quoted or ordered an item it priced itself", "no"),
    "RATE_LIMITED": ErrorCode(429, "Too many requests from this client; wait Retry-After seconds", "yes"),
    "CLIENT_DISCONNECTED": ErrorCode(499, "The client hung up mid-body (logged and counted only)", "yes"),
    "INTERNAL_ERROR": ErrorCode(500, "A bug; the request id finds it in the logs", "no"),
    "SERVICE_UNAVAILABLE": ErrorCode(503, "The server cannot take the request now", "yes"),
    "OVERLOADED": ErrorCode(503, "Too many quotes in flight in this process; wait Retry-After", "yes"),
    "DEPENDENCY_UNAVAILABLE": ErrorCode(503, "PostgreSQL or Redis is unreachable; nothing was changed", "yes"),
    "QUOTE_TIMEOUT": ErrorCode(504, "The quote took longer than QUOTE_TIMEOUT; nothing was stored", "yes"),
    "HTTP_ERROR": ErrorCode(0, "Any other HTTP error status the framework produces", "no"),
}
