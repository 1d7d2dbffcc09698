"""The quote path's counters of a customer's units (unit_limits/counters.py): what a key holds reads
back as the entries written, with or without the version the compare-and-set appends."""

from __future__ import annotations

from quote_service.cache.versioned import value_of
from quote_service.unit_limits.counters import decoded, encoded, purchases_key
from quote_service.unit_limits.repository import Purchases


def test_entries_read_back_as_written_with_their_version_or_without() -> None:
    purchases = Purchases([(1_700_000_000, 2), (1_700_086_400, 1)], version=3)
    held = f"{encoded(purchases)}:{purchases.version}".encode()

    assert decoded(held) == purchases.entries
    assert decoded(encoded(purchases).encode()) == purchases.entries  # written before versions
    assert decoded(b":4") == []  # nothing bought, at version 4
    assert value_of(b"12:7") == b"12"
    assert value_of(b"12") == b"12"


def test_one_key_per_customer_and_product() -> None:
    assert purchases_key("c-1", "p-9") == "qs:unit-purchases:c-1:p-9"
    assert purchases_key("c-1", "p-9") != purchases_key("c-19", "p-9")
