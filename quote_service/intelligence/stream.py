"""The competitor-price stream: key names, the wire format of an entry, validation, publishing.

Layout (docs/market-intelligence.md): one Redis Stream holds accepted observations, one entry
per observation (field `o`: the observation as a msgspec JSON array; field `w`: its row in the
PostgreSQL inbox, when it has one); the consumer group `persisters` reads it, one consumer per
process; entries that cannot be stored go to the dead-letter stream with the error. Both keys
share the hash tag `{competitor-prices}`, so in a Redis Cluster they live on one node and a
script may touch both.

`validate` is THE check of an observation: the API, the ingest command and the consumer (on
every entry it reads, whoever wrote it) all call it, then `match_product` against the stored
product. Nothing reaches `competitor_prices` that the API would have refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import msgspec

from quote_service.cache.redis import RedisClient
from quote_service.intelligence.schemas import MAX_URL_LENGTH, ObservationRecord, Rejection
from quote_service.pricing.money import MAX_AMOUNT, fits_minor_units, is_currency
from quote_service.validation import is_decimal_text

STREAM = "{competitor-prices}:stream"
DEAD_LETTER = "{competitor-prices}:dead"
GROUP = "persisters"
FIELD = b"o"
INBOX_FIELD = b"w"
# Approximate cap (MAXLEN ~): entries are acknowledged within seconds; the cap only bounds
# memory if consumers stop for long. An entry trimmed before being read is finished from its
# inbox row (intake.py).
MAX_LENGTH = 1_000_000
DEAD_LETTER_MAX_LENGTH = 100_000
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SECONDS = 300

_encoder = msgspec.json.Encoder(decimal_format="string")
_decoder = msgspec.json.Decoder(ObservationRecord)


def encode(record: ObservationRecord) -> bytes:
    return _encoder.encode(record)


def decode(data: bytes) -> ObservationRecord:
    return _decoder.decode(data)


def validate(raw: object, index: int, now: datetime) -> ObservationRecord | Rejection:
    """One observation of a request (or a file line, or a stream entry): the record, or the first
    bad field. The product itself is checked by `match_product`."""

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
    if not isinstance(competitor, str) or not 1 <= len(competitor.strip()) <= 64 or "\x00" in competitor:
        return bad("competitor", "must be a string of 1 to 64 characters")
    currency = raw.get("currency")
    if not isinstance(currency, str) or not is_currency(currency):
        return bad("currency", "must be an ISO 4217 currency code")
    price = _decimal(raw.get("price"))
    if price is None or not price.is_finite() or price <= 0:
        return bad("price", "must be a positive amount (string or number)")
    if not fits_minor_units(price, currency):
        return bad("price", f"has more decimals than {currency} allows")
    if price >= MAX_AMOUNT:
        return bad("price", "must be below 1e12, the ceiling of every amount")
    observed_at = _time(raw.get("observed_at"))
    if observed_at is None:
        return bad("observed_at", "must be an RFC 3339 time with an offset")
    if observed_at < EARLIEST:
        return bad("observed_at", "must be in the year 2000 or later")
    if (observed_at - now).total_seconds() > FUTURE_SECONDS:
        return bad("observed_at", "is in the future")
    in_stock = raw.get("in_stock")
    if in_stock is not None and not isinstance(in_stock, bool):
        return bad("in_stock", "must be a boolean")
    url = raw.get("url")
    if url is not None and not _web_address(url):
        return bad("url", f"must be an http or https URL of 1 to {MAX_URL_LENGTH} characters")
    return ObservationRecord(
        product_id=product_id,
        competitor=competitor.strip(),
        price=price,
        currency=currency,
        observed_at=observed_at,
        in_stock=in_stock,
        url=url,
    )


def revalidate(record: ObservationRecord, index: int, now: datetime) -> ObservationRecord | Rejection:
    """`validate` on a decoded stream entry: the consumer trusts no writer of the stream."""
    return validate(msgspec.to_builtins(msgspec.structs.asdict(record)), index, now)


def match_product(
    record: ObservationRecord, index: int, currencies: Mapping[UUID, str]
) -> ObservationRecord | Rejection:
    """The observed product must exist and be priced in the observation's currency (a price in
    another currency is not a competitor's price for our market; amounts are never mixed)."""
    currency = currencies.get(record.product_id)
    if currency is None:
        return Rejection(index=index, field="product_id", message="no such product")
    if record.currency != currency:
        return Rejection(index=index, field="currency", message=f"must be the product's currency ({currency})")
    return record


def _web_address(value: Any) -> bool:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_URL_LENGTH or "\x00" in value:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. a malformed IPv6 host
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float):
        value = repr(value) if isinstance(value, float) else str(value)
    if not isinstance(value, str) or not is_decimal_text(value):
        return None
    return Decimal(value)


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
    return await publish_encoded(redis, [(encode(record), None) for record in records])


async def publish_encoded(redis: RedisClient, entries: Sequence[tuple[bytes, int | None]]) -> int:
    """XADD encoded observations, each with its inbox row id when it has one (one round trip)."""
    if not entries:
        return 0
    async with redis.pipeline(transaction=False) as pipe:
        for data, inbox_id in entries:
            fields: dict[Any, Any] = {FIELD: data}
            if inbox_id is not None:
                fields[INBOX_FIELD] = inbox_id
            pipe.xadd(STREAM, fields, maxlen=MAX_LENGTH, approximate=True)
        await pipe.execute()
    return len(entries)
