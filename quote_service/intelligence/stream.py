"""The competitor-price stream: key names, the wire format of an entry, validation, publishing.

Layout (docs/market-intelligence.md): one Redis Stream holds accepted observations, one entry
per observation (field `o`: the observation as a msgspec JSON array); the consumer group
`persisters` reads it, one consumer per process; entries that cannot be stored go to the
dead-letter stream with the error. Both keys share the hash tag `{competitor-prices}`, so in a
Redis Cluster they live on one node and a future script may touch both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

import msgspec

from quote_service.cache.redis import RedisClient
from quote_service.intelligence.schemas import MAX_URL_LENGTH, ObservationRecord, Rejection
from quote_service.pricing.money import fits_minor_units, is_currency

STREAM = "{competitor-prices}:stream"
DEAD_LETTER = "{competitor-prices}:dead"
GROUP = "persisters"
FIELD = b"o"
# Approximate cap (MAXLEN ~): entries are acknowledged within seconds; the cap only bounds
# memory if consumers stop for long. Entries trimmed before being read are lost (documented).
MAX_LENGTH = 1_000_000
DEAD_LETTER_MAX_LENGTH = 100_000

_encoder = msgspec.json.Encoder(decimal_format="string")
_decoder = msgspec.json.Decoder(ObservationRecord)


def encode(record: ObservationRecord) -> bytes:
    return _encoder.encode(record)


def decode(data: bytes) -> ObservationRecord:
    return _decoder.decode(data)


def validate(raw: object, index: int, now: datetime) -> ObservationRecord | Rejection:
    """One observation of a request (or a file line): the record, or the first bad field."""

    def bad(field: str, message: str) -> Rejection:
        return Rejection(index=index, field=field, message=message)

    if not isinstance(raw, dict):
        return bad("", "must be an object")
    unknown = set(raw) - {"product_id", "competitor", "price", "currency", "observed_at", "in_stock", "url"}
    if unknown:
        return bad(sorted(unknown)[0], "unknown field")
    try:
        product_id = UUID(str(raw["product_id"])) if isinstance(raw.get("product_id"), str) else None
    except ValueError:
        product_id = None
    if product_id is None:
        return bad("product_id", "must be a UUID")
    competitor = raw.get("competitor")
    if not isinstance(competitor, str) or not 1 <= len(competitor.strip()) <= 64:
        return bad("competitor", "must be a string of 1 to 64 characters")
    currency = raw.get("currency")
    if not isinstance(currency, str) or not is_currency(currency):
        return bad("currency", "must be an ISO 4217 currency code")
    price = _decimal(raw.get("price"))
    if price is None or not price.is_finite() or price <= 0:
        return bad("price", "must be a positive amount (string or number)")
    if not fits_minor_units(price, currency):
        return bad("price", f"has more decimals than {currency} allows")
    if price >= Decimal("1e15"):
        return bad("price", "is too large")
    observed_at = _time(raw.get("observed_at"))
    if observed_at is None:
        return bad("observed_at", "must be an RFC 3339 time with an offset")
    if (observed_at - now).total_seconds() > 300:
        return bad("observed_at", "is in the future")
    in_stock = raw.get("in_stock")
    if in_stock is not None and not isinstance(in_stock, bool):
        return bad("in_stock", "must be a boolean")
    url = raw.get("url")
    if url is not None and (not isinstance(url, str) or not 1 <= len(url) <= MAX_URL_LENGTH):
        return bad("url", f"must be a string of 1 to {MAX_URL_LENGTH} characters")
    return ObservationRecord(
        product_id=product_id,
        competitor=competitor.strip(),
        price=price,
        currency=currency,
        observed_at=observed_at,
        in_stock=in_stock,
        url=url,
    )


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float):
        value = repr(value) if isinstance(value, float) else str(value)
    if not isinstance(value, str):
        return None
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        return None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = msgspec.convert(value, datetime)
    except msgspec.ValidationError:
        return None
    return parsed if parsed.tzinfo is not None else None


async def publish(redis: RedisClient, records: Sequence[ObservationRecord] | Iterable[ObservationRecord]) -> int:
    """XADD each record (one pipeline round trip), trimming the stream approximately."""
    count = 0
    async with redis.pipeline(transaction=False) as pipe:
        for record in records:
            pipe.xadd(STREAM, {FIELD: encode(record)}, maxlen=MAX_LENGTH, approximate=True)
            count += 1
        if count:
            await pipe.execute()
    return count
