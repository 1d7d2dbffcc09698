"""Region matching shared by commission rates and pricing rules."""

from __future__ import annotations

from enum import IntEnum


class RegionMatch(IntEnum):
    """How well a configured region fits a delivery address; higher wins."""

    GLOBAL = 0
    COUNTRY = 1
    CITY = 2


def match_region(region: str | None, *, city: str | None, country: str | None) -> RegionMatch | None:
    """How `region` (unset = everywhere) fits the address; None when it names another place.

    Comparison is case-insensitive and ignores surrounding spaces.
    """
    if region is None or not region.strip():
        return RegionMatch.GLOBAL
    wanted = region.strip().casefold()
    if city is not None and wanted == city.strip().casefold():
        return RegionMatch.CITY
    if country is not None and wanted == country.strip().casefold():
        return RegionMatch.COUNTRY
    return None
