"""Where `create-user` takes the password from: an option, stdin, the environment, or a prompt."""

from __future__ import annotations

import io

import pytest

from quote_service import cli
from quote_service.cli.accounts import PASSWORD_VARIABLE, read_password
from quote_service.cli.common import CommandError

BASE = ["create-user", "--username", "bob", "--role", "user"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Prompt:
    """Answers getpass's questions in turn, remembering them."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def __call__(self, question: str) -> str:
        self.asked.append(question)
        return self.answers.pop(0)


def password(
    *options: str, stdin: io.StringIO | None = None, environ: dict[str, str] | None = None, ask: Prompt | None = None
) -> str:
    args = cli.build_parser().parse_args([*BASE, *options])
    return read_password(args, stdin=stdin or io.StringIO(), environ=environ or {}, ask=ask or Prompt())


def test_the_option_wins() -> None:
    assert password("--password", "from-the-option", environ={PASSWORD_VARIABLE: "from-the-env"}) == "from-the-option"


def test_stdin_gives_its_first_line() -> None:
    piped = io.StringIO("a long passphrase\r\nsecond line\n")
    assert password("--password-stdin", stdin=piped, environ={PASSWORD_VARIABLE: "ignored"}) == "a long passphrase"


def test_the_environment_before_a_prompt() -> None:
    prompt = Prompt("typed")
    assert password(stdin=Terminal(), environ={PASSWORD_VARIABLE: "from-the-env"}, ask=prompt) == "from-the-env"
    assert prompt.asked == []


def test_a_terminal_is_asked_twice() -> None:
    prompt = Prompt("typed twice", "typed twice")
    assert password(stdin=Terminal(), ask=prompt) == "typed twice"
    assert prompt.asked == ["Password for bob: ", "The same password again: "]


def test_two_different_answers_are_refused() -> None:
    with pytest.raises(CommandError, match="the two passwords differ"):
        password(stdin=Terminal(), ask=Prompt("typed once", "typed otherwise"))


def test_no_password_and_no_terminal_says_how_to_give_one() -> None:
    with pytest.raises(CommandError) as refused:
        password(stdin=io.StringIO())
    assert all(way in str(refused.value) for way in ("--password-stdin", PASSWORD_VARIABLE, "--password", "terminal"))


def test_the_option_and_stdin_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args([*BASE, "--password", "x" * 12, "--password-stdin"])
    assert "not allowed with argument" in capsys.readouterr().err
