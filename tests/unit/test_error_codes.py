"""The error-code table in docs/errors.md is the registry, and the registry holds every code raised."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from quote_service import errors
from quote_service.error_codes import ERROR_CODES

ROOT = Path(__file__).resolve().parents[2]
_ROW = re.compile(r"^\| `([A-Z_]+)` \| (\d+|varies) \| (.+?) \| (yes|no|after change) \|$")
_CODE = re.compile(r"^[A-Z][A-Z_]+[A-Z]$")


def _documented() -> dict[str, tuple[int, str]]:
    rows = {}
    for line in (ROOT / "docs" / "errors.md").read_text().splitlines():
        if match := _ROW.match(line):
            code, status, _, retry = match.groups()
            assert code not in rows, f"{code} is in docs/errors.md twice"
            rows[code] = (0 if status == "varies" else int(status), retry)
    return rows


def _constants(node: ast.AST | None) -> list[str]:
    """String constants a code expression can evaluate to (`"A"`, `"A" if x else "B"`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and _CODE.match(node.value):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _constants(node.body) + _constants(node.orelse)
    return []


def _raised_codes() -> dict[str, str]:
    """Every literal code in the package: `code = "X"`, `code="X"`, `error_response(s, "X", ...)`,
    `refusal("X")`, and the values of `_HTTP_CODES`; mapped to where it was found."""
    found: dict[str, str] = {}
    for path in (ROOT / "quote_service").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            values: list[str] = []
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {t.id for t in targets if isinstance(t, ast.Name)}
                if "code" in names:
                    values += _constants(node.value)
                if "_HTTP_CODES" in names and isinstance(node.value, ast.Dict):
                    for value in node.value.values:
                        values += _constants(value)
            elif isinstance(node, ast.keyword) and node.arg == "code":
                values += _constants(node.value)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id == "error_response" and len(node.args) > 1:
                    values += _constants(node.args[1])
                if node.func.id == "refusal" and node.args:
                    values += _constants(node.args[0])
            for value in values:
                found.setdefault(value, where)
    return found


def test_the_documented_table_is_the_registry() -> None:
    documented = _documented()
    registered = {code: (e.status, e.retry) for code, e in ERROR_CODES.items()}
    assert documented == registered


def test_every_code_the_package_raises_is_registered() -> None:
    found = _raised_codes()
    assert len(found) > 20, "the scan found too few codes: has the code layout changed?"
    unregistered = {code: where for code, where in found.items() if code not in ERROR_CODES}
    assert not unregistered, f"add these to quote_service/error_codes.py and docs/errors.md: {unregistered}"


def test_every_error_class_is_registered_with_its_status() -> None:
    def walk(cls: type[errors.ServiceError]) -> list[type[errors.ServiceError]]:
        return [cls, *(c for sub in cls.__subclasses__() for c in walk(sub))]

    for cls in walk(errors.ServiceError):
        assert cls.code in ERROR_CODES, cls
        assert ERROR_CODES[cls.code].status == cls.status_code, cls


def test_statuses_of_refusals_carry_retry_advice() -> None:
    for code, entry in ERROR_CODES.items():
        if entry.status in (429, 503, 504):
            assert entry.retry == "yes", code
