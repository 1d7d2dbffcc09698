"""The event-type registry (webhooks/events.py) names every event the service writes: the types a
subscription may name, and what the docs' receivers are tested against
(tests/integration/webhooks/test_webhook_receiver_example.py). Python's `emit` takes only a
registered type (mypy checks its `EventType`); this checks the SQL that writes events."""

from __future__ import annotations

import re
from pathlib import Path

from quote_service.webhooks.events import EVENT_TYPES

ROOT = Path(__file__).resolve().parents[3]
_SQL_EMIT = re.compile(r"webhook_emit\(\s*'([^']+)'")


def written_in_sql() -> set[str]:
    """Every type a `webhook_emit('<type>', ...)` call names, in the migrations and in the SQL of
    the service's own modules."""
    sources = [*(ROOT / "migrations").glob("*.sql"), *(ROOT / "quote_service").rglob("*.py")]
    return {name for path in sources for name in _SQL_EMIT.findall(path.read_text(encoding="utf-8"))}


def test_every_type_the_database_writes_is_registered() -> None:
    found = written_in_sql()
    assert {"product.price_changed", "config.changed", "webhook.disabled"} <= found, "the scan finds the calls"
    assert found <= set(EVENT_TYPES), f"emitted but not in events.EventType: {sorted(found - set(EVENT_TYPES))}"
