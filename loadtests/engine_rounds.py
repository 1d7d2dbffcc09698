"""Rounds of the pure engine under several snapshots in turn, in one process (CPU time per quote).

What bench_promotions.py and bench_unused.py share: each snapshot's pricing plan is filled once
(a warm-up round), then every round prices the same baskets under each snapshot in turn, so a
busy machine slows them all alike and the ratios between them hold.
"""

from __future__ import annotations

from bench_engine import run

from quote_service.pricing.quote import CustomerContext, QuoteRequest
from quote_service.pricing.snapshot import ConfigSnapshot


def interleaved(
    snapshots: dict[str, ConfigSnapshot],
    baskets: list[tuple[QuoteRequest, CustomerContext]],
    quotes: int,
    rounds: int,
) -> dict[str, list[float]]:
    """{name: CPU µs per quote of each round} (see module docstring)."""
    cpus: dict[str, list[float]] = {name: [] for name in snapshots}
    for snapshot in snapshots.values():  # warm-up: each plan filled once
        run(baskets, quotes, 1, snapshot=snapshot)
    for _ in range(rounds):
        for name, snapshot in snapshots.items():
            cpus[name].extend(run(baskets, quotes, 1, snapshot=snapshot)[1])
    return cpus
