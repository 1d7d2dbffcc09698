"""The password policy for new accounts."""

from __future__ import annotations

import pytest

from quote_service.auth.passwords import common_passwords, password_problem


@pytest.mark.parametrize(
    ("password", "username", "reason"),
    [
        (" " * 8, "carol", "whitespace"),
        ("\t \n \t \n  ", "carol", "whitespace"),
        ("aaaaaaaaaaaaaaaa", "carol", "repeated"),
        ("password", "carol", "common"),
        ("12345678", "carol", "common"),
        ("PASSWORD", "carol", "common"),
        ("qwertyuiop", "carol", "common"),
        ("iloveyou", "carol", "common"),
        ("carolcarol", "carol", "username"),
        ("Carol-2024!", "carol", "username"),
        ("demo-admin-password", "demo-admin", "username"),
        ("short", "carol", "at least 8"),
        ("x" * 200 + "y" * 57, "carol", "at most 256"),
    ],
)
def test_refused(password: str, username: str, reason: str) -> None:
    problem = password_problem(password, username=username)

    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(
    ("password", "username"),
    [
        ("correct-horse-battery", "carol"),
        ("wonderland-tea-party", "alice"),
        ("long-enough", "carol"),
        ("quote-service-admin", "demo-admin"),
        ("a1b2c3d4e5f6", "ab"),  # usernames under 3 characters are not searched for
    ],
)
def test_accepted(password: str, username: str) -> None:
    assert password_problem(password, username=username) is None


def test_the_shipped_list_is_loaded_lower_case() -> None:
    passwords = common_passwords()

    assert len(passwords) > 8000
    assert all(len(p) >= 8 and p == p.lower() for p in passwords)
