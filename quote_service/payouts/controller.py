"""HTTP: /api/v1/payout-terms (admin), /api/v1/payouts (admin writes; reads also a service key and a
seller, its own), /api/v1/sellers/{seller_id}/balance (admin, service key, the seller itself):
docs/payouts.md. A run is a governed action: where its approval applies (CHANGE_APPROVAL=required, or an
approval policy for `payout`) it is a change request, applied through this same route once another person
approves it (docs/payouts.md#runs-that-wait-for-approval)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

import msgspec
from litestar import Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.audit import changes
from quote_service.audit.admin import ask_approval
from quote_service.auth.guards import AdminController, admin_only, requires_role
from quote_service.auth.sellers import own_seller, owned_by
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.errors import invalid
from quote_service.pagination import DEFAULT_LIMIT, Limit, Page, PageQuery, decode_cursor, fetch_page
from quote_service.payouts import repository, service, terms
from quote_service.payouts.schemas import (
    PAYOUT_STATUSES,
    FailedInput,
    PaidInput,
    Payout,
    PayoutRun,
    PayoutRunInput,
    PayoutTerms,
    PayoutTermsInput,
    SellerBalance,
)
from quote_service.periods import instant_bounds
from quote_service.pricing.local_time import zone
from quote_service.pricing.quote import ExternalId
from quote_service.resource import Resource
from quote_service.web.deps import (
    AdminPoolDep,
    AuthedRequest,
    OptionalIdempotencyKey,
    PoolDep,
    ReadPoolDep,
    actor_of,
    check_idempotency_key,
    refuse_unknown,
)
from quote_service.web.envelope import Envelope, ok
from quote_service.web.replay import answered, first_answer

LIST_FILTERS = frozenset({"seller_id", "status", "from", "to", "limit", "cursor"})
ENTITY = "payout"
"""The entity type of a run's change request and of its approval policy (the payouts it makes are audited so)."""
READERS = requires_role("admin", "service", "seller")


class PayoutTermsController(AdminController):
    path = "/api/v1/payout-terms"
    tags = ["payouts"]

    @post("/", summary="Create a seller's payout terms (seller_id null: the platform default)")
    async def create(
        self,
        data: JSONBody[PayoutTermsInput],
        admin_pool: AdminPoolDep,
        settings: NamedDependency[Settings],
        request: AuthedRequest,
    ) -> Envelope[PayoutTerms]:
        body = terms.with_currency(data, settings.default_currency)
        return ok(await terms.create(admin_pool, body, actor=actor_of(request)), "Payout terms created")

    @get("/", summary="List payout terms, oldest first (keyset-paginated)")
    async def list_terms(
        self,
        read_pool: ReadPoolDep,
        seller_id: FromQuery[ExternalId | None] = None,
        platform: FromQuery[bool] = False,
        limit: FromQuery[Limit] = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
    ) -> Envelope[Page[PayoutTerms]]:
        """`seller_id`: that seller's terms; `platform=true`: the platform default; neither: every one."""
        fetch = partial(repository.list_terms, seller_id=seller_id, platform=platform)
        return ok(await fetch_page(read_pool, "payout-terms", fetch, PageQuery(limit, cursor), terms.terms_from_row))

    @get("/{terms_id:uuid}", summary="Get payout terms")
    async def get_terms(self, terms_id: FromPath[UUID], pool: PoolDep) -> Envelope[PayoutTerms]:
        return ok(await terms.TERMS.get(pool, terms_id))

    @put("/{terms_id:uuid}", summary="Replace payout terms (the whole body)")
    async def replace(
        self,
        terms_id: FromPath[UUID],
        data: JSONBody[PayoutTermsInput],
        admin_pool: AdminPoolDep,
        settings: NamedDependency[Settings],
        request: AuthedRequest,
    ) -> Envelope[PayoutTerms]:
        body = terms.with_currency(data, settings.default_currency)
        return ok(await terms.replace(admin_pool, terms_id, body, actor=actor_of(request)), "Payout terms updated")

    @delete("/{terms_id:uuid}", status_code=200, summary="Delete payout terms (the seller falls back to the default)")
    async def remove(self, terms_id: FromPath[UUID], admin_pool: AdminPoolDep) -> Envelope[PayoutTerms]:
        return ok(await terms.TERMS.delete(admin_pool, terms_id), "Payout terms deleted")


class SellerBalanceController(Resource):
    path = "/api/v1/sellers"
    tags = ["payouts"]
    guards = [READERS]

    @get("/{seller_id:str}/balance", summary="A seller's balance at as_of: available, held, reserved, carried")
    async def balance(
        self,
        seller_id: FromPath[str],
        pool: PoolDep,
        settings: NamedDependency[Settings],
        request: AuthedRequest,
        as_of: FromQuery[str | None] = None,
    ) -> Envelope[SellerBalance]:
        owned_by(request.user, seller_id, f"seller {seller_id}")
        if not 1 <= len(seller_id) <= 64:
            raise invalid("seller_id", "must be 1 to 64 characters")
        at = utcnow() if as_of is None else _instant("as_of", as_of, settings)
        found = await service.seller_balance(
            pool, seller_id=seller_id, as_of=at, default_currency=settings.default_currency
        )
        return ok(found)


def _instant(name: str, raw: str, settings: Settings) -> datetime:
    """An RFC 3339 instant, or a local date of BUSINESS_TIMEZONE (its first instant); 422 naming `name`."""
    moment, _ = instant_bounds(raw, None, zone(settings.business_timezone), names=(name, "to"))
    assert moment is not None
    return moment


def _made(run: PayoutRun) -> str:
    message = f"{len(run.payouts)} payouts made"
    if run.sellers_held:
        message += f"; {len(run.sellers_held)} sellers held, not paid: their entries are wrong (sellers_held)"
    if run.currencies_held:
        message += f"; {len(run.currencies_held)} currencies held, not paid: no exchange rate (currencies_held)"
    return message


class PayoutController(Resource):
    path = "/api/v1/payouts"

    @post("/run", guards=[admin_only], summary="Pay every seller its available balance, once per cycle")
    async def run(
        self,
        admin_pool: AdminPoolDep,
        pool: PoolDep,
        settings: NamedDependency[Settings],
        request: AuthedRequest,
        data: JSONBody[PayoutRunInput | None] = None,
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> Response[Envelope[PayoutRun]]:
        """Where approval applies, 202 a change request for the run as of `as_of` (now, when left out, fixed
        when asked), refused at once (422) when that as_of is. With an Idempotency-Key, the run's first
        answer is kept for the key (docs/errors.md#idempotency-keys)."""
        now = utcnow()
        as_of = data.as_of if data is not None and data.as_of is not None else now
        max_ahead = timedelta(seconds=settings.payout_max_ahead_seconds)
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)
        if changes.replaying(request) is None:
            await service.check_as_of(pool, as_of, now=now, max_ahead=max_ahead)
            if await changes.approval_needed(pool, ENTITY, required=settings.change_approval == "required"):
                await ask_approval(request, pool, ENTITY, {"as_of": as_of.isoformat()})
        actor, currency = actor_of(request), settings.default_currency
        if idempotency_key is None:
            made = await service.run(
                admin_pool, as_of=as_of, actor=actor, default_currency=currency, now=now, max_ahead=max_ahead
            )
            return answered(ok(made, _made(made)), status=201)
        reply = first_answer(request, _made, status=201)
        await service.run_once(
            admin_pool, key=idempotency_key, principal_id=request.user.id,
            fingerprint=hashlib.sha256(msgspec.json.encode(data)).digest(), reply=reply, as_of=as_of,
            actor=actor, default_currency=currency, now=now, max_ahead=max_ahead,
        )  # fmt: skip
        return reply.response()

    @get("/", guards=[READERS], summary="Payouts, newest first, filtered (a seller: its own)")
    async def list_payouts(
        self,
        read_pool: ReadPoolDep,
        settings: NamedDependency[Settings],
        request: AuthedRequest,
        seller_id: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        to: FromQuery[str | None] = None,
        limit: FromQuery[Limit] = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
    ) -> Envelope[Page[Payout]]:
        """`from`/`to`: the payouts whose as_of (`period_to`) is in [from, to)."""
        refuse_unknown(request, LIST_FILTERS)
        if own_seller(request.user) is not None:
            owned_by(request.user, seller_id or own_seller(request.user), f"seller {seller_id}")
            seller_id = own_seller(request.user)
        if status is not None and status not in PAYOUT_STATUSES:
            raise invalid("status", "must be one of " + ", ".join(PAYOUT_STATUSES))
        since, until = instant_bounds(request.query_params.get("from"), to, zone(settings.business_timezone))
        before = decode_cursor(cursor, tuple[datetime, UUID], service.LIST_NAME)
        page = await service.list_payouts(
            read_pool, seller_id=seller_id, status=status, since=since, until=until, before=before, limit=limit
        )
        return ok(page)

    @get("/{payout_id:uuid}", guards=[READERS], summary="One payout (a seller: its own)")
    async def get_payout(self, payout_id: FromPath[UUID], pool: PoolDep, request: AuthedRequest) -> Envelope[Payout]:
        payout = await service.get(pool, payout_id)
        owned_by(request.user, payout.seller_id, f"payout {payout_id}")
        return ok(payout)

    @post("/{payout_id:uuid}/paid", status_code=200, guards=[admin_only], summary="Mark a pending payout paid")
    async def paid(
        self,
        payout_id: FromPath[UUID],
        admin_pool: AdminPoolDep,
        request: AuthedRequest,
        data: JSONBody[PaidInput | None] = None,
    ) -> Envelope[Payout]:
        note = data.reference if data is not None else None
        payout, changed = await service.settle(admin_pool, payout_id, "paid", note=note, actor=actor_of(request))
        return ok(payout, "Payout marked paid" if changed else "Payout was marked paid already")

    @post(
        "/{payout_id:uuid}/failed",
        status_code=200,
        guards=[admin_only],
        summary="Mark a pending payout failed: its entries are available again",
    )
    async def failed(
        self,
        payout_id: FromPath[UUID],
        admin_pool: AdminPoolDep,
        request: AuthedRequest,
        data: JSONBody[FailedInput | None] = None,
    ) -> Envelope[Payout]:
        note = data.reason if data is not None else None
        payout, changed = await service.settle(admin_pool, payout_id, "failed", note=note, actor=actor_of(request))
        return ok(payout, "Payout marked failed" if changed else "Payout was marked failed already")
