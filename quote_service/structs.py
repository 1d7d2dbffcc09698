"""The two shapes most of the service's msgspec structs take, declared once.

`Frozen`: immutable, every field keyword-only (the API's answers, the engine's values). `Strict`: a
`Frozen` that refuses unknown fields (the request bodies: a misspelt field is a 400, not ignored).
A subclass is frozen and keyword-only without saying so (its own fields too: msgspec applies
`kw_only` only to the fields of the class that names it, hence the metaclass) and may add options
of its own (`class Gift(Strict, tag="GIFT")`). The wire format is the fields', in their order: a
struct declared on either base encodes, decodes and documents as it did declared on `msgspec.Struct`.
"""

from __future__ import annotations

from typing import Any, dataclass_transform

import msgspec


class _FrozenKwOnly(msgspec.StructMeta):
    """Makes every subclass frozen and keyword-only unless it says otherwise."""

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **options: Any) -> _FrozenKwOnly:
        options.setdefault("frozen", True)
        options.setdefault("kw_only", True)
        return super().__new__(mcls, name, bases, namespace, **options)


# For type checkers: the subclasses' fields are keyword-only and read-only, as the metaclass makes them.
@dataclass_transform(field_specifiers=(msgspec.field,), frozen_default=True, kw_only_default=True)
class Frozen(msgspec.Struct, metaclass=_FrozenKwOnly, frozen=True, kw_only=True):
    """An immutable struct whose fields are keyword-only."""


class Strict(Frozen, forbid_unknown_fields=True):
    """A request body: `Frozen`, and a field it does not declare is refused."""
