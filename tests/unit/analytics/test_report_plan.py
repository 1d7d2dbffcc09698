"""Which source sums which hours of a report (analytics.service.Plan; docs/time-zones.md): the
daily rollups, the hourly rollups, live hours and live pieces tile the period up to the current
hour exactly once, and nothing a bound cuts comes from a rollup."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest

from quote_service.analytics.service import Plan
from quote_service.periods import local_days, parse_period

HOUR = timedelta(hours=1)
NOW = datetime(2026, 3, 30, 10, 20, tzinfo=UTC)


def tiles(plan: Plan, dirty: list[datetime]) -> list[tuple[datetime, datetime, str]]:
    """Every span the plan reads, with its source."""
    found: list[tuple[datetime, datetime, str]] = []
    if plan.daily is not None:
        first, after, skipped = plan.daily
        for n in range(first.toordinal(), after.toordinal()):
            day = date.fromordinal(n)
            if day not in skipped:
                start = datetime(day.year, day.month, day.day, tzinfo=UTC)
                found.append((start, start + timedelta(days=1), "daily"))
    found += [(hour, hour + HOUR, "hourly") for hour in plan.hourly]
    found += [(hour, hour + HOUR, "live") for hour in plan.live]
    found += [(a, b, "piece") for _, a, b in plan.pieces]
    return sorted(found)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Istanbul", "Asia/Kolkata", "Asia/Kathmandu", "Europe/Berlin"])
def test_the_sources_tile_the_period_once_and_no_rollup_crosses_a_day(zone: str) -> None:
    rng = random.Random(zone)
    for _ in range(200):
        if rng.random() < 0.5:
            first = date(2026, 3, 20) + timedelta(days=rng.randrange(10))
            period = local_days(first, first + timedelta(days=rng.randrange(5)), zone)
        else:
            a, b = sorted(NOW - timedelta(minutes=rng.randrange(1, 8 * 24 * 60)) for _ in range(2))
            period = parse_period(a.isoformat(), (b + HOUR).isoformat(), zone, default_zone="UTC", now=NOW)
        by_day = rng.random() < 0.7
        bounds = list(period.day_starts) if by_day else [period.start, period.end]
        current = NOW.replace(minute=0)
        dirty = sorted({current - HOUR * rng.randrange(1, 24 * 10) for _ in range(rng.randrange(6))})
        plan = Plan(bounds, dirty=dirty, current=current)

        read = tiles(plan, dirty)
        for (_, end, _), (start, _, _) in pairwise(read):
            assert end <= start, "two sources read the same time"
        covered = sum((b - a for a, b, _ in read), timedelta())
        upto = min(period.end, current + HOUR)
        assert covered == max(upto - period.start, timedelta()), (zone, bounds[0], bounds[-1])
        for a, b, source in read:
            assert period.start <= a < b <= max(period.end, a)
            # What a rollup gives in one sum lies in one of the report's spans.
            assert plan.day_index(a) == plan.day_index(b - timedelta(microseconds=1)), (source, a, b)
            if source in ("daily", "hourly"):
                assert b <= current
                assert a not in dirty or source == "daily"


def test_whole_hour_zones_read_no_raw_rows_of_settled_hours() -> None:
    istanbul = local_days(date(2026, 3, 1), date(2026, 3, 28), "Europe/Istanbul")
    plan = Plan(list(istanbul.day_starts), dirty=[], current=NOW.replace(minute=0))
    assert (plan.live, plan.pieces, plan.daily) == ([], [], None)  # midnight is 21:00 UTC: hours only
    utc = local_days(date(2026, 3, 1), date(2026, 3, 28), "UTC")
    plan = Plan(list(utc.day_starts), dirty=[], current=NOW.replace(minute=0))
    assert (plan.live, plan.pieces, plan.hourly) == ([], [], [])  # days only
    kolkata = local_days(date(2026, 3, 1), date(2026, 3, 28), "Asia/Kolkata")
    plan = Plan(list(kolkata.day_starts), dirty=[], current=NOW.replace(minute=0))
    assert len(plan.pieces) == 2 * 28  # 18:00-18:30 and 18:30-19:00 UTC of each day, from the raw rows
