"""The one error registry (quote_service/errors.py): docs/errors.md is it in prose, it holds every
code the package raises with the status that code is raised with, and every error class."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import quote_service
from quote_service import errors
from quote_service.errors import REGISTRY, ServiceError, framework_code

ROOT = Path(__file__).resolve().parents[2]
_ROW = re.compile(r"^\| `([A-Z_]+)` \| (\d+(?:, \d+)?|varies) \| (.+?) \| (yes|no|after change) \|$")
_CODE = re.compile(r"^[A-Z][A-Z_]+[A-Z]$")
_CLASSES = {name: cls for name, cls in vars(errors).items() if isinstance(cls, type) and issubclass(cls, ServiceError)}
_REFUSAL_FACTORIES = {"refusal": errors.Conflict}
"""Helpers that wrap a code in an error class: `refusal("SOLD_OUT")` is a Conflict."""


def _documented() -> dict[str, tuple[int, str, str]]:
    rows = {}
    for line in (ROOT / "docs" / "errors.md").read_text().splitlines():
        if match := _ROW.match(line):
            code, status, meaning, retry = match.groups()
            assert code not in rows, f"{code} is in docs/errors.md twice"
            rows[code] = ("0" if status == "varies" else status, meaning, retry)
    return rows


def _statuses(code: str) -> tuple[int, ...]:
    """The statuses a code answers with: its row's, and the second one where it has one."""
    row = REGISTRY[code]
    return (row.status,) if row.also_status is None else (row.status, row.also_status)


def _constants(node: ast.AST | None) -> list[str]:
    """String constants a code expression can evaluate to (`"A"`, `"A" if x else "B"`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and _CODE.match(node.value):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _constants(node.body) + _constants(node.orelse)
    return []


def _called(call: ast.Call) -> str:
    """The name a call calls: `f(...)` → f, `module.f(...)` → f."""
    if isinstance(call.func, ast.Name):
        return call.func.id
    return call.func.attr if isinstance(call.func, ast.Attribute) else ""


def _status_of(call: ast.Call) -> int | None:
    """The status an error built by this call answers with, where the call says (None: it does not)."""
    name = _called(call)
    if name in _CLASSES:
        return _CLASSES[name].status_code
    if name in _REFUSAL_FACTORIES:
        return _REFUSAL_FACTORIES[name].status_code
    if name == "error_response" and call.args and isinstance(call.args[0], ast.Constant):
        return int(call.args[0].value)
    return None


def _raised_codes() -> list[tuple[str, int | None, str]]:
    """Every literal code outside errors.py: `code = "X"`, `Cls(..., code="X")`, `error_response(s, "X", ...)`,
    `refusal("X")`; with the status it is raised with where the call shows it, and where it was found."""
    found: list[tuple[str, int | None, str]] = []
    for path in (ROOT / "quote_service").rglob("*.py"):
        if path.name == "errors.py" and path.parent.name == "quote_service":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if "code" in {t.id for t in targets if isinstance(t, ast.Name)}:
                    found += [(code, None, where) for code in _constants(node.value)]
            elif isinstance(node, ast.Call):
                status = _status_of(node)
                values = [v for k in node.keywords if k.arg == "code" for v in _constants(k.value)]
                name = _called(node)
                if name == "error_response" and len(node.args) > 1:
                    values += _constants(node.args[1])
                if name in _REFUSAL_FACTORIES and node.args:
                    values += _constants(node.args[0])
                found += [(code, status, where) for code in values]
    return found


def _all_error_classes() -> list[type[ServiceError]]:
    for module in pkgutil.walk_packages(quote_service.__path__, "quote_service."):
        if not module.name.endswith("__main__"):  # a __main__ runs its program when imported
            importlib.import_module(module.name)

    def walk(cls: type[ServiceError]) -> list[type[ServiceError]]:
        return [cls, *(c for sub in cls.__subclasses__() for c in walk(sub))]

    return walk(ServiceError)


def test_the_documented_table_is_the_registry() -> None:
    registered = {
        code: (", ".join(map(str, _statuses(code))), row.meaning, row.retry) for code, row in REGISTRY.items()
    }
    assert _documented() == registered


def test_every_code_the_package_raises_is_registered_with_the_status_it_is_raised_with() -> None:
    found = _raised_codes()
    assert len(found) > 15, "the scan found too few codes: has the code layout changed?"
    unregistered = {code: where for code, _, where in found if code not in REGISTRY}
    assert not unregistered, f"register these in quote_service/errors.py and docs/errors.md: {unregistered}"
    wrong = {
        where: (code, status, REGISTRY[code].status)
        for code, status, where in found
        if status is not None and status not in _statuses(code)
    }
    assert not wrong, f"raised with another status than its registry row's: {wrong}"


def test_every_error_class_is_registered_with_its_status() -> None:
    classes = _all_error_classes()
    assert errors.Conflict in classes
    for cls in classes:
        assert cls.code in REGISTRY, cls
        assert cls.status_code in _statuses(cls.code), cls


def test_each_class_row_names_its_class() -> None:
    for code, row in REGISTRY.items():
        if row.raised_as is not None:
            assert issubclass(row.raised_as, ServiceError), code
            assert row.raised_as.status_code == row.status, code


def test_a_second_status_is_answered_by_a_class_of_its_own() -> None:
    assert REGISTRY["QUANTITY_RULE"].also_status == 409
    assert errors.QuantityLimitReached.code == errors.QuantityRuleBroken.code == "QUANTITY_RULE"
    assert (errors.QuantityRuleBroken.status_code, errors.QuantityLimitReached.status_code) == (422, 409)
    with pytest.raises(ValueError, match="QUANTITY_RULE"):
        errors.answered_also("QUANTITY_RULE")(type("Again", (errors.Conflict,), {}))


def test_refusals_carry_retry_advice_and_retry_after() -> None:
    for code, row in REGISTRY.items():
        if row.status in (429, 503, 504):
            assert row.retry == "yes", code
        if row.status in (429, 503) and row.raised_as is not None:
            assert row.retry_after is not None, f"{code}: 429 and 503 answers carry Retry-After"


def test_framework_errors_get_one_code_per_status() -> None:
    framework = [row for row in REGISTRY.values() if row.framework]
    assert len({row.status for row in framework}) == len(framework)
    assert framework_code(405) == "METHOD_NOT_ALLOWED"
    assert framework_code(404) == "NOT_FOUND"
    assert framework_code(418) == "HTTP_ERROR"


def test_a_code_registered_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="NOT_FOUND"):
        errors.edge("NOT_FOUND", 404, "no", "again")
    assert REGISTRY["NOT_FOUND"].raised_as is errors.NotFound
