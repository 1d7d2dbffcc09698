"""campaign-script: a bad line prints `Error: <why>`, never a traceback (docs/campaigns.md)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from litestar.datastructures import State

from quote_service.cli.campaign_replay import START, Replay, SimulatedClock


@pytest.mark.parametrize(
    ("line", "output"),
    [
        ("increase_time --5", "Error: HOURS must be a whole number, not '--5'"),
        ("increase_time -5", "Error: HOURS must be at least 1"),
        ("increase_time ²", "Error: HOURS must be a whole number, not '²'"),
        ("increase_time ١٢", "Error: HOURS must be a whole number, not '١٢'"),
        ("increase_time 99999999999", "Error: HOURS must be at most 8760"),
        ("increase_time 8761", "Error: HOURS must be at most 8760"),
        ("increase_time " + "9" * 5000, "Error: HOURS must be at most 8760"),
        ("increase_time 1.5", "Error: HOURS must be a whole number, not '1.5'"),
        ("create_order P1 ²", "Error: QUANTITY must be a whole number, not '²'"),
        ("create_product P1 10 ³", "Error: STOCK must be a whole number, not '³'"),
        ("create_product P1 10 " + "9" * 5000, "Error: STOCK is too large"),
    ],
)
async def test_a_bad_number_is_an_error_line(line: str, output: str) -> None:
    clock = SimulatedClock()
    replay = Replay(State({"campaigns": None}), clock)
    replay.products["P1"] = uuid.UUID(int=1)

    assert await replay.line(line) == output
    assert clock.now == START  # nothing moved


async def test_the_clock_stops_before_the_end_of_the_calendar() -> None:
    clock = SimulatedClock()
    clock.now = datetime(9998, 12, 31, tzinfo=UTC)
    replay = Replay(State({"campaigns": None}), clock)

    assert await replay.line("increase_time 48") == "Error: the simulated clock cannot pass 9999-01-01"
    assert clock.now == datetime(9998, 12, 31, tzinfo=UTC)
