"""`quote-service fx import FILE`: exchange rates from an ECB-style CSV (fx/ecb_file.py), EUR → each
currency from each date, in one transaction (docs/currencies.md#importing-ecb-rates). A malformed row
is named with its number and nothing is written; rates stored already (the same pair, date and rate) are
left out, so a file imported again adds nothing. A progress bar on stderr for files of many rows.

Like `payouts run`, the operator's command writes at once, audited as the system, where writes over HTTP
wait for approval: whoever runs it on the host holds the database itself."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quote_service.cli.common import CommandError, ProgressBar, with_pool
from quote_service.config import Settings

ACTOR = "quote-service fx import"
"""How the command's rates are written in `created_by` and the audit log."""
PROGRESS_FROM_ROWS = 5000
MAX_REPORTED = 20


def cmd_fx_import(settings: Settings, args: argparse.Namespace) -> int:
    """Read the file, refuse it whole with each bad row named (exit 1), else store its rates."""
    from quote_service.audit.writer import actor_document, audited
    from quote_service.db.pool import Pool
    from quote_service.fx import ecb_file, service

    path = Path(args.file)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            found = ecb_file.read(handle)
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc
    if found.problems:
        for problem in found.problems[:MAX_REPORTED]:
            print(f"{path}: {problem}", file=sys.stderr)
        more = len(found.problems) - MAX_REPORTED
        if more > 0:
            print(f"{path}: ... and {more} more", file=sys.stderr)
        raise CommandError(f"{path}: {len(found.problems)} bad rows: nothing imported")
    if not found.rates:
        raise CommandError(f"{path}: no rates in the file: nothing imported")
    bar = ProgressBar("rates", len(found.rates), enabled=not args.quiet and len(found.rates) >= PROGRESS_FROM_ROWS)

    async def work(pool: Pool) -> int:
        writer = audited(pool, actor_document(kind="system", actor_id=None, name=ACTOR), None)
        return await service.import_rates(writer, found.rates, actor=ACTOR, progress=bar.advance)

    stored = with_pool(settings, work)
    days = len({rate[4] for rate in found.rates})
    print(f"{stored} rates stored, {len(found.rates) - stored} stored already ({days} dates) from {path}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fx = sub.add_parser(
        "fx",
        help="exchange rates: import an ECB-style CSV (fx import FILE)",
        description="Exchange rates (docs/currencies.md).",
    )
    actions = fx.add_subparsers(dest="fx_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "import",
        help="store the EUR rates of an ECB-style CSV, all or nothing",
        description=(
            "Store the rates of an ECB-style CSV: `date,currency,rate` rows (units per 1 EUR), or the ECB's own "
            "history file (a Date column and one column per currency). Each is stored as EUR -> currency "
            "(source ecb, valid_from the date); cross rates are derived when looked up. A bad row is named "
            "and nothing is written."
        ),
    )
    run.add_argument("file", metavar="FILE", help="the CSV file")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    fx.set_defaults(handler=cmd_fx_import)
    run.set_defaults(handler=cmd_fx_import)
