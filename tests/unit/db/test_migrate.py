"""The migration runner refuses to "apply" an empty set of migrations (docs/deployment.md#installing-with-pip)."""

from __future__ import annotations

from pathlib import Path

import pytest

from quote_service import cli
from quote_service.db import migrate
from quote_service.db.migrate import MigrationError, apply_migrations, load_migrations

# Nothing listens on port 1: a runner that tried to connect would fail with another error.
NOWHERE = "postgresql://postgres@127.0.0.1:1/none"


@pytest.mark.parametrize("layout", ["empty", "missing", "other files"])
async def test_no_migration_files_is_an_error_before_connecting(tmp_path: Path, layout: str) -> None:
    directory = tmp_path / "migrations"
    if layout != "missing":
        directory.mkdir()
    if layout == "other files":
        (directory / "README.md").write_text("not a migration", encoding="utf-8")

    with pytest.raises(MigrationError, match=r"no migration files \(NNNN_name\.sql\) in .*migrations"):
        load_migrations(directory)
    with pytest.raises(MigrationError, match="incomplete; reinstall"):
        await apply_migrations(NOWHERE, directory)


def test_migrate_command_says_so_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(migrate, "migrations_dir", lambda: tmp_path)
    # structlog would keep writing to this test's captured (then closed) stdout in later tests
    monkeypatch.setattr(cli, "configure_logging", lambda settings: None)
    monkeypatch.setenv("DATABASE_URL", NOWHERE)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1")

    code = cli.main(["migrate"])

    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"quote-service: no migration files (NNNN_name.sql) in {tmp_path}")
    assert "Traceback" not in err


def test_the_checkout_migrations_are_found() -> None:
    assert len(load_migrations(migrate.migrations_dir())) >= 25
