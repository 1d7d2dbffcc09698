"""Make the generated OpenAPI document true, in one place, from what each route really does.

Litestar documents each operation's success answer and a 400 in its own `{detail,
status_code}` shape. Every other answer here is the error envelope (web/errors.py), so
`complete_openapi` rewrites every operation's error answers from the route's properties:

    authenticated (not exclude_from_auth)  401, 403            security: bearer or X-API-Key
    path parameters                        404
    a seller's route with a seller_id      404 (another seller's, as unknown: auth/sellers.py)
    every route                            422 (an X-Money-Format that names no format, before
                                               anything runs: web/money_format.py)
    a JSON body                            400, 408, 413, 415, 422
    POST / PUT / PATCH / DELETE            409
    everything but /health                 503 (a backing store down; Retry-After); /health/ready's
                                               is its own readiness report
    EXTRA_ERRORS                           what one route adds (410 of an expired edit, 429 and
                                               504 of a quote...)

and declares the two security schemes, so the docs page has an Authorize button. A write that
may become a change request (202) is documented by audit/openapi.py; the OFREP routes, in
their own protocol's shapes, by ofrep/openapi.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

from quote_service.auth.middleware import PUBLIC_PATHS
from quote_service.auth.sellers import seller_may_use
from quote_service.validation import DECODED, INSTANT_RULE, Instant
from quote_service.web.envelope import ErrorEnvelope

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

_ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}
ERROR_RESPONSES: dict[str, tuple[str, dict[str, Any]]] = {
    "400": ("MALFORMED_REQUEST: the body is not JSON (or not UTF-8, or nested absurdly deep).", {}),
    "401": (
        "UNAUTHORIZED: no credentials, or a bad, expired or revoked token or key.",
        {"WWW-Authenticate": {"description": "Bearer realm.", "schema": {"type": "string"}}},
    ),
    "403": ("FORBIDDEN: the caller's role may not do this.", {}),
    "404": ("NOT_FOUND: no such resource (or not the caller's).", {}),
    "408": ("REQUEST_TIMEOUT: the body did not arrive within BODY_READ_TIMEOUT; the connection is closed.", {}),
    "409": ("A state conflict: DUPLICATE_KEY, INSUFFICIENT_STOCK, SOLD_OUT, QUOTE_ALREADY_ORDERED, ...", {}),
    "405": ("An agent's ACP checkout session that is completed cannot be cancelled (docs/agents.md).", {}),
    "410": (
        "EDIT_EXPIRED: the order edit's preview is past its expires_at: preview the edit again; an agent's "
        "checkout session past its expires_at (session_expired, docs/agents.md).",
        {},
    ),
    "413": ("PAYLOAD_TOO_LARGE: the body is over the route's limit (1 MiB; more on bulk routes).", {}),
    "415": ("UNSUPPORTED_MEDIA_TYPE: the body is declared as something other than application/json.", {}),
    "422": (
        "VALIDATION_FAILED (or a more specific code): `error.details` names each bad field (a parameter, "
        "a body field, or an X-Money-Format header that is neither number nor string).",
        {},
    ),
    "429": ("RATE_LIMITED (SIMULATIONS_BUSY): too many requests; retry after Retry-After seconds.", _RETRY_AFTER),
    "503": ("OVERLOADED or DEPENDENCY_UNAVAILABLE: retry after Retry-After seconds.", _RETRY_AFTER),
    "504": ("QUOTE_TIMEOUT: the quote took longer than QUOTE_TIMEOUT.", {}),
}
"""Every error status the service answers with, as documented (the body is always the envelope)."""

# Agents' checkout sessions (docs/agents.md) refuse in their protocols' terms on every route: 400 for a missing
# Idempotency-Key, UCP-Agent or an unknown API-Version, 401 for a bad signature, 405 cancelling a completed ACP
# session, 409 for a key in flight or a finished session, 410 for an expired one.
_AGENT_PROTOCOLS = ("/acp/", "/ucp/")
_AGENT_REFUSALS = frozenset({"400", "401", "404", "405", "409", "410"})

EXTRA_ERRORS: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/api/v1/quote"): frozenset({"404", "409", "429", "504"}),
    ("POST", "/api/v1/auth/token"): frozenset({"401", "429"}),
    ("GET", "/api/v1/pricing-rules/versions"): frozenset({"404"}),
    ("POST", "/api/v1/orders"): frozenset({"404"}),
    ("GET", "/api/v1/flash-sales/{sale_id}/purchases/me"): frozenset({"403"}),
    ("GET", "/api/v1/flash-sales/purchases/me"): frozenset({"403"}),
    ("POST", "/api/v1/decisions/run"): frozenset({"404", "409"}),
    ("GET", "/api/v1/products/{product_id}/price"): frozenset({"409"}),
    ("POST", "/api/v1/orders/{order_id}/edits/{edit_id}/commit"): frozenset({"410"}),
    ("POST", "/api/v1/prices"): frozenset({"429"}),  # the quotes' rate limit
    ("POST", "/api/v1/simulations"): frozenset({"429"}),  # SIMULATIONS_BUSY
}
"""(method, path) → error statuses a route adds to what its properties imply."""

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "POST /api/v1/auth/token"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "A service key (qsk_...)"},
}
_AUTHENTICATED: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]
_MUTATIONS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PUBLIC = [re.compile(pattern) for pattern in PUBLIC_PATHS]


class DecodedTypes(OpenAPISchemaPlugin):
    """validation.StrictDecimal and Instant, documented as the Decimal and datetime they decode to."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value in DECODED

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        decoded = DECODED[field_definition.annotation]
        schema = schema_creator.for_field_definition(FieldDefinition.from_annotation(decoded))
        assert isinstance(schema, Schema)  # a plain type is never a reference
        if field_definition.annotation is Instant:
            schema.description = f"RFC 3339 with an offset; {INSTANT_RULE}."
        return schema


def complete_openapi(schema: dict[str, Any], app: Litestar) -> dict[str, Any]:
    """Rewrite `schema` (Litestar's, as a dict) in place with the true error answers and security."""
    components = schema.setdefault("components", {})
    _, envelope_components = msgspec.json.schema_components([ErrorEnvelope], ref_template="#/components/schemas/{name}")
    components.setdefault("schemas", {}).update(envelope_components)
    components["securitySchemes"] = SECURITY_SCHEMES
    components["responses"] = {
        status: {
            "description": description,
            **({"headers": headers} if headers else {}),
            "content": {"application/json": {"schema": {"$ref": _ENVELOPE_REF}}},
        }
        for status, (description, headers) in ERROR_RESPONSES.items()
    }
    for method, route, handler, operation in operations(schema, app):
        public = bool(handler.opt.get("exclude_from_auth")) or any(p.match(route.path) for p in _PUBLIC)
        statuses = _error_statuses(method, route.path_format, operation, public)
        responses = {code: answer for code, answer in operation["responses"].items() if not code.startswith("4")}
        responses.update({code: {"$ref": f"#/components/responses/{code}"} for code in statuses})
        operation["responses"] = dict(sorted(responses.items()))
        operation["security"] = [] if public else _AUTHENTICATED
        body = handler.parsed_fn_signature.parameters.get("data")
        if body is not None and "requestBody" in operation and (body.has_default or body.is_optional):
            operation["requestBody"]["required"] = False  # e.g. a flag evaluated for the caller alone
    _metrics_is_text(schema)
    _readiness_report_when_unready(schema)
    _csv_alternatives(schema)
    _close_strict_bodies(schema, app)
    return schema


def operations(schema: dict[str, Any], app: Litestar) -> Iterator[tuple[str, HTTPRoute, HTTPRouteHandler, Any]]:
    """(method, route, handler, the document's operation) of every documented route of `app`."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or (item := schema.get("paths", {}).get(route.path_format)) is None:
            continue
        for method, (handler, _) in route.route_handler_map.items():
            operation = item.get(method.lower())
            if operation is not None:
                yield method, route, handler, operation


def _error_statuses(method: str, path: str, operation: dict[str, Any], public: bool) -> set[str]:
    parameters = operation.get("parameters", [])
    # 422 everywhere: app.py's before_request refuses a bad X-Money-Format on every route.
    statuses = {"422", *EXTRA_ERRORS.get((method, path), ())}
    if not public:
        statuses |= {"401", "403"}
    if any(p.get("in") == "path" for p in parameters):
        statuses.add("404")
    if seller_may_use(method, path) and any(p.get("name") == "seller_id" for p in parameters):
        statuses.add("404")  # a seller naming another seller finds nothing (docs/sellers.md)
    if "requestBody" in operation:
        statuses |= {"400", "408", "413", "415"}
    if method in _MUTATIONS and not public:
        statuses.add("409")
    if path.startswith(_AGENT_PROTOCOLS):
        statuses |= _AGENT_REFUSALS
    if path != "/health":
        statuses.add("503")
    return statuses


def _readiness_report_when_unready(schema: dict[str, Any]) -> None:
    """/health/ready's 503 is its readiness report (a store down, a start not finished), not the envelope."""
    operation = schema.get("paths", {}).get("/health/ready", {}).get("get")
    if operation is None:
        return
    report = operation["responses"]["200"]["content"]
    operation["responses"]["503"] = {
        "description": "Not ready: `checks` says which store (or `startup`) is not ok; retry after Retry-After.",
        "headers": _RETRY_AFTER,
        "content": report,
    }


def _metrics_is_text(schema: dict[str, Any]) -> None:
    """/metrics answers Prometheus text, to admins or (METRICS_PUBLIC) anyone."""
    operation = schema.get("paths", {}).get("/metrics", {}).get("get")
    if operation is None:
        return
    operation["responses"]["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    operation["responses"]["401"] = {"$ref": "#/components/responses/401"}
    operation["responses"]["403"] = {"$ref": "#/components/responses/403"}
    operation["responses"] = dict(sorted(operation["responses"].items()))
    operation["security"] = [*_AUTHENTICATED, {}]


CSV_ROUTES = (
    ("get", "/api/v1/sellers/{seller_id}/statement"),
    ("get", "/api/v1/sellers/{seller_id}/statement/entries"),
    ("get", "/api/v1/coupons/{code}/codes"),
)
"""Routes whose 200 is the JSON envelope, or with `?format=csv` a text/csv file."""


def _csv_alternatives(schema: dict[str, Any]) -> None:
    for method, path in CSV_ROUTES:
        operation = schema.get("paths", {}).get(path, {}).get(method)
        if operation is None:
            continue
        content = operation["responses"]["200"]["content"]
        envelope = content["application/json"]["schema"]
        if "oneOf" in envelope:  # the handler's union with the CSV Response
            content["application/json"]["schema"] = next(s for s in envelope["oneOf"] if "$ref" in s)
        content["text/csv"] = {"schema": {"type": "string"}}
        format_ = next((p for p in operation.get("parameters", []) if p.get("name") == "format"), None)
        if format_ is not None:
            format_["schema"] = {"type": "string", "enum": ["json", "csv"], "default": "json"}


def _close_strict_bodies(schema: dict[str, Any], app: Litestar) -> None:
    """`additionalProperties: false` on every body Struct that refuses unknown fields."""
    body_types = [
        field.annotation
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler, _ in route.route_handler_map.values()
        if (field := handler.parsed_fn_signature.parameters.get("data")) is not None
    ]
    closed: set[str] = set()
    seen: set[int] = set()
    pending: list[Any] = list(msgspec.inspect.multi_type_info(body_types))
    while pending:
        info = pending.pop()
        if id(info) in seen:
            continue
        seen.add(id(info))
        if isinstance(info, msgspec.inspect.StructType):
            if info.forbid_unknown_fields:
                closed.add(info.cls.__name__)
            pending.extend(field.type for field in info.fields)
        for value in (getattr(info, name) for name in info.__struct_fields__):
            if isinstance(value, msgspec.inspect.Type):
                pending.append(value)
            elif isinstance(value, tuple):
                pending.extend(v for v in value if isinstance(v, msgspec.inspect.Type))
    for name, component in schema.get("components", {}).get("schemas", {}).items():
        if name in closed and component.get("type") == "object":
            component["additionalProperties"] = False
