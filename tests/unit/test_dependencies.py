"""Every runtime dependency in pyproject.toml is one the service imports, or says why it needs none
(docs/architecture.md#dependencies-and-why): a dependency nothing uses is weight every install
carries (aiocache stayed one after the local cache tier stopped using it)."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_IMPORTED = {
    "uvloop": "granian runs its event loop on it when it is installed",
    "jinja2": "litestar's Jinja template engine (the pages) imports it",
}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_canonical(re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0]) for spec in project["dependencies"]}


def _imported() -> set[str]:
    """The distributions whose modules quote_service/ imports, at the top or inside a function."""
    modules: set[str] = set()
    for path in (ROOT / "quote_service").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
            elif (name := _imported_by_name(node)) is not None:  # loaded on first use
                modules.add(name.split(".")[0])
    owners = packages_distributions()
    return {_canonical(dist) for module in modules for dist in owners.get(module, [])}


def _imported_by_name(node: ast.AST) -> str | None:
    """The module of an `importlib.import_module("scipy.special")` call, or None."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
        return None
    first = node.args[0]
    if node.func.attr != "import_module" or not isinstance(first, ast.Constant) or not isinstance(first.value, str):
        return None
    return first.value


def test_every_runtime_dependency_is_imported_or_says_why_not() -> None:
    unused = _declared() - _imported() - set(NOT_IMPORTED)
    assert not unused, f"runtime dependencies nothing in quote_service/ imports: {sorted(unused)}"


def test_no_reason_for_not_importing_is_stale() -> None:
    assert set(NOT_IMPORTED) <= _declared()
    assert not set(NOT_IMPORTED) & _imported(), "imported after all: drop it from NOT_IMPORTED"
