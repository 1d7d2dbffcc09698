"""The shared table of feature-flag evaluations (tests/fixtures/flag_evaluations.json), typed.

One table, read by the unit test of the evaluator and by the HTTP test of the evaluate endpoint,
so that every way of evaluating a flag answers the same documented cases.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from quote_service.pricing.flags import EvaluationContext, FeatureFlag, FlagEvaluation

TABLE = Path(__file__).parent / "fixtures" / "flag_evaluations.json"


class FlagCase(msgspec.Struct, frozen=True, kw_only=True):
    """One row: the flag (as the API takes it), who asks, when, and the answer."""

    flag: str
    context: dict[str, str]
    expect: dict[str, Any]
    attributes: dict[str, Any] = {}
    """The context's attributes, read by targeting rules."""
    now: datetime | None = None
    ofrep: str | None = None
    """The error code OFREP answers with instead, where it differs (TARGETING_KEY_MISSING)."""

    def all_attributes(self) -> dict[str, Any]:
        """`attributes` with customer_id and customer_segment: the user_id and user_segment, when given."""
        named = {"customer_id": self.context.get("user_id"), "customer_segment": self.context.get("user_segment")}
        return {**self.attributes, **{name: value for name, value in named.items() if value is not None}}

    def evaluation_context(self) -> EvaluationContext:
        """The context as the evaluate endpoint builds it: `region` matched as a city or a country."""
        region = self.context.get("region")
        return EvaluationContext(
            user_id=self.context.get("user_id"),
            user_segment=self.context.get("user_segment"),
            city=region,
            country=region,
            attributes=self.all_attributes(),
        )

    def ofrep_context(self) -> dict[str, Any]:
        """The same context as an OFREP request's `context`."""
        context: dict[str, Any] = dict(self.attributes)
        named = {
            "targetingKey": self.context.get("user_id"),
            "customer_segment": self.context.get("user_segment"),
            "city": self.context.get("region"),
            "country": self.context.get("region"),
        }
        context.update({name: value for name, value in named.items() if value is not None})
        return context

    def expected(self) -> FlagEvaluation:
        return FlagEvaluation(key=self.flag, **self.expect)


class FlagTable(msgspec.Struct, frozen=True, kw_only=True):
    about: str
    now: datetime
    flags: list[dict[str, Any]]
    cases: list[FlagCase]

    def flag(self, key: str) -> FeatureFlag:
        """The flag named `key` as the engine reads it."""
        body = next(body for body in self.flags if body["key"] == key)
        fields = {name: value for name, value in body.items() if name != "unit_only"}
        return msgspec.convert(fields, FeatureFlag)

    def api_bodies(self) -> list[dict[str, Any]]:
        """The flags the API can create, as create bodies."""
        return [
            {"name": body["key"], **{k: v for k, v in body.items() if k != "unit_only"}}
            for body in self.flags
            if "unit_only" not in body
        ]

    def api_cases(self) -> list[FlagCase]:
        """The cases an HTTP test can ask at any instant: the flag exists over the API and no `now` is set."""
        creatable = {body["key"] for body in self.api_bodies()}
        return [case for case in self.cases if case.now is None and case.flag in creatable]


def load() -> FlagTable:
    """The table, numbers as exact decimals."""
    return msgspec.json.Decoder(FlagTable, float_hook=Decimal).decode(TABLE.read_bytes())
