"""The OFREP routes in the OpenAPI document: OFREP's own bodies and statuses (the OpenFeature
protocol's openapi.yaml, as this service answers it), never the /api/v1 envelope that
web/openapi.py gives every other route."""

from __future__ import annotations

from typing import Any

from quote_service.ofrep.service import MAX_TARGETING_KEY

ONE = "/ofrep/v1/evaluate/flags/{key}"
ALL = "/ofrep/v1/evaluate/flags"
_REF = "#/components/schemas/{}".format

SCHEMAS: dict[str, dict[str, Any]] = {
    "OfrepRequest": {
        "type": "object",
        "description": "OFREP's evaluation request; a missing context is an empty one.",
        "properties": {
            "context": {
                "type": "object",
                "description": (
                    "targetingKey: the customer id quotes bucket by (needed only by flags that split users); "
                    "customer_segment, city, country: what segment and region lists check; every attribute "
                    "(nested objects as dotted names) is what targeting rules read."
                ),
                "properties": {"targetingKey": {"type": "string", "maxLength": MAX_TARGETING_KEY}},
                "additionalProperties": True,
            }
        },
    },
    "OfrepEvaluation": {
        "type": "object",
        "description": "OpenFeature resolution details; no `value` (a null one): the client serves its code default.",
        "required": ["key", "reason", "variant", "metadata"],
        "properties": {
            "key": {"type": "string"},
            "value": {"description": "BOOLEAN, STRING, NUMBER (integer or float as written), PERCENTAGE, JSON."},
            "reason": {"type": "string", "enum": ["DISABLED", "TARGETING_MATCH", "SPLIT", "DEFAULT", "ERROR"]},
            "variant": {"type": ["string", "null"], "description": "The experiment variant (SPLIT), else null."},
            "metadata": {
                "type": "object",
                "description": "enabled: the flag serves its value or a variant; type: the flag's type.",
                "additionalProperties": {"type": ["boolean", "string", "number"]},
            },
        },
    },
    "OfrepFailure": {
        "type": "object",
        "description": "A flag that cannot be evaluated for this context, or (without key) a refused request.",
        "required": ["errorCode", "errorDetails"],
        "properties": {
            "key": {"type": "string"},
            "errorCode": {
                "type": "string",
                "enum": ["FLAG_NOT_FOUND", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "PARSE_ERROR", "GENERAL"],
            },
            "errorDetails": {"type": "string"},
        },
    },
    "OfrepBulk": {
        "type": "object",
        "required": ["flags"],
        "properties": {
            "flags": {
                "type": "array",
                "items": {"oneOf": [{"$ref": _REF("OfrepEvaluation")}, {"$ref": _REF("OfrepFailure")}]},
            }
        },
    },
}

_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}
_REFUSALS: dict[str, tuple[str, dict[str, Any]]] = {
    "400": ("PARSE_ERROR (not JSON, not an object), INVALID_CONTEXT, or TARGETING_KEY_MISSING (a split flag).", {}),
    "401": ("No credentials, or an unknown or revoked key (errorCode GENERAL).", {}),
    "403": ("The caller is neither a service key nor an admin (errorCode GENERAL).", {}),
    "404": ("FLAG_NOT_FOUND.", {}),
    "408": ("The body did not arrive within BODY_READ_TIMEOUT (errorCode GENERAL).", {}),
    "413": ("The body is over 1 MiB (errorCode GENERAL).", {}),
    "422": ("An X-Money-Format header that is neither number nor string (errorCode GENERAL).", {}),
    "503": ("A backing store is unavailable (errorCode GENERAL).", _RETRY_AFTER),
}


def _answer(description: str, schema: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        **({"headers": headers} if headers else {}),
        "content": {"application/json": {"schema": {"$ref": _REF(schema)}}},
    }


def _operation(existing: dict[str, Any], statuses: tuple[str, ...], success: dict[str, Any]) -> dict[str, Any]:
    responses = {"200": success}
    for status in statuses:
        description, headers = _REFUSALS[status]
        responses[status] = _answer(description, "OfrepFailure", headers)
    return {
        **existing,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": _REF("OfrepRequest")}}}},
        "responses": dict(sorted(responses.items())),
    }


def document_ofrep(schema: dict[str, Any]) -> dict[str, Any]:
    """Write the two OFREP operations into `schema` (Litestar's, as completed by web/openapi.py)."""
    paths = schema.get("paths", {})
    if ONE not in paths or ALL not in paths:
        return schema
    schema.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    refusals = ("400", "401", "403", "408", "413", "422", "503")
    one = _operation(paths[ONE]["post"], (*refusals, "404"), _answer("The flag, evaluated.", "OfrepEvaluation"))
    etag = {"ETag": {"description": "Of this answer: send it back as If-None-Match.", "schema": {"type": "string"}}}
    bulk = _operation(paths[ALL]["post"], refusals, _answer("Every flag, in key order.", "OfrepBulk", etag))
    bulk["responses"]["304"] = {"description": "Not modified: the answers still carry the ETag sent.", "headers": etag}
    bulk["responses"] = dict(sorted(bulk["responses"].items()))
    bulk["parameters"] = [
        {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "description": "The ETag of an earlier answer: 304 while the answers are the same.",
            "schema": {"type": "string"},
        }
    ]
    paths[ONE]["post"], paths[ALL]["post"] = one, bulk
    return schema
