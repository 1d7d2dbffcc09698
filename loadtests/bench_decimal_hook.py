"""What the strict decimal decode hook costs a request's money field: the fast path against the full rule.

    uv run python loadtests/bench_decimal_hook.py [--calls 200000] [--rounds 7]

No servers. `validation.decode_hook(StrictDecimal, value)` (the fast path for a JSON number, a JSON
integer and plain ASCII text, docs/hot-path.md#decimals-in-requests) against `_strict_decimal` (the
full rule every value took before 2026-11-26), for a JSON number as the decoders hand it over (a
Decimal), the text "25.50" and the integer 25; then a 2-line quote body with both kinds of unit
price decoded by `strict_decoder(QuoteRequest)` through each. Least µs of --rounds (timeit).
"""

from __future__ import annotations

import argparse
import timeit
from decimal import Decimal
from typing import Any

import msgspec

from quote_service.pricing.quote import QuoteRequest
from quote_service.validation import StrictDecimal, _strict_decimal, decode_hook

BODY = (
    b'{"customer_id":"c1","seller_id":"s","currency":"TRY","items":['
    b'{"product_id":"a","quantity":2,"unit_price":25.50,"category_id":"e"},'
    b'{"product_id":"b","quantity":1,"unit_price":"9.90","category_id":"e"}],'
    b'"delivery_address":{"city":"Istanbul","country":"TR","latitude":41.0,"longitude":28.9}}'
)


def full_rule(type_: type, value: Any) -> Any:
    """decode_hook as it was: every decimal through the full rule."""
    if type_ is StrictDecimal:
        return _strict_decimal(value)
    return decode_hook(type_, value)


def least(call: Any, calls: int, rounds: int) -> float:
    return min(timeit.repeat(call, number=calls, repeat=rounds)) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    for value in (Decimal("25.50"), "25.50", 25):
        fast = least(lambda value=value: decode_hook(StrictDecimal, value), args.calls, args.rounds)
        full = least(lambda value=value: full_rule(StrictDecimal, value), args.calls, args.rounds)
        print(f"{type(value).__name__:8} {value!r:18} fast path {fast:.3f} µs, full rule {full:.3f} µs")
    decoders = {
        name: msgspec.json.Decoder(QuoteRequest, float_hook=Decimal, dec_hook=hook)
        for name, hook in (("fast path", decode_hook), ("full rule", full_rule))
    }
    assert decoders["fast path"].decode(BODY) == decoders["full rule"].decode(BODY)
    for name, decoder in decoders.items():
        print(f"2-line body, {name}: {least(lambda d=decoder: d.decode(BODY), args.calls // 4, args.rounds):.2f} µs")


if __name__ == "__main__":
    main()
