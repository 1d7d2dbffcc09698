"""HTTP: /api/v1/extensions (admin; writes are change requests where approval applies, docs/governance.md)."""

from __future__ import annotations

from functools import partial
from uuid import UUID

import msgspec
from litestar import delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from msgspec import UNSET

from quote_service.audit.admin import ConfigWriteDep, config_write
from quote_service.auth.guards import AdminController
from quote_service.config import Settings
from quote_service.extensions import repository, service
from quote_service.extensions.schemas import Extension, ExtensionInput, ExtensionPatch
from quote_service.pagination import Page
from quote_service.pricing.extensions import Kind
from quote_service.web.deps import ListingDep, PoolDep
from quote_service.web.envelope import Envelope, ok
from quote_service.webhooks.signing import new_secret

DOMAIN = "extensions"


class ExtensionController(AdminController):
    path = "/api/v1/extensions"
    dependencies = {"write": config_write(DOMAIN, secret=new_secret)}

    @post("/", summary="Create an extension (its secret shown once)")
    async def create(
        self, data: JSONBody[ExtensionInput], write: ConfigWriteDep, settings: NamedDependency[Settings]
    ) -> Envelope[Extension]:
        await service.check_url(data.url, allow_private=settings.webhook_allow_private)
        sealed = write.sealed.get("secret")
        made = await service.create(write.pool, data, secret=sealed or new_secret(), actor=write.actor)
        if sealed is not None:  # the change request's author holds it: never kept in the request's result
            return await write.saved(
                _without_secret(made), "Extension created; the author of the change request holds its secret"
            )
        return await write.saved(made, "Extension created; store the secret now, it is not shown again")

    @get("/", summary="List extensions, oldest first (keyset-paginated)")
    async def list_extensions(
        self,
        listing: ListingDep,
        kind: FromQuery[Kind | None] = None,
        is_active: FromQuery[bool | None] = None,
    ) -> Envelope[Page[Extension]]:
        fetch = partial(repository.list_extensions, kind=kind, is_active=is_active)
        return ok(await listing.page("extensions", fetch, service.extension_from_row))

    @get("/{extension_id:uuid}", summary="Get an extension")
    async def get_extension(self, extension_id: FromPath[UUID], pool: PoolDep) -> Envelope[Extension]:
        return ok(await service.EXTENSIONS.get(pool, extension_id))

    @put("/{extension_id:uuid}", summary="Replace an extension (the whole body; its secret is kept)")
    async def replace(
        self,
        extension_id: FromPath[UUID],
        data: JSONBody[ExtensionInput],
        write: ConfigWriteDep,
        settings: NamedDependency[Settings],
    ) -> Envelope[Extension]:
        await service.check_url(data.url, allow_private=settings.webhook_allow_private)
        return await write.made(service.EXTENSIONS.replace, extension_id, data, message="Extension updated")

    @patch("/{extension_id:uuid}", summary="Change the fields sent; the resulting extension is checked whole")
    async def update(
        self,
        extension_id: FromPath[UUID],
        data: JSONBody[ExtensionPatch],
        write: ConfigWriteDep,
        settings: NamedDependency[Settings],
    ) -> Envelope[Extension]:
        if isinstance(data.url, str):
            await service.check_url(data.url, allow_private=settings.webhook_allow_private)
        return await write.made(service.EXTENSIONS.patch, extension_id, data, message="Extension updated")

    @delete("/{extension_id:uuid}", status_code=200, summary="Deactivate an extension")
    async def deactivate(self, extension_id: FromPath[UUID], write: ConfigWriteDep) -> Envelope[Extension]:
        return await write.made(service.EXTENSIONS.deactivate, extension_id, message="Extension deactivated")


def _without_secret(extension: Extension) -> Extension:
    return msgspec.structs.replace(extension, secret=UNSET)
