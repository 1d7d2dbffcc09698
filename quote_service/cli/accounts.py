"""`quote-service create-user` and `create-api-key`: accounts made by an operator (auth/service.py)."""

from __future__ import annotations

import argparse
import sys

import msgspec

from quote_service.auth.passwords import password_problem
from quote_service.auth.schemas import UserCreate
from quote_service.auth.service import AuthService
from quote_service.cli.common import with_pool
from quote_service.config import Settings
from quote_service.validation import describe_validation_error


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    problem = password_problem(args.password, username=args.username)
    if problem is not None:  # before msgspec, whose message names `$.password` and a length rule
        print(f"quote-service: password {problem}", file=sys.stderr)
        return 1
    try:
        data = msgspec.convert(
            {
                "username": args.username,
                "password": args.password,
                "role": args.role,
                "tier": args.tier,
                "segment": args.segment,
            },
            UserCreate,
        )
    except msgspec.ValidationError as exc:
        print(f"quote-service: {describe_validation_error(exc, rules=_USER_RULES)}", file=sys.stderr)
        return 1
    user = with_pool(settings, lambda pool: AuthService(settings, pool).create_user(data))
    print(f"created {user.role} {user.username} ({user.id})")
    return 0


_USER_RULES = {"username": "must be 1-64 characters: letters, digits and _ . @ + -"}


def cmd_create_api_key(settings: Settings, args: argparse.Namespace) -> int:
    created = with_pool(
        settings,
        lambda pool: AuthService(settings, pool).create_api_key(
            name=args.name, role=args.role, created_by=None, money_format=args.money_format
        ),
    )
    # The key alone on stdout (`KEY=$(quote-service create-api-key ...)`); everything else on stderr.
    print(f"API key {created.name} ({created.id}), role {created.role}; shown once, store it now:", file=sys.stderr)
    print(created.key)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("create-user", help="create a user (admin, user or service) with a password")
    user.add_argument("--username", required=True, help="the login name (unique)")
    user.add_argument("--password", required=True, help="8 to 256 characters, not one of the common passwords")
    user.add_argument("--role", required=True, choices=["admin", "user", "service"], help="what the account may do")
    user.add_argument("--tier", help="a shopper's loyalty tier, e.g. gold (rules and flags read it)")
    user.add_argument("--segment", help="a shopper's segment (flags read it)")
    user.set_defaults(handler=cmd_create_user)
    key = sub.add_parser("create-api-key", help="create an API key and print it once")
    key.add_argument("--name", required=True, help="what the key is for, e.g. checkout (listed, never secret)")
    key.add_argument(
        "--role", default="service", choices=["service", "admin"], help="what the key may do (default: service)"
    )
    key.add_argument(
        "--money-format",
        default="string",
        choices=["string", "number"],
        help="how the key's responses write money unless a request sends X-Money-Format (default: string)",
    )
    key.set_defaults(handler=cmd_create_api_key)
