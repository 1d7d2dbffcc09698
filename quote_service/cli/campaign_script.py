"""`quote-service campaign-script FILE|-`: replay a campaign script (cli/campaign_replay.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import msgspec

from quote_service.config import Settings
from quote_service.observability.logging import configure_logging


def cmd_campaign_script(settings: Settings, args: argparse.Namespace) -> int:
    """Replay a campaign script on a scratch database; print each command's line."""
    from quote_service.cli.campaign_replay import run_script

    try:
        lines = sys.stdin.read().splitlines() if args.file == "-" else Path(args.file).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"quote-service: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    configure_logging(msgspec.structs.replace(settings, log_level="WARNING"))  # stdout is the script's output
    asyncio.run(run_script(settings, lines, lambda line: print(line, flush=True)))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    script = sub.add_parser("campaign-script", help="replay a campaign script with a simulated clock")
    script.add_argument("file", help="the script, or - for standard input")
    script.set_defaults(handler=cmd_campaign_script)
