"""Who a flag is evaluated for: the evaluation context of the evaluate endpoint and of OFREP.

The same attributes as a quote's (pricing/attributes.py). `customer_id` is the user id the
rollout buckets by, `customer_segment` the segment the segment list checks; a `user` caller is
always evaluated as itself: its customer attributes come from its account, never from the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quote_service.auth.schemas import Principal
from quote_service.errors import FieldError, ValidationFailed
from quote_service.pricing.flags import EvaluationContext

CUSTOMER_ATTRIBUTES = ("customer_id", "customer_tier", "customer_segment", "customer_group")


def _same(stated: str, own: str | None) -> bool:
    return own is not None and stated.strip().casefold() == own.strip().casefold()


def check_own(principal: Principal, *, user_id: str | None, user_segment: str | None) -> None:
    """A user may not be evaluated as someone else: 422 naming each field that differs from its account."""
    if principal.role != "user":
        return
    problems = []
    if user_id is not None and user_id != str(principal.id):
        problems.append(FieldError("user_id", "a user is evaluated as itself (its own id); leave it out"))
    if user_segment is not None and not _same(user_segment, principal.segment):
        own = principal.segment or "none"
        problems.append(FieldError("user_segment", f"a user's segment comes from its account ({own}); leave it out"))
    if problems:
        raise ValidationFailed("; ".join(f"{p.field}: {p.message}" for p in problems), details=problems)


def build_context(
    principal: Principal,
    *,
    user_id: str | None,
    user_segment: str | None,
    city: str | None,
    country: str | None,
    attributes: Mapping[str, Any] | None,
) -> EvaluationContext:
    """The context to evaluate in (call `check_own` first for a body a user sent)."""
    merged = dict(attributes or {})
    if principal.role == "user":
        user_id, user_segment = str(principal.id), principal.segment
        for name in CUSTOMER_ATTRIBUTES:
            merged.pop(name, None)
        merged.update({"customer_tier": principal.tier, "customer_segment": principal.segment})
    if user_id is not None:
        merged["customer_id"] = user_id
    if user_segment is not None:
        merged["customer_segment"] = user_segment
    return EvaluationContext(
        user_id=user_id,
        user_segment=user_segment,
        city=city,
        country=country,
        attributes={name: value for name, value in merged.items() if value is not None},
    )
