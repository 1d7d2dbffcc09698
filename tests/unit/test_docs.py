"""The README and docs/ stand alone: every link resolves inside the repository, nothing cites
documents a user of the repository cannot see, and the README stays short."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from quote_service.cli import demo
from quote_service.pages.controller import PATHS
from tests.doc_blocks import DEMO_ORIGINS, DOCS, ROOT, SHELLS, Block, MarkerError, fenced_blocks, shell_blocks

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_OUTSIDE = re.compile(r"\.\./shared|\bAPI\.md|§|\bGo service\b|FastAPI|\b[Nn]ext issue\b|\b[Ii]ssue \d+\b")


def _anchors(path: Path) -> set[str]:
    """GitHub-style anchors of a markdown file's headings."""
    anchors = set()
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves_inside_the_repository(doc: Path) -> None:
    for target in _LINK.findall(doc.read_text()):
        if re.match(r"^[a-z]+://", target) or target.startswith("mailto:"):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (doc.parent / file_part).resolve() if file_part else doc
        assert resolved.is_relative_to(ROOT), f"{doc.name}: {target} points outside the repository"
        assert resolved.exists(), f"{doc.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{doc.name}: no heading for #{anchor} in {file_part or doc.name}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_sentence_cites_what_users_cannot_see(doc: Path) -> None:
    for number, line in enumerate(doc.read_text().splitlines(), 1):
        assert not _OUTSIDE.search(line), f"{doc.name}:{number}: {line.strip()}"


def test_every_doc_is_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for doc in DOCS[1:]:
        assert f"(docs/{doc.name})" in readme, f"README.md does not link docs/{doc.name}"


def test_the_readme_fits_a_newcomer() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.split()) < 1600
    assert "make run" in text
    assert "make test" in text


_UNBUILT = re.compile(
    r"not built( yet)?|not (yet )?implemented|is not built|not (taken|supported|accepted) yet", re.IGNORECASE
)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_doc_calls_a_feature_unbuilt(doc: Path) -> None:
    """Every feature the docs describe is built (INVENTORY_LEVEL repricing once read "not built yet", the payout
    preview's `offer_id` "not taken yet" while the preview took it)."""
    for number, line in enumerate(doc.read_text().splitlines(), 1):
        assert not _UNBUILT.search(line), f"{doc.name}:{number}: {line.strip()}"


# --- the shell blocks (tests/doc_blocks.py; run by tests/integration/test_doc_blocks.py) ----------

SHELL_BLOCKS = [block for doc in DOCS for block in fenced_blocks(doc) if block.language in SHELLS]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_test_markers_sit_right_before_a_shell_block(doc: Path) -> None:
    try:
        shell_blocks(doc)
    except MarkerError as wrong:
        pytest.fail(str(wrong))


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=lambda block: block.name)
def test_each_shell_block_parses(block: Block) -> None:
    """Every block is bash, those the docs test does not run too (the run lists them at its end)."""
    checked = subprocess.run(
        ["bash", "-n"],  # noqa: S607 - bash from PATH, only parsing (-n)
        input=block.code,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, f"{block.name} is not valid bash: {checked.stderr}"


_FLAG_READS = re.compile(r"""get_?\w*?_?(?:[Vv]alue|[Dd]etails)\(\s*["'](\w+)["']""")


def test_the_openfeature_examples_read_flags_the_demo_has() -> None:
    """Pasted against `make run`, the SDK examples read flags that exist (not made-up ones)."""
    named = set(_FLAG_READS.findall((ROOT / "docs" / "openfeature.md").read_text()))
    assert named, "the examples read no flag"
    assert named <= {flag["key"] for flag in demo.DEMO_FLAGS}, sorted(named)


def test_the_promotion_examples_quote_no_product_of_the_demo_flash_sale() -> None:
    """The docs test runs docs/promotions.md in the demo's first hour, while its flash sale runs: a
    flash-priced line takes no promotion, so an example quoting one would print other figures."""
    quoted = {
        sku
        for block in shell_blocks(ROOT / "docs" / "promotions.md")
        for line in block.code.splitlines()
        if line.startswith("quote ")
        for sku in _COMMENT.sub("", line).split()[1:]
    }
    assert quoted, "the examples quote nothing"
    assert not quoted & set(demo.DEMO_SALE_SKUS), sorted(quoted & set(demo.DEMO_SALE_SKUS))


DEMO_BASE = "BASE=http://127.0.0.1:8000"
_COMMENT = re.compile(r"(^|\s)#.*$")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_commands_reach_the_demo_through_base(doc: Path) -> None:
    """A page's commands name the demo's address in one line, `BASE=http://127.0.0.1:8000`, and
    `$BASE` after it: a reader who served elsewhere (`make run PORT=8001`) changes that line only."""
    commands = [_COMMENT.sub("", line).strip() for block in shell_blocks(doc) for line in block.code.splitlines()]
    literal = [line for line in commands if line != DEMO_BASE and any(o in line for o in DEMO_ORIGINS)]
    assert not literal, f"use $BASE: {literal}"
    assert commands.count(DEMO_BASE) <= 1, "set BASE once per page"
    uses = [i for i, line in enumerate(commands) if "$BASE" in line]
    if uses:
        assert DEMO_BASE in commands[: uses[0]], "set BASE before its first use"


def test_the_readme_names_every_page() -> None:
    """Each browser page (the landing page's doors) is named in the README's tour of them."""
    readme = (ROOT / "README.md").read_text()
    assert [path for path in PATHS.values() if f"`{path}`" not in readme] == []


@pytest.mark.parametrize(
    ("topic", "words"),
    [
        ("webhooks", ["webhooks.md#delivery", "WEBHOOK_ALLOW_PRIVATE", "WEBHOOK_POLL_INTERVAL=0"]),
        ("change approval", ["CHANGE_APPROVAL", "governance.md#change-requests-four-eyes"]),
        ("retention", ["RETENTION_INTERVAL=0", "quote-service retention", "cron", "data-lifecycle.md#grants"]),
        ("simulations", ["governance.md#what-if-simulations", "in one process", "404"]),
    ],
)
def test_the_deployment_page_says_what_every_instance_runs(topic: str, words: list[str]) -> None:
    """What an operator of several instances must know: who sends webhooks, where approval is set,
    who drops partitions (and with which grants), where a simulation's result lives."""
    section = (ROOT / "docs" / "deployment.md").read_text().split("## What every instance runs besides requests")
    assert len(section) == 2, "docs/deployment.md lacks its section on background work"
    text = section[1].split("\n## ")[0]
    assert [word for word in words if word not in text] == [], topic
