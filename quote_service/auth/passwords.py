"""The password policy for new accounts: refuse the passwords a guesser tries first.

A password must be 8 to 256 characters and must not be:
- only whitespace, or one character repeated (`        `, `aaaaaaaa`);
- one of the 8,354 most common passwords of 8 or more characters (case-insensitive), shipped in
  `common-passwords.txt.gz`: the entries of 8+ characters from Django's common-password list
  (BSD-licensed; itself Royce Williams' list of the 20,000 most common leaked passwords);
- the username, or contain it (case-insensitive; usernames of 3+ characters).

No composition rules (digits, symbols): length and "not on the list" are what make a password
hard to guess (NIST SP 800-63B, 5.1.1.2).
"""

from __future__ import annotations

import functools
import gzip
from importlib import resources

from quote_service.errors import invalid

MIN_LENGTH = 8
MAX_LENGTH = 256
_MIN_USERNAME_TO_MATCH = 3


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-case, read once."""
    data = resources.files(__package__).joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().splitlines())


def password_problem(password: str, *, username: str) -> str | None:
    """Why `password` is refused for `username`, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if not password.strip() or len(set(password)) == 1:
        return "must not be only whitespace or one character repeated"
    folded, name = password.casefold(), username.casefold()
    if len(name) >= _MIN_USERNAME_TO_MATCH and name in folded:
        return "must not contain the username"
    if folded in common_passwords():
        return "is one of the most common passwords; choose another"
    return None


def check_password(password: str, *, username: str) -> None:
    """Raise a 422 naming `password` when the policy refuses it."""
    problem = password_problem(password, username=username)
    if problem is not None:
        raise invalid("password", problem)
