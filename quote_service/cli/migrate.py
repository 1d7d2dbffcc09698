"""`quote-service migrate`: apply the pending migrations (db/migrate.py)."""

from __future__ import annotations

import argparse

from quote_service.cli.common import migrate_database
from quote_service.config import Settings


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    applied = migrate_database(settings)
    print(f"migrations applied: {', '.join(applied) if applied else 'none pending'}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser(
        "migrate",
        help="apply pending migrations",
        description=(
            "Apply the migrations (migrations/NNNN_name.sql) the database has not applied yet, in order, each in "
            "its own transaction, and print their names ('none pending' when there are none). Safe to run again "
            "and from several processes at once: they wait for each other and apply each file once. A file "
            "changed after it was applied is refused. `serve` runs it too before serving."
        ),
    ).set_defaults(handler=cmd_migrate)
