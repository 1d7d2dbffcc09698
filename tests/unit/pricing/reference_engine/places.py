"""How a configured region fits a delivery address (docs/pricing.md: city or country, case-insensitive)."""

from __future__ import annotations

NO_REGION, COUNTRY, CITY = 0, 1, 2
"""Region matches, better ones higher: a city match beats a country match beats no region."""


def region_match(region: str | None, *, city: str, country: str) -> int | None:
    """CITY, COUNTRY or NO_REGION (unset or blank); None when the region names another place."""
    if region is None or not region.strip():
        return NO_REGION
    wanted = region.strip().casefold()
    if wanted == city.strip().casefold():
        return CITY
    if wanted == country.strip().casefold():
        return COUNTRY
    return None
