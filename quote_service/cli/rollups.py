"""`quote-service rebuild-rollups`: recompute the analytics rollups (analytics/rollups.py)."""

from __future__ import annotations

import argparse

from quote_service.cli.common import with_pool
from quote_service.clock import utcnow
from quote_service.config import Settings


def cmd_rebuild_rollups(settings: Settings, _: argparse.Namespace) -> int:
    """Recompute every analytics rollup from the raw quote log and orders."""
    from quote_service.analytics.rollups import rebuild

    hours = with_pool(settings, lambda pool: rebuild(pool, now=utcnow()))
    print(f"rollups rebuilt: {hours} (kind, hour) pairs")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser(
        "rebuild-rollups",
        help="recompute the analytics rollups from the raw tables",
        description=(
            "Recompute every hourly and daily analytics rollup (the pricing and commission reports read them) from "
            "the raw quote log and orders, and print how many hours it rebuilt. The service keeps the rollups "
            "current by itself; run this after changing raw rows by hand or restoring them. Hours whose raw quotes "
            "retention dropped keep their pricing rollups."
        ),
    ).set_defaults(handler=cmd_rebuild_rollups)
