"""Report periods in a time zone: `from`/`to` as local dates or RFC 3339 instants, and local days.

Analytics, seller statements and the dashboard cut their days at local midnight in `tz` (default
BUSINESS_TIMEZONE; docs/time-zones.md). A period is the half-open span of instants
`[start, end)`: a local date `from` starts at that day's first instant, a local date `to` ends
where the next day starts (the day is included), an instant is taken as it is (`to` excluded).
Its local days are the spans between consecutive local midnights inside it (23 or 25 hours long
on the days clocks change), the first and last cut by instants given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Annotated, TypedDict

import msgspec

from quote_service.errors import FieldError, ValidationFailed, invalid
from quote_service.pricing.local_time import day_start, zone, zone_problem
from quote_service.validation import FIRST_INSTANT, INSTANT_RULE, LAST_INSTANT, storable_instant

DEFAULT_DAYS = 30
MAX_DAYS = 366
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
_AWARE = Annotated[datetime, msgspec.Meta(tz=True)]
_EXPECTED = "expected a date YYYY-MM-DD or an RFC 3339 instant with its offset"


def zone_named(raw: str | None, *, default: str, name: str = "tz") -> tuple[str, tzinfo]:
    """The zone a request names in `name` (else `default`); 422 naming the field when unknown."""
    chosen = default if raw is None else raw
    problem = zone_problem(chosen)
    if problem:
        raise invalid(name, problem)
    return chosen, zone(chosen)


def start_of(where: tzinfo, day: date) -> datetime:
    """The first instant of the local `day`; past the ends of what can be stored, those ends (no
    stored row is outside them, so a span reaching them has every row it would have)."""
    try:
        return day_start(where, day)
    except OverflowError:  # the year 1 east of UTC, the year 9999 west of it
        return FIRST_INSTANT if day.year == 1 else LAST_INSTANT


def _parse(name: str, raw: str) -> date | datetime:
    if _DATE.match(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise invalid(name, _EXPECTED) from None
    try:
        moment = msgspec.convert(raw, _AWARE)
    except msgspec.ValidationError:
        raise invalid(name, _EXPECTED) from None
    if not storable_instant(moment):
        raise invalid(name, INSTANT_RULE)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """A report's span of instants `[start, end)` and the zone whose local days cut it."""

    zone_name: str
    where: tzinfo
    start: datetime
    end: datetime
    first_day: date
    """The local date of `start` (the report's `from`)."""
    last_day: date
    """The local date of the last instant before `end` (the report's `to`)."""
    day_starts: tuple[datetime, ...] = field(init=False, repr=False)
    """`start`, the first instant of each later local day of the period, and `end`: the bounds
    of its days, ascending."""

    def __post_init__(self) -> None:
        days = range(self.first_day.toordinal() + 1, self.last_day.toordinal() + 1)
        bounds = [self.start, *(start_of(self.where, date.fromordinal(n)) for n in days), self.end]
        object.__setattr__(self, "day_starts", tuple(bounds))


class Span(msgspec.Struct, kw_only=True):
    """The period a report covers, as it was read: a report's first fields."""

    from_: date = msgspec.field(name="from")
    """The local date (in `tz`) of the period's first instant."""
    to: date
    """The local date (in `tz`) of the period's last instant."""
    tz: str
    """The time zone whose local days the report is cut in."""
    start: datetime
    """The period's first instant (UTC)."""
    end: datetime
    """The first instant after the period (UTC)."""


class SpanFields(TypedDict):
    from_: date
    to: date
    tz: str
    start: datetime
    end: datetime


def span_fields(period: Period) -> SpanFields:
    """A `Span`'s fields for `period` (as keyword arguments of a report that is one)."""
    return {
        "from_": period.first_day,
        "to": period.last_day,
        "tz": period.zone_name,
        "start": period.start,
        "end": period.end,
    }


def parse_period(
    raw_from: str | None, raw_to: str | None, raw_tz: str | None, *, default_zone: str, now: datetime
) -> Period:
    """The period a report asks for; 422 naming the field for a bad value, `from` after `to`, or
    more than MAX_DAYS local days. Defaults: `to` today (local), `from` DEFAULT_DAYS days ending then."""
    zone_name, where = zone_named(raw_tz, default=default_zone)
    to = _parse("to", raw_to) if raw_to is not None else now.astimezone(where).date()  # `to=` is no date
    if isinstance(to, datetime):
        end = to
        last_day = _local_date(to - timedelta(microseconds=1), where)
    else:
        end, last_day = _after(where, to), to
    default_from = date.fromordinal(max(1, last_day.toordinal() - DEFAULT_DAYS + 1))
    start_raw = _parse("from", raw_from) if raw_from is not None else default_from
    if isinstance(start_raw, datetime):
        start = start_raw
        first_day = _local_date(start_raw, where)
    else:
        start, first_day = start_of(where, start_raw), start_raw
    if start > end or first_day > last_day:
        raise ValidationFailed("from must not be after to", details=[FieldError("from", "must not be after to")])
    if start == end:
        raise invalid("from", "must be before to (the period from an instant to the same instant is empty)")
    if (last_day - first_day).days >= MAX_DAYS:
        raise invalid("from", f"at most {MAX_DAYS} days before to")
    return Period(zone_name, where, start, end, first_day, last_day)


def instant_bounds(
    raw_from: str | None, raw_to: str | None, where: tzinfo, *, names: tuple[str, str] = ("from", "to")
) -> tuple[datetime | None, datetime | None]:
    """A list filter's optional `[from, to)` as instants, read as a report's period is (a local date
    of `where` or an RFC 3339 instant; a date `to` includes its day), without a default or a longest
    span; 422 naming the field (`names`: the query's own names for them) for a bad value, or the
    first for an empty span."""
    start: datetime | None = None
    end: datetime | None = None
    if raw_from is not None:
        parsed = _parse(names[0], raw_from)
        start = parsed if isinstance(parsed, datetime) else start_of(where, parsed)
    if raw_to is not None:
        parsed = _parse(names[1], raw_to)
        end = parsed if isinstance(parsed, datetime) else _after(where, parsed)
    if start is not None and end is not None and start >= end:
        raise invalid(names[0], f"must be before {names[1]} (a local date `{names[1]}` is included)")
    return start, end


def local_days(first: date, last: date, zone_name: str = "UTC") -> Period:
    """The local days `first` to `last` (both included) of the zone `zone_name`."""
    where = zone(zone_name)
    return Period(zone_name, where, start_of(where, first), _after(where, last), first, last)


def _after(where: tzinfo, day: date) -> datetime:
    """The first instant after the local `day`."""
    return start_of(where, day + timedelta(days=1)) if day < date.max else LAST_INSTANT


def utc_period(start: datetime, end: datetime) -> Period:
    """The span [start, end) with UTC days (for figures that are not read by day)."""
    return Period(
        "UTC", UTC, start, end, start.astimezone(UTC).date(), _local_date(end - timedelta(microseconds=1), UTC)
    )


def _local_date(moment: datetime, where: tzinfo) -> date:
    try:
        return moment.astimezone(where).date()
    except OverflowError:
        return date.min if moment.year == 1 else date.max
