"""Every shell block of README.md and docs/*.md runs as written against `make run`'s demo
(tests/doc_blocks.py says how a block is marked and run; docs/development.md#the-docs-shell-blocks).

One test per document, in the README's reading order (README first): its blocks run in one bash
session, in order, from the repository root, on a PATH without uv and without this virtual
environment (what a machine where `make` installed uv privately gives a reader), against one
`quote-service serve --demo` on this session's database and Redis (the CLI commands in the blocks
reach the same stores through DATABASE_URL and REDIS_URL, as they reach `make run`'s embedded
ones through ./.quote-service). Each block must exit 0 and answer no error envelope, except the
refusals its marker names. A page whose blocks are all marked `not-run` has no test here; the
run ends with the list of the blocks not run, each with its reason (tests/doc_blocks.py).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import empty_stores
from tests.doc_blocks import DOCS, ROOT, reader_environment, run_document, shell_blocks
from tests.integration.servers import CLI, cli_env, running_server

pytestmark = [pytest.mark.long, pytest.mark.slow]

RUN = [doc for doc in DOCS if any(block.not_run is None for block in shell_blocks(doc))]


@pytest.fixture(scope="module")
def demo(database_url: str, single_redis_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """`serve --demo` on emptied stores for this module's tests; (its URL, the stores' variables)."""
    asyncio.run(empty_stores(database_url, single_redis_url))
    stores = {"DATABASE_URL": database_url, "REDIS_URL": single_redis_url}
    env = cli_env(**stores, LOG_LEVEL="WARNING")
    # Seeded first, without serve's readiness deadline: two weeks of history take a while.
    seeded = subprocess.run([*CLI, "seed-demo"], env=env, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    with running_server(env, "--demo") as base:
        yield base, stores


@pytest.mark.parametrize("doc", RUN, ids=lambda doc: str(doc.relative_to(ROOT)))
def test_the_shell_blocks_run_as_written(doc: Path, demo: tuple[str, dict[str, str]]) -> None:
    base, stores = demo
    blocks = shell_blocks(doc)
    runnable = [block for block in blocks if block.not_run is None]
    with tempfile.TemporaryDirectory(prefix="qs-doc-blocks-") as home:
        env = reader_environment(ROOT, Path(home), **stores)
        outcomes = run_document(blocks, base_url=base, env=env, cwd=ROOT)

    for outcome in outcomes:
        assert outcome.problem is None, (
            f"{outcome.block.name} {outcome.problem}:\n{outcome.block.code}\n--- it printed ---\n{outcome.output}"
        )
    assert len(outcomes) == len(runnable), f"{doc.name}: {len(outcomes)} of {len(runnable)} blocks ran"


def test_the_what_if_example_moves_the_demos_quotes(demo: tuple[str, dict[str, str]]) -> None:
    """docs/governance.md's simulation drafts a change the demo's baskets hold: its answer counts
    changed quotes, and its examples show the commission moving."""
    base, stores = demo
    doc = ROOT / "docs" / "governance.md"
    with tempfile.TemporaryDirectory(prefix="qs-doc-blocks-") as home:
        outcomes = run_document(
            shell_blocks(doc), base_url=base, env=reader_environment(ROOT, Path(home), **stores), cwd=ROOT
        )
    [what_if] = [outcome for outcome in outcomes if "/api/v1/simulations" in outcome.block.code]
    assert what_if.problem is None, what_if.output
    result = json.loads(what_if.output)["data"]
    assert (result["status"], result["skipped"]) == ("done", 0), result
    assert 0 < result["changed_quotes"] <= result["quotes"]
    assert Decimal(result["delta"]["TRY"]["commission"]["category"]) < 0
    assert result["examples"]
    for example in result["examples"]:
        assert "commission.category" in example["changed"]
        assert Decimal(example["after_commission"]) < Decimal(example["before_commission"])
