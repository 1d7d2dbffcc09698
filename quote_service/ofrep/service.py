"""OFREP over the one flag evaluator: a request's context in, OpenFeature resolution details out.

No evaluator of its own: `CompiledFlag.evaluate` from the configuration snapshot answers, exactly
as it does for quotes (the targetingKey is the customer id a quote buckets by), so the same
customer gets the same bucket and variant here as in its quotes.

The context (`{"context": {"targetingKey": ..., ...attributes}}`) becomes an EvaluationContext:
`targetingKey` → the user id and the `customer_id` attribute; `customer_segment` → the segment
the flag's segment list checks; `city`, `country` → the places its regions check; every
attribute (nested objects flattened to dotted names, `{"context": {"channel": "web"}}` →
`context.channel`) → what its rules read. A context naming no `customer_group` is in the
caller's own (a service key's group), as the caller's quotes are.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from time import perf_counter_ns
from typing import Any

import msgspec

from quote_service.observability import flag_timing
from quote_service.ofrep.schemas import ENCODER, Bulk, ErrorCode, Evaluation, Failure
from quote_service.pricing.flags import CompiledFlag, EvaluationContext, FlagEvaluation, FlagSet

_DECODER = msgspec.json.Decoder(float_hook=Decimal)
MAX_TARGETING_KEY = 256
TARGETING_KEY = "targetingKey"


class OfrepError(Exception):
    """A request OFREP refuses: its status, error code and details."""

    def __init__(self, status: int, code: ErrorCode, details: str) -> None:
        super().__init__(details)
        self.status, self.code, self.details = status, code, details


def _flatten(values: dict[str, Any], prefix: str, into: dict[str, Any]) -> None:
    for name, value in values.items():
        if isinstance(value, dict):
            _flatten(value, f"{prefix}{name}.", into)
        else:
            into[f"{prefix}{name}"] = value


def parse_context(body: bytes, *, customer_group: str | None = None) -> EvaluationContext:
    """The evaluation context of an OFREP request body (`customer_group`: the caller's own, for a
    context that names none); OfrepError (400) when it is not one."""
    try:
        document = _DECODER.decode(body) if body.strip() else None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise OfrepError(400, "PARSE_ERROR", f"the body is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise OfrepError(400, "PARSE_ERROR", 'the body must be a JSON object: {"context": {...}}')
    context = document.get("context", {})
    if not isinstance(context, dict):
        raise OfrepError(400, "INVALID_CONTEXT", "context must be an object")
    key = context.get(TARGETING_KEY)
    if TARGETING_KEY in context and not isinstance(key, str):
        raise OfrepError(400, "INVALID_CONTEXT", "context.targetingKey must be a string")
    if key is not None and len(key) > MAX_TARGETING_KEY:
        raise OfrepError(400, "INVALID_CONTEXT", f"context.targetingKey must be at most {MAX_TARGETING_KEY} characters")
    attributes: dict[str, Any] = {}
    _flatten({name: value for name, value in context.items() if name != TARGETING_KEY}, "", attributes)
    user_id = key or None  # an empty key is no key (the OpenFeature SDKs send none rather than "")
    if user_id is not None:
        attributes["customer_id"] = user_id
    if attributes.get("customer_group") is None:
        attributes["customer_group"] = customer_group
    segment, city, country = (attributes.get(name) for name in ("customer_segment", "city", "country"))
    return EvaluationContext(
        user_id=user_id,
        user_segment=segment if isinstance(segment, str) else None,
        city=city if isinstance(city, str) else None,
        country=country if isinstance(country, str) else None,
        attributes={name: value for name, value in attributes.items() if value is not None},
    )


def _answer(flag: CompiledFlag, result: FlagEvaluation) -> Evaluation | Failure:
    if flag.lacked_targeting_key(result):
        details = f"flag {result.key!r} splits users by a targeting key and the context has none"
        return Failure(key=result.key, error_code="TARGETING_KEY_MISSING", error_details=details)
    return Evaluation(
        key=result.key,
        value=msgspec.UNSET if result.value is None else result.value,
        reason=result.reason,
        variant=result.variant,
        metadata={"enabled": result.enabled, "type": flag.flag.type},
    )


def evaluate_one(flags: FlagSet, key: str, ctx: EvaluationContext, now: datetime) -> Evaluation:
    """One flag's resolution; OfrepError 404 for an unknown flag, 400 when it needs a targeting key."""
    flag = flags.compiled_flag(key)
    if flag is None:
        raise OfrepError(404, "FLAG_NOT_FOUND", f"flag {key!r} was not found")
    started = perf_counter_ns()
    result = flag.evaluate(ctx, now)
    flag_timing.record("ofrep", perf_counter_ns() - started)
    answer = _answer(flag, result)
    if isinstance(answer, Failure):
        raise OfrepError(400, answer.error_code, answer.error_details)
    return answer


def evaluate_all(flags: FlagSet, ctx: EvaluationContext, now: datetime) -> bytes:
    """Every flag's resolution (or failure) for `ctx`, in key order, as the JSON body."""
    started = perf_counter_ns()
    results = [(flag, flag.evaluate(ctx, now)) for flag in flags.compiled]
    flag_timing.record("ofrep", perf_counter_ns() - started)
    return ENCODER.encode(Bulk(flags=[_answer(flag, result) for flag, result in results]))


def etag(body: bytes) -> str:
    """A strong ETag of a bulk answer: equal bodies, equal tags (whatever the configuration version)."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def matches(if_none_match: str | None, tag: str) -> bool:
    """Whether an If-None-Match header names `tag` (weak comparison, lists and * included)."""
    if not if_none_match:
        return False
    candidates = [candidate.strip() for candidate in if_none_match.split(",")]
    return any(candidate in ("*", tag, f"W/{tag}") for candidate in candidates)
