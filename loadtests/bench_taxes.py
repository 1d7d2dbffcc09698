"""Benchmark: what taxes as markets have them (docs/taxes.md) cost a quote that does not use them, in one run.

    .venv/bin/python loadtests/bench_taxes.py [--before 64eee96] [--quotes 2000] [--rounds 5]

The engine alone (no server, no stores): a snapshot with the demo's kind of configuration (a TAX_RATE
per category, commission rates, a delivery rule), 10-line baskets of catalog products, each quote a new
customer. It prices the plain baskets with this tree's engine and, in a process of its own, with the
engine of `--before` (its source from git history, the last commit before these features), alternating
`--rounds` times, and prints CPU µs a quote (the median round) and Python calls a quote (cProfile) for
each, and their ratio. Then, with this tree's engine, the same baskets under a compound ÖTV + KDV rule,
and exempt: the cost of the features where they are used.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CATEGORIES = ("books", "toys", "food", "phones")


def _setup(compound: bool) -> tuple[Any, dict[str, Any], list[Any], Any]:
    """(snapshot, products by id, requests, defaults) with whatever `quote_service` is on sys.path."""
    import msgspec

    from quote_service.pricing.commission import CommissionRate
    from quote_service.pricing.quote import CatalogProduct, EngineDefaults, QuoteRequest
    from quote_service.pricing.rules import DeliveryFeeConfig, PricingRule, TaxRateConfig
    from quote_service.pricing.snapshot import ConfigSnapshot

    since = NOW - timedelta(days=30)

    def rule(name: str, config: Any, **fields: Any) -> PricingRule:
        return PricingRule(
            id=uuid4(),
            name=name,
            version=1,
            type=type(config).__struct_config__.tag,
            configuration=config,
            effective_from=since,
            is_active=True,
            created_by="bench",
            **fields,
        )

    rules = [rule("delivery", DeliveryFeeConfig(base_fee=Decimal("12.00"), currency="TRY"))]
    for n, category in enumerate(CATEGORIES):
        config = TaxRateConfig(rate=Decimal(8 + 5 * n))
        if compound and category == "phones":
            config = msgspec.convert(
                {
                    "type": "TAX_RATE",
                    "components": [{"code": "OTV", "rate": "20"}, {"code": "KDV", "rate": "20", "compound": True}],
                },
                TaxRateConfig,
            )
        rules.append(rule(f"tax-{category}", config, category_id=category))
    rates = [
        CommissionRate(
            id=uuid4(),
            commission_type="PERCENTAGE",
            rate=Decimal(10 + n),
            currency="TRY",
            category_id=category,
            effective_from=since,
            is_active=True,
            created_at=since,
        )
        for n, category in enumerate(CATEGORIES)
    ]
    snapshot = ConfigSnapshot.build(version=1, rates=rates, rules=rules, flags=(), coupons=())
    products = {}
    for n in range(40):
        found = CatalogProduct(
            id=UUID(int=n + 1),
            currency="TRY",
            current_price=Decimal(f"{19 + 7 * n}.90"),
            min_price=Decimal(0),
            category_id=CATEGORIES[n % 4],
            seller_id=f"s{n % 3}",
            is_active=True,
            prices_include_tax=n % 5 == 0,
        )
        products[str(found.id)] = found
    ids = list(products)
    requests = [
        msgspec.convert(
            {
                "customer_id": f"c-{n}",
                "currency": "TRY",
                "items": [{"product_id": ids[(n + k * 3) % 40], "quantity": 1 + k % 3} for k in range(10)],
                "delivery_address": {"city": "Istanbul", "country": "TR"},
            },
            QuoteRequest,
        )
        for n in range(200)
    ]
    return snapshot, products, requests, EngineDefaults()


def _measure(quotes: int, rounds: int, compound: bool = False, exempt: bool = False) -> dict[str, float]:
    """Median CPU µs a quote over `rounds` rounds of `quotes` quotes, and Python calls a quote."""
    from msgspec.structs import replace

    from quote_service.pricing.engine import price_quote
    from quote_service.pricing.quote import CustomerContext

    snapshot, products, requests, defaults = _setup(compound)
    if exempt:
        requests = [replace(r, tax_exemption="exempt") for r in requests]

    def one(n: int) -> None:
        request = requests[n % len(requests)]
        found = {i.product_id: products[i.product_id] for i in request.items}
        price_quote(
            request,
            snapshot=snapshot,
            products=found,
            flash={},
            customer=CustomerContext(customer_id=f"c-{n}"),
            defaults=defaults,
            now=NOW,
            quote_id=UUID(int=n),
        )

    for n in range(400):  # warm: every plan and priced line made
        one(n)
    times = []
    for _ in range(rounds):
        start = time.process_time()
        for n in range(quotes):
            one(n)
        times.append((time.process_time() - start) / quotes * 1e6)
    profile = cProfile.Profile()
    profile.enable()
    for n in range(100):
        one(n)
    profile.disable()
    calls = pstats.Stats(profile).total_calls / 100  # type: ignore[attr-defined]
    return {"us": statistics.median(times), "calls": calls}


def _before(commit: str, quotes: int, rounds: int) -> dict[str, float]:
    archive = subprocess.run(  # noqa: S603 - git, on this repository
        ["git", "-C", str(ROOT), "archive", commit, "quote_service"],  # noqa: S607
        capture_output=True,
        check=True,
    )
    with tempfile.TemporaryDirectory(prefix="qs-before-taxes-") as tree:
        with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
            tar.extractall(tree, filter="data")
        ran = subprocess.run(  # noqa: S603 - this interpreter, on this script
            [sys.executable, __file__, "--child", "--quotes", str(quotes), "--rounds", str(rounds)],
            capture_output=True,
            check=True,
            env={"PYTHONPATH": tree, "PATH": "/usr/bin:/bin"},
        )
    result: dict[str, float] = json.loads(ran.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="64eee96", help="the commit before taxes as markets have them")
    parser.add_argument("--quotes", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.quotes, args.rounds)))
        return
    sys.path.insert(0, str(ROOT))
    now_runs, before_runs = [], []
    for _ in range(2):  # alternate, so a change of load on the box falls on both
        now_runs.append(_measure(args.quotes, args.rounds))
        before_runs.append(_before(args.before, args.quotes, args.rounds))
    now = min(now_runs, key=lambda r: r["us"])
    before = min(before_runs, key=lambda r: r["us"])
    print(f"plain 10-line quote, this tree:   {now['us']:8.1f} µs  {now['calls']:6.0f} calls")
    print(f"plain 10-line quote, {args.before}:   {before['us']:8.1f} µs  {before['calls']:6.0f} calls")
    print(f"ratio (this / before):            {now['us'] / before['us']:8.3f}   {now['calls'] / before['calls']:6.3f}")
    compound = _measure(args.quotes, args.rounds, compound=True)
    exempt = _measure(args.quotes, args.rounds, exempt=True)
    print(f"with a compound ÖTV + KDV rule:   {compound['us']:8.1f} µs  {compound['calls']:6.0f} calls")
    print(f"exempt:                           {exempt['us']:8.1f} µs  {exempt['calls']:6.0f} calls")


if __name__ == "__main__":
    main()
