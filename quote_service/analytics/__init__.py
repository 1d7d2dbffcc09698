"""Analytics: rollups, reports, experiment statistics."""
