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
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(handler=cmd_migrate)
