"""Local time in IANA zones: names, wall clocks across daylight-saving changes, local days.

Pure (standard library only) so that the engine, the reports and the validation at the edge all
read local time the same way (docs/time-zones.md):

- A zone is an IANA region name (`Europe/Istanbul`, `Etc/UTC`) or `UTC`, from the time-zone database
  Python reads (the `tzdata` package, or the system's); names are exact, case included.
- The **wall clock** a TIME_WINDOW reads at an instant is the local time there, except during the
  second pass of a repeated hour (a clock set back): there it is taken as stopped at the last
  reading before the change. So a window opens the first time the clock reaches its start and
  closes the first time it reaches its end, once each per day, whatever the change does.
- A **local time's first instant** is the earliest instant the clock reads it or later: the
  first of two instants for a repeated reading, the end of the gap for a skipped one. A local
  day starts at the first instant of its 00:00.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MAX_NAME = 64
"""The longest zone name accepted (the longest IANA name is 32 characters)."""
_SECOND = timedelta(seconds=1)
_AREAS = frozenset(
    {"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific", "Etc"}
)
"""The areas of IANA region names (`Area/Location`); `Etc` holds `Etc/UTC` and the fixed offsets."""


@functools.cache
def _known() -> frozenset[str]:
    """Every zone name the database holds (read once: listing it reads the whole directory)."""
    return frozenset(available_timezones())


def zone_problem(name: str) -> str | None:
    """Why `name` is not a time zone this service takes (an IANA region name, or UTC), or None."""
    if not 1 <= len(name) <= MAX_NAME:
        return f"must be an IANA time zone name of 1 to {MAX_NAME} characters"
    area, slash, _ = name.partition("/")
    # The database also holds files that are no region (`localtime`, the machine's own zone;
    # `Factory`; `posixrules`; `posix/...` and `right/...` copies) and legacy aliases (`Turkey`, `EST`).
    if name not in _known() or (name != "UTC" and not (slash and area in _AREAS)):
        return f"unknown time zone {name!r}: expected an IANA region name such as Europe/Istanbul, or UTC"
    return None


@functools.lru_cache(maxsize=512)
def zone(name: str) -> tzinfo:
    """The zone named `name` (ZoneInfo's own cache holds it; this one spares the lookup).

    Raises ValueError for a name the database does not hold (`zone_problem` says why).
    """
    if name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(zone_problem(name) or f"unknown time zone {name!r}") from exc


def wall_clock(now: datetime, where: tzinfo) -> datetime:
    """The naive local reading a time window compares at `now`: the local time, or during the second
    pass of a repeated hour the last reading before the clock was set back (it stays there until
    the clock catches up)."""
    local = now.astimezone(where)
    if not local.fold:
        return local.replace(tzinfo=None)
    # The second pass began when the offset last changed: find that instant (to the second; the
    # database's changes fall on whole seconds) between the reading's first pass and now.
    offset = local.utcoffset()
    earlier = local.replace(fold=0).utcoffset()
    assert offset is not None
    assert earlier is not None
    after = now.astimezone(UTC).replace(microsecond=0)
    before = after - (earlier - offset)  # the first pass: still the old offset
    changed = _first_second(before, after, lambda moment: moment.astimezone(where).utcoffset() == offset)
    return (changed - _SECOND).astimezone(where).replace(tzinfo=None)


def first_instant(where: tzinfo, local: datetime) -> datetime:
    """The earliest instant (UTC) at which the clock of `where` reads `local` (naive) or later."""
    first = local.replace(tzinfo=where, fold=0).astimezone(UTC)
    if first.astimezone(where).replace(tzinfo=None) == local:
        return first  # the reading exists; fold 0 is its first instant
    # Skipped (a gap): fold 1 maps it to an instant before the change, fold 0 after it. The clock
    # jumps past `local` at the change: find it to the second.
    before = local.replace(tzinfo=where, fold=1).astimezone(UTC)
    return _first_second(before, first, lambda moment: moment.astimezone(where).replace(tzinfo=None) >= local)


def _first_second(before: datetime, after: datetime, reached: Callable[[datetime], bool]) -> datetime:
    """The first whole second in (before, after] at which `reached` holds (it holds at `after`, not at
    `before`, and once it holds it holds on): a bisection over seconds."""
    low, high = math.floor(before.timestamp()), math.ceil(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if reached(datetime.fromtimestamp(middle, UTC)):
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def day_start(where: tzinfo, day: date) -> datetime:
    """The first instant (UTC) of the local `day` in `where`."""
    return first_instant(where, datetime.combine(day, time()))


def local_date(moment: datetime, where: tzinfo) -> date:
    """The local date at `moment` in `where`."""
    return moment.astimezone(where).date()
