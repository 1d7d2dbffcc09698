"""`quote-service payouts run [--as-of INSTANT]`: pay every seller its available balance, as
`POST /api/v1/payouts/run` does, with a progress bar over the sellers (docs/payouts.md#from-the-command-line).

The operator's command runs at once even where runs wait for approval over HTTP, as `create-user` does:
whoever runs it on the host holds the database itself, which no four-eyes rule over the API binds (its
writes are audited as the system). The same `as_of` rules hold: a refused one exits 1 with the reason."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from typing import Annotated

import msgspec

from quote_service.cli.common import ProgressBar, with_pool
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.validation import INSTANT_RULE, storable_instant

_AWARE = Annotated[datetime, msgspec.Meta(tz=True)]
ACTOR = "quote-service payouts run"
"""How the command's payouts are written in `created_by` and the audit log."""


def _instant(raw: str) -> datetime:
    """--as-of: an RFC 3339 instant with its offset."""
    try:
        moment: datetime = msgspec.convert(raw, _AWARE)
    except msgspec.ValidationError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an RFC 3339 instant with its offset") from None
    if not storable_instant(moment):
        raise argparse.ArgumentTypeError(INSTANT_RULE)
    return moment


def cmd_payouts_run(settings: Settings, args: argparse.Namespace) -> int:
    """Run the payouts of `--as-of` (default now); print each payout made and each seller held. Exit 1 when the
    as_of is refused, and when a seller was held (the others are paid), as `ingest` does for a line refused."""
    from quote_service.audit.writer import actor_document, audited
    from quote_service.db.pool import Pool
    from quote_service.payouts import service
    from quote_service.payouts.schemas import PayoutRun

    now = utcnow()
    as_of: datetime = args.as_of or now
    bar: ProgressBar | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = ProgressBar("sellers", total, enabled=not args.quiet)
        bar.advance()

    async def work(pool: Pool) -> PayoutRun:
        # Audited as the system, like seed-demo's writes: the operator is whoever runs the command.
        writer = audited(pool, actor_document(kind="system", actor_id=None, name=ACTOR), None)
        return await service.run(
            writer,
            as_of=as_of,
            actor=ACTOR,
            default_currency=settings.default_currency,
            now=now,
            max_ahead=timedelta(seconds=settings.payout_max_ahead_seconds),
            progress=progress,
        )

    made = with_pool(settings, work)
    for payout in made.payouts:
        paid = "" if payout.rate is None else f" paid as {payout.paid_amount} {payout.paid_currency} at {payout.rate}"
        print(
            f"{payout.seller_id}: {payout.amount} {payout.currency}{paid} ({payout.cycle}, "
            f"{len(payout.entries)} entries) payout {payout.id}"
        )
    for held in made.sellers_held:
        print(f"{held.seller_id}: held, not paid ({held.reason}): {held.message}")
    for kept in made.currencies_held:
        print(f"{kept.seller_id}: {kept.currency} held, not paid ({kept.hold_reason}): {kept.message}")
    print(f"{len(made.payouts)} payouts made as of {made.as_of.isoformat()} (run {made.id})")
    if made.sellers_held:
        count = len(made.sellers_held)
        print(f"quote-service: {count} sellers held, not paid: their entries are wrong", file=sys.stderr)
        return 1
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    payouts = sub.add_parser(
        "payouts",
        help="pay sellers their available balances (payouts run --as-of)",
        description="Seller payouts (docs/payouts.md).",
    )
    actions = payouts.add_subparsers(dest="payouts_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run",
        help="pay every seller its available balance at --as-of, once per cycle",
        description=(
            "Pay every seller whose available balance at --as-of is above zero and reaches its minimum, unless "
            "it was paid in that cycle already: what POST /api/v1/payouts/run does. Safe to run again."
        ),
    )
    run.add_argument(
        "--as-of",
        type=_instant,
        default=None,
        metavar="INSTANT",
        help="the instant whose holds and reserves apply, RFC 3339 with its offset (default: now); "
        "never before the latest run's, nor later than now + PAYOUT_MAX_AHEAD_SECONDS (300)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    payouts.set_defaults(handler=cmd_payouts_run)
    run.set_defaults(handler=cmd_payouts_run)
