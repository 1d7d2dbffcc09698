"""The one error registry: every code the service answers with, in one row each.

A row names the code, its HTTP status, whether a retry may help, what it means, and the class
raised with it (none for the codes only the HTTP edge produces from the framework's errors).
A class and its row are one statement (`@registered(...)` above the class); a further code
raised through an existing class (`Conflict(message, code="QUOTE_EXPIRED")`) is an `also(...)`
row; a code with no class is an `edge(...)` row. docs/errors.md is this table in prose, and
tests/unit/test_error_codes.py keeps the two equal and checks every code the package raises.

    ServiceError                         500 INTERNAL_ERROR
    ├── Unauthorized                     401 UNAUTHORIZED
    ├── Forbidden                        403 FORBIDDEN
    ├── NotFound                         404 NOT_FOUND
    ├── Conflict                         409 CONFLICT (and every state-conflict code)
    │   ├── DuplicateKey                 409 DUPLICATE_KEY
    │   ├── IdempotencyInProgress        409 IDEMPOTENCY_IN_PROGRESS (Retry-After)
    │   ├── InsufficientStock            409 INSUFFICIENT_STOCK
    │   ├── HoldLimitExceeded            409 HOLD_LIMIT_EXCEEDED (a customer's caps on held stock)
    │   ├── ProductUnavailable           409 PRODUCT_UNAVAILABLE (an inactive catalog product)
    │   └── QuantityLimitReached         409 QUANTITY_RULE (an order past a per-customer limit)
    ├── Gone                             410 EDIT_EXPIRED (an order edit's preview past its expiry)
    ├── ValidationFailed                 422 VALIDATION_FAILED (one detail per bad field)
    │   ├── CurrencyMismatch             422 CURRENCY_MISMATCH
    │   │   ├── CurrencyNotPriced        422 CURRENCY_NOT_PRICED (no price list nor the catalog prices it)
    │   │   └── FxRateMissing            422 FX_RATE_MISSING (FX_CONVERSION on, no rate converts the price)
    │   ├── ClientPriceNotAllowed        422 CLIENT_PRICE_NOT_ALLOWED (a user's request-priced line)
    │   ├── QuantityRuleBroken           422 QUANTITY_RULE (an item's quantity breaks its quantity rules)
    │   └── PayoutUnreachable            422 PAYOUT_UNREACHABLE (no price pays a seller its target payout)
    ├── RateLimited                      429 RATE_LIMITED      (Retry-After)
    ├── Overloaded                       503 OVERLOADED        (Retry-After)
    ├── DependencyUnavailable            503 DEPENDENCY_UNAVAILABLE (Retry-After)
    ├── ExtensionUnavailable             503 EXTENSION_UNAVAILABLE (Retry-After; an extension with on_failure reject)
    └── QuoteTimeout                     504 QUOTE_TIMEOUT

Services raise these; the HTTP edge (`quote_service.web.errors`) renders the envelope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal, NamedTuple, TypeVar

import msgspec

Retry = Literal["yes", "no", "after change"]
"""yes: the same request may succeed later (honour Retry-After); no: it will fail again;
after change: only a different request (or a changed state) can succeed."""


class ErrorCode(NamedTuple):
    """One row of the registry."""

    code: str
    status: int
    """The HTTP status; 0 for HTTP_ERROR, whose status varies."""
    retry: Retry
    meaning: str
    raised_as: type[ServiceError] | None
    """The class raised with this code; None when only the HTTP edge answers it."""
    retry_after: int | None = None
    """The Retry-After seconds the answer carries, where the service sets them."""
    framework: bool = False
    """The code the HTTP edge gives the framework's own errors of this status (a 405, a 413, ...)."""
    also_status: int | None = None
    """A second status the code answers with, raised by a second class (`answered_also`): the same
    rule refused as a bad request (422) and, checked again when the state moved, as a conflict (409)."""


REGISTRY: dict[str, ErrorCode] = {}
"""code → its row."""


def _add(row: ErrorCode) -> None:
    if row.code in REGISTRY:
        raise ValueError(f"error code {row.code} is registered twice")
    REGISTRY[row.code] = row


E = TypeVar("E", bound="type[ServiceError]")


def registered(
    code: str, status: int, retry: Retry, meaning: str, *, retry_after: int | None = None, framework: bool = False
) -> Callable[[E], E]:
    """Register an error class with its code, status, retry advice and meaning (its row)."""

    def register(cls: E) -> E:
        cls.code, cls.status_code, cls.retry_after = code, status, retry_after
        _add(ErrorCode(code, status, retry, meaning, cls, retry_after, framework))
        return cls

    return register


def answered_also(code: str) -> Callable[[E], E]:
    """Register an error class that answers an already registered `code` with its own status (the
    row's `also_status`): one rule, two moments to break it."""

    def register(cls: E) -> E:
        row = REGISTRY[code]
        if row.also_status is not None or cls.status_code == row.status:
            raise ValueError(f"error code {code} already answers with {cls.status_code}")
        REGISTRY[code] = row._replace(also_status=cls.status_code)
        cls.code = code
        return cls

    return register


def also(cls: type[ServiceError], code: str, retry: Retry, meaning: str) -> None:
    """Register a further code raised as `cls(message, code=code)`; it answers with cls's status."""
    _add(ErrorCode(code, cls.status_code, retry, meaning, cls, cls.retry_after))


def edge(code: str, status: int, retry: Retry, meaning: str, *, framework: bool = False) -> None:
    """Register a code only the HTTP edge answers with (no class raises it)."""
    _add(ErrorCode(code, status, retry, meaning, None, framework=framework))


class FieldError(msgspec.Struct, frozen=True):
    """One bad value: `field` is a path such as `items[0].quantity`."""

    field: str
    message: str


@registered("INTERNAL_ERROR", 500, "no", "A bug; the request id finds it in the logs")
class ServiceError(Exception):
    """Base of every error the service answers deliberately."""

    status_code: int
    code: str
    retry_after: int | None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Iterable[FieldError] = (),
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if retry_after is not None:
            self.retry_after = retry_after
        self.details = list(details)


@registered(
    "UNAUTHORIZED", 401, "after change", "No credentials, or a bad, expired or revoked token or API key", framework=True
)
class Unauthorized(ServiceError):
    pass


@registered(
    "FORBIDDEN", 403, "no", "The caller's role may not do this, or the resource is someone else's", framework=True
)
class Forbidden(ServiceError):
    pass


@registered("NOT_FOUND", 404, "no", "No such route, id, or (for quotes) it expired", framework=True)
class NotFound(ServiceError):
    pass


@registered("CONFLICT", 409, "after change", "The request clashes with the current state")
class Conflict(ServiceError):
    pass


@registered("DUPLICATE_KEY", 409, "no", "A unique value (SKU, code, key, username) is taken")
class DuplicateKey(Conflict):
    pass


@registered(
    "IDEMPOTENCY_IN_PROGRESS",
    409,
    "yes",
    "A request with this Idempotency-Key is still being processed; send it again after Retry-After to get its result",
    retry_after=1,
)
class IdempotencyInProgress(Conflict):
    pass


@registered(
    "INSUFFICIENT_STOCK",
    409,
    "after change",
    "Not enough catalog stock (stock less the units held for other quotes); nothing was deducted or held",
)
class InsufficientStock(Conflict):
    pass


@registered(
    "HOLD_LIMIT_EXCEEDED",
    409,
    "after change",
    "The customer would hold more than MAX_HELD_UNITS_PER_PRODUCT units of a product or more than "
    "MAX_ACTIVE_RESERVATIONS live reservations; nothing was held",
)
class HoldLimitExceeded(Conflict):
    pass


@registered("PRODUCT_UNAVAILABLE", 409, "after change", "A product of the basket is inactive")
class ProductUnavailable(Conflict):
    pass


@registered("EDIT_EXPIRED", 410, "no", "The order edit's preview is past its expires_at: preview the edit again")
class Gone(ServiceError):
    pass


@registered("VALIDATION_FAILED", 422, "after change", "Well-formed but invalid values; details name each field")
class ValidationFailed(ServiceError):
    pass


@registered(
    "CURRENCY_MISMATCH",
    422,
    "after change",
    "A catalog product's currency differs from the quote's (quotes answer CURRENCY_NOT_PRICED)",
)
class CurrencyMismatch(ValidationFailed):
    pass


@registered(
    "CURRENCY_NOT_PRICED",
    422,
    "after change",
    "No price list open to this customer and channel, nor the catalog, prices a product in the quote's currency",
)
class CurrencyNotPriced(CurrencyMismatch):
    pass


@registered(
    "FX_RATE_MISSING",
    422,
    "after change",
    "FX_CONVERSION is on, but no exchange rate converts an item's price into the quote's currency",
)
class FxRateMissing(CurrencyMismatch):
    pass


@registered("CLIENT_PRICE_NOT_ALLOWED", 422, "no", "A user quoted an item it priced itself")
class ClientPriceNotAllowed(ValidationFailed):
    pass


@registered(
    "QUANTITY_RULE",
    422,
    "after change",
    "An item's quantity breaks its quantity rules (min_qty, max_qty, step, max_per_customer); each detail "
    "says what is allowed. 409 when an order finds the customer's limit reached since its quote",
)
class QuantityRuleBroken(ValidationFailed):
    pass


@answered_also("QUANTITY_RULE")
class QuantityLimitReached(Conflict):
    """An order whose customer reached a per-customer limit since the quote (409 QUANTITY_RULE)."""


@registered(
    "PAYOUT_UNREACHABLE",
    422,
    "after change",
    "No price pays the seller the target payout asked for (its commission takes all of any more)",
)
class PayoutUnreachable(ValidationFailed):
    pass


@registered(
    "RATE_LIMITED",
    429,
    "yes",
    "Too many requests from this client, or too many failed logins for this account or from this address; "
    "wait Retry-After seconds",
    retry_after=1,
    framework=True,
)
class RateLimited(ServiceError):
    pass


@registered(
    "OVERLOADED",
    503,
    "yes",
    "Too many quotes (or password checks at login) in flight in this process; wait Retry-After",
    retry_after=1,
)
class Overloaded(ServiceError):
    pass


@registered(
    "DEPENDENCY_UNAVAILABLE",
    503,
    "yes",
    "PostgreSQL or Redis is unreachable (or the quote log's spool on local disk refused a write); nothing was changed",
    retry_after=2,
)
class DependencyUnavailable(ServiceError):
    pass


@registered(
    "EXTENSION_UNAVAILABLE",
    503,
    "yes",
    "A tax or shipping extension with on_failure reject did not answer usably in time (docs/extensions.md); "
    "nothing was stored",
    retry_after=5,
)
class ExtensionUnavailable(ServiceError):
    pass


@registered("QUOTE_TIMEOUT", 504, "yes", "The quote took longer than QUOTE_TIMEOUT; nothing was stored")
class QuoteTimeout(ServiceError):
    pass


also(
    RateLimited,
    "SIMULATIONS_BUSY",
    "yes",
    "MAX_CONCURRENT_SIMULATIONS what-if simulations are running in this process already; wait Retry-After seconds",
)
also(Conflict, "VERSION_CONFLICT", "after change", "Another version of the pricing rule landed first")
also(Conflict, "OFFER_EXISTS", "no", "The seller already has an active offer of the product (or is its own seller)")
also(Conflict, "RULE_RETIRED", "no", "The pricing rule was retired; POST it again to reinstate it")
also(Conflict, "QUOTE_EXPIRED", "after change", "The quote is unknown or past valid_until: quote again")
also(
    Conflict,
    "QUOTE_ALREADY_ORDERED",
    "no",
    "The quote was ordered under another Idempotency-Key (or, releasing its reservation: it was ordered)",
)
also(Conflict, "IDEMPOTENCY_CONFLICT", "no", "The Idempotency-Key was used with a different body")
also(Conflict, "COUPON_EXHAUSTED", "no", "A single-use coupon code was already used by another order")
also(Conflict, "COUPON_LIMIT_REACHED", "after change", "A coupon reached its usage or per-customer limit")
also(
    Conflict,
    "PROMOTION_LIMIT_REACHED",
    "after change",
    "An applied promotion reached its usage limit or its limit per customer: quote again",
)
also(
    Conflict,
    "PROMOTION_BUDGET_EXHAUSTED",
    "after change",
    "What is left of an applied promotion's budget cannot cover its discount: quote again",
)
also(
    Conflict, "CHANGE_CONFLICT", "no", "The change request's entity changed since it was made, or it no longer applies"
)
also(
    Conflict,
    "CHANGE_NOT_PENDING",
    "no",
    "The change request was already decided: approved (for an approval), applied, rejected, conflicted or failed",
)
also(
    Conflict,
    "LAST_ADMIN",
    "after change",
    "The change would leave no active admin user: make or keep another admin first",
)
also(
    Forbidden,
    "SELF_APPROVAL",
    "no",
    "The author of a change request, or a key or user acting for them, cannot approve it: another admin must",
)
also(
    Forbidden,
    "DUPLICATE_APPROVAL",
    "no",
    "This person (or a key or user acting for them) has approved the change request already: another must",
)
also(Conflict, "PAYOUT_NOT_PENDING", "no", "The payout was marked the other way already (paid or failed)")
also(Conflict, "INVALID_SALE_STATE", "no", "The flash sale's state does not allow this change")
also(Conflict, "FLASH_SALE_OVERLAP", "after change", "The product is already in a sale during that window")
also(Conflict, "CAMPAIGN_OVERLAP", "after change", "The product already has an active campaign")
also(Conflict, "CAMPAIGN_NOT_ACTIVE", "no", "The campaign has already ended")
also(
    Conflict,
    "PRICE_CHANGED",
    "after change",
    "The price is not the one expected (expected_unit_price; a decision's old price)",
)
also(Conflict, "SOLD_OUT", "after change", "Not enough flash-sale units left for the quantity; nothing sold")
also(Conflict, "PURCHASE_LIMIT_EXCEEDED", "no", "The customer's per-user limit would be exceeded")
also(Conflict, "REFUND_EXCEEDS_ORDER", "after change", "More units (or fees) asked back than remain unrefunded")
also(Conflict, "ORDER_CLOSED", "no", "The order is cancelled or fully refunded")
also(
    Conflict,
    "CANCEL_NOT_ALLOWED",
    "no",
    "The order cannot be cancelled: a refund was made, or the cancel window has passed",
)
also(
    Conflict,
    "ORDER_NOT_EDITABLE",
    "no",
    "The order is cancelled or fully refunded (for a shopper: not confirmed, or past ORDER_EDIT_WINDOW_MINUTES)",
)
also(
    Conflict,
    "ORDER_CHANGED",
    "after change",
    "The order changed since the edit was previewed (another edit, a refund, a cancel): preview it again",
)
also(
    Conflict,
    "ORDER_TERMS_UNKNOWN",
    "no",
    "The order was placed before orders kept their pricing terms (or its quote's request is gone): it cannot be edited",
)
also(Conflict, "EDIT_EXCEEDS_ORDER", "after change", "An edit removes more units of a product than the order holds")
also(Conflict, "SALE_NOT_ACTIVE", "after change", "The sale is not active (not started or ended) or lacks it")
also(
    Conflict,
    "WEBHOOK_DELIVERY_PENDING",
    "no",
    "The webhook delivery is still pending: it is being sent (and retried) already",
)

also(
    Conflict,
    "SESSION_COMPLETED",
    "no",
    "The checkout session is completed already: it changes no more (docs/agents.md)",
)
also(Conflict, "SESSION_CANCELED", "no", "The checkout session was canceled: it changes no more (docs/agents.md)")
also(Gone, "SESSION_EXPIRED", "no", "The checkout session is past its expires_at (CHECKOUT_SESSION_TTL): start another")

edge("MALFORMED_REQUEST", 400, "no", "The body is not valid JSON (or not UTF-8), or is missing", framework=True)
edge("METHOD_NOT_ALLOWED", 405, "no", "The route exists but not with this method (see Allow)", framework=True)
edge(
    "REQUEST_TIMEOUT",
    408,
    "yes",
    "The body did not arrive within BODY_READ_TIMEOUT; connection closed",
    framework=True,
)
edge("PAYLOAD_TOO_LARGE", 413, "no", "The body is over the route's limit: 1 MiB, more on bulk routes", framework=True)
edge("UNSUPPORTED_MEDIA_TYPE", 415, "after change", "The body is not sent as application/json", framework=True)
edge("CLIENT_DISCONNECTED", 499, "yes", "The client hung up mid-body (logged and counted only)")
edge("SERVICE_UNAVAILABLE", 503, "yes", "The server cannot take the request now", framework=True)
edge("HTTP_ERROR", 0, "no", "Any other HTTP error status the framework produces")

_FRAMEWORK_CODES = {row.status: row.code for row in REGISTRY.values() if row.framework}


def framework_code(status: int) -> str:
    """The code for a framework error of this status (an unknown route's 404, a 405, a 413...)."""
    return _FRAMEWORK_CODES.get(status, "HTTP_ERROR")


def invalid(field: str, message: str) -> ValidationFailed:
    """A 422 for a single bad field."""
    return ValidationFailed(f"{field}: {message}", details=[FieldError(field, message)])
