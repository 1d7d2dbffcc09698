"""docs/extensions.md's walk-through with the example tax engine, run as written: its blocks are marked
`not-run` for the demo docs test (an extension on 127.0.0.1 needs WEBHOOK_ALLOW_PRIVATE=true, which
`make run` does not set), so they run here, against `quote-service serve` with it set, in a reader's
shell (tests/doc_blocks.py): the engine started from examples/, the quote taxed by it, then the fallback
once it is gone; then the page again from its first block, as a reader who restarted the service as it asks
would: the second run taxes and falls back as the first did, and leaves no extension that quotes fall back on."""

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
    walked = [dataclasses.replace(block, not_run=None) for block in walk]
    # Then, as a reader who restarted the service as asked and runs the page again from its top: the first
    # block whole (accepted here), and the walk-through once more; quotes after it are the service's own.
    after = dataclasses.replace(walk[-1], not_run=None, code=_QUOTES_AFTER)
    runnable = [dataclasses.replace(login, code=setup, refusals=()), *walked]
    runnable += [dataclasses.replace(login, refusals=()), *walked, after]
    with running_server(env) as base, tempfile.TemporaryDirectory(prefix="qs-doc-blocks-") as home:
        reader = reader_environment(ROOT, Path(home), **stores, EXT_PORT=str(free_port()))
        outcomes = run_document(runnable, base_url=base, env=reader, cwd=ROOT)
    for outcome in outcomes:
        assert outcome.problem is None, f"{outcome.block.name} {outcome.problem}:\n{outcome.output}"
    assert len(outcomes) == len(runnable)
    for taxed, fallen_back in ((outcomes[1], outcomes[2]), (outcomes[4], outcomes[5])):
        assert "extension 5.00 [('VAT', '20', '5.00')] 30.00" in taxed.output
        assert "internal ['EXTENSION_FALLBACK']" in fallen_back.output
    assert outcomes[-1].output.split() == ["DE", "None", "None", "FR", "None", "None"], outcomes[-1].output


_QUOTES_AFTER = """
for COUNTRY in DE FR; do
  curl -s -X POST $BASE/api/v1/quote -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{
    "customer_id": "after-the-walk-'$COUNTRY'", "currency": "EUR",
    "items": [{"product_id": "ad-hoc-book", "quantity": 1, "unit_price": "12.50", "seller_id": "seller-1"}],
    "delivery_address": {"city": "Somewhere", "country": "'$COUNTRY'"}}' \
    | python3 -c 'import sys,json; q = json.load(sys.stdin)["data"]
print(sys.argv[1], q.get("tax_source"), q.get("warnings"))' $COUNTRY
done
"""
"""Quotes to Germany and France after the page was run twice: no extension is asked, none falls back."""
