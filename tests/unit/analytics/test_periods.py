"""Time query parameters (periods.py, docs/http.md): `from`/`to` are a local date or an RFC 3339
instant with its offset, nothing else; `tz` is an IANA region name. Each refusal names its field."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from quote_service.errors import ValidationFailed
from quote_service.periods import instant_bounds, parse_period, zone_named
from quote_service.pricing.local_time import zone

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
NOT_A_TIME = ["1", "0", "1700000000", "-1", "", " ", "2026-03-10T00:00", "2026-03-10T00:00:00", "20260310",
              "yesterday", "2026-02-30", "1.5"]  # fmt: skip
"""Numbers (once read as seconds since 1970), naive or compact times, words, impossible dates."""


def refused_field(call: object) -> list[str]:
    assert callable(call)
    with pytest.raises(ValidationFailed) as refused:
        call()
    return [detail.field for detail in refused.value.details]


@pytest.mark.parametrize("raw", NOT_A_TIME)
@pytest.mark.parametrize("name", ["from", "to"])
def test_a_list_filter_takes_no_number_or_naive_time(name: str, raw: str) -> None:
    given = {"raw_from": raw if name == "from" else None, "raw_to": raw if name == "to" else None}
    assert refused_field(lambda: instant_bounds(**given, where=UTC)) == [name]


@pytest.mark.parametrize("raw", NOT_A_TIME)
@pytest.mark.parametrize("name", ["from", "to"])
def test_a_report_period_takes_no_number_or_naive_time(name: str, raw: str) -> None:
    given = {"raw_from": raw if name == "from" else None, "raw_to": raw if name == "to" else None}
    assert refused_field(lambda: parse_period(**given, raw_tz=None, default_zone="UTC", now=NOW)) == [name]


def test_local_dates_and_instants_with_an_offset_are_taken() -> None:
    istanbul = zone("Europe/Istanbul")
    assert instant_bounds("2026-03-09", "2026-03-09", istanbul) == (
        datetime(2026, 3, 8, 21, tzinfo=UTC),
        datetime(2026, 3, 9, 21, tzinfo=UTC),
    )
    assert instant_bounds("2026-03-09T21:30:00Z", "2026-03-10T01:30:00+03:00", UTC) == (
        datetime(2026, 3, 9, 21, 30, tzinfo=UTC),
        datetime(2026, 3, 9, 22, 30, tzinfo=UTC),
    )
    period = parse_period("2026-03-01", "2026-03-09T21:30:00Z", "Europe/Istanbul", default_zone="UTC", now=NOW)
    assert (period.first_day, period.last_day) == (date(2026, 3, 1), date(2026, 3, 10))


@pytest.mark.parametrize("name", ["localtime", "Factory", "posixrules"])
def test_a_reports_zone_is_a_region_name(name: str) -> None:
    assert refused_field(lambda: zone_named(name, default="UTC")) == ["tz"]
    assert refused_field(lambda: parse_period(None, None, name, default_zone="UTC", now=NOW)) == ["tz"]
