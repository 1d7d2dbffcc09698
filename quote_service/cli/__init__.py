"""The `quote-service` command line: one module per command, each a thin adapter over the
domain services (docs/architecture.md). `quote-service --help` lists them."""

from __future__ import annotations

import argparse
import os
import sys

import msgspec

from quote_service import __version__
from quote_service.cli import (
    accounts,
    campaign_script,
    fx,
    generate_data,
    ingest,
    migrate,
    payouts,
    psql,
    retention,
    rollups,
    seed_demo,
    serve,
    simulate,
)
from quote_service.cli.common import CommandError, stores
from quote_service.config import ConfigError, Settings, require_secret_key_to_serve
from quote_service.db.migrate import MigrationError
from quote_service.errors import ServiceError
from quote_service.observability.logging import configure_logging
from quote_service.validation import describe_validation_error

# The application's modules (demo, flash sales, anything that creates Prometheus metrics) are
# imported inside the commands that need them: `serve` must set PROMETHEUS_MULTIPROC_DIR before
# prometheus_client is first imported, because granian forks the workers from this process.

# In the order `--help` lists them.
COMMANDS = (
    serve,
    migrate,
    accounts,
    seed_demo,
    generate_data,
    rollups,
    retention,
    payouts,
    fx,
    simulate,
    campaign_script,
    ingest,
    psql,
)


class _OneLineHelp(argparse.HelpFormatter):
    """Wide enough that each command's help stays on its own line, whatever the terminal."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=24, width=100)

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        # argparse measures the command names at their parent's indent, not their own, so the
        # longest names would start their help on the next line.
        for sub in self._iter_indented_subactions(action):
            length = len(self._format_action_invocation(sub)) + self._current_indent + self._indent_increment
            self._action_max_length = max(self._action_max_length, length)


def build_parser() -> argparse.ArgumentParser:
    """Every command's arguments, each registered by its own module."""
    parser = argparse.ArgumentParser(
        prog="quote-service",
        description="Prices e-commerce baskets: the service and its operator commands.",
        formatter_class=_OneLineHelp,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="print the version and exit"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    for name, command_parser in sub.choices.items():
        if command_parser.description is None:  # `COMMAND --help` says at least what the list says
            listed = next(action.help or "" for action in sub._choices_actions if action.dest == name)
            command_parser.description = f"{listed[:1].upper()}{listed[1:]}."
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `quote-service` console script."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.handler is not psql.cmd_psql:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.handler is psql.cmd_psql:  # psql's own options (-c, -f, ...) pass through untouched
        args.psql_args = [*unknown, *args.psql_args]
    if args.command == "simulate":  # an HTTP client of a running service: no stores, no settings
        return simulate.cmd_simulate(args)
    try:
        settings = Settings.from_env()
        if args.handler is serve.cmd_serve:
            require_secret_key_to_serve(os.environ, demo=args.demo)
    except ConfigError as exc:
        print(f"quote-service: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "quiet_logs", False) and "LOG_LEVEL" not in os.environ:
        # What the command prints is its whole answer (a key to capture): the stores' start-up lines
        # would only bury it. LOG_LEVEL set explicitly still shows them, on stderr as always.
        settings = msgspec.structs.replace(settings, log_level="WARNING")
    configure_logging(settings)
    try:
        if args.handler is serve.cmd_serve:
            serve.refuse_a_taken_port(args.host, args.port)
        with stores(settings) as resolved:
            code: int = args.handler(resolved, args)
            return code
    except msgspec.ValidationError as exc:
        print(f"quote-service: {describe_validation_error(exc)}", file=sys.stderr)
        return 1
    except (CommandError, MigrationError, ServiceError) as exc:
        print(f"quote-service: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before serving started: the stores were stopped on the way out
        return 130
