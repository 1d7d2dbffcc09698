"""The domain error tree. Each error carries its HTTP status and stable code.

    ServiceError                         500 INTERNAL_ERROR
    ├── MalformedRequest                 400 MALFORMED_REQUEST
    ├── Unauthorized                     401 UNAUTHORIZED
    ├── Forbidden                        403 FORBIDDEN
    ├── NotFound                         404 NOT_FOUND
    ├── Conflict                         409 CONFLICT (and every state-conflict code)
    │   ├── DuplicateKey                 409 DUPLICATE_KEY
    │   ├── InsufficientStock            409 INSUFFICIENT_STOCK
    │   └── ProductUnavailable           409 PRODUCT_UNAVAILABLE (an inactive catalog product)
    ├── ValidationFailed                 422 VALIDATION_FAILED (one detail per bad field)
    │   ├── CurrencyMismatch             422 CURRENCY_MISMATCH
    │   └── ClientPriceNotAllowed        422 CLIENT_PRICE_NOT_ALLOWED (a user's request-priced line)
    ├── RateLimited                      429 RATE_LIMITED      (Retry-After)
    ├── Overloaded                       503 OVERLOADED        (Retry-After)
    ├── DependencyUnavailable            503 DEPENDENCY_UNAVAILABLE (Retry-After)
    └── QuoteTimeout                     504 QUOTE_TIMEOUT

Services raise these; the HTTP edge (`quote_service.web.errors`) renders the envelope.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec


class FieldError(msgspec.Struct, frozen=True):
    """One bad value: `field` is a path such as `items[0].quantity`."""

    field: str
    message: str


class ServiceError(Exception):
    """Base of every error the service answers deliberately."""

    status_code: int = 500
    code: str = "INTERNAL_ERROR"
    retry_after: int | None = None

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


class MalformedRequest(ServiceError):
    status_code = 400
    code = "MALFORMED_REQUEST"


class Unauthorized(ServiceError):
    status_code = 401
    code = "UNAUTHORIZED"


class Forbidden(ServiceError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(ServiceError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(ServiceError):
    status_code = 409
    code = "CONFLICT"


class DuplicateKey(Conflict):
    code = "DUPLICATE_KEY"


class InsufficientStock(Conflict):
    code = "INSUFFICIENT_STOCK"


class ProductUnavailable(Conflict):
    code = "PRODUCT_UNAVAILABLE"


class ValidationFailed(ServiceError):
    status_code = 422
    code = "VALIDATION_FAILED"


class CurrencyMismatch(ValidationFailed):
    code = "CURRENCY_MISMATCH"


class ClientPriceNotAllowed(ValidationFailed):
    code = "CLIENT_PRICE_NOT_ALLOWED"


class RateLimited(ServiceError):
    status_code = 429
    code = "RATE_LIMITED"
    retry_after = 1


class Overloaded(ServiceError):
    status_code = 503
    code = "OVERLOADED"
    retry_after = 1


class DependencyUnavailable(ServiceError):
    status_code = 503
    code = "DEPENDENCY_UNAVAILABLE"
    retry_after = 2


class QuoteTimeout(ServiceError):
    status_code = 504
    code = "QUOTE_TIMEOUT"


def invalid(field: str, message: str) -> ValidationFailed:
    """A 422 for a single bad field."""
    return ValidationFailed(f"{field}: {message}", details=[FieldError(field, message)])
