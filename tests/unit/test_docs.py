"""The README and docs/ stand alone: every link resolves inside the repository, nothing cites
documents a user of the repository cannot see, and the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
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


_UNBUILT = re.compile(r"not built( yet)?|not (yet )?implemented|is not built", re.IGNORECASE)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_doc_calls_a_feature_unbuilt(doc: Path) -> None:
    """Every feature the docs describe is built (INVENTORY_LEVEL repricing once read "not built yet")."""
    for number, line in enumerate(doc.read_text().splitlines(), 1):
        assert not _UNBUILT.search(line), f"{doc.name}:{number}: {line.strip()}"
