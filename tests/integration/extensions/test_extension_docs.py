"""docs/extensions.md's walk-through with the example tax engine, run as written: its blocks are marked
`not-run` for the demo docs test (an extension on 127.0.0.1 needs WEBHOOK_ALLOW_PRIVATE=true, which
`make run` does not set), so they run here, against `quote-service serve` with it set, in a reader's
shell (tests/doc_blocks.py): the engine started from examples/, the quote taxed by it, then the fallback
once it is gone."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import empty_stores
from tests.doc_blocks import ROOT, reader_environment, run_document, shell_blocks
from tests.integration.servers import CLI, cli_env, running_server
from tests.webhook_receiver import free_port

pytestmark = [pytest.mark.long, pytest.mark.slow]

DOC = ROOT / "docs" / "extensions.md"


def test_the_example_engine_walk_through_runs_as_written(database_url: str, single_redis_url: str) -> None:
    asyncio.run(empty_stores(database_url, single_redis_url))
    stores = {"DATABASE_URL": database_url, "REDIS_URL": single_redis_url}
    env = cli_env(**stores, LOG_LEVEL="WARNING", WEBHOOK_ALLOW_PRIVATE="true")
    migrated = subprocess.run([*CLI, "migrate"], env=env, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    made = subprocess.run(  # noqa: S603 - the demo's admin, which the blocks log in as
        [*CLI, "create-user", "--username", "demo-admin", "--role", "admin", "--password-stdin"],
        env=env,
        input="quote-service-admin\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    blocks = shell_blocks(DOC)
    login, *walk = blocks
    # The demo's refusal block without its refused request (here it would be accepted): its log-in only.
    setup = login.code.split("curl -s -X POST $BASE/api/v1/extensions")[0]
    runnable = [dataclasses.replace(login, code=setup, refusals=())]
    runnable += [dataclasses.replace(block, not_run=None) for block in walk]
    with running_server(env) as base, tempfile.TemporaryDirectory(prefix="qs-doc-blocks-") as home:
        reader = reader_environment(ROOT, Path(home), **stores, EXT_PORT=str(free_port()))
        outcomes = run_document(runnable, base_url=base, env=reader, cwd=ROOT)
    for outcome in outcomes:
        assert outcome.problem is None, f"{outcome.block.name} {outcome.problem}:\n{outcome.output}"
    assert len(outcomes) == len(runnable)
    assert "extension 5.00 [('VAT', '20', '5.00')] 30.00" in outcomes[1].output
    assert "internal ['EXTENSION_FALLBACK']" in outcomes[2].output
