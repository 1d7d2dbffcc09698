"""`quote-service --help` lists every command, one line each (docs/configuration.md)."""

from __future__ import annotations

import re

import pytest

from quote_service import cli

COMMANDS = [
    "serve", "migrate", "create-user", "create-api-key", "seed-demo", "generate-data", "rebuild-rollups",
    "simulate", "campaign-script", "ingest", "psql",
]  # fmt: skip


def test_help_lists_every_command_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("  COMMAND") + 1
    described = {}
    for line in lines[start:]:
        match = re.fullmatch(r"    (\S+) +(\S.*)", line)
        if match is None:
            break
        described[match.group(1)] = match.group(2)
    assert list(described) == COMMANDS
    assert all(len(text) >= 15 for text in described.values()), described


def test_each_command_lives_in_the_cli_package() -> None:
    """A command is an adapter: its module is in quote_service/cli/, never in a domain folder."""
    parser = cli.build_parser()
    (sub,) = [action for action in parser._actions if action.dest == "command"]
    for name, command in sub.choices.items():  # type: ignore[union-attr]
        handler = command.get_default("handler")
        assert handler.__module__.startswith("quote_service.cli."), (name, handler.__module__)
