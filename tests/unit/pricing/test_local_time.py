"""Local time in IANA zones: names, the first instant of a local time, local days (docs/time-zones.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from quote_service.pricing.local_time import day_start, first_instant, wall_clock, zone, zone_problem


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("name", ["UTC", "Europe/Istanbul", "America/New_York", "Asia/Kolkata", "Etc/GMT-3"])
def test_iana_names_are_known(name: str) -> None:
    assert zone_problem(name) is None
    assert zone(name).utcoffset(datetime(2025, 6, 2)) is not None


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "europe/istanbul", "Europe/Istanbul ", "+03:00", "../etc/passwd"])
def test_other_names_are_not(name: str) -> None:
    assert zone_problem(name)
    with pytest.raises(ValueError, match="time zone"):
        zone(name)


@pytest.mark.parametrize(
    "name",
    ["localtime", "Factory", "posixrules", "UTC0", "posix/Europe/Istanbul", "right/UTC", "Turkey", "EST", "GMT",
     "US/Eastern", "Etc"],
)  # fmt: skip
def test_names_in_the_database_that_are_no_region_are_refused(name: str) -> None:
    """`localtime` is whatever zone the machine is set to, `Factory` a placeholder, `posixrules` a
    template: none names a region, so none may set a rule's or a report's clock (docs/http.md)."""
    assert zone_problem(name) == (
        f"unknown time zone {name!r}: expected an IANA region name such as Europe/Istanbul, or UTC"
    )


@pytest.mark.parametrize("name", ["UTC", "Etc/UTC", "Etc/GMT+3", "America/Argentina/Buenos_Aires", "Pacific/Auckland"])
def test_region_names_and_utc_are_taken(name: str) -> None:
    assert zone_problem(name) is None


def test_a_local_day_starts_at_its_first_instant() -> None:
    assert day_start(zone("Europe/Istanbul"), date(2025, 6, 2)) == utc("2025-06-01T21:00")
    assert day_start(zone("Asia/Kolkata"), date(2025, 6, 2)) == utc("2025-06-01T18:30")
    assert day_start(zone("America/New_York"), date(2025, 11, 2)) == utc("2025-11-02T04:00")  # EDT still
    assert day_start(zone("America/New_York"), date(2025, 11, 3)) == utc("2025-11-03T05:00")  # EST
    # Chile skips 00:00-00:59 on 2025-09-07: the day starts when the clock shows 01:00 (-03)
    assert day_start(zone("America/Santiago"), date(2025, 9, 7)) == utc("2025-09-07T04:00")


def test_a_skipped_local_time_first_shows_when_the_clock_jumps_past_it() -> None:
    berlin = zone("Europe/Berlin")
    assert first_instant(berlin, datetime(2025, 3, 30, 2, 30)) == utc("2025-03-30T01:00")  # 03:00 CEST
    assert first_instant(berlin, datetime(2025, 3, 30, 3, 0)) == utc("2025-03-30T01:00")
    assert first_instant(berlin, datetime(2025, 10, 26, 2, 30)) == utc("2025-10-26T00:30")  # the first 02:30


def test_the_wall_clock_stands_still_through_a_repeated_hour() -> None:
    berlin = zone("Europe/Berlin")
    assert wall_clock(utc("2025-10-26T00:59:30"), berlin) == datetime(2025, 10, 26, 2, 59, 30)  # CEST
    assert wall_clock(utc("2025-10-26T01:00"), berlin) == datetime(2025, 10, 26, 2, 59, 59)  # 02:00 CET
    assert wall_clock(utc("2025-10-26T01:59:59"), berlin) == datetime(2025, 10, 26, 2, 59, 59)
    assert wall_clock(utc("2025-10-26T02:00"), berlin) == datetime(2025, 10, 26, 3, 0)
    assert wall_clock(utc("2025-06-02T12:00"), zone("UTC")) == datetime(2025, 6, 2, 12, 0)
