"""HTTP: /api/v1/analytics — pricing, commission, flag-adoption and flash-sale reports (admin)."""

from __future__ import annotations

import contextlib
from typing import Annotated
from uuid import UUID

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from redis.exceptions import RedisError

from quote_service.analytics.experiments import Experiment, Experiments
from quote_service.analytics.flags_report import FlagsReport, flags_report
from quote_service.analytics.flash_report import FlashSaleReport
from quote_service.analytics.service import (
    COMMISSION_GROUPS,
    PRICING_GROUPS,
    Analytics,
    CommissionReport,
    PricingReport,
    check_group,
)
from quote_service.auth.guards import AdminController
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.flash_sales.service import FlashSales
from quote_service.periods import parse_period
from quote_service.web.envelope import Envelope, ok

AnalyticsDep = NamedDependency[Analytics]
SalesDep = NamedDependency[FlashSales]


class AnalyticsController(AdminController):
    path = "/api/v1/analytics"

    @get(
        "/pricing",
        summary="Quotes, orders, conversion, revenue and discounts by day, product, category, rule, variant or region",
    )
    async def pricing(
        self,
        analytics: AnalyticsDep,
        settings: NamedDependency[Settings],
        group_by: FromQuery[str] = "day",
        from_: Annotated[str | None, QueryParameter(name="from")] = None,
        to: FromQuery[str | None] = None,
        tz: FromQuery[str | None] = None,
    ) -> Envelope[PricingReport]:
        now = utcnow()
        group = check_group(group_by, PRICING_GROUPS)
        period = parse_period(from_, to, tz, default_zone=settings.business_timezone, now=now)
        return ok(await analytics.pricing(group, period, now=now))

    @get("/commission", summary="Commission parts over orders by day, seller, category or logistics provider")
    async def commission(
        self,
        analytics: AnalyticsDep,
        settings: NamedDependency[Settings],
        group_by: FromQuery[str] = "day",
        from_: Annotated[str | None, QueryParameter(name="from")] = None,
        to: FromQuery[str | None] = None,
        tz: FromQuery[str | None] = None,
    ) -> Envelope[CommissionReport]:
        now = utcnow()
        group = check_group(group_by, COMMISSION_GROUPS)
        period = parse_period(from_, to, tz, default_zone=settings.business_timezone, now=now)
        return ok(await analytics.commission(group, period, now=now))

    @get("/flags", summary="Flag adoption: per flag, the share of quotes it was on for, and its variants' shares")
    async def flags(
        self,
        analytics: AnalyticsDep,
        settings: NamedDependency[Settings],
        from_: Annotated[str | None, QueryParameter(name="from")] = None,
        to: FromQuery[str | None] = None,
        tz: FromQuery[str | None] = None,
    ) -> Envelope[FlagsReport]:
        now = utcnow()
        period = parse_period(from_, to, tz, default_zone=settings.business_timezone, now=now)
        return ok(await flags_report(analytics, period, now=now))

    @get(
        "/flash-sales/{sale_id:uuid}",
        summary="A flash sale's units, revenue, buyers, viewers, conversion, by day and product",
    )
    async def flash_sale(
        self, sale_id: FromPath[UUID], analytics: AnalyticsDep, flash_sales: SalesDep
    ) -> Envelope[FlashSaleReport]:
        viewers = 0
        with contextlib.suppress(RedisError):  # the stored summary still counts the viewers
            viewers = await flash_sales.counters.viewers(sale_id)
        return ok(await analytics.flash_sale(sale_id, now=utcnow(), live_viewers=viewers))


class ExperimentController(AdminController):
    path = "/api/v1/experiments"

    @get("/", summary="Every experiment (a flag with variants): each arm's exposures, conversion, lift, p-value")
    async def list_experiments(self, analytics: AnalyticsDep) -> Envelope[list[Experiment]]:
        return ok(await Experiments(analytics).every(now=utcnow()))

    @get("/{flag_key:str}", summary="One experiment's arms with the z-test against the control and its guardrail")
    async def get_experiment(self, flag_key: FromPath[str], analytics: AnalyticsDep) -> Envelope[Experiment]:
        return ok(await Experiments(analytics).get(flag_key, now=utcnow()))
