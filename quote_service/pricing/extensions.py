"""Which tax and shipping extensions a quote calls, and for which of its lines (docs/extensions.md).

An active extension applies to a line when the delivery country is in its `countries` and the line's
seller in its `seller_ids` (an absent list matches all; a line without a seller matches only an
extension without `seller_ids`). Each line is taxed by at most one extension and each seller's shipment
priced by at most one: the oldest that applies. The snapshot holds the book (None when no extension is
active: a quote then pays one `is None` test for the feature). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

import msgspec

Kind = Literal["tax", "shipping"]
OnFailure = Literal["fallback", "reject"]


class Extension(msgspec.Struct, frozen=True, kw_only=True):
    """An active extension as the quote path reads it."""

    id: UUID
    kind: Kind
    url: str
    timeout_ms: int
    countries: frozenset[str] | None
    seller_ids: frozenset[str] | None
    on_failure: OnFailure
    secret: str

    def applies(self, country: str, seller_id: str | None) -> bool:
        """Whether a line of `seller_id` delivered to `country` (upper-case) is this extension's."""
        if self.countries is not None and country not in self.countries:
            return False
        return self.seller_ids is None or (seller_id is not None and seller_id in self.seller_ids)


def _cases(code: str) -> set[str]:
    """`code` in every mix of upper and lower case letters (`DE`, `de`, `De`, `dE`)."""
    forms = {""}
    for letter in code:
        forms = {form + case for form in forms for case in (letter.upper(), letter.lower())}
    return forms


@dataclass(frozen=True)
class Call:
    """One extension a quote calls, with the indexes of the lines it is asked about."""

    extension: Extension
    lines: tuple[int, ...]


class ExtensionBook:
    """The active extensions, oldest first."""

    __slots__ = ("countries", "extensions", "shipping")

    def __init__(self, extensions: Sequence[Extension]) -> None:
        self.extensions = tuple(extensions)
        named = [extension.countries for extension in self.extensions]
        self.countries: frozenset[str] | None = (
            None if None in named else frozenset(case for found in named if found for c in found for case in _cases(c))
        )
        """Every country some extension applies to, in every letter case (a request may write `de`); None when
        one applies everywhere. A quote to another country is not looked at further: it costs no call."""
        self.shipping = any(extension.kind == "shipping" for extension in self.extensions)
        """Some extension offers shipping options (a request's choice may name one of them)."""

    @classmethod
    def of(cls, extensions: Iterable[Extension]) -> ExtensionBook | None:
        """The book of `extensions`; None when there is none (the feature is then off)."""
        found = list(extensions)
        return cls(found) if found else None

    def __len__(self) -> int:
        return len(self.extensions)

    def calls(self, country: str, sellers: Sequence[str | None]) -> list[Call]:
        """The extensions a basket delivered to `country` whose lines have `sellers` calls, each with its
        lines ([]: none applies, and the quote is priced as without extensions)."""
        country = country.strip().upper()
        calls: list[Call] = []
        # Whether an extension applies depends on the seller only, so a seller's lines (its shipment) all go
        # to the same, first, extension of each kind.
        taken: dict[Kind, set[int]] = {"tax": set(), "shipping": set()}
        for extension in self.extensions:
            claimed = taken[extension.kind]
            mine = [
                index
                for index, seller in enumerate(sellers)
                if index not in claimed and extension.applies(country, seller)
            ]
            if mine:
                claimed.update(mine)
                calls.append(Call(extension, tuple(mine)))
        return calls
