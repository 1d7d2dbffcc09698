"""HTTP: /api/v1/pricing-rules (admin)."""

from __future__ import annotations

from functools import partial
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from quote_service.audit.admin import ConfigWriteDep, config_write
from quote_service.auth.guards import AdminController
from quote_service.errors import NotFound
from quote_service.pagination import Keyset, Page, decode_cursor, page_of
from quote_service.pricing.rules import RuleType
from quote_service.rules import repository, service
from quote_service.rules.schemas import PricingRuleCreate, PricingRulePatch, PricingRuleUpdate, PricingRuleVersion
from quote_service.web.deps import ListingDep, PageDep, PoolDep, ReadPoolDep
from quote_service.web.envelope import Envelope, ok

DOMAIN = "pricing_rules"
BY_NAME = Keyset(lambda r: r["name"], str)
VersionCursor = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
# PostgreSQL text cannot hold NUL: refuse it here (422) rather than fail in the query (500).
_NO_NUL = r"^[^\x00]*$"
RuleNameQuery = Annotated[
    str, QueryParameter(min_length=1, max_length=100, pattern=_NO_NUL, description="The rule's name.")
]
RegionQuery = Annotated[str | None, QueryParameter(min_length=1, max_length=100, pattern=_NO_NUL)]
CategoryQuery = Annotated[str | None, QueryParameter(min_length=1, max_length=64, pattern=_NO_NUL)]


class PricingRuleController(AdminController):
    path = "/api/v1/pricing-rules"
    dependencies = {"write": config_write(DOMAIN)}

    @post("/", summary="Create a rule (version 1)")
    async def create(self, data: JSONBody[PricingRuleCreate], write: ConfigWriteDep) -> Envelope[PricingRuleVersion]:
        rule = await service.create_rule(write.pool, data, actor=write.actor)
        return await write.saved(rule, f"Pricing rule created (version {rule.version})")

    @get("/", summary="Latest version of each rule (keyset-paginated by name)")
    async def list_rules(
        self,
        listing: ListingDep,
        type: FromQuery[RuleType | None] = None,
        region: FromQuery[RegionQuery] = None,
        product_id: FromQuery[UUID | None] = None,
        category_id: FromQuery[CategoryQuery] = None,
        include_retired: FromQuery[bool] = False,
    ) -> Envelope[Page[PricingRuleVersion]]:
        fetch = partial(
            repository.list_latest,
            rule_type=type,
            region=region,
            product_id=product_id,
            category_id=category_id,
            include_retired=include_retired,
        )
        return ok(await listing.page("pricing-rules", fetch, service.version_from_row, BY_NAME))

    @get("/versions", summary="Every version of a rule name, newest first")
    async def versions(
        self,
        read_pool: ReadPoolDep,
        name: FromQuery[RuleNameQuery],
        page: PageDep,
    ) -> Envelope[Page[PricingRuleVersion]]:
        before = decode_cursor(page.cursor, VersionCursor, "rule-versions")
        async with read_pool.acquire() as conn:
            rows = await repository.list_versions(conn, name=name, before=before, limit=page.limit)
            if not rows and not await repository.name_exists(conn, name=name):
                raise NotFound(f"no pricing rule is named {name!r}")
        return ok(
            page_of(rows, "rule-versions", limit=page.limit, key=lambda r: r["version"], item=service.version_from_row)
        )

    @get("/{rule_id:uuid}", summary="Get one version")
    async def get_rule(self, rule_id: FromPath[UUID], pool: PoolDep) -> Envelope[PricingRuleVersion]:
        return ok(await service.get_rule(pool, rule_id))

    @put("/{rule_id:uuid}", summary="Create the next version of the rule")
    async def new_version(
        self, rule_id: FromPath[UUID], data: JSONBody[PricingRuleUpdate], write: ConfigWriteDep
    ) -> Envelope[PricingRuleVersion]:
        rule = await service.new_version(write.pool, rule_id, data, actor=write.actor)
        return await write.saved(rule, f"Pricing rule version {rule.version} created")

    @patch("/{rule_id:uuid}", summary="Create the next version from the latest, with the fields sent changed")
    async def next_version(
        self, rule_id: FromPath[UUID], data: JSONBody[PricingRulePatch], write: ConfigWriteDep
    ) -> Envelope[PricingRuleVersion]:
        rule = await service.patch_rule(write.pool, rule_id, data, actor=write.actor)
        return await write.saved(rule, f"Pricing rule version {rule.version} created")

    @delete("/{rule_id:uuid}", status_code=200, summary="Retire the rule name (every version)")
    async def retire(self, rule_id: FromPath[UUID], write: ConfigWriteDep) -> Envelope[PricingRuleVersion]:
        rule, changed = await service.retire_rule(write.pool, rule_id, actor=write.actor)
        message = "Pricing rule retired" if changed else "Pricing rule was already retired"
        return await write.saved(rule, message, changed=changed)
