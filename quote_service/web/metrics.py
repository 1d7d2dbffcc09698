"""GET /metrics: Prometheus text, for admins (or anyone with METRICS_PUBLIC=true)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency

from quote_service.auth.middleware import authenticate
from quote_service.config import Settings
from quote_service.errors import Forbidden
from quote_service.observability import stages
from quote_service.observability.metrics import CONTENT_TYPE, exposition


@get("/metrics", exclude_from_auth=True, tags=["operations"], summary="Prometheus metrics (admin or METRICS_PUBLIC)")
async def metrics(request: Request[Any, Any, Any], settings: NamedDependency[Settings]) -> Response[bytes]:
    if not settings.metrics_public:
        principal, _ = await authenticate(request)
        if principal.role != "admin":
            raise Forbidden("Metrics need the admin role (or METRICS_PUBLIC=true)")
    stages.flush()  # this process's quote stage time and in-flight count, up to now
    return Response(exposition(), media_type=CONTENT_TYPE)
