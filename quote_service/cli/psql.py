"""`quote-service psql`: psql on the service's database."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from quote_service.cli.common import CommandError, dsn
from quote_service.config import Settings


def _psql_binary() -> str:
    """psql from PATH, else the one the pgserver package ships (the embedded server's own)."""
    found = shutil.which("psql")
    if found is not None:
        return found
    try:
        import pgserver  # the embedded default ships PostgreSQL's client programs too
    except ImportError as exc:
        raise CommandError("psql is not installed (Debian: apt-get install postgresql-client)") from exc
    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
    if not bundled.exists():
        raise CommandError("psql is not installed (Debian: apt-get install postgresql-client)")
    return str(bundled)


def cmd_psql(settings: Settings, args: argparse.Namespace) -> int:
    """psql on the database the service uses (embedded or DATABASE_URL); extra arguments go to psql."""
    extra = [a for a in args.psql_args if a != "--"]
    return subprocess.call([_psql_binary(), dsn(settings), *extra])  # noqa: S603 - the operator's own psql


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    psql = sub.add_parser("psql", help="open psql on the service's database (extra arguments go to psql)")
    psql.add_argument("psql_args", nargs=argparse.REMAINDER, help="e.g. -c 'SELECT count(*) FROM quote_log'")
    psql.set_defaults(handler=cmd_psql)
