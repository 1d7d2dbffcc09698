"""HTTP: /api/v1/feature-flags (writes admin only; evaluation open to every caller)."""

from __future__ import annotations

from functools import partial
from uuid import UUID

import msgspec
from litestar import delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.audit.admin import ConfigWriteDep, config_write
from quote_service.auth.guards import admin_only, any_caller
from quote_service.clock import utcnow
from quote_service.errors import invalid
from quote_service.flags import repository, service
from quote_service.flags.schemas import (
    EvaluationRequest,
    FeatureFlag,
    FeatureFlagCreate,
    FeatureFlagPatch,
    FeatureFlagUpdate,
    FlagChange,
    Lifecycle,
)
from quote_service.pagination import Keyset, Page, decode_cursor, page_of
from quote_service.pricing.flags import FlagEvaluation
from quote_service.resource import Resource
from quote_service.web.deps import AuthedRequest, ConfigStoreDep, ListingDep, PageDep, PoolDep, ReadPoolDep
from quote_service.web.envelope import Envelope, ok

DOMAIN = "feature_flags"
BY_KEY = Keyset(lambda r: r["key"], str)


class FeatureFlagController(Resource):
    path = "/api/v1/feature-flags"
    # Guards sit on the routes: reads and writes are admin only, evaluation is open to every role.
    dependencies = {"write": config_write(DOMAIN)}

    @post("/", guards=[admin_only], summary="Create a feature flag")
    async def create(self, data: JSONBody[FeatureFlagCreate], write: ConfigWriteDep) -> Envelope[FeatureFlag]:
        return await write.made(service.create_flag, data, message="Feature flag created")

    @get("/", guards=[admin_only], summary="List feature flags by key (keyset-paginated)")
    async def list_flags(
        self,
        listing: ListingDep,
        is_enabled: FromQuery[bool | None] = None,
        lifecycle: FromQuery[Lifecycle | None] = None,
    ) -> Envelope[Page[FeatureFlag]]:
        fetch = partial(repository.list_flags, is_enabled=is_enabled, lifecycle=lifecycle)
        return ok(await listing.page("feature-flags", fetch, service.flag_from_row, BY_KEY))

    @get("/{flag_id:uuid}", guards=[admin_only], summary="Get a feature flag")
    async def get_flag(self, flag_id: FromPath[UUID], pool: PoolDep) -> Envelope[FeatureFlag]:
        return ok(await service.get_flag(pool, flag_id))

    @get("/key/{key:str}", guards=[admin_only], summary="Get a feature flag by key")
    async def get_by_key(self, key: FromPath[str], pool: PoolDep) -> Envelope[FeatureFlag]:
        return ok(await service.get_flag_by_key(pool, key))

    @get(
        "/{flag_id:uuid}/history",
        guards=[admin_only],
        summary="A flag's changes, newest first, with who and why (keyset-paginated)",
    )
    async def history(
        self,
        flag_id: FromPath[UUID],
        read_pool: ReadPoolDep,
        page: PageDep,
    ) -> Envelope[Page[FlagChange]]:
        before = decode_cursor(page.cursor, int, "feature-flag-history")
        if before is not None and not 0 < before < 2**63:  # never one of ours, and not a bigint
            raise invalid("cursor", "not a page.cursor returned by this list")
        rows = await service.flag_history(read_pool, flag_id, before=before, limit=page.limit)
        return ok(
            page_of(
                rows,
                "feature-flag-history",
                limit=page.limit,
                key=lambda r: r["id"],
                item=lambda r: msgspec.convert(dict(r), FlagChange),
            )
        )

    @put(
        "/{flag_id:uuid}",
        guards=[admin_only],
        summary="Replace a feature flag's fields (the create body; `key` may be sent, unchanged)",
        description="A `key` other than the flag's own is a 422 naming `key`: a new key is a new flag (POST).",
    )
    async def replace(
        self, flag_id: FromPath[UUID], data: JSONBody[FeatureFlagUpdate], write: ConfigWriteDep
    ) -> Envelope[FeatureFlag]:
        return await write.made(service.update_flag, flag_id, data, message="Feature flag updated")

    @patch("/{flag_id:uuid}", guards=[admin_only], summary="Change the fields sent; the flag is checked whole")
    async def update(
        self, flag_id: FromPath[UUID], data: JSONBody[FeatureFlagPatch], write: ConfigWriteDep
    ) -> Envelope[FeatureFlag]:
        return await write.made(service.patch_flag, flag_id, data, message="Feature flag updated")

    @delete(
        "/{flag_id:uuid}",
        status_code=200,
        guards=[admin_only],
        summary="Delete a feature flag (PUT is_enabled=false to keep it)",
    )
    async def remove(self, flag_id: FromPath[UUID], write: ConfigWriteDep) -> Envelope[FeatureFlag]:
        return await write.made(service.delete_flag, flag_id, message="Feature flag deleted")

    @post("/{key:str}/evaluate", status_code=200, guards=[any_caller], summary="Evaluate a flag for a context")
    async def evaluate(
        self,
        key: FromPath[str],
        config_store: ConfigStoreDep,
        request: AuthedRequest,
        data: JSONBody[EvaluationRequest | None] = None,
    ) -> Envelope[FlagEvaluation]:
        ctx = service.evaluation_context(data or EvaluationRequest(), request.user)
        return ok(service.evaluate_flag(config_store.snapshot.flags, key, ctx, now=utcnow()))
