"""`quote-service create-user` and `create-api-key`: accounts made by an operator (auth/service.py)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO, TypeVar

import msgspec

from quote_service.agents import keys as agent_keys
from quote_service.auth.passwords import password_problem
from quote_service.auth.policy import check_seller_binding
from quote_service.auth.schemas import ApiKeyCreate, ApiKeyCreated, UserCreate
from quote_service.auth.service import AuthService
from quote_service.cli.common import CommandError, with_pool
from quote_service.config import Settings
from quote_service.db.pool import Pool
from quote_service.errors import ValidationFailed
from quote_service.validation import describe_validation_error

PASSWORD_VARIABLE = "QUOTE_SERVICE_PASSWORD"  # noqa: S105 - the variable's name, not a password
"""Where `create-user` finds the password when no option gives it (scripts, containers)."""


def read_password(
    args: argparse.Namespace,
    *,
    stdin: TextIO,
    environ: dict[str, str] | os._Environ[str],
    ask: Callable[[str], str] = getpass.getpass,
) -> str:
    """The new user's password: --password, else --password-stdin's first line, else
    QUOTE_SERVICE_PASSWORD, else asked twice (not echoed) when stdin is a terminal."""
    if args.password is not None:
        return str(args.password)
    if args.password_stdin:
        return stdin.readline().removesuffix("\n").removesuffix("\r")
    if PASSWORD_VARIABLE in environ:
        return environ[PASSWORD_VARIABLE]
    if not stdin.isatty():
        raise CommandError(
            f"create-user needs a password: --password-stdin (piped), {PASSWORD_VARIABLE} or --password, "
            "or run it on a terminal to be asked"
        )
    first = ask(f"Password for {args.username}: ")
    if ask("The same password again: ") != first:
        raise CommandError("the two passwords differ; nothing was created")
    return first


Body = TypeVar("Body", UserCreate, ApiKeyCreate)


def _body(fields: dict[str, Any], kind: type[Body], *, rules: Mapping[str, str] | None = None) -> Body:
    """`fields` as the route's own body `kind`, its role's seller binding checked: a CommandError that
    says what is wrong, as the route's 422 would (`rules`: a field's whole rule, for its message)."""
    try:
        data = msgspec.convert(fields, kind)
        check_seller_binding(data.role, data.seller_id)
    except msgspec.ValidationError as exc:
        raise CommandError(describe_validation_error(exc, rules=rules)) from exc
    except ValidationFailed as exc:
        raise CommandError(f"--seller-id {exc.details[0].message}") from exc
    return data


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    password = read_password(args, stdin=sys.stdin, environ=os.environ)
    problem = password_problem(password, username=args.username)
    if problem is not None:  # before msgspec, whose message names `$.password` and a length rule
        print(f"quote-service: password {problem}", file=sys.stderr)
        return 1
    fields = {
        "username": args.username,
        "password": password,
        "role": args.role,
        "tier": args.tier,
        "segment": args.segment,
        "customer_group": args.customer_group,
        "seller_id": args.seller_id,
    }
    try:
        data = _body(fields, UserCreate, rules=_USER_RULES)
    except CommandError as exc:
        print(f"quote-service: {exc}", file=sys.stderr)
        return 1
    user = with_pool(settings, lambda pool: AuthService(settings, pool).create_user(data))
    group = f", customer group {user.customer_group}" if user.customer_group else ""
    seller = f", seller {user.seller_id}" if user.seller_id else ""
    print(f"created {user.role} {user.username} ({user.id}){group}{seller}")
    return 0


_USER_RULES = {"username": "must be 1-64 characters: letters, digits and _ . @ + -"}


def cmd_create_api_key(settings: Settings, args: argparse.Namespace) -> int:
    try:  # the route's own schema: a bad --name or --customer-group is refused before anything is written
        fields = {
            "name": args.name,
            "role": args.role,
            "customer_group": args.customer_group,
            "seller_id": args.seller_id,
            "public_key": read_public_key(args.public_key),
            "webhook_url": args.webhook_url,
        }
        data = _body(fields, ApiKeyCreate)
    except CommandError as exc:
        print(f"quote-service: {exc}", file=sys.stderr)
        return 1

    async def create(pool: Pool) -> ApiKeyCreated:
        public_key, webhook_url = await agent_keys.agent_fields(data, allow_private=settings.webhook_allow_private)
        return await AuthService(settings, pool).create_api_key(
            name=data.name,
            role=data.role,
            created_by=None,
            money_format=args.money_format,
            customer_group=data.customer_group,
            seller_id=data.seller_id,
            public_key=public_key,
            webhook=None if webhook_url is None else agent_keys.AgentWebhook.new(webhook_url),
        )

    try:
        created = with_pool(settings, create)
    except ValidationFailed as exc:
        problem = exc.details[0]
        option = "--" + problem.field.split(".")[0].replace("_", "-")
        print(f"quote-service: {option} ({problem.field}) {problem.message}", file=sys.stderr)
        return 1
    # The key alone on stdout (`KEY=$(quote-service create-api-key ...)`); everything else on stderr.
    group = f", customer group {created.customer_group}" if created.customer_group else ""
    group += f", seller {created.seller_id}" if created.seller_id else ""
    group += f", public key {created.public_key.kid}" if created.public_key else ""
    print(
        f"API key {created.name} ({created.id}), role {created.role}{group}; shown once, store it now:",
        file=sys.stderr,
    )
    if created.webhook_secret:
        print(
            f"order events go to {created.webhook_url}, signed with this webhook secret (shown once): "
            f"{created.webhook_secret}",
            file=sys.stderr,
        )
    print(created.key)
    return 0


def read_public_key(path: str | None) -> object:
    """--public-key FILE: the JWK in FILE (JSON), None without the option."""
    if path is None:
        return None
    try:
        with open(path, "rb") as file:
            return msgspec.json.decode(file.read())
    except (OSError, msgspec.DecodeError) as exc:
        raise CommandError(f"--public-key {path}: not a readable JSON file ({exc})") from exc


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser(
        "create-user",
        help="create a user (admin, user, service or seller) with a password",
        description=(
            "Create a user: an admin, a shopper (user), a service account, or a seller login (--role seller "
            "--seller-id SELLER, bound to that seller's offers, docs/sellers.md). The password comes from "
            f"--password, else the first line of stdin with --password-stdin, else {PASSWORD_VARIABLE}, else it is "
            "asked twice on the terminal (not echoed). The password policy applies "
            "(docs/authentication.md#password-policy). The account is made at once, even where approvals apply: "
            "the operator on the host is how a deployment gets admins and sellers who are people of their own "
            "(docs/governance.md#admins-are-made-by-two)."
        ),
    )
    user.add_argument("--username", required=True, help="the login name (unique)")
    given = user.add_mutually_exclusive_group()
    given.add_argument(
        "--password",
        help="8 to 256 characters, not one of the common passwords (visible to other users of the machine "
        "in the process list: prefer the prompt, --password-stdin or " + PASSWORD_VARIABLE + ")",
    )
    given.add_argument("--password-stdin", action="store_true", help="read the password from stdin's first line")
    user.add_argument(
        "--role", required=True, choices=["admin", "user", "service", "seller"], help="what the account may do"
    )
    user.add_argument("--seller-id", help="the seller a seller account acts for (required with --role seller)")
    user.add_argument("--tier", help="a shopper's loyalty tier, e.g. gold (rules and flags read it)")
    user.add_argument("--segment", help="a shopper's segment (flags read it)")
    user.add_argument(
        "--customer-group",
        help="the customer group whose price lists and promotions the user's quotes get (default: none)",
    )
    user.set_defaults(handler=cmd_create_user, quiet_logs=True)
    key = sub.add_parser(
        "create-api-key",
        help="create an API key (service, admin, seller or agent) and print it once",
        description=(
            "Create an API key and print it once: the key alone on stdout (KEY=$(quote-service create-api-key "
            "--name checkout) captures it), what it is on stderr. Only its hash is stored. A seller key "
            "(--role seller --seller-id SELLER) acts for that seller's offers (docs/sellers.md). An agent key "
            "(--role agent) is a checkout agent: with --public-key its requests must be signed, with --webhook-url "
            "its orders' events go there, signed with a secret printed once on stderr (docs/agents.md). The key "
            "is made "
            "at once, even where approvals apply (docs/governance.md#admins-are-made-by-two)."
        ),
    )
    key.add_argument("--name", required=True, help="what the key is for, e.g. checkout (listed, never secret)")
    key.add_argument(
        "--role",
        default="service",
        choices=["service", "admin", "seller", "agent"],
        help="what the key may do (default: service)",
    )
    key.add_argument(
        "--public-key",
        metavar="FILE",
        help="an agent key's public key: a JWK file (Ed25519 or ES256, with a kid); its requests must be signed",
    )
    key.add_argument("--webhook-url", metavar="URL", help="where an agent key's order events go (http or https)")
    key.add_argument("--seller-id", help="the seller a seller key acts for (required with --role seller)")
    key.add_argument(
        "--money-format",
        default="string",
        choices=["string", "number"],
        help="how the key's responses write money unless a request sends X-Money-Format (default: string)",
    )
    key.add_argument(
        "--customer-group",
        help="the customer group whose price lists and promotions the key's quotes get (default: none)",
    )
    key.set_defaults(handler=cmd_create_api_key, quiet_logs=True)
