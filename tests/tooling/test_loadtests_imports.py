"""Every name the benchmark scripts import exists, function-local imports included.

The scripts in loadtests/ are rerun by hand, weeks apart, and several import what they need
inside the function that needs it (so `--help` stays fast): a name removed from the service
(the compiled engine's `quote_service.pricing.ENGINE`, 2026-11-25) broke `work_app.py --parts`
and `bench_hot_path.py` with no test noticing. This reads each script's imports without running
the script (locustfile.py patches the standard library when imported): a `quote_service` import
must resolve on the package, an import of a sibling script must name something that script
defines at its top level.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOADTESTS = ROOT / "loadtests"
SCRIPTS = sorted(LOADTESTS.rglob("*.py"))


def _top_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
            for target in node.targets:
                if isinstance(target, ast.Tuple):
                    names.update(element.id for element in target.elts if isinstance(element, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _sibling(module: str, script: Path) -> Path | None:
    for base in (script.parent, LOADTESTS):
        candidate = base / (module.replace(".", "/") + ".py")
        if candidate.is_file():
            return candidate
    return None


def _missing(script: Path) -> list[str]:
    missing = []
    for node in ast.walk(ast.parse(script.read_text())):
        if not isinstance(node, ast.ImportFrom) or node.level or node.module is None:
            continue
        names = [alias.name for alias in node.names if alias.name != "*"]
        if node.module == "quote_service" or node.module.startswith("quote_service."):
            module = importlib.import_module(node.module)
            for name in names:
                if not hasattr(module, name):
                    try:
                        importlib.import_module(f"{node.module}.{name}")
                    except ModuleNotFoundError:
                        missing.append(f"line {node.lineno}: from {node.module} import {name}")
        elif (sibling := _sibling(node.module, script)) is not None:
            defined = _top_level_names(sibling)
            missing.extend(
                f"line {node.lineno}: from {node.module} import {name}" for name in names if name not in defined
            )
    return missing


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: str(path.relative_to(LOADTESTS)))
def test_every_imported_name_exists(script: Path) -> None:
    assert _missing(script) == []


def test_a_removed_name_is_caught(tmp_path: Path) -> None:
    script = tmp_path / "old_bench.py"
    script.write_text("def run():\n    from quote_service.pricing import ENGINE\n    return ENGINE\n")
    assert _missing(script) == ["line 2: from quote_service.pricing import ENGINE"]
