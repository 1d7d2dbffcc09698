"""The unit and integration tests mirror the package (docs/development.md#where-the-tests-live).

`tests/unit/<domain>/` and `tests/integration/<domain>/` hold the tests of `quote_service/<domain>/`;
the tests of a top-level module (`config.py`, `edge.py`, `server.py`, ...) and the few that cut
across domains (the docs, the container image) sit at the root of their kind. A folder that names
no package of `quote_service/` is a folder a reader cannot place, and a folder without
`__init__.py` makes two test files of one name (there are several: `test_campaigns.py` in
`unit/pricing/` and `integration/campaigns/`) collide at import.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "quote_service"
# Helper packages that are not tests of a domain: the pricing engine's independent reference
# implementation lives beside the engine's tests that compare against it.
HELPERS = {Path("tests/unit/pricing/reference_engine")}


def _folders(kind: str) -> list[Path]:
    """Every folder under tests/<kind>/, but helper packages and what is inside them."""
    folders = []
    for path in sorted((ROOT / "tests" / kind).rglob("*")):
        relative = path.relative_to(ROOT)
        helper = any(relative == h or h in relative.parents for h in HELPERS)
        if path.is_dir() and "__pycache__" not in relative.parts and not helper:
            folders.append(path)
    return folders


@pytest.mark.parametrize("kind", ["unit", "integration"])
def test_each_test_folder_names_a_package_of_the_service(kind: str) -> None:
    base = ROOT / "tests" / kind
    strays = [
        str(folder.relative_to(ROOT))
        for folder in _folders(kind)
        if not (PACKAGE / folder.relative_to(base) / "__init__.py").is_file()
    ]
    assert strays == [], f"test folders that mirror no package of quote_service/: {strays}"


@pytest.mark.parametrize("kind", ["unit", "integration"])
def test_each_test_folder_is_a_package(kind: str) -> None:
    missing = [str(folder.relative_to(ROOT)) for folder in _folders(kind) if not (folder / "__init__.py").is_file()]
    assert missing == [], f"test folders without __init__.py: {missing}"
