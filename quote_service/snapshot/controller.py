"""HTTP: GET /api/v1/config/snapshot — what configuration this process is pricing with."""

from __future__ import annotations

from litestar import get

from quote_service.auth.guards import admin_only
from quote_service.structs import Frozen
from quote_service.web.deps import ConfigStoreDep
from quote_service.web.envelope import Envelope, ok


class SnapshotStatus(Frozen):
    version: int
    reloads: int
    version_checks: int
    age_seconds: float
    counts: dict[str, int]


@get("/api/v1/config/snapshot", guards=[admin_only], tags=["operations"], summary="This process's config snapshot")
async def snapshot_status(config_store: ConfigStoreDep) -> Envelope[SnapshotStatus]:
    snapshot = config_store.snapshot
    return ok(
        SnapshotStatus(
            version=snapshot.version,
            reloads=config_store.reloads,
            version_checks=config_store.version_checks,
            age_seconds=round(config_store.age_seconds, 3),
            counts=snapshot.counts(),
        )
    )
