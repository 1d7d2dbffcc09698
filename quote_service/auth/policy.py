"""What a `user` caller (a shopper's token) may state about itself: nothing but what its account says.

Quotes, flag evaluations and price look-ups take a customer's id, tier and segment from the
account of a `user` caller; the request may repeat them, never change them. Service keys and
admins speak for any customer.
"""

from __future__ import annotations

from quote_service.errors import FieldError


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
