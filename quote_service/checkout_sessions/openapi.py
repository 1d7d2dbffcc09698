"""The agents' checkout-session routes in the OpenAPI document, as they answer (docs/agents.md).

The handlers read their bodies themselves (each protocol's own refusals), so Litestar documents no
body and a plain string as the answer. Here each operation gets what it really takes and answers:
its request body (the protocol's struct), the headers it requires (`Idempotency-Key` on every
POST and PUT, `UCP-Agent` on UCP's sessions, `API-Version` optional on ACP), the session object
it answers, and its refusals in the protocol's error shape — or in the service's envelope where
the refusal comes before the route (credentials, an X-Money-Format header, a store down).
"""

from __future__ import annotations

from typing import Any

import msgspec

from quote_service.checkout_sessions import acp, ucp
from quote_service.checkout_sessions.binding import KEY
from quote_service.web.deps import MAX_IDEMPOTENCY_KEY_LENGTH

_REF = "#/components/schemas/{name}"
_ENVELOPE = {"$ref": _REF.format(name="ErrorEnvelope")}
_ACP_SESSIONS = "/acp/checkout_sessions"
_UCP_SESSIONS = "/ucp/checkout-sessions"
_PROFILES = ("/ucp/.well-known/ucp", "/.well-known/ucp")
_VISIBLE = r"^[!-~]([ -~]*[!-~])?$"
"""A header value the server keeps as sent and takes (`binding.printable`): printable ASCII, spaces only inside
(HTTP trims the ends)."""

SCHEMAS: dict[str, dict[str, Any]] = {
    "AcpError": {
        "type": "object",
        "description": "ACP's flat error: `param` names the header or the body field (a JSONPath).",
        "required": ["type", "code", "message"],
        "properties": {
            "type": {"type": "string", "enum": ["invalid_request", "processing_error", "service_unavailable"]},
            "code": {"type": "string"},
            "message": {"type": "string"},
            "param": {"type": "string"},
            "supported_versions": {"type": "array", "items": {"type": "string"}},
        },
    },
    "UcpError": {
        "type": "object",
        "description": "UCP's error: `path` names the header or the body field (a JSONPath).",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "detail": {"type": "string"},
            "path": {"type": "string"},
        },
    },
    "AgentCheckoutSession": {
        "type": "object",
        "description": "The session in the protocol's shape (docs/agents.md shows both).",
        "required": ["id", "status"],
        "properties": {"id": {"type": "string"}, "status": {"type": "string"}},
    },
    "UcpProfile": {
        "type": "object",
        "description": "The business profile: the UCP version, the shopping service's endpoint, its capabilities.",
        "required": ["ucp"],
        "properties": {"ucp": {"type": "object", "required": ["version", "services", "capabilities"]}},
    },
}

_BODIES: dict[tuple[str, str], type[Any]] = {
    ("post", _ACP_SESSIONS): acp.AcpCreate,
    ("post", _ACP_SESSIONS + "/{session_id}"): acp.AcpUpdate,
    ("post", _ACP_SESSIONS + "/{session_id}/complete"): acp.AcpComplete,
    ("post", _UCP_SESSIONS): ucp.UcpCheckout,
    ("put", _UCP_SESSIONS + "/{session_id}"): ucp.UcpCheckout,
    ("post", _UCP_SESSIONS + "/{session_id}/complete"): ucp.UcpComplete,
}
"""The body each route decodes (the cancels take none)."""


def _header(name: str, description: str, *, required: bool, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string", **schema},
    }


_IDEMPOTENCY_KEY = _header(
    KEY,
    "Required: a retry with the same key and body answers the first answer again.",
    required=True,
    minLength=1,
    maxLength=MAX_IDEMPOTENCY_KEY_LENGTH,
    pattern=_VISIBLE,
)
_API_VERSION = _header("API-Version", "The ACP version (absent: the newest).", required=False, enum=list(acp.SUPPORTED))
_UCP_AGENT = _header(
    "UCP-Agent", "Required: the agent's profile, e.g. profile=\"https://agent.example/profile\".", required=True,
    minLength=1, pattern=_VISIBLE,
)  # fmt: skip


def document_agent_protocols(schema: dict[str, Any]) -> dict[str, Any]:
    """Write the agents' operations into `schema` (Litestar's, as completed by web/openapi.py)."""
    paths = schema.get("paths", {})
    shared = schema.setdefault("components", {}).get("responses", {})
    components = schema["components"].setdefault("schemas", {})
    components.update(SCHEMAS)
    _, bodies = msgspec.json.schema_components(list(set(_BODIES.values())), ref_template=_REF)
    components.update(bodies)
    for path in _PROFILES:
        if (operation := paths.get(path, {}).get("get")) is not None:
            operation["responses"]["200"]["content"] = _json({"$ref": _REF.format(name="UcpProfile")})
    for path, item in paths.items():
        protocol = "AcpError" if path.startswith(_ACP_SESSIONS) else "UcpError"
        if not path.startswith((_ACP_SESSIONS, _UCP_SESSIONS)):
            continue
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _document(method, path, operation, protocol, shared)
    return schema


def _document(method: str, path: str, operation: dict[str, Any], protocol: str, shared: dict[str, Any]) -> None:
    headers = [_API_VERSION] if protocol == "AcpError" else [_UCP_AGENT]
    if method in ("post", "put"):
        headers.append(_IDEMPOTENCY_KEY)
    kept = [p for p in operation.get("parameters", []) if p.get("in") != "header"]
    operation["parameters"] = [*kept, *headers]
    body = _BODIES.get((method, path))
    if body is not None:
        reference = {"$ref": _REF.format(name=body.__name__)}
        operation["requestBody"] = {"required": True, "content": _json(reference)}
    refusal = {"anyOf": [{"$ref": _REF.format(name=protocol)}, _ENVELOPE]}
    for status, answer in list(operation["responses"].items()):
        if status.startswith("2"):
            session = {"$ref": _REF.format(name="AgentCheckoutSession")}
            operation["responses"][status] = {"description": answer.get("description", "The session."),
                                              "content": _json(session)}  # fmt: skip
        elif status[0] in "45":
            answer = shared.get(status, answer) if "$ref" in answer else answer
            operation["responses"][status] = {
                "description": answer.get("description", "Refused: the protocol's error."),
                **({"headers": answer["headers"]} if "headers" in answer else {}),
                "content": _json(refusal),
            }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}
