"""`make run` serves the demo on the port asked for (README.md, `make run PORT=8001`)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from quote_service import cli

ROOT = Path(__file__).resolve().parents[2]


def served_port(*make_args: str) -> int:
    """The port `make run` would serve on: its serve command, as `make -n` prints it, parsed by the CLI."""
    make = shutil.which("make")
    assert make is not None
    planned = subprocess.run(  # noqa: S603
        [make, "-n", "-C", str(ROOT), "run", *make_args], capture_output=True, text=True, timeout=60, check=True
    )
    [serve] = [line for line in planned.stdout.splitlines() if "quote-service serve" in line]
    words = shlex.split(serve)
    args = cli.build_parser().parse_args(words[words.index("quote-service") + 1 :])
    assert args.demo
    port: int = args.port
    return port


@pytest.mark.parametrize(("make_args", "port"), [((), 8000), (("PORT=8001",), 8001)])
def test_make_run_serves_on_the_port_given(make_args: tuple[str, ...], port: int) -> None:
    assert served_port(*make_args) == port
