"""One version, pyproject.toml's, wherever the service shows one: the installed package's
metadata, `quote-service --version` and the OpenAPI document's `info.version`."""

from __future__ import annotations

import subprocess
import tomllib
from importlib.metadata import version
from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.servers import CLI, cli_env

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
DECLARED = tomllib.loads(PYPROJECT.read_text())["project"]["version"]


def test_the_installed_package_and_the_command_show_pyprojects_version() -> None:
    printed = subprocess.run(  # noqa: S603 - our own console script
        [*CLI, "--version"], env=cli_env(), capture_output=True, text=True, timeout=60, check=True
    ).stdout

    assert version("quote-service") == DECLARED
    assert printed == f"quote-service {DECLARED}\n"


async def test_the_api_document_shows_pyprojects_version(client: AsyncTestClient[Litestar]) -> None:
    document = (await client.get("/openapi.json")).json()

    assert document["info"]["version"] == DECLARED
