"""HTTP: /api/v1/shipping-profiles (admin; a seller for its own profiles, docs/sellers.md)."""

from __future__ import annotations

from functools import partial
from typing import TypeVar
from uuid import UUID

import msgspec
from litestar import delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from msgspec import UNSET

from quote_service.audit.admin import ConfigWriteDep, config_write
from quote_service.auth.guards import requires_role
from quote_service.auth.sellers import own_seller, owned_by
from quote_service.db.pool import Pool
from quote_service.errors import invalid
from quote_service.pagination import Page
from quote_service.pricing.quote import ExternalId
from quote_service.resource import Resource
from quote_service.shipping import repository, service
from quote_service.shipping.schemas import ShippingProfile, ShippingProfileInput, ShippingProfilePatch
from quote_service.web.deps import AuthedRequest, ListingDep, PoolDep
from quote_service.web.envelope import Envelope, ok

DOMAIN = "shipping_profiles"
T = TypeVar("T", ShippingProfileInput, ShippingProfilePatch)


def _for_seller(request: AuthedRequest, data: T) -> T:
    """A seller's body names its own seller (absent or null: its own; another: 422 naming `seller_id`)."""
    own = own_seller(request.user)
    if own is None or data.seller_id is UNSET:
        return data
    if data.seller_id not in (None, own):
        raise invalid("seller_id", "a seller manages its own shipping profiles only")
    return msgspec.structs.replace(data, seller_id=own)


async def _owned(pool: Pool, request: AuthedRequest, profile_id: UUID) -> ShippingProfile:
    """The profile, when the caller may see it: a seller its own only (else 404, as an unknown id)."""
    profile = await service.PROFILES.get(pool, profile_id)
    owned_by(request.user, profile.seller_id, f"shipping profile {profile_id}")
    return profile


async def _scoped(pool: Pool, request: AuthedRequest, profile_id: UUID, data: T) -> T:
    """A seller's body for one of its own profiles (another's: 404, as an unknown id); anyone else's as sent."""
    if own_seller(request.user) is not None:
        await _owned(pool, request, profile_id)
        data = _for_seller(request, data)
    return data


class ShippingProfileController(Resource):
    path = "/api/v1/shipping-profiles"
    guards = [requires_role("admin", "seller")]
    dependencies = {"write": config_write(DOMAIN)}

    @post("/", summary="Create a shipping profile (seller_id null: the platform's default; a seller: its own)")
    async def create(
        self, data: JSONBody[ShippingProfileInput], write: ConfigWriteDep, request: AuthedRequest
    ) -> Envelope[ShippingProfile]:
        data = _for_seller(request, data)
        return await write.made(service.PROFILES.create, data, message="Shipping profile created")

    @get("/", summary="List shipping profiles, oldest first (keyset-paginated)")
    async def list_profiles(
        self,
        listing: ListingDep,
        request: AuthedRequest,
        seller_id: FromQuery[ExternalId | None] = None,
        platform: FromQuery[bool] = False,
        is_active: FromQuery[bool | None] = None,
    ) -> Envelope[Page[ShippingProfile]]:
        """`seller_id`: that seller's profiles; `platform=true`: the platform's defaults; neither: every one.
        A seller lists its own (naming another seller, or the platform's, finds nothing: 404)."""
        own = own_seller(request.user)
        if own is not None:
            owned_by(request.user, None if platform else seller_id or own, f"seller {seller_id or 'platform'}")
            seller_id = own
        fetch = partial(repository.list_profiles, seller_id=seller_id, platform=platform, is_active=is_active)
        return ok(await listing.page("shipping-profiles", fetch, service.profile_from_row))

    @get("/{profile_id:uuid}", summary="Get a shipping profile")
    async def get_profile(
        self, profile_id: FromPath[UUID], pool: PoolDep, request: AuthedRequest
    ) -> Envelope[ShippingProfile]:
        return ok(await _owned(pool, request, profile_id))

    @put("/{profile_id:uuid}", summary="Replace a shipping profile (the whole body)")
    async def replace(
        self,
        profile_id: FromPath[UUID],
        data: JSONBody[ShippingProfileInput],
        write: ConfigWriteDep,
        pool: PoolDep,
        request: AuthedRequest,
    ) -> Envelope[ShippingProfile]:
        data = await _scoped(pool, request, profile_id, data)
        return await write.made(service.PROFILES.replace, profile_id, data, message="Shipping profile updated")

    @patch("/{profile_id:uuid}", summary="Change the fields sent; the resulting profile is checked whole")
    async def update(
        self,
        profile_id: FromPath[UUID],
        data: JSONBody[ShippingProfilePatch],
        write: ConfigWriteDep,
        pool: PoolDep,
        request: AuthedRequest,
    ) -> Envelope[ShippingProfile]:
        data = await _scoped(pool, request, profile_id, data)
        return await write.made(service.PROFILES.patch, profile_id, data, message="Shipping profile updated")

    @delete("/{profile_id:uuid}", status_code=200, summary="Deactivate a shipping profile")
    async def deactivate(
        self, profile_id: FromPath[UUID], write: ConfigWriteDep, pool: PoolDep, request: AuthedRequest
    ) -> Envelope[ShippingProfile]:
        await _owned(pool, request, profile_id)
        return await write.made(service.PROFILES.deactivate, profile_id, message="Shipping profile deactivated")
