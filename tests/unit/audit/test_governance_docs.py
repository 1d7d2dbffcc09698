"""docs/governance.md names every entity type the service governs: the approval policies' types and the
revertible ones, checked against the code's lists (an `extension` and an `offer` policy were missing)."""

from __future__ import annotations

import re

from quote_service.audit import changes
from quote_service.audit.revert import REVERTIBLE
from tests.doc_blocks import ROOT

GOVERNANCE = (ROOT / "docs" / "governance.md").read_text()


def _types_after(opening: str, closing: str) -> set[str]:
    """The backquoted names in the docs between `opening` and the next `closing`."""
    start = GOVERNANCE.index(opening) + len(opening)
    return set(re.findall(r"`([a-z_]+)`", GOVERNANCE[start : GOVERNANCE.index(closing, start)]))


def test_the_policy_types_the_docs_list_are_the_ones_a_policy_takes() -> None:
    listed = _types_after("`entity_type` is one of", "is read\n  as its type") - {"commission_rates", "price-lists"}
    assert listed == changes.GOVERNED


def test_the_revertible_types_the_docs_list_are_the_ones_revert_takes() -> None:
    assert _types_after("can be reverted\n  (entity types", ");") == REVERTIBLE


def test_the_governance_page_offers_revert_on_the_types_revert_takes() -> None:
    script = (ROOT / "quote_service" / "pages" / "static" / "governance.js").read_text()
    listed = script.split("const REVERTIBLE = new Set([", 1)[1].split("]", 1)[0]
    assert set(re.findall(r'"([a-z_]+)"', listed)) == REVERTIBLE
