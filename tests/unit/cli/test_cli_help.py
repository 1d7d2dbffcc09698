"""`quote-service --help` lists every command, one line each (docs/configuration.md)."""

from __future__ import annotations

import argparse
import re

import pytest

from quote_service import cli

COMMANDS = [
    "serve", "migrate", "create-user", "create-api-key", "seed-demo", "generate-data", "rebuild-rollups", "retention",
    "payouts", "fx", "simulate", "campaign-script", "ingest", "psql",
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


def _parsers() -> dict[str, argparse.ArgumentParser]:
    """`quote-service` itself and each of its commands."""
    parser = cli.build_parser()
    (sub,) = [action for action in parser._actions if action.dest == "command"]
    return {"quote-service": parser, **sub.choices}  # type: ignore[dict-item]


def test_every_option_of_every_command_says_what_it_does() -> None:
    """`quote-service COMMAND --help` explains each option, not only its name and default."""
    silent = []
    for name, command in _parsers().items():
        for action in command._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                silent.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not silent, f"options without help text: {silent}"


def test_help_names_each_options_default(capsys: pytest.CaptureFixture[str]) -> None:
    """An option with a default says it in its help, so `--help` tells what happens without it."""
    for name, command in _parsers().items():
        for action in command._actions:
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS) and action.help:
                assert "default" in action.help, f"{name} {action.option_strings[0]}: {action.help!r}"


@pytest.mark.parametrize("name", COMMANDS)
def test_each_commands_help_says_what_it_does(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`quote-service COMMAND --help` opens with what the command does, not only its usage and options."""
    with pytest.raises(SystemExit):
        cli.main([name, "--help"])
    usage, description, *_ = capsys.readouterr().out.split("\n\n")
    assert usage.startswith(f"usage: quote-service {name}")
    assert not description.startswith(("options:", "positional arguments:")), f"{name} --help says nothing"


@pytest.mark.parametrize("name", ["migrate", "rebuild-rollups", "seed-demo", "create-user", "create-api-key"])
def test_the_first_commands_explain_themselves(name: str) -> None:
    """Those a newcomer runs first say more than their line in the list: what they do, when, and what is safe."""
    description = _parsers()[name].description
    assert description is not None
    assert len(description.split()) >= 25, description


@pytest.mark.parametrize("name", ["create-user", "create-api-key"])
def test_the_account_commands_name_every_role_they_make(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`quote-service --help` names each role an account command takes (the seller too, issue 87), and the
    command's own --help says how a seller account names its seller."""
    (role,) = [action for action in _parsers()[name]._actions if "--role" in action.option_strings]
    assert role.choices is not None
    assert "seller" in role.choices
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith(f"    {name} ")]
    assert all(re.search(rf"\b{choice}\b", line) for choice in role.choices), line
    with pytest.raises(SystemExit):
        cli.main([name, "--help"])
    description = " ".join(capsys.readouterr().out.split("\n\n")[1].split())
    assert "--role seller --seller-id" in description, description
