"""Assertions on the error envelope of docs/api.md, shared by the HTTP tests."""

from __future__ import annotations

from typing import Any

import httpx

QUANTITY_DETAIL = frozenset({"field", "message", "min_qty", "max_qty", "step", "remaining_for_customer"})
"""A QUANTITY_RULE detail: §1's with what is allowed (docs/pricing.md#quantity-rules)."""


def expect_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert `response` is exactly the error envelope with this status and code; return its body.
    Its details are §1's `{field, message}`, a QUANTITY_RULE's with the rule's extra keys."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"success", "message", "error"}, body
    assert body["success"] is False
    assert isinstance(body["message"], str)
    assert body["message"]
    assert set(body["error"]) == {"code", "details"}, body
    assert body["error"]["code"] == code, body
    for detail in body["error"]["details"]:
        assert set(detail) == (QUANTITY_DETAIL if code == "QUANTITY_RULE" else {"field", "message"}), detail
        assert isinstance(detail["field"], str)
        assert isinstance(detail["message"], str)
    return body


def field_errors(body: dict[str, Any]) -> dict[str, str]:
    """The envelope's details as {field path: message}."""
    return {detail["field"]: detail["message"] for detail in body["error"]["details"]}


def expect_ok(response: httpx.Response, status: int = 200) -> Any:
    """Assert a success envelope with this status; return its `data`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True, body
    assert isinstance(body["message"], str)
    return body["data"]
