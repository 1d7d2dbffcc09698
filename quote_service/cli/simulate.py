"""`quote-service simulate`: live shoppers against a running service (cli/simulation.py). An HTTP
client only: it needs no stores and no settings."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
"""Where `make run` serves by default."""


def base_url(given: str | None, environ: Mapping[str, str]) -> str:
    """The service simulate talks to: `--base-url`, else `$BASE` (what the docs have a reader set to
    the service's address, `make run PORT=8001` included), else DEFAULT_BASE_URL."""
    return given or environ.get("BASE") or DEFAULT_BASE_URL


def cmd_simulate(args: argparse.Namespace) -> int:
    import httpx

    from quote_service.cli import demo
    from quote_service.cli.simulation import simulate

    def account(text: str | None, default: tuple[str, str]) -> tuple[str, str]:
        if text is None:
            return default
        username, _, password = text.partition(":")
        return username, password

    target = base_url(args.base_url, os.environ)
    if args.rate <= 0 or args.duration <= 0 or args.customers <= 0:
        print("quote-service: --rate, --duration and --customers must be positive", file=sys.stderr)
        return 2
    if args.decide_every < 0:
        print("quote-service: --decide-every must be 0 (no decisions) or positive", file=sys.stderr)
        return 2
    try:
        asyncio.run(
            simulate(
                base_url=target,
                rate=args.rate,
                duration=args.duration,
                admin=account(args.admin, demo.DEMO_ADMIN),
                customers=args.customers,
                decide_every=args.decide_every,
                left_alone=frozenset(demo.WALKTHROUGH_SKUS),
            )
        )
    except KeyboardInterrupt:
        return 130
    except httpx.HTTPError as exc:
        print(f"quote-service: simulate cannot reach {target}: {exc}", file=sys.stderr)
        return 1
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = sub.add_parser("simulate", help="send live shoppers through a running service, print price moves")
    sim.add_argument("--rate", type=float, default=5.0, help="actions per second (default 5)")
    sim.add_argument("--duration", type=float, default=60.0, help="seconds to run (default 60; Ctrl-C stops)")
    sim.add_argument(
        "--decide-every",
        type=float,
        default=10.0,
        help="seconds between pricing-decision runs, which apply the small moves (default 10; 0: none)",
    )
    sim.add_argument(
        "--base-url",
        default=None,
        help=f"the running service (default: $BASE when set, else {DEFAULT_BASE_URL})",
    )
    sim.add_argument("--admin", default=None, help="admin USERNAME:PASSWORD (default: the demo admin)")
    sim.add_argument(
        "--customers",
        type=int,
        default=200,
        help="distinct shoppers, quoting and buying through a service key the run creates (default 200)",
    )
    sim.set_defaults(handler=cmd_simulate)  # run by main() before any store starts
