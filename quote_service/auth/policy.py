"""What a caller may state about itself, and what it may do with what another caller made.

Quotes, flag evaluations and price look-ups take a customer's id, tier and segment from the
account of a `user` caller (a shopper's token); the request may repeat them, never change them.
Service keys and admins speak for any customer.

A quote, and the stock it holds, belongs to the caller that made it: only that caller (the same
user, or the same API key) or an admin may read it, order it, release its hold or move its hold
to a new quote (`acts_for`). To anyone else it does not exist (404, as an unknown id).
"""

from __future__ import annotations

from uuid import UUID

from quote_service.auth.schemas import Principal
from quote_service.errors import FieldError, invalid

Maker = tuple[str, UUID]
"""Who made something: the principal's kind (`user` or `api_key`) and id."""


def acts_for(caller: Principal, maker: Maker | None) -> bool:
    """Whether `caller` may read or act on what `maker` made: the maker itself or an admin. A maker
    that was not recorded (None: a quote stored by an earlier release) leaves admins only."""
    return caller.role == "admin" or maker == (caller.kind, caller.id)


def same_label(stated: str, own: str | None) -> bool:
    """Whether `stated` names the account's own tier or segment (`own`)."""
    # Tiers and segments match case-insensitively in rules and flags, so "GOLD" is a gold user's own tier.
    return own is not None and stated.strip().casefold() == own.strip().casefold()


def foreign_labels(stated: list[tuple[str, str, str | None, str | None]]) -> list[FieldError]:
    """A FieldError for each (field, label, stated, own) whose stated value is not the account's own."""
    return [
        FieldError(field, f"a user's {label} comes from its account ({own or 'none'}); leave it out")
        for field, label, value, own in stated
        if value is not None and not same_label(value, own)
    ]


def check_seller_binding(role: str, seller_id: str | None) -> None:
    """422 naming `seller_id` unless a `seller` account names its seller and no other role names one."""
    if role == "seller" and seller_id is None:
        raise invalid("seller_id", "is required with the seller role: the seller this account acts for")
    if role != "seller" and seller_id is not None:
        raise invalid("seller_id", f"only a seller account has a seller_id (this one's role is {role})")
